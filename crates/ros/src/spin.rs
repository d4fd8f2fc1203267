//! [`RosThread`]: one thread owns the r2r node, spins it and runs the tasks
//! that handle its subscriptions, services and actions. Other threads (the
//! skills, the session) hand it jobs that need the node, such as creating a
//! subscription, and wait for their results. Owning the node on one thread
//! keeps r2r's handles off shared locks; a job waits at most one spin period
//! (2 ms idle, 0.25 ms for a while after a job). Its ROS clock gives the
//! stamps: the system clock, or /clock under sim time.

use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use futures::executor::{LocalPool, LocalSpawner};

/// Longest a spin waits for ROS traffic before the thread looks at its jobs,
/// when idle.
const SPIN_IDLE: Duration = Duration::from_millis(2);
/// The same for a while after a job: a job (sending a goal, a request) is
/// usually the first of a few exchanges, each of which may wait one period.
/// Idle, the shorter period would double the thread's CPU (2% to 4% of a core).
const SPIN_BUSY: Duration = Duration::from_micros(250);
/// How long the thread stays busy after a job.
const BUSY_FOR: Duration = Duration::from_millis(100);

/// Keeps DDS discovery on this machine unless the user chose otherwise: DDS
/// multicasts beyond it by default; a robot network opts in explicitly.
/// Called before every ROS context is created.
pub fn keep_dds_local_by_default() {
    if std::env::var_os("ROS_AUTOMATIC_DISCOVERY_RANGE").is_none() {
        std::env::set_var("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST");
    }
}

/// ROS time as the node sees it: the system clock, or under sim time the
/// latest /clock message (zero before the first), as ROS nodes do with the
/// parameter `use_sim_time`. (r2r's own time source is compiled out of its
/// wheels-based build.)
pub struct RosClock {
    /// The latest /clock time, under sim time.
    sim: Option<std::sync::Mutex<Duration>>,
}

impl RosClock {
    fn new(sim_time: bool) -> Self {
        RosClock {
            sim: sim_time.then(|| std::sync::Mutex::new(Duration::ZERO)),
        }
    }

    /// Whether the clock follows /clock.
    pub fn is_sim_time(&self) -> bool {
        self.sim.is_some()
    }

    /// ROS time now, since the epoch (or the simulation's start).
    pub fn now(&self) -> Duration {
        match &self.sim {
            Some(latest) => *latest.lock().unwrap_or_else(|e| e.into_inner()),
            None => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// [`RosClock::now`] as a message stamp.
    pub fn stamp(&self) -> r2r::builtin_interfaces::msg::Time {
        let now = self.now();
        r2r::builtin_interfaces::msg::Time {
            sec: now.as_secs() as i32,
            nanosec: now.subsec_nanos(),
        }
    }

    /// Subscribes to /clock (best effort, as simulators publish it).
    fn follow(self: &Arc<Self>, node: &mut r2r::Node, spawner: &LocalSpawner) -> r2r::Result<()> {
        use futures::task::LocalSpawnExt;
        use futures::StreamExt;
        let qos = r2r::QosProfile::default().best_effort();
        let ticks = node.subscribe::<r2r::rosgraph_msgs::msg::Clock>("/clock", qos)?;
        let clock = self.clone();
        spawner
            .spawn_local(ticks.for_each(move |m| {
                if let Some(latest) = &clock.sim {
                    *latest.lock().unwrap_or_else(|e| e.into_inner()) =
                        Duration::new(m.clock.sec.max(0) as u64, m.clock.nanosec);
                }
                futures::future::ready(())
            }))
            .map_err(|_| r2r::Error::RCL_RET_ERROR)
    }
}

/// A job for the ROS thread.
type Job = Box<dyn FnOnce(&mut r2r::Node, &LocalSpawner) + Send>;

/// Errors talking to the ROS thread.
#[derive(Debug, thiserror::Error)]
pub enum RosError {
    /// The node could not be created.
    #[error("could not start the ROS node {name}: {message} (is the ROS environment set? see docs/ros.md)")]
    Start {
        /// Node name.
        name: String,
        /// What r2r said.
        message: String,
    },
    /// The thread is gone (the node shut down).
    #[error("the ROS node has shut down")]
    Gone,
    /// r2r refused a request.
    #[error("{0}")]
    R2r(String),
}

/// The thread that owns the node.
pub struct RosThread {
    jobs: mpsc::Sender<Job>,
    /// The node's ROS clock: the system clock, or /clock under sim time.
    clock: Arc<RosClock>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    shutdown: Arc<std::sync::atomic::AtomicBool>,
    /// The node's fully qualified name ("/codeact").
    pub node_name: String,
}

impl RosThread {
    /// Creates the node `name` and starts spinning it.
    pub fn start(name: &str) -> Result<Self, RosError> {
        Self::start_with(name, false)
    }

    /// [`RosThread::start`]; with `sim_time`, the node's clock follows /clock
    /// (the parameter `use_sim_time` of ROS nodes).
    pub fn start_with(name: &str, sim_time: bool) -> Result<Self, RosError> {
        keep_dds_local_by_default();
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel();
        let shutdown = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = shutdown.clone();
        let node_name = name.to_owned();
        let thread = std::thread::Builder::new()
            .name("ros".into())
            .spawn(move || {
                let node =
                    r2r::Context::create().and_then(|ctx| r2r::Node::create(ctx, &node_name, ""));
                let mut pool = LocalPool::new();
                let spawner = pool.spawner();
                let clock = Arc::new(RosClock::new(sim_time));
                let mut node = match node.and_then(|mut node| {
                    if sim_time {
                        clock.follow(&mut node, &spawner)?;
                    }
                    Ok(node)
                }) {
                    Ok(node) => {
                        let name = node.fully_qualified_name().unwrap_or_default();
                        let _ = ready_tx.send(Ok((name, clock)));
                        node
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let mut busy_until = std::time::Instant::now();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let now = std::time::Instant::now();
                    node.spin_once(if now < busy_until {
                        SPIN_BUSY
                    } else {
                        SPIN_IDLE
                    });
                    crate::spin::clear_rcl_error();
                    pool.run_until_stalled();
                    while let Ok(job) = rx.try_recv() {
                        job(&mut node, &spawner);
                        busy_until = std::time::Instant::now() + BUSY_FOR;
                    }
                    pool.run_until_stalled();
                }
            })
            .map_err(|e| RosError::Start {
                name: name.into(),
                message: e.to_string(),
            })?;
        let (fq, clock) = ready_rx
            .recv()
            .map_err(|_| RosError::Gone)?
            .map_err(|message| RosError::Start {
                name: name.into(),
                message,
            })?;
        Ok(RosThread {
            jobs,
            clock,
            thread: std::sync::Mutex::new(Some(thread)),
            shutdown,
            node_name: fq,
        })
    }

    /// The node's clock, shared (for stamps taken on other threads).
    pub fn clock(&self) -> Arc<RosClock> {
        self.clock.clone()
    }

    /// Runs `job` on the ROS thread and waits for its result.
    pub fn run<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut r2r::Node, &LocalSpawner) -> R + Send + 'static,
    ) -> Result<R, RosError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move |node, spawner| {
                let _ = tx.send(job(node, spawner));
            }))
            .map_err(|_| RosError::Gone)?;
        rx.recv().map_err(|_| RosError::Gone)
    }
}

/// Hands jobs to the ROS thread without waiting for them: for code that
/// may itself run on that thread (a subscription's callback), where waiting
/// would deadlock.
#[derive(Clone)]
pub struct Poster(mpsc::Sender<Job>);

impl Poster {
    /// Runs `job` on the ROS thread soon; nothing happens if the node is gone.
    pub fn post(&self, job: impl FnOnce(&mut r2r::Node, &LocalSpawner) + Send + 'static) {
        let _ = self.0.send(Box::new(job));
    }
}

impl RosThread {
    /// A handle that posts jobs without waiting.
    pub fn poster(&self) -> Poster {
        Poster(self.jobs.clone())
    }

    /// Stops spinning and waits for the thread, whoever else still holds
    /// this handle: a process must not exit with the node spinning (its
    /// exit-time destructors race the thread and corrupt the heap). Jobs
    /// sent later are not run.
    pub fn shutdown(&self) {
        self.shutdown
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

impl Drop for RosThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Clears rcl's error state on this thread. r2r's `spin_once` leaves it set
/// when the wait set is empty (a node with nothing to wait for yet), and
/// the next rcl error on the thread then prints a warning that it
/// overwrote it: noise on the terminal, about nothing.
pub(crate) fn clear_rcl_error() {
    // SAFETY: resets this thread's rcutils error state; no pointers involved.
    unsafe { r2r_rcl::rcutils_reset_error() };
}
