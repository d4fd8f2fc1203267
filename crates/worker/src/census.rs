//! Which threads and processes exist in the worker, so that the report of an
//! action can name what it left running. Listing /proc costs tens of
//! microseconds, so a listing is only redone when the PID namespace handed
//! out a new PID (or thread id) since the last one: the kernel's
//! `ns_last_pid` says so in one small read.

use std::collections::HashSet;

/// Threads of this process and other processes of the PID namespace
/// (without init and this process), as last listed.
#[derive(Debug, Default)]
pub struct Census {
    /// `ns_last_pid` when the lists were made; `None` forces a new listing.
    last_pid: Option<u64>,
    /// Thread ids of this process.
    pub threads: HashSet<i32>,
    /// Other processes; only tracked when this process is PID 2 of its own
    /// namespace (otherwise it would list the whole machine).
    pub processes: HashSet<i32>,
    track_processes: bool,
    /// `/proc/sys/kernel/ns_last_pid`, kept open: re-reading it is a single syscall.
    last_pid_file: Option<std::fs::File>,
}

/// What appeared since the previous listing and is still alive.
#[derive(Debug, Default)]
pub struct NewTasks {
    /// New processes, with their command names.
    pub processes: Vec<(i32, String)>,
}

impl Census {
    /// A census that tracks other processes when `track_processes` is set.
    pub fn new(track_processes: bool) -> Self {
        let mut census = Census {
            track_processes,
            last_pid_file: std::fs::File::open("/proc/sys/kernel/ns_last_pid").ok(),
            ..Census::default()
        };
        census.update();
        census
    }

    /// Brings the lists up to date. Returns what appeared since the last
    /// update, or `None` when nothing can have (no PID was handed out).
    pub fn update(&mut self) -> Option<NewTasks> {
        // Read before listing: anything created during the listing changes it again.
        let last_pid = self.ns_last_pid();
        if last_pid.is_some() && last_pid == self.last_pid {
            return None;
        }
        self.last_pid = last_pid;
        let threads = list_numeric("/proc/self/task");
        let processes = if self.track_processes {
            let me = std::process::id() as i32;
            let mut all = list_numeric("/proc");
            all.retain(|&pid| pid != 1 && pid != me);
            all
        } else {
            HashSet::new()
        };
        let mut new = NewTasks {
            processes: processes
                .difference(&self.processes)
                .map(|&pid| {
                    let comm =
                        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                    (pid, comm.trim().to_owned())
                })
                .collect(),
        };
        new.processes.sort_unstable();
        self.threads = threads;
        self.processes = processes;
        Some(new)
    }
}

impl Census {
    /// The last PID handed out in this process's PID namespace.
    fn ns_last_pid(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 24];
        let n = self.last_pid_file.as_ref()?.read_at(&mut buf, 0).ok()?;
        std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
    }
}

fn list_numeric(dir: &str) -> HashSet<i32> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_thread_is_listed() {
        let mut census = Census::new(false);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || {
            let _ = tid_tx.send(nix::unistd::gettid().as_raw());
            let _ = rx.recv();
        });
        let tid = tid_rx.recv().unwrap();
        let before = census.threads.clone();
        census.update().expect("a thread was created");
        // Other tests of this process start threads too: look for this one.
        assert!(!before.contains(&tid) && census.threads.contains(&tid));
        drop(tx);
        handle.join().unwrap();
    }
}
