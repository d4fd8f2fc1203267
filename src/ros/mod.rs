//! The ROS 2 side. Profiles, the safety governor and the access policy are
//! plain logic (always built, tested without ROS); the r2r parts need the
//! cargo feature `ros`.
//!
//! - [`profile`]: robot profiles (topics, limits, skills, safety, access lists).
//! - [`safety`]: the governor every velocity command passes through.
//! - [`policy`]: which topics and services code actions may reach.
//! - `sim_node`: the simulator as a ROS 2 robot (`codeact sim --ros`).

pub mod policy;
pub mod profile;
pub mod safety;
#[cfg(feature = "ros")]
pub mod sim_node;
