//! `codeact bench`: the executor's figures, measured through the `session`
//! protocol (a child `codeact session` process, JSON lines, worker boundary
//! included). Prints medians and p99; never fails on a time.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::executor::client::{Executed, SessionClient};
use crate::executor::Status;

/// Options of `codeact bench`.
#[derive(clap::Args, Debug)]
pub struct BenchOpts {
    /// Fewer repetitions (for CI): the same measurements, noisier figures.
    #[arg(long)]
    quick: bool,
    /// Which figures: executor, sim, agent, eval, mcp, ros, or all (every suite but mcp and ros).
    #[arg(long, value_enum, default_value = "all")]
    suite: Suite,
}

/// A group of benchmarks.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Suite {
    /// Executor round trips, skill calls, output, errors, start-up.
    Executor,
    /// Simulator speed, planning, skills from Python; preview's rehearsals.
    Sim,
    /// The agent loop's own cost per turn.
    Agent,
    /// The task suite: harness cost per trial, the oracle suite's wall time.
    Eval,
    /// MCP: an execute round trip and start-up, seen by the MCP Python SDK (scripts/mcp-setup.sh).
    Mcp,
    /// ROS 2: odometry reads, command-to-odometry loop, e-stop (needs the `ros` feature).
    Ros,
    /// All but mcp and ros.
    All,
}

/// A `codeact session` child process, driven through the protocol's client.
pub(super) struct Driver(SessionClient);

impl Driver {
    /// Starts `codeact session` with the given skill options; returns it and
    /// how long it took to say it is ready.
    pub(super) fn start(args: &[&str]) -> Result<(Self, Duration)> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("session").args(args);
        let started = Instant::now();
        let client = SessionClient::start(command).context("starting `codeact session`")?;
        Ok((Driver(client), started.elapsed()))
    }

    /// Sends one action and waits for its observation; returns the round
    /// trip. An action that did not end by itself (ok or error) is a failure.
    pub(super) fn execute(&mut self, code: &str) -> Result<(Duration, Executed)> {
        let started = Instant::now();
        let done = self.0.execute(code, None, &mut |_, _| {})?;
        let took = started.elapsed();
        if !matches!(done.observation.status, Status::Ok | Status::Error) {
            bail!("benchmark action failed: {}", done.text);
        }
        Ok((took, done))
    }

    /// `times` calls of `call` in one action, less the same loop empty:
    /// the whole action's round trip and one call's time in microseconds.
    /// A call that fails is a failure.
    pub(super) fn per_call(&mut self, call: &str, times: usize) -> Result<(Duration, f64)> {
        let (empty, _) = self.execute(&format!("for _ in range({times}):\n    pass"))?;
        let (calls, obs) = self.execute(&format!("for _ in range({times}):\n    {call}"))?;
        if obs.observation.status != Status::Ok {
            bail!("{call} failed: {}", obs.text);
        }
        Ok((calls, micros(calls.saturating_sub(empty)) / times as f64))
    }
}

/// The reference for output: `python3` exec'ing each action in one
/// namespace, its stdout a pipe (block-buffered, flushed at the action's
/// end) read by a blocking reader up to an end marker: what a naive
/// executor costs, no sandbox, no protocol.
struct NaiveExec {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

/// The naive executor's program.
const NAIVE: &str = "import json, sys\nns = {}\nfor line in sys.stdin:\n    try:\n        exec(json.loads(line), ns)\n    except BaseException as e:\n        print(repr(e))\n    sys.stdout.write('\\0end\\n')\n    sys.stdout.flush()\n";

impl NaiveExec {
    fn start() -> Result<Self> {
        let mut child = Command::new("python3")
            .args(["-c", NAIVE])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("starting python3 for the naive reference")?;
        let stdin = child.stdin.take().context("its stdin")?;
        let stdout = std::io::BufReader::new(child.stdout.take().context("its stdout")?);
        Ok(NaiveExec {
            child,
            stdin,
            stdout,
        })
    }

    /// Runs `code` and reads everything it printed; returns the round trip.
    fn execute(&mut self, code: &str) -> Result<Duration> {
        use std::io::{BufRead, Write};
        let started = Instant::now();
        writeln!(self.stdin, "{}", serde_json::to_string(code)?)?;
        self.stdin.flush()?;
        let mut line = String::new();
        loop {
            line.clear();
            if self.stdout.read_line(&mut line)? == 0 {
                bail!("the naive executor ended");
            }
            if line == "\0end\n" {
                return Ok(started.elapsed());
            }
        }
    }
}

impl Drop for NaiveExec {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) struct Stats {
    pub(super) median: f64,
    pub(super) p99: f64,
}

pub(super) fn stats(mut samples: Vec<f64>) -> Stats {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        p99: at(0.99),
    }
}

/// Width of the name column of the figures.
const NAME_WIDTH: usize = 54;

/// One figure: name, median and p99 in `unit`, and the target, in aligned columns.
pub(super) fn report(name: &str, unit: &str, s: &Stats, target: &str) {
    println!(
        "{name:<NAME_WIDTH$} median {:>10} {unit:<2}   p99 {:>10} {unit:<2}   (target {target})",
        figure(s.median),
        figure(s.p99)
    );
}

/// A figure with three significant digits after the point where it matters.
fn figure(v: f64) -> String {
    match v.abs() {
        a if a < 10.0 => format!("{v:.3}"),
        a if a < 100.0 => format!("{v:.2}"),
        _ => format!("{v:.1}"),
    }
}

pub(super) fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs the chosen benchmarks and prints the figures.
pub fn run(opts: &BenchOpts) -> Result<ExitCode> {
    let reps = |full: usize| if opts.quick { full / 10 } else { full }.max(5);
    if matches!(opts.suite, Suite::Executor | Suite::All) {
        executor(&reps)?;
    }
    if matches!(opts.suite, Suite::Sim | Suite::All) {
        super::bench_sim::run(&reps)?;
        super::bench_preview::run(&reps)?;
    }
    if matches!(opts.suite, Suite::Agent | Suite::All) {
        super::bench_agent::run(&reps)?;
    }
    if matches!(opts.suite, Suite::Eval | Suite::All) {
        super::bench_eval::run(&reps)?;
    }
    if opts.suite == Suite::Mcp {
        super::bench_mcp::run(&reps)?;
    }
    if opts.suite == Suite::Ros {
        ros_suite(&reps)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "ros")]
fn ros_suite(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    super::bench_ros::run(reps)
}

#[cfg(not(feature = "ros"))]
fn ros_suite(_reps: &dyn Fn(usize) -> usize) -> Result<()> {
    bail!("{}", super::NO_ROS)
}

fn executor(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    println!("codeact executor benchmarks (through `codeact session`, worker boundary included)");

    let mut ready = Vec::new();
    for _ in 0..reps(20) {
        let (driver, took) = Driver::start(&["--skills", "test"])?;
        ready.push(took.as_secs_f64() * 1e3);
        drop(driver);
    }
    report(
        "session ready for the first action",
        "ms",
        &stats(ready),
        "<= 100 ms",
    );

    let (mut d, _) = Driver::start(&["--skills", "test"])?;
    for _ in 0..50 {
        d.execute("x = 1 + 1")?;
    }
    let trivial: Vec<f64> = (0..reps(2000))
        .map(|_| d.execute("x = 1 + 1").map(|(t, _)| micros(t)))
        .collect::<Result<_>>()?;
    let trivial = stats(trivial);
    report(
        "trivial action round trip (x = 1 + 1)",
        "us",
        &trivial,
        "<= 150 us",
    );

    let mut per_call = Vec::new();
    let mut whole = Vec::new();
    for _ in 0..reps(30) {
        let (calls, one) = d.per_call("echo(1)", 10_000)?;
        whole.push(calls.as_secs_f64() * 1e3);
        per_call.push(one);
    }
    report(
        "skill call, Python -> Rust -> Python",
        "us",
        &stats(per_call),
        "<= 10 us",
    );
    report(
        "10,000 skill calls in one action",
        "ms",
        &stats(whole),
        "<= 100 ms",
    );

    const PRINTS: &str = "for i in range(2000):\n    print(i)";
    let prints: Vec<f64> = (0..reps(200))
        .map(|_| d.execute(PRINTS).map(|(t, _)| t.as_secs_f64() * 1e3))
        .collect::<Result<_>>()?;
    let prints = stats(prints);
    report("2,000 prints", "ms", &prints, "<= 1.5x naive");
    let mut naive = NaiveExec::start()?;
    let naive_prints: Vec<f64> = (0..reps(200))
        .map(|_| naive.execute(PRINTS).map(|t| t.as_secs_f64() * 1e3))
        .collect::<Result<_>>()?;
    let naive_prints = stats(naive_prints);
    report(
        "  the same, naive exec behind a pipe",
        "ms",
        &naive_prints,
        "-",
    );
    println!(
        "2,000 prints: {:.1}x a naive exec behind a pipe",
        prints.median / naive_prints.median
    );

    d.execute("def f(n):\n    return 1 / n")?;
    let errors: Vec<f64> = (0..reps(1000))
        .map(|_| {
            let (t, obs) = d.execute("y = 2\nf(0)")?;
            let traceback = obs.observation.error.as_ref().map(|e| &e.traceback);
            if traceback.is_none_or(|t| !t.contains("1 / n")) {
                bail!("the error benchmark got no traceback: {}", obs.text);
            }
            Ok(micros(t))
        })
        .collect::<Result<_>>()?;
    report(
        "error with full traceback",
        "us",
        &stats(errors),
        "<= 500 us",
    );
    Ok(())
}
