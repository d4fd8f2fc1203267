//! Recording an episode as MCAP for Foxglove: the robot's pose, lidar scans,
//! velocity commands, the map, camera pictures, each code action and its
//! observation, and robot events, on named channels with Foxglove's schemas,
//! stamped with the robot's clock (simulated seconds in the simulator).
//!
//! The file is written by the Foxglove SDK's MCAP writer (zstd chunks).
//! [`RecordingBackend`] wraps the robot so what the skills do is recorded as
//! it happens; [`Recorder`] is also an [`ActionWatcher`] for the session, so
//! the code and what it gave are recorded whichever front end runs it.

mod backend;
mod channels;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use foxglove::{Context, McapWriter, McapWriterHandle};
use robot_api::RobotBackend;

pub use backend::RecordingBackend;
use channels::Channels;

use crate::executor::{ActionWatcher, Observation, Status};

/// Seconds of robot time between two recorded poses while the robot moves.
pub const POSE_PERIOD: f64 = 0.05;
/// Seconds of robot time between two recorded scans at most.
pub const SCAN_PERIOD: f64 = 0.1;

/// Why a recording could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file is already there: recordings are never overwritten.
    #[error(
        "{0} already exists; give --record a new file name (recordings are never overwritten)"
    )]
    Exists(PathBuf),
    /// The file could not be created or written.
    #[error("cannot write the recording {path}: {why}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the writer said.
        why: String,
    },
}

/// A robot as the skills should drive it, and its recording if any.
pub struct Recorded {
    /// What the skills drive.
    pub backend: Arc<dyn RobotBackend>,
    /// The recording: to watch the session with, and close at the end.
    pub recorder: Option<Arc<Recorder>>,
}

/// `robot`, recorded into `record` when given.
pub fn recorded(
    robot: Arc<dyn RobotBackend>,
    record: Option<&Path>,
) -> Result<Recorded, RecordError> {
    Ok(match record {
        Some(path) => {
            let recorder = Recorder::create(path, robot)?;
            Recorded {
                backend: recorder.backend(),
                recorder: Some(recorder),
            }
        }
        None => Recorded {
            backend: robot,
            recorder: None,
        },
    })
}

/// What was last recorded, to record changes at the rates above.
#[derive(Debug, Default)]
struct Sampling {
    next_pose: f64,
    last_scan: Option<f64>,
    last_command: Option<(f64, f64)>,
}

/// One MCAP recording of a robot.
pub struct Recorder {
    robot: Arc<dyn RobotBackend>,
    path: PathBuf,
    // Keeps the context (and so the channels' sink) alive with the writer.
    _context: Arc<Context>,
    writer: Mutex<Option<McapWriterHandle<BufWriter<File>>>>,
    channels: Channels,
    sampling: Mutex<Sampling>,
}

impl Recorder {
    /// Starts recording `robot` into a new file at `path`, with the map and
    /// the first pose and scan.
    pub fn create(path: &Path, robot: Arc<dyn RobotBackend>) -> Result<Arc<Self>, RecordError> {
        let failed = |why: String| RecordError::Write {
            path: path.to_owned(),
            why,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
        }
        let file = match File::create_new(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(RecordError::Exists(path.to_owned()))
            }
            Err(e) => return Err(failed(e.to_string())),
        };
        let context = Context::new();
        let writer = McapWriter::new()
            .context(&context)
            .create(BufWriter::new(file))
            .map_err(|e| failed(e.to_string()))?;
        let channels = Channels::new(&context);
        let recorder = Arc::new(Recorder {
            robot,
            path: path.to_owned(),
            _context: context,
            writer: Mutex::new(Some(writer)),
            channels,
            sampling: Mutex::new(Sampling::default()),
        });
        recorder.map();
        recorder.sample(true);
        Ok(recorder)
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The robot as the skills should drive it: every command, step and
    /// camera picture recorded.
    pub fn backend(self: &Arc<Self>) -> Arc<dyn RobotBackend> {
        Arc::new(RecordingBackend::new(self.robot.clone(), self.clone()))
    }

    /// Robot time now, nanoseconds (negative or non-finite clocks give 0).
    fn now(&self) -> u64 {
        nanos(self.robot.time())
    }

    /// The robot's map, once at the start.
    fn map(&self) {
        if let Some(map) = self.robot.map() {
            self.channels.map(&map, self.now());
        }
    }

    /// Records the pose when [`POSE_PERIOD`] has passed (or `always`), and
    /// the scan when it is new and [`SCAN_PERIOD`] has passed.
    fn sample(&self, always: bool) {
        let t = self.robot.time();
        let mut s = self.sampling.lock().unwrap_or_else(|e| e.into_inner());
        if always || t >= s.next_pose {
            s.next_pose = t + POSE_PERIOD;
            if let Ok(pose) = self.robot.pose() {
                self.channels.pose(pose, nanos(t));
            }
        }
        let due = s.last_scan.is_none_or(|last| t >= last + SCAN_PERIOD);
        if always || due {
            if let Ok(scan) = self.robot.scan() {
                if s.last_scan.is_none_or(|last| scan.stamp > last) {
                    s.last_scan = Some(scan.stamp);
                    self.channels.scan(&scan, nanos(scan.stamp));
                }
            }
        }
    }

    /// A velocity command, when it differs from the last.
    fn command(&self, linear: f64, angular: f64) {
        let mut s = self.sampling.lock().unwrap_or_else(|e| e.into_inner());
        if s.last_command != Some((linear, angular)) {
            s.last_command = Some((linear, angular));
            drop(s);
            self.channels.command(linear, angular, self.now());
        }
    }

    /// A camera picture the robot took.
    fn camera(&self, png: &[u8]) {
        self.channels.camera(png, self.now());
    }

    /// Ends the recording: finishes the file. Later calls do nothing.
    pub fn close(&self) -> Result<(), RecordError> {
        let mut slot = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_some() {
            // Where the robot ended up, before the file is finished.
            self.sample(true);
        }
        if let Some(writer) = slot.take() {
            writer.close().map_err(|e| RecordError::Write {
                path: self.path.clone(),
                why: e.to_string(),
            })?;
        }
        Ok(())
    }
}

impl ActionWatcher for Recorder {
    fn started(&self, action: u64, code: &str) {
        self.sample(true);
        self.channels.code(action, code, self.now());
    }

    fn finished(&self, obs: &Observation) {
        let t = self.now();
        self.sample(true);
        let level = if obs.status == Status::Ok {
            channels::Level::Info
        } else {
            channels::Level::Error
        };
        self.channels
            .observation(obs.action, &obs.render(), level, t);
        for picture in &obs.images {
            self.channels.picture(picture, t);
        }
        for event in &obs.robot_events {
            self.channels.event(event, t);
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::warn!("{e}");
        }
    }
}

/// Seconds as nanoseconds for MCAP (before 0 or not finite: 0).
fn nanos(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1e9).round() as u64
    } else {
        0
    }
}
