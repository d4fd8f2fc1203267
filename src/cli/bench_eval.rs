//! The task suite's figures: the harness's own cost per trial (task, world
//! for the seed, skills, predicates; no model, no action) and the wall time
//! of the whole oracle suite with two workers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Result};

use super::bench::{report, stats};
use crate::agent::transcript::Transcript;
use crate::eval::task::{self, Task};
use crate::eval::trial::{self, Policy};
use crate::executor::ExecutorConfig;

/// Runs the task-suite benchmarks and prints the figures.
pub fn run(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    println!("codeact task-suite benchmarks (built-in tasks, seeds 0-2)");
    let tasks = task::builtin()?;
    let tmp = std::env::temp_dir().join(format!("codeact-bench-eval-{}", std::process::id()));
    let mut harness = Vec::new();
    for _ in 0..reps(20) {
        for t in &tasks {
            let started = Instant::now();
            let prepared = trial::prepare(t, 0, None)?;
            let (success, verdicts) = trial::judge(t, &prepared.robot, None);
            // The trial's folder, as a model trial writes it: transcript records and the picture.
            let dir = tmp.join(&t.id);
            let mut transcript = Transcript::create(&dir)?;
            transcript.record(
                "verdict",
                serde_json::json!({"success": success, "verdicts": verdicts}),
            );
            drop(transcript);
            let sim = prepared.robot.sim();
            sim::render::write_png(sim.world(), Some(&sim), &dir.join("picture.png"))?;
            harness.push(started.elapsed().as_secs_f64() * 1e3);
            if success {
                bail!("task {} is done before anything happened", t.id);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    report(
        "harness per trial (task, world, predicates, folder)",
        "ms",
        &stats(harness),
        "<= 20 ms",
    );

    // The whole oracle suite, as `codeact eval --oracle --workers 2` runs it.
    let runs = if reps(10) < 10 { 1 } else { 3 };
    let mut walls = Vec::new();
    for _ in 0..runs {
        let (wall, passed, total) = oracle_suite(&tasks, 3, 2)?;
        if passed != total {
            bail!("{} of {total} oracle trials failed", total - passed);
        }
        walls.push(wall);
    }
    report(
        &format!("oracle suite, {} trials, 2 workers", tasks.len() * 3),
        "s",
        &stats(walls),
        "<= 60 s",
    );
    Ok(())
}

/// Runs every task's oracle on `seeds` seeds with `workers` threads;
/// returns the wall time, the trials passed and the trials run.
fn oracle_suite(tasks: &[Task], seeds: u64, workers: usize) -> Result<(f64, usize, usize)> {
    let trials: Vec<(&Task, u64)> = tasks
        .iter()
        .flat_map(|t| (0..seeds).map(move |s| (t, s)))
        .collect();
    let config = ExecutorConfig::default();
    let passed = AtomicUsize::new(0);
    let started = Instant::now();
    crate::eval::run_parallel(
        &trials,
        workers,
        &AtomicBool::new(false),
        |_, &(t, seed)| {
            if trial::run(t, seed, Policy::Oracle, &config).is_ok_and(|r| r.success) {
                passed.fetch_add(1, Ordering::SeqCst);
            }
        },
    );
    Ok((
        started.elapsed().as_secs_f64(),
        passed.into_inner(),
        trials.len(),
    ))
}
