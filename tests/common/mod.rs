//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod mock_llm;
#[cfg(feature = "ros")]
pub mod ros;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use codeact::executor::{ExecutorConfig, Observation, Session, Status, Stream};
use robot_api::testing::{test_skills, TestProbe};

/// The `codeact` binary built for these tests (workers are started from it).
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_codeact"))
}

/// The sandboxed worker binary the sessions of these tests start.
pub fn worker_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_codeact-worker"))
}

/// Runs `codeact` with `args` to the end and returns what it did.
pub fn codeact<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> std::process::Output {
    std::process::Command::new(exe())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("codeact runs")
}

/// What tests/record/read.py, the official Python MCAP reader, says of a
/// recording (channels, counts, decoded messages), as JSON.
pub fn read_recording(path: &std::path::Path) -> serde_json::Value {
    record_reader("read.py", &[], path)
}

/// What the reader script tests/record/`script` prints of `path` with
/// `flags`, as JSON. Its Python is CODEACT_RECORD_PYTHON (scripts/record-setup.sh's venv).
pub fn record_reader(script: &str, flags: &[&str], path: &std::path::Path) -> serde_json::Value {
    let python = std::env::var("CODEACT_RECORD_PYTHON")
        .expect("CODEACT_RECORD_PYTHON: the Python of scripts/record-setup.sh's venv");
    let reader = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/record")
        .join(script);
    let out = std::process::Command::new(python)
        .arg(reader)
        .args(flags)
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A session with the test skills and short limits.
pub fn session() -> (Session, Arc<TestProbe>) {
    session_with(|_| {})
}

/// A session with the test skills, after `tweak` adjusts the configuration.
pub fn session_with(tweak: impl FnOnce(&mut ExecutorConfig)) -> (Session, Arc<TestProbe>) {
    let (skills, probe) = test_skills();
    let mut config = ExecutorConfig {
        timeout: Duration::from_secs(20),
        grace: Duration::from_millis(500),
        worker_exe: Some(worker_exe()),
        ..ExecutorConfig::default()
    };
    tweak(&mut config);
    (
        Session::start(config, skills).expect("session starts"),
        probe,
    )
}

/// A session driving a simulated robot in a world given as YAML text.
pub fn sim_session(world_yaml: &str) -> (Session, Arc<sim::SimRobot>) {
    let world = sim::world_file::parse(world_yaml, "test-world.yaml").expect("test world is valid");
    sim_session_world(world)
}

/// A session driving a simulated robot in `world`.
pub fn sim_session_world(world: sim::World) -> (Session, Arc<sim::SimRobot>) {
    let robot = Arc::new(sim::SimRobot::new(Arc::new(world)));
    let skills = robot_api::skills::robot_skills(robot.clone());
    let config = ExecutorConfig {
        timeout: Duration::from_secs(30),
        grace: Duration::from_millis(500),
        worker_exe: Some(worker_exe()),
        ..ExecutorConfig::default()
    };
    (
        Session::start(config, skills).expect("session starts"),
        robot,
    )
}

/// A session driving the fleet of the world file `world` (its robots in
/// order, sharing one simulation).
pub fn fleet_session(world: &str) -> (Session, Vec<Arc<sim::SimRobot>>) {
    let world = sim::world_file::parse(world, "fleet.yaml").expect("test world is valid");
    let robots: Vec<Arc<sim::SimRobot>> = sim::SimRobot::fleet(Arc::new(world));
    let through = sim::backend::named(&robots)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    let skills = sim::backend::fleet_skills(&robots, through);
    let config = ExecutorConfig {
        timeout: Duration::from_secs(30),
        worker_exe: Some(worker_exe()),
        ..ExecutorConfig::default()
    };
    (
        Session::start(config, skills).expect("session starts"),
        robots,
    )
}

/// Asserts an action failed with the exception `type_name`; returns its message.
pub fn assert_error(obs: &Observation, type_name: &str) -> String {
    let err = obs.error.as_ref().unwrap_or_else(|| {
        panic!(
            "expected {type_name}, the action succeeded:\n{}",
            obs.render()
        )
    });
    assert_eq!(err.type_name, type_name, "{}", obs.render());
    err.message.clone()
}

/// Runs code and returns the observation, ignoring live output.
pub fn run(session: &mut Session, code: &str) -> Observation {
    session
        .execute(code, None, &mut |_: Stream, _: &str| {})
        .expect("execute")
}

/// Runs code with a time limit.
pub fn run_timeout(session: &mut Session, code: &str, seconds: f64) -> Observation {
    session
        .execute(
            code,
            Some(Duration::from_secs_f64(seconds)),
            &mut |_: Stream, _: &str| {},
        )
        .expect("execute")
}

/// Asserts the session still works: a fresh computation gives the right value.
pub fn assert_alive(session: &mut Session) {
    let obs = run(session, "sum(range(10))");
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(obs.result.as_deref(), Some("45"), "{}", obs.render());
}

/// A child process spoken to in JSON lines on its stdin and stdout (as an
/// MCP client speaks to a server over stdio).
pub struct JsonLines {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl JsonLines {
    /// Starts `command` with its stdin and stdout piped (stderr dropped).
    pub fn spawn(mut command: std::process::Command) -> Self {
        use std::io::BufRead;
        use std::process::Stdio;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the process starts");
        let stdin = child.stdin.take();
        let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        JsonLines {
            child,
            stdin,
            lines,
        }
    }

    /// Writes one line (a newline is added).
    pub fn send(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin.as_mut().expect("stdin is open"), "{line}").unwrap();
    }

    /// Reads the next line as JSON.
    pub fn next(&mut self) -> serde_json::Value {
        let line = self.lines.next().expect("a line comes").unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` and waits for the process to end (stdin left open).
    pub fn signal(mut self, signal: nix::sys::signal::Signal) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).unwrap();
        self.child.wait().unwrap()
    }

    /// Closes stdin and waits for the process to end.
    pub fn close(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }
}

/// The pids cgroups a codeact process `pid` left (named codeact-PID-N).
pub fn cgroups_of(pid: u32) -> Vec<std::path::PathBuf> {
    let prefix = format!("codeact-{pid}-");
    let mut found = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    for _ in 0..6 {
        let mut next = Vec::new();
        for dir in dirs {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if !path.is_dir() {
                    continue;
                }
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    found.push(path);
                } else {
                    next.push(path);
                }
            }
        }
        dirs = next;
    }
    found
}
