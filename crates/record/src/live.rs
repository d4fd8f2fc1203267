//! The live view (`--live [ADDR:]PORT`): the recording's channels, in
//! Foxglove's schemas, served as they happen over the Foxglove WebSocket
//! protocol by the Foxglove SDK's server, for Foxglove's "Open connection".
//! The protocol has no authentication, so only loopback is served; watch
//! from elsewhere through a tunnel (`ssh -L PORT:127.0.0.1:PORT robot`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use foxglove::schemas::{CompressedImage, FrameTransforms, Grid, LaserScan, Log, PoseInFrame};
use foxglove::websocket::{ChannelView, Client, ServerListener};
use foxglove::{Channel, Context, RawChannel, Schema, WebSocketServer, WebSocketServerHandle};
use robot_api::nav::GridMap;
use robot_api::Pose2;

use crate::channels::{robot_frame, robot_names, robot_topic, topics, Message, TWIST_SCHEMA};
use crate::fox::{self, Level};

/// Why the live view could not start.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// An address other than loopback.
    #[error("--live {0}: the live view serves without authentication, so only on loopback (127.0.0.1 or ::1); to watch from another machine, tunnel to it (ssh -L PORT:127.0.0.1:PORT this-machine)")]
    NotLoopback(SocketAddr),
    /// The server did not start (the port taken, say).
    #[error("the live view cannot serve {addr}: {why}")]
    Start {
        /// The address asked for.
        addr: SocketAddr,
        /// What the server said.
        why: String,
    },
}

/// The least wall-clock time between two messages of a stream channel
/// (poses, scans, commands) in the live view: a robot in real time sends
/// fewer (poses at 5 Hz), a simulator in lockstep far more than anyone can
/// watch, and a viewer's share of two cores is taken from the simulator.
/// The file keeps every message; code, observations, events, pictures and
/// the map are never dropped.
pub const LIVE_PERIOD: Duration = Duration::from_millis(33);

/// The stream channels [`LIVE_PERIOD`] applies to.
#[derive(Clone, Copy)]
enum Stream {
    Pose = 0,
    Scan = 1,
    Command = 2,
}

/// Marks that a client subscribed to what is sent once (the map, the
/// camera's frame), so it is sent again with the next message.
struct Joined(Arc<AtomicBool>);

impl ServerListener for Joined {
    fn on_subscribe(&self, _client: Client, channel: ChannelView) {
        if [topics::MAP, topics::TF_STATIC].contains(&channel.topic()) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// How many messages may wait for the live view's thread; past that, new
/// ones are dropped (a live view is not the record: the file keeps all).
const LIVE_BACKLOG: usize = 256;

/// The live view's server, and the thread that encodes for it: the robot's
/// thread only decides what goes out ([`LIVE_PERIOD`], whether anyone
/// watches) and hands it over.
pub struct Live {
    server: Mutex<Option<WebSocketServerHandle>>,
    addr: SocketAddr,
    channels: Arc<LiveChannels>,
    /// To the encoding thread; `None` once stopped.
    to_thread: Mutex<Option<mpsc::SyncSender<(u64, Message)>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Per robot: when each stream channel last sent, nanoseconds after
    /// `started` (0: never).
    last_sent: Vec<[AtomicU64; 3]>,
    /// Per robot: whether the last command sent was a stop.
    stopped: Vec<AtomicBool>,
    started: Instant,
}

/// The live view's channels, written by its thread.
struct LiveChannels {
    /// Held here: the server and the channels only refer to it.
    _context: Arc<Context>,
    /// A client subscribed to the map or the camera's frame.
    joined: Arc<AtomicBool>,
    /// The map, for clients that join after it was sent.
    last_map: Mutex<Option<(u64, GridMap)>>,
    map: Channel<Grid>,
    tf: Channel<FrameTransforms>,
    tf_static: Channel<FrameTransforms>,
    /// Each robot's own channels, the first robot's first.
    robots: Vec<LiveRobot>,
    code: Channel<Log>,
    observation: Channel<Log>,
    pictures: Channel<CompressedImage>,
    events: Channel<Log>,
}

/// One robot's live channels and frames: the first robot's on the plain
/// topics, a fleet's others under their names (`/beta/pose`).
struct LiveRobot {
    pose: Channel<PoseInFrame>,
    scan: Channel<LaserScan>,
    cmd_vel: Arc<RawChannel>,
    camera: Channel<CompressedImage>,
    base: String,
    camera_frame: String,
}

impl LiveRobot {
    /// The channels of the robot called `name` (`None`: the first).
    fn new(ctx: &Arc<Context>, name: Option<&str>) -> Self {
        let topic = |t: &str| robot_topic(name, t);
        let velocity = Schema::new(
            "codeact.VelocityCommand",
            "jsonschema",
            TWIST_SCHEMA.as_bytes().to_vec(),
        );
        LiveRobot {
            pose: ctx.channel_builder(topic(topics::POSE)).build(),
            scan: ctx.channel_builder(topic(topics::SCAN)).build(),
            cmd_vel: ctx
                .channel_builder(topic(topics::CMD_VEL))
                .message_encoding("json")
                .schema(velocity)
                .build_raw()
                .expect("a channel with an encoding builds"),
            camera: ctx.channel_builder(topic(topics::CAMERA)).build(),
            base: robot_frame(name, "base_link"),
            camera_frame: robot_frame(name, "camera"),
        }
    }
}

impl Live {
    /// Serves the live view at `addr` (port 0: any free port): one robot,
    /// or a fleet whose robots after the first are `others`.
    pub fn start(addr: SocketAddr, others: &[String]) -> Result<Live, LiveError> {
        if !addr.ip().is_loopback() {
            return Err(LiveError::NotLoopback(addr));
        }
        // A context of its own: nothing else in the process logs into it.
        let ctx = Context::new();
        let joined = Arc::new(AtomicBool::new(false));
        let server = WebSocketServer::new()
            .name(concat!("codeact ", env!("CARGO_PKG_VERSION")))
            .listener(Arc::new(Joined(joined.clone())))
            .bind(addr.ip().to_string(), addr.port())
            .context(&ctx)
            .start_blocking()
            .map_err(|e| LiveError::Start {
                addr,
                why: e.to_string(),
            })?;
        let bound = SocketAddr::new(addr.ip(), server.port());
        let robots: Vec<LiveRobot> = robot_names(others)
            .map(|name| LiveRobot::new(&ctx, name))
            .collect();
        let n = robots.len();
        let channels = Arc::new(LiveChannels {
            map: ctx.channel_builder(topics::MAP).build(),
            tf: ctx.channel_builder(topics::TF).build(),
            tf_static: ctx.channel_builder(topics::TF_STATIC).build(),
            robots,
            code: ctx.channel_builder(topics::CODE).build(),
            observation: ctx.channel_builder(topics::OBSERVATION).build(),
            pictures: ctx.channel_builder(topics::PICTURES).build(),
            events: ctx.channel_builder(topics::EVENTS).build(),
            joined,
            last_map: Mutex::new(None),
            _context: ctx,
        });
        let (tx, rx) = mpsc::sync_channel::<(u64, Message)>(LIVE_BACKLOG);
        let encoder = channels.clone();
        let thread = std::thread::Builder::new()
            .name("live-view".into())
            .spawn(move || {
                for (ns, message) in rx {
                    encoder.write(ns, &message);
                }
            })
            .map_err(|e| LiveError::Start {
                addr,
                why: format!("its thread did not start: {e}"),
            })?;
        Ok(Live {
            server: Mutex::new(Some(server)),
            addr: bound,
            channels,
            to_thread: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            last_sent: (0..n).map(|_| Default::default()).collect(),
            stopped: (0..n).map(|_| AtomicBool::new(false)).collect(),
            started: Instant::now(),
        })
    }

    /// Where it serves (the real port, for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Hands `message` to the live view's thread if it is to go out: a
    /// stream message when [`LIVE_PERIOD`] has passed, and only for a
    /// channel someone watches (the map is always kept, for later viewers).
    pub(crate) fn write(&self, ns: u64, message: &Message) {
        if !self.channels.wanted(message) || !self.due(message) {
            return;
        }
        if let Some(tx) = &*self.to_thread.lock().unwrap_or_else(|e| e.into_inner()) {
            // Full: the viewer is behind; this one is dropped.
            let _ = tx.try_send((ns, message.clone()));
        }
    }

    /// Whether a stream message may go out now ([`LIVE_PERIOD`] after the
    /// last of its channel); notes it as sent if so. A stop after motion
    /// always goes (a viewer never shows a stopped robot moving); repeated
    /// stops (a controller holding still sends one per tick) are throttled.
    fn due(&self, message: &Message) -> bool {
        let (robot, message) = match message {
            Message::Of(i, m) if *i < self.stopped.len() => (*i, &**m),
            Message::Of(..) => return false,
            m => (0, m),
        };
        let stream = match message {
            Message::Pose(_) => Stream::Pose,
            Message::Scan(_) => Stream::Scan,
            Message::Command(l, a) => {
                let stop = *l == 0.0 && *a == 0.0;
                let stopped = &self.stopped[robot];
                if stop && !stopped.load(Ordering::Relaxed) {
                    stopped.store(true, Ordering::Relaxed);
                    self.last_sent[robot][Stream::Command as usize].store(
                        self.started.elapsed().as_nanos() as u64 + 1,
                        Ordering::Relaxed,
                    );
                    return true;
                }
                if !self.throttle(robot, Stream::Command) {
                    return false;
                }
                stopped.store(stop, Ordering::Relaxed);
                return true;
            }
            _ => return true,
        };
        self.throttle(robot, stream)
    }

    /// Whether [`LIVE_PERIOD`] has passed since robot `robot`'s `stream`
    /// last sent; notes it as sent now if so.
    fn throttle(&self, robot: usize, stream: Stream) -> bool {
        let now = self.started.elapsed().as_nanos() as u64 + 1;
        let last = &self.last_sent[robot][stream as usize];
        let before = last.load(Ordering::Relaxed);
        if before != 0 && now < before + LIVE_PERIOD.as_nanos() as u64 {
            return false;
        }
        last.store(now, Ordering::Relaxed);
        true
    }

    /// Stops serving: what was handed over is sent, then clients are
    /// disconnected.
    pub fn stop(&self) {
        drop(
            self.to_thread
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        let server = self.server.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(server) = server {
            server.stop().wait_blocking();
        }
    }
}

impl LiveChannels {
    /// Whether anyone watches `message`'s channel (the map: always, it is
    /// kept for later viewers).
    fn wanted(&self, message: &Message) -> bool {
        self.wanted_of(0, message)
    }

    /// Whether anyone watches `message`'s channel, robot `robot`'s if it is
    /// one of a robot's.
    fn wanted_of(&self, robot: usize, message: &Message) -> bool {
        let Some(r) = self.robots.get(robot) else {
            return false;
        };
        match message {
            Message::Of(i, m) => self.wanted_of(*i, m),
            Message::Map(_) => true,
            Message::Pose(_) => r.pose.has_sinks() || self.tf.has_sinks(),
            Message::Scan(_) => r.scan.has_sinks(),
            Message::Command(..) => r.cmd_vel.has_sinks(),
            Message::Camera(_) => r.camera.has_sinks(),
            Message::Code(..) => self.code.has_sinks(),
            Message::Observation(..) => self.observation.has_sinks(),
            Message::Picture(_) => self.pictures.has_sinks(),
            Message::Event(_) => self.events.has_sinks(),
            Message::Metadata(..) => false,
        }
    }

    /// Sends `message` to the clients watching its channel (on the live
    /// view's thread).
    fn write(&self, ns: u64, message: &Message) {
        if self.joined.swap(false, Ordering::SeqCst) {
            self.send_once_more();
        }
        self.write_of(0, ns, message)
    }

    /// Sends `message`, robot `robot`'s if it is one of a robot's.
    fn write_of(&self, robot: usize, ns: u64, message: &Message) {
        let Some(r) = self.robots.get(robot) else {
            return;
        };
        match message {
            Message::Of(i, m) => self.write_of(*i, ns, m),
            Message::Map(map) => {
                if self.map.has_sinks() {
                    self.map.log_with_time(&fox::map(map, ns), ns);
                }
                *self.last_map.lock().unwrap_or_else(|e| e.into_inner()) = Some((ns, map.clone()));
            }
            Message::Pose(pose) => {
                if r.pose.has_sinks() {
                    r.pose.log_with_time(&fox::pose(*pose, ns), ns);
                }
                if self.tf.has_sinks() {
                    let tf = fox::transform("map", &r.base, *pose, ns);
                    self.tf.log_with_time(&tf, ns);
                }
            }
            Message::Scan(scan) if r.scan.has_sinks() => r
                .scan
                .log_with_time(&fox::scan(scan.clone(), &r.base, ns), ns),
            Message::Command(linear, angular) if r.cmd_vel.has_sinks() => {
                let mut json = Vec::with_capacity(48);
                fox::command(*linear, *angular, &mut json);
                r.cmd_vel
                    .log_with_meta(&json, foxglove::PartialMetadata::with_log_time(ns));
            }
            Message::Camera(png) if r.camera.has_sinks() => {
                let image = fox::image(png.clone(), "png", &r.camera_frame, ns);
                r.camera.log_with_time(&image, ns)
            }
            Message::Code(action, code) if self.code.has_sinks() => {
                let log = fox::log("code", *action, code.clone(), Level::Info, ns);
                self.code.log_with_time(&log, ns)
            }
            Message::Observation(action, text, level) if self.observation.has_sinks() => {
                let log = fox::log("observation", *action, text.clone(), *level, ns);
                self.observation.log_with_time(&log, ns)
            }
            Message::Picture(picture) if self.pictures.has_sinks() => {
                let image = fox::image(picture.data.to_vec(), picture.mime.format(), "camera", ns);
                self.pictures.log_with_time(&image, ns)
            }
            Message::Event(text) if self.events.has_sinks() => {
                let log = fox::log("robot", 0, text.clone(), Level::Info, ns);
                self.events.log_with_time(&log, ns)
            }
            _ => {}
        }
    }

    /// What is sent once (the map, the camera's place on the robot), again
    /// for the clients that joined since.
    fn send_once_more(&self) {
        for r in &self.robots {
            let tf = fox::transform(&r.base, &r.camera_frame, Pose2::default(), 0);
            self.tf_static.log_with_time(&tf, 0u64);
        }
        if let Some((ns, map)) = &*self.last_map.lock().unwrap_or_else(|e| e.into_inner()) {
            self.map.log_with_time(&fox::map(map, *ns), *ns);
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A controller holding still sends a stop every tick: the viewer gets
    /// the first stop after motion at once, the repeats as a stream.
    #[test]
    fn a_stop_after_motion_goes_at_once_and_repeated_stops_are_throttled() {
        let live = Live::start(SocketAddr::from(([127, 0, 0, 1], 0)), &[]).unwrap();
        let sent = |l: f64, a: f64| live.due(&Message::Command(l, a));
        assert!(sent(0.3, 0.0), "the first command goes");
        assert!(!sent(0.3, 0.1), "motion within the period waits");
        assert!(sent(0.0, 0.0), "the stop after motion goes at once");
        assert!(!sent(0.0, 0.0), "a repeated stop is throttled");
        std::thread::sleep(LIVE_PERIOD);
        assert!(sent(0.0, 0.0), "and goes once the period has passed");
        assert!(!sent(0.0, 0.0));
        std::thread::sleep(LIVE_PERIOD);
        assert!(sent(0.5, 0.0));
        assert!(sent(0.0, 0.0), "a stop after motion is never held back");
    }
}
