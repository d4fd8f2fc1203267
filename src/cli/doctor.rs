//! `codeact doctor`: starts a worker and lists which isolation measures are in force.

use std::process::ExitCode;

use anyhow::Result;

use super::DoctorOpts;

/// Prints each protection with ✔/✘ and what it does or why it is missing.
pub fn run(opts: &DoctorOpts) -> Result<ExitCode> {
    let session = opts
        .target
        .target(None, None)?
        .session(&opts.sandbox, None)?
        .session;
    println!("codeact doctor");
    println!(
        "  python     {}",
        session.python_version().lines().next().unwrap_or("")
    );
    println!("  workspace  {}", session.workspace().display());
    println!("protections:");
    let mut missing = 0;
    for p in session.protections() {
        let mark = if p.active { "ok  " } else { "MISSING" };
        if !p.active {
            missing += 1;
        }
        println!("  [{mark}] {:<14} {}", p.name, p.detail);
    }
    let library = session.library();
    if let Some(dir) = &library.dir {
        let names = library.names();
        println!(
            "skill library {}: {} function(s){}{}",
            dir.display(),
            names.len(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        );
        print!("{}", library.broken_text());
    }
    if missing == 0 {
        println!("all protections are in force.");
    } else {
        println!("{missing} protection(s) missing: the worker runs, with the warnings above.");
    }
    Ok(ExitCode::SUCCESS)
}
