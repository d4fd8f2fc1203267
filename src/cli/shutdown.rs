//! Ending a command in order on SIGINT or SIGTERM: the running action is
//! interrupted, the robot brought to a safe stop, the recording finished,
//! the worker, its cgroup and the temporary workspace removed, and the
//! process exits with 128 + the signal's number (130, 143).
//!
//! A thread of its own waits for the signals. The command's own thread
//! notices [`Shutdown::requested`] between actions and ends in order; when
//! it cannot (it is blocked reading input or waiting for a model), this
//! thread does the same cleanup itself once the action has stopped, and
//! exits. A second signal does it at once.

use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use robot_api::SkillSet;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::executor::{Interrupter, Remains};
use crate::record::Recorder;

/// How long the command's thread has, once no action runs, to notice the
/// signal and start ending in order itself.
const NOTICE: Duration = Duration::from_millis(300);
/// How long an ordered end (a recording's last chunk, the worker's exit) may take.
const ORDERLY_END: Duration = Duration::from_secs(10);

/// Where the command's own thread is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// It noticed the signal and is ending in order.
    Ending,
    /// It has finished its cleanup.
    Ended,
}

/// What the signal thread needs to end a session from outside. The skills
/// and the recording are held weakly: they hold the robot, and a ROS
/// robot's node must be gone before the process exits (its thread racing
/// the exit-time destructors corrupts the heap).
pub struct Ends {
    /// Interrupts the running action.
    pub interrupter: Interrupter,
    /// The robot's safe stop.
    pub skills: Weak<SkillSet>,
    /// The recording to finish.
    pub recorder: Option<Weak<Recorder>>,
    /// The worker, cgroup and workspace to remove.
    pub remains: Remains,
    /// The longest a stopping action takes (the stop grace and a worker's start).
    pub stop_wait: Duration,
    /// Cancelled on the signal (an agent loop's episode), if any.
    pub cancel: Option<robot_api::CancelToken>,
}

/// A handle on the signals that end the command.
pub struct Shutdown {
    signal: Arc<AtomicI32>,
    phase: Arc<(Mutex<Phase>, Condvar)>,
}

/// The signals that end a command: SIGTERM always, SIGINT unless the
/// command reads Ctrl-C itself (the REPL on a terminal).
pub fn signals(with_sigint: bool) -> Vec<i32> {
    if with_sigint {
        vec![SIGINT, SIGTERM]
    } else {
        vec![SIGTERM]
    }
}

impl Shutdown {
    /// Starts watching for `signals`; `ends` says what to stop and remove.
    pub fn install(signals: &[i32], ends: Ends) -> Result<Shutdown> {
        let mut incoming = Signals::new(signals).context("watching for SIGINT and SIGTERM")?;
        let shutdown = Shutdown {
            signal: Arc::default(),
            phase: Arc::new((Mutex::new(Phase::Running), Condvar::new())),
        };
        let (signal, phase) = (shutdown.signal.clone(), shutdown.phase.clone());
        std::thread::Builder::new()
            .name("codeact-signals".into())
            .spawn(move || {
                let mut seen = incoming.forever();
                let Some(first) = seen.next() else { return };
                signal.store(first, Ordering::SeqCst);
                tracing::info!("signal {first}: stopping the action and ending in order");
                ends.remains.close();
                if let Some(cancel) = &ends.cancel {
                    cancel.cancel();
                }
                ends.interrupter.interrupt();
                // Waits for the command's thread, or ends in its place if it
                // cannot; a second signal ends at once.
                let (again_tx, again) = std::sync::mpsc::channel();
                let ender = std::thread::spawn(move || {
                    if !wait_for_command(&ends, &phase, &again) {
                        end_from_here(&ends);
                        // Without exit-time destructors: the command's thread
                        // (and a ROS node's) still run, and must not race them.
                        // SAFETY: _exit ends the process; nothing runs after it.
                        unsafe { libc::_exit(128 + first) };
                    }
                });
                if seen.next().is_some() {
                    let _ = again_tx.send(());
                }
                let _ = ender.join();
            })
            .context("starting the signal thread")?;
        Ok(shutdown)
    }

    /// The signal that asked the command to end, if one did. The command's
    /// thread then ends in order; call [`Shutdown::ending`] first.
    pub fn requested(&self) -> Option<i32> {
        match self.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Says the command's thread is ending in order now (the signal thread
    /// waits for it instead of ending in its place).
    pub fn ending(&self) {
        self.set(Phase::Ending);
    }

    /// Says the command's thread has finished its cleanup; returns the exit
    /// code: 128 + the signal when one ended it, else `normal`.
    pub fn ended(&self, normal: ExitCode) -> ExitCode {
        self.set(Phase::Ended);
        match self.requested() {
            Some(s) => ExitCode::from((128 + s) as u8),
            None => normal,
        }
    }

    fn set(&self, to: Phase) {
        let (phase, changed) = &*self.phase;
        *phase.lock().unwrap_or_else(|e| e.into_inner()) = to;
        changed.notify_all();
    }
}

/// Waits for the command's thread to end in order: true once it has. False
/// when it will not (it stays blocked after the action stopped) or a second
/// signal came.
fn wait_for_command(
    ends: &Ends,
    phase: &(Mutex<Phase>, Condvar),
    again: &std::sync::mpsc::Receiver<()>,
) -> bool {
    let (lock, changed) = phase;
    let started = Instant::now();
    let mut quiet_since: Option<Instant> = None;
    loop {
        if again.try_recv().is_ok() {
            return false;
        }
        let now = *lock.lock().unwrap_or_else(|e| e.into_inner());
        let limit = match now {
            Phase::Ended => return true,
            Phase::Ending => ORDERLY_END,
            Phase::Running if ends.remains.action_running() => {
                quiet_since = None;
                ends.stop_wait
            }
            Phase::Running => {
                let since = *quiet_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= NOTICE {
                    return false;
                }
                NOTICE + ends.stop_wait
            }
        };
        if started.elapsed() >= limit + NOTICE {
            return false;
        }
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = changed.wait_timeout(guard, Duration::from_millis(20));
    }
}

/// The cleanup the command's thread would have done.
fn end_from_here(ends: &Ends) {
    ends.interrupter.interrupt();
    if let Some(skills) = ends.skills.upgrade() {
        skills.safe_stop();
    }
    if let Some(recorder) = ends.recorder.as_ref().and_then(Weak::upgrade) {
        match recorder.close() {
            Ok(()) => {
                if let Some(path) = recorder.path() {
                    eprintln!("recording: {}", path.display());
                }
            }
            Err(e) => eprintln!("error: {e}"),
        }
    }
    ends.remains.clean();
}
