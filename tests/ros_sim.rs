//! `codeact sim --ros` against a real rclpy peer (feature `ros`; run by
//! scripts/test.sh after scripts/ros-setup.sh). DDS stays on loopback
//! (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST) and the test has its own
//! ROS_DOMAIN_ID.
#![cfg(feature = "ros")]

mod common;

use std::process::{Command, Stdio};

fn ros_python() -> String {
    std::env::var("CODEACT_ROS_PYTHON").unwrap_or_else(|_| "python3".into())
}

#[test]
fn an_rclpy_peer_drives_the_simulated_robot_and_the_watchdog_stops_it() {
    let domain = (std::process::id() % 100 + 100).to_string();
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
