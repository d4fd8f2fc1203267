//! A pids cgroup per worker: the process-count limit that binds even a root
//! worker (RLIMIT_NPROC does not), and a way to find every process to kill.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A pids cgroup made for one worker; removed on drop.
#[derive(Debug)]
pub struct PidsCgroup {
    dir: PathBuf,
}

impl PidsCgroup {
    /// Makes a cgroup allowing `max` processes, under our own pids cgroup
    /// (v1 `pids` hierarchy or v2 with the pids controller). `None` when
    /// neither is writable (not root, no delegation).
    pub fn create(max: u64) -> Option<Self> {
        let parent = own_pids_cgroup()?;
        remove_stale(&parent);
        let name = format!(
            "codeact-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = parent.join(name);
        if fs::create_dir(&dir).is_err() {
            // Left by an earlier process that had our PID (we never made this
            // name before): clear it out and take it.
            PidsCgroup::remove(dir.clone());
            fs::create_dir(&dir).ok()?;
        }
        let cg = PidsCgroup { dir };
        fs::write(cg.dir.join("pids.max"), max.to_string()).ok()?;
        Some(cg)
    }

    /// The cgroup's folder.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Kills what is left in the cgroup at `dir` and removes it (one whose
    /// owner cannot drop it: a process about to exit, a supervisor gone).
    pub fn remove(dir: PathBuf) {
        drop(PidsCgroup { dir });
    }

    /// The file a process writes "0" to, to join.
    pub fn procs_file(&self) -> PathBuf {
        self.dir.join("cgroup.procs")
    }

    /// SIGKILLs every process in the cgroup (v2 `cgroup.kill` when present).
    pub fn kill_all(&self) {
        if fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        // v1 has no cgroup.kill: kill what is listed until nothing is (new forks race us).
        for _ in 0..50 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.procs_file())
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // Dying processes leave the cgroup asynchronously: retry briefly.
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                return;
            }
            self.kill_all();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Removes the cgroups of supervisors that are gone (killed before they
/// could clean up), killing whatever is still in them.
fn remove_stale(parent: &Path) {
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().and_then(super::remains::gone_owner).is_some() {
            PidsCgroup::remove(entry.path());
        }
    }
}

fn own_pids_cgroup() -> Option<PathBuf> {
    let own = fs::read_to_string("/proc/self/cgroup").ok()?;
    let v1 = Path::new("/sys/fs/cgroup/pids");
    if v1.join("cgroup.procs").exists() {
        let path = own
            .lines()
            .find_map(|l| l.split_once(":pids:").map(|(_, p)| p.to_owned()))?;
        return Some(v1.join(path.trim_start_matches('/')));
    }
    let v2 = Path::new("/sys/fs/cgroup");
    let controllers = fs::read_to_string(v2.join("cgroup.controllers")).ok()?;
    if !controllers.split_whitespace().any(|c| c == "pids") {
        return None;
    }
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let parent = v2.join(path.trim_start_matches('/'));
    fs::write(parent.join("cgroup.subtree_control"), "+pids").ok()?;
    Some(parent)
}
