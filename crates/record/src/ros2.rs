//! The recording's messages as ROS 2 has them: standard message types in
//! CDR (`ros2msg` schemas), so `ros2 bag info/play`, RViz and the
//! `mcap-ros2-support` decoder read them. Each schema is the type's
//! definition followed by those of the types it uses, as rosbag2 writes it.

use serde::{Serialize, Serializer};

/// The CDR encapsulation header of a little-endian message.
const CDR_LE: [u8; 4] = [0, 1, 0, 0];

/// Appends `message` to `buf` as a ROS 2 CDR message.
pub fn encode<T: Serialize>(message: &T, buf: &mut Vec<u8>) {
    buf.extend_from_slice(&CDR_LE);
    let body = cdr_encoding::to_vec::<_, byteorder::LittleEndian>(message)
        .expect("the recording's message types all encode");
    buf.extend_from_slice(&body);
}

/// Bytes written as one block (a `uint8[]`), not one by one.
pub struct Bytes(pub Vec<u8>);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// `builtin_interfaces/msg/Time`.
#[derive(Serialize, Clone, Copy)]
pub struct Time {
    /// Seconds.
    pub sec: i32,
    /// Nanoseconds.
    pub nanosec: u32,
}

impl Time {
    /// The time `ns` nanoseconds after the epoch of the recording's clock.
    pub fn from_nanos(ns: u64) -> Time {
        Time {
            sec: (ns / 1_000_000_000) as i32,
            nanosec: (ns % 1_000_000_000) as u32,
        }
    }
}

/// `std_msgs/msg/Header`.
#[derive(Serialize)]
pub struct Header {
    /// When.
    pub stamp: Time,
    /// In which frame.
    pub frame_id: String,
}

/// `geometry_msgs/msg/Vector3` (and `Point`, the same fields).
#[derive(Serialize, Clone, Copy, Default)]
pub struct Vector3 {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
}

/// `geometry_msgs/msg/Quaternion`.
#[derive(Serialize, Clone, Copy)]
pub struct Quaternion {
    /// x.
    pub x: f64,
    /// y.
    pub y: f64,
    /// z.
    pub z: f64,
    /// w.
    pub w: f64,
}

impl Quaternion {
    /// A rotation of `theta` radians about z.
    pub fn yaw(theta: f64) -> Quaternion {
        Quaternion {
            x: 0.0,
            y: 0.0,
            z: (theta / 2.0).sin(),
            w: (theta / 2.0).cos(),
        }
    }
}

/// `geometry_msgs/msg/Pose`.
#[derive(Serialize, Clone, Copy)]
pub struct Pose {
    /// Where.
    pub position: Vector3,
    /// Which way.
    pub orientation: Quaternion,
}

/// `geometry_msgs/msg/PoseStamped`.
#[derive(Serialize)]
pub struct PoseStamped {
    /// When and in which frame.
    pub header: Header,
    /// The pose.
    pub pose: Pose,
}

/// `geometry_msgs/msg/Transform`.
#[derive(Serialize)]
pub struct Transform {
    /// Translation.
    pub translation: Vector3,
    /// Rotation.
    pub rotation: Quaternion,
}

/// `geometry_msgs/msg/TransformStamped`.
#[derive(Serialize)]
pub struct TransformStamped {
    /// When, and the parent frame.
    pub header: Header,
    /// The child frame.
    pub child_frame_id: String,
    /// Where the child is in the parent.
    pub transform: Transform,
}

/// `tf2_msgs/msg/TFMessage`.
#[derive(Serialize)]
pub struct TfMessage {
    /// The transforms.
    pub transforms: Vec<TransformStamped>,
}

/// `sensor_msgs/msg/LaserScan`.
#[derive(Serialize)]
pub struct LaserScan {
    /// When and in which frame.
    pub header: Header,
    /// First ray's angle, radians.
    pub angle_min: f32,
    /// Last ray's angle, radians.
    pub angle_max: f32,
    /// Between rays, radians.
    pub angle_increment: f32,
    /// Between measurements, seconds.
    pub time_increment: f32,
    /// Between scans, seconds.
    pub scan_time: f32,
    /// Shortest range, metres.
    pub range_min: f32,
    /// Longest range, metres.
    pub range_max: f32,
    /// The ranges, metres.
    pub ranges: Vec<f32>,
    /// None here.
    pub intensities: Vec<f32>,
}

/// `geometry_msgs/msg/Twist`.
#[derive(Serialize)]
pub struct Twist {
    /// m/s.
    pub linear: Vector3,
    /// rad/s.
    pub angular: Vector3,
}

/// `sensor_msgs/msg/CompressedImage`.
#[derive(Serialize)]
pub struct CompressedImage {
    /// When and in which frame.
    pub header: Header,
    /// `png` or `jpeg`.
    pub format: String,
    /// The encoded picture.
    pub data: Bytes,
}

/// `nav_msgs/msg/MapMetaData`.
#[derive(Serialize)]
pub struct MapMetaData {
    /// When the map was loaded.
    pub map_load_time: Time,
    /// Metres per cell.
    pub resolution: f32,
    /// Cells across.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Where cell (0, 0) is.
    pub origin: Pose,
}

/// `nav_msgs/msg/OccupancyGrid`.
#[derive(Serialize)]
pub struct OccupancyGrid {
    /// When and in which frame.
    pub header: Header,
    /// Its size and place.
    pub info: MapMetaData,
    /// 100 occupied, 0 free, row by row.
    pub data: Vec<i8>,
}

/// `codeact_interfaces/msg/ActionOutput`: a code action, its observation,
/// a robot event.
#[derive(Serialize)]
pub struct ActionOutput {
    /// The action's number (0 for robot events).
    pub action: u64,
    /// `code`, `observation`, `error` or `event`.
    pub kind: String,
    /// The text.
    pub text: String,
}

/// The definitions the schemas are made of, without comments.
mod msg {
    pub const TIME: &str = "int32 sec\nuint32 nanosec\n";
    pub const HEADER: &str = "builtin_interfaces/Time stamp\nstring frame_id\n";
    pub const VECTOR3: &str = "float64 x\nfloat64 y\nfloat64 z\n";
    pub const POINT: &str = VECTOR3;
    pub const QUATERNION: &str = "float64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n";
    pub const POSE: &str = "Point position\nQuaternion orientation\n";
    pub const POSE_STAMPED: &str = "std_msgs/Header header\nPose pose\n";
    pub const TRANSFORM: &str = "Vector3 translation\nQuaternion rotation\n";
    pub const TRANSFORM_STAMPED: &str =
        "std_msgs/Header header\nstring child_frame_id\nTransform transform\n";
    pub const TF_MESSAGE: &str = "geometry_msgs/TransformStamped[] transforms\n";
    pub const LASER_SCAN: &str = "std_msgs/Header header\nfloat32 angle_min\nfloat32 angle_max\nfloat32 angle_increment\nfloat32 time_increment\nfloat32 scan_time\nfloat32 range_min\nfloat32 range_max\nfloat32[] ranges\nfloat32[] intensities\n";
    pub const TWIST: &str = "Vector3 linear\nVector3 angular\n";
    pub const COMPRESSED_IMAGE: &str = "std_msgs/Header header\nstring format\nuint8[] data\n";
    pub const MAP_META_DATA: &str = "builtin_interfaces/Time map_load_time\nfloat32 resolution\nuint32 width\nuint32 height\ngeometry_msgs/Pose origin\n";
    pub const OCCUPANCY_GRID: &str = "std_msgs/Header header\nMapMetaData info\nint8[] data\n";
    pub const ACTION_OUTPUT: &str = "uint64 action\nstring kind\nstring text\n";
}

/// A ROS 2 message type of the recording: its name and its `ros2msg` schema.
pub struct Schema {
    /// `pkg/msg/Type`.
    pub name: &'static str,
    /// The definition, then each type it uses.
    pub text: String,
}

/// `definition` of `name`, followed by those of `uses` (name, definition).
fn schema(name: &'static str, definition: &str, uses: &[(&str, &str)]) -> Schema {
    let mut text = definition.to_owned();
    for (used, def) in uses {
        text.push_str(&"=".repeat(80));
        text.push_str(&format!("\nMSG: {used}\n{def}"));
    }
    Schema { name, text }
}

const HEADER_USES: [(&str, &str); 2] = [
    ("std_msgs/Header", msg::HEADER),
    ("builtin_interfaces/Time", msg::TIME),
];

/// The schemas of the recording's channels.
pub mod schemas {
    use super::{msg, schema, Schema, HEADER_USES};

    /// `geometry_msgs/msg/PoseStamped`.
    pub fn pose_stamped() -> Schema {
        let mut uses = HEADER_USES.to_vec();
        uses.extend([
            ("geometry_msgs/Pose", msg::POSE),
            ("geometry_msgs/Point", msg::POINT),
            ("geometry_msgs/Quaternion", msg::QUATERNION),
        ]);
        schema("geometry_msgs/msg/PoseStamped", msg::POSE_STAMPED, &uses)
    }

    /// `tf2_msgs/msg/TFMessage`.
    pub fn tf_message() -> Schema {
        let mut uses = vec![("geometry_msgs/TransformStamped", msg::TRANSFORM_STAMPED)];
        uses.extend(HEADER_USES);
        uses.extend([
            ("geometry_msgs/Transform", msg::TRANSFORM),
            ("geometry_msgs/Vector3", msg::VECTOR3),
            ("geometry_msgs/Quaternion", msg::QUATERNION),
        ]);
        schema("tf2_msgs/msg/TFMessage", msg::TF_MESSAGE, &uses)
    }

    /// `sensor_msgs/msg/LaserScan`.
    pub fn laser_scan() -> Schema {
        schema("sensor_msgs/msg/LaserScan", msg::LASER_SCAN, &HEADER_USES)
    }

    /// `geometry_msgs/msg/Twist`.
    pub fn twist() -> Schema {
        schema(
            "geometry_msgs/msg/Twist",
            msg::TWIST,
            &[("geometry_msgs/Vector3", msg::VECTOR3)],
        )
    }

    /// `sensor_msgs/msg/CompressedImage`.
    pub fn compressed_image() -> Schema {
        schema(
            "sensor_msgs/msg/CompressedImage",
            msg::COMPRESSED_IMAGE,
            &HEADER_USES,
        )
    }

    /// `nav_msgs/msg/OccupancyGrid`.
    pub fn occupancy_grid() -> Schema {
        let mut uses = HEADER_USES.to_vec();
        uses.extend([
            ("nav_msgs/MapMetaData", msg::MAP_META_DATA),
            ("geometry_msgs/Pose", msg::POSE),
            ("geometry_msgs/Point", msg::POINT),
            ("geometry_msgs/Quaternion", msg::QUATERNION),
        ]);
        schema("nav_msgs/msg/OccupancyGrid", msg::OCCUPANCY_GRID, &uses)
    }

    /// `codeact_interfaces/msg/ActionOutput`.
    pub fn action_output() -> Schema {
        schema(
            "codeact_interfaces/msg/ActionOutput",
            msg::ACTION_OUTPUT,
            &[],
        )
    }
}

/// The recording's data as ROS 2 messages.
pub mod from {
    use robot_api::nav::GridMap;
    use robot_api::{Pose2, ScanData};

    use super::*;

    fn header(ns: u64, frame: &str) -> Header {
        Header {
            stamp: Time::from_nanos(ns),
            frame_id: frame.into(),
        }
    }

    fn pose3(x: f64, y: f64, theta: f64) -> Pose {
        Pose {
            position: Vector3 { x, y, z: 0.0 },
            orientation: Quaternion::yaw(theta),
        }
    }

    /// The robot's pose in `map`.
    pub fn pose(pose: Pose2, ns: u64) -> PoseStamped {
        PoseStamped {
            header: header(ns, "map"),
            pose: pose3(pose.x, pose.y, pose.theta),
        }
    }

    /// `parent` → `child` at (x, y) turned by `theta`.
    pub fn transform(parent: &str, child: &str, pose: Pose2, ns: u64) -> TfMessage {
        TfMessage {
            transforms: vec![TransformStamped {
                header: header(ns, parent),
                child_frame_id: child.into(),
                transform: Transform {
                    translation: Vector3 {
                        x: pose.x,
                        y: pose.y,
                        z: 0.0,
                    },
                    rotation: Quaternion::yaw(pose.theta),
                },
            }],
        }
    }

    /// A scan in the robot's frame `frame`.
    pub fn scan(scan: ScanData, frame: &str, ns: u64) -> LaserScan {
        let last = scan.ranges.len().saturating_sub(1) as f64;
        LaserScan {
            header: header(ns, frame),
            angle_min: scan.angle_min as f32,
            angle_max: (scan.angle_min + scan.angle_increment * last) as f32,
            angle_increment: scan.angle_increment as f32,
            time_increment: 0.0,
            scan_time: 0.0,
            range_min: scan.range_min as f32,
            range_max: scan.range_max as f32,
            ranges: scan.ranges.iter().map(|&r| r as f32).collect(),
            intensities: Vec::new(),
        }
    }

    /// A velocity command.
    pub fn twist(linear: f64, angular: f64) -> Twist {
        Twist {
            linear: Vector3 {
                x: linear,
                ..Vector3::default()
            },
            angular: Vector3 {
                z: angular,
                ..Vector3::default()
            },
        }
    }

    /// A picture (`png` or `jpeg`) in `frame`.
    pub fn image(data: Vec<u8>, format: &str, frame: &str, ns: u64) -> CompressedImage {
        CompressedImage {
            header: header(ns, frame),
            format: format.into(),
            data: Bytes(data),
        }
    }

    /// The occupancy grid: 100 where occupied, 0 where free.
    pub fn map(map: &GridMap, ns: u64) -> OccupancyGrid {
        OccupancyGrid {
            header: header(ns, "map"),
            info: MapMetaData {
                map_load_time: Time::from_nanos(ns),
                resolution: map.resolution as f32,
                width: map.width as u32,
                height: map.height as u32,
                origin: pose3(map.origin.x, map.origin.y, 0.0),
            },
            data: map
                .occupied
                .iter()
                .map(|&o| if o { 100 } else { 0 })
                .collect(),
        }
    }

    /// A code action, an observation or an event.
    pub fn text(action: u64, kind: &str, text: String) -> ActionOutput {
        ActionOutput {
            action,
            kind: kind.into(),
            text,
        }
    }
}
