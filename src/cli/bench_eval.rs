//! The task suite's figures: the harness's own cost per trial (task, world
//! for the seed, skills, predicates; no model, no action) and the wall time
//! of the whole oracle suite with two workers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Result};

use super::bench::{report, stats};
use crate::agent::transcript::{Record, Transcript};
use crate::eval::task::{self, Task};
use crate::eval::trial::{self, Policy};
use crate::executor::ExecutorConfig;
use crate::record::{Format, RecordTo};
use std::net::SocketAddr;

/// Runs the task-suite benchmarks and prints the figures.
pub fn run(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    println!("codeact task-suite benchmarks (built-in tasks, seeds 0-2)");
    let tasks = task::builtin()?;
    let tmp = std::env::temp_dir().join(format!("codeact-bench-eval-{}", std::process::id()));
    let mut harness = Vec::new();
    for _ in 0..reps(20) {
        for t in &tasks {
            let started = Instant::now();
            let prepared = trial::prepare(t, 0, &RecordTo::default())?;
            let (success, verdicts) = trial::judge(t, &prepared.robot, None);
            // The trial's folder, as a model trial writes it: transcript records and the picture.
            let dir = tmp.join(&t.id);
            let mut transcript = Transcript::create(&dir)?;
            transcript.record(&Record::Verdict {
                success,
                verdicts: serde_json::json!(verdicts),
            });
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
    recording(&tasks, reps)
}

/// The cost of `--record`: a warehouse episode (the two-orders task's
/// oracle through a sandboxed session, from the world's making to the file's
/// end) with and without recording, interleaved; and the action alone.
fn recording(tasks: &[Task], reps: &dyn Fn(usize) -> usize) -> Result<()> {
    let task = tasks
        .iter()
        .find(|t| t.id == "lh-warehouse-two-orders")
        .ok_or_else(|| anyhow::anyhow!("the task lh-warehouse-two-orders is missing"))?;
    let tmp = tempfile_dir("record")?;
    let config = ExecutorConfig::default();
    let (mut plain, mut recorded, mut plain_action, mut recorded_action) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut watched, mut watched_action, mut received) = (Vec::new(), Vec::new(), 0);
    let mut bytes = 0;
    for i in 0..reps(20) {
        for (record, live) in [(false, false), (true, false), (true, true)] {
            let file = tmp.join(format!("episode-{i}-{live}.mcap"));
            let started = Instant::now();
            let to = RecordTo {
                file: record.then(|| file.clone()),
                format: Format::Foxglove,
                live: live.then(|| SocketAddr::from(([127, 0, 0, 1], 0))),
            };
            let prepared = trial::prepare(task, 0, &to)?;
            // A viewer on every channel, as Foxglove connects.
            let viewer = match prepared.recorder.as_ref().and_then(|r| r.live_addr()) {
                Some(addr) => Some(super::bench_live::connect(addr, &[])?),
                None => None,
            };
            let mut session = crate::executor::Session::start(config.clone(), prepared.skills)?;
            if let Some(r) = &prepared.recorder {
                session.watch(r.clone());
            }
            let action = Instant::now();
            let obs = session.execute(&task.oracle, None, &mut |_, _| {})?;
            if let Some(r) = &prepared.recorder {
                r.close()?;
            }
            let action = action.elapsed().as_secs_f64() * 1e3;
            drop(session);
            let whole = started.elapsed().as_secs_f64() * 1e3;
            if obs.status != crate::executor::Status::Ok {
                bail!("the oracle of {} failed: {}", task.id, obs.render());
            }
            if let Some(viewer) = viewer {
                received = viewer.arrivals.try_iter().count();
                watched.push(whole);
                watched_action.push(action);
            } else if record {
                bytes = std::fs::metadata(&file)?.len();
                recorded.push(whole);
                recorded_action.push(action);
            } else {
                plain.push(whole);
                plain_action.push(action);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    let (p, r) = (stats(plain), stats(recorded));
    report("warehouse episode (session + oracle)", "ms", &p, "-");
    report("warehouse episode, --record", "ms", &r, "within 10%");
    let (pa, ra) = (stats(plain_action), stats(recorded_action));
    report("  its action alone", "ms", &pa, "-");
    report("  its action alone, recorded (file closed)", "ms", &ra, "-");
    println!(
        "recording cost: {:+.1}% of the episode, {:+.1}% of the action; file {} KiB",
        (r.median / p.median - 1.0) * 100.0,
        (ra.median / pa.median - 1.0) * 100.0,
        bytes / 1024
    );
    let w = stats(watched);
    report(
        "warehouse episode, --record and --live, a viewer on every channel",
        "ms",
        &w,
        "within 15%",
    );
    let wa = stats(watched_action);
    report("  its action alone, recorded and watched", "ms", &wa, "-");
    println!(
        "recording and live view: {:+.1}% of the episode, {:+.1}% of the action; the viewer got {received} messages",
        (w.median / p.median - 1.0) * 100.0,
        (wa.median / pa.median - 1.0) * 100.0
    );
    live_latency(reps)
}

/// How long a pose takes from the simulator's step to a viewer of the live
/// view: a 0.25 s step of a driving robot (which records its pose), then
/// the viewer's blocking read of it.
fn live_latency(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    let world = std::sync::Arc::new(sim::load("warehouse")?);
    let robot = std::sync::Arc::new(sim::SimRobot::new(world));
    let to = RecordTo {
        live: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        ..RecordTo::default()
    };
    let recorder = crate::record::Recorder::create(robot, &to)?;
    let addr = recorder.live_addr().expect("a live view was asked for");
    let backend = recorder.backend();
    let viewer = super::bench_live::connect(addr, &["/pose"])?;
    let cancel = robot_api::CancelToken::new();
    let step = std::time::Duration::from_millis(250);
    let wait = std::time::Duration::from_secs(2);
    // The subscription is taken on the server's side a moment later.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut latencies = Vec::new();
    for i in 0..reps(100) {
        // Back and forth, so the robot stays where it is.
        let speed = if i % 2 == 0 { 0.3 } else { -0.3 };
        // A robot in real time steps every 0.2 s or so; this one waits
        // longer than the live view's period, so each step's pose is shown.
        std::thread::sleep(crate::record::live::LIVE_PERIOD + std::time::Duration::from_millis(7));
        let _ = viewer.arrivals.try_iter().count();
        let sent = Instant::now();
        backend.command(speed, 0.0)?;
        backend.advance(step, &cancel)?;
        let arrival = loop {
            let arrival = viewer.arrivals.recv_timeout(wait)?;
            if arrival.topic == "/pose" {
                break arrival;
            }
        };
        latencies.push(arrival.at.duration_since(sent).as_secs_f64() * 1e3);
    }
    backend.stop();
    report(
        "live view: a pose from the simulator's step to a viewer",
        "ms",
        &stats(latencies),
        "<= 20 ms",
    );
    Ok(())
}

/// A fresh scratch folder for one benchmark.
fn tempfile_dir(what: &str) -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("codeact-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
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
