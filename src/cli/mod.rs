//! The `codeact` command line: one file per subcommand.

mod bench;
mod bench_agent;
mod bench_eval;
mod bench_live;
mod bench_mcp;
mod bench_preview;
#[cfg(feature = "ros")]
mod bench_ros;
mod bench_sim;
mod doctor;
mod eval;
mod mcp_cmd;
mod node_cmd;
mod recover;
mod render;
mod repl;
mod replay;
mod run;
mod session_cmd;
mod shutdown;
mod sim_cmd;
mod skills_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use robot_api::{RobotBackend, SkillSet};

use crate::agent::images::{ImageMode, ImagePolicy};
use crate::executor::{ExecutorConfig, Limits, Preview, PreviewMode, Session};
use crate::record::{recorded_fleet, RecordTo, Recorder};

/// Let an LLM control a robot by writing Python code actions.
#[derive(Parser)]
#[command(name = "codeact", version, about)]
struct Cli {
    /// More log lines on stderr: -v debug (each action, turn and request),
    /// -vv trace; RUST_LOG, if set, wins. Logs never go to stdout, which
    /// carries protocols and results.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

/// Sends `tracing` events to stderr at the level `-v` asks for (info by
/// default: warnings and the few lines a person starting a server wants),
/// or as `RUST_LOG` says.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // A target matches by prefix: "codeact" also names every codeact_* crate.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("codeact={level},sim={level},robot_api={level}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

#[derive(Subcommand)]
enum Command {
    /// Drive the executor with JSON lines on stdin/stdout (see docs/protocol.md).
    Session(ExecOpts),
    /// Type code actions interactively, with live output and history.
    Repl(ExecOpts),
    /// Show which isolation measures are in force on this machine.
    Doctor(DoctorOpts),
    /// Print the robot API text an LLM reads.
    Api(TargetOpts),
    /// List the skill library: the functions saved with save_skill and the modules that do not load.
    Skills(skills_cmd::SkillsOpts),
    /// An LLM works on a task until it is done: live progress, a run folder.
    Run(Box<run::RunOpts>),
    /// Run a recorded run's replies again in a fresh simulator, without an LLM; report differences.
    Replay(replay::ReplayOpts),
    /// Serve the simulator as a ROS 2 robot in real time (needs the `ros` feature).
    Sim(sim_cmd::SimOpts),
    /// The agent as a ROS 2 node: Execute, RunTask, live output, e-stop (needs the `ros` feature).
    Node(Box<node_cmd::NodeOpts>),
    /// The robot task suite: list tasks, show one, check their start states.
    Tasks(eval::TasksOpts),
    /// Run a policy on the task suite (oracle solutions or a do-nothing policy) and judge each trial.
    Eval(eval::EvalOpts),
    /// Draw a world as PNG (and SVG): walls, obstacles, zones, objects, the robot.
    Render(render::RenderOpts),
    /// Make a recording cut short (SIGKILL, power loss) whole again: every
    /// message up to the cut, with an index, in a new file.
    Recover(recover::RecoverOpts),
    /// Serve the robot to MCP clients (Claude Desktop, Claude Code, Cursor, ...) over stdio or HTTP.
    Mcp(Box<mcp_cmd::McpOpts>),
    /// Measure the executor, the simulator, the agent loop or the ROS side; print medians and p99.
    Bench(bench::BenchOpts),
}

/// What the code drives: a simulated world, a ROS robot or a test skill set.
#[derive(Args, Clone, Debug)]
pub struct TargetOpts {
    /// Simulated world to drive: a built-in name (small_room, warehouse,
    /// apartment, lab, warehouse_duo: two robots) or a world file. The default when no --skills or --robot is given: small_room.
    #[arg(long, conflicts_with_all = ["skills", "robot"])]
    world: Option<String>,
    /// A ROS 2 robot instead of the simulator, by robot profile: a built-in
    /// name (sim, turtlebot3, the fleet sim_duo) or a profile file (see launch/profiles/README.md).
    /// Needs a build with the `ros` feature.
    #[arg(long, conflicts_with = "skills")]
    robot: Option<String>,
    /// Skill set without a robot instead of a world. `test`: a test-only set
    /// (echo, add, sleep, fail, block, pose) for exercising the executor.
    #[arg(long)]
    skills: Option<String>,
    /// The skill library: a folder of Python modules whose functions are
    /// loaded into the namespace at start and listed in the API text;
    /// save_skill(fn) adds to it. Default for a world or robot:
    /// $XDG_DATA_HOME/codeact/skills/<world or profile name> (~/.local/share/...).
    #[arg(long, value_name = "DIR")]
    library: Option<PathBuf>,
    /// Start without a skill library (and without save_skill).
    #[arg(long, conflicts_with = "library")]
    no_library: bool,
}

/// The sandbox the worker runs in.
#[derive(Args, Clone, Debug)]
pub struct SandboxOpts {
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

/// How long actions may run.
#[derive(Args, Clone, Debug)]
pub struct ActionOpts {
    /// Default time limit of an action, in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Seconds an interrupted action has to stop before the worker is killed.
    #[arg(long, default_value_t = 2.0)]
    grace: f64,
    /// Rehearse every action on a twin of the robot (built from its map,
    /// pose and lidar returns) before it runs: off; show (rehearse, then
    /// run; the verdict and the predicted path come with the result); or
    /// gate (run only what the rehearsal passes: no exception, no
    /// collision, inside the geofence, every goal reachable). docs/preview.md.
    /// [default: off, or the robot profile's `preview:`]
    #[arg(long, value_name = "MODE", value_parser = PreviewMode::parse)]
    preview: Option<PreviewMode>,
    /// A rehearsal's own time limit, seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    preview_limit: f64,
}

impl ActionOpts {
    /// The preview these flags ask for (else `default`, a robot profile's),
    /// of `robots` (name, robot: one, or a fleet's; none: only `off` is
    /// possible).
    pub(crate) fn preview(
        &self,
        robots: &[(String, Arc<dyn RobotBackend>)],
        default: Option<PreviewMode>,
    ) -> Result<Option<Preview>> {
        let mode = self.preview.or(default).unwrap_or_default();
        if mode == PreviewMode::Off {
            return Ok(None);
        }
        if robots.is_empty() {
            bail!(
                "--preview needs a robot to make a twin of: give --world or --robot, not --skills"
            );
        }
        if !crate::executor::valid_time_limit(self.preview_limit) {
            bail!(
                "--preview-limit must be between 0 and {} seconds, got {}",
                crate::executor::MAX_ACTION_SECONDS,
                self.preview_limit
            );
        }
        Ok(Some(Preview {
            mode,
            twins: Arc::new(match robots {
                [(_, one)] => sim::twin::TwinOf::robot(one.clone()),
                fleet => sim::twin::TwinOf::fleet(fleet.to_vec()),
            }),
            limit: Duration::from_secs_f64(self.preview_limit),
        }))
    }
}

/// How simulated time passes.
#[derive(Args, Clone, Debug)]
pub struct ClockOpts {
    /// Let simulated time follow the wall clock (FACTOR times real time,
    /// default 1) instead of running as fast as possible: for watching.
    #[arg(long, value_name = "FACTOR", num_args = 0..=1, default_missing_value = "1.0")]
    realtime: Option<f64>,
}

/// How pictures that actions attach with `show()` reach the model.
#[derive(Args, Clone, Debug, Default)]
pub struct ImageOpts {
    /// Send the pictures actions attach to the model: auto (send them; if the
    /// endpoint refuses them, go on without), on (a refusal is an error) or
    /// off (the model reads only a line describing each) [default: auto].
    #[arg(long, value_enum)]
    pub images: Option<ImageMode>,
    /// Longest side of a picture sent, pixels; larger ones are scaled down [default: 1024].
    #[arg(long, value_name = "PIXELS")]
    pub image_max_side: Option<u32>,
    /// Pictures sent per turn at most; the latest are kept [default: 4].
    #[arg(long, value_name = "N")]
    pub max_images: Option<usize>,
    /// Pictures in a whole request at most (the conversation is resent each
    /// turn); older ones are left out, their text line kept [default: 8].
    #[arg(long, value_name = "N")]
    pub max_images_in_request: Option<usize>,
}

impl ImageOpts {
    /// The policy these flags give, over `fallback` (a config file's).
    pub fn policy(&self, fallback: &ImageOpts) -> Result<ImagePolicy> {
        let default = ImagePolicy::default();
        let policy = ImagePolicy {
            mode: self.images.or(fallback.images).unwrap_or(default.mode),
            max_side: self
                .image_max_side
                .or(fallback.image_max_side)
                .unwrap_or(default.max_side),
            per_turn: self
                .max_images
                .or(fallback.max_images)
                .unwrap_or(default.per_turn),
            in_request: self
                .max_images_in_request
                .or(fallback.max_images_in_request)
                .unwrap_or(default.in_request),
        };
        if !(16..=8192).contains(&policy.max_side) {
            bail!(
                "--image-max-side {} is out of range: give 16 to 8192 pixels (vision models use about 768 to 1568)",
                policy.max_side
            );
        }
        Ok(policy)
    }
}

/// Options of the commands that run code actions interactively (session, repl).
#[derive(Args, Clone, Debug)]
pub struct ExecOpts {
    #[command(flatten)]
    target: TargetOpts,
    #[command(flatten)]
    sandbox: SandboxOpts,
    #[command(flatten)]
    actions: ActionOpts,
    #[command(flatten)]
    clock: ClockOpts,
    /// When the session ends, write a picture of the run (trajectory, lidar
    /// hits, objects, zones) to FILE as PNG, and as SVG beside it with the
    /// extension .svg; only the SVG when FILE ends in .svg. Simulated worlds only.
    #[arg(long, value_name = "FILE")]
    picture: Option<PathBuf>,
    #[command(flatten)]
    record: RecordOpts,
}

/// Options of `codeact doctor`: a worker is started in the sandbox to look at.
#[derive(Args, Clone, Debug)]
pub struct DoctorOpts {
    #[command(flatten)]
    target: TargetOpts,
    #[command(flatten)]
    sandbox: SandboxOpts,
}

impl SandboxOpts {
    /// The executor's configuration: these limits and, when given, the action time limits.
    fn config(&self, actions: Option<&ActionOpts>) -> Result<ExecutorConfig> {
        let secs = |v: f64, what: &str| -> Result<Duration> {
            if !crate::executor::valid_time_limit(v) {
                bail!("--{what} must be between 0 and 604800 seconds, got {v}");
            }
            Ok(Duration::from_secs_f64(v))
        };
        let mut config = ExecutorConfig {
            limits: Limits {
                memory_mb: self.memory_mb,
                cpu_seconds: self.cpu_seconds,
                max_processes: self.max_processes,
                ..Limits::default()
            },
            workspace: self.workspace.clone(),
            sandbox: !self.no_sandbox,
            ..ExecutorConfig::default()
        };
        if let Some(a) = actions {
            config.timeout = secs(a.timeout, "timeout")?;
            config.grace = secs(a.grace, "grace")?;
        }
        Ok(config)
    }
}

impl TargetOpts {
    /// The world as given (`None` with --skills or --robot): a run records it for replay.
    pub fn world_spec(&self) -> Option<String> {
        match (&self.skills, &self.robot) {
            (None, None) => Some(self.world.clone().unwrap_or_else(|| "small_room".into())),
            _ => None,
        }
    }

    /// The skill set as given with --skills, if any.
    pub fn skills_spec(&self) -> Option<&str> {
        self.skills.as_deref()
    }

    /// The skills, the simulated robot behind them when a world is used, and
    /// a recording of the robot into `record` when asked; `realtime` makes
    /// simulated time follow the clock.
    fn target(&self, realtime: Option<f64>, record: Option<&RecordOpts>) -> Result<Target> {
        use crate::record::Format;
        let record_to = |default| record.map_or_else(RecordTo::default, |r| r.to(default));
        if let Some(skills) = &self.skills {
            if realtime.is_some() {
                bail!("--realtime needs a simulated world (--world), not --skills {skills}");
            }
            if record_to(Format::Foxglove).is_some() {
                bail!("--record and --live show a robot: give --world or --robot, not --skills {skills}");
            }
            return match skills.as_str() {
                "test" => Ok(Target::skills(robot_api::testing::test_skills().0)
                    .with_library(self.library.clone())),
                other => bail!("unknown skill set {other:?}; available: test (or use --world)"),
            };
        }
        if let Some(profile) = &self.robot {
            if realtime.is_some() {
                bail!("--realtime needs the built-in simulator (--world), not a ROS robot");
            }
            let (target, name, named) = ros_target(profile, &record_to(Format::Ros2))?;
            target.say_live();
            let library = self.library_dir(&name, named)?;
            return Ok(target.with_library(library));
        }
        let world = sim::load(self.world.as_deref().unwrap_or("small_room"))?;
        let fleet: Vec<Arc<sim::SimRobot>> = sim::SimRobot::fleet(Arc::new(world));
        let robot = fleet[0].clone();
        if let Some(factor) = realtime {
            if !(factor > 0.0 && factor <= 1000.0) {
                bail!("--realtime takes a factor between 0 and 1000 (1 = real time), got {factor}");
            }
            robot.set_realtime(Some(factor));
        }
        let world = robot.sim().world().clone();
        let library = self.library_dir(&world.name, world.skill_library.clone())?;
        // Every robot of a fleet is recorded; the live view shows the first.
        let crate::record::RecordedFleet {
            backends: through,
            recorder,
        } = recorded_fleet(sim::backend::named(&fleet), &record_to(Format::Foxglove))?;
        let target = Target {
            skills: sim::backend::fleet_skills(&fleet, through),
            robots: sim::backend::named(&fleet),
            robot: Some(robot),
            recorder,
            library: None,
            clear_e_stop: None,
            preview: None,
        };
        target.say_live();
        Ok(target.with_library(library))
    }

    /// The skill library for the world or robot `name`: --library, none with
    /// --no-library, else the one its file `named`, else a folder per name
    /// in the user's data directory.
    fn library_dir(&self, name: &str, named: Option<PathBuf>) -> Result<Option<PathBuf>> {
        if self.no_library {
            return Ok(None);
        }
        if let Some(dir) = self.library.clone().or(named) {
            return Ok(Some(dir));
        }
        let data = match std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
                Some(home) => PathBuf::from(home).join(".local/share"),
                None => bail!("no HOME or XDG_DATA_HOME to keep the skill library in: give --library DIR or --no-library"),
            },
        };
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(Some(data.join("codeact/skills").join(safe)))
    }
}

/// What the code drives, as started.
pub struct Target {
    /// The skills.
    pub skills: SkillSet,
    /// The simulated robot, when a world is used.
    pub robot: Option<Arc<sim::SimRobot>>,
    /// The recording, when asked for.
    pub recorder: Option<Arc<Recorder>>,
    /// The skill library folder, if the session has one.
    pub library: Option<PathBuf>,
    /// How a person clears the robot's e-stop (a ROS robot's latch).
    pub clear_e_stop: Option<ClearEStop>,
    /// The robots themselves (not their recording wrappers), named, for a
    /// preview's twin.
    pub robots: Vec<(String, Arc<dyn RobotBackend>)>,
    /// The robot profile's `preview:`, when --preview is not given.
    pub preview: Option<PreviewMode>,
}

/// Clears a robot's e-stop for a person; whether it was latched.
pub type ClearEStop = Arc<dyn Fn() -> bool + Send + Sync>;

impl Target {
    /// Says where the live view serves, when there is one.
    fn say_live(&self) {
        if let Some(addr) = self.recorder.as_ref().and_then(|r| r.live_addr()) {
            eprintln!("live view: ws://{addr} (Foxglove: Open connection, Foxglove WebSocket)");
        }
    }

    fn skills(skills: SkillSet) -> Self {
        Target {
            skills,
            robot: None,
            recorder: None,
            library: None,
            clear_e_stop: None,
            robots: Vec::new(),
            preview: None,
        }
    }

    /// Gives the skills `save_skill` and the session the library's modules,
    /// when there is a library.
    fn with_library(mut self, library: Option<PathBuf>) -> Self {
        if let Some(dir) = &library {
            crate::executor::library::add_save_skill(&mut self.skills, dir.clone());
        }
        self.library = library;
        self
    }

    /// A session with these skills, recorded when asked for.
    fn session(self, sandbox: &SandboxOpts, actions: Option<&ActionOpts>) -> Result<Started> {
        let mut config = sandbox.config(actions)?;
        config.library = self.library;
        let preview = match actions {
            Some(a) => a.preview(&self.robots, self.preview)?,
            None => None,
        };
        let mut session = Session::start(config, self.skills).context("starting the executor")?;
        session.set_preview(preview);
        if let Some(r) = &self.recorder {
            session.watch(r.clone());
        }
        Ok(Started {
            session,
            robot: self.robot,
            recorder: self.recorder,
            clear_e_stop: self.clear_e_stop,
            picture: None,
        })
    }
}

/// Where an episode is recorded.
#[derive(Args, Clone, Debug, Default)]
pub struct RecordOpts {
    /// Record the episode as MCAP into FILE (a new file): the robot's pose,
    /// lidar scans, velocity commands, the map, camera pictures, each code
    /// action and its observation, and robot events, for Foxglove
    /// (docs/foxglove-layout.json).
    #[arg(long, value_name = "FILE.mcap")]
    pub record: Option<PathBuf>,
    /// The recording's messages: foxglove (Foxglove's schemas; the default
    /// in the simulator) or ros2 (ROS 2's standard messages in CDR, for ros2
    /// bag and RViz; the default for a ROS robot). docs/foxglove.md.
    #[arg(long, value_name = "FORMAT", requires = "record")]
    pub record_format: Option<RecordFormat>,
    /// Serve the same channels live to Foxglove (Open connection → Foxglove
    /// WebSocket, ws://127.0.0.1:PORT) at PORT on loopback, or ADDR:PORT (a
    /// loopback address: the protocol has no authentication; tunnel to watch
    /// from elsewhere). Port 0 picks a free one.
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = listen_address)]
    pub live: Option<std::net::SocketAddr>,
}

/// `PORT` (on loopback) or `ADDR:PORT`.
pub(crate) fn listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse().map_err(|_| {
        format!("expected a port (8765, on loopback) or an address with a port (127.0.0.1:8765, [::1]:8765), got {text:?}")
    })
}

/// `--record-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordFormat {
    /// Foxglove's schemas (protobuf).
    Foxglove,
    /// ROS 2's standard messages (CDR).
    Ros2,
}

impl RecordOpts {
    /// What to record and where: the file in the format asked for (else
    /// `default`), the live view.
    pub fn to(&self, default: crate::record::Format) -> RecordTo {
        let format = match self.record_format {
            Some(RecordFormat::Foxglove) => crate::record::Format::Foxglove,
            Some(RecordFormat::Ros2) => crate::record::Format::Ros2,
            None => default,
        };
        RecordTo {
            file: self.record.clone(),
            format,
            live: self.live,
        }
    }
}

impl ExecOpts {
    /// Starts a session, warning on stderr about protections not in force.
    pub fn start(&self) -> Result<Started> {
        if self.picture.is_some() && self.target.world_spec().is_none() {
            bail!("--picture needs a simulated world (--world), not --skills or --robot");
        }
        let target = self
            .target
            .target(self.clock.realtime, Some(&self.record))?;
        let mut started = target.session(&self.sandbox, Some(&self.actions))?;
        started.picture = self.picture.clone();
        Ok(started)
    }
}

/// The skills of the ROS 2 robot a profile describes, the profile's name and
/// the skill library it names.
#[cfg(feature = "ros")]
fn ros_target(profile: &str, record: &RecordTo) -> Result<(Target, String, Option<PathBuf>)> {
    let connected = crate::ros::node::connect(profile, "codeact", record)?;
    let e_stops = connected.e_stops.clone();
    // The skills hold the robots and the ROS thread; they live as long as the session.
    let robots = connected.named_robots();
    let target = Target {
        skills: connected.skills,
        robot: None,
        recorder: connected.recorder,
        library: None,
        clear_e_stop: Some(Arc::new(move || e_stops.clear())),
        robots,
        preview: connected.preview,
    };
    Ok((target, connected.profile_name, connected.skill_library))
}

#[cfg(not(feature = "ros"))]
fn ros_target(_profile: &str, _record: &RecordTo) -> Result<(Target, String, Option<PathBuf>)> {
    bail!("{}", NO_ROS)
}

/// What commands that need ROS say when this build has none.
#[cfg_attr(feature = "ros", allow(dead_code))]
pub(crate) const NO_ROS: &str = "this codeact was built without ROS 2 support: build it with `cargo build --features ros` in a ROS environment (scripts/ros-setup.sh, then source .ros/env.sh; see docs/ros.md)";

/// A started session and the simulated robot it drives, if any.
pub struct Started {
    /// The executor session.
    pub session: Session,
    /// The simulated robot, when a world is used.
    pub robot: Option<Arc<sim::SimRobot>>,
    /// The recording, when asked for.
    pub recorder: Option<Arc<Recorder>>,
    /// How a person clears the robot's e-stop, when it has one.
    pub clear_e_stop: Option<ClearEStop>,
    picture: Option<PathBuf>,
}

impl Started {
    /// What a signal's thread needs to end this session in order (the
    /// episode's `cancel`, for the agent loop).
    fn ends(&self, cancel: Option<robot_api::CancelToken>) -> shutdown::Ends {
        shutdown::Ends {
            interrupter: self.session.interrupter(),
            skills: Arc::downgrade(&self.session.shared_skills()),
            recorder: self.recorder.as_ref().map(Arc::downgrade),
            remains: self.session.remains(),
            stop_wait: self.session.config().stop_wait(),
            cancel,
        }
    }

    /// Ends the command in order (at the end of its input, or after a
    /// signal): the recording and picture finished, the session dropped
    /// (worker, cgroup, workspace), then the exit code: 128 + the signal if
    /// one came.
    fn end(self, shutdown: &shutdown::Shutdown) -> Result<ExitCode> {
        shutdown.ending();
        let finished = self.finish();
        drop(self);
        let code = shutdown.ended(ExitCode::SUCCESS);
        finished?;
        Ok(code)
    }

    /// Finishes the recording and writes the picture asked for with
    /// --picture; says where on stderr.
    pub fn finish(&self) -> Result<()> {
        if let Some(r) = &self.recorder {
            r.close()?;
            if let Some(path) = r.path() {
                eprintln!("recording: {}", path.display());
            }
        }
        let (Some(path), Some(robot)) = (&self.picture, &self.robot) else {
            return Ok(());
        };
        let sim = robot.sim();
        for written in render::write(sim.world(), Some(&sim), path)? {
            eprintln!("picture of the run: {}", written.display());
        }
        Ok(())
    }
}

/// Runs the command line; prints an error once and maps it to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
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
            let target = opts.target(None, None)?;
            // The library's functions are known once a worker has loaded them.
            let text = match &target.library {
                Some(dir) if dir.is_dir() => {
                    let config = ExecutorConfig {
                        library: target.library.clone(),
                        ..ExecutorConfig::default()
                    };
                    Session::start(config, target.skills)
                        .context("starting the executor to load the skill library")?
                        .api_text()
                }
                _ => target.skills.api_text(),
            };
            let world = target
                .robot
                .as_ref()
                .map(|r| robot_api::registry::world_section(&r.sim().world().summary()));
            print!("{text}{}", world.unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Command::Skills(opts) => skills_cmd::run(&opts),
        Command::Render(opts) => render::run(&opts),
        Command::Recover(opts) => recover::run(&opts),
        Command::Tasks(opts) => eval::tasks(&opts),
        Command::Eval(opts) => eval::eval(&opts),
        Command::Run(opts) => run::run(&opts),
        Command::Replay(opts) => replay::run(&opts),
        Command::Sim(opts) => sim_cmd::run(&opts),
        Command::Node(opts) => node_cmd::run(&opts),
        Command::Mcp(opts) => mcp_cmd::run(&opts),
        Command::Bench(opts) => bench::run(&opts),
    }
}

#[cfg(test)]
mod tests {
    use super::listen_address;

    #[test]
    fn a_bare_port_means_loopback() {
        assert_eq!(
            listen_address("8765").unwrap().to_string(),
            "127.0.0.1:8765"
        );
        assert_eq!(
            listen_address("0.0.0.0:1").unwrap().to_string(),
            "0.0.0.0:1"
        );
        assert_eq!(listen_address("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert!(listen_address("localhost")
            .unwrap_err()
            .contains("expected a port"));
    }
}
