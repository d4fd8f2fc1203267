//! codeact: let an LLM control a robot by writing Python code actions.
//!
//! This crate is the command line over the workspace's library crates; it
//! re-exports them under the names the rest of the tree and the tests use.
//!
//! # Layout
//! - [`agent`] (`codeact-agent`): the LLM agent loop (endpoints, prompt, episodes, transcripts).
//! - [`eval`] (`codeact-eval`): the robot task suite (tasks, variations, predicates, trials).
//! - [`executor`] (`codeact-executor`): runs code actions in a supervised, sandboxed embedded Python.
//! - [`mcp`] (`codeact-mcp`): `codeact mcp`, the robot as an MCP server (tools, resources, stdio and HTTP).
//! - [`record`] (`codeact-record`): episodes recorded as MCAP for Foxglove.
//! - [`ros`] (`codeact-ros`): the ROS 2 side (robot profiles, safety; the r2r node behind feature `ros`).
//! - [`cli`]: the subcommands.
//! - `codeact-protocol`, `codeact-worker`, `robot_api`, `sim`: the shared
//!   types, the sandboxed worker, how skills are declared, the simulator.

pub use codeact_agent as agent;
pub use codeact_eval as eval;
pub use codeact_executor as executor;
pub use codeact_mcp as mcp;
pub use codeact_record as record;
pub use codeact_ros as ros;

pub mod cli;
