//! The skill contract shared by every robot backend and the executor.
//!
//! A skill is declared **once** ([`SkillSpec`]): its name, Python signature
//! ([`Param`], [`ParamType`]), docstring and the error kinds it may raise
//! ([`ErrorKind`]). From that one declaration come the Python function an
//! action calls, the API text an LLM reads ([`SkillSet::api_text`]) and the
//! argument checking on both sides of the worker boundary.
//!
//! # Layout
//! - [`value`]: [`Value`], the data that crosses the worker boundary.
//! - [`spec`]: [`SkillSpec`], [`Param`], [`ParamType`], [`RecordType`]: declarations.
//! - [`geometry`]: points ([`geometry::P2`], nalgebra), segments, polygons, angles: one geometry for skills, simulator and ROS side.
//! - [`error`]: [`ErrorKind`] (each one a Python exception class) and [`SkillError`].
//! - [`cancel`]: [`CancelToken`], how a skill blocked in Rust is cancelled.
//! - [`params`]: typed skill parameters ([`skill_params!`]), checked against their declaration.
//! - [`registry`]: [`SkillSet`], the skills of one robot with their handlers and safe stop.
//! - [`fleet`]: one skill set of several robots (`robots['beta'].move_to`).
//! - [`backend`]: [`RobotBackend`], what skills need from every robot (simulated or ROS).
//! - [`capability`]: what only some robots have ([`Lidar`], [`Camera`], [`Gripper`], ...), a trait each.
//! - [`memory`]: [`ObjectMemory`], the objects the robot has seen.
//! - [`nav`]: occupancy grid and A* planner used by `move_to`.
//! - [`skills`]: the robot skills an agent composes, written once against a backend.
//! - [`testing`]: a small test-only skill set (`--skills test`).

pub mod backend;
pub mod cancel;
pub mod capability;
pub mod error;
pub mod fleet;
pub mod geometry;
pub mod memory;
pub mod nav;
pub mod params;
pub mod preview;
pub mod reach;
pub mod registry;
pub mod skills;
pub mod spec;
pub mod testing;
pub mod value;

pub use backend::{
    BatteryState, CameraView, Detection, Pose2, RobotBackend, RobotLimits, ScanData, SurfaceInfo,
    Tolerances, ZoneInfo, WALL_CLOCK_NOTE,
};
pub use cancel::CancelToken;
pub use capability::{Battery, Camera, CameraPictures, Gripper, Lidar, MapPictures, Navigation};
pub use error::{ErrorKind, SkillError};
pub use memory::ObjectMemory;
pub use params::{AnyArgs, FromArgs, FromValue};
pub use registry::{Args, CallContext, Progress, RobotReport, SkillHandler, SkillSet};
pub use spec::{
    is_python_name, InRehearsal, Param, ParamType, RecordType, SkillSpec, TypeMismatch,
};
pub use value::{Record, Value};
