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

#[test]
#[ignore = "needs the MCAP reader: scripts/record-setup.sh, CODEACT_RECORD_PYTHON"]
fn a_session_is_recorded_with_foxglove_schemas_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("episode.mcap");
    let (replies, stderr) = session(
        &["--world", "small_room", "--record", file.to_str().unwrap()],
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
    let r = common::read_recording(&file);

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
    assert!(r["library"].as_str().unwrap().contains("foxglove-sdk"));

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
    }
}
