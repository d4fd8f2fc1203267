use std::process::ExitCode; use anyhow::Result; use super::ExecOpts; pub fn run(_o: &ExecOpts) -> Result<ExitCode> { todo!() }
