//! The skill library: Python modules in a folder whose functions, composed of
//! skills, are loaded into every worker's namespace at start, and to which
//! `save_skill(fn)` adds a function that worked.
//!
//! The worker (sandboxed, untrusted) runs the modules and reports what loaded
//! ([`LibraryReport`]); only the supervisor writes the folder
//! ([`add_save_skill`]), so code never gets write access outside its workspace.

use std::path::{Path, PathBuf};

pub use codeact_protocol::library::{BrokenModule, LibraryFunction, LibraryReport};
use robot_api::{ErrorKind, SkillError, SkillSet, SkillSpec, Value};

/// The largest function source `save_skill` stores: a skill, not a program.
pub const MAX_SOURCE_BYTES: usize = 64 << 10;

/// Names a saved function may not take (Python keywords are refused too):
/// the worker's own helpers, which are not skills of the set.
const RESERVED: &[&str] = &["show", "save_skill", "done", "math", "robot"];

/// Errors saving a function into the library (shown to the code as `ValueError`
/// or `RobotError`).
#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The name cannot be a library function's.
    #[error("save_skill(): {0}")]
    BadName(String),
    /// The source is not a plain function definition of that name.
    #[error("save_skill(): {0}")]
    BadSource(String),
    /// Writing the module file failed.
    #[error("save_skill(): cannot write {path}: {source}; check that the skill library folder is writable")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Whether `name` may name a library function: an identifier, not private,
/// not a keyword, not a skill or one of the worker's helpers.
pub fn check_name(name: &str, skills: &[String]) -> Result<(), LibraryError> {
    if !robot_api::is_python_name(name) || name.len() > 64 {
        return Err(LibraryError::BadName(format!(
            "{name:?} is not a function name: use letters, digits and underscores (at most 64), starting with a letter"
        )));
    }
    if name.starts_with('_') {
        return Err(LibraryError::BadName(format!(
            "{name} starts with an underscore, which marks private helpers; library functions are public: name it without"
        )));
    }
    if PYTHON_KEYWORDS.contains(&name) {
        return Err(LibraryError::BadName(format!(
            "{name} is a Python keyword; choose another name"
        )));
    }
    if RESERVED.contains(&name) || skills.iter().any(|s| s == name) {
        return Err(LibraryError::BadName(format!(
            "{name} would shadow the skill {name}(); choose another name, such as my_{name}"
        )));
    }
    Ok(())
}

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Writes `source`, the definition of `name`, as `<dir>/<name>.py` (replacing
/// an earlier version). Returns the file and whether it replaced one.
///
/// The worker checked that the source compiles and has a docstring; this side
/// checks what it must not trust: the name (it becomes a file name), the size,
/// and that the source defines that function.
pub fn save(
    dir: &Path,
    name: &str,
    source: &str,
    skills: &[String],
) -> Result<(PathBuf, bool), LibraryError> {
    check_name(name, skills)?;
    if source.len() > MAX_SOURCE_BYTES {
        return Err(LibraryError::BadSource(format!(
            "the source of {name} has {} bytes; a library function has at most {} KiB: save smaller functions that call each other",
            source.len(),
            MAX_SOURCE_BYTES >> 10
        )));
    }
    if !defines(source, name) {
        return Err(LibraryError::BadSource(format!(
            "the source given does not define a function {name} at its top level"
        )));
    }
    let path = dir.join(format!("{name}.py"));
    let write = |e| LibraryError::Write {
        path: path.clone(),
        source: e,
    };
    std::fs::create_dir_all(dir).map_err(write)?;
    let replaced = path.exists();
    // Written beside and renamed: a worker starting meanwhile reads the old
    // module or the new one, never half of one.
    let tmp = dir.join(format!(".{name}.py.tmp"));
    let mut text = source.trim_end().to_owned();
    text.push('\n');
    std::fs::write(&tmp, text).map_err(write)?;
    std::fs::rename(&tmp, &path).map_err(write)?;
    Ok((path, replaced))
}

/// Copies the library's modules (`*.py`) from `from` into `to` (made if
/// needed): a run keeps the library it started with, so its replay loads the
/// same functions. Returns how many were copied; a missing `from` copies none.
pub fn snapshot(from: &Path, to: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut copied = 0;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "py") && path.is_file() {
            std::fs::create_dir_all(to)?;
            std::fs::copy(&path, to.join(path.file_name().unwrap_or_default()))?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// Whether a top-level line of `source` starts `def name(` (or `async def`).
fn defines(source: &str, name: &str) -> bool {
    source.lines().any(|line| {
        let rest = line
            .strip_prefix("async ")
            .unwrap_or(line)
            .strip_prefix("def ");
        rest.and_then(|r| r.trim_start().strip_prefix(name))
            .is_some_and(|r| r.trim_start().starts_with('('))
    })
}

/// Adds `save_skill(function, name=None)` to `skills`: it stores a function's
/// source in the library at `dir`. The worker replaces the Python face with one
/// that takes the function object, checks it and sends its source; the
/// handler here writes the file. Add it last, so every skill's name is protected.
pub fn add_save_skill(skills: &mut SkillSet, dir: PathBuf) {
    let names: Vec<String> = skills.specs().map(|s| s.name.clone()).collect();
    skills.add(
        SkillSpec::new(
            "save_skill",
            "Save a function that worked into the skill library, so later sessions have it: loaded at start and listed with its signature and docstring. It must be defined with def at the top level of an action, have a docstring, not take a skill's name, and import inside itself what it uses besides skills and library functions. name: save it under another name. Returns the file written.\n\nExample: save_skill(fetch)  # after fetch('red_box', 'packing') worked",
        )
        .returns("str"),
        move |SaveSkill { function, name }, _| {
            let Value::Str(source) = function else {
                return Err(SkillError::invalid(
                    "save_skill() takes a function defined with def",
                ));
            };
            let Some(name) = name else {
                return Err(SkillError::invalid(
                    "save_skill(): the worker sent no name; this is a bug in codeact",
                ));
            };
            match save(&dir, &name, &source, &names) {
                Ok((path, replaced)) => Ok(Value::Str(format!(
                    "{} {}",
                    if replaced { "replaced" } else { "saved" },
                    path.display()
                ))),
                Err(e @ LibraryError::Write { .. }) => {
                    Err(SkillError::new(ErrorKind::Robot, e.to_string()))
                }
                Err(e) => Err(SkillError::invalid(e.to_string())),
            }
        },
    );
}

robot_api::skill_params! {
    struct SaveSkill { function: Value, name: Option<String> = None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skills() -> Vec<String> {
        vec!["move_to".into(), "get_pose".into()]
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("fetch_box", &skills()).is_ok());
        for bad in [
            "move_to", "show", "_helper", "class", "1st", "a-b", "../x", "",
        ] {
            assert!(check_name(bad, &skills()).is_err(), "{bad} accepted");
        }
        let shadow = check_name("move_to", &skills()).unwrap_err().to_string();
        assert!(shadow.contains("shadow the skill move_to()"), "{shadow}");
    }

    #[test]
    fn saves_replaces_and_refuses_what_it_must() {
        let dir = std::env::temp_dir().join(format!("codeact-lib-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let src = "def fetch(a):\n    \"\"\"Fetch.\"\"\"\n    return a\n";
        let (path, replaced) = save(&dir, "fetch", src, &skills()).unwrap();
        assert_eq!(path, dir.join("fetch.py"));
        assert!(!replaced);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), src);
        let (_, replaced) = save(&dir, "fetch", src, &skills()).unwrap();
        assert!(replaced);
        // The source must define the name it is saved under.
        assert!(save(&dir, "other", src, &skills()).is_err());
        let huge = format!(
            "def big():\n    \"\"\"x\"\"\"\n    x = '{}'\n",
            "a".repeat(MAX_SOURCE_BYTES)
        );
        assert!(save(&dir, "big", &huge, &skills()).is_err());
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("fetch.py")]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn api_text_lists_functions_and_broken_modules() {
        let report = LibraryReport {
            dir: Some("/lib".into()),
            functions: vec![LibraryFunction {
                name: "fetch".into(),
                signature: "(obj: str) -> bool".into(),
                doc: "Bring obj here.".into(),
                module: "/lib/fetch.py".into(),
            }],
            broken: vec![BrokenModule {
                module: "/lib/bad.py".into(),
                error: "Traceback ...\nSyntaxError: invalid syntax".into(),
            }],
        };
        let text = report.api_text();
        assert!(
            text.contains("def fetch(obj: str) -> bool:\n    \"\"\"Bring obj here.\"\"\""),
            "{text}"
        );
        assert!(
            text.contains("# Not loaded: /lib/bad.py (SyntaxError: invalid syntax)"),
            "{text}"
        );
        assert!(LibraryReport::default().api_text().is_empty());
    }
}
