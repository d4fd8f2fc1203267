//! Tasks as data: YAML files in `tasks/` (schema in `tasks/README.md`), the
//! built-in ones compiled in, any other given by path. A bad file gets an
//! error naming the file, the line and what is wrong.

use std::path::Path;

use serde::Deserialize;

use super::predicate::Predicate;
use super::setup::Setup;

/// The task files built into the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("navigation", include_str!("../../tasks/navigation.yaml")),
    ("search", include_str!("../../tasks/search.yaml")),
    ("pick_place", include_str!("../../tasks/pick_place.yaml")),
    ("loops", include_str!("../../tasks/loops.yaml")),
    ("conditions", include_str!("../../tasks/conditions.yaml")),
    ("recovery", include_str!("../../tasks/recovery.yaml")),
    (
        "long_horizon",
        include_str!("../../tasks/long_horizon.yaml"),
    ),
    ("questions", include_str!("../../tasks/questions.yaml")),
];

/// What ability a task stresses.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    serde::Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum Tier {
    /// Getting somewhere.
    Navigation,
    /// Finding objects not in view at the start.
    Search,
    /// Carrying an object somewhere.
    PickPlace,
    /// Doing the same to many objects.
    Loops,
    /// Acting on what the robot finds out.
    Conditions,
    /// Getting around what goes wrong.
    Recovery,
    /// Eight steps or more.
    LongHorizon,
    /// Answering with an exact answer through `done(answer)`.
    Questions,
}

impl Tier {
    /// Every tier, in order.
    pub const ALL: [Tier; 8] = [
        Tier::Navigation,
        Tier::Search,
        Tier::PickPlace,
        Tier::Loops,
        Tier::Conditions,
        Tier::Recovery,
        Tier::LongHorizon,
        Tier::Questions,
    ];

    /// Its name in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Tier::Navigation => "navigation",
            Tier::Search => "search",
            Tier::PickPlace => "pick_place",
            Tier::Loops => "loops",
            Tier::Conditions => "conditions",
            Tier::Recovery => "recovery",
            Tier::LongHorizon => "long_horizon",
            Tier::Questions => "questions",
        }
    }
}

/// One task: a world, how each variation of it starts, what to say to the
/// model, what success means, budgets and an oracle solution.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Unique id ("nav-packing").
    pub id: String,
    /// The ability it stresses.
    pub tier: Tier,
    /// A built-in world or a world file.
    pub world: String,
    /// The instruction and its paraphrases (at least two).
    pub instructions: Vec<String>,
    /// How the world is changed for each seed.
    #[serde(default)]
    pub setup: Setup,
    /// What must be true at the end (and is false at the start).
    pub success: Vec<Predicate>,
    /// What must stay true throughout (no collision, a zone never entered).
    #[serde(default)]
    pub constraints: Vec<Predicate>,
    /// Model replies allowed.
    #[serde(default = "default_turns")]
    pub turns: usize,
    /// Wall-clock seconds allowed.
    #[serde(default = "default_seconds")]
    pub seconds: f64,
    /// A solution as a capable model would write it: Python using only the
    /// robot API, ending with `done(...)`.
    pub oracle: String,
}

fn default_turns() -> usize {
    10
}

fn default_seconds() -> f64 {
    600.0
}

/// Why tasks could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The file could not be read.
    #[error("cannot read the task file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid for the schema, or a task in it is not.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// Parses a task file (a YAML list of tasks); `path` names it in errors.
pub fn parse(text: &str, path: &str) -> Result<Vec<Task>, TaskError> {
    let invalid = |line: usize, message: String| TaskError::Invalid {
        path: path.into(),
        line,
        message,
    };
    // Predicates are written as one-key maps (`robot_in_zone: dock`), not YAML tags.
    let tasks: Vec<Task> = serde_norway::with::singleton_map_recursive::deserialize(
        serde_norway::Deserializer::from_str(text),
    )
    .map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        invalid(
            e.location().map_or(1, |l| l.line()),
            format!("{message}. See tasks/README.md for the schema"),
        )
    })?;
    let line_of = |id: &str| {
        text.lines()
            .position(|l| l.contains(&format!("id: {id}")))
            .map_or(1, |i| i + 1)
    };
    for t in &tasks {
        let at = line_of(&t.id);
        if t.id.trim().is_empty() || t.id.contains(char::is_whitespace) {
            return Err(invalid(at, format!("task id {:?} must be one word", t.id)));
        }
        if t.instructions.len() < 2 || t.instructions.iter().any(|i| i.trim().is_empty()) {
            return Err(invalid(at, format!("task {}: give the instruction and at least one paraphrase (instructions: a list of two or more)", t.id)));
        }
        if t.success.is_empty() {
            return Err(invalid(
                at,
                format!("task {}: success needs at least one predicate", t.id),
            ));
        }
        if !t.oracle.contains("done(") {
            return Err(invalid(
                at,
                format!("task {}: the oracle must end the task with done(...)", t.id),
            ));
        }
        if t.turns == 0 || t.seconds.is_nan() || t.seconds <= 0.0 {
            return Err(invalid(
                at,
                format!("task {}: turns and seconds must be positive", t.id),
            ));
        }
        if let Some(p) = t.constraints.iter().find(|p| !p.is_constraint()) {
            return Err(invalid(
                at,
                format!(
                    "task {}: {} is a goal, not a constraint; put it under success",
                    t.id,
                    p.describe()
                ),
            ));
        }
    }
    Ok(tasks)
}

/// Every built-in task, in file order.
pub fn builtin() -> Result<Vec<Task>, TaskError> {
    let mut all = Vec::new();
    for (name, text) in BUILTIN {
        all.extend(parse(text, &format!("tasks/{name}.yaml"))?);
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = all.iter().find(|t| !seen.insert(t.id.clone())) {
        return Err(TaskError::Invalid {
            path: "tasks/".into(),
            line: 1,
            message: format!("two tasks have the id {:?}", dup.id),
        });
    }
    Ok(all)
}

/// The built-in tasks, or those of the task files given by path.
pub fn load(files: &[String]) -> Result<Vec<Task>, TaskError> {
    if files.is_empty() {
        return builtin();
    }
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(Path::new(f)).map_err(|source| TaskError::Read {
            path: f.clone(),
            source,
        })?;
        all.extend(parse(&text, f)?);
    }
    Ok(all)
}

/// Whether `id` matches `pattern`: `*` stands for any run of characters.
pub fn matches(pattern: &str, id: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == id;
    }
    let mut rest = id;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(part) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            let Some(at) = rest.find(part) else {
                return false;
            };
            rest = &rest[at + part.len()..];
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_ids() {
        assert!(matches("nav-*", "nav-packing"));
        assert!(matches("*-packing", "nav-packing"));
        assert!(matches("*pack*", "nav-packing"));
        assert!(matches("nav-packing", "nav-packing"));
        assert!(!matches("nav", "nav-packing"));
        assert!(!matches("pick-*", "nav-packing"));
    }

    #[test]
    fn a_bad_task_names_its_line() {
        let text = "- id: one\n  tier: navigation\n  world: small_room\n  instructions: [Go to the dock.]\n  success: [{robot_in_zone: dock}]\n  oracle: done('x')\n";
        let e = parse(text, "t.yaml").unwrap_err().to_string();
        assert!(
            e.starts_with("t.yaml:1:") && e.contains("paraphrase"),
            "{e}"
        );
        let e = parse("- id: x\n  tier: flying\n", "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.yaml:2") && e.contains("flying"), "{e}");
    }
}
