//! The built-in robot simulator: a 2D world (walls, obstacles, zones,
//! objects), a differential-drive robot with collisions that never tunnel,
//! odometry, battery, lidar, camera and gripper, stepped at a fixed rate and
//! deterministic for a seed. [`SimRobot`] makes it a `robot_api` backend, so
//! the same skills drive it as drive a real robot.
//!
//! # Layout
//! - [`geometry`]: segments, polygons, rays, the segment grid.
//! - [`world`]: a world's contents and settings; [`world_file`]: YAML world files.
//! - [`simulator`]: the physics step, sensors, gripper, events, for every robot.
//! - [`backend`]: [`SimRobot`], the simulator as a `RobotBackend` (one robot, or each of a fleet).
//! - [`lockstep`]: one simulated clock for a fleet whose robots move at once.
//! - [`render`]: PNG and SVG pictures of a world and a run.
//! - [`camera`]: the robot camera's first-person view, ray-cast from the world.
//! - [`rng`]: the seeded noise source.
//! - [`twin`]: a simulated robot built from what any robot knows now (map,
//!   pose, lidar returns), for rehearsing an action before it runs.

pub mod backend;
pub mod camera;
mod cores;
pub mod geometry;
pub mod lockstep;
pub mod render;
pub mod rng;
pub mod simulator;
pub mod twin;
pub mod world;
pub mod world_file;

pub use backend::SimRobot;
pub use simulator::Simulator;
pub use world::World;
pub use world_file::{is_builtin, load, WorldError};
