//! The recording's channels: topic names, schemas and how each robot datum
//! becomes a message, written into the MCAP file by the mcap crate. Two
//! formats ([`Format`]): Foxglove's schemas (protobuf, encoded with the
//! Foxglove SDK's types; its logging context is not used: per message it
//! cost the writer a fifth of its time, which came from the simulator's),
//! or ROS 2's standard messages (CDR, [`crate::ros2`]). Frames: `map` (the
//! world), `base_link` (the robot), `camera` (its camera).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufWriter;

use foxglove::schemas::{CompressedImage, FrameTransforms, Grid, LaserScan, Log, PoseInFrame};
use foxglove::Encode;
use mcap::records::MessageHeader;
use robot_api::nav::GridMap;
use robot_api::{Pose2, ScanData};

use codeact_executor::Picture;

use crate::fox;
use crate::ros2;

pub use crate::fox::Level;

/// Topic names, for readers and the Foxglove layout.
pub mod topics {
    /// The occupancy grid (foxglove.Grid), once.
    pub const MAP: &str = "/map";
    /// The robot's pose estimate (foxglove.PoseInFrame).
    pub const POSE: &str = "/pose";
    /// `map` → `base_link` (foxglove.FrameTransforms).
    pub const TF: &str = "/tf";
    /// `base_link` → `camera`, once (foxglove.FrameTransforms).
    pub const TF_STATIC: &str = "/tf_static";
    /// Lidar scans (foxglove.LaserScan, in `base_link`).
    pub const SCAN: &str = "/scan";
    /// Velocity commands (JSON: linear m/s, angular rad/s).
    pub const CMD_VEL: &str = "/cmd_vel";
    /// Pictures the camera took (foxglove.CompressedImage).
    pub const CAMERA: &str = "/camera/image";
    /// Each code action (foxglove.Log).
    pub const CODE: &str = "/code";
    /// Each action's observation, as the model reads it (foxglove.Log).
    pub const OBSERVATION: &str = "/observation";
    /// Pictures actions attached with show() (foxglove.CompressedImage).
    pub const PICTURES: &str = "/observation/image";
    /// Robot events: collisions, picks, battery (foxglove.Log).
    pub const EVENTS: &str = "/events";
}

/// JSON schema of a velocity command.
pub const TWIST_SCHEMA: &str = r#"{"title":"codeact.VelocityCommand","description":"A velocity command to the robot's base","type":"object","properties":{"linear":{"type":"number","description":"forward speed, m/s"},"angular":{"type":"number","description":"turn rate, rad/s (counter-clockwise)"}},"required":["linear","angular"]}"#;

/// How the recording's messages are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Foxglove's schemas (protobuf), and JSON velocity commands: what
    /// Foxglove shows best (docs/foxglove-layout.json).
    #[default]
    Foxglove,
    /// ROS 2's standard messages in CDR (`ros2msg` schemas): what `ros2
    /// bag`, RViz and other ROS tools read; code, observations and events
    /// as `codeact_interfaces/msg/ActionOutput`.
    Ros2,
}

impl Format {
    /// `foxglove` or `ros2`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Foxglove => "foxglove",
            Format::Ros2 => "ros2",
        }
    }
}

/// One thing to record, as the robot's thread hands it to the writer.
#[derive(Clone)]
pub enum Message {
    /// The occupancy grid.
    Map(GridMap),
    /// The pose estimate.
    Pose(Pose2),
    /// A lidar scan.
    Scan(ScanData),
    /// A velocity command: linear, angular.
    Command(f64, f64),
    /// A camera picture (PNG).
    Camera(Vec<u8>),
    /// A code action: its number and code.
    Code(u64, String),
    /// An observation: the action's number, the text, how it ended.
    Observation(u64, String, Level),
    /// A picture an action attached.
    Picture(Picture),
    /// A robot event.
    Event(String),
    /// A metadata record: its name and its keys and values.
    Metadata(String, std::collections::BTreeMap<String, String>),
    /// A pose, scan, command or camera picture of the fleet's robot of
    /// this index (1 on; the first robot's come plain), on its own channels.
    Of(usize, Box<Message>),
}

/// The MCAP file being written, with every channel of the recording.
pub struct Channels {
    mcap: mcap::Writer<BufWriter<File>>,
    format: Format,
    ids: Ids,
    /// The message being encoded (reused: no allocation per message).
    buf: Vec<u8>,
    sequence: u32,
}

/// Each topic's channel id in the file.
struct Ids {
    map: u16,
    tf: u16,
    tf_static: u16,
    code: u16,
    observation: u16,
    pictures: u16,
    events: u16,
    /// Each robot's own channels, the first robot's first.
    robots: Vec<RobotIds>,
}

/// One robot's channels and frames: the first robot's on the plain topics
/// (`/pose`, frame `base_link`), a fleet's others under their names
/// (`/beta/pose`, frame `beta/base_link`).
struct RobotIds {
    pose: u16,
    scan: u16,
    cmd_vel: u16,
    camera: u16,
    /// Shared, so a pose's transform names it while the file is written.
    base: std::sync::Arc<str>,
    camera_frame: String,
}

/// A robot's topic: `/pose`, or `/beta/pose` for a fleet's robot named beta.
pub fn robot_topic(name: Option<&str>, topic: &str) -> String {
    match name {
        Some(n) => format!("/{n}{topic}"),
        None => topic.to_owned(),
    }
}

/// Each robot's name as its channels and frames take it: `None` for the
/// first (the plain ones), then the others' (`others`).
pub fn robot_names(others: &[String]) -> impl Iterator<Item = Option<&str>> {
    std::iter::once(None).chain(others.iter().map(|n| Some(n.as_str())))
}

/// A robot's frame: `base_link`, or `beta/base_link`.
pub fn robot_frame(name: Option<&str>, frame: &str) -> String {
    match name {
        Some(n) => format!("{n}/{frame}"),
        None => frame.to_owned(),
    }
}

/// Adds the channel `topic` carrying Foxglove's `T`.
fn channel<T: Encode>(
    mcap: &mut mcap::Writer<BufWriter<File>>,
    topic: &str,
) -> mcap::McapResult<u16> {
    let schema = T::get_schema().expect("every Foxglove schema type has its schema");
    let id = mcap.add_schema(&schema.name, &schema.encoding, &schema.data)?;
    mcap.add_channel(id, topic, &T::get_message_encoding(), &BTreeMap::new())
}

/// Adds the channel `topic` carrying the ROS 2 message of `schema`.
fn ros2_channel(
    mcap: &mut mcap::Writer<BufWriter<File>>,
    topic: &str,
    schema: ros2::Schema,
) -> mcap::McapResult<u16> {
    let id = mcap.add_schema(schema.name, "ros2msg", schema.text.as_bytes())?;
    mcap.add_channel(id, topic, "cdr", &BTreeMap::new())
}

/// Every channel, as ROS 2 messages; `others` names a fleet's robots after the first.
fn ros2_ids(mcap: &mut mcap::Writer<BufWriter<File>>, others: &[String]) -> mcap::McapResult<Ids> {
    use ros2::schemas;
    let mut robots = Vec::new();
    for name in robot_names(others) {
        let topic = |t: &str| robot_topic(name, t);
        robots.push(RobotIds {
            pose: ros2_channel(mcap, &topic(topics::POSE), schemas::pose_stamped())?,
            scan: ros2_channel(mcap, &topic(topics::SCAN), schemas::laser_scan())?,
            cmd_vel: ros2_channel(mcap, &topic(topics::CMD_VEL), schemas::twist())?,
            camera: ros2_channel(mcap, &topic(topics::CAMERA), schemas::compressed_image())?,
            base: robot_frame(name, "base_link").into(),
            camera_frame: robot_frame(name, "camera"),
        });
    }
    Ok(Ids {
        map: ros2_channel(mcap, topics::MAP, schemas::occupancy_grid())?,
        tf: ros2_channel(mcap, topics::TF, schemas::tf_message())?,
        tf_static: ros2_channel(mcap, topics::TF_STATIC, schemas::tf_message())?,
        code: ros2_channel(mcap, topics::CODE, schemas::action_output())?,
        observation: ros2_channel(mcap, topics::OBSERVATION, schemas::action_output())?,
        pictures: ros2_channel(mcap, topics::PICTURES, schemas::compressed_image())?,
        events: ros2_channel(mcap, topics::EVENTS, schemas::action_output())?,
        robots,
    })
}

/// Every channel, in Foxglove's schemas; `others` names a fleet's robots after the first.
fn foxglove_ids(
    mcap: &mut mcap::Writer<BufWriter<File>>,
    others: &[String],
) -> mcap::McapResult<Ids> {
    let velocity = mcap.add_schema(
        "codeact.VelocityCommand",
        "jsonschema",
        TWIST_SCHEMA.as_bytes(),
    )?;
    let mut robots = Vec::new();
    for name in robot_names(others) {
        let topic = |t: &str| robot_topic(name, t);
        robots.push(RobotIds {
            pose: channel::<PoseInFrame>(mcap, &topic(topics::POSE))?,
            scan: channel::<LaserScan>(mcap, &topic(topics::SCAN))?,
            cmd_vel: mcap.add_channel(
                velocity,
                &topic(topics::CMD_VEL),
                "json",
                &BTreeMap::new(),
            )?,
            camera: channel::<CompressedImage>(mcap, &topic(topics::CAMERA))?,
            base: robot_frame(name, "base_link").into(),
            camera_frame: robot_frame(name, "camera"),
        });
    }
    Ok(Ids {
        map: channel::<Grid>(mcap, topics::MAP)?,
        tf: channel::<FrameTransforms>(mcap, topics::TF)?,
        tf_static: channel::<FrameTransforms>(mcap, topics::TF_STATIC)?,
        code: channel::<Log>(mcap, topics::CODE)?,
        observation: channel::<Log>(mcap, topics::OBSERVATION)?,
        pictures: channel::<CompressedImage>(mcap, topics::PICTURES)?,
        events: channel::<Log>(mcap, topics::EVENTS)?,
        robots,
    })
}

impl Channels {
    /// Starts the MCAP file in `file` with every channel in `format` (a
    /// fleet's robots after the first, `others`, each with its own), and
    /// each camera's place on its robot (`base_link` → `camera`, on
    /// `/tf_static`).
    pub fn create(file: File, format: Format, others: &[String]) -> mcap::McapResult<Self> {
        // Uncompressed chunks: a recording is mostly lidar ranges, which lz4
        // shrinks by a fifth (3.1 vs 3.8 MB for a warehouse episode) and zstd
        // hardly more, for a third more of the writer's CPU, which it takes
        // from the simulator (`codeact bench --suite eval` measures it).
        let options = mcap::WriteOptions::new()
            .compression(None)
            .library(concat!("codeact ", env!("CARGO_PKG_VERSION")));
        let mut mcap = options.create(BufWriter::new(file))?;
        let ids = match format {
            Format::Foxglove => foxglove_ids(&mut mcap, others)?,
            Format::Ros2 => ros2_ids(&mut mcap, others)?,
        };
        let mut channels = Channels {
            mcap,
            format,
            ids,
            buf: Vec::with_capacity(64 << 10),
            sequence: 0,
        };
        let frames: Vec<(std::sync::Arc<str>, String)> = channels
            .ids
            .robots
            .iter()
            .map(|r| (r.base.clone(), r.camera_frame.clone()))
            .collect();
        for (base, camera) in frames {
            channels.transform(channels.ids.tf_static, &base, &camera, Pose2::default(), 0)?;
        }
        Ok(channels)
    }

    /// Finishes the chunk and flushes the file: a reader of the file cut
    /// after this gets everything written so far.
    pub fn flush(&mut self) -> mcap::McapResult<()> {
        self.mcap.flush()
    }

    /// Writes the summary and closes the file.
    pub fn finish(mut self) -> mcap::McapResult<()> {
        self.mcap.finish().map(drop)
    }

    /// Writes the encoded `message` on `channel` at `ns`.
    fn put(&mut self, channel: u16, ns: u64) -> mcap::McapResult<()> {
        self.sequence = self.sequence.wrapping_add(1);
        let header = MessageHeader {
            channel_id: channel,
            sequence: self.sequence,
            log_time: ns,
            publish_time: ns,
        };
        self.mcap.write_to_known_channel(&header, &self.buf)
    }

    /// Encodes `message` as ROS 2 CDR and writes it on `channel` at `ns`.
    fn cdr<T: serde::Serialize>(
        &mut self,
        channel: u16,
        message: &T,
        ns: u64,
    ) -> mcap::McapResult<()> {
        self.buf.clear();
        ros2::encode(message, &mut self.buf);
        self.put(channel, ns)
    }

    /// Encodes `message` and writes it on `channel` at `ns`.
    fn log<T: Encode>(&mut self, channel: u16, message: &T, ns: u64) -> mcap::McapResult<()> {
        self.buf.clear();
        // A Vec grows as needed: encoding into it cannot run out of room.
        message
            .encode(&mut self.buf)
            .expect("encoding into a growable buffer cannot fail");
        self.put(channel, ns)
    }

    /// Writes `message` at `ns` on its channel.
    pub fn write(&mut self, ns: u64, message: Message) -> mcap::McapResult<()> {
        self.write_of(0, ns, message)
    }

    /// Writes `message` at `ns` on its channel, robot `robot`'s if it is one
    /// of a robot's (a robot the file was not made with: the first's).
    fn write_of(&mut self, robot: usize, ns: u64, message: Message) -> mcap::McapResult<()> {
        let robot = if robot < self.ids.robots.len() {
            robot
        } else {
            0
        };
        match message {
            Message::Of(i, message) => self.write_of(i, ns, *message),
            Message::Map(map) => self.map(&map, ns),
            Message::Pose(pose) => self.pose(robot, pose, ns),
            Message::Scan(scan) => self.scan(robot, scan, ns),
            Message::Command(linear, angular) => self.command(robot, linear, angular, ns),
            Message::Camera(png) => self.camera(robot, png, ns),
            Message::Code(action, code) => {
                self.text(self.ids.code, "code", action, code, Level::Info, ns)
            }
            Message::Observation(action, text, level) => {
                self.text(self.ids.observation, "observation", action, text, level, ns)
            }
            Message::Picture(picture) => self.picture(picture, ns),
            Message::Event(text) => self.text(self.ids.events, "robot", 0, text, Level::Info, ns),
            Message::Metadata(name, metadata) => self
                .mcap
                .write_metadata(&mcap::records::Metadata { name, metadata }),
        }
    }

    /// The occupancy grid: 100 where occupied, 0 where free.
    fn map(&mut self, map: &GridMap, ns: u64) -> mcap::McapResult<()> {
        match self.format {
            Format::Ros2 => self.cdr(self.ids.map, &ros2::from::map(map, ns), ns),
            Format::Foxglove => self.log(self.ids.map, &fox::map(map, ns), ns),
        }
    }

    /// Robot `robot`'s pose, and the transform that places its frame.
    fn pose(&mut self, robot: usize, pose: Pose2, ns: u64) -> mcap::McapResult<()> {
        let channel = self.ids.robots[robot].pose;
        match self.format {
            Format::Ros2 => self.cdr(channel, &ros2::from::pose(pose, ns), ns)?,
            Format::Foxglove => self.log(channel, &fox::pose(pose, ns), ns)?,
        }
        let base = self.ids.robots[robot].base.clone();
        self.transform(self.ids.tf, "map", &base, pose, ns)
    }

    /// `parent` → `child` on `channel`: `child` at (x, y) in `parent`, turned by theta.
    fn transform(
        &mut self,
        channel: u16,
        parent: &str,
        child: &str,
        pose: Pose2,
        ns: u64,
    ) -> mcap::McapResult<()> {
        match self.format {
            Format::Ros2 => self.cdr(channel, &ros2::from::transform(parent, child, pose, ns), ns),
            Format::Foxglove => self.log(channel, &fox::transform(parent, child, pose, ns), ns),
        }
    }

    /// Robot `robot`'s lidar scan, in its frame.
    fn scan(&mut self, robot: usize, scan: ScanData, ns: u64) -> mcap::McapResult<()> {
        let r = &self.ids.robots[robot];
        let channel = r.scan;
        match self.format {
            Format::Ros2 => {
                let scan = ros2::from::scan(scan, &r.base, ns);
                self.cdr(channel, &scan, ns)
            }
            Format::Foxglove => {
                let scan = fox::scan(scan, &r.base, ns);
                self.log(channel, &scan, ns)
            }
        }
    }

    /// Robot `robot`'s velocity command (JSON, or a Twist).
    fn command(
        &mut self,
        robot: usize,
        linear: f64,
        angular: f64,
        ns: u64,
    ) -> mcap::McapResult<()> {
        let channel = self.ids.robots[robot].cmd_vel;
        if self.format == Format::Ros2 {
            return self.cdr(channel, &ros2::from::twist(linear, angular), ns);
        }
        self.buf.clear();
        fox::command(linear, angular, &mut self.buf);
        self.put(channel, ns)
    }

    /// Robot `robot`'s camera picture (PNG).
    fn camera(&mut self, robot: usize, png: Vec<u8>, ns: u64) -> mcap::McapResult<()> {
        let r = &self.ids.robots[robot];
        let channel = r.camera;
        match self.format {
            Format::Ros2 => {
                let image = ros2::from::image(png, "png", &r.camera_frame, ns);
                self.cdr(channel, &image, ns)
            }
            Format::Foxglove => {
                let image = fox::image(png, "png", &r.camera_frame, ns);
                self.log(channel, &image, ns)
            }
        }
    }

    /// A picture an action attached.
    fn picture(&mut self, picture: Picture, ns: u64) -> mcap::McapResult<()> {
        let format = picture.mime.format();
        match self.format {
            Format::Ros2 => {
                let image = ros2::from::image(picture.data.to_vec(), format, "camera", ns);
                self.cdr(self.ids.pictures, &image, ns)
            }
            Format::Foxglove => {
                let image = fox::image(picture.data.to_vec(), format, "camera", ns);
                self.log(self.ids.pictures, &image, ns)
            }
        }
    }

    /// A text message (code, observation, robot event) on `channel`, with
    /// the action's number as its line.
    fn text(
        &mut self,
        channel: u16,
        name: &str,
        line: u64,
        text: String,
        level: Level,
        ns: u64,
    ) -> mcap::McapResult<()> {
        if self.format == Format::Ros2 {
            let kind = if level == Level::Error { "error" } else { name };
            return self.cdr(channel, &ros2::from::text(line, kind, text), ns);
        }
        self.log(channel, &fox::log(name, line, text, level, ns), ns)
    }
}

#[cfg(test)]
mod tests {
    use super::topics;

    /// Every topic the Foxglove layout in docs/ shows is one the recording writes.
    #[test]
    fn the_layout_shows_recorded_topics() {
        let layout: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/foxglove-layout.json")).unwrap();
        let recorded = [
            topics::MAP,
            topics::POSE,
            topics::TF,
            topics::SCAN,
            topics::CMD_VEL,
            topics::CAMERA,
            topics::CODE,
            topics::OBSERVATION,
            topics::PICTURES,
            topics::EVENTS,
        ];
        let mut shown = Vec::new();
        for panel in layout["configById"].as_object().unwrap().values() {
            shown.extend(panel["topicToRender"].as_str().map(str::to_owned));
            shown.extend(panel["imageMode"]["imageTopic"].as_str().map(str::to_owned));
            if let Some(t) = panel["topics"].as_object() {
                shown.extend(t.keys().cloned());
            }
            for path in panel["paths"].as_array().into_iter().flatten() {
                let value = path["value"].as_str().unwrap();
                shown.push(value.split('.').next().unwrap().to_owned());
            }
        }
        assert!(shown.len() >= 9, "{shown:?}");
        for topic in &shown {
            assert!(
                recorded.contains(&topic.as_str()),
                "{topic} is not recorded"
            );
        }
        // Every panel in the configuration is placed in the layout tree.
        let tree = layout["layout"].to_string();
        for id in layout["configById"].as_object().unwrap().keys() {
            assert!(tree.contains(&format!("\"{id}\"")), "{id} is not placed");
        }
    }
}
