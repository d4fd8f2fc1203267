//! `codeact node --ros`: the agent side as a ROS 2 node. It drives a robot
//! described by a profile (through [`RosRobot`] and the safety governor) and
//! serves, under its own name (`/codeact` by default):
//! - `~/execute` (codeact_interfaces/srv/Execute): one code action in the
//!   node's persistent Python session;
//! - `~/output` (codeact_interfaces/msg/ActionOutput): live output and status;
//! - `~/run_task` (codeact_interfaces/action/RunTask): the agent loop, with
//!   feedback per turn; cancelling it stops the loop and the robot;
//! - `~/clear_e_stop` (std_srvs/srv/Trigger): a person clears the e-stop
//!   (served by [`RosRobot`] itself, in every process that drives a robot).
//!
//! The profile's e-stop topic (std_msgs/Bool, true) stops the robot at once,
//! interrupts the running action and ends a running task.
//!
//! Requests are queued to the one thread that owns the session: actions run
//! one at a time, in order, whichever interface sent them.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::task::LocalSpawnExt;
use futures::StreamExt;
use r2r::codeact_interfaces::action::RunTask;
use r2r::codeact_interfaces::msg::{ActionOutput, SkillCall as SkillCallMsg};
use r2r::codeact_interfaces::srv::Execute;
use r2r::QosProfile;
use robot_api::{CancelToken, RobotBackend, SkillSet};

use super::access::add_ros_access;
use super::declared_calls::{add_declared_skills, check_declared_skills};
use super::fleet::EStops;
use super::fleet_profile::{self, Profiles};
use super::policy::AccessPolicy;
use super::profile::{ProfileError, RobotProfile};
use super::robot::RosRobot;
use super::spin::{RosError, RosThread};
use codeact_agent::actions::ActionFormat;
use codeact_agent::episode::{add_done, Agent, Budget, DoneSignal, Outcome, Reporter};
use codeact_agent::llm::{Completion, Model, Usage};
use codeact_executor::{
    ExecutorConfig, ExecutorError, Observation, Previewed, Session, SessionHost, Stream,
};
use codeact_record::{recorded, RecordError, RecordTo, Recorded, Recorder};

/// Errors starting the node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The robot profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// ROS itself.
    #[error(transparent)]
    Ros(#[from] RosError),
    /// The executor.
    #[error(transparent)]
    Executor(#[from] ExecutorError),
    /// A profile names skills that do not exist.
    #[error("the robot profile lists skills that do not exist: {0}. Known: {1}")]
    UnknownSkills(String, String),
    /// The recording.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// A ROS robot's skills (or a fleet's), with the handles that keep it connected.
pub struct RosSkills {
    /// robot_api's skills for the robot (each robot of a fleet), filtered
    /// by its profile, plus generic ROS access and its declared skills.
    pub skills: SkillSet,
    /// The thread that owns the ROS node.
    pub ros: Arc<RosThread>,
    /// The robot (a fleet's first, the default one).
    pub robot: Arc<RosRobot>,
    /// Every robot, the first the default one.
    pub robots: Vec<Arc<RosRobot>>,
    /// Their e-stops (and a fleet's one for all).
    pub e_stops: EStops,
    /// Its recording (every robot of a fleet), when one was asked for.
    pub recorder: Option<Arc<Recorder>>,
    /// The profile's name.
    pub profile_name: String,
    /// The skill library folder the profile names, if any.
    pub skill_library: Option<PathBuf>,
    /// The profile's `preview:` (none for a fleet's: `--preview` asks).
    pub preview: Option<codeact_executor::PreviewMode>,
}

impl RosSkills {
    /// Every robot by its name in the fleet (empty for a robot on its
    /// own), for a preview's twin.
    pub fn named_robots(&self) -> Vec<(String, Arc<dyn robot_api::RobotBackend>)> {
        self.robots
            .iter()
            .map(|r| {
                let name = r.profile().member.clone().unwrap_or_default();
                (name, r.clone() as Arc<dyn robot_api::RobotBackend>)
            })
            .collect()
    }
}

/// Starts a ROS node `node_name` and connects to the robot (or the fleet)
/// of `profile_name` (a built-in profile or a file), recorded as `record` says.
pub fn connect(
    profile_name: &str,
    node_name: &str,
    record: &RecordTo,
) -> Result<RosSkills, NodeError> {
    match fleet_profile::load(profile_name)? {
        Profiles::One(profile) => connect_one(*profile, node_name, record),
        Profiles::Fleet(fleet) => crate::fleet::connect(fleet, node_name, record),
    }
}

fn connect_one(
    profile: RobotProfile,
    node_name: &str,
    record: &RecordTo,
) -> Result<RosSkills, NodeError> {
    let idl = check_declared_skills(&profile)?;
    let ros = Arc::new(RosThread::start_with(node_name, profile.use_sim_time)?);
    let robot = Arc::new(RosRobot::connect(ros.clone(), profile.clone())?);
    let Recorded { backend, recorder } = recorded(robot.clone(), record)?;
    let guarded = [robot.clear_service()];
    let skills = skills_of(&ros, &robot, backend, &idl, &guarded)?;
    Ok(RosSkills {
        skills,
        ros,
        robot: robot.clone(),
        robots: vec![robot.clone()],
        e_stops: EStops::of_one(robot),
        recorder,
        profile_name: profile.name.clone(),
        skill_library: profile.skill_library.clone(),
        preview: profile.preview,
    })
}

/// One robot's skills as its profile says (those it lists, its declared
/// ones, generic ROS access), acting through `backend` (the robot, or its
/// recording); code may never reach the `guarded` names.
pub(crate) fn skills_of(
    ros: &Arc<RosThread>,
    robot: &Arc<RosRobot>,
    backend: Arc<dyn RobotBackend>,
    idl: &crate::idl::Idl,
    guarded: &[String],
) -> Result<SkillSet, NodeError> {
    let profile = robot.profile();
    let mut skills = robot_api::skills::robot_skills(backend);
    if let Some(wanted) = &profile.skills {
        let known: Vec<String> = skills.specs().map(|s| s.name.clone()).collect();
        let unknown: Vec<&str> = wanted
            .iter()
            .filter(|w| !known.contains(w))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(NodeError::UnknownSkills(
                unknown.join(", "),
                known.join(", "),
            ));
        }
        skills.retain(|s| wanted.contains(&s.name));
    }
    let policy = AccessPolicy::new(profile, guarded);
    add_ros_access(&mut skills, ros.clone(), robot.clone(), policy);
    add_declared_skills(&mut skills, ros, robot, profile, idl)?;
    Ok(skills)
}

/// Settings of `codeact node --ros`.
pub struct NodeOptions {
    /// Executor settings.
    pub executor: ExecutorConfig,
    /// The LLM for RunTask goals, if one is configured.
    pub llm: Option<Box<dyn Model + Send>>,
    /// Why there is none (said in RunTask results).
    pub no_llm: String,
    /// Turns when a goal says 0.
    pub default_max_turns: usize,
    /// Stop after this long (tests, benchmarks); `None` runs until `stop`.
    pub run_for: Option<Duration>,
    /// Set (by Ctrl-C or SIGTERM, say) to end the node in order: the robot
    /// stopped, the recording finished.
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    /// Who can reach its services, as the operator chose (said at start,
    /// and in the recording's metadata).
    pub exposure: crate::network::Exposure,
    /// Rehearse every action on a twin first (`--preview`, the profile's `preview:`).
    pub preview: Option<codeact_executor::Preview>,
}

/// What a RunTask goal needs besides the session: run on the session's
/// thread, one goal at a time.
struct Tasks {
    done: DoneSignal,
    options: NodeOptions,
}

/// Runs the node until `run_for` passes or `stop` is set.
pub fn run(connected: RosSkills, options: NodeOptions) -> Result<(), NodeError> {
    let RosSkills {
        mut skills,
        ros,
        robots,
        e_stops,
        recorder,
        skill_library,
        ..
    } = connected;
    // A node has the skill library its profile names, and no other.
    if let Some(dir) = &skill_library {
        codeact_executor::library::add_save_skill(&mut skills, dir.clone());
    }
    let done = add_done(&mut skills);
    let config = ExecutorConfig {
        library: skill_library,
        ..options.executor.clone()
    };
    let mut session = Session::start(config, skills)?;
    session.set_preview(options.preview.clone());
    let exposure = options.exposure.describe();
    if let Some(r) = &recorder {
        session.watch(r.clone());
        r.metadata("codeact.node", &[("network", exposure.as_str())]);
    }
    // The session is hosted on a thread of its own; the ROS thread's
    // services and goals send it jobs, which run in turn.
    let host = Arc::new(SessionHost::start(session, "codeact-node-session"));
    let running_task: Arc<Mutex<Option<CancelToken>>> = Arc::default();
    {
        let interrupter = host.interrupter().clone();
        let running_task = running_task.clone();
        e_stops.on_e_stop(move || {
            if let Some(c) = lock(&running_task).as_ref() {
                c.cancel();
            }
            interrupter.interrupt();
        });
    }
    let (stop, run_for) = (options.stop.clone(), options.run_for);
    let tasks = Arc::new(Mutex::new(Tasks { done, options }));
    {
        let host = host.clone();
        let robots_for_cancel = robots.clone();
        let running_task = running_task.clone();
        ros.run(move |node, spawner| -> r2r::Result<()> {
            let output =
                node.create_publisher::<ActionOutput>("~/output", QosProfile::default())?;
            let execute =
                node.create_service::<Execute::Service>("~/execute", QosProfile::default())?;
            let (for_execute, out) = (host.clone(), output.clone());
            let _ = spawner.spawn_local(execute.for_each(move |reply| {
                let (request, out) = (reply.message.clone(), out.clone());
                let _ = for_execute.submit(move |session| {
                    let _ = reply.respond(execute_action(session, &out, &request));
                });
                futures::future::ready(())
            }));
            let goals = node.create_action_server::<RunTask::Action>("~/run_task")?;
            let spawner2 = spawner.clone();
            let _ = spawner.spawn_local(goals.for_each(move |request| {
                let Ok((goal, mut cancels)) = request.accept() else {
                    return futures::future::ready(());
                };
                let cancel = CancelToken::new();
                let (on_cancel, robots) = (cancel.clone(), robots_for_cancel.clone());
                let interrupter = host.interrupter().clone();
                let _ = spawner2.spawn_local(async move {
                    while let Some(c) = cancels.next().await {
                        c.accept();
                        on_cancel.cancel();
                        interrupter.interrupt();
                        robots.iter().for_each(|r| r.safe_stop());
                    }
                });
                let (tasks, output, running) =
                    (tasks.clone(), output.clone(), running_task.clone());
                let _ = host.submit(move |session| {
                    let tasks = lock(&tasks);
                    *lock(&running) = Some(cancel.clone());
                    let result = run_task(session, &tasks, &output, &goal, cancel.clone());
                    *lock(&running) = None;
                    end_goal(goal, &cancel, result);
                });
                futures::future::ready(())
            }));
            Ok(())
        })?
        .map_err(|e| RosError::R2r(format!("cannot create the node's services: {e}")))?;
    }
    tracing::info!(
        "codeact node: {} serving {n}/execute, {n}/run_task, {n}/output; {}",
        robots
            .iter()
            .map(|r| r.describe())
            .collect::<Vec<_>>()
            .join("; "),
        e_stops.describe(),
        n = ros.node_name.trim_end_matches('/'),
    );
    let started = std::time::Instant::now();
    while !stop.load(std::sync::atomic::Ordering::Relaxed)
        && run_for.is_none_or(|limit| started.elapsed() < limit)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    // In order: the goal's episode told to end, the action stopped, the
    // robot stopped, the session gone; then the recording and the node.
    if let Some(c) = lock(&running_task).as_ref() {
        c.cancel();
    }
    host.close();
    robots.iter().for_each(|r| r.stop());
    let closed = recorder.map(|r| r.close()).transpose();
    // The node's own callbacks hold the ROS handle, so it is never the last.
    ros.shutdown();
    closed?;
    Ok(())
}

/// Ends a RunTask goal as its episode ended.
fn end_goal(
    mut goal: r2r::ActionServerGoal<RunTask::Action>,
    cancel: &CancelToken,
    result: RunTask::Result,
) {
    let _ = if cancel.is_cancelled() {
        goal.cancel(result)
    } else if result.success {
        goal.succeed(result)
    } else {
        goal.abort(result)
    };
}

/// `m` locked, also after a thread panicked holding it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn publish_output(output: &r2r::Publisher<ActionOutput>, action: u64, kind: &str, text: &str) {
    let _ = output.publish(&ActionOutput {
        action,
        kind: kind.into(),
        text: text.into(),
    });
}

fn stream_kind(stream: Stream) -> &'static str {
    match stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    }
}

fn execute_action(
    session: &mut Session,
    output: &r2r::Publisher<ActionOutput>,
    request: &Execute::Request,
) -> Execute::Response {
    let action = session.next_action();
    let t = request.timeout;
    let timeout = if t == 0.0 {
        None
    } else if codeact_executor::valid_time_limit(t) {
        Some(Duration::from_secs_f64(t))
    } else {
        let why = format!(
            "timeout must be 0 (the node's default) or between 0 and {} seconds, got {t}",
            codeact_executor::MAX_ACTION_SECONDS
        );
        return Execute::Response {
            action,
            status: "error".into(),
            error_type: "ValueError".into(),
            error_message: why.clone(),
            observation: why,
            ..Default::default()
        };
    };
    // With --preview the verdict goes out before the action starts.
    let previewed = match session.preview(&request.code) {
        Ok(p) => p,
        Err(e) => return executor_failed(output, action, &e),
    };
    if let Some(p) = &previewed {
        publish_output(output, action, "preview", &p.text());
    }
    publish_output(output, action, "started", &request.code);
    let on_output = &mut |stream, text: &str| {
        publish_output(output, action, stream_kind(stream), text);
    };
    let result = match previewed {
        Some(p) => session.execute_previewed(p, timeout, on_output),
        None => session.execute(&request.code, timeout, on_output),
    };
    match result {
        Ok(obs) => {
            publish_output(output, obs.action, "finished", obs.status.as_str());
            response(&obs)
        }
        Err(e) => executor_failed(output, action, &e),
    }
}

/// The response when the executor itself failed (no worker could start).
fn executor_failed(
    output: &r2r::Publisher<ActionOutput>,
    action: u64,
    e: &ExecutorError,
) -> Execute::Response {
    publish_output(output, action, "finished", "error");
    Execute::Response {
        action,
        status: "error".into(),
        error_type: "ExecutorError".into(),
        error_message: e.to_string(),
        observation: e.to_string(),
        ..Default::default()
    }
}

/// The service's response from an observation.
pub fn response(obs: &Observation) -> Execute::Response {
    let error = obs.error.as_ref();
    Execute::Response {
        action: obs.action,
        status: obs.status.as_str().into(),
        output: obs.output_text(),
        has_result: obs.result.is_some(),
        result: obs.result.clone().unwrap_or_default(),
        error_type: error.map(|e| e.type_name.clone()).unwrap_or_default(),
        error_message: error.map(|e| e.message.clone()).unwrap_or_default(),
        traceback: error.map(|e| e.traceback.clone()).unwrap_or_default(),
        skill_calls: obs
            .skill_calls
            .iter()
            .map(|c| SkillCallMsg {
                skill: c.skill.clone(),
                args: c.args.clone(),
                outcome: c.outcome.name().into(),
                error: c.error.clone().unwrap_or_default(),
                duration_ms: c.duration_ms,
            })
            .collect(),
        duration_ms: obs.duration_ms,
        safe_stop: obs.safe_stop,
        worker_restart: obs.worker_restart.clone().unwrap_or_default(),
        notes: obs.notes.clone(),
        robot_events: obs.robot_events.clone(),
        robot_state: obs.robot_state.clone().unwrap_or_default(),
        observation: obs.render(),
        observation_json: serde_json::to_string(obs).unwrap_or_default(),
        images: obs
            .images
            .iter()
            .map(|p| r2r::sensor_msgs::msg::CompressedImage {
                format: p.mime.format().into(),
                data: p.data.clone(),
                ..Default::default()
            })
            .collect(),
        image_captions: obs
            .images
            .iter()
            .map(|p| p.caption.clone().unwrap_or_default())
            .collect(),
    }
}

/// RunTask feedback: one message per turn, after its actions ran.
struct Feedback<'a> {
    goal: &'a r2r::ActionServerGoal<RunTask::Action>,
    output: &'a r2r::Publisher<ActionOutput>,
    action: u64,
    turn: usize,
    code: String,
    observation: String,
    tokens: u64,
}

impl Feedback<'_> {
    fn flush(&mut self) {
        if self.code.is_empty() && self.observation.is_empty() {
            return;
        }
        let _ = self.goal.publish_feedback(RunTask::Feedback {
            turn: self.turn as u32,
            code: std::mem::take(&mut self.code),
            observation: std::mem::take(&mut self.observation),
            tokens: self.tokens,
        });
    }
}

impl Reporter for Feedback<'_> {
    fn turn(&mut self, turn: usize, _max: usize) {
        self.flush();
        self.turn = turn;
    }
    fn reply(&mut self, _completion: &Completion, total: &Usage) {
        self.tokens = total.total();
    }
    fn action(&mut self, _index: usize, code: &str) {
        self.action += 1;
        if !self.code.is_empty() {
            self.code.push_str("\n\n");
        }
        self.code.push_str(code);
        publish_output(self.output, self.action, "started", code);
    }
    fn output(&mut self, stream: Stream, text: &str) {
        publish_output(self.output, self.action, stream_kind(stream), text);
    }
    fn preview(&mut self, _index: usize, previewed: &Previewed) {
        // Before `action` counts it: the number it will have.
        publish_output(self.output, self.action + 1, "preview", &previewed.text());
    }
    fn observation(&mut self, observation: &Observation, shown: &str) {
        publish_output(
            self.output,
            self.action,
            "finished",
            observation.status.as_str(),
        );
        if !self.observation.is_empty() {
            self.observation.push('\n');
        }
        self.observation
            .push_str(&codeact_executor::observation::trim_middle(shown, 1500));
    }
}

fn run_task(
    session: &mut Session,
    tasks: &Tasks,
    output: &r2r::Publisher<ActionOutput>,
    goal: &r2r::ActionServerGoal<RunTask::Action>,
    cancel: CancelToken,
) -> RunTask::Result {
    let (done, options) = (&tasks.done, &tasks.options);
    let Some(llm) = &options.llm else {
        return RunTask::Result {
            success: false,
            stop_reason: "no_llm".into(),
            summary: options.no_llm.clone(),
            ..Default::default()
        };
    };
    let g = &goal.goal;
    let budget = Budget {
        max_turns: if g.max_turns == 0 {
            options.default_max_turns
        } else {
            g.max_turns as usize
        },
        wall: (g.max_seconds > 0.0 && g.max_seconds.is_finite())
            .then(|| Duration::from_secs_f64(g.max_seconds)),
        tokens: (g.max_tokens > 0).then_some(g.max_tokens),
        cancel: Some(cancel),
        ..Budget::default()
    };
    done.clear();
    let mut agent = Agent::with_done(session.skills(), done.clone(), ActionFormat::Code, None);
    agent.add_library(session.library());
    let mut feedback = Feedback {
        goal,
        output,
        action: session.next_action().saturating_sub(1),
        turn: 0,
        code: String::new(),
        observation: String::new(),
        tokens: 0,
    };
    let outcome: Outcome = agent
        .episode(llm.as_ref(), session, budget)
        .run(&g.task, &mut feedback);
    feedback.flush();
    let summary = match (&outcome.summary, &outcome.reason) {
        (Some(s), _) => s.clone(),
        (None, reason) => format!("stopped: {}", reason.describe()),
    };
    RunTask::Result {
        success: outcome.claimed_done,
        stop_reason: outcome.reason.name().into(),
        summary,
        turns: outcome.turns as u32,
        tokens: outcome.usage.total(),
    }
}
