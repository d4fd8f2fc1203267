//! The ROS 2 side (cargo feature `ros`), built on r2r.
//!
//! - [`sim_node`]: the simulator as a ROS 2 robot (`codeact sim --ros`).

pub mod sim_node;
