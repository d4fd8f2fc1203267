//! The `codeact` command line: one file per subcommand.

mod bench;
mod doctor;
mod repl;
mod session_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use robot_api::SkillSet;

use crate::executor::{ExecutorConfig, Limits, Session, WorkerConfig};

/// Let an LLM control a robot by writing Python code actions.
#[derive(Parser)]
#[command(name = "codeact", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drive the executor with JSON lines on stdin/stdout (see docs/protocol.md).
    Session(ExecOpts),
    /// Type code actions interactively, with live output and history.
    Repl(ExecOpts),
    /// Show which isolation measures are in force on this machine.
    Doctor(ExecOpts),
    /// Print the robot API text an LLM reads.
    Api(ExecOpts),
    /// Measure the executor and print medians.
    Bench(bench::BenchOpts),
    /// Internal: the sandboxed worker process (started by the supervisor).
    #[command(name = "__worker", hide = true)]
    Worker {
        /// Worker configuration as JSON.
        config: String,
    },
}

/// Options shared by the commands that start an executor session.
#[derive(Args, Clone, Debug)]
pub struct ExecOpts {
    /// Skill set to load. `test`: a test-only set (echo, add, sleep, fail, block, pose).
    #[arg(long, default_value = "test")]
    skills: String,
    /// Default time limit of an action, in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Seconds an interrupted action has to stop before the worker is killed.
    #[arg(long, default_value_t = 2.0)]
    grace: f64,
    /// Directory the code may write in (default: a fresh temporary directory).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Worker address-space limit, MiB.
    #[arg(long, default_value_t = Limits::default().memory_mb)]
    memory_mb: u64,
    /// Worker CPU-time limit over its life, seconds.
    #[arg(long, default_value_t = Limits::default().cpu_seconds)]
    cpu_seconds: u64,
    /// Processes and threads the worker may have at once.
    #[arg(long, default_value_t = Limits::default().max_processes)]
    max_processes: u64,
    /// Run without the kernel sandbox (debugging only: the code gets your rights).
    #[arg(long)]
    no_sandbox: bool,
}

impl ExecOpts {
    fn config(&self) -> Result<ExecutorConfig> {
        let secs = |v: f64, what: &str| -> Result<Duration> {
            if !(v > 0.0 && v <= 604_800.0) {
                bail!("--{what} must be between 0 and 604800 seconds, got {v}");
            }
            Ok(Duration::from_secs_f64(v))
        };
        Ok(ExecutorConfig {
            timeout: secs(self.timeout, "timeout")?,
            grace: secs(self.grace, "grace")?,
            limits: Limits {
                memory_mb: self.memory_mb,
                cpu_seconds: self.cpu_seconds,
                max_processes: self.max_processes,
                ..Limits::default()
            },
            workspace: self.workspace.clone(),
            sandbox: !self.no_sandbox,
            ..ExecutorConfig::default()
        })
    }

    fn skill_set(&self) -> Result<SkillSet> {
        match self.skills.as_str() {
            "test" => Ok(robot_api::testing::test_skills().0),
            other => bail!("unknown skill set {other:?}; available: test"),
        }
    }

    /// Starts a session, warning on stderr about protections not in force.
    pub fn start(&self) -> Result<Session> {
        let session =
            Session::start(self.config()?, self.skill_set()?).context("starting the executor")?;
        for p in session.protections().iter().filter(|p| !p.active) {
            eprintln!(
                "warning: protection '{}' is not in force: {}",
                p.name, p.detail
            );
        }
        Ok(session)
    }
}

/// Runs the command line; prints an error once and maps it to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Worker { config } = &cli.command {
        let config: WorkerConfig = match serde_json::from_str(config) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("codeact __worker: bad configuration: {e}");
                return ExitCode::from(2);
            }
        };
        crate::executor::worker::main(config);
    }
    match try_main(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_main(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Session(opts) => session_cmd::run(&opts),
        Command::Repl(opts) => repl::run(&opts),
        Command::Doctor(opts) => doctor::run(&opts),
        Command::Api(opts) => {
            print!("{}", opts.skill_set()?.api_text());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(opts) => bench::run(&opts),
        Command::Worker { .. } => unreachable!("handled before"),
    }
}
