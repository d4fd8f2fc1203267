//! `--record FILE.mcap`: episodes recorded for Foxglove, read back with the
//! official Python `mcap` reader and its protobuf decoder (scripts/record-setup.sh;
//! the reader's Python in CODEACT_RECORD_PYTHON): channels, schemas, counts,
//! times in order, and a pose and a scan compared with what the session said.

mod common;

use std::process::{Command, Stdio};

use common::mock_llm::{MockLlm, Step};
use serde_json::{json, Value as Json};

/// Runs `codeact session` with `args`, sending each code as an execute request.
fn session(args: &[&str], codes: &[&str]) -> (Vec<Json>, String) {
    let input: String = codes
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"type": "execute", "id": i + 1, "code": c}).to_string() + "\n")
        .collect();
    let mut child = Command::new(common::exe())
        .arg("session")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let replies = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (replies, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn printed(reply: &Json) -> String {
    reply["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect()
}

/// A session in the small room, recorded into `file` (with `args`): a
/// drive and a camera picture, an action that raises, and the pose and scan
/// the code saw; returns what that last action printed and what
/// tests/record/read.py reads of the file.
fn recorded_drive(file: &std::path::Path, args: &[&str]) -> (Json, Json) {
    let mut all = vec!["--world", "small_room", "--record", file.to_str().unwrap()];
    all.extend_from_slice(args);
    let (replies, stderr) = session(
        &all,
        &[
            "move_to(2.0, 1.5)\nshow(get_camera_image(), 'view')",
            "1/0",
            "import json, math\np = get_pose()\ns = get_scan()\nprint(json.dumps({'pose': [p.x, p.y, p.theta], 'angle_min': s.angle_min, 'ranges': [r if math.isfinite(r) else None for r in s.ranges]}))",
        ],
    );
    assert!(stderr.contains("recording: "), "{stderr}");
    let third = replies
        .iter()
        .find(|r| r["type"] == "observation" && r["id"] == 3)
        .expect("the third action's observation");
    let said: Json = serde_json::from_str(printed(third).trim()).unwrap();
    (said, common::read_recording(file))
}

#[test]
#[ignore = "needs the MCAP reader: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn a_session_is_recorded_with_foxglove_schemas_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("episode.mcap");
    let (said, r) = recorded_drive(&file, &[]);

    let schema = |topic: &str| r["channels"][topic]["schema"].as_str().unwrap_or("none");
    let count = |topic: &str| r["channels"][topic]["count"].as_u64().unwrap_or(0);
    for (topic, name) in [
        ("/map", "foxglove.Grid"),
        ("/pose", "foxglove.PoseInFrame"),
        ("/tf", "foxglove.FrameTransforms"),
        ("/scan", "foxglove.LaserScan"),
        ("/camera/image", "foxglove.CompressedImage"),
        ("/observation/image", "foxglove.CompressedImage"),
        ("/code", "foxglove.Log"),
        ("/observation", "foxglove.Log"),
        ("/cmd_vel", "codeact.VelocityCommand"),
    ] {
        assert_eq!(schema(topic), name, "{topic}: {}", r["channels"]);
    }
    assert_eq!(r["channels"]["/cmd_vel"]["encoding"], "json");
    assert_eq!(r["channels"]["/scan"]["encoding"], "protobuf");
    assert_eq!(count("/map"), 1);
    assert_eq!(count("/code"), 3);
    assert_eq!(count("/observation"), 3);
    assert_eq!(count("/camera/image"), 1);
    assert!(
        count("/pose") >= 20,
        "the drive of about 1.4 m is sampled every 0.05 s: {}",
        count("/pose")
    );
    assert_eq!(count("/tf"), count("/pose"));
    assert!(
        r["in_order"].as_bool().unwrap(),
        "log times in order on every channel"
    );
    assert!(r["library"].as_str().unwrap().starts_with("codeact "));

    // Stamped with the simulation clock, which starts at 0.
    let poses = r["poses"].as_array().unwrap();
    assert_eq!(poses[0]["t"], 0);
    assert_eq!(poses[0]["x"], 0.8, "the world's start pose");
    // The last pose and scan are those the session reported.
    let last = poses.last().unwrap();
    // get_pose() gives millimetres and hundredths of a radian.
    for (i, (key, step)) in [("x", 1e-3), ("y", 1e-3), ("theta", 1e-2)]
        .iter()
        .enumerate()
    {
        let (a, b) = (
            last[key].as_f64().unwrap(),
            said["pose"][i].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= step / 2.0 + 1e-12,
            "{key}: recorded {a}, reported {b}"
        );
    }
    assert_eq!(last["t"], last["stamp"], "message time = header stamp");
    let scan = &r["scans"][0];
    assert_eq!(scan["frame"], "base_link");
    assert_eq!(
        scan["ranges"], said["ranges"],
        "the latest scan as get_scan() gave it"
    );
    assert!(
        (scan["start_angle"].as_f64().unwrap() - said["angle_min"].as_f64().unwrap()).abs() < 1e-12
    );

    let logs = &r["logs"];
    assert_eq!(logs["/code"][1]["message"], "1/0");
    assert_eq!(logs["/code"][1]["line"], 2, "the action number");
    assert_eq!(
        logs["/observation"][0]["level"], 2,
        "INFO for an action that ended well"
    );
    assert_eq!(
        logs["/observation"][1]["level"], 4,
        "ERROR for one that raised"
    );
    assert!(logs["/observation"][1]["message"]
        .as_str()
        .unwrap()
        .contains("ZeroDivisionError"));
    assert_eq!(r["images"]["/camera/image"][0]["png"], true);
    assert_eq!(r["images"]["/observation/image"][0]["format"], "png");
    let grid = &r["grid"];
    assert_eq!(grid["frame"], "map");
    assert!(grid["occupied"].as_u64().unwrap() > 0, "walls in the map");
    let cmd = r["cmd_vel"].as_array().unwrap();
    assert!(cmd.iter().any(|c| c["linear"].as_f64().unwrap() > 0.1));
    assert_eq!(
        cmd.last().unwrap(),
        &json!({"linear": 0.0, "angular": 0.0}),
        "ends at rest"
    );

    // A recording is never overwritten.
    let (replies, stderr) = session(
        &["--world", "small_room", "--record", file.to_str().unwrap()],
        &["1"],
    );
    assert!(replies.is_empty(), "{replies:?}");
    assert!(stderr.contains("already exists"), "{stderr}");
}

#[test]
#[ignore = "needs the MCAP reader: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn every_robot_of_a_fleet_is_recorded_on_its_own_channels() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fleet.mcap");
    let (replies, stderr) = session(
        &["--world", "warehouse_duo", "--record", file.to_str().unwrap()],
        &["a = alpha.start('move_to', 1.0, 2.0)\nb = beta.start('move_to', 3.0, 19.0)\ntogether(a, b)\nshow(beta.get_camera_image(), 'beta')"],
    );
    assert!(stderr.contains("recording: "), "{stderr}");
    assert_eq!(replies.last().unwrap()["status"], "ok", "{replies:?}");
    let r = common::read_recording(&file);
    let count = |topic: &str| r["channels"][topic]["count"].as_u64().unwrap_or(0);
    for topic in [
        "/pose",
        "/scan",
        "/cmd_vel",
        "/beta/pose",
        "/beta/scan",
        "/beta/cmd_vel",
    ] {
        assert!(count(topic) >= 2, "{topic}: {}", r["channels"]);
    }
    assert_eq!(count("/beta/camera/image"), 1, "{}", r["channels"]);
    assert_eq!(count("/camera/image"), 0, "alpha took no picture");
    // Each robot's poses are its own: alpha went up to (1, 2), beta along to (3, 19).
    let last = |topic: &str| {
        r["poses"]
            .as_array()
            .unwrap()
            .iter()
            .rfind(|p| p["topic"] == topic)
            .cloned()
            .unwrap_or_else(|| panic!("no pose on {topic}"))
    };
    let (a, b) = (last("/pose"), last("/beta/pose"));
    let at = |p: &Json| (p["x"].as_f64().unwrap(), p["y"].as_f64().unwrap());
    let ((ax, ay), (bx, by)) = (at(&a), at(&b));
    assert!((ax - 1.0).hypot(ay - 2.0) < 0.1, "alpha at {ax}, {ay}");
    assert!((bx - 3.0).hypot(by - 19.0) < 0.1, "beta at {bx}, {by}");
    // Each robot's frame is placed in the map, its camera on it.
    let frames = r["frames"].to_string();
    for pair in [
        "[\"map\",\"base_link\"]",
        "[\"map\",\"beta/base_link\"]",
        "[\"beta/base_link\",\"beta/camera\"]",
    ] {
        assert!(frames.contains(pair), "{pair} not in {frames}");
    }
    assert_eq!(r["metadata"]["codeact"]["other_robots"], "beta");
}

#[test]
#[ignore = "needs the MCAP reader: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn a_session_is_recorded_as_ros_2_messages_that_the_ros_2_decoder_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ros2.mcap");
    // read.py decodes every message of every channel with mcap-ros2-support.
    let (said, r) = recorded_drive(&file, &["--record-format", "ros2"]);

    let count = |topic: &str| r["channels"][topic]["count"].as_u64().unwrap_or(0);
    for (topic, name) in [
        ("/map", "nav_msgs/msg/OccupancyGrid"),
        ("/pose", "geometry_msgs/msg/PoseStamped"),
        ("/tf", "tf2_msgs/msg/TFMessage"),
        ("/tf_static", "tf2_msgs/msg/TFMessage"),
        ("/scan", "sensor_msgs/msg/LaserScan"),
        ("/cmd_vel", "geometry_msgs/msg/Twist"),
        ("/camera/image", "sensor_msgs/msg/CompressedImage"),
        ("/observation/image", "sensor_msgs/msg/CompressedImage"),
        ("/code", "codeact_interfaces/msg/ActionOutput"),
        ("/observation", "codeact_interfaces/msg/ActionOutput"),
        ("/events", "codeact_interfaces/msg/ActionOutput"),
    ] {
        let channel = &r["channels"][topic];
        assert_eq!(channel["schema"], name, "{topic}: {}", r["channels"]);
        assert_eq!(channel["schema_encoding"], "ros2msg", "{topic}");
        assert_eq!(channel["encoding"], "cdr", "{topic}");
    }
    assert_eq!((count("/map"), count("/tf_static")), (1, 1));
    assert_eq!((count("/code"), count("/observation")), (3, 3));
    assert!(count("/pose") >= 20, "{}", count("/pose"));
    assert_eq!(count("/tf"), count("/pose"));
    assert!(r["in_order"].as_bool().unwrap());

    // Where the robot is, where its camera is.
    let frames = r["frames"].as_array().unwrap();
    assert!(frames.contains(&json!(["map", "base_link"])), "{frames:?}");
    assert!(
        frames.contains(&json!(["base_link", "camera"])),
        "{frames:?}"
    );
    let poses = r["poses"].as_array().unwrap();
    let last = poses.last().unwrap();
    assert_eq!(last["frame"], "map");
    assert_eq!(last["t"], last["stamp"], "message time = header stamp");
    for (i, (key, step)) in [("x", 1e-3), ("y", 1e-3), ("theta", 1e-2)]
        .iter()
        .enumerate()
    {
        let (a, b) = (
            last[key].as_f64().unwrap(),
            said["pose"][i].as_f64().unwrap(),
        );
        assert!(
            (a - b).abs() <= step / 2.0 + 1e-9,
            "{key}: recorded {a}, reported {b}"
        );
    }
    // ROS 2 scans are float32.
    let scan = &r["scans"][0];
    assert_eq!(scan["frame"], "base_link");
    let (recorded, reported) = (
        scan["ranges"].as_array().unwrap(),
        said["ranges"].as_array().unwrap(),
    );
    assert_eq!(recorded.len(), reported.len());
    for (a, b) in recorded.iter().zip(reported) {
        match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}"),
            (a, b) => assert_eq!(a, b),
        }
    }

    let logs = &r["logs"];
    assert_eq!(logs["/code"][1]["message"], "1/0");
    assert_eq!(logs["/code"][1]["line"], 2, "the action number");
    assert_eq!(
        logs["/observation"][1]["name"], "error",
        "the action that raised"
    );
    assert_eq!(r["images"]["/camera/image"][0]["png"], true);
    assert_eq!(r["images"]["/camera/image"][0]["frame"], "camera");
    assert_eq!(r["grid"]["frame"], "map");
    assert!(
        r["grid"]["occupied"].as_u64().unwrap() > 0,
        "walls in the map"
    );
    let cmd = r["cmd_vel"].as_array().unwrap();
    assert!(cmd.iter().any(|c| c["linear"].as_f64().unwrap() > 0.1));
    assert_eq!(cmd.last().unwrap(), &json!({"linear": 0.0, "angular": 0.0}));

    // What made it.
    let made = &r["metadata"]["codeact"];
    assert_eq!(made["format"], "ros2");
    assert_eq!(made["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        made["robot"].as_str().unwrap().contains("small_room"),
        "{made}"
    );
}

#[test]
#[ignore = "needs the MCAP reader: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn a_run_and_its_replay_are_recorded_action_by_action() {
    let mock = MockLlm::start(vec![
        Step::Reply("```python\nprint(detect_objects())\ngo_to('red_cube')\n```"),
        Step::Reply(
            "```python\npick('red_cube')\ngo_to('blue_zone')\nplace()\ndone('placed')\n```",
        ),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("run.mcap");
    let out = Command::new(common::exe())
        .args([
            "run",
            "--world",
            "small_room",
            "--task",
            "red cube to the blue zone",
        ])
        .args([
            "--llm",
            "openai:mock",
            "--base-url",
            &format!("http://127.0.0.1:{}/v1", mock.port),
        ])
        .args(["--runs-dir", tmp.path().join("runs").to_str().unwrap()])
        .args(["--record", file.to_str().unwrap()])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = common::read_recording(&file);
    assert_eq!(
        r["metadata"]["codeact.task"]["model"], "openai:mock",
        "{}",
        r["metadata"]
    );
    let codes: Vec<&str> = r["logs"]["/code"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 2);
    assert!(codes[1].contains("pick('red_cube')"));
    let events: Vec<&str> = r["logs"]["/events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(
        events.iter().any(|e| e.contains("picked red_cube")),
        "{events:?}"
    );

    // The replay of that run, recorded: the same actions, the same path.
    let run_dir = std::fs::read_dir(tmp.path().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let again = tmp.path().join("replay.mcap");
    let out = Command::new(common::exe())
        .args([
            "replay",
            run_dir.to_str().unwrap(),
            "--record",
            again.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let replayed = common::read_recording(&again);
    assert_eq!(replayed["logs"]["/code"], r["logs"]["/code"]);
    assert_eq!(
        replayed["poses"], r["poses"],
        "lockstep: the same poses at the same times"
    );
}

#[test]
#[ignore = "needs the MCAP reader: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn eval_records_each_model_trial_in_its_folder() {
    let mock = MockLlm::answering(std::sync::Arc::new(|_: &Json| {
        Step::Reply("```python\nmove_to(2.0, 2.0)\ndone('moved')\n```")
    }));
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(common::exe())
        .args(["eval", "--tasks", "nav-packing", "--seeds", "2", "--record"])
        .args([
            "--llm",
            "openai:mock",
            "--base-url",
            &format!("http://127.0.0.1:{}/v1", mock.port),
        ])
        .args(["--out", tmp.path().to_str().unwrap()])
        .env("OPENAI_API_KEY", "k")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<_> = std::fs::read_dir(tmp.path().join("trials"))
        .unwrap()
        .map(|d| d.unwrap().path().join("episode.mcap"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    for file in &files {
        let r = common::read_recording(file);
        assert_eq!(r["channels"]["/code"]["count"], 1, "{}", file.display());
        assert!(r["logs"]["/code"][0]["message"]
            .as_str()
            .unwrap()
            .contains("move_to(2.0, 2.0)"));
        assert_eq!(r["channels"]["/map"]["count"], 1);
        // What the trial was: task, world, seed, model.
        let trial = &r["metadata"]["codeact.task"];
        assert_eq!(trial["task"], "nav-packing", "{}", r["metadata"]);
        assert_eq!(trial["model"], "openai:mock");
        assert!(
            ["0", "1"].contains(&trial["seed"].as_str().unwrap()),
            "{trial}"
        );
        assert_eq!(r["metadata"]["codeact"]["format"], "foxglove");
    }
}

/// `codeact session` with `args` (recording), driven request by request.
struct Recording {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    workspace: String,
    next: u64,
}

impl Recording {
    fn start(args: &[&str]) -> Recording {
        let mut child = Command::new(common::exe())
            .arg("session")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let ready = read_reply(&mut stdout);
        let workspace = ready["workspace"].as_str().unwrap().to_owned();
        Recording {
            child,
            stdin,
            stdout,
            workspace,
            next: 1,
        }
    }

    /// Sends `code`; waits for its observation, or only until it prints
    /// `until` when given.
    fn act(&mut self, code: &str, until: Option<&str>) {
        let id = self.next;
        self.next += 1;
        let request = json!({"type": "execute", "id": id, "code": code}).to_string() + "\n";
        std::io::Write::write_all(&mut self.stdin, request.as_bytes()).unwrap();
        loop {
            let reply = read_reply(&mut self.stdout);
            match (reply["type"].as_str(), until) {
                (Some("output"), Some(word)) if reply["text"].as_str().unwrap().contains(word) => {
                    return
                }
                (Some("observation"), _) if reply["id"] == id => return,
                _ => {}
            }
        }
    }

    /// Sends `signal` and waits for the exit; returns its code (or the
    /// signal that ended it, negated).
    fn signal(mut self, signal: nix::sys::signal::Signal) -> (i32, String) {
        let pid = self.child.id();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal).unwrap();
        let status = self.child.wait().unwrap();
        let code = status
            .code()
            .unwrap_or_else(|| -std::os::unix::process::ExitStatusExt::signal(&status).unwrap());
        (code, self.workspace)
    }
}

fn read_reply(stdout: &mut impl std::io::BufRead) -> Json {
    let mut line = String::new();
    assert!(
        stdout.read_line(&mut line).unwrap() > 0,
        "the session ended early"
    );
    serde_json::from_str(&line).unwrap()
}

/// tests/record/read_cut.py on `path`: what a front-to-back reader gets.
fn read_cut(path: &std::path::Path) -> Json {
    common::record_reader("read_cut.py", &[], path)
}

const FOUR_ACTIONS: [&str; 4] = [
    "move_to(1.0, 1.0)",
    "get_scan()",
    "turn(0.5)",
    "print(get_pose())",
];

#[test]
#[ignore = "needs the MCAP reader: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn a_recording_survives_sigint_sigterm_and_sigkill() {
    use nix::sys::signal::Signal;
    let tmp = tempfile::tempdir().unwrap();
    // (signal, an action left running when it comes, the exit code)
    let cases = [
        (Signal::SIGINT, false, 130),
        (Signal::SIGTERM, true, 143),
        (Signal::SIGKILL, false, -9),
        (Signal::SIGKILL, true, -9),
    ];
    for (n, (signal, mid_drive, expected)) in cases.into_iter().enumerate() {
        let file = tmp.path().join(format!("cut-{n}.mcap"));
        let mut session = Recording::start(&[
            "--world",
            "small_room",
            "--realtime",
            "--record",
            file.to_str().unwrap(),
        ]);
        let pid = session.child.id();
        for code in FOUR_ACTIONS {
            session.act(code, None);
        }
        if mid_drive {
            // A long drive, signalled after the robot has driven a while.
            session.act(
                "print('moving', flush=True)\ndrive(0.2, 0.0, 30.0)",
                Some("moving"),
            );
            std::thread::sleep(std::time::Duration::from_millis(2500));
        }
        let (code, workspace) = session.signal(signal);
        let what = format!("{signal:?}{}", if mid_drive { " mid-drive" } else { "" });
        assert_eq!(code, expected, "{what}: exit");
        let read = read_cut(&file);
        let finished: Vec<u64> = (1..=4).collect();
        for topic in ["/code", "/observation"] {
            let actions: Vec<u64> = serde_json::from_value(read["actions"][topic].clone()).unwrap();
            assert_eq!(
                actions.get(..4),
                Some(&finished[..]),
                "{what}: every finished action's {topic} reads back: {read}"
            );
        }
        assert!(
            read["counts"]["/pose"].as_u64().unwrap() >= 4,
            "{what}: {read}"
        );
        if signal == Signal::SIGKILL {
            // `codeact recover` makes it whole: the indexed reader reads it all.
            let whole = tmp.path().join(format!("recovered-{n}.mcap"));
            let out = common::codeact([
                "recover".as_ref(),
                file.as_os_str(),
                "--out".as_ref(),
                whole.as_os_str(),
            ]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.contains("cut short"),
                "{what}: {stderr}"
            );
            let indexed = common::record_reader("read_cut.py", &["--seeking"], &whole);
            assert_eq!(indexed["indexed"], true, "{what}: {indexed}");
            assert_eq!(
                indexed["counts"], read["counts"],
                "{what}: the same messages"
            );
            assert_eq!(indexed["actions"], read["actions"], "{what}");
        }
        if signal != Signal::SIGKILL {
            assert_eq!(read["whole"], true, "{what}: the file was finished: {read}");
            if mid_drive {
                assert_eq!(
                    read["actions"]["/observation"],
                    json!([1, 2, 3, 4, 5]),
                    "{what}: the interrupted drive's observation too: {read}"
                );
            }
            assert!(
                !std::path::Path::new(&workspace).exists(),
                "{what}: the workspace {workspace} was removed"
            );
            assert_eq!(
                common::cgroups_of(pid),
                Vec::<std::path::PathBuf>::new(),
                "{what}: no cgroup left"
            );
        }
    }
}

/// Waits until `child`'s stdout has printed `word`; returns what it printed.
fn read_until(stdout: &mut impl std::io::BufRead, word: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(word) {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            panic!("ended before printing {word:?}: {seen}");
        }
        seen.push_str(&line);
    }
    seen
}

#[test]
#[ignore = "needs the MCAP reader: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn run_and_repl_end_in_order_on_a_signal_with_their_recordings_whole() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();

    // `run`: SIGINT during the model's long drive.
    let mock = MockLlm::start(vec![Step::Reply(
        "```python\nprint('moving', flush=True)\ndrive(0.2, 0.0, 30.0)\n```",
    )]);
    let file = tmp.path().join("run.mcap");
    let mut child = Command::new(common::exe())
        .args([
            "run",
            "--world",
            "small_room",
            "--realtime",
            "--task",
            "drive",
        ])
        .args(["--llm", "openai:mock"])
        .args(["--base-url", &format!("http://127.0.0.1:{}/v1", mock.port)])
        .args(["--runs-dir", tmp.path().join("runs").to_str().unwrap()])
        .args(["--record", file.to_str().unwrap()])
        .env("OPENAI_API_KEY", "k")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    read_until(&mut stdout, "moving");
    std::thread::sleep(std::time::Duration::from_millis(1000));
    kill(Pid::from_raw(pid as i32), Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "run ends with 128 + SIGINT");
    let read = read_cut(&file);
    assert_eq!(read["whole"], true, "{read}");
    assert_eq!(read["actions"]["/observation"], json!([1]), "{read}");
    assert_eq!(common::cgroups_of(pid), Vec::<std::path::PathBuf>::new());
    assert!(
        !std::path::Path::new(&format!("/tmp/codeact-{pid}-0")).exists(),
        "the workspace was removed"
    );
    let run_dir = std::fs::read_dir(tmp.path().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let transcript = std::fs::read_to_string(run_dir.join("transcript.jsonl")).unwrap();
    assert!(
        transcript.contains("\"observation\"") && transcript.contains("interrupted"),
        "the interrupted action is in the transcript: {transcript}"
    );

    // `repl` (piped): SIGTERM at the prompt, after an action.
    let file = tmp.path().join("repl.mcap");
    let mut child = Command::new(common::exe())
        .args([
            "repl",
            "--world",
            "small_room",
            "--record",
            file.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .env("XDG_DATA_HOME", tmp.path())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    stdin
        .write_all(b"move_to(1.0, 1.0)\nprint('after', 'move')\n")
        .unwrap();
    read_until(&mut stdout, "after move");
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "repl ends with 128 + SIGTERM");
    let read = read_cut(&file);
    assert_eq!(read["whole"], true, "{read}");
    assert_eq!(read["actions"]["/observation"], json!([1, 2]), "{read}");
    assert_eq!(common::cgroups_of(pid), Vec::<std::path::PathBuf>::new());
    drop(stdin);
}

/// `codeact session --world WORLD --realtime 1 --live 0`, a live view
/// client of it (tests/record/live.py, counting poses on `pose_topic`)
/// subscribed to every channel, and `code` run: what the client saw.
fn live_view_of(world: &str, pose_topic: &str, code: &str) -> Json {
    let mut child = Command::new(common::exe())
        // In real time, as a viewer watches (a simulator in lockstep outruns
        // the live view, which shows a stream at most every LIVE_PERIOD).
        .args([
            "session",
            "--world",
            world,
            "--realtime",
            "1",
            "--live",
            "0",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("live view: ws://") {
        line.clear();
        assert!(
            std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0,
            "no live line"
        );
    }
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("ws://"))
        .unwrap()
        .to_owned();
    let python = std::env::var("CODEACT_RECORD_PYTHON").expect("CODEACT_RECORD_PYTHON");
    let mut client = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/record/live.py"))
        .args([url.as_str(), "30", pose_topic])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(client.stdout.take().unwrap());
    let mut said = String::new();
    std::io::BufRead::read_line(&mut out, &mut said).unwrap();
    assert_eq!(said.trim(), "subscribed");
    let mut stdin = child.stdin.take().unwrap();
    let request = json!({"type": "execute", "id": 1, "code": code}).to_string() + "\n";
    std::io::Write::write_all(&mut stdin, request.as_bytes()).unwrap();
    let mut report = String::new();
    std::io::BufRead::read_line(&mut out, &mut report).unwrap();
    assert!(client.wait().unwrap().success());
    drop(stdin);
    assert!(child.wait().unwrap().success());
    serde_json::from_str(&report).unwrap()
}

/// `--live` in a fleet world: every robot's channels are served, the
/// others under their names, and a client sees beta drive as it happens.
#[test]
#[ignore = "needs the websockets package: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn a_live_view_client_sees_every_robot_of_a_fleet() {
    let code = "together(alpha.start('move_to', 1.0, 2.0), beta.start('move_to', 2.0, 19.0))";
    let r = live_view_of("warehouse_duo", "/beta/pose", code);
    for (topic, schema) in [
        ("/pose", "foxglove.PoseInFrame"),
        ("/beta/pose", "foxglove.PoseInFrame"),
        ("/beta/scan", "foxglove.LaserScan"),
        ("/beta/cmd_vel", "codeact.VelocityCommand"),
        ("/beta/camera/image", "foxglove.CompressedImage"),
    ] {
        assert_eq!(
            r["channels"][topic]["schema"], schema,
            "{topic}: {}",
            r["channels"]
        );
    }
    let count = |topic: &str| r["topics"][topic]["count"].as_u64().unwrap_or(0);
    let counts: Vec<(String, u64)> = r["topics"]
        .as_object()
        .unwrap()
        .keys()
        .map(|t| (t.clone(), count(t)))
        .collect();
    assert!(count("/beta/pose") >= 5, "{counts:?}");
    assert!(
        count("/pose") >= 1 && count("/beta/cmd_vel") >= 1,
        "{counts:?}"
    );
    // Each robot's camera placed on it, sent again for the client that joined.
    assert!(count("/tf_static") >= 2, "{counts:?}");
}

/// `--live`: a Foxglove WebSocket client (tests/record/live.py, the
/// protocol over the `websockets` package) that joins a running session
/// sees every channel advertised, the map and the camera's frame sent
/// again for it, and the poses of a drive as it happens; a non-loopback
/// address is refused.
#[test]
#[ignore = "needs the websockets package: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn a_live_view_client_sees_the_channels_while_an_action_runs() {
    let refused = Command::new(common::exe())
        .args(["session", "--world", "small_room", "--live", "0.0.0.0:0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && said.contains("only on loopback"),
        "{said}"
    );

    let r = live_view_of("small_room", "/pose", "move_to(2.0, 1.5)");
    assert_eq!(r["subprotocol"], "foxglove.sdk.v1");
    for (topic, schema) in [
        ("/pose", "foxglove.PoseInFrame"),
        ("/scan", "foxglove.LaserScan"),
        ("/map", "foxglove.Grid"),
        ("/code", "foxglove.Log"),
        ("/cmd_vel", "codeact.VelocityCommand"),
    ] {
        assert_eq!(
            r["channels"][topic]["schema"], schema,
            "{topic}: {}",
            r["channels"]
        );
    }
    let seen = &r["topics"];
    assert!(
        seen["/code"]["text"]
            .as_str()
            .unwrap()
            .contains("move_to(2.0, 1.5)"),
        "{seen}"
    );
    assert!(seen["/pose"]["count"].as_u64().unwrap() >= 5, "{seen}");
    // Sent at the start, before the client came, and again for it.
    assert!(seen["/map"]["count"].as_u64().unwrap() >= 1, "{seen}");
    assert!(
        seen["/tf_static"]["text"]
            .as_str()
            .unwrap()
            .contains("camera"),
        "{seen}"
    );
    // Stamped with the simulation clock, in order.
    let times: Vec<u64> = seen["/pose"]["log_times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}
