//! One trial: a task's world for a seed, a policy acting in it (the task's
//! oracle, or one that does nothing), and the verdict of its predicates.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::predicate::Verdict;
use super::setup::world_for;
use super::task::{Task, Tier};
use crate::agent::episode::{add_done, DoneSignal};
use crate::executor::{ExecutorConfig, Session};

/// Who acts in a trial without an LLM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The task's oracle solution.
    Oracle,
    /// Calls `done` at once: every task must fail it.
    Nothing,
}

/// How one trial went.
#[derive(Debug, Clone, Serialize)]
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
    /// The executor could not start or broke down.
    #[error("task {task}: the executor failed: {source}")]
    Executor {
        /// Task id.
        task: String,
        /// Why.
        source: crate::executor::ExecutorError,
    },
}

/// A task's world for one seed, ready to act in.
pub struct Prepared {
    /// The simulated robot.
    pub robot: Arc<sim::SimRobot>,
    /// The robot's skills plus `done`.
    pub skills: robot_api::SkillSet,
    /// What `done` was called with.
    pub done: DoneSignal,
}

/// Builds the world of `task` for `seed` and the skills to act in it.
pub fn prepare(task: &Task, seed: u64) -> Result<Prepared, TrialError> {
    let fail = |message: String| TrialError::Task {
        task: task.id.clone(),
        message,
    };
    let base = sim::load(&task.world).map_err(|e| fail(e.to_string()))?;
    let world = world_for(&base, &task.setup, &task.id, seed).map_err(fail)?;
    for p in task.success.iter().chain(&task.constraints) {
        p.check_names(&world).map_err(fail)?;
    }
    let robot = Arc::new(sim::SimRobot::new(world));
    let mut skills = robot_api::skills::robot_skills(robot.clone());
    let done = add_done(&mut skills);
    Ok(Prepared {
        robot,
        skills,
        done,
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

/// Runs `policy` on `task` for `seed` through a sandboxed session.
pub fn run(
    task: &Task,
    seed: u64,
    policy: Policy,
    config: &ExecutorConfig,
) -> Result<TrialReport, TrialError> {
    let started = Instant::now();
    let Prepared {
        robot,
        skills,
        done,
    } = prepare(task, seed)?;
    let executor = |source| TrialError::Executor {
        task: task.id.clone(),
        source,
    };
    let mut session = Session::start(config.clone(), skills).map_err(executor)?;
    let code = match policy {
        Policy::Oracle => task.oracle.as_str(),
        Policy::Nothing => "done('Done.')",
    };
    let obs = session
        .execute(
            code,
            Some(Duration::from_secs_f64(task.seconds)),
            &mut |_, _| {},
        )
        .map_err(executor)?;
    drop(session);
    let answer = done.take();
    let (success, verdicts) = judge(task, &robot, answer.as_deref());
    let sim = robot.sim();
    Ok(TrialReport {
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
        error: obs
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.type_name, e.message)),
        observation_tail: tail(&obs.render(), 1500),
        collisions: sim.collisions(),
        sim_seconds: sim.time(),
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

/// The goals of `task` that already hold where `seed` starts: each must be
/// false there, or the task can be passed without doing anything.
pub fn true_at_start(task: &Task, seed: u64) -> Result<Vec<String>, TrialError> {
    let prepared = prepare(task, seed)?;
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
