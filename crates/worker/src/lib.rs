//! The worker process: the `codeact-worker` binary, started by the
//! supervisor with its configuration (JSON) as its one argument. It links
//! only what running Python needs (pyo3, the sandbox, the runner and the
//! shared protocol types): never TLS, HTTP, MCP or DDS, so the process that
//! runs the model's code carries as little as can be.
//!
//! Three processes, so that a hard stop always takes everything down:
//! - **outer** (started by the supervisor): joins the pids cgroup, enters new
//!   network, PID and mount namespaces, forks `init`, waits, exits with its status;
//! - **init** (PID 1 of the namespace): mounts a private /proc, dies with the
//!   outer (`PDEATHSIG`), reaps orphans, forks the Python worker;
//! - **worker**: applies Landlock, limits and capability drops, then embeds
//!   CPython and runs actions sent on fd 3, calling skills through fd 4.
//!
//! Killing the outer kills init, and the kernel kills every process of a PID
//! namespace when its init dies.

mod census;
mod isolation;
pub mod python;

use std::ffi::CString;
use std::os::fd::FromRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use census::Census;
use codeact_protocol::config::WorkerConfig;
use codeact_protocol::library::{BrokenModule, LibraryFunction, LibraryReport};
use codeact_protocol::observation::{ErrorReport, ImageType, Picture};
use codeact_protocol::wire::{
    ActionReport, ExecuteRequest, FromWorker, InterruptReason, Protection, Receiver, Sender,
    ToWorker, WorkerInit, CONTROL_FD, INTERRUPT_FD, REHEARSAL_DIR, REHEARSAL_FD, SKILL_FD,
};

/// How long the worker polls for the next action before sleeping.
const NEXT_ACTION_SPIN: Duration = Duration::from_micros(300);

const RUNNER_SOURCE: &str = include_str!("runner.py");

/// Entry point of the worker binary: reads the configuration from its
/// first argument and runs [`main`]. Never returns.
pub fn main_from_args() -> ! {
    let Some(arg) = std::env::args().nth(1) else {
        eprintln!("codeact-worker: the supervisor starts this with its configuration; run codeact instead");
        std::process::exit(2);
    };
    match serde_json::from_str::<WorkerConfig>(&arg) {
        Ok(config) => main(config),
        Err(e) => {
            eprintln!("codeact-worker: bad configuration: {e}");
            std::process::exit(2);
        }
    }
}

/// Runs the worker with `config`. Never returns.
pub fn main(config: WorkerConfig) -> ! {
    let _ = nix::unistd::setsid();
    let mut protections = Vec::new();
    let in_pid_ns = isolation::enter_namespaces(&config, &mut protections);
    // SAFETY: single-threaded here (nothing has spawned threads yet).
    match unsafe { fork() } {
        Ok(ForkResult::Child) => init(config, in_pid_ns, protections),
        Ok(ForkResult::Parent { child }) => {
            close_inherited_fds();
            exit_like(wait_for(child))
        }
        Err(e) => fatal(&format!("cannot fork the worker's init process: {e}")),
    }
}

fn init(config: WorkerConfig, in_pid_ns: bool, mut protections: Vec<Protection>) -> ! {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    if in_pid_ns {
        isolation::mount_private_proc(&mut protections);
    }
    // SAFETY: still single-threaded.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            isolation::restrict_self(&config, &mut protections);
            if let Err(e) = std::env::set_current_dir(&config.workspace) {
                fatal(&format!(
                    "cannot enter the workspace {}: {e}",
                    config.workspace.display()
                ));
            }
            std::process::exit(python_main(protections, config.workspace))
        }
        Ok(ForkResult::Parent { child }) => {
            close_inherited_fds();
            // Reap every orphan; end with the worker's status.
            loop {
                match waitpid(None, None) {
                    Ok(WaitStatus::Exited(pid, code)) if pid == child => exit_like(code),
                    Ok(WaitStatus::Signaled(pid, sig, _)) if pid == child => {
                        exit_like(128 + sig as i32)
                    }
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => exit_like(125),
                }
            }
        }
        Err(e) => fatal(&format!("cannot fork the Python worker: {e}")),
    }
}

fn wait_for(child: Pid) -> i32 {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, sig, _)) => return 128 + sig as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return 125,
        }
    }
}

fn exit_like(code: i32) -> ! {
    std::process::exit(code)
}

/// The outer and init processes must not hold the sockets or pipes: the
/// supervisor sees the worker's death as their closing.
fn close_inherited_fds() {
    for fd in 0..=REHEARSAL_FD {
        // SAFETY: closing fds this process does not use afterwards.
        unsafe { libc::close(fd) };
    }
}

fn fatal(message: &str) -> ! {
    // SAFETY: fd 3 is the control socket the supervisor gave us, if still open.
    let stream = unsafe { UnixStream::from_raw_fd(CONTROL_FD) };
    let _ = stream.set_nonblocking(true);
    let _ = Sender::new(stream).send(&FromWorker::Fatal {
        message: message.to_owned(),
    });
    eprintln!("codeact worker: {message}");
    std::process::exit(124)
}

fn socket(fd: i32) -> UnixStream {
    // SAFETY: the supervisor passes the two socket ends as fds 3 and 4.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    // Child processes of the action must not inherit the robot's channels.
    // SAFETY: fcntl on an fd we own.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    stream
}

fn python_main(protections: Vec<Protection>, workspace: std::path::PathBuf) -> i32 {
    let control = socket(CONTROL_FD);
    let skill = socket(SKILL_FD);
    let interrupts = Receiver::new(socket(INTERRUPT_FD));
    let rehearsals = socket(REHEARSAL_FD);
    let (Ok(control_read), Ok(skill_read)) = (control.try_clone(), skill.try_clone()) else {
        fatal("cannot duplicate the worker sockets");
    };
    let mut control_rx = Receiver::new(control_read);
    let init = match control_rx.recv::<ToWorker>(Duration::ZERO) {
        Ok(ToWorker::Init(init)) => init,
        Ok(_) => fatal("the first message was not Init"),
        Err(e) => fatal(&format!("no Init message: {e}")),
    };
    python::install(
        Sender::new(control),
        (Sender::new(skill), Receiver::new(skill_read)),
        init.skills.clone(),
    );
    Python::initialize();
    let (runner, library) = match Python::attach(|py| start_python(py, &init)) {
        Ok(started) => started,
        Err(message) => fatal(&message),
    };
    let state = python::state();
    let version = Python::version_str().to_owned();
    if python::lock_send(&FromWorker::Ready {
        protections,
        python: version,
        library,
    })
    .is_err()
    {
        return 1;
    }

    std::thread::Builder::new()
        .name("codeact-flusher".into())
        .spawn(|| python::state().flusher_loop())
        .expect("spawn the output flusher");
    let main_thread = nix::sys::pthread::pthread_self();
    std::thread::Builder::new()
        .name("codeact-interrupts".into())
        .spawn(move || interrupt_loop(interrupts, main_thread))
        .expect("spawn the interrupt reader");

    let mut census = Census::new(std::process::id() == 2);
    loop {
        match control_rx.recv_yielding::<ToWorker>(NEXT_ACTION_SPIN) {
            Ok(ToWorker::Execute(request)) => {
                let report = run_action(&runner, &mut census, *request);
                state.flush();
                if python::lock_send(&FromWorker::Finished(Box::new(report))).is_err() {
                    return 1;
                }
            }
            Ok(ToWorker::Rehearse(request)) => {
                let status = rehearse(&runner, &rehearsals, &workspace, *request);
                if python::lock_send(&FromWorker::RehearsalEnded { status }).is_err() {
                    return 1;
                }
            }
            Ok(_) => {}
            // The supervisor is gone or broken: nothing left to work for.
            Err(_) => return 0,
        }
    }
}

/// What `runner.init` returns about the skill library: the functions
/// loaded `(name, signature, doc, module)` and the failures `(module, error)`.
type LibraryLoaded = (Vec<(String, String, String, String)>, Vec<(String, String)>);

fn start_python(
    py: Python<'_>,
    init: &WorkerInit,
) -> Result<(Py<PyModule>, LibraryReport), String> {
    let describe = |e: PyErr| {
        let tb = e
            .traceback(py)
            .and_then(|tb| tb.format().ok())
            .unwrap_or_default();
        format!("Python start-up failed: {tb}{e}")
    };
    python::add_module(py).map_err(describe)?;
    add_virtualenv(py).map_err(describe)?;
    let source = CString::new(RUNNER_SOURCE).map_err(|e| e.to_string())?;
    let runner =
        PyModule::from_code(py, &source, c"<codeact>", c"_codeact_runner").map_err(describe)?;
    let errors: Vec<(&str, &str, &str)> = robot_api::ErrorKind::ALL
        .iter()
        .map(|k| (k.python_name(), k.python_base(), k.doc()))
        .collect();
    let records: Vec<(&str, Vec<String>, &str, &str)> = init
        .records
        .iter()
        .map(|r| {
            (
                r.name.as_str(),
                r.fields.clone(),
                r.doc.as_str(),
                r.methods.as_str(),
            )
        })
        .collect();
    let library_dir = init
        .library
        .as_ref()
        .map(|d| d.to_string_lossy().into_owned());
    let (functions, broken): LibraryLoaded = runner
        .getattr("init")
        .and_then(|f| {
            f.call1((
                errors,
                records,
                python::skills_source(&init.skills),
                library_dir,
            ))
        })
        .and_then(|r| r.extract())
        .map_err(describe)?;
    let library = LibraryReport {
        dir: init.library.clone(),
        functions: functions
            .into_iter()
            .map(|(name, signature, doc, module)| LibraryFunction {
                name,
                signature,
                doc,
                module: module.into(),
            })
            .collect(),
        broken: broken
            .into_iter()
            .map(|(module, error)| BrokenModule {
                module: module.into(),
                error,
            })
            .collect(),
    };
    Ok((runner.unbind(), library))
}

/// An embedded interpreter ignores `VIRTUAL_ENV`; honour it so the packages
/// of the user's virtualenv can be imported.
fn add_virtualenv(py: Python<'_>) -> PyResult<()> {
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        let (major, minor) = (py.version_info().major, py.version_info().minor);
        let site =
            std::path::Path::new(&venv).join(format!("lib/python{major}.{minor}/site-packages"));
        if site.is_dir() {
            py.import("site")?
                .getattr("addsitedir")?
                .call1((site.to_string_lossy().as_ref(),))?;
        }
    }
    Ok(())
}

/// Reads interrupt requests while actions run. Exits the worker when the
/// supervisor is gone, even in the middle of an action.
fn interrupt_loop(mut rx: Receiver, main_thread: nix::sys::pthread::Pthread) {
    let state = python::state();
    loop {
        match rx.recv::<ToWorker>(Duration::ZERO) {
            Ok(ToWorker::Interrupt { action, reason }) => {
                if state.request_interrupt(action, reason) {
                    // The Python handler raises in the main thread, even out of time.sleep().
                    let _ = nix::sys::pthread::pthread_kill(main_thread, Signal::SIGUSR1);
                }
            }
            Ok(ToWorker::EndRehearsal) => {
                let pid = state
                    .rehearsal_pid
                    .load(std::sync::atomic::Ordering::SeqCst);
                if pid > 0 {
                    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    // SAFETY: immediate exit without running Python finalisers.
    unsafe { libc::_exit(0) }
}

/// Rehearses `request` in a fork of this worker, on the channels the
/// supervisor passes on `rehearsals` (control, skill, interrupt, in that
/// order): the fork has the namespace as it is now, copied on write, and
/// never the worker's own channels. Waits for it to end; its exit status.
fn rehearse(
    runner: &Py<PyModule>,
    rehearsals: &UnixStream,
    workspace: &std::path::Path,
    request: ExecuteRequest,
) -> i32 {
    let fds = match codeact_protocol::wire::recv_fds(rehearsals) {
        Ok(fds) if fds.len() == 3 => fds,
        Ok(_) | Err(_) => return -1,
    };
    let state = python::state();
    let forked = {
        let _held = state.hold_for_fork();
        // Python's own fork: its locks and at-fork hooks (which close the
        // worker's channels in the child) are taken care of.
        Python::attach(|py| {
            py.import("os")
                .and_then(|os| os.call_method0("fork"))
                .and_then(|pid| pid.extract::<i32>())
        })
    };
    match forked {
        Ok(0) => rehearsal(runner, fds, workspace, request),
        Ok(pid) => {
            drop(fds);
            state
                .rehearsal_pid
                .store(pid, std::sync::atomic::Ordering::SeqCst);
            let status = wait_for(Pid::from_raw(pid));
            state
                .rehearsal_pid
                .store(0, std::sync::atomic::Ordering::SeqCst);
            status
        }
        Err(_) => -1,
    }
}

/// The rehearsal's process: takes its own channels, runs the action as the
/// worker would, reports on its own control channel, and exits.
fn rehearsal(
    runner: &Py<PyModule>,
    fds: Vec<std::os::fd::OwnedFd>,
    workspace: &std::path::Path,
    request: ExecuteRequest,
) -> ! {
    // The worker's channels (closed by the at-fork hook already) and the
    // rehearsal socket: never this process's.
    for fd in [CONTROL_FD, SKILL_FD, INTERRUPT_FD, REHEARSAL_FD] {
        // SAFETY: closing fds this process must not use; the rehearsal's
        // own were received before the fork, so they are numbered above these.
        unsafe { libc::close(fd) };
    }
    let mut streams = fds.into_iter().map(UnixStream::from);
    let (Some(control), Some(skill), Some(interrupts)) =
        (streams.next(), streams.next(), streams.next())
    else {
        // SAFETY: immediate exit of a forked child.
        unsafe { libc::_exit(1) }
    };
    let Ok(skill_read) = skill.try_clone() else {
        // SAFETY: as above.
        unsafe { libc::_exit(1) }
    };
    let state = python::state();
    state.become_rehearsal(
        Sender::new(control),
        (Sender::new(skill), Receiver::new(skill_read)),
    );
    // Threads do not survive a fork: the rehearsal starts its own.
    let _ = std::thread::Builder::new()
        .name("codeact-flusher".into())
        .spawn(|| python::state().flusher_loop());
    let main_thread = nix::sys::pthread::pthread_self();
    let _ = std::thread::Builder::new()
        .name("codeact-interrupts".into())
        .spawn(move || interrupt_loop(Receiver::new(interrupts), main_thread));
    let mut census = Census::new(false);
    let mut report_notes = Vec::new();
    if let Err(why) = enter_copy(&workspace.join(REHEARSAL_DIR)) {
        report_notes.push(why);
    }
    let mut report = run_action(runner, &mut census, request);
    report.notes.extend(report_notes);
    state.flush();
    let _ = python::lock_send(&FromWorker::Finished(Box::new(report)));
    // SAFETY: the rehearsal's end: no Python finalisers, nothing of the worker's.
    unsafe { libc::_exit(0) }
}

/// In a rehearsal's process: works in `copy` (the supervisor's copy of the
/// workspace) as its working directory, HOME and TMPDIR, and may write
/// nowhere else. Why not, if it cannot.
fn enter_copy(copy: &std::path::Path) -> Result<(), String> {
    if !copy.is_dir() {
        return Err("the rehearsal had no copy of the workspace; it could not write files".into());
    }
    let tmp = copy.join(".tmp");
    let _ = std::fs::create_dir_all(&tmp);
    let (copy_text, tmp_text) = (copy.to_string_lossy(), tmp.to_string_lossy());
    let moved = Python::attach(|py| -> PyResult<()> {
        let os = py.import("os")?;
        os.call_method1("chdir", (copy_text.as_ref(),))?;
        let environ = os.getattr("environ")?;
        environ.set_item("HOME", copy_text.as_ref())?;
        environ.set_item("TMPDIR", tmp_text.as_ref())?;
        // tempfile remembers the directory it chose first.
        py.import("tempfile")?.setattr("tempdir", py.None())?;
        Ok(())
    });
    moved
        .map_err(|e| format!("the rehearsal could not move into its copy of the workspace: {e}"))?;
    if !isolation::rehearsal_writes_only_in(copy) {
        return Err(
            "the kernel could not confine the rehearsal's writes to its copy of the workspace"
                .into(),
        );
    }
    Ok(())
}

/// What `runner.run` returns, read from its dict by key.
#[derive(Default, FromPyObject)]
#[pyo3(from_item_all)]
struct RunReport {
    /// `repr()` of the last expression's value, if not None.
    result: Option<String>,
    /// The exception that ended the action.
    error: Option<RunError>,
    /// The interrupt's code ([`InterruptReason::code`]), 0 for none.
    interrupted: u8,
    /// Things worth knowing about the action.
    notes: Vec<String>,
    /// The action left something to clean up (threads, replaced streams).
    abnormal: bool,
    /// Pictures `show()` attached (taken into [`Picture`]s while Python is held).
    shown: Vec<Shown>,
}

/// The exception of a [`RunReport`].
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct RunError {
    type_name: String,
    message: String,
    traceback: String,
    line: Option<u32>,
}

/// A picture of a [`RunReport`]: its bytes, MIME type and caption.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Shown {
    data: Py<PyBytes>,
    mime: String,
    caption: Option<String>,
}

fn run_action(runner: &Py<PyModule>, census: &mut Census, request: ExecuteRequest) -> ActionReport {
    let state = python::state();
    // Threads alive now (from earlier actions, or created between actions)
    // may not call skills during this one.
    census.update();
    let leftovers_before = !census.processes.is_empty();
    state.begin_action(request.action, request.limits, &census.threads);

    let outcome: Result<(RunReport, Vec<Picture>), String> = Python::attach(|py| {
        let run = runner.bind(py).getattr("run").map_err(|e| e.to_string())?;
        let out = run
            .call1((request.code.as_str(), request.action))
            .map_err(|e| {
                format!(
                    "{}: {e}",
                    e.get_type(py)
                        .name()
                        .map(|n| n.to_string())
                        .unwrap_or_default()
                )
            })?;
        let mut report = out.extract::<RunReport>().map_err(|e| e.to_string())?;
        // Bytes objects: copied whole, not byte by byte as a sequence.
        // show() takes PNG and JPEG only: nothing else reaches here.
        let pictures = std::mem::take(&mut report.shown)
            .into_iter()
            .filter_map(|s| {
                Some(Picture {
                    mime: ImageType::from_mime(&s.mime)?,
                    data: s.data.as_bytes(py).to_vec(),
                    caption: s.caption,
                })
            })
            .collect();
        Ok((report, pictures))
    });
    if state.is_forked() {
        // A child forked by the action's code reached the end of the action: it
        // has no one to report to.
        // SAFETY: immediate exit of a forked child.
        unsafe { libc::_exit(0) }
    }
    let mut notes = state.end_action();
    let (report, pictures) = outcome.unwrap_or_else(|message| {
        // The runner itself was hit (an interrupt landing after the code ended).
        let error = RunError {
            type_name: "ExecutorError".into(),
            message: message.clone(),
            traceback: format!("{message}\n"),
            line: None,
        };
        let report = RunReport {
            error: Some(error),
            abnormal: true,
            ..RunReport::default()
        };
        (report, Vec::new())
    });
    let RunReport {
        result,
        error,
        interrupted,
        notes: run_notes,
        mut abnormal,
        ..
    } = report;
    notes.extend(run_notes);
    if let Some(new) = census.update() {
        if !new.processes.is_empty() {
            let list: Vec<String> = new
                .processes
                .iter()
                .map(|(pid, comm)| format!("{pid} ({comm})"))
                .collect();
            if leftovers_before {
                // They may descend from processes of earlier actions: not this action's doing.
                notes.push(format!(
                    "new processes appeared while processes left by earlier actions were running: {}; they cannot call skills, and a reset kills them all",
                    list.join(", ")
                ));
            } else {
                abnormal = true;
                notes.push(format!(
                    "process(es) started by this action are still running: {}; they cannot call skills, and a reset kills them",
                    list.join(", ")
                ));
            }
        }
    }
    let (cut_bytes, tail) = state.finish_output();
    ActionReport {
        action: request.action,
        result,
        error: error.map(|e| ErrorReport {
            type_name: e.type_name,
            message: e.message,
            traceback: e.traceback,
            line: e.line,
        }),
        interrupted: InterruptReason::from_code(interrupted),
        cut_bytes,
        tail,
        notes,
        abnormal,
        images: pictures,
    }
}
