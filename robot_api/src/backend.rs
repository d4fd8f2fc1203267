//! The robot backend interface: what the skills need from a robot. The
//! skills ([`crate::skills`]) are written once against [`RobotBackend`]; the
//! built-in simulator is one backend, a ROS 2 robot another.

use std::time::Duration;

use crate::cancel::CancelToken;
use crate::capability::{Battery, Camera, CameraPictures, Gripper, Lidar, MapPictures, Navigation};
use crate::error::SkillError;
use crate::geometry::P2;
use crate::nav::GridMap;

/// A planar pose: metres and radians, in the world (map) frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose2 {
    /// x, metres.
    pub x: f64,
    /// y, metres.
    pub y: f64,
    /// Heading, radians, counter-clockwise from +x.
    pub theta: f64,
}

impl Pose2 {
    /// A pose.
    pub fn new(x: f64, y: f64, theta: f64) -> Self {
        Pose2 { x, y, theta }
    }

    /// "the robot is at (1.20, 3.40), heading 0.50 rad": for error messages
    /// that say where the robot is now.
    pub fn whereabouts(&self) -> String {
        format!(
            "the robot is at ({:.2}, {:.2}), heading {:.2} rad",
            self.x, self.y, self.theta
        )
    }

    /// Its position.
    pub fn point(&self) -> P2 {
        P2::new(self.x, self.y)
    }

    /// Straight-line distance from its position to `p`, metres.
    pub fn distance_to(&self, p: P2) -> f64 {
        (p - self.point()).norm()
    }
}

/// One lidar scan: ranges over angles, relative to the robot's heading.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScanData {
    /// Angle of the first ray, radians (robot frame).
    pub angle_min: f64,
    /// Angle between rays, radians.
    pub angle_increment: f64,
    /// Shortest measurable range, metres.
    pub range_min: f64,
    /// Longest measurable range, metres; rays that hit nothing read `inf`.
    pub range_max: f64,
    /// One range per ray, metres.
    pub ranges: Vec<f64>,
    /// The robot's pose when the scan was taken.
    pub pose: Pose2,
    /// Time the scan was taken, seconds (robot clock).
    pub stamp: f64,
}

/// An object the camera sees.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Unique name, usable with `pick` and `go_to`.
    pub name: String,
    /// What it is ("cube", "box", "bottle").
    pub kind: String,
    /// Colour name.
    pub colour: String,
    /// Position in the world frame, metres.
    pub x: f64,
    /// Position in the world frame, metres.
    pub y: f64,
    /// Size (edge or diameter), metres.
    pub size: f64,
    /// Distance from the robot, metres.
    pub distance: f64,
    /// Bearing from the robot's heading, radians (left positive).
    pub bearing: f64,
}

/// The battery.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatteryState {
    /// Charge, percent (0–100).
    pub percent: f64,
    /// Whether it is charging now.
    pub charging: bool,
}

/// A named area of the world.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneInfo {
    /// Name ("dock", "kitchen").
    pub name: String,
    /// Outline, world frame, metres.
    pub polygon: Vec<P2>,
    /// A point inside the zone to drive to.
    pub centre: P2,
    /// Whether the robot charges here.
    pub charger: bool,
}

/// Furniture with a top (a table, a bench, a shelf) that objects can be put
/// on and picked from by a robot standing beside it. It is on the map, so
/// known from the start, like zones.
#[derive(Debug, Clone, PartialEq)]
pub struct SurfaceInfo {
    /// Name ("kitchen_table").
    pub name: String,
    /// Outline, world frame, metres.
    pub polygon: Vec<P2>,
}

/// The robot's physical limits, which the skills respect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobotLimits {
    /// Footprint radius, metres.
    pub radius: f64,
    /// Top linear speed, m/s.
    pub max_linear: f64,
    /// Top angular speed, rad/s.
    pub max_angular: f64,
    /// Linear acceleration (and braking) limit, m/s².
    pub max_linear_accel: f64,
    /// How far the gripper reaches from the robot's centre, metres.
    pub reach: f64,
}

/// How close motion skills must come to their goal before they stop trying.
/// A simulator in lockstep can be exact; a real robot, with latency between
/// a command and the odometry that shows it, needs looser tolerances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// Distance to the final goal, metres.
    pub goal: f64,
    /// Heading error, radians.
    pub heading: f64,
    /// Measured linear speed at or below which the robot is at rest, m/s.
    /// Motion skills return only then, so the pose they return is where the
    /// robot stays.
    pub rest_linear: f64,
    /// Measured angular speed at or below which the robot is at rest, rad/s.
    pub rest_angular: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Tolerances {
            goal: 0.02,
            heading: 0.005,
            rest_linear: 1e-3,
            rest_angular: 1e-3,
        }
    }
}

impl RobotLimits {
    /// How far in front of the robot's centre `place()` puts an object down,
    /// metres: halfway between the footprint's edge and the gripper's reach.
    pub fn place_distance(&self) -> f64 {
        place_distance(self.radius, self.reach)
    }
}

/// How far in front of the robot's centre `place()` puts an object down,
/// for a footprint `radius` and a gripper `reach`, metres.
pub fn place_distance(radius: f64, reach: f64) -> f64 {
    (radius + reach) / 2.0
}

/// What the camera sees: the objects within `fov` and `range`, not hidden.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraView {
    /// Horizontal field of view, radians, centred on the heading.
    pub fov: f64,
    /// How far it recognises objects, metres.
    pub range: f64,
}

/// A robot the skills can drive: the base every robot has (its pose,
/// motion, clock, map and reports). What only some robots have (a lidar, a
/// camera, a gripper, a battery gauge, their own navigation, pictures) is a
/// trait of its own in [`crate::capability`], reached through an accessor
/// here that returns `None` where the robot lacks it; a skill exists exactly
/// where its capability does.
///
/// No method has a default: a backend, and a wrapper around one (the
/// recorder), says what each one does, so a method added here cannot be
/// skipped by accident.
///
/// Implementations are shared between the skill thread and whatever else
/// watches the robot, hence `Sync`. Motion is commanded as velocities and
/// time is advanced with [`RobotBackend::advance`]: the simulator steps its
/// physics (as fast as it can in lockstep), a real robot just lets the time
/// pass.
pub trait RobotBackend: Send + Sync {
    /// What this robot is, for the API text ("simulated robot in warehouse").
    fn describe(&self) -> String;
    /// Its limits.
    fn limits(&self) -> RobotLimits;
    /// How precisely motion skills stop ([`Tolerances::default`] for a
    /// simulator in lockstep).
    fn tolerances(&self) -> Tolerances;
    /// Its clock, seconds.
    fn time(&self) -> f64;
    /// What the seconds of skill timeouts, durations and waits are, for the
    /// API text ([`WALL_CLOCK_NOTE`] on a real robot).
    fn clock_note(&self) -> String;
    /// The area the robot must stay in (a geofence), if any: motion skills
    /// plan inside it.
    fn allowed_area(&self) -> Option<Vec<P2>>;
    /// Its pose estimate (odometry or localisation).
    fn pose(&self) -> Result<Pose2, SkillError>;
    /// Current body velocities (m/s, rad/s), as measured.
    fn velocity(&self) -> (f64, f64);
    /// Commands body velocities (m/s, rad/s); clamped to the limits.
    fn command(&self, linear: f64, angular: f64) -> Result<(), SkillError>;
    /// Lets `dt` pass with the current command. Returns early with an error
    /// when cancelled or when the robot cannot go on (battery empty, e-stop).
    fn advance(&self, dt: Duration, cancel: &CancelToken) -> Result<(), SkillError>;
    /// Stops all motion now (skills call this when they are done moving).
    fn stop(&self);
    /// Stops everything the robot does on the code's behalf: motion, and
    /// any goal it sent to the robot's own stacks (Nav2, action servers).
    /// The executor's safe stop calls this when an action ended badly, on
    /// reset and at the session's end. A robot with nothing but motion
    /// calls [`RobotBackend::stop`].
    fn safe_stop(&self);
    /// Whether the robot touched something since the last call (bump
    /// sensor); always false without one.
    fn take_bump(&self) -> bool;
    /// The named zones.
    fn zones(&self) -> Vec<ZoneInfo>;
    /// The furniture objects can be put on (none known: empty).
    fn surfaces(&self) -> Vec<SurfaceInfo>;
    /// The known static obstacles, for path planning.
    fn map(&self) -> Option<GridMap>;
    /// Passes a message to the user (kept in the events).
    fn say(&self, text: &str);
    /// Robot events since the last call (collision, picked X, battery low).
    fn take_events(&self) -> Vec<String>;
    /// A one-line summary: pose, battery, what it holds.
    fn state_line(&self) -> String;

    /// Its 2D lidar (`get_scan`; motion skills stop before what it sees).
    fn lidar(&self) -> Option<&dyn Lidar>;
    /// Its object-detecting camera (`detect_objects`, `known_objects`).
    fn camera(&self) -> Option<&dyn Camera>;
    /// Pictures from its camera (`get_camera_image`).
    fn camera_pictures(&self) -> Option<&dyn CameraPictures>;
    /// Its gripper (`pick`, `place`, `place_at`, `holding`).
    fn gripper(&self) -> Option<&dyn Gripper>;
    /// Its battery gauge (`get_battery`).
    fn battery(&self) -> Option<&dyn Battery>;
    /// Its own navigation stack (Nav2, say), which `move_to` and `go_to`
    /// then use instead of the skills' planner and controller.
    fn navigation(&self) -> Option<&dyn Navigation>;
    /// Pictures of its map (`get_map_image`).
    fn map_pictures(&self) -> Option<&dyn MapPictures>;
}

/// The clock note of a robot whose seconds are the wall clock's.
pub const WALL_CLOCK_NOTE: &str =
    "Times (timeouts, durations, waits) are wall-clock seconds on the robot.";
