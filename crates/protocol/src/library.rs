//! What the worker found in the skill library at start: the functions it
//! loaded and the modules that failed (the supervisor's side, which writes
//! the library, is `codeact::executor::library`).

use std::fmt::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One function the library gave the namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LibraryFunction {
    /// Its name in the namespace.
    pub name: String,
    /// Its signature as Python prints it: `(shelf: str, n: int = 2) -> bool`.
    pub signature: String,
    /// Its docstring, cleaned of indentation.
    pub doc: String,
    /// The module file it came from.
    pub module: PathBuf,
}

/// A library module that did not load (or a function in it that was skipped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrokenModule {
    /// The module file.
    pub module: PathBuf,
    /// What went wrong: the traceback, or why a function was skipped.
    pub error: String,
}

/// What the worker found in the skill library at start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LibraryReport {
    /// The library folder (`None`: the session has no library).
    pub dir: Option<PathBuf>,
    /// Functions loaded into the namespace, in module order.
    pub functions: Vec<LibraryFunction>,
    /// Modules (or functions) that failed; the rest still loaded.
    pub broken: Vec<BrokenModule>,
}

impl LibraryReport {
    /// The section of the API text that lists the library's functions (empty
    /// when there are none and nothing broke).
    pub fn api_text(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        if self.functions.is_empty() && self.broken.is_empty() {
            return String::new();
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n# Skill library ({}): functions saved in earlier sessions, defined in your namespace.",
            dir.display()
        );
        for f in &self.functions {
            let _ = writeln!(out, "def {}{}:", f.name, f.signature);
            let _ = writeln!(out, "{}\n", robot_api::registry::indent_doc(&f.doc));
        }
        for b in &self.broken {
            let _ = writeln!(
                out,
                "# Not loaded: {} ({})",
                b.module.display(),
                b.error.lines().last().unwrap_or("").trim()
            );
        }
        out
    }

    /// The names of the functions loaded, in order.
    pub fn names(&self) -> Vec<&str> {
        self.functions.iter().map(|f| f.name.as_str()).collect()
    }

    /// One line per broken module, with its whole error, for people
    /// (`doctor`, the REPL's start, `codeact skills`).
    pub fn broken_text(&self) -> String {
        let mut out = String::new();
        for b in &self.broken {
            let _ = writeln!(
                out,
                "skill library: {} has a problem (the rest loaded):\n{}",
                b.module.display(),
                indent(b.error.trim_end())
            );
        }
        out
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
