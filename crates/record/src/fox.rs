//! The recording's data as Foxglove's schema messages, for the MCAP file
//! ([`crate::channels`]) and the live view ([`crate::live`]) alike.

use foxglove::schemas::{
    packed_element_field::NumericType, CompressedImage, FrameTransform, FrameTransforms, Grid,
    LaserScan, Log, PackedElementField, Pose, PoseInFrame, Quaternion, Timestamp, Vector2, Vector3,
};
use robot_api::nav::GridMap;
use robot_api::{Pose2, ScanData};

pub use foxglove::schemas::log::Level;

fn stamp(ns: u64) -> Option<Timestamp> {
    Some(Timestamp::new(
        (ns / 1_000_000_000) as u32,
        (ns % 1_000_000_000) as u32,
    ))
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

/// The occupancy grid: 100 where occupied, 0 where free.
pub fn map(map: &GridMap, ns: u64) -> Grid {
    let data: Vec<u8> = map
        .occupied
        .iter()
        .map(|&o| if o { 100 } else { 0 })
        .collect();
    Grid {
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
    }
}

/// The robot's pose in `map`.
pub fn pose(pose: Pose2, ns: u64) -> PoseInFrame {
    PoseInFrame {
        timestamp: stamp(ns),
        frame_id: "map".into(),
        pose: Some(pose3(pose.x, pose.y, pose.theta)),
    }
}

/// `parent` → `child`: `child` at (x, y) in `parent`, turned by theta.
pub fn transform(parent: &str, child: &str, pose: Pose2, ns: u64) -> FrameTransforms {
    FrameTransforms {
        transforms: vec![FrameTransform {
            timestamp: stamp(ns),
            parent_frame_id: parent.into(),
            child_frame_id: child.into(),
            translation: Some(Vector3 {
                x: pose.x,
                y: pose.y,
                z: 0.0,
            }),
            rotation: pose3(0.0, 0.0, pose.theta).orientation,
        }],
    }
}

/// A lidar scan in the robot's frame `frame`.
pub fn scan(scan: ScanData, frame: &str, ns: u64) -> LaserScan {
    let end = scan.angle_min + scan.angle_increment * scan.ranges.len().saturating_sub(1) as f64;
    LaserScan {
        timestamp: stamp(ns),
        frame_id: frame.into(),
        pose: Some(pose3(0.0, 0.0, 0.0)),
        start_angle: scan.angle_min,
        end_angle: end,
        ranges: scan.ranges,
        intensities: Vec::new(),
    }
}

/// A velocity command as JSON (`codeact.VelocityCommand`), into `buf`.
pub fn command(linear: f64, angular: f64, buf: &mut Vec<u8>) {
    let json = serde_json::json!({"linear": linear, "angular": angular});
    serde_json::to_writer(buf, &json).expect("a JSON object writes into a Vec");
}

/// A picture (`png` or `jpeg`) in the camera's frame `frame`.
pub fn image(data: Vec<u8>, format: &str, frame: &str, ns: u64) -> CompressedImage {
    CompressedImage {
        timestamp: stamp(ns),
        frame_id: frame.into(),
        data: data.into(),
        format: format.into(),
    }
}

/// A text message (code, observation, robot event), with the action's
/// number as its line.
pub fn log(name: &str, line: u64, text: String, level: Level, ns: u64) -> Log {
    Log {
        timestamp: stamp(ns),
        level: level as i32,
        message: text,
        name: name.into(),
        file: String::new(),
        line: line as u32,
    }
}
