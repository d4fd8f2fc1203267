//! Bringing a robot's own ROS 2 skills to code (feature `ros`; run by
//! scripts/test.sh after scripts/ros-setup.sh): `ros_action` against an
//! rclpy action server, with live feedback, cancellation on interrupt and
//! timeout, and typed failures; `ros_services`. Real rclpy peers, a domain per test, DDS
//! checked to stay on loopback.
#![cfg(feature = "ros")]

mod common;

use std::process::Stdio;

use codeact::executor::protocol::{Reply, Request};
use codeact::executor::Status;
use common::ros::*;
use serde_json::json;

/// The fake robot's profile, with the action server allowed and one name denied.
const PROFILE: &str = "name: fake
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
ros_access:
  allow: [/odom, /fibonacci, /nobody_home]
";

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
        (2..=8).contains(&feedback.len()),
        "8 feedbacks 50 ms apart show as 2 to 8 lines (at most one per 100 ms, the last kept): {live}"
    );
    assert_eq!(
        feedback.last().copied(),
        Some(r#"/fibonacci feedback: {"sequence":[0,1,1,2,3,5,8,13]}"#),
        "the last feedback is never lost: {live}"
    );

    // Aborted and rejected goals are GoalFailed, saying what the server reported.
    let error = error_of(
        &mut session,
        "ros_action('/fibonacci', {'order': -1}, type='example_interfaces/action/Fibonacci')",
    );
    assert_eq!(error.type_name, "GoalFailed", "{}", error.traceback);
    assert!(
        error.message.contains("aborted the goal") && error.message.contains("[-1]"),
        "{}",
        error.message
    );
    let error = error_of(&mut session, "ros_action('/fibonacci', {'order': -5})");
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
    let error = error_of(
        &mut session,
        "ros_action('/fibonacci', {'order': 1000}, timeout=0.5)",
    );
    assert_eq!(error.type_name, "SkillTimeout", "{}", error.traceback);
    assert!(
        error.message.contains("it was cancelled"),
        "{}",
        error.message
    );

    // No server: a timeout that says so; a name the profile does not allow: refused.
    let error = error_of(&mut session, "ros_action('/nobody_home', {'order': 1}, type='example_interfaces/action/Fibonacci', timeout=1.0)");
    assert_eq!(error.type_name, "SkillTimeout");
    assert!(
        error.message.contains("no action server answered"),
        "{}",
        error.message
    );
    let error = error_of(
        &mut session,
        "ros_action('/dock', {}, type='example_interfaces/action/Fibonacci')",
    );
    assert_eq!(error.type_name, "RobotError");
    assert!(error.message.contains("refused"), "{}", error.message);

    // ros_services lists what the graph has, and what the profile allows.
    assert_result(&mut session, "s = {x['name']: (x['type'], x['allowed']) for x in ros_services()}\n(s['/fibonacci_server/ping'], s['/fibonacci_server/describe_parameters'][0])", "(('std_srvs/srv/Trigger', False), 'rcl_interfaces/srv/DescribeParameters')");

    drop(session);
    let (events, stderr) = stop_peers(server, robot);
    let leaked = capture.finish();
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
        stderr
    );
    assert!(leaked.is_empty(), "DDS packets left loopback: {leaked:?}");
}

/// The fake robot's profile with three declared skills: an action, a
/// service returning two fields, a topic.
const DECLARING: &str = "name: fake
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
ros_skills:
  - name: fibonacci
    doc: Compute the first numbers of the Fibonacci sequence on the robot.
    action: /fibonacci
    type: example_interfaces/action/Fibonacci
    params:
      - {name: order, type: int, default: 5, doc: how many numbers}
    returns: sequence
    timeout: 30
  - name: light
    doc: Switch the robot's light.
    service: /fibonacci_server/light
    type: std_srvs/srv/SetBool
    params:
      - {name: on, type: bool, field: data}
    returns: [success, message]
  - name: show_text
    doc: Show a text on the robot's screen.
    topic: /screen_text
    type: std_msgs/msg/String
    params:
      - {name: text, type: str, field: data}
";

#[test]
fn skills_declared_in_the_profile_are_python_functions_over_ros() {
    let domain = domain(1);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("declaring.yaml");
    std::fs::write(&profile, DECLARING).unwrap();
    let robot = fake_robot(domain, 45, false);
    let server = fibonacci_server(domain, 45);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);

    // They have real signatures and docstrings in the API text, like built-in skills.
    session.0.send(&Request::Skills { id: json!(1) }).unwrap();
    let api = loop {
        if let Reply::Skills { api_text, .. } = session.0.recv().unwrap() {
            break api_text;
        }
    };
    for expected in [
        "def fibonacci(order: int = 5) -> list[int]:",
        "order: how many numbers",
        "Runs the ROS action /fibonacci (example_interfaces/action/Fibonacci)",
        "Raises: GoalFailed, SkillTimeout.",
        "def light(on: bool) -> LightResult:",
        "class LightResult:  # fields: success, message",
        "def show_text(text: str) -> None:",
    ] {
        assert!(api.contains(expected), "{expected} missing from:\n{api}");
    }
    assert!(session.0.ready().skills.iter().any(|s| s == "fibonacci"));

    let (obs, live) = run_interrupting(&mut session, "fibonacci(6)", None);
    assert_eq!(
        obs.result.as_deref(),
        Some("[0, 1, 1, 2, 3, 5]"),
        "{}",
        obs.render()
    );
    assert!(
        live.contains("fibonacci feedback: {\"sequence\":[0,1,1,2,3,5]}"),
        "{live}"
    );
    let (obs, _) = run_interrupting(&mut session, "fibonacci(-1)", None);
    assert_eq!(
        obs.error.as_ref().map(|e| e.type_name.as_str()),
        Some("GoalFailed")
    );
    let (obs, _) = run_interrupting(&mut session, "fibonacci(1000)", Some("fibonacci feedback"));
    assert_eq!(obs.status, Status::Interrupted, "{}", obs.render());
    let (obs, _) = run_interrupting(
        &mut session,
        "r = light(True)\nprint(r.message)\nr.success",
        None,
    );
    assert_eq!(obs.result.as_deref(), Some("True"), "{}", obs.render());
    assert_eq!(obs.output_text(), "light on\n");
    let (obs, _) = run_interrupting(&mut session, "light('yes')", None);
    assert_eq!(
        obs.error.as_ref().map(|e| e.type_name.as_str()),
        Some("TypeError"),
        "{}",
        obs.render()
    );
    let (obs, _) = run_interrupting(&mut session, "show_text('hello robot')", None);
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    std::thread::sleep(std::time::Duration::from_millis(500));

    // The e-stop cancels a running goal: a person presses it mid-goal.
    let client = &mut session.0;
    let id = client.next_id();
    client
        .send(&Request::Execute {
            id: id.clone(),
            code: "fibonacci(1000)".into(),
            timeout: Some(60.0),
        })
        .unwrap();
    let mut pressed = None;
    let obs = loop {
        match client.recv().unwrap() {
            Reply::Output { text, .. }
                if pressed.is_none() && text.contains("fibonacci feedback") =>
            {
                pressed = Some(
                    ros_command(ros_python(), domain)
                        .args(["-c", E_STOP_PRESS])
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap(),
                );
            }
            Reply::Observation {
                id: of,
                observation,
                ..
            } if of == id => break *observation,
            _ => {}
        }
    };
    let _ = pressed.map(|mut p| p.wait());
    let error = obs.error.clone().expect("an error");
    assert_eq!(error.type_name, "EStopped", "{}", obs.render());
    assert!(
        error.message.contains("the goal was cancelled"),
        "{}",
        error.message
    );

    drop(session);
    let (events, stderr) = stop_peers(server, robot);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "accepted", "done", "accepted", "aborted", "accepted", "canceled", "heard", "accepted",
            "canceled"
        ],
        "{events:?}\n{stderr}"
    );
    assert_eq!(events[6]["text"], "hello robot");
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}

#[test]
fn a_bad_declaration_fails_the_start_at_its_line_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("bad.yaml");
    let cases = [
        (
            "      - {name: order, type: int, default: 5, doc: how many numbers}",
            "      - {name: order, type: int, default: 5, field: count}",
            "parameter order: example_interfaces/action/Fibonacci has no goal field \"count\"; its goal fields are: order",
        ),
        (
            "      - {name: order, type: int, default: 5, doc: how many numbers}",
            "      - {name: order, type: str, default: '5'}",
            "parameter order is str but the goal field order is int; declare it as int",
        ),
        (
            "    type: example_interfaces/action/Fibonacci",
            "    type: example_interfaces/action/Fibonaci",
            "unknown type example_interfaces/action/Fibonaci",
        ),
        (
            "    returns: [success, message]",
            "    returns: [success, text]",
            "returns: std_srvs/srv/SetBool has no response field \"text\"",
        ),
        (
            "  - name: show_text",
            "  - name: get_pose",
            "get_pose is already a skill of this robot",
        ),
        (
            "    timeout: 30",
            "    timeout: 30\n    retries: 3",
            "unknown field `retries`",
        ),
    ];
    for (from, to, expected) in cases {
        let text = DECLARING.replace(from, to);
        assert_ne!(text, DECLARING, "{from}");
        std::fs::write(&profile, &text).unwrap();
        let wanted_line = text
            .lines()
            .position(|l| l.contains(to.lines().last().unwrap().trim()))
            .unwrap()
            + 1;
        let domain = domain(2);
        let out = ros_command(common::exe(), domain)
            .args(["session", "--robot"])
            .arg(&profile)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{to}: {stderr}");
        assert!(stderr.contains(expected), "{to}: {stderr}");
        assert!(
            stderr.contains(&format!("{}:{wanted_line}:", profile.display())),
            "{to}: not at line {wanted_line}: {stderr}"
        );
    }
}

/// The fake robot, navigated by Nav2.
const NAV2_PROFILE: &str = "name: fake_nav2
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
tolerances: {goal: 0.05, heading: 0.05, rest_linear: 0.01, rest_angular: 0.01}
nav2: {}
zones:
  - {name: dock, polygon: [[0.6, -0.6], [1.0, -0.6], [1.0, -0.2], [0.6, -0.2]]}
";

#[test]
fn move_to_and_go_to_navigate_with_nav2_when_the_profile_says_so() {
    let domain = domain(3);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("nav2.yaml");
    std::fs::write(&profile, NAV2_PROFILE).unwrap();
    let robot = fake_robot(domain, 60, false);
    let nav2 = nav2_server(domain, 60);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);

    // Nav2 drives the robot there; its feedback is printed live.
    let (obs, live) = run_interrupting(
        &mut session,
        "p = move_to(0.8, 0.4)\n(round(p.x, 1), round(p.y, 1))",
        None,
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("(0.8, 0.4)"),
        "{}\n{live}",
        obs.render()
    );
    assert!(
        live.contains("nav2: ") && live.contains(" m to go"),
        "{live}"
    );
    assert!(live.contains("1 recovery"), "{live}");
    assert_result(
        &mut session,
        "p = go_to('dock')\n(0.6 <= p.x <= 1.0, -0.6 <= p.y <= -0.2)",
        "(True, True)",
    );

    // Its failures are Unreachable or Blocked by their codes, with the
    // code's name and Nav2's reason.
    let error = error_of(&mut session, "move_to(-10.0, 0.0)");
    assert_eq!(error.type_name, "Unreachable", "{}", error.traceback);
    assert!(error.message.contains("Nav2 aborted the goal (error 208 NO_VALID_PATH from the planner): \"Failed to compute path: no valid path found\""), "{}", error.message);
    let error = error_of(&mut session, "move_to(60.0, 0.0)");
    assert_eq!(error.type_name, "Blocked", "{}", error.traceback);
    assert!(
        error
            .message
            .contains("error 105 FAILED_TO_MAKE_PROGRESS from the controller")
            && error.message.contains("Failed to make progress"),
        "{}",
        error.message
    );

    // An interrupt cancels the navigation goal.
    let (obs, _) = run_interrupting(&mut session, "move_to(3.0, 0.4)", Some("nav2: "));
    assert_eq!(obs.status, Status::Interrupted, "{}", obs.render());
    std::thread::sleep(std::time::Duration::from_millis(300));

    drop(session);
    let (events, stderr) = stop_peers(nav2, robot);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "accepted", "done", "accepted", "done", "accepted", "aborted", "accepted", "aborted",
            "accepted", "canceled"
        ],
        "{events:?}\n{}",
        stderr
    );
    assert!(
        events
            .iter()
            .filter(|e| e["event"] == "accepted")
            .all(|e| e["frame"] == "odom"),
        "{events:?}"
    );
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}

/// The fake robot, localized: poses in the map frame.
const MAP_PROFILE: &str = "name: fake_map
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
frames: {map: map}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
tolerances: {goal: 0.03, heading: 0.05, rest_linear: 0.01, rest_angular: 0.01}
safety: {tf_stale: 1.5}
zones:
  - {name: bench, polygon: [[1.8, 1.8], [2.2, 1.8], [2.2, 2.2], [1.8, 2.2]]}
ros_access:
  allow: [/tf_off, /odom]
";

#[test]
fn poses_goals_and_zones_are_in_the_map_frame_through_tf() {
    let domain = domain(4);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("map.yaml");
    std::fs::write(&profile, MAP_PROFILE).unwrap();
    // odom's origin sits at (2, 1) in the map, turned a quarter left.
    let robot = fake_robot_with(domain, 40, &[("FAKE_TF", "2.0,1.0,1.5707963267948966")]);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);

    assert_result(
        &mut session,
        "p = get_pose()\n(round(p.x, 2), round(p.y, 2), round(p.theta, 2))",
        "(2.0, 1.0, 1.57)",
    );
    // A goal in the map: straight ahead (map +y) is odometry's +x.
    assert_result(
        &mut session,
        "p = move_to(2.0, 1.6)\n(abs(p.x - 2.0) < 0.04, abs(p.y - 1.6) < 0.04)",
        "(True, True)",
    );
    // The robot's own odometry says it drove along its x axis.
    assert_result(&mut session, "o = ros_read('/odom')['pose']['pose']['position']\n(abs(o['x'] - 0.6) < 0.04, abs(o['y']) < 0.01)", "(True, True)");
    assert_result(
        &mut session,
        "p = go_to('bench')\n(1.8 <= p.x <= 2.2, 1.8 <= p.y <= 2.2)",
        "(True, True)",
    );
    // Without localization the pose is stale, as odometry's would be.
    let error = error_of(&mut session, "ros_publish('/tf_off', {'data': 'off'}, type='std_msgs/msg/String')\nimport time\ntime.sleep(2.5)\nget_pose()");
    assert_eq!(error.type_name, "RobotError", "{}", error.traceback);
    assert!(
        error.message.contains("map → odom transform") && error.message.contains("/tf"),
        "{}",
        error.message
    );

    drop(session);
    let mut robot = robot;
    let _ = robot.kill();
    let _ = robot.wait();
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}
