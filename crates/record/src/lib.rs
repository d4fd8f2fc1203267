//! Recording an episode as MCAP (and showing it live): the robot's pose, lidar scans,
//! velocity commands, the map, camera pictures, each code action and its
//! observation, and robot events, on named channels with Foxglove's schemas,
//! stamped with the robot's clock (simulated seconds in the simulator).
//!
//! The file is written with the mcap crate (uncompressed chunks), each
//! chunk finished at every action's end and at least every
//! [`CHUNK_EVERY`] while messages come, so a file cut by SIGKILL or a power
//! loss still gives every finished action's messages to a reader that reads
//! it front to back (docs/foxglove.md: recovering a cut file).
//! [`RecordingBackend`] wraps the robot so what the skills do is recorded as
//! it happens; [`Recorder`] is also an [`ActionWatcher`] for the session, so
//! the code and what it gave are recorded whichever front end runs it.

mod backend;
mod channels;
mod fox;
pub mod live;
pub mod ros2;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use std::sync::mpsc;

use robot_api::{Pose2, RobotBackend};

pub use backend::RecordingBackend;
pub use channels::Format;
use channels::{Channels, Level, Message};
pub use live::{Live, LiveError};

use codeact_executor::{ActionWatcher, Observation, Status};

/// Seconds of robot time between two recorded poses while the robot moves.
pub const POSE_PERIOD: f64 = 0.2;
/// Seconds of robot time between two recorded velocity commands at most
/// (stops are always recorded).
pub const COMMAND_PERIOD: f64 = 0.2;
/// Seconds of robot time between two recorded scans at most.
pub const SCAN_PERIOD: f64 = 1.0;

/// Why a recording could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file is already there: recordings are never overwritten.
    #[error(
        "{0} already exists; give --record a new file name (recordings are never overwritten)"
    )]
    Exists(PathBuf),
    /// The live view could not start.
    #[error("{0}")]
    Live(#[from] LiveError),
    /// The file could not be created or written.
    #[error("cannot write the recording {path}: {why}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: WriteFailure,
    },
}

/// What went wrong writing a recording.
#[derive(Debug, thiserror::Error)]
pub enum WriteFailure {
    /// The file or its folder.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The MCAP writer.
    #[error("{0}")]
    Mcap(#[from] mcap::McapError),
    /// The writer thread panicked.
    #[error("the writer thread panicked")]
    Panicked,
}

/// A robot as the skills should drive it, and its recording if any.
pub struct Recorded {
    /// What the skills drive.
    pub backend: Arc<dyn RobotBackend>,
    /// The recording: to watch the session with, and close at the end.
    pub recorder: Option<Arc<Recorder>>,
}

/// Where and how a robot is recorded: an MCAP file, a live view, or both.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordTo {
    /// The MCAP file (a new one).
    pub file: Option<PathBuf>,
    /// The file's format.
    pub format: Format,
    /// Where the live view serves (loopback only).
    pub live: Option<std::net::SocketAddr>,
}

impl RecordTo {
    /// Into the new file `path`, in `format`.
    pub fn file(path: &Path, format: Format) -> Self {
        RecordTo {
            file: Some(path.to_owned()),
            format,
            live: None,
        }
    }

    /// Whether anything is to be recorded.
    pub fn is_some(&self) -> bool {
        self.file.is_some() || self.live.is_some()
    }
}

/// The robots of a fleet (name, robot), recorded into one file as `to`
/// says, when it says anything: the first on the plain channels (`/pose`),
/// each other under its name (`/beta/pose`); what the skills drive, in order.
pub fn recorded_fleet(
    robots: Vec<(String, Arc<dyn RobotBackend>)>,
    to: &RecordTo,
) -> Result<RecordedFleet, RecordError> {
    if !to.is_some() {
        return Ok(RecordedFleet {
            backends: robots.into_iter().map(|(_, r)| r).collect(),
            recorder: None,
        });
    }
    let n = robots.len();
    let recorder = Recorder::create_fleet(robots, to)?;
    Ok(RecordedFleet {
        backends: (0..n).map(|i| recorder.backend_of(i)).collect(),
        recorder: Some(recorder),
    })
}

/// A fleet as the skills drive it, and its recording if there is one.
pub struct RecordedFleet {
    /// What the skills drive, robot by robot.
    pub backends: Vec<Arc<dyn RobotBackend>>,
    /// The recording: to watch the session with, and close at the end.
    pub recorder: Option<Arc<Recorder>>,
}

/// `robot`, recorded as `to` says, when it says anything.
pub fn recorded(robot: Arc<dyn RobotBackend>, to: &RecordTo) -> Result<Recorded, RecordError> {
    let RecordedFleet {
        mut backends,
        recorder,
    } = recorded_fleet(vec![(String::new(), robot)], to)?;
    Ok(Recorded {
        backend: backends.remove(0),
        recorder,
    })
}

/// What was last recorded, to record changes at the rates above.
#[derive(Debug, Default)]
struct Sampling {
    next_pose: f64,
    last_pose: Option<Pose2>,
    /// Time and pose of the last scan recorded.
    last_scan: Option<(f64, Pose2)>,
    next_command: f64,
    last_command: Option<(f64, f64)>,
}

/// Messages handed to the writer together: waking its thread for each
/// would cost the robot's thread more than the writing does.
const BATCH: usize = 256;

/// The longest what was recorded waits, while an action runs, before its
/// chunk is finished on disk (at each action's end it is finished at once).
const CHUNK_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// What the writer thread is handed.
enum ToWriter {
    /// Messages to write.
    Batch(Vec<(u64, Message)>),
    /// Finish the chunk and flush the file: readers of a file cut after
    /// this (SIGKILL, power) see everything written so far. Told on the
    /// sender, when there is one, once it is done.
    Chunk(Option<mpsc::SyncSender<()>>),
}

/// The longest the end of an action waits for its chunk to be on disk.
const CHUNK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The file being written, on its own thread.
struct Writer {
    to: mpsc::Sender<ToWriter>,
    /// Messages not yet handed over.
    batch: Vec<(u64, Message)>,
    /// When the last chunk was finished.
    chunked: std::time::Instant,
    thread: std::thread::JoinHandle<mcap::McapResult<()>>,
}

impl Writer {
    /// Creates the new file `path` (its folder too) and the thread writing
    /// it, with channels for a fleet's robots after the first (`others`).
    fn open(path: &Path, format: Format, others: &[String]) -> Result<Writer, RecordError> {
        let failed = |why: WriteFailure| RecordError::Write {
            path: path.to_owned(),
            why,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| failed(e.into()))?;
        }
        let file = match File::create_new(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(RecordError::Exists(path.to_owned()))
            }
            Err(e) => return Err(failed(e.into())),
        };
        let channels = Channels::create(file, format, others).map_err(|e| failed(e.into()))?;
        let (to, from) = mpsc::channel::<ToWriter>();
        let thread = std::thread::Builder::new()
            .name("codeact-record".into())
            .spawn(move || write_file(channels, from))
            .map_err(|e| failed(e.into()))?;
        Ok(Writer {
            to,
            batch: Vec::with_capacity(BATCH),
            chunked: std::time::Instant::now(),
            thread,
        })
    }

    fn hand_over(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            // The writer only stops when closed, and then no one sends.
            let _ = self.to.send(ToWriter::Batch(batch));
        }
    }

    /// Hands everything over and has the chunk finished on disk; returns
    /// what tells when it is.
    fn finish_chunk(&mut self) -> mpsc::Receiver<()> {
        self.hand_over();
        let (done, written) = mpsc::sync_channel(1);
        let _ = self.to.send(ToWriter::Chunk(Some(done)));
        self.chunked = std::time::Instant::now();
        written
    }
}

/// One MCAP recording of a robot (or a fleet's robots). What is recorded
/// is handed to a writer thread, which encodes, compresses and writes it,
/// so the robot's thread only copies the data.
pub struct Recorder {
    /// The robots, the first the one whose clock stamps the recording.
    robots: Vec<Arc<dyn RobotBackend>>,
    path: Option<PathBuf>,
    writer: Mutex<Option<Writer>>,
    live: Option<Live>,
    /// What was last recorded of each robot.
    sampling: Mutex<Vec<Sampling>>,
    /// Held while the file is being finished, so a second `close` (a
    /// signal's thread) returns only once the file is whole.
    closing: Mutex<()>,
}

impl Recorder {
    /// Starts recording `robot` as `to` says: into a new file (with
    /// metadata saying what made it: `codeact`, version, robot, format), to
    /// a live view, or both; the map and the first pose and scan first.
    pub fn create(robot: Arc<dyn RobotBackend>, to: &RecordTo) -> Result<Arc<Self>, RecordError> {
        Self::create_fleet(vec![(String::new(), robot)], to)
    }

    /// Starts recording the robots of a fleet (name, robot) into one file:
    /// the first on the plain channels, the others under their names; the
    /// live view shows the first.
    pub fn create_fleet(
        robots: Vec<(String, Arc<dyn RobotBackend>)>,
        to: &RecordTo,
    ) -> Result<Arc<Self>, RecordError> {
        let others: Vec<String> = robots.iter().skip(1).map(|(n, _)| n.clone()).collect();
        let live = to.live.map(|addr| Live::start(addr, &others)).transpose()?;
        let writer = match &to.file {
            Some(path) => Some(Writer::open(path, to.format, &others)?),
            None => None,
        };
        let recorder = Arc::new(Recorder {
            sampling: Mutex::new(robots.iter().map(|_| Sampling::default()).collect()),
            robots: robots.into_iter().map(|(_, r)| r).collect(),
            path: to.file.clone(),
            writer: Mutex::new(writer),
            live,
            closing: Mutex::new(()),
        });
        let format = to.format;
        let robot_text = recorder.robots[0].describe();
        let mut about = vec![
            ("version", env!("CARGO_PKG_VERSION")),
            ("robot", &robot_text),
            ("format", format.name()),
        ];
        let fleet = others.join(", ");
        if !others.is_empty() {
            about.push(("other_robots", &fleet));
        }
        recorder.metadata("codeact", &about);
        if let Some(map) = recorder.robots[0].map() {
            recorder.send(recorder.now(), Message::Map(map));
        }
        recorder.sample_all();
        Ok(recorder)
    }

    /// The file being written, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Where the live view serves, if there is one.
    pub fn live_addr(&self) -> Option<std::net::SocketAddr> {
        self.live.as_ref().map(Live::addr)
    }

    /// The robot as the skills should drive it: every command, step and
    /// camera picture recorded.
    pub fn backend(self: &Arc<Self>) -> Arc<dyn RobotBackend> {
        self.backend_of(0)
    }

    /// Robot `i` of the fleet as the skills should drive it.
    pub fn backend_of(self: &Arc<Self>, i: usize) -> Arc<dyn RobotBackend> {
        Arc::new(RecordingBackend::new(
            self.robots[i].clone(),
            self.clone(),
            i,
        ))
    }

    /// Robot time now, nanoseconds (negative or non-finite clocks give 0).
    fn now(&self) -> u64 {
        nanos(self.robots[0].time())
    }

    /// Queues robot `i`'s `message` (its own channels after the first robot's).
    fn send_of(&self, i: usize, ns: u64, message: Message) {
        match i {
            0 => self.send(ns, message),
            i => self.send(ns, Message::Of(i, Box::new(message))),
        }
    }

    /// Every robot's pose and scan, now.
    fn sample_all(&self) {
        (0..self.robots.len()).for_each(|i| self.sample(i, true));
    }

    /// Queues a message for the writer (nothing once the recording is closed).
    fn send(&self, ns: u64, message: Message) {
        if let Some(live) = &self.live {
            live.write(ns, &message);
        }
        if let Some(w) = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            w.batch.push((ns, message));
            // The clock is read every 16 messages, not for each.
            if w.batch.len() % 16 == 0 && w.chunked.elapsed() >= CHUNK_EVERY {
                // Not waited for: the robot's thread goes on.
                drop(w.finish_chunk());
            } else if w.batch.len() >= BATCH {
                w.hand_over();
            }
        }
    }

    /// Hands what is queued to the writer and waits until its chunk is
    /// finished on disk (at the end of each action, before its observation
    /// is returned), so a file cut later keeps the action.
    fn flush(&self) {
        let written = self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
            .map(Writer::finish_chunk);
        if let Some(written) = written {
            let _ = written.recv_timeout(CHUNK_WAIT);
        }
    }

    /// Records robot `i`'s pose when [`POSE_PERIOD`] has passed (or
    /// `always`), and its scan when [`SCAN_PERIOD`] has passed and it has
    /// moved since the last one (a robot at rest sees the same room).
    fn sample(&self, i: usize, always: bool) {
        let robot = &self.robots[i];
        let t = robot.time();
        let mut all = self.sampling.lock().unwrap_or_else(|e| e.into_inner());
        let s = &mut all[i];
        if !always && t < s.next_pose {
            return;
        }
        s.next_pose = t + POSE_PERIOD;
        let Ok(pose) = robot.pose() else { return };
        if always || s.last_pose.is_none_or(|p| moved(p, pose)) {
            s.last_pose = Some(pose);
            self.send_of(i, nanos(t), Message::Pose(pose));
        }
        let due = match s.last_scan {
            None => true,
            Some((at, seen_from)) => always || (t >= at + SCAN_PERIOD && moved(seen_from, pose)),
        };
        if due {
            if let Some(Ok(scan)) = robot.lidar().map(|l| l.scan()) {
                if s.last_scan.is_none_or(|(at, _)| scan.stamp > at) {
                    s.last_scan = Some((scan.stamp, pose));
                    self.send_of(i, nanos(scan.stamp), Message::Scan(scan));
                }
            }
        }
    }

    /// Robot `i`'s velocity command: a stop, the first after one, and
    /// changes at most every [`COMMAND_PERIOD`].
    fn command(&self, i: usize, linear: f64, angular: f64) {
        let t = self.robots[i].time();
        let mut all = self.sampling.lock().unwrap_or_else(|e| e.into_inner());
        let s = &mut all[i];
        let stop = linear == 0.0 && angular == 0.0;
        let after_stop = s.last_command.is_none_or(|(l, a)| l == 0.0 && a == 0.0);
        // Controllers change their command a little every step; a change
        // below these does not show in a plot.
        let small = s
            .last_command
            .is_some_and(|(l, a)| (l - linear).abs() < 0.01 && (a - angular).abs() < 0.02);
        if s.last_command == Some((linear, angular))
            || !(stop || after_stop || (t >= s.next_command && !small))
        {
            return;
        }
        s.last_command = Some((linear, angular));
        s.next_command = t + COMMAND_PERIOD;
        drop(all);
        self.send_of(i, nanos(t), Message::Command(linear, angular));
    }

    /// A camera picture robot `i` took.
    fn camera(&self, i: usize, png: &[u8]) {
        self.send_of(i, self.now(), Message::Camera(png.to_vec()));
    }

    /// Ends the recording: waits for the writer to finish the file. Later
    /// calls do nothing (once it is finished).
    pub fn close(&self) -> Result<(), RecordError> {
        let _one_at_a_time = self.closing.lock().unwrap_or_else(|e| e.into_inner());
        if self
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
        {
            return Ok(());
        }
        // Where the robots ended up, before the file is finished.
        self.sample_all();
        let Some(mut writer) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return Ok(());
        };
        writer.hand_over();
        drop(writer.to);
        let failed = |why: WriteFailure| RecordError::Write {
            path: self.path.clone().unwrap_or_default(),
            why,
        };
        writer
            .thread
            .join()
            .map_err(|_| failed(WriteFailure::Panicked))?
            .map_err(|e| failed(e.into()))
    }

    /// Adds a metadata record (`name`: keys and values) to the file: how
    /// the recording was made (the node's network exposure, say).
    pub fn metadata(&self, name: &str, entries: &[(&str, &str)]) {
        let entries = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.send(self.now(), Message::Metadata(name.into(), entries));
    }
}

impl ActionWatcher for Recorder {
    fn started(&self, action: u64, code: &str) {
        self.sample_all();
        self.send(self.now(), Message::Code(action, code.to_owned()));
    }

    fn finished(&self, obs: &Observation) {
        let t = self.now();
        self.sample_all();
        let level = if obs.status == Status::Ok {
            Level::Info
        } else {
            Level::Error
        };
        self.send(t, Message::Observation(obs.action, obs.render(), level));
        for picture in &obs.images {
            self.send(t, Message::Picture(picture.clone()));
        }
        for event in &obs.robot_events {
            self.send(t, Message::Event(event.clone()));
        }
        self.flush();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!("{e}");
        }
    }
}

/// The writer thread: writes what it is handed until the recorder lets go,
/// then finishes the file. After a failed write it writes nothing more and
/// returns that failure (the file keeps what was written before it).
fn write_file(mut channels: Channels, from: mpsc::Receiver<ToWriter>) -> mcap::McapResult<()> {
    let mut failure = None;
    let mut n = 0u64;
    for handed in from {
        match handed {
            ToWriter::Batch(batch) if failure.is_none() => {
                for (ns, message) in batch {
                    if let Err(e) = channels.write(ns, message) {
                        tracing::warn!("the recording could not be written: {e}");
                        failure = Some(e);
                        break;
                    }
                    n += 1;
                }
            }
            ToWriter::Batch(_) => {}
            ToWriter::Chunk(done) => {
                if failure.is_none() {
                    if let Err(e) = channels.flush() {
                        tracing::warn!("the recording could not be flushed: {e}");
                        failure = Some(e);
                    }
                }
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    let closed = channels.finish();
    tracing::debug!(messages = n, cpu_ms = thread_cpu_ms(), "recording written");
    closed
}

/// CPU time of the calling thread so far, milliseconds.
fn thread_cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `t` is.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 / 1e6
}

/// Whether the robot moved from `a` to `b` (a millimetre or a milliradian).
fn moved(a: Pose2, b: Pose2) -> bool {
    (a.x - b.x).abs() > 1e-3 || (a.y - b.y).abs() > 1e-3 || (a.theta - b.theta).abs() > 1e-3
}

/// Seconds as nanoseconds for MCAP (before 0 or not finite: 0).
fn nanos(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1e9).round() as u64
    } else {
        0
    }
}
