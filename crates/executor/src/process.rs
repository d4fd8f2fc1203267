//! The worker process seen from the supervisor: spawning it (scrubbed
//! environment, its three sockets on fixed fds, a pids cgroup), waiting for
//! it to be ready, describing how it ended, and killing it with everything
//! it started.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use robot_api::SkillSet;

use super::cgroup::PidsCgroup;
use super::config::{ExecutorConfig, WorkerConfig};
use super::library::LibraryReport;
use super::session::ExecutorError;
use super::skill_server::{serve_skills, SkillShared};
use super::wire::{
    socket_pair, FromWorker, Protection, Receiver, Sender, ToWorker, WireError, WorkerInit,
    CONTROL_FD, INTERRUPT_FD, REHEARSAL_FD, SKILL_FD,
};

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
/// How long a new worker may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running worker process and the supervisor's ends of its channels.
pub(super) struct Worker {
    pub(super) child: Child,
    pub(super) pidfd: Option<OwnedFd>,
    pub(super) control_tx: Sender,
    pub(super) control_rx: Receiver,
    pub(super) interrupt_tx: Sender,
    /// Where a rehearsal's own channels are passed (SCM_RIGHTS).
    pub(super) rehearsal: UnixStream,
    pub(super) stdout: File,
    pub(super) stderr: File,
    /// What skills report while they run ([`robot_api::Progress`]), read like output.
    pub(super) progress: File,
    pub(super) skill_thread: Option<JoinHandle<()>>,
    pub(super) shared: Arc<SkillShared>,
    pub(super) cgroup: Option<PidsCgroup>,
}

/// `what`, with how the worker process ended when it has.
pub(super) fn describe_exit(child: &mut Child, what: &str) -> String {
    // The outer process ends right after the worker; give it a moment.
    for _ in 0..200 {
        if let Ok(Some(status)) = child.try_wait() {
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

/// What a worker said when it was ready.
pub(super) struct Ready {
    /// The isolation measures in force.
    pub(super) protections: Vec<Protection>,
    /// `sys.version` of its Python.
    pub(super) python: String,
    /// What its skill library loaded.
    pub(super) library: LibraryReport,
}

/// Starts a worker and waits until it is ready; returns it and what it said.
pub(super) fn spawn_worker(
    config: &ExecutorConfig,
    workspace: &Path,
    skills: &Arc<SkillSet>,
) -> Result<(Worker, Ready), ExecutorError> {
    let exe = match &config.worker_exe {
        Some(exe) => exe.clone(),
        None => beside_this_executable()?,
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
    let (rehearsal, rehearsal_w) = socket_pair()?;
    let (mut cmd, dropped) = worker_command(&exe, &worker_config);
    pass_fds(
        &mut cmd,
        [
            (control_w.as_raw_fd(), CONTROL_FD),
            (skill_w.as_raw_fd(), SKILL_FD),
            (interrupt_w.as_raw_fd(), INTERRUPT_FD),
            (rehearsal_w.as_raw_fd(), REHEARSAL_FD),
        ],
    );
    let mut child = cmd
        .spawn()
        .map_err(|e| ExecutorError::WorkerStart(format!("cannot run {}: {e}", exe.display())))?;
    drop((control_w, skill_w, interrupt_w, rehearsal_w));
    let stdout = nonblocking(child.stdout.take().expect("piped").into())?;
    // Both ends non-blocking: a skill's progress is dropped rather than
    // stalling the skill when nobody reads (a full pipe).
    let (progress, progress_w) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
            .map_err(std::io::Error::from)?;
    let progress_w = File::from(progress_w);
    let sink = robot_api::Progress::new(move |text| {
        let _ = (&progress_w).write(text.as_bytes());
    });
    let stderr = nonblocking(child.stderr.take().expect("piped").into())?;
    // SAFETY: plain syscall; a valid fd is owned below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::c_int, 0) };
    // SAFETY: pidfd is a fresh fd when non-negative.
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd as RawFd) });

    let mut worker = Worker {
        child,
        pidfd,
        control_tx: Sender::new(control.try_clone()?),
        control_rx: Receiver::new(control),
        interrupt_tx: Sender::new(interrupt),
        rehearsal,
        stdout,
        stderr,
        progress: File::from(progress),
        skill_thread: None,
        shared: Arc::new(SkillShared::default()),
        cgroup,
    };
    let mut ready = match wait_ready(&mut worker, skills, config.library.clone()) {
        Ok(ready) => ready,
        Err(why) => return Err(start_failure(worker, &why.to_string())),
    };
    ready.protections.push(Protection {
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
            .spawn(move || serve_skills(skill_rx, skill_tx, skills, shared, &sink))?,
    );
    Ok((worker, ready))
}

/// The worker binary, `codeact-worker`, where it is installed: beside this
/// executable (cargo builds and installs the two together).
fn beside_this_executable() -> Result<PathBuf, ExecutorError> {
    let this = std::env::current_exe().map_err(|e| {
        ExecutorError::WorkerStart(format!("cannot find the codeact executable: {e}"))
    })?;
    let worker = this.with_file_name(WORKER_BINARY);
    if worker.is_file() {
        Ok(worker)
    } else {
        Err(ExecutorError::WorkerStart(format!(
            "the worker binary {} is missing: it is built and installed with codeact (cargo build, cargo install --path .); put it beside {}",
            worker.display(),
            this.display()
        )))
    }
}

/// The worker binary's file name.
pub const WORKER_BINARY: &str = "codeact-worker";

/// The `codeact-worker` command with a scrubbed environment (only
/// [`ENV_ALLOWED`] and `LC_*` pass); also returns how many variables were withheld.
fn worker_command(exe: &Path, worker_config: &WorkerConfig) -> (Command, usize) {
    let json = serde_json::to_string(worker_config).expect("worker config serialises");
    let mut cmd = Command::new(exe);
    cmd.arg(json)
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
    let workspace = &worker_config.workspace;
    let tmp = workspace.join(".tmp");
    let _ = std::fs::create_dir_all(&tmp);
    cmd.env("HOME", workspace)
        .env("TMPDIR", &tmp)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env("MPLBACKEND", "Agg");
    (cmd, dropped)
}

/// Makes each `(fd, target)` appear in the child as `target`.
fn pass_fds(cmd: &mut Command, ends: [(RawFd, RawFd); 4]) {
    // SAFETY: the closure only calls async-signal-safe functions (fcntl, dup2, close).
    unsafe {
        cmd.pre_exec(move || {
            // Move every end above the targets first, so no dup2 clobbers another end.
            let mut moved = [-1; 4];
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
}

/// Why a worker did not become ready.
#[derive(Debug, thiserror::Error)]
enum NotReady {
    #[error("cannot send the skill declarations ({0})")]
    Send(WireError),
    /// What the worker said before it gave up.
    #[error("{0}")]
    Fatal(String),
    #[error("no answer within {} s", START_TIMEOUT.as_secs())]
    Timeout,
    #[error("{0}")]
    Wait(std::io::Error),
    #[error("the worker exited during start-up ({0})")]
    Exited(WireError),
}

/// Sends the skill declarations and waits for the worker's ready message.
fn wait_ready(
    worker: &mut Worker,
    skills: &SkillSet,
    library: Option<PathBuf>,
) -> Result<Ready, NotReady> {
    let init = ToWorker::Init(Box::new(WorkerInit {
        skills: skills.specs().cloned().collect(),
        records: skills.records().to_vec(),
        library,
    }));
    worker.control_tx.send(&init).map_err(NotReady::Send)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match worker.control_rx.try_recv::<FromWorker>() {
            Ok(Some(FromWorker::Ready {
                protections,
                python,
                library,
            })) => {
                return Ok(Ready {
                    protections,
                    python,
                    library,
                })
            }
            Ok(Some(FromWorker::Fatal { message })) => return Err(NotReady::Fatal(message)),
            Ok(Some(_)) => {}
            Ok(None) => {
                if Instant::now() > deadline {
                    return Err(NotReady::Timeout);
                }
                super::wire::wait_fd(
                    worker.control_rx.raw_fd(),
                    nix::poll::PollFlags::POLLIN,
                    Some(Duration::from_millis(100)),
                )
                .map_err(NotReady::Wait)?;
            }
            Err(e) => return Err(NotReady::Exited(e)),
        }
    }
}

/// Kills a worker that did not start and says why, with the end of its stderr.
fn start_failure(mut worker: Worker, message: &str) -> ExecutorError {
    let mut err_text = String::new();
    let _ = worker.stderr.read_to_string(&mut err_text);
    let detail = describe_exit(&mut worker.child, message);
    kill_worker(worker);
    let lines: Vec<&str> = err_text.lines().collect();
    let stderr_tail = lines[lines.len().saturating_sub(5)..].join("\n");
    ExecutorError::WorkerStart(if stderr_tail.is_empty() {
        detail
    } else {
        format!("{detail}; its stderr ends with: {stderr_tail}")
    })
}

fn nonblocking(fd: OwnedFd) -> std::io::Result<File> {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
    Ok(File::from(fd))
}

/// Kills the worker and everything it started, and waits for it.
/// SIGKILLs the worker's outer process `pid` and its process group.
pub(super) fn kill_process_group(pid: i32) {
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    // The process group catches children when there is no PID namespace.
    let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
}

pub(super) fn kill_worker(mut worker: Worker) {
    kill_process_group(worker.child.id() as i32);
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

#[cfg(test)]
mod tests {
    use super::describe_status;

    #[test]
    fn an_ending_is_described_in_words_with_a_hint_for_crashes_and_kills() {
        assert_eq!(describe_status(Some(3), None), "exited with status 3");
        assert_eq!(
            describe_status(None, Some(libc::SIGSEGV)),
            "killed by SIGSEGV (a crash in native code)"
        );
        // A shell-style status over 128 is a signal too.
        assert_eq!(
            describe_status(Some(128 + libc::SIGKILL), None),
            "killed by SIGKILL (a resource limit, or killed from outside)"
        );
        assert_eq!(
            describe_status(None, Some(libc::SIGTERM)),
            "killed by SIGTERM"
        );
        assert_eq!(describe_status(None, None), "ended");
    }
}
