//! Fail safe (feature `ros`; run by scripts/test.sh after
//! scripts/ros-setup.sh): no goal outlives the skill that sent it, nothing
//! is sent while the e-stop is latched, and a person clears the e-stop from
//! outside in any process that drives a robot. Each check reads what the
//! rclpy peers saw, not what codeact says.
#![cfg(feature = "ros")]

mod common;

use std::process::Child;
use std::time::Duration;

use codeact::executor::protocol::{Reply, Request};
use common::ros::*;
use serde_json::{json, Value as Json};

/// The fake robot with Nav2 as its navigator, a declared action skill on a
/// server that is slow to accept, and `ros_action` allowed on a server that
/// starts late.
const PROFILE: &str = "name: failsafe
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
tolerances: {goal: 0.05, heading: 0.05, rest_linear: 0.01, rest_angular: 0.01}
nav2: {}
ros_access:
  allow: [/late_fibonacci]
ros_skills:
  - name: slow_fibonacci
    doc: The Fibonacci numbers, from a server that takes 0.5 s to accept a goal.
    action: /slow_fibonacci
    type: example_interfaces/action/Fibonacci
    params:
      - {name: order, type: int, default: 5, doc: how many numbers}
    returns: sequence
    timeout: 30
";

/// The events of a peer that prints JSON lines, stopping it.
fn events_of(mut peer: Child) -> Vec<Json> {
    let _ = peer.kill();
    let out = peer.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "the peer printed {l:?} ({e}); its stderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        })
        .collect()
}

/// What the fake robot recorded (its last line, printed when its time is up).
fn robot_report(robot: Child) -> Json {
    let out = robot.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap()
}

fn kinds(events: &[Json]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

/// Sends `code` and interrupts it after `after`; returns the observation.
fn interrupt_after(session: &mut RosSession, code: &str, after: Duration) -> Json {
    let client = &mut session.0;
    let id = client.next_id();
    client
        .send(&Request::Execute {
            id: id.clone(),
            code: code.into(),
            timeout: Some(60.0),
        })
        .unwrap();
    std::thread::sleep(after);
    client
        .send(&Request::Interrupt { id: json!("stop") })
        .unwrap();
    loop {
        if let Reply::Observation {
            id: of,
            observation,
            ..
        } = client.recv().unwrap()
        {
            if of == id {
                return serde_json::to_value(&*observation).unwrap();
            }
        }
    }
}

#[test]
fn no_goal_outlives_its_skill_and_nothing_is_sent_while_latched() {
    let domain = domain(5);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("failsafe.yaml");
    std::fs::write(&profile, PROFILE).unwrap();
    let robot = fake_robot(domain, 90, false);
    let nav2 = nav2_server(domain, 90);
    let slow = fibonacci_server_with(
        domain,
        90,
        &[
            ("FIB_ACTION", "/slow_fibonacci"),
            ("FIB_ACCEPT_DELAY", "0.5"),
            ("FIB_TRACE", "1"),
        ],
    );
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);
    assert_result(&mut session, "kept = 41\nkept", "41");

    // Latched: move_to raises EStopped and Nav2 never receives a goal.
    person(domain, &["press", "1.0"]);
    let error = error_of(&mut session, "move_to(4.0, 4.0)");
    assert_eq!(error.type_name, "EStopped", "{}", error.traceback);
    assert!(
        error.message.contains("/codeact/clear_e_stop"),
        "the way out that exists here: {}",
        error.message
    );
    // The same for a declared action skill.
    let error = error_of(&mut session, "slow_fibonacci(3)");
    assert_eq!(error.type_name, "EStopped", "{}", error.traceback);
    std::thread::sleep(Duration::from_millis(1500));

    // A person clears it from outside the session; the variables are kept
    // and motion works again.
    let answer = person(domain, &["clear", "/codeact"]).unwrap();
    assert_eq!(answer["message"], "e-stop cleared", "{answer}");
    assert_result(&mut session, "kept + 1", "42");
    assert_result(&mut session, "p = move_to(0.3, 0.0)\nround(p.x, 1)", "0.3");

    // A goal given up while the server was still accepting it is cancelled
    // the moment it is accepted, and the observation says so.
    let obs = interrupt_after(
        &mut session,
        "slow_fibonacci(40)",
        Duration::from_millis(100),
    );
    assert_eq!(obs["status"], "interrupted", "{obs}");
    std::thread::sleep(Duration::from_millis(1500));
    let later = session.execute("1", 10.0);
    let events = format!("{} {}", obs["robot_events"], later["robot_events"]);
    assert!(
        events.contains("/slow_fibonacci") && events.contains("cancelled at once"),
        "the cancelled goal is named: {events}"
    );

    // ros_action with no server, timed out: a server started afterwards receives nothing.
    let error = error_of(
        &mut session,
        "ros_action('/late_fibonacci', {'order': 3}, type='example_interfaces/action/Fibonacci', timeout=1.0)",
    );
    assert_eq!(error.type_name, "SkillTimeout", "{}", error.traceback);
    let late = fibonacci_server_with(
        domain,
        30,
        &[("FIB_ACTION", "/late_fibonacci"), ("FIB_TRACE", "1")],
    );
    std::thread::sleep(Duration::from_secs(4));
    // It is there and works: the next goal reaches it.
    assert_result(
        &mut session,
        "ros_action('/late_fibonacci', {'order': 3}, timeout=20)['sequence']",
        "[0, 1, 1]",
    );

    // A goal still running when the session is ended (SIGTERM) is
    // cancelled: the server sees the cancel and never finishes it.
    let id = session.0.next_id();
    session
        .0
        .send(&Request::Execute {
            id,
            code: "slow_fibonacci(40)".into(),
            timeout: Some(60.0),
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let pid = nix::unistd::Pid::from_raw(session.0.pid() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    drop(session);
    std::thread::sleep(Duration::from_millis(500));
    let late = events_of(late);
    assert_eq!(
        kinds(&late),
        ["received", "accepted", "executing", "done"],
        "only the second goal arrived: {late:?}"
    );
    let slow = events_of(slow);
    let slow_kinds = kinds(&slow);
    assert_eq!(
        slow_kinds.iter().filter(|k| **k == "received").count(),
        2,
        "the declared skill sent nothing while latched (the two goals are the interrupted one and the one the session's end cut): {slow:?}"
    );
    assert!(!slow_kinds.contains(&"done"), "{slow:?}");
    assert_eq!(
        slow_kinds
            .iter()
            .filter(|k| **k == "cancel_requested")
            .count(),
        2,
        "both goals were cancelled, the second at the session's end: {slow:?}"
    );
    let accepted = slow.iter().find(|e| e["event"] == "accepted").unwrap()["t"]
        .as_f64()
        .unwrap();
    let cancel = slow
        .iter()
        .find(|e| e["event"] == "cancel_requested")
        .unwrap_or_else(|| panic!("a cancel came: {slow:?}"))["t"]
        .as_f64()
        .unwrap();
    eprintln!(
        "cancel seen {:.1} ms after acceptance",
        (cancel - accepted) * 1000.0
    );
    assert!(
        cancel - accepted < 1.0,
        "cancelled at once, not at the skill's timeout: {slow:?}"
    );
    let nav = events_of(nav2);
    assert_eq!(
        kinds(&nav),
        ["accepted", "done"],
        "Nav2 received only the goal sent after the clear: {nav:?}"
    );
    let _ = events_of(robot);
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}

/// The fake robot with Nav2's commands relayed through the bridge, at most 0.2 m/s.
const RELAY_PROFILE: &str = "name: relay
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
limits: {radius: 0.15, max_linear: 0.2, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
tolerances: {goal: 0.05, heading: 0.05, rest_linear: 0.01, rest_angular: 0.01}
nav2: {relay: /cmd_vel_nav}
";

#[test]
fn nav2_drives_through_the_governor_and_moves_nothing_while_latched() {
    let domain = domain(7);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("relay.yaml");
    std::fs::write(&profile, RELAY_PROFILE).unwrap();
    let robot = fake_robot(domain, 40, false);
    let nav2 = nav2_server_with(domain, 40, &[("NAV2_CMD_TOPIC", "/cmd_vel_nav")]);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);

    // Our own goal: Nav2's commands reach the base through the relay.
    assert_result(&mut session, "p = move_to(0.5, 0.0)\nround(p.x, 1)", "0.5");
    // Another node's goal while latched: Nav2 runs it, nothing moves.
    person(domain, &["press", "1.0"]);
    let pressed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let before = session.execute("p = get_pose()\n(round(p.x, 3), round(p.y, 3))", 10.0);
    let answer = person(domain, &["navigate", "3.0", "0.0", "2.0"]).unwrap();
    assert_eq!(answer["accepted"], true, "Nav2 took the other node's goal");
    let after = session.execute("p = get_pose()\n(round(p.x, 3), round(p.y, 3))", 10.0);
    assert_eq!(before["result"], after["result"], "the robot did not move");
    drop(session);

    let report = robot_report(robot);
    let cmds = report["cmds"].as_array().unwrap();
    let linear = |c: &Json| c[1].as_f64().unwrap();
    assert!(
        cmds.iter().any(|c| linear(c) > 0.05),
        "the relay drove the base: {cmds:?}"
    );
    assert!(
        cmds.iter().all(|c| linear(c) <= 0.2 + 1e-9),
        "within the profile's 0.2 m/s (Nav2 asked 0.25): {cmds:?}"
    );
    let latched: Vec<&Json> = cmds
        .iter()
        .filter(|c| c[0].as_f64().unwrap() > pressed)
        .collect();
    assert!(
        latched
            .iter()
            .all(|c| linear(c) == 0.0 && c[2].as_f64().unwrap() == 0.0),
        "only zeros reach the base while latched: {latched:?}"
    );
    let nav = events_of(nav2);
    assert_eq!(
        kinds(&nav),
        ["accepted", "done", "accepted", "canceled"],
        "{nav:?}"
    );
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}

/// The fake robot taking TwistStamped, on sim time, navigated by Nav2.
const SIM_TIME_PROFILE: &str = "name: sim_time
use_sim_time: true
topics: {odom: /odom, cmd_vel: /cmd_vel, cmd_vel_type: twist_stamped, scan: /scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
tolerances: {goal: 0.05, heading: 0.05, rest_linear: 0.01, rest_angular: 0.01}
nav2: {relay: /cmd_vel_nav}
";

#[test]
fn under_use_sim_time_commands_goals_and_recordings_follow_the_clock_topic() {
    let domain = domain(6);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("sim_time.yaml");
    std::fs::write(&profile, SIM_TIME_PROFILE).unwrap();
    let recording = tmp.path().join("sim_time.mcap");
    let clock = peer("clock.py", domain, 60, &[]);
    let robot = fake_robot(domain, 25, true);
    // Nav2 reaches the TwistStamped base only through the bridge's relay.
    let nav2 = nav2_server_with(domain, 60, &[("NAV2_CMD_TOPIC", "/cmd_vel_nav")]);
    let mut command = ros_command(common::exe(), domain);
    command
        .args(["session", "--robot", profile.to_str().unwrap(), "--record"])
        .arg(&recording)
        .stderr(std::process::Stdio::inherit());
    let mut session = RosSession(
        codeact::executor::client::SessionClient::start(command).expect("codeact session starts"),
    );
    // The clock peer's time, seen by the code: seconds after 500, not the epoch.
    assert_result(
        &mut session,
        "import time\ntime.sleep(0.5)\n500 < get_scan().stamp < 600",
        "True",
    );
    assert_result(&mut session, "drive(0.1, 0.0, 1.0)\n'driven'", "'driven'");
    assert_result(&mut session, "p = move_to(0.5, 0.0)\nround(p.x, 1)", "0.5");
    drop(session);

    // The robot's commands: stamped with the clock topic's time.
    let report = robot_report(robot);
    let stamps: Vec<f64> = report["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h[1].as_f64().unwrap())
        .collect();
    assert!(!stamps.is_empty(), "{report}");
    assert!(
        stamps.iter().all(|s| (500.0..600.0).contains(s)),
        "command stamps follow /clock: {stamps:?}"
    );
    // Nav2's goal: stamped likewise.
    let nav = events_of(nav2);
    let goal = nav.iter().find(|e| e["event"] == "accepted").unwrap();
    let stamp = goal["stamp"].as_f64().unwrap();
    assert!((500.0..600.0).contains(&stamp), "goal stamp: {goal}");
    let _ = events_of(clock);
    // The recording: log times in the clock topic's time.
    let read = common::record_reader("read_cut.py", &[], &recording);
    let times = &read["times"]["/pose"];
    for t in times.as_array().unwrap() {
        let t = t.as_f64().unwrap() * 1e-9;
        assert!((500.0..600.0).contains(&t), "recorded poses: {read}");
    }
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}

#[test]
fn the_repl_clears_the_e_stop_for_the_person_at_it() {
    use std::io::{BufRead, Write};
    let domain = domain(8);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("fake.yaml");
    std::fs::write(&profile, FAKE_PROFILE).unwrap();
    let robot = fake_robot(domain, 40, false);
    let mut repl = ros_command(common::exe(), domain)
        .args(["repl", "--robot", profile.to_str().unwrap(), "--no-library"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = repl.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(repl.stdout.take().unwrap());
    let mut seen = String::new();
    let mut read_until = |word: &str| {
        while !seen.contains(word) {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "{seen}");
            seen.push_str(&line);
        }
    };
    stdin.write_all(b"kept = 41\nprint('ready')\n").unwrap();
    read_until("ready");
    person(domain, &["press", "1.0"]);
    stdin
        .write_all(
            b"try:\n    drive(0.1, 0.0, 0.5)\nexcept EStopped as e:\n    print('latched:', e)\n\n",
        )
        .unwrap();
    read_until("latched:");
    stdin
        .write_all(b":clear-e-stop\ndrive(0.1, 0.0, 0.5)\nprint('moved', kept + 1)\n")
        .unwrap();
    read_until("moved 42");
    drop(stdin);
    let out = repl.wait_with_output().unwrap();
    let said = format!("{seen}{}", String::from_utf8_lossy(&out.stdout));
    assert!(said.contains("e-stop cleared"), "{said}");
    assert!(
        said.contains("/codeact/clear_e_stop"),
        "the latch names the way out: {said}"
    );
    let _ = events_of(robot);
}

/// The fake robot with a gripper, its detections, and declared service and
/// topic skills on the Fibonacci server's services and topic; one of them
/// declared as moving nothing.
const LATCHED_PROFILE: &str = "name: latched
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan, detections: /detections}
services: {gripper: /gripper}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0, reach: 0.6}
ros_access:
  allow: [/from_code, /fibonacci_server/light]
ros_skills:
  - name: light
    doc: Switch the robot's light.
    service: /fibonacci_server/light
    type: std_srvs/srv/SetBool
    params:
      - {name: on, type: bool, field: data}
    returns: message
  - name: show_text
    doc: Show a text on the robot's screen.
    topic: /screen_text
    type: std_msgs/msg/String
    params:
      - {name: text, type: str, field: data}
  - name: ping
    doc: Ask the robot whether it is there.
    service: /fibonacci_server/ping
    type: std_srvs/srv/Trigger
    returns: message
    moves: false
";

#[test]
fn while_latched_no_service_message_or_gripper_command_reaches_the_robot() {
    let domain = domain(4);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("latched.yaml");
    std::fs::write(&profile, LATCHED_PROFILE).unwrap();
    let robot = fake_robot_with(domain, 25, &[("FAKE_GRIPPER", "1")]);
    let server = fibonacci_server_with(domain, 25, &[("FIB_TRACE", "1")]);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);
    // Both peers are up and discovered before the e-stop.
    assert_result(&mut session, "ping()", "'pong'");
    assert_result(
        &mut session,
        "import time\nwhile not detect_objects(): time.sleep(0.1)\n[o.name for o in detect_objects()]",
        "['cup']",
    );

    person(domain, &["press", "1.0"]);
    for code in [
        "light(True)",
        "show_text('latched')",
        "ros_publish('/from_code', {'data': 'latched'}, type='std_msgs/msg/String')",
        "ros_call('/fibonacci_server/light', 'std_srvs/srv/SetBool', {'data': True})",
        "pick('cup')",
    ] {
        let error = error_of(&mut session, code);
        assert_eq!(error.type_name, "EStopped", "{code}: {}", error.traceback);
        assert!(
            error.message.contains("nothing was sent"),
            "{code}: {}",
            error.message
        );
    }
    // Declared as moving nothing, it still works.
    assert_result(&mut session, "ping()", "'pong'");

    // Cleared by a person: each path reaches its peer again.
    person(domain, &["clear", "/codeact"]).unwrap();
    assert_result(&mut session, "light(True)", "'light on'");
    assert_result(&mut session, "show_text('cleared')\n'shown'", "'shown'");
    assert_result(
        &mut session,
        "ros_publish('/from_code', {'data': 'cleared'}, type='std_msgs/msg/String')\n'sent'",
        "'sent'",
    );
    assert_result(&mut session, "pick('cup')\nholding()", "'cup'");
    std::thread::sleep(Duration::from_millis(500));
    drop(session);

    let events = events_of(server);
    let seen: Vec<String> = events
        .iter()
        .map(|e| match e["event"].as_str().unwrap() {
            "heard" => format!("heard {}", e["text"].as_str().unwrap()),
            "light" => format!("light {}", e["data"]),
            other => other.to_owned(),
        })
        .collect();
    assert_eq!(
        seen,
        ["ping", "ping", "light true", "heard cleared"],
        "the server saw only what was sent before the e-stop or after its clearing: {events:?}"
    );
    let report = robot_report(robot);
    assert_eq!(report["heard"], json!(["cleared"]), "{report}");
    assert_eq!(report["gripper"], json!([true]), "{report}");
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}
