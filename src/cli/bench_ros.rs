//! `codeact bench --suite ros`: the ROS 2 figures, against `codeact sim --ros`
//! in real time on a domain of its own (loopback only):
//! - a skill reading /odom (get_pose from Python, through the ROS backend);
//! - skill command → /cmd_vel → simulator → /odom showing the motion;
//! - e-stop message → zero velocity on /cmd_vel, seen by an rclpy peer;
//! - a profile-declared action skill's round trip through an rclpy action
//!   server that answers at once, from Python;
//! - with Nav2's commands relayed through the governor: e-stop → zero on the
//!   base's /cmd_vel while an rclpy "controller" keeps publishing.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use robot_api::RobotBackend;

use super::bench::{report, stats, Driver, Stats};

struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str]) -> Result<Reaper> {
    let exe = std::env::current_exe()?;
    Ok(Reaper(
        Command::new(exe)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting codeact {}", args.join(" ")))?,
    ))
}

/// Runs the suite.
pub fn run(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    // Our own domain, and DDS on loopback, for this process and its children.
    std::env::set_var("ROS_DOMAIN_ID", (200 + std::process::id() % 30).to_string());
    std::env::set_var("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST");
    println!("codeact ROS 2 benchmarks (codeact sim --ros in real time, loopback DDS)");
    let _sim = spawn(&["sim", "--ros", "--world", "small_room"])?;

    // A skill reading /odom, timed inside Python.
    let (mut driver, _) = Driver::start(&["--robot", "sim"])?;
    let code = format!(
        "import time, json\nts = []\nfor _ in range({}):\n    t = time.perf_counter(); get_pose(); ts.append((time.perf_counter() - t) * 1000)\nts.sort()\nprint(json.dumps([ts[len(ts) // 2], ts[int(len(ts) * 0.99)]]))",
        reps(2000)
    );
    let (_, obs) = driver.execute(&code)?;
    let text = obs.observation.output_text();
    let figures: Vec<f64> = serde_json::from_str(text.trim())
        .with_context(|| format!("get_pose timing: {}", obs.text))?;
    report(
        "get_pose() over ROS (skill reads /odom)",
        "ms",
        &Stats {
            median: figures[0],
            p99: figures[1],
        },
        "p50 <= 1 ms, p99 <= 5 ms",
    );
    drop(driver);

    // Command to odometry: the time from a skill's command until /odom shows motion.
    let connected =
        crate::ros::node::connect("sim", "codeact_bench", &crate::record::RecordTo::default())?;
    let robot = connected.robot.clone();
    let mut loop_ms = Vec::new();
    for _ in 0..reps(30) {
        robot.stop();
        std::thread::sleep(Duration::from_millis(400));
        let started = Instant::now();
        robot.command(0.3, 0.0)?;
        while robot.velocity().0 < 1e-3 {
            if started.elapsed() > Duration::from_secs(5) {
                bail!("the simulator did not move within 5 s of a command");
            }
            // Keep the command alive, as a skill's control loop does.
            robot.command(0.3, 0.0)?;
            std::thread::sleep(Duration::from_micros(200));
        }
        loop_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    robot.stop();
    report(
        "command -> /cmd_vel -> sim -> /odom",
        "ms",
        &stats(loop_ms),
        "measured; odom at 50 Hz",
    );
    // This process's own robot must be gone before the e-stop figures: its
    // governor would answer the e-stop too (a zero on /cmd_vel, first).
    drop(robot);
    connected.ros.shutdown();
    drop(connected);

    // E-stop to zero velocity, seen by an rclpy peer on /cmd_vel.
    let python = std::env::var("CODEACT_ROS_PYTHON").unwrap_or_else(|_| "python3".into());
    let node = spawn(&["node", "--ros", "--robot", "sim"])?;
    let cycles = reps(20).to_string();
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ros/node_client.py"
        ))
        .args(["--estop-cycles", &cycles])
        .output()
        .context("running tests/ros/node_client.py (rclpy)")?;
    let report_json: serde_json::Value =
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "the rclpy client said: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let estop: Vec<f64> = report_json["estop_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    if estop.is_empty() {
        bail!("no zero velocity followed the e-stop: {report_json}");
    }
    report(
        "e-stop message -> zero on /cmd_vel",
        "ms",
        &stats(estop),
        "<= 100 ms",
    );
    // Its e-stop and clear service would answer the relay's bench too.
    drop(node);
    action_round_trip(reps)?;
    relay_e_stop(reps)
}

/// The e-stop with Nav2's velocity commands relayed through the governor:
/// an rclpy peer plays the controller on /cmd_vel_nav, presses the e-stop,
/// and times the first zero on the base's /cmd_vel.
fn relay_e_stop(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    let python = std::env::var("CODEACT_ROS_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = std::env::temp_dir().join(format!("codeact-bench-relay-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let profile = dir.join("sim_relay.yaml");
    let sim = include_str!("../../launch/profiles/sim.yaml");
    std::fs::write(&profile, format!("{sim}\nnav2: {{relay: /cmd_vel_nav}}\n"))?;
    let (driver, _) = Driver::start(&["--robot", &profile.to_string_lossy()])?;
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ros/relay_estop.py"
        ))
        .arg(reps(20).to_string())
        .output()
        .context("running tests/ros/relay_estop.py (rclpy)")?;
    drop(driver);
    let _ = std::fs::remove_dir_all(&dir);
    let measured: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "the rclpy controller said: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let latencies: Vec<f64> = measured["estop_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    if latencies.is_empty() {
        bail!("no zero reached the base after the e-stop: {measured}");
    }
    if measured["moved_after"].as_u64() != Some(0) {
        bail!("the base received motion while latched: {measured}");
    }
    report(
        "e-stop -> zero on the base, Nav2 relayed",
        "ms",
        &stats(latencies),
        "<= 10 ms",
    );
    Ok(())
}

/// The sim profile with declared skills: an action, `fibonacci(order)`, and
/// two services, one of a type the node is built with (`light`, SetBool),
/// one of a type it is not (`lifecycle_state`, lifecycle_msgs' GetState,
/// through the type support loaded at run time).
const DECLARING: &str = "
ros_skills:
  - name: fibonacci
    doc: The first order numbers of the Fibonacci sequence, from an action server.
    action: /fibonacci
    type: example_interfaces/action/Fibonacci
    params: [{name: order, type: int}]
    returns: sequence
  - name: light
    doc: Switch the light.
    service: /fibonacci_server/light
    type: std_srvs/srv/SetBool
    params: [{name: on, type: bool, field: data}]
    returns: success
  - name: lifecycle_state
    doc: The server's lifecycle state.
    service: /fibonacci_server/get_state
    type: lifecycle_msgs/srv/GetState
    returns: current_state
";

/// Python timing `call` `n` times after a first call (which waits for the
/// server to be discovered): prints [median, p99] in ms.
fn timing_loop(call: &str, n: usize) -> String {
    format!(
        "import time, json\n{call}\nts = []\nfor _ in range({n}):\n    t = time.perf_counter(); {call}; ts.append((time.perf_counter() - t) * 1000)\nts.sort()\nprint(json.dumps([ts[len(ts) // 2], ts[int(len(ts) * 0.99)]]))"
    )
}

/// Declared skills called from Python through an rclpy server: an action
/// whose goal of order 0 succeeds at once (goal, acceptance, result), and
/// a service of a compiled-in type against one of a run-time type.
fn action_round_trip(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    let python = std::env::var("CODEACT_ROS_PYTHON").unwrap_or_else(|_| "python3".into());
    let _server = Reaper(
        Command::new(python)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/ros/fibonacci_server.py"
            ))
            .arg("600")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting tests/ros/fibonacci_server.py (rclpy)")?,
    );
    let dir = std::env::temp_dir().join(format!("codeact-bench-ros-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let profile = dir.join("sim_declaring.yaml");
    let sim = include_str!("../../launch/profiles/sim.yaml");
    std::fs::write(&profile, format!("{sim}{DECLARING}"))?;
    let (mut driver, _) = Driver::start(&["--robot", &profile.to_string_lossy()])?;
    let mut timed = |call: &str, what: &str| -> Result<Stats> {
        let (_, obs) = driver.execute(&timing_loop(call, reps(300)))?;
        let figures: Vec<f64> = serde_json::from_str(obs.observation.output_text().trim())
            .with_context(|| format!("{what}'s timing: {}", obs.text))?;
        Ok(Stats {
            median: figures[0],
            p99: figures[1],
        })
    };
    let action = timed("fibonacci(0)", "the action skill")?;
    let compiled = timed("light(True)", "the compiled-in service skill")?;
    let run_time = timed("lifecycle_state()", "the run-time service skill")?;
    let _ = std::fs::remove_dir_all(&dir);
    report(
        "declared action skill round trip (rclpy server)",
        "ms",
        &action,
        "median <= 5 ms",
    );
    report(
        "declared service skill, compiled-in type (SetBool)",
        "ms",
        &compiled,
        "measured",
    );
    report(
        "declared service skill, run-time type (lifecycle GetState)",
        "ms",
        &run_time,
        &format!(
            "<= 2x compiled-in: {:.2}x",
            run_time.median / compiled.median
        ),
    );
    Ok(())
}
