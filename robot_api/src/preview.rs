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
    /// Points of the path outside the area the robot may be in.
    pub geofence: Vec<String>,
    /// Everything else the twin reported (events).
    pub events: Vec<String>,
    /// Where the twin ended, if it knows.
    pub end_pose: Option<Pose2>,
    /// Where it started.
    pub start_pose: Option<Pose2>,
    /// Robot seconds the rehearsal took.
    pub duration: f64,
    /// Battery used, percentage points, if the robot has one.
    pub battery_used: Option<f64>,
    /// The predicted path on the map (PNG).
    pub picture: Option<Vec<u8>>,
}

/// A twin of a robot, made for one rehearsal.
pub trait Twin: Send + Sync {
    /// The twin's robot skills (motion, sensing, manipulation on the twin).
    fn skills(&self) -> &SkillSet;
    /// What the rehearsal did to the twin; asked once it has ended.
    fn foresee(&self) -> Foresight;
}

/// Makes twins of a robot as it is at the moment asked.
pub trait TwinMaker: Send + Sync {
    /// A twin of the robot now, knowing the objects the robot remembers
    /// (`known`) and no others, or why none can be made.
    fn make(&self, known: &ObjectMemory) -> Result<Box<dyn Twin>, String>;
    /// The real robot's pose now (to compare a real run's end with the
    /// rehearsal's), if it knows.
    fn pose(&self) -> Option<Pose2>;
}
