//! Skills a robot profile declares (`ros_skills:`): Python functions that
//! run a ROS action, call a service or publish on a topic, with typed
//! parameters that fill the goal, request or message, and the result fields
//! that come back. This module is the plain part: the schema, its checks
//! (against the installed interface definitions, with file and line) and the
//! skills' Python face; `declared_calls` runs them over ROS.

use std::collections::BTreeMap;

use robot_api::{ErrorKind, ParamType, RecordType, SkillSpec, Value};
use serde::Deserialize;
use serde_json::Value as Json;

use super::idl::{Idl, Part};
use super::json::{from_json, to_json};

/// A skill the profile declares.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredSkill {
    /// The Python function's name.
    pub name: String,
    /// What it does, for the docstring the model reads.
    pub doc: String,
    /// The action it runs (`/dock`).
    #[serde(default)]
    pub action: Option<String>,
    /// The service it calls.
    #[serde(default)]
    pub service: Option<String>,
    /// The topic it publishes on.
    #[serde(default)]
    pub topic: Option<String>,
    /// The interface type (`pkg/action/Name`, `pkg/srv/Name`, `pkg/msg/Name`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// Its parameters, in order.
    #[serde(default)]
    pub params: Vec<DeclaredParam>,
    /// Goal, request or message fields set to constants (`behavior_tree: ""`).
    #[serde(default)]
    pub fixed: BTreeMap<String, Json>,
    /// What comes back: one result field (its value), several (a record),
    /// or, left out, the whole result as a dict.
    #[serde(default)]
    pub returns: Option<Returns>,
    /// Seconds it may take (actions and services; default 60 and 10).
    #[serde(default)]
    pub timeout: Option<f64>,
    /// Whether calling it may move the robot (default true): while the
    /// e-stop is latched such a skill sends nothing. A service or topic
    /// skill that surely moves nothing (a status query, a text on a screen)
    /// may say `moves: false` to stay usable then; goals are never sent
    /// while latched.
    #[serde(default)]
    pub moves: Option<bool>,
    /// What a rehearsal (`--preview`) does with it: `skip` (the default: it
    /// is not called, returns None, and the verdict says it would be) or
    /// `call` (called for real: only for a skill that moves nothing,
    /// `moves: false`, a status query).
    #[serde(default)]
    pub preview: Option<PreviewPolicy>,
}

/// `preview:` of a declared skill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreviewPolicy {
    /// Not called in a rehearsal.
    Skip,
    /// Called for real in a rehearsal.
    Call,
}

/// The result fields a declared skill returns.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Returns {
    /// One field: its value.
    One(String),
    /// Several: a record with them.
    Many(Vec<String>),
}

/// A parameter of a declared skill.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredParam {
    /// The Python parameter's name.
    pub name: String,
    /// `float`, `int`, `bool`, `str`, `list[float]` (etc.) or `dict`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Its default (then it may be left out).
    #[serde(default)]
    pub default: Option<Json>,
    /// Its unit, for the docstring (`m`, `rad`).
    #[serde(default)]
    pub unit: Option<String>,
    /// What it is, for the docstring.
    #[serde(default)]
    pub doc: Option<String>,
    /// The goal/request/message field it fills, dots for nested ones
    /// (default: the parameter's name).
    #[serde(default)]
    pub field: Option<String>,
}

/// What a declared skill does on the ROS side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs an action goal.
    Action,
    /// Calls a service.
    Service,
    /// Publishes a message.
    Topic,
}

impl Kind {
    /// The part of the interface the parameters fill.
    pub fn input(self) -> Part {
        match self {
            Kind::Action => Part::Goal,
            Kind::Service => Part::Request,
            Kind::Topic => Part::Message,
        }
    }

    fn output(self) -> Option<Part> {
        match self {
            Kind::Action => Some(Part::Result),
            Kind::Service => Some(Part::Response),
            Kind::Topic => None,
        }
    }

    fn type_kind(self) -> &'static str {
        match self {
            Kind::Action => "action",
            Kind::Service => "srv",
            Kind::Topic => "msg",
        }
    }
}

/// A problem with a declaration: what, and where (a text to look for on
/// the lines from the skill's own on).
#[derive(Debug, Clone, PartialEq)]
pub struct DeclarationError {
    /// The skill.
    pub skill: String,
    /// Text on the line the problem is on (`field: pose.x`).
    pub near: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl DeclarationError {
    /// A problem with `skill`, on the line holding `near`.
    pub fn new(skill: &DeclaredSkill, near: impl Into<String>, message: impl Into<String>) -> Self {
        DeclarationError {
            skill: skill.name.clone(),
            near: near.into(),
            message: format!("ros_skills: {}: {}", skill.name, message.into()),
        }
    }

    /// The 1-based line of `text` the problem is on: the first line holding
    /// `near` at or after the skill's `name:` line.
    pub fn line(&self, text: &str) -> usize {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines
            .iter()
            .position(|l| {
                l.contains("name:")
                    && l.split("name:").nth(1).is_some_and(|r| {
                        r.trim_start()
                            .trim_start_matches(['"', '\''])
                            .starts_with(&self.skill)
                    })
            })
            .unwrap_or(0);
        lines
            .iter()
            .enumerate()
            .skip(start)
            .find(|(_, l)| l.contains(&self.near))
            .map_or(start + 1, |(i, _)| i + 1)
    }
}

impl DeclaredSkill {
    /// Which kind it is (checked: exactly one of action, service, topic).
    pub fn kind(&self) -> Kind {
        match (&self.action, &self.service) {
            (Some(_), _) => Kind::Action,
            (None, Some(_)) => Kind::Service,
            _ => Kind::Topic,
        }
    }

    /// Whether calling it may move the robot (then it is refused while
    /// the e-stop is latched).
    pub fn moves(&self) -> bool {
        self.moves.unwrap_or(true)
    }

    /// The ROS name it reaches.
    pub fn ros_name(&self) -> &str {
        self.action
            .as_deref()
            .or(self.service.as_deref())
            .or(self.topic.as_deref())
            .unwrap_or("")
    }

    /// Its time limit, seconds.
    pub fn timeout(&self) -> f64 {
        self.timeout.unwrap_or(match self.kind() {
            Kind::Action => 60.0,
            _ => 10.0,
        })
    }

    /// The field a parameter fills.
    pub fn field_of<'a>(&self, p: &'a DeclaredParam) -> &'a str {
        p.field.as_deref().unwrap_or(&p.name)
    }

    /// The record type of a skill returning several fields.
    pub fn record_name(&self) -> String {
        let camel: String = self
            .name
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        format!("{camel}Result")
    }

    /// The result fields it returns, in order.
    pub fn returned_fields(&self) -> Vec<&str> {
        match &self.returns {
            None => Vec::new(),
            Some(Returns::One(f)) => vec![f.as_str()],
            Some(Returns::Many(fs)) => fs.iter().map(String::as_str).collect(),
        }
    }

    /// Checks what can be checked without the interface definitions.
    pub fn check_shape(&self, builtin: &[String]) -> Result<(), DeclarationError> {
        let err = |near: &str, message: String| Err(DeclarationError::new(self, near, message));
        if !robot_api::is_python_name(&self.name) || self.name.starts_with('_') {
            return err(
                "name:",
                format!(
                    "{:?} is not a function name: use lowercase letters, digits and underscores",
                    self.name
                ),
            );
        }
        if builtin.contains(&self.name) {
            return err(
                "name:",
                format!(
                    "{} is already a skill of this robot; choose another name",
                    self.name
                ),
            );
        }
        if self.preview == Some(PreviewPolicy::Call) && self.moves() {
            return err(
                "preview:",
                "preview: call runs the skill for real during a rehearsal, so it must move nothing: add moves: false, or leave preview out (skip)".into(),
            );
        }
        let targets = [&self.action, &self.service, &self.topic]
            .iter()
            .filter(|t| t.is_some())
            .count();
        if targets != 1 {
            return err(
                "name:",
                "give exactly one of action, service or topic (the ROS name the skill reaches)"
                    .into(),
            );
        }
        if !self.ros_name().starts_with('/') {
            return err(
                self.ros_name(),
                format!(
                    "{:?} must be an absolute ROS name, starting with /",
                    self.ros_name()
                ),
            );
        }
        let kind = self.kind();
        let wanted = kind.type_kind();
        if self.type_name.split('/').nth(1) != Some(wanted) {
            let what = match kind {
                Kind::Action => "action",
                Kind::Service => "service",
                Kind::Topic => "topic",
            };
            return err(
                "type:",
                format!(
                    "this {what} skill needs a type of the form pkg/{wanted}/Name, got {:?}",
                    self.type_name
                ),
            );
        }
        if kind == Kind::Topic && (self.returns.is_some() || self.timeout.is_some()) {
            return err(
                "returns:",
                "a topic skill publishes and returns nothing: leave out returns and timeout".into(),
            );
        }
        if kind == Kind::Action && self.moves == Some(false) {
            return err(
                "moves:",
                "an action's goal is never sent while the e-stop is latched: only service and topic skills may say moves: false".into(),
            );
        }
        if let Some(t) = self.timeout {
            if !(t > 0.0 && t <= 86_400.0) {
                return err(
                    "timeout:",
                    format!("timeout must be between 0 and 86400 seconds, got {t}"),
                );
            }
        }
        let mut seen_default = false;
        for (i, p) in self.params.iter().enumerate() {
            let at = format!("name: {}", p.name);
            if !robot_api::is_python_name(&p.name)
                || self.params[..i].iter().any(|q| q.name == p.name)
            {
                return err(
                    &at,
                    format!("parameter {:?} must be a distinct Python name", p.name),
                );
            }
            let ty = param_type(&p.ty).ok_or_else(|| {
                DeclarationError::new(self, &at, format!("parameter {}: unknown type {:?}; use float, int, bool, str, list[float], list[int], list[str], list[bool] or dict", p.name, p.ty))
            })?;
            match &p.default {
                Some(d) => {
                    seen_default = true;
                    if let Err(why) = ty.check(from_json(d)) {
                        return err(
                            &at,
                            format!(
                                "parameter {}: the default {d} does not fit {}: {why}",
                                p.name, p.ty
                            ),
                        );
                    }
                }
                None if seen_default => {
                    return err(&at, format!("parameter {} has no default but follows one that has: put parameters with defaults last", p.name));
                }
                None => {}
            }
        }
        let fields = self.returned_fields();
        for (i, f) in fields.iter().enumerate() {
            let last = f.rsplit('.').next().unwrap_or(f);
            if fields.len() > 1
                && fields[..i]
                    .iter()
                    .any(|g| g.rsplit('.').next() == Some(last))
            {
                return err(
                    f,
                    format!("two returned fields end in {last:?}: a record needs distinct names"),
                );
            }
        }
        Ok(())
    }

    /// Checks the fields against the installed interface definitions: every
    /// parameter's and fixed field exists in the goal/request/message with a
    /// type its values fit, and every returned field exists in the result.
    pub fn check_fields(&self, idl: &Idl) -> Result<(), DeclarationError> {
        let kind = self.kind();
        let input = kind.input();
        idl.fields(&self.type_name, input)
            .map_err(|e| DeclarationError::new(self, "type:", e.to_string()))?;
        for p in &self.params {
            let field = self.field_of(p);
            let near = match &p.field {
                Some(f) => format!("field: {f}"),
                None => format!("name: {}", p.name),
            };
            let ty = idl.field(&self.type_name, input, field).map_err(|e| {
                DeclarationError::new(
                    self,
                    &near,
                    format!("parameter {}: {e}; set its field to one of them", p.name),
                )
            })?;
            let param = param_type(&p.ty).unwrap_or(ParamType::Any);
            if !ty.accepts(&param) {
                return Err(DeclarationError::new(
                    self,
                    &near,
                    format!(
                        "parameter {} is {} but the {} field {field} is {}; declare it as {}",
                        p.name,
                        p.ty,
                        input.name(),
                        ty.annotation(),
                        ty.annotation()
                    ),
                ));
            }
        }
        for field in self.fixed.keys() {
            idl.field(&self.type_name, input, field)
                .map_err(|e| DeclarationError::new(self, field.as_str(), format!("fixed: {e}")))?;
        }
        if let Some(output) = kind.output() {
            for f in self.returned_fields() {
                idl.field(&self.type_name, output, f)
                    .map_err(|e| DeclarationError::new(self, f, format!("returns: {e}")))?;
            }
        }
        Ok(())
    }

    /// The Python face: signature, docstring, return annotation, errors.
    /// `returns` is the annotation of what comes back (from [`Self::returns_annotation`]).
    pub fn spec(&self, returns: &str) -> SkillSpec {
        let mut spec = SkillSpec::new(&self.name, self.docstring()).returns(returns);
        if self.preview == Some(PreviewPolicy::Call) {
            spec = spec.in_rehearsal(robot_api::InRehearsal::Call);
        }
        for p in &self.params {
            let ty = param_type(&p.ty).unwrap_or(ParamType::Any);
            spec = match &p.default {
                Some(d) => spec.param_default(&p.name, ty, from_json(d)),
                None => spec.param(&p.name, ty),
            };
        }
        match self.kind() {
            Kind::Action => spec
                .raises(ErrorKind::GoalFailed)
                .raises(ErrorKind::SkillTimeout),
            Kind::Service => spec.raises(ErrorKind::SkillTimeout),
            Kind::Topic => spec,
        }
    }

    /// The return annotation: a field's type, the record, a dict or None.
    pub fn returns_annotation(&self, idl: &Idl) -> String {
        let Some(output) = self.kind().output() else {
            return "None".into();
        };
        match &self.returns {
            None => "dict".into(),
            Some(Returns::One(f)) => idl
                .field(&self.type_name, output, f)
                .map_or("object".into(), |t| t.annotation()),
            Some(Returns::Many(_)) => self.record_name(),
        }
    }

    /// The record type it returns, if it returns several fields.
    pub fn record(&self) -> Option<RecordType> {
        let Some(Returns::Many(fields)) = &self.returns else {
            return None;
        };
        let names: Vec<&str> = fields
            .iter()
            .map(|f| f.rsplit('.').next().unwrap_or(f))
            .collect();
        Some(RecordType::new(
            &self.record_name(),
            &names,
            &format!("What {}() returns.", self.name),
        ))
    }

    fn docstring(&self) -> String {
        let mut doc = self.doc.trim().to_owned();
        let described: Vec<String> = self
            .params
            .iter()
            .filter(|p| p.doc.is_some() || p.unit.is_some())
            .map(|p| {
                let unit = p
                    .unit
                    .as_deref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default();
                format!("{}{unit}: {}", p.name, p.doc.as_deref().unwrap_or(""))
            })
            .collect();
        if !described.is_empty() {
            doc.push_str("\n\n");
            doc.push_str(&described.join("\n"));
        }
        doc.push_str(&match self.kind() {
            Kind::Action => format!("\n\nRuns the ROS action {} ({}); its feedback is printed as it comes, and the goal is cancelled if this action is stopped.", self.ros_name(), self.type_name),
            Kind::Service => format!("\n\nCalls the ROS service {} ({}).", self.ros_name(), self.type_name),
            Kind::Topic => format!("\n\nPublishes on the ROS topic {} ({}).", self.ros_name(), self.type_name),
        });
        doc
    }

    /// The goal, request or message for these argument values.
    pub fn input(&self, args: &[Value]) -> Json {
        let mut json = Json::Object(Default::default());
        for (field, value) in &self.fixed {
            set_path(&mut json, field, value.clone());
        }
        for (p, v) in self.params.iter().zip(args) {
            set_path(&mut json, self.field_of(p), to_json(v));
        }
        json
    }

    /// What the skill returns from a result or response.
    pub fn output(&self, result: &Json) -> Value {
        match &self.returns {
            None => from_json(result),
            Some(Returns::One(f)) => from_json(get_path(result, f)),
            Some(Returns::Many(fields)) => Value::Record(robot_api::Record {
                type_name: self.record_name(),
                fields: fields
                    .iter()
                    .map(|f| {
                        let name = f.rsplit('.').next().unwrap_or(f).to_owned();
                        (name, from_json(get_path(result, f)))
                    })
                    .collect(),
            }),
        }
    }
}

/// The parameter type a declaration names.
fn param_type(name: &str) -> Option<ParamType> {
    let scalar = |n: &str| match n {
        "float" => Some(ParamType::Float),
        "int" => Some(ParamType::Int),
        "bool" => Some(ParamType::Bool),
        "str" => Some(ParamType::Str),
        "dict" => Some(ParamType::Any),
        _ => None,
    };
    match name
        .trim()
        .strip_prefix("list[")
        .and_then(|r| r.strip_suffix(']'))
    {
        Some(inner) => scalar(inner.trim()).map(|t| ParamType::List(Box::new(t))),
        None => scalar(name.trim()),
    }
}

/// Sets `value` at a dotted path, making the objects on the way.
fn set_path(json: &mut Json, path: &str, value: Json) {
    let mut at = json;
    let steps: Vec<&str> = path.split('.').collect();
    for step in &steps[..steps.len() - 1] {
        if !at.get(*step).is_some_and(Json::is_object) {
            at[*step] = Json::Object(Default::default());
        }
        at = &mut at[*step];
    }
    at[steps[steps.len() - 1]] = value;
}

/// The value at a dotted path (null when it is not there).
fn get_path<'a>(json: &'a Json, path: &str) -> &'a Json {
    path.split('.').fold(json, |at, step| &at[step])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skill(yaml: &str) -> DeclaredSkill {
        serde_norway::from_str(yaml).unwrap()
    }

    const NAV: &str = "
name: go_to_pose
doc: Drive to a pose with Nav2.
action: /navigate_to_pose
type: nav2_msgs/action/NavigateToPose
params:
  - {name: x, type: float, unit: m, doc: where, field: pose.pose.position.x}
  - {name: y, type: float, unit: m, field: pose.pose.position.y}
  - {name: frame, type: str, default: map, field: pose.header.frame_id}
fixed: {behavior_tree: ''}
returns: [error_code, error_msg]
timeout: 120
";

    #[test]
    fn only_a_skill_that_moves_nothing_may_be_called_in_a_rehearsal() {
        let status =
            "name: status\ndoc: The status.\nservice: /status\ntype: std_srvs/srv/Trigger\n";
        let s = skill(&format!("{status}preview: call\nmoves: false\n"));
        s.check_shape(&[]).unwrap();
        assert_eq!(s.spec("dict").rehearsal, robot_api::InRehearsal::Call);
        assert_eq!(
            skill(status).spec("dict").rehearsal,
            robot_api::InRehearsal::Skip
        );
        let e = skill(&format!("{status}preview: call\n"))
            .check_shape(&[])
            .unwrap_err();
        assert_eq!(e.near, "preview:");
        assert!(e.message.contains("add moves: false"), "{}", e.message);
        assert!(
            serde_norway::from_str::<DeclaredSkill>(&format!("{status}preview: maybe\n")).is_err()
        );
    }

    #[test]
    fn a_declaration_gives_a_python_face_and_fills_its_goal() {
        let s = skill(NAV);
        s.check_shape(&[]).unwrap();
        assert_eq!(s.kind(), Kind::Action);
        let spec = s.spec("GoToPoseResult");
        assert_eq!(
            spec.python_def(),
            "def go_to_pose(x: float, y: float, frame: str = 'map') -> GoToPoseResult:"
        );
        let doc = spec.full_doc();
        assert!(
            doc.contains("x (m): where") && doc.contains("Runs the ROS action /navigate_to_pose"),
            "{doc}"
        );
        assert!(doc.ends_with("Raises: GoalFailed, SkillTimeout."), "{doc}");
        let goal = s.input(&[
            Value::Float(1.5),
            Value::Float(-2.0),
            Value::Str("map".into()),
        ]);
        assert_eq!(
            goal,
            serde_json::json!({"behavior_tree": "", "pose": {"header": {"frame_id": "map"}, "pose": {"position": {"x": 1.5, "y": -2.0}}}})
        );
        let record = s.record().unwrap();
        assert_eq!(record.name, "GoToPoseResult");
        assert_eq!(record.fields, ["error_code", "error_msg"]);
        let out = s.output(&serde_json::json!({"error_code": 0, "error_msg": ""}));
        assert_eq!(
            out,
            Value::Record(robot_api::Record {
                type_name: "GoToPoseResult".into(),
                fields: vec![
                    ("error_code".into(), Value::Int(0)),
                    ("error_msg".into(), Value::Str(String::new()))
                ],
            })
        );
        assert_eq!(s.timeout(), 120.0);
    }

    #[test]
    fn bad_shapes_are_refused_with_the_line_they_are_on() {
        let text = format!("ros_skills:\n  - {}", NAV.trim().replace('\n', "\n    "));
        let cases = [
            ("name: go_to_pose", "name: move_to", "already a skill"),
            (
                "type: nav2_msgs/action/NavigateToPose",
                "type: nav2_msgs/srv/NavigateToPose",
                "needs a type of the form pkg/action/Name",
            ),
            (
                "{name: y, type: float",
                "{name: y, type: double",
                "unknown type \"double\"",
            ),
            (
                "type: str, default: map",
                "type: int, default: map",
                "does not fit int",
            ),
            ("timeout: 120", "timeout: -1", "between 0 and 86400"),
            (
                "timeout: 120",
                "moves: false",
                "only service and topic skills may say moves: false",
            ),
            (
                "action: /navigate_to_pose",
                "topic: /navigate_to_pose",
                "this topic skill",
            ),
        ];
        for (from, to, expected) in cases {
            let bad = text.replace(from, to);
            let doc: serde_norway::Value = serde_norway::from_str(&bad).unwrap();
            let s: DeclaredSkill = serde_norway::from_value(doc["ros_skills"][0].clone()).unwrap();
            let e = s.check_shape(&["move_to".into()]).unwrap_err();
            assert!(e.message.contains(expected), "{to}: {}", e.message);
            let line = e.line(&bad);
            assert!(
                bad.lines()
                    .nth(line - 1)
                    .unwrap()
                    .contains(to.split(':').next().unwrap())
                    || expected == "this topic skill",
                "{to}: line {line}: {}",
                e.message
            );
        }
        // Required after optional.
        let s = skill("name: a\ndoc: d\nservice: /s\ntype: std_srvs/srv/SetBool\nparams: [{name: p, type: bool, default: true}, {name: q, type: bool}]");
        assert!(s
            .check_shape(&[])
            .unwrap_err()
            .message
            .contains("put parameters with defaults last"));
    }

    #[test]
    fn skills_move_the_robot_unless_a_service_or_topic_says_otherwise() {
        let light = "name: light\ndoc: d\nservice: /light\ntype: std_srvs/srv/SetBool";
        assert!(skill(light).moves(), "the safe default");
        let status = skill(&format!("{light}\nmoves: false"));
        status.check_shape(&[]).unwrap();
        assert!(!status.moves());
    }
}
