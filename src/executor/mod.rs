//! The code-action executor: a persistent Python namespace in a supervised,
//! sandboxed worker process.
//!
//! - [`session`]: [`Session`], the supervisor: runs actions, enforces limits, serves skills.
//! - [`worker`]: the worker process (`codeact __worker`): isolation and embedded CPython.
//! - [`wire`]: the messages between them and their framing.
//! - [`observation`]: [`Observation`], what an action produced, as data and as text.
//! - [`output`]: head-and-tail output keeping.
//! - [`config`]: [`ExecutorConfig`] and [`Limits`].
//! - [`cgroup`]: the per-worker pids cgroup.

pub mod cgroup;
pub mod config;
pub mod observation;
pub mod output;
pub mod session;
pub mod wire;
pub mod worker;

pub use config::{valid_time_limit, ExecutorConfig, Limits, WorkerConfig, MAX_ACTION_SECONDS};
pub use observation::{Chunk, ErrorReport, Observation, SkillCall, Status, Stream};
pub use session::{ExecutorError, InputWatch, Interrupter, Session};
pub use wire::{OutputLimits, Protection};
