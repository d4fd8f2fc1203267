//! Executor settings: time limits, resource limits, output limits, the sandbox.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::wire::OutputLimits;

/// Resource limits of the worker process, enforced by the kernel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Limits {
    /// Address-space limit in MiB (`RLIMIT_AS`): a memory bomb gets `MemoryError`.
    pub memory_mb: u64,
    /// CPU seconds for the worker's whole life (`RLIMIT_CPU`); past it the worker is restarted.
    pub cpu_seconds: u64,
    /// Processes and threads the worker may have at once (pids cgroup, or `RLIMIT_NPROC`).
    pub max_processes: u64,
    /// Largest file the worker may write, in MiB (`RLIMIT_FSIZE`).
    pub file_size_mb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_mb: 2048,
            cpu_seconds: 3600,
            max_processes: 64,
            file_size_mb: 1024,
        }
    }
}

/// Settings of one executor session.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Default wall-clock limit of an action (overridable per action).
    pub timeout: Duration,
    /// How long an interrupted action has to stop before the worker is killed.
    pub grace: Duration,
    /// Kernel-enforced limits of the worker.
    pub limits: Limits,
    /// How much output an action keeps and may write.
    pub output: OutputLimits,
    /// The directory the worker may write in. `None`: a fresh temporary directory.
    pub workspace: Option<PathBuf>,
    /// Apply the kernel sandbox (namespaces, Landlock, capabilities). On by default;
    /// off only for debugging, with a warning.
    pub sandbox: bool,
    /// The worker binary to start workers from. `None`: `codeact-worker`
    /// beside this executable.
    pub worker_exe: Option<PathBuf>,
    /// The skill library folder whose modules every worker loads at start
    /// (`None`: no library). Saving needs `codeact::executor::library::add_save_skill`.
    pub library: Option<PathBuf>,
}

impl ExecutorConfig {
    /// The longest a stopped action takes to end: the grace, and a fresh
    /// worker's start after a hard stop. What waits for a stopping action
    /// (the next MCP call, a signal's orderly end) waits this long.
    pub fn stop_wait(&self) -> Duration {
        self.grace + Duration::from_secs(3)
    }
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            timeout: Duration::from_secs(30),
            grace: Duration::from_secs(2),
            limits: Limits::default(),
            output: OutputLimits {
                head: 64 << 10,
                tail: 16 << 10,
                max_total: 16 << 20,
            },
            workspace: None,
            sandbox: true,
            worker_exe: None,
            library: None,
        }
    }
}

/// What the supervisor tells a new worker process (as JSON on its command line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// The only directory the worker may write in; also its cwd and HOME.
    pub workspace: PathBuf,
    /// Resource limits.
    pub limits: Limits,
    /// Apply the sandbox.
    pub sandbox: bool,
    /// `cgroup.procs` of a pids cgroup made for this worker, if the supervisor could make one.
    pub cgroup_procs: Option<PathBuf>,
}

/// The longest time limit an action may have, seconds (a week): longer is
/// a mistake (milliseconds for seconds), not a plan.
pub const MAX_ACTION_SECONDS: f64 = 604_800.0;

/// Whether `seconds` is a valid time limit: positive, finite, at most [`MAX_ACTION_SECONDS`].
pub fn valid_time_limit(seconds: f64) -> bool {
    seconds > 0.0 && seconds <= MAX_ACTION_SECONDS
}
