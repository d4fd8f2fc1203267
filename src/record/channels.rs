//! The recording's channels: topic names, Foxglove schemas and how each
//! robot datum becomes a message. Frames: `map` (the world), `base_link`
//! (the robot), `camera` (its camera).

use std::sync::Arc;

use foxglove::schemas::{
    packed_element_field::NumericType, CompressedImage, FrameTransform, FrameTransforms, Grid,
    LaserScan, Log, PackedElementField, Pose, PoseInFrame, Quaternion, Timestamp, Vector2, Vector3,
};
use foxglove::{Channel, Context, PartialMetadata, RawChannel, Schema};
use robot_api::nav::GridMap;
use robot_api::{Pose2, ScanData};

use crate::executor::observation::picture_format;
use crate::executor::Picture;

pub use foxglove::schemas::log::Level;

/// Topic names, for readers and the Foxglove layout.
pub mod topics {
    /// The occupancy grid (foxglove.Grid), once.
    pub const MAP: &str = "/map";
    /// The robot's pose estimate (foxglove.PoseInFrame).
    pub const POSE: &str = "/pose";
    /// `map` → `base_link` (foxglove.FrameTransforms).
    pub const TF: &str = "/tf";
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
const TWIST_SCHEMA: &str = r#"{"title":"codeact.VelocityCommand","description":"A velocity command to the robot's base","type":"object","properties":{"linear":{"type":"number","description":"forward speed, m/s"},"angular":{"type":"number","description":"turn rate, rad/s (counter-clockwise)"}},"required":["linear","angular"]}"#;

/// One thing to record, as the robot's thread hands it to the writer.
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
}

/// Every channel of one recording, on its own context.
pub struct Channels {
    map: Channel<Grid>,
    pose: Channel<PoseInFrame>,
    tf: Channel<FrameTransforms>,
    scan: Channel<LaserScan>,
    cmd_vel: Arc<RawChannel>,
    camera: Channel<CompressedImage>,
    code: Channel<Log>,
    observation: Channel<Log>,
    pictures: Channel<CompressedImage>,
    events: Channel<Log>,
}

fn stamp(ns: u64) -> Option<Timestamp> {
    Some(Timestamp::new(
        (ns / 1_000_000_000) as u32,
        (ns % 1_000_000_000) as u32,
    ))
}

fn at(ns: u64) -> PartialMetadata {
    PartialMetadata { log_time: Some(ns) }
}

/// A planar pose as a 3D one (a rotation about z).
fn pose3(x: f64, y: f64, theta: f64) -> Pose {
    Pose {
        position: Some(Vector3 { x, y, z: 0.0 }),
        orientation: Some(Quaternion {
            x: 0.0,
            y: 0.0,
            z: (theta / 2.0).sin(),
            w: (theta / 2.0).cos(),
        }),
    }
}

impl Channels {
    /// The channels on `context` (whose sink is the MCAP writer).
    pub fn new(context: &Arc<Context>) -> Self {
        let cmd_vel = context
            .channel_builder(topics::CMD_VEL)
            .message_encoding("json")
            .schema(Schema::new(
                "codeact.VelocityCommand",
                "jsonschema",
                TWIST_SCHEMA.as_bytes(),
            ))
            .build_raw()
            .expect("a fresh context has no channel of this name");
        Channels {
            map: context.channel_builder(topics::MAP).build(),
            pose: context.channel_builder(topics::POSE).build(),
            tf: context.channel_builder(topics::TF).build(),
            scan: context.channel_builder(topics::SCAN).build(),
            cmd_vel,
            camera: context.channel_builder(topics::CAMERA).build(),
            code: context.channel_builder(topics::CODE).build(),
            observation: context.channel_builder(topics::OBSERVATION).build(),
            pictures: context.channel_builder(topics::PICTURES).build(),
            events: context.channel_builder(topics::EVENTS).build(),
        }
    }

    /// Writes `message` at `ns` on its channel.
    pub fn write(&self, ns: u64, message: Message) {
        match message {
            Message::Map(map) => self.map(&map, ns),
            Message::Pose(pose) => self.pose(pose, ns),
            Message::Scan(scan) => self.scan(&scan, ns),
            Message::Command(linear, angular) => self.command(linear, angular, ns),
            Message::Camera(png) => self.camera(png, ns),
            Message::Code(action, code) => self.code(action, &code, ns),
            Message::Observation(action, text, level) => self.observation(action, &text, level, ns),
            Message::Picture(picture) => self.picture(picture, ns),
            Message::Event(text) => self.event(&text, ns),
        }
    }

    /// The occupancy grid: 100 where occupied, 0 where free.
    fn map(&self, map: &GridMap, ns: u64) {
        let data: Vec<u8> = map
            .occupied
            .iter()
            .map(|&o| if o { 100 } else { 0 })
            .collect();
        let grid = Grid {
            timestamp: stamp(ns),
            frame_id: "map".into(),
            pose: Some(pose3(map.origin.x, map.origin.y, 0.0)),
            column_count: map.width as u32,
            cell_size: Some(Vector2 {
                x: map.resolution,
                y: map.resolution,
            }),
            row_stride: map.width as u32,
            cell_stride: 1,
            fields: vec![PackedElementField {
                name: "occupancy".into(),
                offset: 0,
                r#type: NumericType::Uint8 as i32,
            }],
            data: data.into(),
        };
        self.map.log_with_meta(&grid, at(ns));
    }

    /// The pose, and the transform that places the robot's frame.
    fn pose(&self, pose: Pose2, ns: u64) {
        let p = pose3(pose.x, pose.y, pose.theta);
        self.pose.log_with_meta(
            &PoseInFrame {
                timestamp: stamp(ns),
                frame_id: "map".into(),
                pose: Some(p),
            },
            at(ns),
        );
        self.tf.log_with_meta(
            &FrameTransforms {
                transforms: vec![FrameTransform {
                    timestamp: stamp(ns),
                    parent_frame_id: "map".into(),
                    child_frame_id: "base_link".into(),
                    translation: Some(Vector3 {
                        x: pose.x,
                        y: pose.y,
                        z: 0.0,
                    }),
                    rotation: p.orientation,
                }],
            },
            at(ns),
        );
    }

    /// A lidar scan in the robot's frame.
    fn scan(&self, scan: &ScanData, ns: u64) {
        let end =
            scan.angle_min + scan.angle_increment * scan.ranges.len().saturating_sub(1) as f64;
        self.scan.log_with_meta(
            &LaserScan {
                timestamp: stamp(ns),
                frame_id: "base_link".into(),
                pose: Some(pose3(0.0, 0.0, 0.0)),
                start_angle: scan.angle_min,
                end_angle: end,
                ranges: scan.ranges.clone(),
                intensities: Vec::new(),
            },
            at(ns),
        );
    }

    /// A velocity command.
    fn command(&self, linear: f64, angular: f64, ns: u64) {
        let json = serde_json::json!({"linear": linear, "angular": angular});
        self.cmd_vel
            .log_with_meta(json.to_string().as_bytes(), at(ns));
    }

    /// A camera picture (PNG).
    fn camera(&self, png: Vec<u8>, ns: u64) {
        self.camera.log_with_meta(
            &CompressedImage {
                timestamp: stamp(ns),
                frame_id: "camera".into(),
                data: png.into(),
                format: "png".into(),
            },
            at(ns),
        );
    }

    /// A code action, with its number as the line.
    fn code(&self, action: u64, code: &str, ns: u64) {
        self.log(&self.code, "code", action, code, Level::Info, ns);
    }

    /// An observation as the model reads it.
    fn observation(&self, action: u64, text: &str, level: Level, ns: u64) {
        self.log(&self.observation, "observation", action, text, level, ns);
    }

    /// A picture an action attached.
    fn picture(&self, picture: Picture, ns: u64) {
        let format = picture_format(&picture.mime);
        self.pictures.log_with_meta(
            &CompressedImage {
                timestamp: stamp(ns),
                frame_id: "camera".into(),
                data: picture.data.into(),
                format: format.into(),
            },
            at(ns),
        );
    }

    /// A robot event.
    fn event(&self, text: &str, ns: u64) {
        self.log(&self.events, "robot", 0, text, Level::Info, ns);
    }

    fn log(
        &self,
        channel: &Channel<Log>,
        name: &str,
        line: u64,
        text: &str,
        level: Level,
        ns: u64,
    ) {
        channel.log_with_meta(
            &Log {
                timestamp: stamp(ns),
                level: level as i32,
                message: text.to_owned(),
                name: name.into(),
                file: String::new(),
                line: line as u32,
            },
            at(ns),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::topics;

    /// Every topic the Foxglove layout in docs/ shows is one the recording writes.
    #[test]
    fn the_layout_shows_recorded_topics() {
        let layout: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/foxglove-layout.json")).unwrap();
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
