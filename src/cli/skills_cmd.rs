//! `codeact skills`: what the skill library holds, loaded as a session loads it.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::{SandboxOpts, TargetOpts};

/// Options of `codeact skills`.
#[derive(Args, Clone, Debug)]
pub struct SkillsOpts {
    #[command(flatten)]
    target: TargetOpts,
    #[command(flatten)]
    sandbox: SandboxOpts,
    /// Print each function's whole docstring, not only its first line.
    #[arg(long)]
    full: bool,
}

/// Starts a worker (in the sandbox, as a session would) and lists the
/// library's functions and the modules that did not load. Fails when one did not.
pub fn run(opts: &SkillsOpts) -> Result<ExitCode> {
    let target = opts.target.target(None, None)?;
    if target.library.is_none() {
        bail!("no skill library: give --library DIR, or leave out --no-library (a world or robot has one by default)");
    }
    let session = target.session(&opts.sandbox, None)?.session;
    let library = session.library();
    let dir = library.dir.as_deref().unwrap_or(std::path::Path::new("?"));
    println!(
        "skill library {}: {} function(s)",
        dir.display(),
        library.functions.len()
    );
    for f in &library.functions {
        let file = f.module.file_name().unwrap_or_default().to_string_lossy();
        println!("  {}{}    [{file}]", f.name, f.signature);
        let doc = if opts.full {
            f.doc.as_str()
        } else {
            f.doc.lines().next().unwrap_or("")
        };
        for line in doc.lines() {
            println!("      {line}");
        }
    }
    if library.functions.is_empty() && library.broken.is_empty() {
        println!(
            "  (empty: save_skill(fn) in a code action, or :save NAME in the REPL, adds to it)"
        );
    }
    if library.broken.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", library.broken_text());
    Ok(ExitCode::FAILURE)
}
