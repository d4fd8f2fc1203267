//! The ROS 2 side against real peers (feature `ros`; run by scripts/test.sh
//! after scripts/ros-setup.sh): `codeact sim --ros` driven by rclpy, the ROS
//! backend driving an rclpy robot and the simulator, `codeact node --ros`
//! called by an rclpy client with the generated codeact_interfaces types.
//! DDS stays on loopback (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST, checked
//! with tcpdump) and each test has its own ROS_DOMAIN_ID. The recording test
//! reads MCAP with the Python reader of scripts/record-setup.sh
//! (CODEACT_RECORD_PYTHON, which scripts/test.sh sets).
#![cfg(feature = "ros")]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use codeact::executor::client::SessionClient;
use common::mock_llm::{MockLlm, Step};
use common::ros::*;
use serde_json::{json, Value as Json};

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

fn spawn_sim(world: &str, domain: u32) -> Child {
    ros_command(common::exe(), domain)
        .args(["sim", "--ros", "--world", world, "--seconds", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("codeact sim starts")
}

#[test]
fn the_ros_backend_drives_the_simulator_to_a_goal_and_survives_its_death() {
    let domain = domain(0);
    let capture = Capture::start(domain);
    let mut sim = spawn_sim("warehouse", domain);
    let mut session = RosSession::start("sim", domain);
    // Behind shelf A1 from the start: the planner must go around it, on /odom, /scan and /map.
    let obs = session.execute(
        "p = move_to(3.0, 3.75)\nprint(round(p.x, 2), round(p.y, 2))\nprint(len(get_scan().ranges), get_battery().percent > 50)\nshow(get_camera_image(160, 120), 'over ROS')",
        90.0,
    );
    assert_eq!(obs["status"], "ok", "{}", obs["text"]);
    let text = obs["text"].as_str().unwrap();
    // The simulator's camera over /camera/image_raw, as the sim profile reads it.
    assert!(text.contains("[picture 1: PNG 160x120"), "{text}");
    let xy = first_line_numbers(&obs);
    assert!(
        (xy[0] - 3.0).hypot(xy[1] - 3.75) < 0.1,
        "did not reach the goal: {text}"
    );
    assert!(text.contains("360 True"), "{text}");

    // The simulator dies in the middle of a drive: a clear error, and the session lives on.
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(2));
        let _ = sim.kill();
        let _ = sim.wait();
    });
    let obs = session.execute("drive(0.3, 0.0, 30.0)", 60.0);
    killer.join().unwrap();
    assert_eq!(obs["status"], "error", "{}", obs["text"]);
    assert_eq!(obs["error"]["type"], "RobotError", "{}", obs["text"]);
    let message = obs["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("odometry on /odom is") && message.contains("stale data"),
        "{message}"
    );
    assert_eq!(obs["safe_stop"], true);
    let obs = session.execute("print(6 * 7)", 10.0);
    assert_eq!(obs["status"], "ok");
    assert!(obs["text"].as_str().unwrap().starts_with("42"));
    let leaked = capture.finish();
    assert!(leaked.is_empty(), "DDS packets left loopback: {leaked:?}");
}

#[test]
fn a_fleet_world_is_served_under_namespaces_and_driven_as_a_fleet() {
    let domain = domain(12);
    let mut sim = spawn_sim("warehouse_duo", domain);
    let mut session = RosSession::start("sim_duo", domain);
    // alpha starts at (1, 1) and beta at (1, 19): each moves 1 m along the
    // aisle, at once, each on its own topics.
    let obs = session.execute(
        "a = alpha.start('move_to', 1.0, 2.0)
b = beta.start('move_to', 1.0, 18.0)
pa, pb = together(a, b)
print(round(pa.x, 1), round(pa.y, 1), round(pb.x, 1), round(pb.y, 1))
print(move_to(1.5, 2.0).y < 5, round(beta.get_pose().y))",
        90.0,
    );
    assert_eq!(obs["status"], "ok", "{}", obs["text"]);
    let text = obs["text"].as_str().unwrap();
    assert!(text.starts_with("1.0 2.0 1.0 18.0\nTrue 18"), "{text}");
    drop(session);

    // Rehearsed on a twin of both robots: a goal inside a shelf for alpha
    // keeps the whole action from running, so beta does not move either.
    let where_ =
        "print([(round(r.get_pose().x, 1), round(r.get_pose().y, 1)) for r in (alpha, beta)])";
    let mut session = RosSession::start_args("sim_duo", domain, &[], &["--preview", "gate"]);
    let before = session.execute(where_, 30.0);
    let obs = session.execute(
        "together(alpha.start('move_to', 3.0, 2.75), beta.start('move_to', 3.0, 18.0))",
        60.0,
    );
    assert_eq!(obs["error"]["type"], "PreviewRefused", "{}", obs["text"]);
    let refused = obs["text"].as_str().unwrap();
    assert!(
        refused.contains("would move alpha from") && refused.contains("and beta from"),
        "{refused}"
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    let after = session.execute(where_, 30.0);
    assert_eq!(
        before["output"], after["output"],
        "neither robot moved: {refused}"
    );
    let _ = sim.kill();
    let _ = sim.wait();
}

#[test]
fn the_ros_backend_drives_an_rclpy_robot_within_its_clamps() {
    let domain = domain(1);
    let capture = Capture::start(domain);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("fake.yaml");
    std::fs::write(&profile, FAKE_PROFILE).unwrap();
    let robot = fake_robot(domain, 25, false);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);
    let code = r#"
print(ros_read('/chatter', timeout=10.0)['data'])
# A type not built into this node, read through its type support loaded now.
print('robot lifecycle', ros_read('/robot_lifecycle', timeout=10.0))
print('changed', ros_call('/change_state', 'lifecycle_msgs/srv/ChangeState', {'transition': {'id': 3, 'label': 'activate'}}, 10.0))
try:
    ros_call('/change_state', 'lifecycle_msgs/srv/ChangeState', {'transition': {'name': 'x'}}, 10.0)
except ValueError as e:
    print('bad request:', e)
print('odom x', ros_read('/odom')['pose']['pose']['position']['x'])
# Allowed by this profile, so it goes through the safety governor: clamped, and stopped by the watchdog.
import time
ros_publish('/cmd_vel', {'linear': {'x': 5.0}, 'angular': {'z': -9.0}})
time.sleep(1.5)
try:
    ros_publish('/e_stop', {'data': False})
except RobotError as e:
    print('refused:', e)
ros_publish('/from_code', {'data': 'hi robot'}, type='std_msgs/msg/String')
# lifecycle_msgs is not built into this node: published through its type
# support loaded now (until the robot has surely discovered the publisher).
for _ in range(30):
    ros_publish('/lifecycle_state', {'id': 3, 'label': 'active'}, type='lifecycle_msgs/msg/State')
    time.sleep(0.1)
try:
    ros_publish('/lifecycle_state', {'id': 'three'}, type='lifecycle_msgs/msg/State')
except ValueError as e:
    print('bad state:', e)
print('listed', any(t['name'] == '/odom' and t['allowed'] for t in ros_topics()))
p = drive(2.0, 5.0, 2.0)
print('drove to', round(p.x, 2))
"#;
    let obs = session.execute(code, 60.0);
    let text = obs["text"].as_str().unwrap().to_owned();
    drop(session);
    let out = robot.wait_with_output().unwrap();
    let leaked = capture.finish();
    assert_eq!(obs["status"], "ok", "{text}");
    assert!(text.contains("hello from the robot"), "{text}");
    assert!(
        text.contains("robot lifecycle {'id': 3, 'label': 'active'}"),
        "{text}"
    );
    assert!(text.contains("changed {'success': True}"), "{text}");
    assert!(text.contains("bad request: /change_state: the request does not fit lifecycle_msgs/srv/ChangeState: transition.name: no such field; the fields are id, label"), "{text}");
    assert!(text.contains("odom x 0.0"), "{text}");
    assert!(
        text.contains("refused: /e_stop is safety-relevant"),
        "{text}"
    );
    assert!(text.contains("listed True"), "{text}");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["heard"], json!(["hi robot"]), "{report}");
    let states = report["heard_states"].as_array().unwrap();
    assert!(
        !states.is_empty() && states.iter().all(|s| s == &json!([3, "active"])),
        "{report}"
    );
    assert!(text.contains("bad state: the message does not fit /lifecycle_state's type lifecycle_msgs/msg/State: id: expected an integer 0 to 255, got \"three\""), "{text}");
    let cmds = commands_of(&report);
    assert!(cmds.len() > 20, "{report}");
    for &(_, v, w) in &cmds {
        assert!(
            v.abs() <= 0.3 + 1e-9 && w.abs() <= 1.0 + 1e-9,
            "over the limits: {v} {w}"
        );
    }
    // Two bursts (the published command, then drive), with the watchdog's zeros between.
    let moving: Vec<bool> = cmds.iter().map(|c| c.1 != 0.0 || c.2 != 0.0).collect();
    let bursts = moving.windows(2).filter(|w| !w[0] && w[1]).count() + usize::from(moving[0]);
    assert_eq!(bursts, 2, "{report}");
    // Speeds ramp at the acceleration limits: reaching 0.3 m/s at 0.5 m/s² takes 0.6 s.
    let first = cmds.iter().find(|c| c.1 > 0.0).unwrap().0;
    let top = cmds.iter().find(|c| c.1 >= 0.3 - 1e-9).unwrap().0;
    assert!(
        top - first >= 0.45,
        "accelerated too fast: {} s",
        top - first
    );
    assert!(text.contains("drove to"), "{text}");
    assert!(leaked.is_empty(), "DDS packets left loopback: {leaked:?}");
}

#[test]
fn an_rclpy_client_uses_the_node_execute_e_stop_and_run_task() {
    let domain = domain(2);
    let capture = Capture::start(domain);
    let mut sim = spawn_sim("small_room", domain);
    let mock = MockLlm::start(vec![
        Step::Reply(
            "Let me look.\n```python\np = get_pose()\nprint('at', round(p.x, 1), round(p.y, 1))\ndone('I am at the start')\n```",
        ),
        Step::Reply("Driving.\n```python\ndrive(0.3, 0.0, 30.0)\n```"),
    ]);
    let mut node = ros_command(common::exe(), domain)
        .args([
            "node",
            "--ros",
            "--robot",
            "sim",
            "--llm",
            "openai:mock",
            "--base-url",
        ])
        .arg(format!("http://127.0.0.1:{}/v1", mock.port))
        .env("OPENAI_API_KEY", "sk-test")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("codeact node starts");
    let client = ros_command(ros_python(), domain)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/ros/node_client.py"
        ))
        .args(["--task", "say where you are", "--cancel-task"])
        .output()
        .expect("the rclpy client runs");
    let _ = node.kill();
    let _ = sim.kill();
    let _ = (node.wait(), sim.wait());
    let leaked = capture.finish();
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    let r: Json = serde_json::from_slice(&client.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&client.stdout)));
    assert_eq!(r["first"]["status"], "ok", "{r}");
    assert!(
        r["first"]["output"]
            .as_str()
            .unwrap()
            .starts_with("Pose(x="),
        "{r}"
    );
    assert_eq!(r["first"]["skills"], json!(["get_pose"]));
    assert_eq!(r["second"]["result"], "42", "variables persist: {r}");
    assert_eq!(r["error"]["type"], "ZeroDivisionError");
    // A timeout that is no time limit is refused, not replaced by the default.
    assert_eq!(
        r["picture"],
        json!({"status": "ok", "formats": ["png"], "captions": ["black"], "png": [true]}),
        "a shown picture in the Execute result"
    );
    let bad = &r["bad_timeout"];
    assert_eq!(
        (bad["status"].as_str(), bad["type"].as_str()),
        (Some("error"), Some("ValueError")),
        "{bad}"
    );
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("0 (the node's default)"),
        "{bad}"
    );
    assert_eq!(bad["output"], "");
    assert!(r["error"]["traceback"].as_str().unwrap().contains("1 / 0"));
    let stop = &r["stops"][0];
    // The e-stop interrupts the action; the skill may see it first and raise EStopped.
    assert!(
        stop["type"] == "EStopped" || stop["type"] == "KeyboardInterrupt",
        "{r}"
    );
    assert_eq!(stop["safe_stop"], true);
    assert_eq!(stop["while_latched"], "EStopped", "the e-stop latches: {r}");
    assert_eq!(stop["cleared"], "e-stop cleared");
    assert_eq!(
        r["estop_ms"].as_array().unwrap().len(),
        1,
        "a zero command followed the e-stop: {r}"
    );
    assert_eq!(r["after"]["status"], "ok");
    let kinds: Vec<&str> = r["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o[1].as_str().unwrap())
        .collect();
    assert!(
        kinds.starts_with(&["started", "stdout", "finished"]),
        "{kinds:?}"
    );
    let task = &r["task"];
    assert_eq!(task["accepted"], true);
    assert_eq!(task["success"], true, "{task}");
    assert_eq!(task["stop_reason"], "done");
    assert_eq!(task["summary"], "I am at the start");
    assert_eq!(task["turns"], 1);
    let feedback = &task["feedback"][0];
    assert!(
        feedback["code"].as_str().unwrap().contains("get_pose()"),
        "{task}"
    );
    assert!(
        feedback["observation"]
            .as_str()
            .unwrap()
            .contains("at 0.8 0.8"),
        "{task}"
    );
    // Cancelling a goal stops the loop and the robot (GoalStatus 5: CANCELED).
    let cancel = &r["cancel"];
    assert_eq!(cancel["moving_before"], true, "{r}");
    assert_eq!(cancel["status"], 5, "{r}");
    assert_eq!(cancel["stop_reason"], "cancelled", "{r}");
    assert_eq!(cancel["stopped"], true, "{r}");
    assert_eq!(mock.seen().len(), 2);
    assert!(leaked.is_empty(), "DDS packets left loopback: {leaked:?}");
}

/// The numbers the action printed on its first line.
fn first_line_numbers(obs: &Json) -> Vec<f64> {
    let first = obs["text"].as_str().unwrap().lines().next().unwrap();
    first
        .split_whitespace()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("not numbers: {first}")))
        .collect()
}

/// Asserts an observation ended with exception `kind` and its text has `words`.
fn assert_failed(obs: &Json, kind: &str, words: &str) {
    assert_eq!(obs["error"]["type"], kind, "{}", obs["text"]);
    assert!(
        obs["text"].as_str().unwrap().contains(words),
        "{}",
        obs["text"]
    );
}

#[test]
fn a_robot_stopped_at_its_geofence_can_turn_and_drive_back_inside() {
    let domain = domain(3);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("fenced.yaml");
    let sim_profile = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("launch/profiles/sim.yaml"),
    )
    .unwrap();
    // Around the warehouse's start (1, 1): 0.3 to 2.5 in x and y.
    let fenced = sim_profile.replace(
        "safety:\n",
        "safety:\n  geofence: [[0.3, 0.3], [2.5, 0.3], [2.5, 2.3], [0.3, 2.3]]\n",
    );
    std::fs::write(&profile, fenced).unwrap();
    let mut sim = spawn_sim("warehouse", domain);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);
    // Towards the fence at x = 2.5: stopped at its edge.
    let obs = session.execute("drive(0.5, 0.0, 8.0)", 30.0);
    assert_failed(&obs, "Blocked", "geofence");
    // At once, without waiting for the governor: turning and driving back inside work.
    let obs = session.execute(
        "p = rotate(math.pi)\nq = drive(0.3, 0.0, 1.0)\nwait(1.0)\nr = get_pose()\nprint(round(p.x, 3), round(q.x, 3), round(abs(r.x - q.x) + abs(r.y - q.y), 2))",
        30.0,
    );
    assert_eq!(obs["status"], "ok", "{}", obs["text"]);
    let xs = first_line_numbers(&obs);
    // 0.3 m/s for 1 s, less the ramp up and down: about 0.25 m back.
    assert!(xs[1] < xs[0] - 0.15, "drove back inside: {xs:?}");
    // drive returned at rest: where it said it was, the robot stayed.
    assert_eq!(xs[2], 0.0, "moved on after drive returned: {xs:?}");
    // A goal outside the fence is refused before moving; one inside is reached.
    let obs = session.execute("move_to(4.5, 1.0)", 30.0);
    assert_failed(&obs, "Unreachable", "geofence");
    let obs = session.execute(
        "p = move_to(2.2, 2.0)\nprint(round(p.x, 1), round(p.y, 1))",
        60.0,
    );
    assert_eq!(obs["status"], "ok", "{}", obs["text"]);
    assert!(
        obs["text"].as_str().unwrap().starts_with("2.2 2"),
        "{}",
        obs["text"]
    );
    let _ = sim.kill();
    let _ = sim.wait();
}

#[test]
fn the_ros_binary_starts_without_the_ros_environment() {
    // Built with `source .ros/env.sh`, run without it: the library paths are in the binary.
    let mut c = ros_command(common::exe(), domain(4));
    for var in [
        "LD_LIBRARY_PATH",
        "AMENT_PREFIX_PATH",
        "CMAKE_PREFIX_PATH",
        "PYTHONPATH",
        "ROS_DISTRO",
    ] {
        c.env_remove(var);
    }
    let out = c
        .args(["sim", "--ros", "--world", "small_room", "--seconds", "1"])
        .output()
        .expect("codeact runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stderr) + String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("on ROS 2"), "{said}");
}

#[test]
fn codeact_mcp_on_a_ros_robot_marks_execute_destructive_and_drives_it() {
    let domain = domain(5);
    let mut sim = spawn_sim("small_room", domain);
    let mut command = ros_command(common::exe(), domain);
    command.args(["mcp", "--robot", "sim"]);
    let mut server = common::JsonLines::spawn(command);
    server.send(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}})
        .to_string(),
    );
    assert_eq!(server.next()["id"], 1);
    server.send(r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#);
    server.send(r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/list"}"#);
    let tools = server.next();
    let execute = &tools["result"]["tools"][0];
    assert_eq!(execute["name"], "execute");
    assert_eq!(
        execute["annotations"]["destructiveHint"], true,
        "a real robot's execute asks the person first: {execute}"
    );
    server.send(
        &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "execute", "arguments": {"code": "drive(0.2, 0.0, 1.0)\np = get_pose()\nround(p.x, 1) > 0.9"}}})
        .to_string(),
    );
    let done = server.next();
    let result = &done["result"]["structuredContent"];
    assert_eq!(result["status"], "ok", "{done}");
    assert_eq!(result["result"], "True", "{done}");
    assert!(server.close().success());
    let _ = sim.kill();
    let _ = sim.wait();
}

#[test]
fn a_profile_camera_topic_gives_pictures_and_a_stale_one_fails() {
    let domain = domain(6);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("camera.yaml");
    std::fs::write(
        &profile,
        "name: camera
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan, camera: /camera/image_raw}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
ros_access:
  allow: [/camera_off]
",
    )
    .unwrap();
    let robot = fake_robot(domain, 20, false);
    let mut session = RosSession::start(profile.to_str().unwrap(), domain);
    let obs = session.execute(
        "import time\nfor _ in range(50):\n    try:\n        png = get_camera_image(32, 24)\n        break\n    except RobotError:\n        time.sleep(0.1)\nshow(png, 'the robot camera')",
        30.0,
    );
    assert_eq!(obs["status"], "ok", "{}", obs["text"]);
    let data = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        obs["images"][0]["data"].as_str().unwrap(),
    )
    .unwrap();
    let mut reader = png::Decoder::new(std::io::Cursor::new(data))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (32, 24));
    let px = |x: usize, y: usize| &buf[(y * 32 + x) * 3..(y * 32 + x) * 3 + 3];
    assert_eq!(px(2, 12), [255, 0, 0], "bgr8 read as bgr: red on the left");
    assert_eq!(px(29, 12), [0, 0, 255], "blue on the right");

    let obs = session.execute(
        "ros_publish('/camera_off', {'data': 'off'}, type='std_msgs/msg/String')\nimport time\ntime.sleep(2.5)\nget_camera_image()",
        30.0,
    );
    drop(session);
    let _ = robot.wait_with_output();
    let text = obs["text"].as_str().unwrap();
    assert_eq!(obs["status"], "error", "{text}");
    assert!(
        text.contains("the camera image on /camera/image_raw is") && text.contains("s old"),
        "the same stale-data error as odometry: {text}"
    );
}

#[test]
fn a_ros_robot_and_the_node_are_recorded_as_mcap() {
    let domain = domain(7);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("fake.yaml");
    std::fs::write(&profile, FAKE_PROFILE).unwrap();
    let robot = fake_robot(domain, 30, false);

    // A session on the robot.
    let file = tmp.path().join("session.mcap");
    let mut command = ros_command(common::exe(), domain);
    command
        .args([
            "session",
            "--robot",
            profile.to_str().unwrap(),
            "--record",
            file.to_str().unwrap(),
        ])
        .stderr(Stdio::inherit());
    let mut session = RosSession(SessionClient::start(command).expect("codeact session starts"));
    let obs = session.execute("p = drive(0.2, 0.0, 2.0)\nprint(p.x)", 30.0);
    assert_eq!(obs["status"], "ok", "{}", obs["text"]);
    drop(session);
    let r = common::read_recording(&file);
    assert_eq!(r["channels"]["/code"]["count"], 1, "{}", r["channels"]);
    assert!(
        r["channels"]["/pose"]["count"].as_u64().unwrap() >= 5,
        "{}",
        r["channels"]
    );
    assert!(r["channels"]["/scan"]["count"].as_u64().unwrap() >= 1);
    let cmd = r["cmd_vel"].as_array().unwrap();
    assert!(
        cmd.iter().any(|c| c["linear"].as_f64().unwrap() > 0.1),
        "{cmd:?}"
    );
    assert_eq!(cmd.last().unwrap(), &json!({"linear": 0.0, "angular": 0.0}));
    let last = r["poses"].as_array().unwrap().last().unwrap()["x"]
        .as_f64()
        .unwrap();
    assert!(last > 0.2, "the robot drove about 0.4 m: {last}");
    assert!(r["in_order"].as_bool().unwrap());
    // In ROS 2's own messages (every one decoded by mcap-ros2-support), the
    // pose where the robot's odometry put it, the camera's frame in the tf
    // tree, and what made the file.
    for (topic, schema) in [
        ("/pose", "geometry_msgs/msg/PoseStamped"),
        ("/tf", "tf2_msgs/msg/TFMessage"),
        ("/tf_static", "tf2_msgs/msg/TFMessage"),
        ("/scan", "sensor_msgs/msg/LaserScan"),
        ("/cmd_vel", "geometry_msgs/msg/Twist"),
        ("/code", "codeact_interfaces/msg/ActionOutput"),
    ] {
        assert_eq!(r["channels"][topic]["schema"], schema, "{topic}");
        assert_eq!(r["channels"][topic]["encoding"], "cdr", "{topic}");
    }
    let odometry: f64 = obs["text"]
        .as_str()
        .unwrap()
        .lines()
        .find_map(|l| l.trim().parse().ok())
        .expect("the printed x");
    // The skill gives millimetres.
    assert!(
        (last - odometry).abs() <= 5e-4 + 1e-9,
        "recorded {last}, odometry {odometry}"
    );
    let frames = r["frames"].as_array().unwrap();
    assert!(
        frames.contains(&json!(["base_link", "camera"])),
        "{frames:?}"
    );
    assert_eq!(
        r["metadata"]["codeact"]["format"], "ros2",
        "{}",
        r["metadata"]
    );
    assert!(r["metadata"]["codeact"]["robot"]
        .as_str()
        .unwrap()
        .contains("ROS 2 robot"));

    // The node, stopped by SIGTERM, finishes its file.
    let node_file = tmp.path().join("node.mcap");
    let node = ros_command(common::exe(), domain)
        .args([
            "node",
            "--ros",
            "--robot",
            profile.to_str().unwrap(),
            "--name",
            "rec",
        ])
        .args(["--record", node_file.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut node = node;
    let mut lines = BufReader::new(node.stderr.take().unwrap()).lines();
    let mut said = String::new();
    while !said.contains("serving") {
        said = lines.next().expect("the node says it serves").unwrap();
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(node.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = node.wait().unwrap();
    assert!(status.success(), "{status:?}: {rest:?}");
    let r = common::read_recording(&node_file);
    assert_eq!(
        r["channels"]["/pose"]["count"], 2,
        "start and end: {}",
        r["channels"]
    );
    // Who could call the node is in the file.
    assert_eq!(
        r["metadata"]["codeact.node"]["network"], "discovery on this machine only",
        "{}",
        r["metadata"]
    );
    drop(robot);
}

#[test]
fn a_twist_stamped_robot_is_driven_stamped_and_a_mismatch_is_reported_at_start() {
    let domain = domain(8);
    let tmp = tempfile::tempdir().unwrap();
    let stamped = tmp.path().join("stamped.yaml");
    std::fs::write(
        &stamped,
        FAKE_PROFILE.replace(
            "cmd_vel: /cmd_vel,",
            "cmd_vel: /cmd_vel, cmd_vel_type: twist_stamped,",
        ),
    )
    .unwrap();
    let plain = tmp.path().join("plain.yaml");
    std::fs::write(&plain, FAKE_PROFILE).unwrap();
    let robot = fake_robot(domain, 15, true);

    // A profile that sends plain Twist to this robot is refused at start.
    let out = ros_command(common::exe(), domain)
        .args(["session", "--robot", plain.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("/cmd_vel carries geometry_msgs/msg/TwistStamped")
            && said.contains("cmd_vel_type: twist_stamped"),
        "{said}"
    );

    // The stamped profile drives it, through the same governor.
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut session = RosSession::start(stamped.to_str().unwrap(), domain);
    let obs = session.execute("p = drive(5.0, 0.0, 1.5)\nprint(round(p.x, 1))", 30.0);
    assert_eq!(obs["status"], "ok", "{}", obs["text"]);
    drop(session);
    let out = robot.wait_with_output().unwrap();
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    let cmds = report["cmds"].as_array().unwrap();
    assert!(
        cmds.iter().any(|c| c[1].as_f64().unwrap() > 0.1),
        "{report}"
    );
    assert!(
        cmds.iter().all(|c| c[1].as_f64().unwrap() <= 0.3 + 1e-9),
        "clamped to the profile's 0.3 m/s: {report}"
    );
    let headers = report["headers"].as_array().unwrap();
    assert_eq!(headers.len(), cmds.len());
    for h in headers {
        assert_eq!(h[0], "base_link", "{h}");
        let stamp = h[1].as_f64().unwrap();
        assert!(
            stamp >= started - 1.0 && stamp < started + 60.0,
            "stamped now: {stamp}"
        );
    }
}

/// `node --ros` where discovery reaches other machines: refused without a
/// choice; `--insecure-network` or enforced security let it start and it
/// says which at once. To keep every packet on loopback, these nodes never
/// reach DDS: the choice is made before anything starts, and the robot
/// profile named after it does not exist, so each stops right there.
#[test]
fn the_node_starts_on_a_network_only_as_the_operator_chose() {
    let domain = domain(9).to_string();
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-profile.yaml");
    let node = |extra: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(common::exe());
        c.args(["node", "--ros", "--robot", missing.to_str().unwrap()])
            .args(extra)
            .env("ROS_DOMAIN_ID", &domain)
            .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "SUBNET")
            .env_remove("ROS_SECURITY_ENABLE")
            .env_remove("ROS_SECURITY_STRATEGY");
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let refused = node(&[], &[]);
    assert!(
        refused.contains(
            "ROS discovery reaches beyond this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET)"
        ) && refused.contains("--insecure-network")
            && !refused.contains("no-such-profile"),
        "{refused}"
    );

    let insecure = node(&["--insecure-network"], &[]);
    assert!(
        insecure.contains("--insecure-network: any node that discovery reaches")
            && insecure.contains("no-such-profile"),
        "{insecure}"
    );

    // Enforced security with an enclave in the keystore (its files are
    // placeholders: the handshake itself needs a DDS built with security,
    // which the Python registry's wheels are not).
    let keystore = tmp.path().join("keys");
    let enclave = keystore.join("enclaves/codeact");
    std::fs::create_dir_all(&enclave).unwrap();
    let security = [
        ("ROS_SECURITY_ENABLE", "true"),
        ("ROS_SECURITY_STRATEGY", "Enforce"),
        ("ROS_SECURITY_KEYSTORE", keystore.to_str().unwrap()),
        ("ROS_SECURITY_ENCLAVE_OVERRIDE", "/codeact"),
    ];
    let incomplete = node(&[], &security);
    assert!(
        incomplete.contains("the enclave") && incomplete.contains("lacks cert.pem"),
        "{incomplete}"
    );
    for f in [
        "cert.pem",
        "key.pem",
        "governance.p7s",
        "permissions.p7s",
        "identity_ca.cert.pem",
        "permissions_ca.cert.pem",
    ] {
        std::fs::write(enclave.join(f), "placeholder").unwrap();
    }
    let secured = node(&[], &security);
    assert!(
        secured.contains("DDS security enforced")
            && secured.contains("enclave /codeact")
            && secured.contains("no-such-profile"),
        "{secured}"
    );
}

/// An rclpy peer on /cmd_vel that prints each non-zero command it hears.
const WATCH_CMD_VEL: &str = "import json, sys, time\nimport rclpy\nfrom geometry_msgs.msg import Twist\nrclpy.init()\nn = rclpy.create_node('cmd_vel_watch')\ndef heard(m):\n    if m.linear.x != 0.0 or m.angular.z != 0.0:\n        print(json.dumps({'event': 'moving', 'linear': m.linear.x, 'angular': m.angular.z, 't': time.monotonic()}), flush=True)\nn.create_subscription(Twist, '/cmd_vel', heard, 100)\nend = time.time() + float(sys.argv[1])\nwhile time.time() < end:\n    rclpy.spin_once(n, timeout_sec=0.05)\n";

#[test]
fn preview_gate_on_a_ros_robot_refuses_a_drive_into_a_wall_before_anything_moves() {
    let domain = domain(10);
    let capture = Capture::start(domain);
    let mut sim = spawn_sim("warehouse", domain);
    let watch = ros_command(ros_python(), domain)
        .args(["-c", WATCH_CMD_VEL, "90"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let server = fibonacci_server_with(domain, 90, &[("FIB_TRACE", "1")]);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("sim_light.yaml");
    let base = include_str!("../launch/profiles/sim.yaml");
    std::fs::write(
        &profile,
        // The profile asks for the gate; `ping` moves nothing and may be
        // called for real in a rehearsal.
        format!("{base}\npreview: gate\nros_skills:\n  - name: light\n    doc: Switch the light.\n    service: /fibonacci_server/light\n    type: std_srvs/srv/SetBool\n    params: [{{name: on, type: bool, field: data}}]\n    returns: success\n  - name: ping\n    doc: Is the server up?\n    service: /fibonacci_server/ping\n    type: std_srvs/srv/Trigger\n    returns: message\n    moves: false\n    preview: call\n"),
    )
    .unwrap();
    let mut session = RosSession::start_args(profile.to_str().unwrap(), domain, &[], &[]);
    // The twin is built from /map, /odom and /scan: wait for them.
    let obs = session.execute("get_pose()", 30.0);
    assert_eq!(obs["status"], "ok", "{}", obs["text"]);

    // Backwards towards the wall at x = 0: the third pass reaches it.
    let obs = session.execute(
        "for i in range(3):\n    drive(-0.4, 0.0, 1.0)\n    print('pass', i)",
        60.0,
    );
    let text = obs["text"].as_str().unwrap();
    assert_eq!(obs["error"]["type"], "PreviewRefused", "{text}");
    assert!(text.contains("would hit something"), "{text}");
    assert!(text.contains("[picture 1: PNG"), "{text}");
    // What the robot received meanwhile: nothing that moves it.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (moves, _) = stop_peer(watch);
    assert!(moves.is_empty(), "the robot was sent motion: {moves:?}");

    // A good action passes the gate and runs; the declared service is
    // called once: for real, not in the rehearsal. `ping` is called in both.
    let obs = session.execute(
        "assert ping() == 'pong'\nlight(True)\np = move_to(2.0, 1.0)\n(round(p.x, 1), round(p.y, 1))",
        60.0,
    );
    let text = obs["text"].as_str().unwrap();
    assert_eq!(obs["status"], "ok", "{text}");
    assert_eq!(obs["result"], "(2.0, 1.0)", "{text}");
    assert!(
        text.contains("rehearsal on a twin of the robot passed"),
        "{text}"
    );
    assert!(!text.contains("departed"), "{text}");
    drop(session);
    let (events, stderr) = stop_peer(server);
    let lights = events.iter().filter(|e| e["event"] == "light").count();
    assert_eq!(
        lights, 1,
        "called in the rehearsal too? {events:?}\n{stderr}"
    );
    let pings = events.iter().filter(|e| e["event"] == "ping").count();
    assert_eq!(pings, 2, "in the rehearsal and for real: {events:?}");
    let _ = sim.kill();
    let _ = sim.wait();
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}

/// An rclpy client of the node: calls Execute with each code in argv and
/// prints one JSON line per call, with the node's output messages for it
/// and every non-zero velocity /cmd_vel carried meanwhile.
const EXECUTE_CLIENT: &str = r#"
import json, sys, time
import rclpy
from geometry_msgs.msg import Twist
from codeact_interfaces.msg import ActionOutput
from codeact_interfaces.srv import Execute
rclpy.init()
n = rclpy.create_node('preview_client')
execute = n.create_client(Execute, '/codeact/execute')
outputs, moves = [], []
n.create_subscription(ActionOutput, '/codeact/output', lambda m: outputs.append([m.action, m.kind, m.text]), 100)
n.create_subscription(Twist, '/cmd_vel', lambda m: (m.linear.x or m.angular.z) and moves.append([m.linear.x, m.angular.z]), 100)
assert execute.wait_for_service(timeout_sec=30), 'no /codeact/execute'
for code in sys.argv[1:]:
    del outputs[:], moves[:]
    f = execute.call_async(Execute.Request(code=code, timeout=60.0))
    end = time.time() + 90
    while not f.done() and time.time() < end:
        rclpy.spin_once(n, timeout_sec=0.01)
    r = f.result()
    end = time.time() + 0.5
    while time.time() < end:
        rclpy.spin_once(n, timeout_sec=0.01)
    print(json.dumps({'status': r.status, 'type': r.error_type, 'observation': r.observation, 'outputs': outputs, 'moves': moves}), flush=True)
"#;

#[test]
fn the_node_with_preview_gate_and_a_map_file_says_the_verdict_first_and_refuses_a_drive_into_a_wall(
) {
    let domain = domain(11);
    let capture = Capture::start(domain);
    let mut sim = spawn_sim("small_room", domain);
    // No map topic: the map comes from a file the profile names.
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("sim_file_map.yaml");
    let base = include_str!("../launch/profiles/sim.yaml").replace("  map: /map\n", "");
    std::fs::write(
        &profile,
        format!(
            "{base}\nmap_file: {}/sim/worlds/small_room.yaml\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
    let mut node = ros_command(common::exe(), domain)
        .args(["node", "--ros", "--preview", "gate", "--robot"])
        .arg(&profile)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("codeact node starts");
    let client = ros_command(ros_python(), domain)
        .args(["-c", EXECUTE_CLIENT])
        // The twin needs /map, /odom and /scan: the first call waits for them.
        .args([
            "get_pose()",
            "drive(-0.5, 0.0, 4.0)",
            "drive(0.2, 0.0, 1.0)",
        ])
        .output()
        .expect("the rclpy client runs");
    let _ = node.kill();
    let _ = sim.kill();
    let _ = (node.wait(), sim.wait());
    let stdout = String::from_utf8_lossy(&client.stdout);
    assert!(
        client.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&client.stderr)
    );
    let calls: Vec<Json> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(calls.len(), 3, "{stdout}");
    let into_wall = &calls[1];
    assert_eq!(into_wall["type"], "PreviewRefused", "{into_wall}");
    assert_eq!(into_wall["moves"], json!([]), "the robot was sent motion");
    let kinds: Vec<&str> = into_wall["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o[1].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.first(),
        Some(&"preview"),
        "the verdict first: {into_wall}"
    );
    assert!(
        into_wall["outputs"][0][2]
            .as_str()
            .unwrap()
            .contains("would hit something"),
        "{into_wall}"
    );
    let good = &calls[2];
    assert_eq!(good["status"], "ok", "{good}");
    assert_eq!(good["outputs"][0][1], "preview", "{good}");
    assert!(good["outputs"][0][2].as_str().unwrap().contains("passed"));
    assert!(
        !good["moves"].as_array().unwrap().is_empty(),
        "the passed action ran: {good}"
    );
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}
