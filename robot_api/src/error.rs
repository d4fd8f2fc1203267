//! Error kinds a skill raises; each is a Python exception class an action can `except`.

use serde::{Deserialize, Serialize};

/// The kind of a skill failure. Each robot kind is a Python exception class
/// deriving from `RobotError`; the rest map to Python built-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    /// `RobotError`: the base class of every robot failure.
    Robot,
    /// `Blocked`: an obstacle stopped the motion.
    Blocked,
    /// `Unreachable`: no path to the goal exists.
    Unreachable,
    /// `SkillTimeout`: the skill did not finish within its own time limit.
    SkillTimeout,
    /// `NotInReach`: the object is too far away to grasp.
    NotInReach,
    /// `GripperError`: the gripper cannot do that (empty, already holding).
    GripperError,
    /// `BatteryEmpty`: the battery is too low to move.
    BatteryEmpty,
    /// `EStopped`: the emergency stop is engaged; a person must clear it.
    EStopped,
    /// `ObjectNotSeen`: the robot has not seen the named object, so it does not know where it is.
    ObjectNotSeen,
    /// `GoalFailed`: a ROS action server rejected or aborted the goal.
    GoalFailed,
    /// Python `ValueError`: an argument has the right type but a bad value.
    InvalidArgument,
    /// The call was cancelled because its action timed out or was interrupted.
    Cancelled,
}

impl ErrorKind {
    /// Every kind, base class first (the order Python classes are created in).
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::Robot,
        ErrorKind::Blocked,
        ErrorKind::Unreachable,
        ErrorKind::SkillTimeout,
        ErrorKind::NotInReach,
        ErrorKind::GripperError,
        ErrorKind::BatteryEmpty,
        ErrorKind::EStopped,
        ErrorKind::ObjectNotSeen,
        ErrorKind::GoalFailed,
        ErrorKind::InvalidArgument,
        ErrorKind::Cancelled,
    ];

    /// The Python exception class name.
    pub fn python_name(self) -> &'static str {
        match self {
            ErrorKind::Robot => "RobotError",
            ErrorKind::Blocked => "Blocked",
            ErrorKind::Unreachable => "Unreachable",
            ErrorKind::SkillTimeout => "SkillTimeout",
            ErrorKind::NotInReach => "NotInReach",
            ErrorKind::GripperError => "GripperError",
            ErrorKind::BatteryEmpty => "BatteryEmpty",
            ErrorKind::EStopped => "EStopped",
            ErrorKind::ObjectNotSeen => "ObjectNotSeen",
            ErrorKind::GoalFailed => "GoalFailed",
            ErrorKind::InvalidArgument => "ValueError",
            ErrorKind::Cancelled => "SkillCancelled",
        }
    }

    /// The Python base class of the exception class.
    pub fn python_base(self) -> &'static str {
        match self {
            ErrorKind::Robot => "Exception",
            ErrorKind::InvalidArgument => "Exception",
            // Not an `Exception`: a broad `except Exception` must not swallow a cancellation.
            ErrorKind::Cancelled => "BaseException",
            _ => "RobotError",
        }
    }

    /// Whether the API text names this kind only when a skill declares it
    /// (it belongs to some robots' skills, not to every robot's).
    pub fn only_when_declared(self) -> bool {
        matches!(self, ErrorKind::GoalFailed)
    }

    /// True when the class is a Python built-in (not created by the executor).
    pub fn is_builtin(self) -> bool {
        matches!(self, ErrorKind::InvalidArgument)
    }

    /// The class docstring.
    pub fn doc(self) -> &'static str {
        match self {
            ErrorKind::Robot => "Base class of every robot failure. The message says what happened and where the robot is now.",
            ErrorKind::Blocked => "An obstacle stopped the motion; the robot stopped safely in front of it.",
            ErrorKind::Unreachable => "No path to the goal exists in the known map.",
            ErrorKind::SkillTimeout => "The skill did not finish within its own time limit; the robot was stopped.",
            ErrorKind::NotInReach => "The object is too far from the gripper; move closer first.",
            ErrorKind::GripperError => "The gripper cannot do that (it is empty, or already holding something).",
            ErrorKind::BatteryEmpty => "The battery is too low to move; go to a dock to charge.",
            ErrorKind::EStopped => "The emergency stop is engaged; motion is refused until a person clears it.",
            ErrorKind::ObjectNotSeen => "The robot has not seen that object, so it does not know where it is; look for it with detect_objects() first.",
            ErrorKind::GoalFailed => "A ROS action server rejected or aborted the goal; the message says what the server reported.",
            ErrorKind::InvalidArgument => "An argument has the right type but an invalid value.",
            ErrorKind::Cancelled => "The skill was cancelled because the action timed out or was interrupted.",
        }
    }
}

/// A skill failure: its kind (the Python exception class) and a message that
/// says what happened, where, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", kind.python_name())]
pub struct SkillError {
    /// Which exception class the action sees.
    pub kind: ErrorKind,
    /// The exception message.
    pub message: String,
}

impl SkillError {
    /// A failure of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        SkillError {
            kind,
            message: message.into(),
        }
    }

    /// A `ValueError` for an argument with a bad value.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
}
