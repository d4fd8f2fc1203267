//! The robot task suite: tasks as data, each with seeded variations, success
//! predicates that read the world, and an oracle solution that uses only the
//! robot API.
//!
//! - [`task`]: the task files (`tasks/*.yaml`, compiled in) and their schema.
//! - [`setup`]: a task's world for one seed.
//! - [`predicate`]: goals and constraints, judged on the simulator.
//! - [`trial`]: one trial of a policy or a model on a task and seed.
//! - [`summary`]: success rates with intervals, per model, format and tier.
//! - [`chart`]: the same at a glance, as `summary.png`.

pub mod chart;
pub mod predicate;
pub mod setup;
pub mod summary;
pub mod task;
pub mod trial;
