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

/// The supervisor that made `name` (`codeact-PID-N`: a temporary workspace
/// or a pids cgroup), when that process is gone; `None` for any other name
/// and for a process that still runs (this one included).
pub(crate) fn gone_owner(name: &str) -> Option<u32> {
    let mut parts = name.strip_prefix("codeact-")?.split('-');
    let pid = parts.next()?.parse::<u32>().ok()?;
    let n = parts.next()?;
    if parts.next().is_some() || n.parse::<u64>().is_err() {
        return None;
    }
    let alive = pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists();
    (!alive).then_some(pid)
}

/// Removes from `dir` the temporary workspaces of supervisors that are gone
/// (killed before they could clean up: SIGKILL, a power loss), this user's
/// only.
pub(crate) fn remove_stale_workspaces(dir: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    // SAFETY: a plain getter with no preconditions.
    let uid = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let ours = entry.metadata().is_ok_and(|m| m.is_dir() && m.uid() == uid);
        let stale = entry.file_name().to_str().and_then(gone_owner).is_some();
        if ours && stale {
            tracing::debug!(workspace = %entry.path().display(), "removing a workspace its session left");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_workspaces_of_gone_supervisors_are_swept() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        assert_eq!(gone_owner(&format!("codeact-{gone}-3")), Some(gone));
        assert_eq!(gone_owner(&format!("codeact-{me}-3")), None, "this process");
        assert_eq!(gone_owner("codeact-1-2"), None, "init runs");
        for other in [
            "codeact-lib-test-5",
            "codeact-bench-relay-7",
            "codeact-12-x",
            "codeact-12-3-4",
        ] {
            assert_eq!(gone_owner(other), None, "{other}");
        }

        let dir = std::env::temp_dir().join(format!("codeact-sweep-test-{me}"));
        let names = [
            format!("codeact-{gone}-3"),
            format!("codeact-{me}-4"),
            "codeact-lib-test-5".into(),
        ];
        for name in &names {
            std::fs::create_dir_all(dir.join(name).join(".tmp")).unwrap();
        }
        std::fs::write(
            dir.join(format!("codeact-{gone}-9")),
            "a file, not a workspace",
        )
        .unwrap();
        remove_stale_workspaces(&dir);
        assert!(
            !dir.join(&names[0]).exists(),
            "a gone session's workspace is removed"
        );
        assert!(dir.join(&names[1]).exists() && dir.join(&names[2]).exists());
        assert!(
            dir.join(format!("codeact-{gone}-9")).exists(),
            "only folders"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
