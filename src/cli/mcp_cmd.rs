//! `codeact mcp`: serves the robot to MCP clients over stdio (the default)
//! or streamable HTTP (`--http 127.0.0.1:PORT`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use super::shutdown::{signals, Shutdown};
use super::{ActionOpts, ClockOpts, RecordOpts, SandboxOpts, TargetOpts};
use crate::mcp::http::{self, HttpOptions};
use crate::mcp::{McpSession, RobotServer};

/// Options of `codeact mcp`.
#[derive(clap::Args, Debug)]
pub struct McpOpts {
    #[command(flatten)]
    target: TargetOpts,
    #[command(flatten)]
    sandbox: SandboxOpts,
    #[command(flatten)]
    actions: ActionOpts,
    #[command(flatten)]
    clock: ClockOpts,
    #[command(flatten)]
    record: RecordOpts,
    /// Serve streamable HTTP on the path /mcp instead of stdio, at PORT on
    /// loopback (127.0.0.1) or at ADDR:PORT; port 0 picks a free one. Any
    /// address but loopback needs --token-file.
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = super::listen_address)]
    http: Option<SocketAddr>,
    /// A file holding the bearer token every HTTP request must carry
    /// (Authorization: Bearer TOKEN); requests without it get 401.
    #[arg(long, value_name = "FILE", requires = "http")]
    token_file: Option<PathBuf>,
    /// A browser origin allowed to call the HTTP endpoint besides the
    /// loopback ones, e.g. https://app.example.com:443 (repeatable).
    #[arg(long = "allow-origin", value_name = "ORIGIN", requires = "http")]
    origins: Vec<String>,
    /// A host name the HTTP endpoint answers to besides loopback and the
    /// bound address, e.g. robot.lab.example (repeatable).
    #[arg(long = "allow-host", value_name = "HOST", requires = "http")]
    hosts: Vec<String>,
    /// Characters of an observation's text a client gets at most; the
    /// middle of a longer one is cut (the whole is in the structured result).
    #[arg(long, value_name = "CHARS", default_value_t = 20_000)]
    max_output: usize,
}

/// Serves until the client leaves (stdio) or Ctrl-C (HTTP).
pub fn run(opts: &McpOpts) -> Result<ExitCode> {
    if opts.max_output < 200 {
        bail!(
            "--max-output must be at least 200 characters, got {}",
            opts.max_output
        );
    }
    let token = match &opts.token_file {
        Some(path) => Some(read_token(path)?),
        None => None,
    };
    let started = opts
        .target
        .target(opts.clock.realtime, Some(&opts.record))?
        .session(&opts.sandbox, Some(&opts.actions))?;
    let world = started.robot.as_ref().map(|r| r.sim().world().summary());
    // SIGINT and SIGTERM: the action interrupted, the robot stopped, the
    // worker and workspace removed (over HTTP, Ctrl-C ends the server in order).
    let shutdown = Shutdown::install(&signals(opts.http.is_none()), started.ends(None))?;
    let (session, recorder) = (started.session, started.recorder);
    let physical = opts.target.robot.is_some();
    let robot = McpSession::start_in(session, world.as_deref());
    let server = RobotServer::new(robot.clone(), opts.max_output, physical);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let served = match opts.http {
        None => crate::mcp::stdio::serve(&runtime, server).map_err(anyhow::Error::from),
        Some(addr) => {
            let options = HttpOptions {
                addr,
                token,
                origins: opts.origins.clone(),
                hosts: opts.hosts.clone(),
            };
            let bound = |at| eprintln!("codeact mcp: serving http://{at}/mcp (Ctrl-C stops)");
            http::serve_until_ctrl_c(&runtime, server, options, &bound).map_err(anyhow::Error::from)
        }
    };
    // In order, before the process exits: the server's tasks, the session,
    // then the robot's connection (a ROS node must not be torn down by exit).
    shutdown.ending();
    drop(runtime);
    robot.close();
    drop(robot);
    if let Some(r) = recorder {
        match r.close() {
            Ok(()) => {
                if let Some(path) = r.path() {
                    eprintln!("recording: {}", path.display());
                }
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
    let code = shutdown.ended(ExitCode::SUCCESS);
    served?;
    Ok(code)
}

/// The token in `path`: its first line, which must not be empty.
fn read_token(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token file {}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_owned();
    if token.len() < 16 {
        bail!(
            "the token in {} is {} characters long; use at least 16 (e.g. `openssl rand -hex 32 > {}`)",
            path.display(),
            token.len(),
            path.display()
        );
    }
    Ok(token)
}
