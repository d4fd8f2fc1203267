//! What only some robots have, one trait each: a backend implements the
//! ones it has and returns them from [`RobotBackend`]'s accessors
//! (`fn gripper(&self) -> Option<&dyn Gripper>`); the skills that need one
//! exist only where it does. As in the base trait, no method has a default.
//!
//! [`RobotBackend`]: crate::RobotBackend

use crate::backend::{BatteryState, CameraView, Detection, ScanData};
use crate::error::SkillError;
use crate::geometry::P2;
use crate::registry::CallContext;

/// A 2D lidar.
pub trait Lidar: Send + Sync {
    /// The latest scan; an error when it is stale.
    fn scan(&self) -> Result<ScanData, SkillError>;
}

/// A camera that recognises objects.
pub trait Camera: Send + Sync {
    /// Its field of view and range, if known (said in the API text).
    fn view(&self) -> Option<CameraView>;
    /// What it sees now.
    fn detect(&self) -> Result<Vec<Detection>, SkillError>;
}

/// Pictures from a camera.
pub trait CameraPictures: Send + Sync {
    /// A PNG picture of what the camera sees now, `width` × `height`
    /// pixels; an error when the last frame is stale.
    fn camera_image(&self, width: u32, height: u32) -> Result<Vec<u8>, SkillError>;
}

/// A gripper that picks one object at a time.
pub trait Gripper: Send + Sync {
    /// Picks up the named object, which the robot last saw at `seen_at`; it
    /// must be within reach.
    fn pick(&self, name: &str, seen_at: P2) -> Result<(), SkillError>;
    /// Puts the held object down at `at` (or
    /// [`RobotLimits::place_distance`](crate::RobotLimits::place_distance)
    /// in front of the robot). Returns its name and where it was put.
    fn place(&self, at: Option<P2>) -> Result<(String, P2), SkillError>;
    /// The held object, if any.
    fn holding(&self) -> Option<String>;
}

/// A battery gauge.
pub trait Battery: Send + Sync {
    /// The battery now.
    fn state(&self) -> Result<BatteryState, SkillError>;
}

/// The robot's own navigation stack (Nav2, say).
pub trait Navigation: Send + Sync {
    /// Drives to `goal` (turning to `theta` when given). Returns once the
    /// stack reports the goal reached; fails with `Unreachable` or
    /// `Blocked` and the stack's reason. Reports progress through
    /// `ctx.progress` and stops when `ctx.cancel` fires.
    fn navigate(
        &self,
        goal: P2,
        theta: Option<f64>,
        timeout: f64,
        ctx: &CallContext,
    ) -> Result<(), SkillError>;
}

/// Pictures of the robot's map.
pub trait MapPictures: Send + Sync {
    /// A PNG picture of the map within `radius` metres of the robot (walls,
    /// obstacles, zones, objects, the robot, its latest scan).
    fn map_image(&self, radius: f64) -> Result<Vec<u8>, SkillError>;
}
