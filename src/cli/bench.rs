use std::process::ExitCode; use anyhow::Result;
#[derive(clap::Args)] pub struct BenchOpts {}
pub fn run(_o: &BenchOpts) -> Result<ExitCode> { todo!() }
