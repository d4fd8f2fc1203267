//! [`Session`]: the supervisor side of the executor. It owns the worker
//! process, sends it actions, enforces time limits, serves skill calls and
//! turns what comes back into an [`Observation`]. Only this side ever touches
//! the robot (through the [`SkillSet`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use robot_api::SkillSet;

use super::action::{run_action, ActionIo};
use super::config::ExecutorConfig;
use super::interrupter::{InputWatch, Interrupter};
use super::library::LibraryReport;
use super::observation::{Observation, Status, Stream};
use super::preview::{Preview, PreviewMode, Previewed, Skipped, Verdict};
use super::process::{kill_worker, spawn_worker, Worker};
use super::remains::Remains;
use super::wire::Protection;

/// Errors of the executor itself (not of the code it runs: those are observations).
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// No worker could be started.
    #[error(
        "could not start the Python worker: {0}. Run `codeact doctor` to see what is missing."
    )]
    WorkerStart(String),
    /// A bad request (timeout out of range).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// An OS-level failure in the supervisor.
    #[error("executor I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The process is ending (a signal): no new action starts.
    #[error("the session is ending (the process was asked to stop); no new action runs")]
    Closing,
}

/// A workspace directory; a temporary one is deleted with the session.
#[derive(Debug)]
struct Workspace {
    path: PathBuf,
    temporary: bool,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.temporary {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Told of each action a session runs (a recording, for instance).
pub trait ActionWatcher: Send + Sync {
    /// Action number `action` is about to run `code`.
    fn started(&self, action: u64, code: &str);
    /// It ended with `observation`.
    fn finished(&self, observation: &Observation);
}

/// What runs code actions for the agent loop: the sandboxed [`Session`],
/// or a stand-in where no process is wanted (the episode's unit tests).
pub trait Executor {
    /// The skills the code can call.
    fn skills(&self) -> &SkillSet;
    /// Runs `code` as one action (time limit `timeout`, or the default),
    /// handing its output to `on_output` as it comes.
    fn execute(
        &mut self,
        code: &str,
        timeout: Option<Duration>,
        on_output: &mut dyn FnMut(Stream, &str),
    ) -> Result<Observation, ExecutorError>;
    /// Rehearses `code` on a twin, when this executor previews actions, so
    /// the verdict can be shown before it runs (`None`: no preview).
    fn preview(&mut self, _code: &str) -> Option<Previewed> {
        None
    }
    /// Runs an action [`Executor::preview`] rehearsed, without rehearsing
    /// it again.
    fn execute_previewed(
        &mut self,
        previewed: Previewed,
        timeout: Option<Duration>,
        on_output: &mut dyn FnMut(Stream, &str),
    ) -> Result<Observation, ExecutorError> {
        self.execute(&previewed.code, timeout, on_output)
    }
}

impl Executor for Session {
    fn skills(&self) -> &SkillSet {
        Session::skills(self)
    }

    fn execute(
        &mut self,
        code: &str,
        timeout: Option<Duration>,
        on_output: &mut dyn FnMut(Stream, &str),
    ) -> Result<Observation, ExecutorError> {
        Session::execute(self, code, timeout, on_output)
    }

    fn preview(&mut self, code: &str) -> Option<Previewed> {
        match Session::preview(self, code) {
            Ok(previewed) => previewed,
            // The run reports it (it needs the same worker).
            Err(e) => {
                tracing::warn!("no preview: {e}");
                None
            }
        }
    }

    fn execute_previewed(
        &mut self,
        previewed: Previewed,
        timeout: Option<Duration>,
        on_output: &mut dyn FnMut(Stream, &str),
    ) -> Result<Observation, ExecutorError> {
        Session::execute_previewed(self, previewed, timeout, on_output)
    }
}

/// One executor session: a persistent Python namespace in a supervised worker.
pub struct Session {
    config: ExecutorConfig,
    skills: Arc<SkillSet>,
    worker: Option<Worker>,
    workspace: Workspace,
    interrupter: Interrupter,
    next_action: u64,
    protections: Vec<Protection>,
    python_version: String,
    library: LibraryReport,
    /// Every log line of the session's actions carries it.
    span: tracing::Span,
    watchers: Vec<Arc<dyn ActionWatcher>>,
    remains: Remains,
    /// Whether actions are rehearsed on a twin first.
    preview: Option<Preview>,
}

impl Session {
    /// Starts a session: makes the workspace and starts a worker.
    pub fn start(config: ExecutorConfig, skills: SkillSet) -> Result<Self, ExecutorError> {
        static SESSIONS: AtomicU64 = AtomicU64::new(1);
        let span = tracing::debug_span!("session", id = SESSIONS.fetch_add(1, Ordering::Relaxed));
        let _entered = span.clone().entered();
        let workspace = match &config.workspace {
            Some(path) => {
                std::fs::create_dir_all(path)?;
                Workspace {
                    path: path.canonicalize()?,
                    temporary: false,
                }
            }
            None => {
                static N: AtomicU64 = AtomicU64::new(0);
                // What sessions killed before their cleanup left (once per process).
                static SWEPT: std::sync::Once = std::sync::Once::new();
                SWEPT.call_once(|| super::remains::remove_stale_workspaces(&std::env::temp_dir()));
                let path = std::env::temp_dir().join(format!(
                    "codeact-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path)?;
                Workspace {
                    path,
                    temporary: true,
                }
            }
        };
        let mut session = Session {
            config,
            skills: Arc::new(skills),
            worker: None,
            workspace,
            interrupter: Interrupter::new()?,
            next_action: 1,
            protections: Vec::new(),
            python_version: String::new(),
            library: LibraryReport::default(),
            span,
            watchers: Vec::new(),
            remains: Remains::default(),
            preview: None,
        };
        let temporary = session.workspace.temporary;
        session
            .remains
            .set_workspace(temporary.then(|| session.workspace.path.clone()));
        session.start_worker()?;
        for p in session.protections.iter().filter(|p| !p.active) {
            tracing::warn!("protection '{}' is not in force: {}", p.name, p.detail);
        }
        Ok(session)
    }

    /// The isolation measures in force for the current worker.
    pub fn protections(&self) -> &[Protection] {
        &self.protections
    }

    /// `sys.version` of the embedded Python.
    pub fn python_version(&self) -> &str {
        &self.python_version
    }

    /// What the skill library gave the current worker's namespace, and what
    /// did not load (refreshed when a worker starts).
    pub fn library(&self) -> &LibraryReport {
        &self.library
    }

    /// The API text: the skills', then the skill library's functions.
    pub fn api_text(&self) -> String {
        self.skills.api_text() + &self.library.api_text()
    }

    /// The skills this session offers.
    pub fn skills(&self) -> &SkillSet {
        &self.skills
    }

    /// The same skills, shared: for a thread that must reach the robot
    /// (its safe stop, its state) while an action runs.
    pub fn shared_skills(&self) -> Arc<SkillSet> {
        self.skills.clone()
    }

    /// The directory the code may write in.
    pub fn workspace(&self) -> &Path {
        &self.workspace.path
    }

    /// The session's settings.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// What the session leaves on the machine, for cleaning up from another
    /// thread before the process exits (a signal's).
    pub fn remains(&self) -> Remains {
        self.remains.clone()
    }

    /// The number the next action will get.
    pub fn next_action(&self) -> u64 {
        self.next_action
    }

    /// A handle that interrupts the running action from another thread.
    pub fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }

    /// Kills the worker and starts a fresh one: all variables are gone.
    pub fn reset(&mut self) -> Result<(), ExecutorError> {
        self.kill_worker();
        // Nothing the old namespace started (a goal, a motion) outlives it.
        self.skills.safe_stop();
        self.start_worker()
    }

    /// Kills the worker, if there is one (its remains go with it).
    fn kill_worker(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.remains.set_worker(None, None);
            kill_worker(worker);
        }
    }

    /// The worker, started if there is none.
    pub(super) fn worker_mut(&mut self) -> Result<&mut Worker, ExecutorError> {
        if self.worker.is_none() {
            self.start_worker()?;
        }
        Ok(self.worker.as_mut().expect("started above"))
    }

    /// Kills the worker and starts another (its namespace is lost).
    pub(super) fn restart_worker(&mut self) -> Result<(), ExecutorError> {
        self.kill_worker();
        self.start_worker()
    }

    fn start_worker(&mut self) -> Result<(), ExecutorError> {
        let (worker, ready) = spawn_worker(&self.config, &self.workspace.path, &self.skills)?;
        self.remains.set_worker(
            Some(worker.child.id() as i32),
            worker.cgroup.as_ref().map(|c| c.dir().to_owned()),
        );
        self.worker = Some(worker);
        self.protections = ready.protections;
        self.python_version = ready.python;
        self.library = ready.library;
        Ok(())
    }

    /// Rehearses every action on a twin first, as `preview` says (`None`:
    /// actions run without).
    pub fn set_preview(&mut self, preview: Option<Preview>) {
        self.preview = preview.filter(|p| p.mode != PreviewMode::Off);
    }

    /// Rehearses `code` on a twin `preview` makes now, and judges it.
    fn preview_verdict(&mut self, code: &str, preview: &Preview) -> Result<Verdict, String> {
        let twin = preview.twins.make(&self.skills.memories())?;
        let skipped = Skipped::default();
        let told = skipped.clone();
        let skills = self
            .skills
            .rehearsal(twin.skills(), Arc::new(move |name: &str| told.note(name)));
        let rehearsed = self
            .rehearse(code, Arc::new(skills), preview.limit)
            .map_err(|e| e.to_string())?;
        if let Some(why) = rehearsed.worker_restart {
            return Err(format!(
                "the rehearsal could not be ended cleanly ({why}); the worker was restarted, and the session's variables are gone"
            ));
        }
        Ok(Verdict::judge(
            rehearsed.observation,
            twin.foresee(),
            skipped.take(),
        ))
    }

    /// Tells `watcher` of every action from now on.
    pub fn watch(&mut self, watcher: Arc<dyn ActionWatcher>) {
        self.watchers.push(watcher);
    }

    /// Runs one code action and returns its observation. `on_output` sees
    /// printed text as it arrives. `timeout` overrides the session default.
    ///
    /// Errors only when no worker can be started; everything the code does,
    /// including crashing the worker, is an observation.
    pub fn execute(
        &mut self,
        code: &str,
        timeout: Option<Duration>,
        on_output: &mut dyn FnMut(Stream, &str),
    ) -> Result<Observation, ExecutorError> {
        self.execute_watching(code, timeout, on_output, None)
    }

    /// Rehearses `code` on a twin now, when the session previews actions
    /// (`None`: it does not), for the verdict to be shown before it runs.
    pub fn preview(&mut self, code: &str) -> Result<Option<Previewed>, ExecutorError> {
        let Some(preview) = self.preview.clone() else {
            return Ok(None);
        };
        if self.remains.closing() {
            return Err(ExecutorError::Closing);
        }
        if self.worker.is_none() {
            self.start_worker()?;
        }
        Ok(Some(Previewed {
            code: code.to_owned(),
            mode: preview.mode,
            verdict: self.preview_verdict(code, &preview),
        }))
    }

    /// Runs an action [`Session::preview`] rehearsed, judged by that
    /// rehearsal (the gate refuses it if it found a problem).
    pub fn execute_previewed(
        &mut self,
        previewed: Previewed,
        timeout: Option<Duration>,
        on_output: &mut dyn FnMut(Stream, &str),
    ) -> Result<Observation, ExecutorError> {
        let Previewed { code, verdict, .. } = previewed;
        self.run(
            &code,
            timeout,
            ActionIo {
                on_output,
                input: None,
            },
            Some(verdict),
        )
    }

    /// [`Session::execute`], also watching `input` while the action runs.
    pub fn execute_watching(
        &mut self,
        code: &str,
        timeout: Option<Duration>,
        on_output: &mut dyn FnMut(Stream, &str),
        input: Option<&mut dyn InputWatch>,
    ) -> Result<Observation, ExecutorError> {
        self.run(code, timeout, ActionIo { on_output, input }, None)
    }

    /// Runs one action: rehearsed first when the session previews actions
    /// (`verdict`: already rehearsed), then gated or run.
    fn run(
        &mut self,
        code: &str,
        timeout: Option<Duration>,
        io: ActionIo<'_, '_>,
        verdict: Option<Result<Verdict, String>>,
    ) -> Result<Observation, ExecutorError> {
        let timeout = timeout.unwrap_or(self.config.timeout);
        if !super::valid_time_limit(timeout.as_secs_f64()) {
            return Err(ExecutorError::InvalidRequest(format!(
                "timeout must be between 0 and {} seconds, got {} s",
                super::MAX_ACTION_SECONDS,
                timeout.as_secs_f64()
            )));
        }
        if self.remains.closing() {
            return Err(ExecutorError::Closing);
        }
        if self.worker.is_none() {
            self.start_worker()?;
        }
        let preview = self.preview.clone();
        let verdict = match (verdict, &preview) {
            (Some(v), _) => Some(v),
            (None, Some(p)) => Some(self.preview_verdict(code, p)),
            (None, None) => None,
        };
        let action = self.next_action;
        self.next_action += 1;
        if let Some(refused) = gate(preview.as_ref(), verdict.as_ref(), action) {
            for w in &self.watchers {
                w.started(action, code);
                w.finished(&refused);
            }
            return Ok(refused);
        }
        let _session = self.span.clone().entered();
        let _span = tracing::debug_span!("action", n = action).entered();
        tracing::debug!(timeout_s = timeout.as_secs_f64(), "running");
        for w in &self.watchers {
            w.started(action, code);
        }
        let worker = self.worker.as_mut().expect("worker started above");
        self.remains.set_running(true);
        let run = run_action(
            worker,
            &self.config,
            &self.interrupter,
            action,
            code,
            timeout,
            io,
        );

        let mut observation = run.observation;
        if let Some(why) = &run.outcome.worker_lost {
            tracing::warn!("the worker was lost ({why}); starting a fresh one");
            observation.worker_restart = Some(why.clone());
            self.kill_worker();
            if let Err(e) = self.start_worker() {
                observation
                    .notes
                    .push(format!("no new worker could be started yet: {e}"));
            }
        }
        if observation.status != Status::Ok || run.outcome.abnormal {
            observation.safe_stop = self.skills.safe_stop();
            tracing::debug!(safe_stop = observation.safe_stop, "the action ended badly");
        }
        if let Some(report) = self.skills.report() {
            observation.robot_events = bounded(report.events, MAX_EVENTS, "events");
            observation.robot_state = Some(report.state);
            observation.robot_time = Some(report.time);
            observation
                .notes
                .extend(bounded(report.notes, MAX_ROBOT_NOTES, "notes"));
        }
        if let (Some(p), Some(verdict)) = (&preview, &verdict) {
            add_verdict(&mut observation, p, verdict);
        }
        tracing::debug!(
            status = observation.status.as_str(),
            ms = observation.duration_ms,
            skill_calls = observation.skill_calls.len(),
            "finished"
        );
        for w in &self.watchers {
            w.finished(&observation);
        }
        self.remains.set_running(false);
        Ok(observation)
    }
}

/// The observation of an action the gate keeps from running, if it does:
/// one whose rehearsal found a problem, or that could not be rehearsed.
fn gate(
    preview: Option<&Preview>,
    verdict: Option<&Result<Verdict, String>>,
    action: u64,
) -> Option<Observation> {
    if preview?.mode != PreviewMode::Gate {
        return None;
    }
    match verdict? {
        Ok(v) if v.refuses() => Some(v.refusal(action)),
        Ok(_) => None,
        Err(why) => Some(Verdict::unrehearsed(action, why)),
    }
}

/// The rehearsal's verdict (in full with `show`, a line with `gate`) and
/// where the real run departed from it.
fn add_verdict(
    observation: &mut Observation,
    preview: &Preview,
    verdict: &Result<Verdict, String>,
) {
    let v = match verdict {
        Ok(v) => v,
        Err(why) => {
            observation
                .notes
                .push(format!("Preview: the action could not be rehearsed: {why}"));
            return;
        }
    };
    if preview.mode == PreviewMode::Show {
        observation.notes.push(v.text());
        observation.images.extend(v.picture());
    } else {
        observation
            .notes
            .push("Preview: the rehearsal on a twin of the robot passed.".into());
    }
    let departed = v.departures(observation, &preview.twins.poses());
    if !departed.is_empty() {
        observation.notes.push(format!(
            "Reality departed from the rehearsal: {}.",
            departed.join("; ")
        ));
    }
}

/// Robot events kept in one observation: the first and last halves of this
/// many, so an action that makes many events still gets a short observation.
const MAX_EVENTS: usize = 40;
/// The same for the robot's notes about how skills were called.
const MAX_ROBOT_NOTES: usize = 6;

/// Keeps the first and last `max / 2` lines with one that says how many
/// `what` were left out between them.
fn bounded(mut lines: Vec<String>, max: usize, what: &str) -> Vec<String> {
    if lines.len() <= max {
        return lines;
    }
    let cut = lines.len() - max;
    let tail = lines.split_off(lines.len() - max / 2);
    lines.truncate(max / 2);
    lines.push(format!("... {cut} more {what} ..."));
    lines.extend(tail);
    lines
}

impl Drop for Session {
    fn drop(&mut self) {
        self.kill_worker();
        // At the session's end nothing it started keeps the robot moving.
        self.skills.safe_stop();
    }
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn long_lists_keep_both_ends_and_say_how_many_were_left_out() {
        let lines: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(bounded(lines.clone(), 10, "events"), lines);
        assert_eq!(
            bounded(lines, 4, "events"),
            ["0", "1", "... 6 more events ...", "8", "9"]
        );
    }
}
