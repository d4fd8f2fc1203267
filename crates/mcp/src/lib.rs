//! `codeact mcp`: the robot as a code-execution server for any MCP client
//! (Claude Desktop, Claude Code, Cursor, agent frameworks), over stdio or
//! streamable HTTP, with the official Rust SDK (`rmcp`).
//!
//! - [`robot`]: the one session, on its own thread; busy, stop, reset, state, picture.
//! - [`server`]: the MCP handler: tools, resources, progress, cancellation.
//! - [`stdio`]: stdio lines, with a JSON-RPC parse error for a line that is not JSON.
//! - [`http`]: the streamable HTTP endpoint: loopback by default, a bearer
//!   token for any other address, Host and Origin checks.

pub mod http;
pub mod robot;
pub mod server;
pub mod stdio;

pub use robot::{RobotError, SessionHost};
pub use server::RobotServer;
