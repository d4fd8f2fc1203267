//! Bringing a robot's own ROS 2 skills to code (feature `ros`; run by
//! scripts/test.sh after scripts/ros-setup.sh): `ros_action` against an
//! rclpy action server, with live feedback, cancellation on interrupt and
//! timeout, and typed failures; `ros_services`. Real rclpy peers, a domain per test, DDS
//! checked to stay on loopback.
#![cfg(feature = "ros")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use codeact::executor::protocol::{Reply, Request};
use codeact::executor::{Observation, Status};
use common::ros::*;
use serde_json::{json, Value as Json};

/// tests/ros/fibonacci_server.py for `seconds` in `domain`.
fn fibonacci_server(domain: u32, seconds: u32) -> Child {
    ros_command(ros_python(), domain)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ros/fibonacci_server.py"
        ))
        .arg(seconds.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the rclpy action server runs")
}

/// The fake robot's profile, with the action server allowed and one name denied.
const PROFILE: &str = "name: fake
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
ros_access:
  allow: [/odom, /fibonacci, /nobody_home]
";

/// Runs `code`, sending an interrupt once live output contains `interrupt_on`
/// (if given); returns the observation and the live output.
fn run_interrupting(
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

#[test]
fn ros_action_streams_feedback_cancels_when_stopped_and_types_failures() {
    let domain = domain(0);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("fake.yaml");
    std::fs::write(&profile, PROFILE).unwrap();
    let robot = fake_robot(domain, 45, false);
    let server = fibonacci_server(domain, 45);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);

    // The type comes from the graph; feedback is printed live, at most 10 lines a second.
    let (obs, live) = run_interrupting(
        &mut session,
        "r = ros_action('/fibonacci', {'order': 8}, timeout=30)\nr['sequence']",
        None,
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(obs.result.as_deref(), Some("[0, 1, 1, 2, 3, 5, 8, 13]"));
    let feedback: Vec<&str> = live
        .lines()
        .filter(|l| l.starts_with("/fibonacci feedback: "))
        .collect();
    assert!(
        (2..=6).contains(&feedback.len()),
        "8 feedbacks 50 ms apart show as 2 to 6 lines: {live}"
    );
    assert_eq!(
        feedback.last().copied(),
        Some(r#"/fibonacci feedback: {"sequence":[0,1,1,2,3,5,8,13]}"#),
        "the last feedback is never lost: {live}"
    );

    // Aborted and rejected goals are GoalFailed, saying what the server reported.
    let (obs, _) = run_interrupting(
        &mut session,
        "ros_action('/fibonacci', {'order': -1}, type='example_interfaces/action/Fibonacci')",
        None,
    );
    let error = obs.error.clone().expect("an error");
    assert_eq!(error.type_name, "GoalFailed", "{}", obs.render());
    assert!(
        error.message.contains("aborted the goal") && error.message.contains("[-1]"),
        "{}",
        error.message
    );
    let (obs, _) = run_interrupting(
        &mut session,
        "ros_action('/fibonacci', {'order': -5})",
        None,
    );
    let error = obs.error.clone().expect("an error");
    assert_eq!(error.type_name, "GoalFailed");
    assert!(
        error.message.contains("rejected the goal"),
        "{}",
        error.message
    );
    // A GoalFailed is a RobotError code can catch.
    let (obs, _) = run_interrupting(
        &mut session,
        "try:\n    ros_action('/fibonacci', {'order': -5})\nexcept RobotError as e:\n    print('caught', type(e).__name__)",
        None,
    );
    assert!(
        obs.output_text().contains("caught GoalFailed"),
        "{}",
        obs.render()
    );

    // An interrupt cancels the goal on the server.
    let (obs, live) = run_interrupting(
        &mut session,
        "ros_action('/fibonacci', {'order': 1000})",
        Some("/fibonacci feedback"),
    );
    assert_eq!(obs.status, Status::Interrupted, "{}", obs.render());
    assert!(live.contains("/fibonacci feedback"));
    // So does the skill's own time limit.
    let (obs, _) = run_interrupting(
        &mut session,
        "ros_action('/fibonacci', {'order': 1000}, timeout=0.5)",
        None,
    );
    let error = obs.error.clone().expect("an error");
    assert_eq!(error.type_name, "SkillTimeout", "{}", obs.render());
    assert!(
        error.message.contains("it was cancelled"),
        "{}",
        error.message
    );

    // No server: a timeout that says so; a name the profile does not allow: refused.
    let (obs, _) = run_interrupting(
        &mut session,
        "ros_action('/nobody_home', {'order': 1}, type='example_interfaces/action/Fibonacci', timeout=1.0)",
        None,
    );
    let error = obs.error.clone().expect("an error");
    assert_eq!(error.type_name, "SkillTimeout");
    assert!(
        error.message.contains("no action server answered"),
        "{}",
        error.message
    );
    let (obs, _) = run_interrupting(
        &mut session,
        "ros_action('/dock', {}, type='example_interfaces/action/Fibonacci')",
        None,
    );
    let error = obs.error.clone().expect("an error");
    assert_eq!(error.type_name, "RobotError");
    assert!(error.message.contains("refused"), "{}", error.message);

    // ros_services lists what the graph has, and what the profile allows.
    let (obs, _) = run_interrupting(
        &mut session,
        "s = {x['name']: (x['type'], x['allowed']) for x in ros_services()}\n(s['/fibonacci_server/ping'], s['/fibonacci_server/describe_parameters'][0])",
        None,
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("(('std_srvs/srv/Trigger', False), 'rcl_interfaces/srv/DescribeParameters')"),
        "{}",
        obs.render()
    );

    drop(session);
    // The server prints each event as it happens: stop it now.
    let (mut server, mut robot) = (server, robot);
    let _ = server.kill();
    let _ = robot.kill();
    let _ = robot.wait();
    let out = server.wait_with_output().unwrap();
    let leaked = capture.finish();
    let events: Vec<Json> = BufReader::new(&out.stdout[..])
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "accepted", "done", "accepted", "aborted", "rejected", "rejected", "accepted",
            "canceled", "accepted", "canceled"
        ],
        "{events:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(leaked.is_empty(), "DDS packets left loopback: {leaked:?}");
}
