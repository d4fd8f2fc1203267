//! The `codeact` command. `main` calls `try_main`; errors are printed once, here.

use std::process::ExitCode;

fn main() -> ExitCode {
    codeact::cli::main()
}
