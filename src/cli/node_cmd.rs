//! `codeact node --ros --robot PROFILE`: the agent side as a ROS 2 node
//! (Execute service, RunTask action, live output, e-stop); see `crate::ros::node`.

use std::process::ExitCode;

use anyhow::{bail, Result};

use super::{ActionOpts, RecordOpts, SandboxOpts};

/// Options of `codeact node`.
#[derive(clap::Args, Debug)]
pub struct NodeOpts {
    /// Serve over ROS 2 (the only interface of the node).
    #[arg(long)]
    ros: bool,
    /// The ROS 2 robot, by robot profile: a built-in name (sim, turtlebot3, the fleet sim_duo)
    /// or a profile file (see launch/profiles/README.md).
    #[arg(long, default_value = "sim")]
    robot: String,
    #[command(flatten)]
    sandbox: SandboxOpts,
    #[command(flatten)]
    actions: ActionOpts,
    /// The node's name; its services and action live under it.
    #[arg(long, default_value = "codeact")]
    name: String,
    /// The model for RunTask goals: openai:MODEL or anthropic:MODEL (keys from
    /// OPENAI_API_KEY / ANTHROPIC_API_KEY). Without it, goals end with how to configure one.
    #[arg(long, env = "CODEACT_LLM")]
    llm: Option<String>,
    /// The endpoint's base URL (default: the provider's, or OPENAI_BASE_URL / ANTHROPIC_BASE_URL).
    #[arg(long)]
    base_url: Option<String>,
    /// Turns of a RunTask goal that gives 0.
    #[arg(long, default_value_t = 10)]
    max_turns: usize,
    /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
    #[arg(long)]
    seconds: Option<f64>,
    /// Start even though ROS discovery reaches other machines and DDS
    /// security is not enforced: anyone on the network could then run code
    /// on the robot (see docs/ros.md, "Who may run code").
    #[arg(long, env = "CODEACT_INSECURE_NETWORK")]
    insecure_network: bool,
    #[command(flatten)]
    record: RecordOpts,
}

/// Runs `codeact node`.
pub fn run(opts: &NodeOpts) -> Result<ExitCode> {
    if !opts.ros {
        bail!("codeact node needs --ros (it serves the agent over ROS 2); without ROS, use codeact session or codeact repl");
    }
    serve(opts)
}

#[cfg(feature = "ros")]
fn serve(opts: &NodeOpts) -> Result<ExitCode> {
    use crate::agent::llm::{Llm, LlmConfig, Model};
    use crate::ros::node::{connect, NodeOptions};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::Duration;

    // Who could call the node's services: decided before anything starts.
    let exposure = crate::ros::network::choose(&|k| std::env::var(k).ok(), opts.insecure_network)?;
    match exposure {
        crate::ros::network::Exposure::Insecure { .. } => {
            tracing::warn!("codeact node: {}", exposure.describe())
        }
        _ => tracing::info!("codeact node: {}", exposure.describe()),
    }
    // An empty CODEACT_LLM (a launch file's default) means none.
    let llm: Option<Box<dyn Model + Send>> = match opts.llm.as_deref().filter(|s| !s.is_empty()) {
        Some(spec) => Some(Box::new(Llm::new(LlmConfig::from_spec(
            spec,
            opts.base_url.as_deref(),
        )?)?)),
        None => None,
    };
    // Ctrl-C or SIGTERM end the node in order: the robot stopped, the
    // recording finished (a killed writer leaves an MCAP file without its index).
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let connected = connect(
        &opts.robot,
        &opts.name,
        &opts.record.to(crate::record::Format::Ros2),
    )?;
    if let Some(addr) = connected.recorder.as_ref().and_then(|r| r.live_addr()) {
        eprintln!("live view: ws://{addr} (Foxglove: Open connection, Foxglove WebSocket)");
    }
    let preview = opts
        .actions
        .preview(&connected.named_robots(), connected.preview)?;
    crate::ros::node::run(
        connected,
        NodeOptions {
            executor: opts.sandbox.config(Some(&opts.actions))?,
            llm,
            no_llm: format!(
                "codeact node: {}",
                super::run::NO_LLM.replace("codeact repl --world warehouse", "the Execute service")
            ),
            default_max_turns: opts.max_turns,
            run_for: opts.seconds.map(Duration::from_secs_f64),
            stop,
            exposure,
            preview,
        },
    )?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "ros"))]
fn serve(_opts: &NodeOpts) -> Result<ExitCode> {
    bail!("{}", super::NO_ROS)
}
