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

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs `each(index, item)` for every item on `workers` threads, items
/// taken in order as threads come free, until all are done or `stop` is
/// set (items not yet taken are then skipped).
pub fn run_parallel<T: Sync>(
    items: &[T],
    workers: usize,
    stop: &AtomicBool,
    each: impl Fn(usize, &T) + Sync,
) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(items.len()) {
            scope.spawn(|| {
                while !stop.load(Ordering::SeqCst) {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(item) = items.get(i) else {
                        break;
                    };
                    each(i, item);
                }
            });
        }
    });
}
