//! [`Session`]: the supervisor side of the executor. It owns the worker
//! process, sends it actions, enforces time limits, serves skill calls and
//! turns what comes back into an [`Observation`]. Only this side ever touches
//! the robot (through the [`SkillSet`]).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use robot_api::{CallContext, CancelToken, SkillError, SkillSet};

use super::cgroup::PidsCgroup;
use super::config::{ExecutorConfig, WorkerConfig};
use super::observation::{Observation, SkillCall, Status, Stream};
use super::output::OutputBuffer;
use super::wire::{
    socket_pair, ActionReport, ExecuteRequest, FromWorker, InterruptReason, Protection, Receiver,
    Sender, SkillReply, SkillRequest, ToWorker, WireError, WorkerInit,
};
use super::worker::{CONTROL_FD, INTERRUPT_FD, SKILL_FD};

/// Environment variables a worker may see; everything else (API keys,
/// tokens, the supervisor's secrets) is dropped.
const ENV_ALLOWED: &[&str] = &[
    "PATH",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TERM",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
];
/// How long the skill server spins for the next request before sleeping.
const SKILL_SERVER_SPIN: Duration = Duration::from_micros(100);
/// How long the supervisor polls without sleeping after sending an action:
/// short actions finish within it, and a wake-up from sleep costs more than
/// the whole action on a virtual machine.
const ACTION_SPIN: Duration = Duration::from_micros(250);
/// Skill calls listed in one observation at most; the rest are counted.
const MAX_CALL_RECORDS: usize = 1000;
/// How long a new worker may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);

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
}

/// Interrupts the running action from another thread (Ctrl-C, a protocol
/// request, an e-stop). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Interrupter {
    fd: Arc<OwnedFd>,
}

impl Interrupter {
    fn new() -> std::io::Result<Self> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor.
        Ok(Interrupter {
            fd: Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }),
        })
    }

    /// Asks the running action to stop (`KeyboardInterrupt` in its code; a
    /// hard stop after the grace period). Does nothing between actions.
    pub fn interrupt(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    fn drain(&self) -> bool {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our non-blocking eventfd.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) == 8 }
    }
}

/// Input the supervisor watches while an action runs, so one thread can both
/// run actions and read requests (the session protocol's stdin): a request
/// to interrupt arrives without a reader thread and its wake-up per request.
pub trait InputWatch {
    /// The fd to poll for readability; negative once it has ended.
    fn fd(&self) -> RawFd;
    /// Called when the fd is readable (or closed). Returns true to interrupt
    /// the running action.
    fn on_readable(&mut self) -> bool;
}

/// What the skill server shares with the action loop.
#[derive(Default)]
struct SkillShared {
    action: AtomicU64,
    cancel: Mutex<CancelToken>,
    calls: Mutex<Vec<SkillCall>>,
    calls_total: AtomicU64,
    refused: AtomicU64,
    protocol_error: Mutex<Option<String>>,
    /// Held while a handler runs: the action loop takes it before returning,
    /// so no skill call of an action is still running after the action ended.
    busy: Mutex<()>,
}

impl SkillShared {
    /// Cancels the skill call running now, if any (its handler sees the token).
    fn cancel_running(&self) {
        self.cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancel();
    }
}

struct Worker {
    child: Child,
    pidfd: Option<OwnedFd>,
    control_tx: Sender,
    control_rx: Receiver,
    interrupt_tx: Sender,
    stdout: File,
    stderr: File,
    skill_thread: Option<JoinHandle<()>>,
    shared: Arc<SkillShared>,
    cgroup: Option<PidsCgroup>,
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
}

impl Session {
    /// Starts a session: makes the workspace and starts a worker.
    pub fn start(config: ExecutorConfig, skills: SkillSet) -> Result<Self, ExecutorError> {
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
        };
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

    /// The skills this session offers.
    pub fn skills(&self) -> &SkillSet {
        &self.skills
    }

    /// The directory the code may write in.
    pub fn workspace(&self) -> &Path {
        &self.workspace.path
    }

    /// The session's settings.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
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
        if let Some(worker) = self.worker.take() {
            kill_worker(worker);
        }
        self.start_worker()
    }

    fn start_worker(&mut self) -> Result<(), ExecutorError> {
        let (worker, protections, python) =
            spawn_worker(&self.config, &self.workspace.path, &self.skills)?;
        self.worker = Some(worker);
        self.protections = protections;
        self.python_version = python;
        Ok(())
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

    /// [`Session::execute`], also watching `input` while the action runs.
    pub fn execute_watching(
        &mut self,
        code: &str,
        timeout: Option<Duration>,
        on_output: &mut dyn FnMut(Stream, &str),
        input: Option<&mut dyn InputWatch>,
    ) -> Result<Observation, ExecutorError> {
        let timeout = timeout.unwrap_or(self.config.timeout);
        if !super::valid_time_limit(timeout.as_secs_f64()) {
            return Err(ExecutorError::InvalidRequest(format!(
                "timeout must be between 0 and {} seconds, got {} s",
                super::MAX_ACTION_SECONDS,
                timeout.as_secs_f64()
            )));
        }
        if self.worker.is_none() {
            self.start_worker()?;
        }
        let action = self.next_action;
        self.next_action += 1;
        let _span = tracing::debug_span!("action", n = action).entered();
        tracing::debug!(timeout_s = timeout.as_secs_f64(), "running");
        let worker = self.worker.as_mut().expect("worker started above");
        let run = run_action(
            worker,
            &self.config,
            &self.interrupter,
            action,
            code,
            timeout,
            ActionIo { on_output, input },
        );

        let mut observation = run.observation;
        if let Some(why) = &run.worker_lost {
            tracing::warn!("the worker was lost ({why}); starting a fresh one");
            observation.worker_restart = Some(why.clone());
            if let Some(worker) = self.worker.take() {
                kill_worker(worker);
            }
            if let Err(e) = self.start_worker() {
                observation
                    .notes
                    .push(format!("no new worker could be started yet: {e}"));
            }
        }
        if observation.status != Status::Ok || run.abnormal {
            observation.safe_stop = self.skills.safe_stop();
            tracing::debug!(safe_stop = observation.safe_stop, "the action ended badly");
        }
        if let Some(report) = self.skills.report() {
            observation.robot_events = bounded(report.events, MAX_EVENTS, "events");
            observation.robot_state = Some(report.state);
            observation
                .notes
                .extend(bounded(report.notes, MAX_ROBOT_NOTES, "notes"));
        }
        tracing::debug!(
            status = observation.status.as_str(),
            ms = observation.duration_ms,
            skill_calls = observation.skill_calls.len(),
            "finished"
        );
        Ok(observation)
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
        if let Some(worker) = self.worker.take() {
            kill_worker(worker);
        }
    }
}

/// Where an action's output goes and what else is watched while it runs.
struct ActionIo<'a, 'b> {
    on_output: &'a mut dyn FnMut(Stream, &str),
    input: Option<&'b mut dyn InputWatch>,
}

struct ActionRun {
    observation: Observation,
    worker_lost: Option<String>,
    abnormal: bool,
}

fn run_action(
    worker: &mut Worker,
    config: &ExecutorConfig,
    interrupter: &Interrupter,
    action: u64,
    code: &str,
    timeout: Duration,
    io: ActionIo<'_, '_>,
) -> ActionRun {
    let ActionIo {
        on_output,
        mut input,
    } = io;
    let started = Instant::now();
    let shared = worker.shared.clone();
    *shared.cancel.lock().unwrap_or_else(|e| e.into_inner()) = CancelToken::new();
    shared
        .calls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    shared.calls_total.store(0, Ordering::SeqCst);
    shared.refused.store(0, Ordering::SeqCst);
    shared.action.store(action, Ordering::SeqCst);
    while interrupter.drain() {}

    let mut output = OutputBuffer::new(config.output.head, config.output.tail);
    let mut stream_out = |output: &mut OutputBuffer, stream: Stream, text: &str| {
        let was_open = !output.head_closed();
        let kept = output.push(stream, text);
        if !kept.is_empty() {
            on_output(stream, kept);
        }
        if was_open && output.head_closed() {
            on_output(
                Stream::Stderr,
                "\n[output limit reached: the rest is not shown live; its end is kept]\n",
            );
        }
    };

    let request = ToWorker::Execute(Box::new(ExecuteRequest {
        action,
        code: code.to_owned(),
        limits: config.output,
    }));
    let mut report: Option<ActionReport> = None;
    let mut lost: Option<String> = None;
    let mut stopping: Option<(InterruptReason, Instant)> = None;
    if let Err(e) = worker.control_tx.send(&request) {
        lost = Some(describe_exit(
            worker,
            &format!("the worker could not take the action ({e})"),
        ));
    }
    let deadline = started + timeout;
    let spin_until = Instant::now() + ACTION_SPIN;
    let mut raw = RawOutput::default();

    while report.is_none() && lost.is_none() {
        let now = Instant::now();
        // Time limits first: the deadline starts the stop, the grace period ends it.
        let wake_at = match stopping {
            None if now >= deadline => {
                stopping = Some(begin_stop(
                    worker,
                    action,
                    InterruptReason::Timeout,
                    config.grace,
                ));
                continue;
            }
            None => deadline,
            Some((reason, hard_at)) if now >= hard_at => {
                let why = match reason {
                    InterruptReason::Timeout => "timeout",
                    InterruptReason::Request => "interrupt",
                };
                lost = Some(format!(
                    "the code did not stop within {:.1} s of the {why} (it caught the exception, or was stuck in C code), so the worker and everything it started were killed",
                    config.grace.as_secs_f64()
                ));
                break;
            }
            Some((_, hard_at)) => hard_at,
        };
        let spinning = now < spin_until;
        let ready = poll_fds(
            &[
                worker.control_rx.raw_fd(),
                worker.stdout.as_raw_fd(),
                worker.stderr.as_raw_fd(),
                interrupter.fd.as_raw_fd(),
                worker.pidfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
                input.as_ref().map_or(-1, |i| i.fd()),
            ],
            if spinning {
                Duration::ZERO
            } else {
                wake_at.saturating_duration_since(now)
            },
        );
        if spinning && !ready.contains(&true) {
            std::thread::yield_now();
            continue;
        }
        let asked = ready[5] && input.as_mut().is_some_and(|i| i.on_readable());
        if (asked || (ready[3] && interrupter.drain())) && stopping.is_none() {
            stopping = Some(begin_stop(
                worker,
                action,
                InterruptReason::Request,
                config.grace,
            ));
        }
        for (i, stream) in [(1, Stream::Stdout), (2, Stream::Stderr)] {
            if ready[i] {
                let file = if i == 1 {
                    &mut worker.stdout
                } else {
                    &mut worker.stderr
                };
                if let Some(text) = raw.read(file) {
                    stream_out(&mut output, stream, &text);
                }
            }
        }
        if ready[0] {
            loop {
                match worker.control_rx.try_recv::<FromWorker>() {
                    Ok(Some(FromWorker::Output { chunks, .. })) => {
                        for c in chunks {
                            stream_out(&mut output, c.stream, &c.text);
                        }
                    }
                    Ok(Some(FromWorker::Finished(r))) if r.action == action => {
                        report = Some(*r);
                        break;
                    }
                    Ok(Some(FromWorker::Finished(_))) | Ok(Some(FromWorker::Ready { .. })) => {}
                    Ok(Some(FromWorker::Fatal { message })) => {
                        lost = Some(format!("the worker failed: {message}"));
                        break;
                    }
                    Ok(None) => break,
                    Err(WireError::Closed) => {
                        lost = Some(describe_exit(worker, "the worker process died"));
                        break;
                    }
                    Err(e) => {
                        lost = Some(format!(
                            "the worker sent a malformed message ({e}); it was killed"
                        ));
                        break;
                    }
                }
            }
        }
        if ready[4] && report.is_none() && lost.is_none() {
            lost = Some(describe_exit(worker, "the worker process died"));
        }
        if let Some(err) = shared
            .protocol_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            lost = Some(err);
        }
    }
    shared.action.store(0, Ordering::SeqCst);
    shared.cancel_running();
    let mut skill_stuck = false;
    let wait_from = Instant::now();
    while let Err(std::sync::TryLockError::WouldBlock) = shared.busy.try_lock() {
        if wait_from.elapsed() > config.grace {
            skill_stuck = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // Raw output written just before the end may still be in the pipes.
    for (file, stream) in [
        (&mut worker.stdout, Stream::Stdout),
        (&mut worker.stderr, Stream::Stderr),
    ] {
        while let Some(text) = raw.read(file) {
            stream_out(&mut output, stream, &text);
        }
    }
    if let Some(r) = &report {
        output.push_cut(r.cut_bytes);
        for c in &r.tail {
            output.push(c.stream, &c.text);
        }
    }
    let kept = output.take();
    let mut skill_calls =
        std::mem::take(&mut *shared.calls.lock().unwrap_or_else(|e| e.into_inner()));
    let total_calls = shared.calls_total.load(Ordering::SeqCst);
    let mut notes = Vec::new();
    if skill_stuck {
        notes.push("a skill handler did not stop when cancelled; it may still be running in the robot backend".to_owned());
    }
    if total_calls as usize > skill_calls.len() {
        notes.push(format!(
            "{} skill calls made; the first {} are listed",
            total_calls,
            skill_calls.len()
        ));
    }
    skill_calls.shrink_to_fit();

    let requested = stopping.map(|(reason, _)| reason);
    let stopped_status = |reason| match reason {
        InterruptReason::Timeout => Status::Timeout,
        InterruptReason::Request => Status::Interrupted,
    };
    let (status, result, error, abnormal) = match (&report, &lost) {
        (Some(r), _) => {
            notes.extend(r.notes.iter().cloned());
            let status = match (&r.error, requested, r.interrupted) {
                (None, _, _) => Status::Ok,
                (Some(_), Some(asked), Some(_)) => stopped_status(asked),
                (Some(_), _, _) => Status::Error,
            };
            (status, r.result.clone(), r.error.clone(), r.abnormal)
        }
        (None, _) => (
            requested.map_or(Status::WorkerRestarted, stopped_status),
            None,
            None,
            true,
        ),
    };
    if status == Status::Timeout {
        notes.push(format!(
            "the action was stopped after its time limit of {:.1} s",
            timeout.as_secs_f64()
        ));
    }
    ActionRun {
        observation: Observation {
            action,
            status,
            output: kept.head,
            output_cut_bytes: kept.cut_bytes,
            output_tail: kept.tail,
            result,
            error,
            skill_calls,
            duration_ms: started.elapsed().as_secs_f64() * 1e3,
            worker_restart: None,
            safe_stop: false,
            notes,
            robot_events: Vec::new(),
            robot_state: None,
        },
        worker_lost: lost,
        abnormal,
    }
}

/// Starts stopping the action: the code gets an exception, a skill blocked in
/// Rust is cancelled. Returns when the hard stop is due.
fn begin_stop(
    worker: &mut Worker,
    action: u64,
    reason: InterruptReason,
    grace: Duration,
) -> (InterruptReason, Instant) {
    // The interrupt goes first: a cancelled skill call then finds its reason.
    let _ = worker
        .interrupt_tx
        .send(&ToWorker::Interrupt { action, reason });
    worker.shared.cancel_running();
    (reason, Instant::now() + grace)
}

/// Decodes raw fd output as UTF-8 across read boundaries.
#[derive(Default)]
struct RawOutput {
    buf: Vec<u8>,
}

impl RawOutput {
    fn read(&mut self, file: &mut File) -> Option<String> {
        let mut chunk = [0u8; 64 << 10];
        let n = match file.read(&mut chunk) {
            Ok(n) if n > 0 => n,
            _ => return None,
        };
        self.buf.extend_from_slice(&chunk[..n]);
        let valid = match std::str::from_utf8(&self.buf) {
            Ok(_) => self.buf.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.buf.len(),
        };
        let text = String::from_utf8_lossy(&self.buf[..valid]).into_owned();
        self.buf.drain(..valid);
        Some(text)
    }
}

/// Polls fds for input (a negative fd is skipped); returns which are ready.
fn poll_fds<const N: usize>(fds: &[RawFd; N], timeout: Duration) -> [bool; N] {
    let mut pfds = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: pfds is a valid array of pollfd of the given length.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    let mut ready = [false; N];
    if n > 0 {
        for (r, p) in ready.iter_mut().zip(&pfds) {
            *r = p.revents != 0;
        }
    }
    ready
}

fn describe_exit(worker: &mut Worker, what: &str) -> String {
    // The outer process ends right after the worker; give it a moment.
    for _ in 0..200 {
        if let Ok(Some(status)) = worker.child.try_wait() {
            return format!(
                "{what}: {}",
                describe_status(status.code(), status.signal())
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    what.to_owned()
}

fn describe_status(code: Option<i32>, signal: Option<i32>) -> String {
    let signal = signal.or(code.filter(|c| *c > 128).map(|c| c - 128));
    match (code, signal) {
        (_, Some(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| format!("signal {sig}"));
            let hint = match sig {
                libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGABRT => {
                    " (a crash in native code)"
                }
                libc::SIGXCPU | libc::SIGKILL => " (a resource limit, or killed from outside)",
                _ => "",
            };
            format!("killed by {name}{hint}")
        }
        (Some(code), None) => format!("exited with status {code}"),
        (None, None) => "ended".to_owned(),
    }
}

fn spawn_worker(
    config: &ExecutorConfig,
    workspace: &Path,
    skills: &Arc<SkillSet>,
) -> Result<(Worker, Vec<Protection>, String), ExecutorError> {
    let start_err =
        |what: &str, e: &dyn std::fmt::Display| ExecutorError::WorkerStart(format!("{what}: {e}"));
    let exe = match &config.worker_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe()
            .map_err(|e| start_err("cannot find the codeact executable", &e))?,
    };
    let cgroup = if config.sandbox {
        PidsCgroup::create(config.limits.max_processes)
    } else {
        None
    };
    let worker_config = WorkerConfig {
        workspace: workspace.to_owned(),
        limits: config.limits.clone(),
        sandbox: config.sandbox,
        cgroup_procs: cgroup.as_ref().map(|c| c.procs_file()),
    };
    let (control, control_w) = socket_pair()?;
    let (skill, skill_w) = socket_pair()?;
    let (interrupt, interrupt_w) = socket_pair()?;
    let json = serde_json::to_string(&worker_config).expect("worker config serialises");

    let mut cmd = Command::new(&exe);
    cmd.arg("__worker")
        .arg(json)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut dropped = 0;
    for (key, value) in std::env::vars_os() {
        let allowed = key
            .to_str()
            .is_some_and(|k| ENV_ALLOWED.contains(&k) || k.starts_with("LC_"));
        if allowed {
            cmd.env(key, value);
        } else {
            dropped += 1;
        }
    }
    let tmp = workspace.join(".tmp");
    let _ = std::fs::create_dir_all(&tmp);
    cmd.env("HOME", workspace)
        .env("TMPDIR", &tmp)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env("MPLBACKEND", "Agg");
    let ends = [
        (control_w.as_raw_fd(), CONTROL_FD),
        (skill_w.as_raw_fd(), SKILL_FD),
        (interrupt_w.as_raw_fd(), INTERRUPT_FD),
    ];
    // SAFETY: the closure only calls async-signal-safe functions (fcntl, dup2, close).
    unsafe {
        cmd.pre_exec(move || {
            // Move every end above the targets first, so no dup2 clobbers another end.
            let mut moved = [-1; 3];
            for (slot, (fd, _)) in moved.iter_mut().zip(ends) {
                *slot = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10);
                if *slot < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (fd, (_, target)) in moved.into_iter().zip(ends) {
                if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| start_err(&format!("cannot run {}", exe.display()), &e))?;
    drop((control_w, skill_w, interrupt_w));
    let stdout = nonblocking(child.stdout.take().expect("piped").into())?;
    let stderr = nonblocking(child.stderr.take().expect("piped").into())?;
    // SAFETY: plain syscall; a valid fd is owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::c_int, 0) };
    // SAFETY: pidfd is a fresh fd when non-negative.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) });

    let control_tx = Sender::new(control.try_clone()?);
    let control_rx = Receiver::new(control);
    let init = ToWorker::Init(Box::new(WorkerInit {
        skills: skills.specs().cloned().collect(),
        records: skills.records().to_vec(),
    }));
    let mut worker = Worker {
        child,
        pidfd,
        control_tx,
        control_rx,
        interrupt_tx: Sender::new(interrupt),
        stdout,
        stderr,
        skill_thread: None,
        shared: Arc::new(SkillShared::default()),
        cgroup,
    };
    let ready = (|| {
        let (control_tx, control_rx) = (&mut worker.control_tx, &mut worker.control_rx);
        control_tx
            .send(&init)
            .map_err(|e| format!("cannot send the skill declarations ({e})"))?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match control_rx.try_recv::<FromWorker>() {
                Ok(Some(FromWorker::Ready {
                    protections,
                    python,
                })) => return Ok((protections, python)),
                Ok(Some(FromWorker::Fatal { message })) => return Err(message),
                Ok(Some(_)) => {}
                Ok(None) => {
                    if Instant::now() > deadline {
                        return Err(format!("no answer within {} s", START_TIMEOUT.as_secs()));
                    }
                    super::wire::wait_fd(
                        control_rx.raw_fd(),
                        nix::poll::PollFlags::POLLIN,
                        Some(Duration::from_millis(100)),
                    )
                    .map_err(|e| e.to_string())?;
                }
                Err(e) => return Err(format!("the worker exited during start-up ({e})")),
            }
        }
    })();
    let (mut protections, python) = match ready {
        Ok(r) => r,
        Err(message) => {
            let mut err_text = String::new();
            let _ = worker.stderr.read_to_string(&mut err_text);
            let detail = describe_exit(&mut worker, &message);
            kill_worker(worker);
            let stderr_tail: String = err_text
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            return Err(ExecutorError::WorkerStart(if stderr_tail.is_empty() {
                detail
            } else {
                format!("{detail}; its stderr ends with: {stderr_tail}")
            }));
        }
    };
    protections.push(Protection {
        name: "environment".into(),
        active: true,
        detail: format!(
            "scrubbed: {dropped} variables withheld (keys, tokens, ...); only PATH, LANG, LC_*, TZ, TERM, PYTHON*, VIRTUAL_ENV, LD_LIBRARY_PATH passed"
        ),
    });
    let shared = worker.shared.clone();
    let skills = skills.clone();
    let skill_rx = Receiver::new(skill.try_clone()?);
    let skill_tx = Sender::new(skill);
    worker.skill_thread = Some(
        std::thread::Builder::new()
            .name("codeact-skills".into())
            .spawn(move || serve_skills(skill_rx, skill_tx, &skills, &shared))?,
    );
    Ok((worker, protections, python))
}

fn nonblocking(fd: OwnedFd) -> std::io::Result<File> {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    Ok(File::from(fd))
}

/// The skill server: one thread per worker. Skill handlers run here, so a
/// long skill never stalls output streaming or the time limits.
fn serve_skills(mut rx: Receiver, mut tx: Sender, skills: &SkillSet, shared: &SkillShared) {
    loop {
        let request: SkillRequest = match rx.recv(SKILL_SERVER_SPIN) {
            Ok(r) => r,
            Err(WireError::Closed) => return,
            Err(e) => {
                *shared
                    .protocol_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(format!(
                    "the worker sent a malformed skill request ({e}); it was killed"
                ));
                return;
            }
        };
        let name = skills
            .get(request.skill as usize)
            .map_or("?", |(s, _)| s.name.as_str());
        let _busy = shared.busy.lock().unwrap_or_else(|e| e.into_inner());
        let current = shared.action.load(Ordering::SeqCst);
        let started = Instant::now();
        // Only the first calls of an action are listed: format only those.
        let listed =
            current != 0 && (shared.calls_total.load(Ordering::SeqCst) as usize) < MAX_CALL_RECORDS;
        let args_text = match skills.get(request.skill as usize) {
            Some((spec, _)) if listed => format_args_text(spec, &request.args),
            _ => String::new(),
        };
        let reply: SkillReply = if current == 0 || request.action != current {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            Err(SkillError::new(
                robot_api::ErrorKind::Cancelled,
                format!("{name}() refused: the action that made this call has ended"),
            ))
        } else {
            let cancel = shared
                .cancel
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            skills.call(
                request.skill as usize,
                request.args,
                &CallContext { cancel },
            )
        };
        if current != 0 {
            let total = shared.calls_total.fetch_add(1, Ordering::SeqCst);
            if (total as usize) < MAX_CALL_RECORDS {
                let record = SkillCall {
                    skill: name.to_owned(),
                    args: args_text,
                    outcome: match &reply {
                        Ok(_) => "ok".into(),
                        Err(_) if request.action != current => "refused".into(),
                        Err(_) => "error".into(),
                    },
                    error: reply.as_ref().err().map(|e| e.to_string()),
                    duration_ms: started.elapsed().as_secs_f64() * 1e3,
                };
                shared
                    .calls
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(record);
            }
        }
        if tx.send(&reply).is_err() {
            return;
        }
    }
}

/// `x=1.0, y=2.0`, shortened for the call record.
fn format_args_text(spec: &robot_api::SkillSpec, args: &[robot_api::Value]) -> String {
    const MAX: usize = 200;
    let mut text = spec
        .params
        .iter()
        .zip(args)
        .map(|(p, v)| format!("{}={}", p.name, v.python_literal()))
        .collect::<Vec<_>>()
        .join(", ");
    if text.len() > MAX {
        let cut = super::output::floor_char_boundary(&text, MAX);
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

/// Kills the worker and everything it started, and waits for it.
fn kill_worker(mut worker: Worker) {
    let pid = worker.child.id() as i32;
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    // The process group catches children when there is no PID namespace.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    if let Some(cg) = &worker.cgroup {
        cg.kill_all();
    }
    let _ = worker.child.wait();
    worker.shared.cancel_running();
    drop(worker.control_tx);
    drop(worker.control_rx);
    if let Some(thread) = worker.skill_thread.take() {
        // The skill socket closes with the worker; a skill handler ignoring its
        // cancel token would block here, so do not wait for it.
        drop(thread);
    }
    drop(worker.cgroup.take());
}
