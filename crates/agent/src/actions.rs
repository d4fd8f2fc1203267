//! The three ways a model can act, for comparing them on robot tasks (the
//! CodeAct paper's comparison): code actions (Python blocks, the default),
//! JSON tool calls (the endpoint's native tool calling, with schemas from the
//! skill registry) and text actions (one `Action:` line per turn). Every
//! action, whatever its format, runs through the executor.

use robot_api::{ParamType, SkillSet, Value};
use serde_json::{json, Value as Json};

use super::llm::ToolSpec;

/// How the model acts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ActionFormat {
    /// Python code blocks: loops, conditions, variables that persist.
    Code,
    /// Native tool calls, one skill per call.
    Json,
    /// One `Action: skill {json arguments}` line per turn.
    Text,
}

impl ActionFormat {
    /// Its name on the command line and in results ("code", "json", "text").
    pub fn name(self) -> &'static str {
        match self {
            ActionFormat::Code => "code",
            ActionFormat::Json => "json",
            ActionFormat::Text => "text",
        }
    }
}

fn schema(ty: &ParamType) -> Json {
    match ty {
        ParamType::Float => json!({"type": "number"}),
        ParamType::Int => json!({"type": "integer"}),
        ParamType::Bool => json!({"type": "boolean"}),
        ParamType::Str => json!({"type": "string"}),
        ParamType::Any => json!({}),
        ParamType::Optional(inner) => {
            let mut s = schema(inner);
            if let Some(t) = s.get("type").cloned() {
                s["type"] = json!([t, "null"]);
            }
            s
        }
        ParamType::List(inner) => json!({"type": "array", "items": schema(inner)}),
    }
}

/// The robots of a fleet that have skill `name`, in order (none for one robot).
fn robots_with(skills: &SkillSet, name: &str) -> Vec<String> {
    skills
        .specs()
        .filter(|s| s.name == name)
        .filter_map(|s| s.robot.clone())
        .collect()
}

/// One tool per skill, its parameters as a JSON schema, its docstring as the
/// description. In a fleet each tool also takes `robot`, which of the
/// robots that have the skill acts (the first when it is left out).
pub fn tool_specs(skills: &SkillSet) -> Vec<ToolSpec> {
    skills
        .specs()
        .filter(|s| s.robot.is_none())
        .map(|s| {
            let mut properties: serde_json::Map<String, Json> = s.params.iter().map(|p| (p.name.clone(), schema(&p.ty))).collect();
            let required: Vec<&str> = s.params.iter().filter(|p| p.default.is_none()).map(|p| p.name.as_str()).collect();
            let robots = robots_with(skills, &s.name);
            if !robots.is_empty() && !properties.contains_key(ROBOT) {
                let about = format!("Which robot acts (default: {}, the first).", robots[0]);
                properties.insert(ROBOT.into(), json!({"type": "string", "enum": robots, "description": about}));
            }
            ToolSpec {
                name: s.name.clone(),
                description: s.full_doc(),
                parameters: json!({"type": "object", "properties": properties, "required": required}),
            }
        })
        .collect()
}

/// The argument that picks a fleet's robot in a tool call.
const ROBOT: &str = "robot";

/// Python that calls skill `name` with keyword arguments from a JSON object
/// (in a fleet, on the robot its `robot` argument names, if any). The
/// arguments travel as a JSON string literal and are decoded in the worker,
/// so nothing the model wrote is run as code. A skill that returns a
/// picture (`bytes`) is wrapped in `show()`.
pub fn call_code(skills: &SkillSet, name: &str, arguments: &Json) -> Result<String, BadAction> {
    let Some(spec) = skills.specs().find(|s| s.name == name && s.robot.is_none()) else {
        return Err(BadAction::UnknownSkill {
            name: name.into(),
            skills: skills
                .specs()
                .filter(|s| s.robot.is_none())
                .map(|s| s.name.clone())
                .collect(),
        });
    };
    let Some(fields) = arguments.as_object() else {
        return Err(BadAction::NotAnObject {
            name: name.into(),
            got: arguments.to_string(),
        });
    };
    let robots = robots_with(skills, name);
    let mut fields = fields.clone();
    let owner = match fields.get(ROBOT) {
        Some(r) if !robots.is_empty() && !spec.params.iter().any(|p| p.name == ROBOT) => {
            let named = r.as_str().filter(|r| robots.iter().any(|x| x == r));
            let Some(named) = named.map(str::to_owned) else {
                return Err(BadAction::UnknownRobot {
                    name: name.into(),
                    got: r.to_string(),
                    robots,
                });
            };
            fields.remove(ROBOT);
            Some(named)
        }
        _ => None,
    };
    let literal = Value::Str(Json::Object(fields).to_string()).python_literal();
    let callee = match owner {
        Some(robot) => format!("robots[{}].{name}", Value::Str(robot).python_literal()),
        None => name.to_owned(),
    };
    let call = format!("{callee}(**__import__('json').loads({literal}))");
    // A call can only ask for a picture by calling the skill that makes it,
    // so the picture is attached, as code would with show().
    Ok(if spec.returns_bytes() {
        format!("show({call})")
    } else {
        call
    })
}

/// Why an action a reply asked for cannot run (said to the model).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadAction {
    /// A call to a skill the robot lacks.
    #[error("there is no skill named {name:?}; skills: {}", skills.join(", "))]
    UnknownSkill {
        /// The name called.
        name: String,
        /// The skills there are.
        skills: Vec<String>,
    },
    /// A `robot` argument that names no robot of the fleet with that skill.
    #[error("robot {got} has no skill {name}; the robots that have it: {}", robots.join(", "))]
    UnknownRobot {
        /// The skill called.
        name: String,
        /// The `robot` argument, as JSON.
        got: String,
        /// The robots that have the skill.
        robots: Vec<String>,
    },
    /// Arguments that are not a JSON object.
    #[error("the arguments of {name} must be a JSON object, got {got}")]
    NotAnObject {
        /// The skill called.
        name: String,
        /// The arguments, as JSON.
        got: String,
    },
    /// An `Action:` line that could not be read; says why and how to write it.
    #[error("{0}")]
    Unreadable(String),
}

/// What a text-action reply asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum TextAction {
    /// No `Action:` line.
    None,
    /// One call: the skill and its arguments.
    Call(String, Json),
    /// An `Action:` line that could not be read; says why.
    Bad(String),
}

/// The first `Action: skill {json}` line of a reply.
pub fn text_action(reply: &str) -> TextAction {
    let Some(line) = reply
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("Action:"))
    else {
        return TextAction::None;
    };
    let rest = line["Action:".len()..].trim();
    let split = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let (name, args) = (&rest[..split], rest[split..].trim());
    if name.is_empty() {
        return TextAction::Bad(format!("could not read the skill name in {line:?}; write: Action: skill_name {{\"arg\": value}}"));
    }
    if args.is_empty() {
        return TextAction::Call(name.to_owned(), json!({}));
    }
    match serde_json::from_str::<Json>(args) {
        Ok(v) if v.is_object() => TextAction::Call(name.to_owned(), v),
        _ => TextAction::Bad(format!("the arguments in {line:?} are not a JSON object; write: Action: {name} {{\"arg\": value}}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_follow_the_declarations() {
        let (skills, _) = robot_api::testing::test_skills();
        let tools = tool_specs(&skills);
        let add = tools.iter().find(|t| t.name == "add").unwrap();
        assert_eq!(add.parameters["properties"]["a"], json!({"type": "number"}));
        assert_eq!(add.parameters["required"], json!(["a", "b"]));
        assert!(add.description.contains("Example"));
    }

    #[test]
    fn calls_become_python_that_decodes_the_arguments() {
        let (skills, _) = robot_api::testing::test_skills();
        let code = call_code(&skills, "echo", &json!({"value": "a'); import os; ('"})).unwrap();
        assert!(
            code.starts_with("echo(**__import__('json').loads("),
            "{code}"
        );
        assert!(call_code(&skills, "rm_rf", &json!({}))
            .unwrap_err()
            .to_string()
            .contains("no skill named"));
        assert!(call_code(&skills, "echo", &json!([1])).is_err());
    }

    #[test]
    fn in_a_fleet_each_tool_takes_the_robot_that_acts() {
        let one = || robot_api::testing::test_skills().0;
        let fleet =
            robot_api::fleet::fleet_skills(vec![("alpha".into(), one()), ("beta".into(), one())]);
        let tools = tool_specs(&fleet);
        assert_eq!(
            tools.len(),
            one().specs().count(),
            "one tool per skill, not per robot"
        );
        let echo = tools.iter().find(|t| t.name == "echo").unwrap();
        assert_eq!(
            echo.parameters["properties"]["robot"]["enum"],
            json!(["alpha", "beta"])
        );
        assert!(!echo.parameters["required"]
            .as_array()
            .unwrap()
            .contains(&json!("robot")));
        let code = call_code(&fleet, "echo", &json!({"value": 1, "robot": "beta"})).unwrap();
        assert!(code.starts_with("robots['beta'].echo(**"), "{code}");
        let passed = code.split("loads(").nth(1).unwrap();
        assert!(
            !passed.contains("robot"),
            "the robot is not passed on: {code}"
        );
        let plain = call_code(&fleet, "echo", &json!({"value": 1})).unwrap();
        assert!(plain.starts_with("echo(**"), "{plain}");
        let e = call_code(&fleet, "echo", &json!({"value": 1, "robot": "gamma"})).unwrap_err();
        assert!(
            e.to_string()
                .contains("the robots that have it: alpha, beta"),
            "{e}"
        );
        // One robot: no robot parameter.
        assert!(tool_specs(&one())
            .iter()
            .all(|t| t.parameters["properties"].get("robot").is_none()));
    }

    #[test]
    fn text_actions_are_one_line() {
        assert_eq!(
            text_action("I will move.\nAction: move_to {\"x\": 1, \"y\": 2}\n"),
            TextAction::Call("move_to".into(), json!({"x": 1, "y": 2}))
        );
        assert_eq!(
            text_action("Action: get_pose"),
            TextAction::Call("get_pose".into(), json!({}))
        );
        assert_eq!(text_action("thinking only"), TextAction::None);
        assert!(matches!(
            text_action("Action: move_to(1, 2)"),
            TextAction::Bad(_)
        ));
    }
}
