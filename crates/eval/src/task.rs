//! Tasks as data: YAML files in `tasks/` (schema in `tasks/README.md`), the
//! built-in ones compiled in, any other given by path. A bad file gets an
//! error naming the file, the line and what is wrong.

use std::path::Path;

use serde::Deserialize;

use super::predicate::Predicate;
use super::setup::Setup;

/// The task files built into the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("navigation", include_str!("../../../tasks/navigation.yaml")),
    ("search", include_str!("../../../tasks/search.yaml")),
    ("pick_place", include_str!("../../../tasks/pick_place.yaml")),
    ("loops", include_str!("../../../tasks/loops.yaml")),
    ("conditions", include_str!("../../../tasks/conditions.yaml")),
    ("recovery", include_str!("../../../tasks/recovery.yaml")),
    (
        "long_horizon",
        include_str!("../../../tasks/long_horizon.yaml"),
    ),
    ("questions", include_str!("../../../tasks/questions.yaml")),
    ("fleet", include_str!("../../../tasks/fleet.yaml")),
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
    /// Several robots in one world, moving at once.
    Fleet,
}

impl Tier {
    /// Every tier, in order.
    pub const ALL: [Tier; 9] = [
        Tier::Navigation,
        Tier::Search,
        Tier::PickPlace,
        Tier::Loops,
        Tier::Conditions,
        Tier::Recovery,
        Tier::LongHorizon,
        Tier::Questions,
        Tier::Fleet,
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
            Tier::Fleet => "fleet",
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
    /// Where it is written: the task file and the line of its id.
    #[serde(skip)]
    pub source: String,
}

impl Task {
    /// `file:line: ` of the task, for errors about it.
    pub fn at(&self) -> String {
        if self.source.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.source)
        }
    }
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
    #[error("cannot read the task file {path}: {why}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        why: std::io::Error,
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
    for t in &tasks {
        let at = line_of(text, &t.id);
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
    let files: Vec<(String, String)> = BUILTIN
        .iter()
        .map(|(name, text)| (format!("tasks/{name}.yaml"), (*text).to_owned()))
        .collect();
    from_texts(&files)
}

/// The tasks of several files (path, text), each id once across them all.
fn from_texts(files: &[(String, String)]) -> Result<Vec<Task>, TaskError> {
    let mut all = Vec::new();
    let mut seen: std::collections::HashMap<String, (String, usize)> = Default::default();
    for (path, text) in files {
        let mut in_file: std::collections::HashMap<String, usize> = Default::default();
        for task in parse(text, path)? {
            let nth = in_file.entry(task.id.clone()).or_default();
            let line = nth_line_of(text, &task.id, *nth);
            *nth += 1;
            if let Some((first, first_line)) = seen.get(&task.id) {
                return Err(TaskError::Invalid {
                    path: path.clone(),
                    line,
                    message: format!(
                        "task id {:?} is used twice (also at {first}:{first_line}); give each task an id of its own: trial folders and --resume know trials by it",
                        task.id
                    ),
                });
            }
            seen.insert(task.id.clone(), (path.clone(), line));
            let mut task = task;
            task.source = format!("{path}:{line}");
            all.push(task);
        }
    }
    Ok(all)
}

/// The line of the task `id` in a task file's text (1 when not found).
fn line_of(text: &str, id: &str) -> usize {
    nth_line_of(text, id, 0)
}

/// The line of the `nth` (from 0) task with `id` in a task file's text.
fn nth_line_of(text: &str, id: &str, nth: usize) -> usize {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.trim_start().trim_start_matches("- ").trim();
            l.strip_prefix("id:").is_some_and(|rest| rest.trim() == id)
        })
        .nth(nth)
        .map_or(1, |(i, _)| i + 1)
}

/// Resolves each task's world file from the task file's folder (a world
/// named by a relative path is next to the task file, as a world file's
/// own paths are); a world that is neither built in nor there is an error
/// at the task's line, saying where it looked.
fn resolve_worlds(tasks: &mut [Task], text: &str, path: &Path) -> Result<(), TaskError> {
    let dir = path.parent().unwrap_or(Path::new(""));
    for t in tasks {
        if sim::is_builtin(&t.world) {
            continue;
        }
        let named = Path::new(&t.world);
        let file = if named.is_absolute() {
            named.to_owned()
        } else {
            dir.join(named)
        };
        if !file.is_file() {
            return Err(TaskError::Invalid {
                path: path.display().to_string(),
                line: line_of(text, &t.id),
                message: format!(
                    "task {}: world {:?} is not a built-in world and there is no file {} (world files are found from the task file's folder)",
                    t.id,
                    t.world,
                    file.display()
                ),
            });
        }
        t.world = file.display().to_string();
    }
    Ok(())
}

/// The built-in tasks, or those of the task files given by path.
pub fn load(files: &[String]) -> Result<Vec<Task>, TaskError> {
    if files.is_empty() {
        return builtin();
    }
    let mut texts = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(Path::new(f)).map_err(|why| TaskError::Read {
            path: f.clone(),
            why,
        })?;
        texts.push((f.clone(), text));
    }
    let mut all = from_texts(&texts)?;
    let mut start = 0;
    for (f, text) in &texts {
        let n = parse(text, f)?.len();
        resolve_worlds(&mut all[start..start + n], text, Path::new(f))?;
        start += n;
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
    fn a_task_id_used_twice_is_refused_with_both_lines() {
        let one = "- id: one\n  tier: navigation\n  world: small_room\n  instructions: [Go to the dock., Drive to the dock.]\n  success: [{robot_in_zone: dock}]\n  oracle: done('x')\n";
        let files = vec![
            ("a.yaml".to_owned(), one.to_owned()),
            ("b.yaml".to_owned(), format!("# another\n{one}")),
        ];
        let e = from_texts(&files).unwrap_err().to_string();
        assert!(
            e.starts_with("b.yaml:2:") && e.contains("also at a.yaml:1"),
            "{e}"
        );
        let twice = vec![("a.yaml".to_owned(), format!("{one}{one}"))];
        let e = from_texts(&twice).unwrap_err().to_string();
        assert!(
            e.starts_with("a.yaml:7:") && e.contains("also at a.yaml:1"),
            "{e}"
        );
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
