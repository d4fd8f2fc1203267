//! codeact: let an LLM control a robot by writing Python code actions.
//!
//! # Layout
//! - [`agent`]: the LLM agent loop (endpoints, prompt, episodes, transcripts).
//! - [`eval`]: the robot task suite (tasks, variations, predicates, trials).
//! - [`executor`]: runs code actions in a supervised, sandboxed embedded Python.
//! - [`mcp`]: `codeact mcp`, the robot as an MCP server (tools, resources, stdio and HTTP).
//! - [`record`]: episodes recorded as MCAP for Foxglove (pose, scans, commands, map, camera, code, observations).
//! - [`ros`]: the ROS 2 side (robot profiles, safety; the r2r node behind feature `ros`).
//! - `robot_api` (its own crate): how skills are declared and called.

pub mod agent;
pub mod cli;
pub mod eval;
pub mod executor;
pub mod mcp;
pub mod record;
pub mod ros;
