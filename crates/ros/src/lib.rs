//! The ROS 2 side. Profiles, the safety governor and the access policy are
//! plain logic (always built, tested without ROS); the r2r parts need the
//! cargo feature `ros`.
//!
//! - [`camera`]: camera frames (raw or compressed) as PNG.
//! - [`declared`]: skills a profile declares (`ros_skills`): schema, checks, Python face.
//! - [`goals`]: the goal ledger: no action goal outlives the skill that sent it.
//! - `declared_calls`: running declared skills over ROS.
//! - [`idl`]: installed interface definitions, to check declared skills.
//! - [`nav2`]: Nav2 as the navigator (goal, feedback, failures).
//! - [`json`]: Python values as JSON (r2r's untyped messages) and back.
//! - [`map_file`]: a map from a file (map_server YAML or a world file) for a robot with no map topic.
//! - [`fleet_profile`]: fleet profiles (robots by namespace, one e-stop for all).
//! - [`profile`]: robot profiles (topics, limits, skills, safety, access lists).
//! - [`tf`]: poses in the map frame from `map → odom`.
//! - [`safety`]: the governor every velocity command passes through.
//! - [`policy`]: which topics and services code actions may reach.
//! - `spin`: the thread that owns the r2r node.
//! - `robot`: the skills' backend for a ROS 2 robot.
//! - `access`: generic topic, service and action access from code actions.
//! - `actions`: running an action goal (feedback, cancel, typed errors).
//! - `services`: calling a service (one client per name and type).
//! - `graph`: the services on the ROS graph (rcl directly; r2r cannot list them).
//! - `fleet`: several robots on one node, each with its own e-stop and one for all.
//! - `node`: `codeact node --ros` (Execute, RunTask, live output, e-stop).
//! - `sim_node`: the simulator as a ROS 2 robot (`codeact sim --ros`).

#[cfg(feature = "ros")]
pub mod access;
#[cfg(feature = "ros")]
pub mod actions;
pub mod camera;
pub mod declared;
#[cfg(feature = "ros")]
pub mod declared_calls;
#[cfg(feature = "ros")]
pub mod dynamic;
#[cfg(feature = "ros")]
pub mod fleet;
pub mod fleet_profile;
pub mod goals;
#[cfg(feature = "ros")]
pub mod graph;
pub mod idl;
pub mod json;
pub mod map_file;
pub mod nav2;
pub mod network;
#[cfg(feature = "ros")]
pub mod node;
pub mod policy;
pub mod profile;
#[cfg(feature = "ros")]
pub mod robot;
pub mod safety;
#[cfg(feature = "ros")]
pub mod services;
#[cfg(feature = "ros")]
pub mod sim_node;
#[cfg(feature = "ros")]
pub mod spin;
pub mod tf;
