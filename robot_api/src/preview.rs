//! The robot's half of a preview: a twin of the robot to rehearse an action
//! on, and what the rehearsal foresaw about the robot (collisions, the
//! geofence, where it ends, how long it takes). The executor runs the
//! rehearsal and judges it; a backend's crate makes the twin (the simulator
//! builds one from what any robot knows: `sim::twin`).

use crate::backend::Pose2;
use crate::memory::ObjectMemory;
use crate::registry::SkillSet;

/// What a rehearsal on a twin foresaw about the robot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Foresight {
    /// Contacts with obstacles, as the twin reported them.
    pub collisions: Vec<String>,
    /// Where a robot's path leaves the area it may be in ("the robot
    /// leaves the allowed area at ...", a fleet's robot by name).
    pub geofence: Vec<String>,
    /// Everything else the twin reported (events).
    pub events: Vec<String>,
    /// Each robot's way through the rehearsal: one for a robot on its own,
    /// a fleet's in the robots' order.
    pub paths: Vec<RobotPath>,
    /// Robot seconds the rehearsal took.
    pub duration: f64,
    /// The predicted path on the map (PNG).
    pub picture: Option<Vec<u8>>,
}

/// Where one robot of a rehearsal started and ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RobotPath {
    /// The robot's name in a fleet; `None` for a robot on its own.
    pub robot: Option<String>,
    /// Where it started.
    pub start: Option<Pose2>,
    /// Where the twin ended, if it knows.
    pub end: Option<Pose2>,
    /// Battery used, percentage points, if the robot has one.
    pub battery_used: Option<f64>,
}

/// A twin of a robot, made for one rehearsal.
pub trait Twin: Send + Sync {
    /// The twin's robot skills (motion, sensing, manipulation on the twin).
    fn skills(&self) -> &SkillSet;
    /// What the rehearsal did to the twin; asked once it has ended.
    fn foresee(&self) -> Foresight;
}

/// Makes twins of a robot, or of a fleet's robots, as they are at the
/// moment asked.
pub trait TwinMaker: Send + Sync {
    /// A twin of the robots now, each knowing the objects its robot
    /// remembers (`known`, in the robots' order) and no others, or why
    /// none can be made.
    fn make(&self, known: &[ObjectMemory]) -> Result<Box<dyn Twin>, String>;
    /// The real robots' poses now, in the order of [`Foresight::paths`]
    /// (to compare a real run's end with the rehearsal's), where known.
    fn poses(&self) -> Vec<Option<Pose2>>;
}
