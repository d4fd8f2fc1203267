//! One trial: a task's world for a seed, a policy acting in it (the task's
//! oracle, or one that does nothing), and the verdict of its predicates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::predicate::Verdict;
use super::setup::world_for;
use super::task::{Task, Tier};
use std::path::Path;

use codeact_agent::actions::ActionFormat;
use codeact_agent::episode::{add_done, Agent, Budget, DoneSignal, Quiet, StopReason};
use codeact_agent::images::ImagePolicy;
use codeact_agent::llm::Model;
use codeact_agent::transcript::{Record, Start, Transcript};
use codeact_executor::{ExecutorConfig, Session};
use codeact_record::{recorded_fleet, Format, RecordError, RecordTo, RecordedFleet, Recorder};

/// Who acts in a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The task's oracle solution.
    Oracle,
    /// Calls `done` at once: every task must fail it.
    Nothing,
    /// A model, through the agent loop.
    Model,
}

impl Policy {
    /// Its name in results ("oracle", "nothing", "model").
    pub fn name(self) -> &'static str {
        match self {
            Policy::Oracle => "oracle",
            Policy::Nothing => "nothing",
            Policy::Model => "model",
        }
    }
}

/// A model acting in a trial: which, how, with which instruction, and
/// where the run folder goes.
pub struct ModelSetup<'a> {
    /// The model.
    pub llm: &'a dyn Model,
    /// How it acts.
    pub format: ActionFormat,
    /// Which of the task's instructions it is given.
    pub paraphrase: usize,
    /// The trial's run folder (transcript, picture, verdict).
    pub dir: Option<&'a Path>,
    /// Whether and how pictures reach the model.
    pub images: ImagePolicy,
    /// Record the trial as `episode.mcap` in its run folder.
    pub record: bool,
}

/// How one trial went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrialReport {
    /// Task id.
    pub task: String,
    /// Its tier.
    pub tier: Tier,
    /// The variation.
    pub seed: u64,
    /// Which instruction was given (0: the first).
    pub paraphrase: usize,
    /// Who acted.
    pub policy: Policy,
    /// Every goal and constraint held at the end.
    pub success: bool,
    /// What each predicate said.
    pub verdicts: Vec<Verdict>,
    /// The first predicate that failed, in words, with what was found.
    pub failed: Option<String>,
    /// The answer given to `done(...)`.
    pub answer: Option<String>,
    /// The action's error, if it raised one.
    pub error: Option<String>,
    /// The end of the observation, as a model would have read it.
    pub observation_tail: String,
    /// Collisions during the trial.
    pub collisions: u32,
    /// Simulated seconds.
    pub sim_seconds: f64,
    /// Wall-clock seconds.
    pub wall_seconds: f64,
    /// The model, for model trials.
    pub model: Option<String>,
    /// How the model acted.
    pub format: Option<ActionFormat>,
    /// Model replies.
    pub turns: usize,
    /// Tokens sent to the model.
    pub tokens_in: u64,
    /// Tokens the model wrote.
    pub tokens_out: u64,
    /// Seconds spent waiting for the model.
    pub model_seconds: f64,
    /// Why the episode stopped (done, max_turns, ...), for model trials.
    pub stop_reason: Option<String>,
    /// Actions that ended badly, so the robot was safe-stopped.
    pub safe_stops: u32,
    /// Skill calls made (each tool call or Action line is one; a code
    /// action makes as many as it runs).
    #[serde(default)]
    pub skill_calls: usize,
    /// The trial's run folder.
    pub dir: Option<String>,
    /// Why the trial could not be run (no model could be asked: the
    /// endpoint unreachable, credentials refused, quota spent, no such
    /// model); such a trial is no failure and counts in no success rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_run: Option<String>,
    /// Requests to the model that were retried (timeouts, 429s, 5xx).
    #[serde(default)]
    pub retries: u32,
}

/// Why a trial could not be run at all (as opposed to failing).
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// The task's world or setup is wrong.
    #[error("task {task}: {message}")]
    Task {
        /// Task id.
        task: String,
        /// What is wrong.
        message: String,
    },
    /// The task's world cannot be made for a seed (said with the task's file and line).
    #[error("{0}")]
    World(String),
    /// The executor could not start or broke down.
    #[error("task {task}: the executor failed: {source}")]
    Executor {
        /// Task id.
        task: String,
        /// Why.
        source: codeact_executor::ExecutorError,
    },
    /// The recording could not be made.
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// A task's world for one seed, ready to act in.
pub struct Prepared {
    /// The simulated robot.
    pub robot: Arc<sim::SimRobot>,
    /// The robot's skills plus `done`.
    pub skills: robot_api::SkillSet,
    /// What `done` was called with.
    pub done: DoneSignal,
    /// The recording, when one was asked for.
    pub recorder: Option<Arc<Recorder>>,
}

/// The world `task` starts in for `seed`: its world with its setup drawn.
/// An error says where the task is written (file and line).
pub fn world_of(task: &Task, seed: u64) -> Result<Arc<sim::World>, String> {
    let base = sim::load(&task.world).map_err(|e| format!("{}{e}", task.at()))?;
    world_for(&base, &task.setup, &task.id, seed).map_err(|e| format!("{}{e}", task.at()))
}

/// Builds the world of `task` for `seed` and the skills to act in it,
/// recorded into `record` when given.
pub fn prepare(task: &Task, seed: u64, record: &RecordTo) -> Result<Prepared, TrialError> {
    let fail = |message: String| TrialError::Task {
        task: task.id.clone(),
        message,
    };
    let world = world_of(task, seed).map_err(TrialError::World)?;
    for p in task.success.iter().chain(&task.constraints) {
        p.check_names(&world).map_err(|e| fail(e.to_string()))?;
    }
    // A fleet's robots all act and are recorded; the first is the one
    // judged by the predicates that name no robot.
    let fleet: Vec<Arc<sim::SimRobot>> = sim::SimRobot::fleet(world);
    let robot = fleet[0].clone();
    let RecordedFleet {
        backends: through,
        recorder,
    } = recorded_fleet(sim::backend::named(&fleet), record)?;
    let mut skills = sim::backend::fleet_skills(&fleet, through);
    let done = add_done(&mut skills);
    Ok(Prepared {
        robot,
        skills,
        done,
        recorder,
    })
}

/// Judges every predicate of `task` on the robot's world as it is now.
pub fn judge(task: &Task, robot: &sim::SimRobot, answer: Option<&str>) -> (bool, Vec<Verdict>) {
    let sim = robot.sim();
    let verdicts: Vec<Verdict> = task
        .success
        .iter()
        .chain(&task.constraints)
        .map(|p| p.judge(&sim, answer))
        .collect();
    (verdicts.iter().all(|v| v.ok), verdicts)
}

/// Runs `policy` (the oracle or the do-nothing one) on `task` for `seed`
/// through a sandboxed session.
pub fn run(
    task: &Task,
    seed: u64,
    policy: Policy,
    config: &ExecutorConfig,
) -> Result<TrialReport, TrialError> {
    run_keeping(task, seed, policy, config, None)
}

/// [`run`]; a trial whose outcome is not the policy's expected one (an
/// oracle that failed, a do-nothing policy that passed) leaves a folder in
/// `keep` to debug it: the picture of the run and the whole observation.
pub fn run_keeping(
    task: &Task,
    seed: u64,
    policy: Policy,
    config: &ExecutorConfig,
    keep: Option<&Path>,
) -> Result<TrialReport, TrialError> {
    let started = Instant::now();
    let Prepared {
        robot,
        skills,
        done,
        ..
    } = prepare(task, seed, &RecordTo::default())?;
    let executor = |source| TrialError::Executor {
        task: task.id.clone(),
        source,
    };
    let mut session = Session::start(config.clone(), skills).map_err(executor)?;
    let code = match policy {
        Policy::Oracle => task.oracle.as_str(),
        _ => "done('Done.')",
    };
    let obs = session
        .execute(
            code,
            Some(Duration::from_secs_f64(task.seconds)),
            &mut |_, _| {},
        )
        .map_err(executor)?;
    drop(session);
    let mut report = report(task, seed, policy, &robot, done.take(), started);
    report.error = obs
        .error
        .as_ref()
        .map(|e| format!("{}: {}", e.type_name, e.message));
    report.observation_tail = tail(&obs.render(), 1500);
    report.safe_stops = u32::from(obs.safe_stop);
    report.skill_calls = obs.skill_calls.len();
    report.turns = 1;
    let unexpected = match policy {
        Policy::Oracle => !report.success,
        Policy::Nothing => report.success,
        Policy::Model => false,
    };
    if let (true, Some(dir)) = (unexpected, keep) {
        let fail = |e: std::io::Error| TrialError::Task {
            task: task.id.clone(),
            message: format!("cannot write the trial's folder {}: {e}", dir.display()),
        };
        std::fs::create_dir_all(dir).map_err(fail)?;
        std::fs::write(dir.join("observation.txt"), obs.render()).map_err(fail)?;
        let sim = robot.sim();
        let lines = caption(task, seed, &report);
        sim::render::write_png_captioned(sim.world(), Some(&sim), &dir.join("picture.png"), &lines)
            .map_err(|e| TrialError::Task {
                task: task.id.clone(),
                message: format!("cannot draw the trial's picture: {e}"),
            })?;
        report.dir = Some(dir.display().to_string());
    }
    Ok(report)
}

/// Runs a model on `task` for `seed` through the agent loop, with the
/// task's budgets, and writes the trial's run folder when one is given.
pub fn run_model(
    task: &Task,
    seed: u64,
    m: &ModelSetup<'_>,
    config: &ExecutorConfig,
) -> Result<TrialReport, TrialError> {
    let started = Instant::now();
    let record = match m.dir.filter(|_| m.record) {
        Some(dir) => RecordTo::file(&dir.join("episode.mcap"), Format::Foxglove),
        None => RecordTo::default(),
    };
    let Prepared {
        robot,
        skills,
        done,
        recorder,
    } = prepare(task, seed, &record)?;
    let fail = |message: String| TrialError::Task {
        task: task.id.clone(),
        message,
    };
    let instruction = task
        .instructions
        .get(m.paraphrase)
        .ok_or_else(|| fail(format!("has no instruction number {}", m.paraphrase)))?
        .clone();
    let world = robot.sim().world().clone();
    // The same prompt, API text and budgets for every format; only the way of acting differs.
    let mut agent = Agent::with_done(&skills, done.clone(), m.format, Some(&world.summary()));
    agent.images = m.images;
    let mut session =
        Session::start(config.clone(), skills).map_err(|source| TrialError::Executor {
            task: task.id.clone(),
            source,
        })?;
    if let Some(r) = &recorder {
        session.watch(r.clone());
        let seed = seed.to_string();
        r.metadata(
            "codeact.task",
            &[
                ("task", task.id.as_str()),
                ("instruction", instruction.as_str()),
                ("world", world.name.as_str()),
                ("seed", seed.as_str()),
                ("model", m.llm.name().as_str()),
            ],
        );
    }
    let mut transcript = match m.dir {
        Some(dir) => Some(Transcript::create(dir).map_err(|e| {
            fail(format!(
                "cannot create the run folder {}: {e}",
                dir.display()
            ))
        })?),
        None => None,
    };
    if let Some(t) = transcript.as_mut() {
        t.record(&Record::Start(Box::new(Start {
            version: codeact_agent::transcript::VERSION,
            task: instruction.to_owned(),
            task_id: Some(task.id.clone()),
            seed: Some(seed),
            paraphrase: Some(m.paraphrase),
            llm: m.llm.name(),
            world: world.name.clone(),
            world_spec: Some(task.world.clone()),
            max_turns: task.turns,
            action_format: serde_json::json!(m.format),
            max_seconds: Some(task.seconds),
            images: serde_json::json!(m.images),
            system_prompt: agent.system.clone(),
            ..Start::default()
        })));
    }
    let budget = Budget {
        max_turns: task.turns,
        wall: Some(Duration::from_secs_f64(task.seconds)),
        ..Budget::default()
    };
    let mut episode = agent.episode(m.llm, &mut session, budget);
    episode.transcript = transcript.as_mut();
    let outcome = episode.run(&instruction, &mut Quiet);
    drop(session);
    if let Some(r) = recorder {
        r.close()?;
    }
    let mut report = report(
        task,
        seed,
        Policy::Model,
        &robot,
        outcome.summary.clone(),
        started,
    );
    report.paraphrase = m.paraphrase;
    report.model = Some(m.llm.name());
    report.format = Some(m.format);
    report.turns = outcome.turns;
    report.tokens_in = outcome.usage.input_tokens;
    report.tokens_out = outcome.usage.output_tokens;
    report.model_seconds = outcome.model_seconds;
    report.safe_stops = outcome.safe_stops;
    report.skill_calls = outcome.skill_calls;
    report.retries = outcome.retries;
    report.stop_reason = Some(outcome.reason.name().to_owned());
    match &outcome.reason {
        StopReason::LlmFailed(why) => report.error = Some(why.clone()),
        StopReason::LlmUnavailable(why) => {
            report.error = Some(why.clone());
            report.not_run = Some(why.clone());
        }
        _ => {}
    }
    if let (Some(dir), Some(mut t)) = (m.dir, transcript) {
        let sim = robot.sim();
        t.record(&Record::WorldState {
            state: serde_json::json!(sim.snapshot()),
        });
        t.record(&Record::Verdict {
            success: report.success,
            verdicts: serde_json::json!(report.verdicts),
        });
        drop(t);
        sim::render::write_png_captioned(
            sim.world(),
            Some(&sim),
            &dir.join("picture.png"),
            &caption(task, seed, &report),
        )
        .map_err(|e| fail(e.to_string()))?;
        report.dir = Some(dir.display().to_string());
    }
    Ok(report)
}

/// The lines under a trial's picture: the task and what it asked, the verdict
/// and why, how it stopped.
fn caption(task: &Task, seed: u64, report: &TrialReport) -> Vec<String> {
    let verdict = match (&report.not_run, report.success) {
        (Some(why), _) => format!("NOT RUN: {why}"),
        (None, true) => "PASS: every goal and constraint held".into(),
        (None, false) => format!("FAIL: {}", report.failed.as_deref().unwrap_or("-")),
    };
    let mut lines = vec![
        format!(
            "{} (seed {seed}): {}",
            task.id,
            task.instructions[report.paraphrase.min(task.instructions.len() - 1)]
        ),
        verdict,
    ];
    if let Some(stop) = &report.stop_reason {
        lines.push(format!("stopped: {stop}, {} turns", report.turns));
    }
    if let Some(error) = &report.error {
        lines.push(format!("raised: {error}"));
    }
    lines
}

/// The report of a trial that has ended: the predicates judged on the robot's world.
fn report(
    task: &Task,
    seed: u64,
    policy: Policy,
    robot: &sim::SimRobot,
    answer: Option<String>,
    started: Instant,
) -> TrialReport {
    let (success, verdicts) = judge(task, robot, answer.as_deref());
    let sim = robot.sim();
    TrialReport {
        task: task.id.clone(),
        tier: task.tier,
        seed,
        paraphrase: 0,
        policy,
        success,
        failed: verdicts
            .iter()
            .find(|v| !v.ok)
            .map(|v| format!("{}: {}", v.what, v.detail)),
        verdicts,
        answer,
        error: None,
        observation_tail: String::new(),
        collisions: sim.collisions(),
        sim_seconds: sim.time(),
        wall_seconds: started.elapsed().as_secs_f64(),
        model: None,
        format: None,
        turns: 0,
        tokens_in: 0,
        tokens_out: 0,
        model_seconds: 0.0,
        stop_reason: None,
        safe_stops: 0,
        skill_calls: 0,
        dir: None,
        not_run: None,
        retries: 0,
    }
}

/// The goals of `task` that already hold where `seed` starts: each must be
/// false there, or the task can be passed without doing anything.
pub fn true_at_start(task: &Task, seed: u64) -> Result<Vec<String>, TrialError> {
    let prepared = prepare(task, seed, &RecordTo::default())?;
    let sim = prepared.robot.sim();
    Ok(task
        .success
        .iter()
        .filter(|p| p.judge(&sim, None).ok)
        .map(|p| p.describe())
        .collect())
}

/// The last `max` characters of `text`, from a line start.
fn tail(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let rest: String = text.chars().skip(count - max).collect();
    match rest.find('\n') {
        Some(i) => format!("[...]\n{}", &rest[i + 1..]),
        None => rest,
    }
}
