//! A robot's own interface package, used without rebuilding codeact
//! (feature `ros`; run by scripts/test.sh after scripts/ros-setup.sh): the
//! test generates `lab_msgs` (a message, a service and an action with nested
//! messages and arrays) with the project's own interface generator
//! (scripts/ros-interface-build.sh), after the codeact binary was built, and
//! puts it on AMENT_PREFIX_PATH only for the processes it starts. Declared
//! skills, `ros_call`, `ros_action`, `ros_publish` and `ros_read` then reach
//! an rclpy peer speaking it; goals of the run-time type are cancelled on
//! interrupt, timeout and e-stop, and none is sent while the e-stop is
//! latched, as the peer reports. DDS checked to stay on loopback.
#![cfg(feature = "ros")]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use codeact::executor::protocol::{Reply, Request};
use codeact::executor::Status;
use common::ros::*;
use serde_json::{json, Value as Json};

const SAMPLE: &str = "std_msgs/Header header
string label
float64[] values
geometry_msgs/Point[] points
uint8[4] code
";

const MEASURE: &str = "string probe
int32 count
float64[3] offset
---
bool ok
Sample[] samples
float64 mean
";

const SWEEP: &str = "geometry_msgs/Point[] waypoints
float64[] dwell
string tag
---
int32 visited
Sample last
---
int32 index
geometry_msgs/Point at
";

const CMAKE: &str = "cmake_minimum_required(VERSION 3.8)
project(lab_msgs)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
find_package(std_msgs REQUIRED)
find_package(geometry_msgs REQUIRED)
rosidl_generate_interfaces(${PROJECT_NAME}
  \"msg/Sample.msg\" \"srv/Measure.srv\" \"action/Sweep.action\"
  DEPENDENCIES std_msgs geometry_msgs)
ament_export_dependencies(rosidl_default_runtime)
ament_package()
";

const PACKAGE: &str = r#"<?xml version="1.0"?>
<package format="3">
  <name>lab_msgs</name>
  <version>0.1.0</version>
  <description>A lab robot's own interfaces, made by the test.</description>
  <maintainer email="lab@example.com">lab</maintainer>
  <license>Apache-2.0</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <depend>std_msgs</depend>
  <depend>geometry_msgs</depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
"#;

const PROFILE: &str = "name: lab
topics: {odom: /odom, cmd_vel: /cmd_vel, scan: /scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
ros_access:
  allow: [/lab/measure, /lab/sweep, /lab/samples, /lab/status]
ros_skills:
  - name: measure
    doc: Take samples with the lab's probe.
    service: /lab/measure
    type: lab_msgs/srv/Measure
    params:
      - {name: probe, type: str}
      - {name: count, type: int, default: 2}
      - {name: offset, type: 'list[float]', default: [0.0, 0.0, 0.0]}
    returns: [samples, mean]
  - name: sweep
    doc: Sweep the probe over the bench, dwelling at each waypoint.
    action: /lab/sweep
    type: lab_msgs/action/Sweep
    params:
      - {name: dwell, type: 'list[float]', unit: s}
      - {name: tag, type: str, default: sweep}
    fixed: {waypoints: [{x: 1.0}, {x: 2.0, y: 0.5}, {x: 3.0, z: -1.0}]}
    returns: [visited, last]
    timeout: 30
  - name: post_sample
    doc: Post a sample to the lab's log.
    topic: /lab/samples
    type: lab_msgs/msg/Sample
    params:
      - {name: label, type: str}
      - {name: values, type: 'list[float]'}
    fixed: {header: {frame_id: bench}, code: [9, 8, 7, 6]}
    moves: false
";

/// Writes lab_msgs' sources under `dir` and builds them into `dir/install`
/// with the project's generator; the install prefix.
fn build_lab_msgs(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src/lab_msgs");
    for (file, text) in [
        ("msg/Sample.msg", SAMPLE),
        ("srv/Measure.srv", MEASURE),
        ("action/Sweep.action", SWEEP),
        ("CMakeLists.txt", CMAKE),
        ("package.xml", PACKAGE),
    ] {
        let path = src.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let install = dir.join("install");
    let log = dir.join("build.log");
    let status = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ros-interface-build.sh"))
        .args([&src, &dir.join("build"), &install])
        .arg(ros_python())
        .arg(&log)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "generating lab_msgs failed:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    install
}

/// The environment a sourced workspace with `install` gives.
fn workspace_env(install: &Path) -> Vec<(&'static str, String)> {
    let python = Command::new(ros_python())
        .args([
            "-c",
            "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
        ])
        .output()
        .unwrap();
    let version = String::from_utf8(python.stdout).unwrap();
    let prepend = |var: &str, path: std::path::PathBuf| {
        let old = std::env::var(var).unwrap_or_default();
        format!("{}:{old}", path.display())
    };
    vec![
        (
            "AMENT_PREFIX_PATH",
            prepend("AMENT_PREFIX_PATH", install.into()),
        ),
        (
            "LD_LIBRARY_PATH",
            prepend("LD_LIBRARY_PATH", install.join("lib")),
        ),
        (
            "PYTHONPATH",
            prepend(
                "PYTHONPATH",
                install.join(format!("lib/python{}/site-packages", version.trim())),
            ),
        ),
    ]
}

/// Runs `code` and returns the JSON its last printed line holds.
fn printed(session: &mut RosSession, code: &str) -> Json {
    let (obs, _) = run_interrupting(session, code, None);
    let text = obs.output_text();
    serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {}", obs.render()))
}

#[test]
fn a_package_made_after_the_build_is_used_by_declared_skills_and_generic_access() {
    let domain = domain(5);
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("lab.yaml");
    std::fs::write(&profile, PROFILE).unwrap();

    // Before the package exists, the profile is refused, naming the type.
    let refused = ros_command(common::exe(), domain)
        .args(["session", "--robot", profile.to_str().unwrap()])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("lab_msgs"),
        "{stderr}"
    );

    let install = build_lab_msgs(tmp.path());
    let env = workspace_env(&install);
    let peer_env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let capture = Capture::start(domain);
    let robot = fake_robot(domain, 90, false);
    let peer = peer("lab_peer.py", domain, 90, &peer_env);
    let mut session = RosSession::start_with(profile.to_str().unwrap(), domain, &env);

    // Declared skills of the run-time types have their signatures.
    session.0.send(&Request::Skills { id: json!(1) }).unwrap();
    let api = loop {
        if let Reply::Skills { api_text, .. } = session.0.recv().unwrap() {
            break api_text;
        }
    };
    for expected in [
        "def measure(probe: str, count: int = 2, offset: list[float] = [0.0, 0.0, 0.0])",
        "def sweep(dwell: list[float], tag: str = 'sweep')",
        "def post_sample(label: str, values: list[float]) -> None:",
    ] {
        assert!(api.contains(expected), "{expected} missing from:\n{api}");
    }

    // A service skill: a request with a fixed array, nested messages back.
    let got = printed(
        &mut session,
        "import json\nr = measure('p', 3, [0.5, 0.25, -1.0])\nprint(json.dumps({'mean': r.mean, 'n': len(r.samples), 's2': r.samples[2]}))",
    );
    assert_eq!(got["mean"], 1.375, "{got}");
    assert_eq!(got["n"], 3);
    assert_eq!(got["s2"]["label"], "p-2");
    assert_eq!(got["s2"]["values"], json!([2.5, 2.25]));
    assert_eq!(
        got["s2"]["points"],
        json!([{"x": 2.0, "y": 4.0, "z": -1.0}])
    );
    assert_eq!(got["s2"]["code"], json!([1, 2, 3, 2]));
    let got = printed(
        &mut session,
        "import json\nprint(json.dumps(ros_call('/lab/measure', 'lab_msgs/srv/Measure', {'probe': 'q', 'count': 1})))",
    );
    assert_eq!(got["ok"], true, "{got}");
    assert_eq!(got["samples"][0]["label"], "q-0");

    // An action skill: fixed nested waypoints, feedback, a nested result.
    let (obs, live) = run_interrupting(
        &mut session,
        "r = sweep([0.05, 0.05, 0.05], 'short')\n(r.visited, r.last['label'], r.last['values'])",
        None,
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("(3, 'short-3', [3.0, 3.5])"),
        "{}",
        obs.render()
    );
    assert!(
        live.contains(r#"sweep feedback: {"at":{"x":3.0,"y":0.0,"z":-1.0},"index":2}"#),
        "{live}"
    );
    // ros_action finds the type on the graph.
    let got = printed(
        &mut session,
        "import json\nprint(json.dumps(ros_action('/lab/sweep', {'dwell': [0.01], 'tag': 'auto', 'waypoints': [{'x': 4.0}]})))",
    );
    assert_eq!(got["visited"], 1, "{got}");
    assert_eq!(got["last"]["label"], "auto-1");

    // Topics both ways.
    let (obs, _) = run_interrupting(
        &mut session,
        "post_sample('hello', [1.5, 2.5])\nros_publish('/lab/samples', {'label': 'raw', 'points': [{'x': 1.0}]}, type='lab_msgs/msg/Sample')\nr = ros_read('/lab/status', timeout=10)\n(r['label'], r['values'], r['points'][0]['z'])",
        None,
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("('status-7', [7.25, 7.5], 0.75)"),
        "{}",
        obs.render()
    );

    // What does not fit the type says where.
    let e = error_of(
        &mut session,
        "ros_action('/lab/sweep', {'dwell': [0.1], 'speed': 1.0})",
    );
    assert!(
        e.message
            .contains("speed: no such field; the fields are waypoints, dwell, tag"),
        "{}",
        e.message
    );
    let e = error_of(
        &mut session,
        "ros_call('/lab/measure', 'lab_msgs/srv/Measure', {'offset': [1.0]})",
    );
    assert!(
        e.message.contains("offset: expected exactly 3 items"),
        "{}",
        e.message
    );

    // Interrupted and timed-out goals are cancelled on the server.
    let (obs, _) = run_interrupting(
        &mut session,
        "sweep([0.2] * 100, 'long')",
        Some("sweep feedback"),
    );
    assert_eq!(obs.status, Status::Interrupted, "{}", obs.render());
    let e = error_of(
        &mut session,
        "ros_action('/lab/sweep', {'dwell': [0.2] * 100, 'tag': 'slow'}, timeout=1.0)",
    );
    assert_eq!(e.type_name, "SkillTimeout", "{}", e.message);

    // The e-stop cancels the running goal; while it is latched nothing is sent.
    let client = &mut session.0;
    let id = client.next_id();
    client
        .send(&Request::Execute {
            id: id.clone(),
            code: "sweep([0.2] * 100, 'estop')".into(),
            timeout: Some(60.0),
        })
        .unwrap();
    let mut pressed = None;
    let obs = loop {
        match client.recv().unwrap() {
            Reply::Output { text, .. } if pressed.is_none() && text.contains("sweep feedback") => {
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
    let error = obs.error.clone().expect("an error");
    assert_eq!(error.type_name, "EStopped", "{}", obs.render());
    assert!(
        error.message.contains("the goal was cancelled"),
        "{}",
        error.message
    );
    for code in [
        "sweep([0.01], 'latched')",
        "ros_action('/lab/sweep', {'dwell': [0.01], 'tag': 'latched'})",
        "measure('latched')",
    ] {
        assert_eq!(error_of(&mut session, code).type_name, "EStopped", "{code}");
    }
    let _ = pressed.map(|mut p| p.wait());

    drop(session);
    let (events, stderr) = stop_peers(peer, robot);
    let tagged = |event: &str, tag: &str| {
        events
            .iter()
            .filter(|e| e["event"] == event && (e["tag"] == tag || e["probe"] == tag))
            .count()
    };
    for tag in ["long", "slow", "estop"] {
        assert_eq!(tagged("canceled", tag), 1, "{tag}: {events:?}\n{stderr}");
        assert_eq!(tagged("done", tag), 0, "{tag}: {events:?}");
    }
    assert_eq!(tagged("done", "short"), 1, "{events:?}");
    assert_eq!(
        tagged("received", "latched"),
        0,
        "sent while latched: {events:?}"
    );
    assert_eq!(
        tagged("measure", "latched"),
        0,
        "sent while latched: {events:?}"
    );
    let short = events
        .iter()
        .find(|e| e["event"] == "received" && e["tag"] == "short");
    assert_eq!(
        short.map(|e| e["waypoints"].clone()),
        Some(json!([[1.0, 0.0, 0.0], [2.0, 0.5, 0.0], [3.0, 0.0, -1.0]]))
    );
    let heard: Vec<&Json> = events.iter().filter(|e| e["event"] == "heard").collect();
    assert_eq!(heard.len(), 2, "{events:?}");
    assert_eq!(
        (
            &heard[0]["label"],
            &heard[0]["values"],
            &heard[0]["frame"],
            &heard[0]["code"]
        ),
        (
            &json!("hello"),
            &json!([1.5, 2.5]),
            &json!("bench"),
            &json!([9, 8, 7, 6])
        )
    );
    assert_eq!(heard[1]["points"], json!([[1.0, 0.0, 0.0]]));
    assert!(capture.finish().is_empty(), "DDS packets left loopback");
}
