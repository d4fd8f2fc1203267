//! [`Remains`]: what a session leaves on the machine while it lives (its
//! worker's processes and pids cgroup, a temporary workspace), reachable
//! from another thread. A signal handler's thread uses it to clean up when
//! the session's own thread cannot (it is blocked reading input) before the
//! process exits; the session's `Drop` does the same in the ordinary case.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Inner {
    /// The worker's outer process (the leader of its process group).
    worker: Option<i32>,
    /// The worker's pids cgroup.
    cgroup: Option<PathBuf>,
    /// The workspace, when the session made it and removes it.
    workspace: Option<PathBuf>,
}

/// A session's remains, shared. Cheap to clone.
#[derive(Clone, Default)]
pub struct Remains {
    inner: Arc<Mutex<Inner>>,
    running: Arc<AtomicBool>,
    closing: Arc<AtomicBool>,
}

impl Remains {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn set_workspace(&self, temporary: Option<PathBuf>) {
        self.lock().workspace = temporary;
    }

    pub(super) fn set_worker(&self, pid: Option<i32>, cgroup: Option<PathBuf>) {
        let mut inner = self.lock();
        inner.worker = pid;
        inner.cgroup = cgroup;
    }

    pub(super) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::SeqCst);
    }

    /// The process is ending: the session runs no new action.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    pub(super) fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Whether an action runs now.
    pub fn action_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Kills the worker and everything it started, removes its cgroup and
    /// the temporary workspace. For a process about to exit: the session
    /// itself is not usable afterwards.
    pub fn clean(&self) {
        let mut inner = self.lock();
        if let Some(pid) = inner.worker.take() {
            super::process::kill_process_group(pid);
            // Reaped so it leaves no zombie while its cgroup is removed.
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
        if let Some(dir) = inner.cgroup.take() {
            super::cgroup::PidsCgroup::remove(dir);
        }
        if let Some(dir) = inner.workspace.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
