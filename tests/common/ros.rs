//! Helpers of the ROS 2 tests (feature `ros`): real rclpy peers, a domain
//! per test, and a tcpdump watch that DDS stays on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use codeact::executor::client::SessionClient;
use codeact::executor::protocol::{Reply, Request};
use codeact::executor::{ErrorReport, Observation};
use serde_json::{json, Value as Json};

/// tcpdump on every interface but loopback, watching for DDS: RTPS
/// multicast, or UDP to the ports of this test's domain (7400 + 250 × id).
pub struct Capture {
    tcpdumps: Vec<Child>,
}

impl Capture {
    pub fn start(domain: u32) -> Capture {
        let base = 7400 + 250 * domain;
        let filter = format!(
            "udp and (dst net 239.255.0.0/16 or portrange {base}-{})",
            base + 249
        );
        let mut tcpdumps = Vec::new();
        for entry in std::fs::read_dir("/sys/class/net").unwrap() {
            let iface = entry.unwrap().file_name().to_string_lossy().into_owned();
            // Loopback is where DDS belongs; an interface that is down carries nothing.
            let flags = std::fs::read_to_string(format!("/sys/class/net/{iface}/flags"))
                .unwrap_or_default();
            let up = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16)
                .is_ok_and(|f| f & 1 == 1);
            if iface == "lo" || !up {
                continue;
            }
            let mut child = Command::new("tcpdump")
                .args(["-i", &iface, "-n", "-l", "-q", "-p", &filter])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("tcpdump runs (scripts/ros-setup.sh installs it); the ROS tests check that DDS stays on loopback");
            // Wait until it listens, so no packet slips by before.
            let mut err = BufReader::new(child.stderr.take().unwrap());
            let mut said = String::new();
            loop {
                let mut line = String::new();
                if err.read_line(&mut line).unwrap_or(0) == 0 {
                    panic!("tcpdump on {iface} could not start (run as root): {said}");
                }
                said.push_str(&line);
                if line.contains("listening on") {
                    break;
                }
            }
            tcpdumps.push(child);
        }
        Capture { tcpdumps }
    }

    /// Stops capturing; returns the packets seen (one line each).
    pub fn finish(self) -> Vec<String> {
        let mut packets = Vec::new();
        for child in self.tcpdumps {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGINT,
            );
            let out = child.wait_with_output().unwrap();
            packets.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_owned),
            );
        }
        packets
    }
}

pub fn ros_python() -> String {
    std::env::var("CODEACT_ROS_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// tests/ros/fake_robot.py for `seconds` in `domain`, taking TwistStamped
/// commands when `stamped`; it prints its report on stdout at the end.
pub fn fake_robot(domain: u32, seconds: u32, stamped: bool) -> Child {
    fake_robot_with(
        domain,
        seconds,
        if stamped {
            &[("FAKE_STAMPED", "1")]
        } else {
            &[]
        },
    )
}

/// tests/ros/fake_robot.py with these environment settings (FAKE_STAMPED, FAKE_TF).
pub fn fake_robot_with(domain: u32, seconds: u32, env: &[(&str, &str)]) -> Child {
    peer("fake_robot.py", domain, seconds, env)
}

/// The rclpy peer tests/ros/`script`, running for `seconds` in `domain`
/// with these environment settings; its stdout and stderr piped.
pub fn peer(script: &str, domain: u32, seconds: u32, env: &[(&str, &str)]) -> Child {
    ros_command(ros_python(), domain)
        .envs(env.iter().copied())
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/ros")
                .join(script),
        )
        .arg(seconds.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("the rclpy peer {script} runs: {e}"))
}

/// A domain of this test's own: `slot` (0 to 8) keeps the tests of one
/// binary apart, the process id runs apart. DDS takes domain ids up to 232
/// (the ports of a higher one do not exist): higher slots wrap, still apart
/// from the others of the same process.
pub fn domain(slot: u32) -> u32 {
    1 + (std::process::id() % 25 + 25 * slot) % 231
}

pub fn ros_command(program: impl AsRef<std::ffi::OsStr>, domain: u32) -> Command {
    let mut c = Command::new(program);
    c.env("ROS_DOMAIN_ID", domain.to_string())
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST");
    c
}

/// `codeact session --robot PROFILE`, driven through the protocol's client.
pub struct RosSession(pub SessionClient);

impl RosSession {
    pub fn start(profile: &str, domain: u32) -> Self {
        Self::start_with(profile, domain, &[])
    }

    /// With these environment settings (a workspace's AMENT_PREFIX_PATH).
    pub fn start_with(profile: &str, domain: u32, env: &[(&str, String)]) -> Self {
        Self::start_args(profile, domain, env, &[])
    }

    /// With these environment settings and these further arguments.
    pub fn start_args(profile: &str, domain: u32, env: &[(&str, String)], args: &[&str]) -> Self {
        let mut command = ros_command(super::exe(), domain);
        command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(["session", "--robot", profile])
            .args(args)
            .stderr(Stdio::inherit());
        RosSession(SessionClient::start(command).expect("codeact session starts"))
    }

    /// Runs `code`; returns its observation as JSON, with its text.
    pub fn execute(&mut self, code: &str, timeout: f64) -> Json {
        let done = self
            .0
            .execute(code, Some(timeout), &mut |_, _| {})
            .expect("the session answers");
        let mut obs = serde_json::to_value(&done.observation).unwrap();
        obs["text"] = json!(done.text);
        obs
    }
}

pub const FAKE_PROFILE: &str = "name: fake
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
safety: {watchdog: 0.5, rate: 20}
ros_access:
  allow: [/odom, /chatter, /from_code, /lifecycle_state, /robot_lifecycle, /change_state, /cmd_vel, /e_stop]
";

/// Python for an rclpy "button" that presses the e-stop (publishes true on
/// /e_stop for three seconds).
pub const E_STOP_PRESS: &str = "import rclpy, time\nfrom std_msgs.msg import Bool\nrclpy.init()\nn = rclpy.create_node('e_stop_button')\np = n.create_publisher(Bool, '/e_stop', 10)\nfor _ in range(30):\n    p.publish(Bool(data=True))\n    time.sleep(0.1)\n";

/// Stops a peer that prints one JSON event per line, and the fake robot;
/// returns the events and the peer's stderr. The peer prints each event as
/// it happens, so it is stopped rather than waited for.
pub fn stop_peers(peer: Child, mut robot: Child) -> (Vec<Json>, String) {
    let _ = robot.kill();
    let _ = robot.wait();
    stop_peer(peer)
}

/// Stops a peer that prints one JSON event per line; returns the events and
/// its stderr.
pub fn stop_peer(mut peer: Child) -> (Vec<Json>, String) {
    let _ = peer.kill();
    let out = peer.wait_with_output().unwrap();
    let events = BufReader::new(&out.stdout[..])
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    (events, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// tests/ros/fibonacci_server.py for `seconds` in `domain`.
pub fn fibonacci_server(domain: u32, seconds: u32) -> Child {
    fibonacci_server_with(domain, seconds, &[])
}

/// tests/ros/fibonacci_server.py with these environment settings
/// (FIB_ACTION, FIB_ACCEPT_DELAY, FIB_TRACE).
pub fn fibonacci_server_with(domain: u32, seconds: u32, env: &[(&str, &str)]) -> Child {
    peer("fibonacci_server.py", domain, seconds, env)
}

/// Runs `code`, sending an interrupt once live output contains `interrupt_on`
/// (if given); returns the observation and the live output.
pub fn run_interrupting(
    session: &mut RosSession,
    code: &str,
    interrupt_on: Option<&str>,
) -> (Observation, String) {
    let client = &mut session.0;
    let id = client.next_id();
    client
        .send(&Request::Execute {
            id: id.clone(),
            code: code.into(),
            timeout: Some(60.0),
        })
        .unwrap();
    let mut live = String::new();
    let mut interrupted = false;
    loop {
        match client.recv().unwrap() {
            Reply::Output { text, .. } => {
                live.push_str(&text);
                if !interrupted && interrupt_on.is_some_and(|w| live.contains(w)) {
                    interrupted = true;
                    client
                        .send(&Request::Interrupt { id: json!("stop") })
                        .unwrap();
                }
            }
            Reply::Observation {
                id: of,
                observation,
                ..
            } if of == id => return (*observation, live),
            _ => {}
        }
    }
}

/// Runs `code` and checks the value of its last expression.
pub fn assert_result(session: &mut RosSession, code: &str, expected: &str) {
    let (obs, _) = run_interrupting(session, code, None);
    assert_eq!(obs.result.as_deref(), Some(expected), "{}", obs.render());
}

/// Runs `code`, which must raise, and returns its error.
pub fn error_of(session: &mut RosSession, code: &str) -> ErrorReport {
    let (obs, _) = run_interrupting(session, code, None);
    match obs.error {
        Some(error) => error,
        None => panic!("{code} raised nothing: {}", obs.render()),
    }
}

/// tests/ros/nav2_server.py for `seconds` in `domain`.
pub fn nav2_server(domain: u32, seconds: u32) -> Child {
    nav2_server_with(domain, seconds, &[])
}

/// tests/ros/nav2_server.py with these environment settings (NAV2_CMD_TOPIC).
pub fn nav2_server_with(domain: u32, seconds: u32, env: &[(&str, &str)]) -> Child {
    peer("nav2_server.py", domain, seconds, env)
}

/// tests/ros/person.py with `args`, run to its end; its last JSON line, if any.
pub fn person(domain: u32, args: &[&str]) -> Option<Json> {
    let out = ros_command(ros_python(), domain)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ros/person.py"))
        .args(args)
        .output()
        .expect("the rclpy person runs");
    assert!(
        out.status.success(),
        "person {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .last()
        .map(|l| serde_json::from_str(l).unwrap())
}

/// (time, linear, angular) of every command tests/ros/fake_robot.py's
/// report says it received.
pub fn commands_of(report: &Json) -> Vec<(f64, f64, f64)> {
    report["cmds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c[0].as_f64().unwrap(),
                c[1].as_f64().unwrap(),
                c[2].as_f64().unwrap(),
            )
        })
        .collect()
}
