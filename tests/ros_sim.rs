//! `codeact sim --ros` against a real rclpy peer (feature `ros`; run by
//! scripts/test.sh after scripts/ros-setup.sh). DDS stays on loopback
//! (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) and the test has its own
//! ROS_DOMAIN_ID.
#![cfg(feature = "ros")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// tcpdump on every interface but loopback, watching for DDS: RTPS
/// multicast, or UDP to the ports of this test's domain (7400 + 250 × id).
struct Capture {
    tcpdumps: Vec<Child>,
}

impl Capture {
    fn start(domain: u32) -> Capture {
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
    fn finish(self) -> Vec<String> {
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

fn ros_python() -> String {
    std::env::var("CODEACT_ROS_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[test]
fn an_rclpy_peer_drives_the_simulated_robot_and_the_watchdog_stops_it() {
    let domain_id = std::process::id() % 100 + 100;
    let domain = domain_id.to_string();
    let capture = Capture::start(domain_id);
    let mut sim = Command::new(common::exe())
        .args([
            "sim",
            "--ros",
            "--world",
            "small_room",
            "--seconds",
            "40",
            "--watchdog",
            "0.5",
        ])
        .env("ROS_DOMAIN_ID", &domain)
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("codeact sim starts");
    let peer = Command::new(ros_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ros/drive_peer.py"
        ))
        .args(["2.0", "1.5"])
        .env("ROS_DOMAIN_ID", &domain)
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        .output()
        .expect("the rclpy peer runs");
    let _ = sim.kill();
    let _ = sim.wait();
    let leaked = capture.finish();
    assert!(leaked.is_empty(), "DDS packets left loopback: {leaked:?}");
    assert!(
        peer.status.success(),
        "{}",
        String::from_utf8_lossy(&peer.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&peer.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&peer.stdout)));
    assert!(report["odom"].as_u64().unwrap() > 20, "{report}");
    assert!(report["scans"].as_u64().unwrap() > 5, "{report}");
    assert_eq!(report["rays"], 360);
    assert!(report["batteries"].as_u64().unwrap() >= 1, "{report}");
    let (start, stop) = (
        report["x_start"].as_f64().unwrap(),
        report["x_stop"].as_f64().unwrap(),
    );
    assert!(stop - start > 0.3, "the robot drove forward: {report}");
    // 1.5 s after the last command (watchdog 0.5 s) it stands still.
    let tail_x: Vec<f64> = report["tail_x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(!tail_x.is_empty(), "{report}");
    assert!(
        tail_x.iter().all(|x| (x - tail_x[0]).abs() < 1e-6),
        "still moving after the watchdog: {report}"
    );
    assert!(
        report["tail_v"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v.as_f64().unwrap() == 0.0),
        "{report}"
    );
}
