//! `codeact mcp`: the robot as a code-execution server for any MCP client
//! (Claude Desktop, Claude Code, Cursor, agent frameworks), over stdio or
//! streamable HTTP, with the official Rust SDK (`rmcp`).
//!
//! - [`session`]: the one session, hosted on its own thread; busy, stop, reset, state, picture.
//! - [`server`]: the MCP handler: tools, resources, progress, cancellation.
//! - [`stdio`]: stdio lines, with a JSON-RPC parse error for a line that is not JSON.
//! - [`http`]: the streamable HTTP endpoint: loopback by default, a bearer
//!   token for any other address, Host and Origin checks.

pub mod http;
pub mod server;
pub mod session;
pub mod stdio;

pub use server::RobotServer;
pub use session::{McpSession, RobotError};
