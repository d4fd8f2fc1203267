//! The code-action executor: a persistent Python namespace in a supervised,
//! sandboxed worker process.
//!
//! - [`session`]: [`Session`], the supervisor: a workspace, a worker, actions in turn.
//! - [`host`]: [`SessionHost`], a session on a thread of its own, run by jobs (MCP, the ROS node).
//!   - `action`: runs one action (the event loop around its [`lifecycle`]).
//!   - [`lifecycle`]: an action's life as a pure state machine (running, stopping, settling, done).
//!   - `process`: the worker process: spawn, ready, describe its end, kill.
//!   - `skill_server`: the thread that runs the worker's skill calls.
//!   - [`interrupter`]: stopping an action from another thread or from watched input.
//!   - [`rehearsal`]: an action rehearsed in a fork of the worker, against a twin's skills.
//!   - [`preview`]: `--preview show|gate`: every action rehearsed and judged before it runs.
//! - the worker process is the `codeact-worker` binary (crate
//!   `crates/worker`): isolation and embedded CPython.
//! - [`wire`]: the messages between them and their framing (crate `crates/protocol`).
//! - [`protocol`]: the `codeact session` JSON-lines protocol as types; [`client`]: its client.
//! - [`observation`]: [`Observation`], what an action produced, as data and as text
//!   (crate `crates/protocol`, shared with the worker, as are [`output`] and [`config`]).
//! - [`output`]: head-and-tail output keeping.
//! - [`config`]: [`ExecutorConfig`] and [`Limits`].
//! - [`cgroup`]: the per-worker pids cgroup.

mod action;
pub mod cgroup;
pub mod client;
pub mod host;
pub mod interrupter;
pub mod library;
pub mod lifecycle;
pub mod preview;
mod process;
pub mod protocol;
pub mod rehearsal;
pub mod remains;
pub mod session;
mod skill_server;

pub use codeact_protocol::{config, observation, output, wire};

pub use config::{valid_time_limit, ExecutorConfig, Limits, WorkerConfig, MAX_ACTION_SECONDS};
pub use host::{HostClosed, SessionHost};
pub use interrupter::{InputWatch, Interrupter};
pub use observation::{
    CallOutcome, Chunk, ErrorReport, Observation, Picture, SkillCall, Status, Stream,
};
pub use preview::{Preview, PreviewMode, Previewed, Verdict};
pub use rehearsal::Rehearsed;
pub use remains::Remains;
pub use session::{ActionWatcher, Executor, ExecutorError, Session};
pub use wire::{OutputLimits, Protection};
