//! The task suite through the command line: every task is undone where it
//! starts, every oracle solves every variation, and a policy that only
//! claims success fails every one.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::mock_llm::{MockLlm, Step};
use serde_json::{json, Value as Json};

/// Runs codeact; `eval` writes its results into a temporary folder.
fn codeact(args: &[&str]) -> (bool, String) {
    let tmp = tempfile::tempdir().unwrap();
    let mut args: Vec<&str> = args.to_vec();
    let out_dir = tmp.path().join("out");
    if args[0] == "eval" && !args.contains(&"--out") {
        args.extend(["--out", out_dir.to_str().unwrap()]);
    }
    let out = Command::new(common::exe())
        .args(&args)
        .output()
        .expect("codeact runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn every_goal_is_false_where_each_variation_starts() {
    let (ok, text) = codeact(&["tasks", "check", "--seeds", "3"]);
    assert!(ok, "{text}");
    assert!(text.contains("every goal is false at the start"), "{text}");
}

#[test]
fn every_oracle_solves_every_variation() {
    let (ok, text) = codeact(&["eval", "--oracle", "--seeds", "3", "--workers", "2"]);
    assert!(ok, "{text}");
    let summary = text.lines().last().unwrap_or_default();
    assert!(summary.contains(" 0 failed"), "{text}");
}

#[test]
fn claiming_success_without_doing_the_work_fails_every_task() {
    let (ok, text) = codeact(&["eval", "--nothing", "--seeds", "3", "--workers", "2"]);
    assert!(ok, "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap_or_default()
            .contains(": 0 passed"),
        "{text}"
    );
    assert!(!text.contains("unexpected"), "{text}");
}

#[test]
fn tasks_are_listed_shown_and_chosen() {
    let (ok, text) = codeact(&["tasks"]);
    assert!(ok, "{text}");
    for tier in [
        "navigation",
        "search",
        "pick_place",
        "loops",
        "conditions",
        "recovery",
        "long_horizon",
        "questions",
    ] {
        assert!(text.contains(tier), "{tier} listed: {text}");
    }
    let (ok, text) = codeact(&["tasks", "show", "pp-mug-on-table"]);
    assert!(
        ok && text.contains("red_mug on kitchen_table") && text.contains("oracle:"),
        "{text}"
    );
    let (ok, text) = codeact(&["tasks", "show", "q-count-red-in-blue-zone"]);
    assert!(
        ok && text.contains("setup (ranges [low, high] and one_of are drawn per seed):")
            && text.contains(r#""name":"red_ball""#)
            && text.contains("[[5.4,3.9],[1.5,3.5]]"),
        "the setup is shown: {text}"
    );
    let (ok, text) = codeact(&["eval", "--oracle", "--tasks", "nav-*", "--seeds", "1"]);
    assert!(
        ok && text.contains("codeact eval: 5 trials (5 tasks)"),
        "{text}"
    );
    let (ok, text) = codeact(&["eval", "--oracle", "--tasks", "no-such-*"]);
    assert!(!ok && text.contains("no task matches"), "{text}");
}

#[test]
fn a_bad_task_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.yaml");
    std::fs::write(
        &file,
        "- id: mine\n  tier: navigation\n  world: small_room\n  instructions: [Go to the dock., Drive to the dock.]\n  success:\n    - robot_in_zone: garage\n  oracle: done('x')\n",
    )
    .unwrap();
    let (ok, text) = codeact(&["eval", "--oracle", "--task-file", file.to_str().unwrap()]);
    assert!(!ok && text.contains("no zone \"garage\""), "{text}");
    std::fs::write(
        &file,
        "- id: mine\n  tier: navigation\n  wrld: small_room\n",
    )
    .unwrap();
    let (ok, text) = codeact(&["tasks", "--task-file", file.to_str().unwrap()]);
    assert!(
        !ok && text.contains("mine.yaml:3") && text.contains("wrld"),
        "{text}"
    );
}

/// The instruction the trial gave (the first user message) and the model's turn.
fn task_and_turn(body: &Json) -> (String, usize) {
    let messages = body["messages"].as_array().unwrap();
    let first = messages.iter().find(|m| m["role"] == "user").unwrap();
    let text = first["content"].as_str().unwrap_or_default();
    let task = text.strip_prefix("Task: ").unwrap_or(text);
    let task = task.split("\n\n").next().unwrap_or_default().to_owned();
    (
        task,
        messages.iter().filter(|m| m["role"] == "assistant").count(),
    )
}

/// A model on loopback that knows the suite: for code it answers each task
/// with its oracle; as tool calls or Action lines it drives to the zone of
/// the navigation tasks, then calls done.
fn suite_model() -> MockLlm {
    let tasks = codeact::eval::task::builtin().unwrap();
    let zones = [
        ("nav-packing", "packing"),
        ("nav-instrument-room", "instrument_room"),
        ("nav-bedroom-not-hall", "bedroom"),
    ];
    MockLlm::answering(Arc::new(move |body: &Json| {
        let (instruction, turn) = task_and_turn(body);
        let Some(task) = tasks.iter().find(|t| t.instructions.contains(&instruction)) else {
            return Step::Text(format!("I do not know the task {instruction:?}."));
        };
        let zone = zones.iter().find(|(id, _)| *id == task.id).map(|(_, z)| *z);
        let tools = body.get("tools").is_some();
        let text_format = body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .contains("Action: skill_name");
        match (tools, text_format, turn, zone) {
            (true, _, 0, Some(z)) => Step::Calls(vec![("go_to".into(), json!({"name": z}))]),
            (true, _, _, _) => {
                Step::Calls(vec![("done".into(), json!({"summary": "I am there."}))])
            }
            (_, true, 0, Some(z)) => {
                Step::Text(format!("Off I go.\nAction: go_to {{\"name\": \"{z}\"}}"))
            }
            (_, true, _, _) => Step::Text("Action: done {\"summary\": \"I am there.\"}".into()),
            (_, _, 0, _) => {
                Step::Text(format!("Here is my plan.\n```python\n{}\n```", task.oracle))
            }
            _ => Step::Text("```python\ndone('I could not finish.')\n```".into()),
        }
    }))
}

fn model_eval(mock: &MockLlm, out: &std::path::Path, extra: &[&str]) -> (bool, String) {
    let base = format!("http://127.0.0.1:{}/v1", mock.port);
    let mut args = vec![
        "eval",
        "--llm",
        "openai:suite-mock",
        "--base-url",
        &base,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = Command::new(common::exe())
        .args(&args)
        .env("OPENAI_API_KEY", "test-key")
        .output()
        .expect("codeact runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn results(dir: &std::path::Path) -> Vec<Json> {
    std::fs::read_to_string(dir.join("results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_model_on_loopback_runs_the_suite_in_code_json_and_text() {
    let mock = suite_model();
    let tmp = tempfile::tempdir().unwrap();
    // Code actions: the model answers every task with its oracle, through the whole path.
    let code = tmp.path().join("code");
    let (ok, text) = model_eval(&mock, &code, &["--seeds", "1"]);
    assert!(ok, "{text}");
    let rows = results(&code);
    assert_eq!(rows.len(), 49, "{text}");
    let failed: Vec<&Json> = rows.iter().filter(|r| r["success"] != true).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(rows
        .iter()
        .all(|r| r["format"] == "code" && r["turns"] == 1 && r["model"] == "openai:suite-mock"));
    // Each trial has its folder: transcript with the verdict, and a picture.
    let dir = code.join("trials").join("pp-mug-on-table-s0-p0-code");
    let transcript = std::fs::read_to_string(dir.join("transcript.jsonl")).unwrap();
    assert!(
        transcript.contains("\"type\":\"verdict\"")
            && transcript.contains("\"task_id\":\"pp-mug-on-table\"")
    );
    assert!(std::fs::metadata(dir.join("picture.png")).unwrap().len() > 1000);
    // A trial folder replays in its task's world for its seed, without the model.
    let replay = Command::new(common::exe())
        .args(["replay", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success()
            && said.contains("task pp-mug-on-table: succeeded in the replay as recorded"),
        "{said}{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    let summary = std::fs::read_to_string(code.join("summary.md")).unwrap();
    assert!(
        summary.contains("| openai:suite-mock (code) | 49 | 100.0% ["),
        "{summary}"
    );

    // Tool calls and Action lines on the navigation tasks, both phrasings.
    let other = tmp.path().join("other");
    let (ok, text) = model_eval(
        &mock,
        &other,
        &[
            "--tasks",
            "nav-*",
            "--action-format",
            "json,text",
            "--paraphrase",
            "all",
            "--seeds",
            "1",
        ],
    );
    assert!(ok, "{text}");
    let rows = results(&other);
    for format in ["json", "text"] {
        let of: Vec<&Json> = rows.iter().filter(|r| r["format"] == format).collect();
        assert!(of.len() >= 10, "{format}: {}", of.len());
        for id in ["nav-packing", "nav-instrument-room", "nav-bedroom-not-hall"] {
            assert!(
                of.iter()
                    .any(|r| r["task"] == id && r["success"] == true && r["paraphrase"] == 1),
                "{format} {id}: {text}"
            );
        }
        // The round trip and the tour need more than one go_to: the scripted model fails them, as it should.
        assert!(of
            .iter()
            .any(|r| r["task"] == "nav-round-trip" && r["success"] == false));
    }

    // Merged into one table.
    let merged = tmp.path().join("merged");
    let out = Command::new(common::exe())
        .args([
            "eval",
            "report",
            code.to_str().unwrap(),
            other.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = std::fs::read_to_string(merged.join("summary.md")).unwrap();
    for row in ["(code)", "(json)", "(text)"] {
        assert!(summary.contains(row), "{row}: {summary}");
    }
}

#[test]
fn resume_skips_finished_trials() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let (ok, text) = codeact(&[
        "eval",
        "--oracle",
        "--tasks",
        "nav-*",
        "--seeds",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let (ok, text) = codeact(&[
        "eval",
        "--oracle",
        "--tasks",
        "nav-*",
        "--seeds",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ]);
    assert!(ok && text.contains("5 done before); 5 to run"), "{text}");
    assert_eq!(results(&out).len(), 10);
}

#[test]
fn shards_cover_the_trials_once_and_merge_into_the_same_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    let (ok, text) = codeact(&[
        "eval",
        "--oracle",
        "--tier",
        "navigation",
        "--seeds",
        "2",
        "--out",
        whole.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    let mut shards = Vec::new();
    for i in 1..=3 {
        let dir = tmp.path().join(format!("shard{i}"));
        let (ok, text) = codeact(&[
            "eval",
            "--oracle",
            "--tier",
            "navigation",
            "--seeds",
            "2",
            "--shard",
            &format!("{i}/3"),
            "--out",
            dir.to_str().unwrap(),
        ]);
        assert!(ok, "{text}");
        shards.push(dir);
    }
    let counts: Vec<usize> = shards.iter().map(|d| results(d).len()).collect();
    assert_eq!(counts, [4, 3, 3]);
    let merged = tmp.path().join("merged");
    let mut args = vec!["eval", "report"];
    args.extend(shards.iter().map(|d| d.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap()]);
    let (ok, text) = codeact(&args);
    assert!(ok, "{text}");
    let summary = |d: &std::path::Path| std::fs::read_to_string(d.join("summary.md")).unwrap();
    assert_eq!(summary(&merged), summary(&whole));
    let png = std::fs::read(merged.join("summary.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let (ok, text) = codeact(&["eval", "--oracle", "--shard", "4/3"]);
    assert!(!ok && text.contains("1 <= I <= N"), "{text}");
}

#[test]
fn ctrl_c_stops_taking_trials_and_keeps_what_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("stopped");
    let child = Command::new(common::exe())
        .args([
            "eval",
            "--oracle",
            "--seeds",
            "5",
            "--workers",
            "1",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once a few trials have finished, as a person would press Ctrl-C.
    let results = out.join("results.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&results).map_or(0, |t| t.lines().count()) < 3
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let done = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(!done.status.success(), "{said}");
    assert!(
        said.contains("stopped early") && said.contains("--resume runs them"),
        "{said}"
    );
    let kept = std::fs::read_to_string(&results).unwrap().lines().count();
    assert!((3..210).contains(&kept), "{kept} trials kept");
    assert!(out.join("summary.md").exists());
}

#[test]
fn trials_that_find_no_model_are_not_run_not_failed_and_resume_runs_them() {
    let tmp = tempfile::tempdir().unwrap();
    // A closed port: every trial could not run; the run stops after three.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let out = tmp.path().join("outage");
    let base = format!("http://127.0.0.1:{port}/v1");
    let args = [
        "eval",
        "--llm",
        "openai:m",
        "--base-url",
        &base,
        "--retries",
        "0",
        "--tasks",
        "nav-*",
        "--seeds",
        "2",
        "--workers",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    let run = |args: &[&str]| {
        let o = Command::new(common::exe())
            .args(args)
            .env("OPENAI_API_KEY", "k")
            .output()
            .unwrap();
        let text =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), text)
    };
    let (ok, text) = run(&args);
    assert!(
        !ok,
        "a run whose trials could not run is no success: {text}"
    );
    assert!(
        text.contains("NOT RUN") && text.contains("stopping: 3 trials in a row"),
        "{text}"
    );
    let rows = results(&out);
    assert_eq!(rows.len(), 3, "it stopped after three: {text}");
    assert!(rows
        .iter()
        .all(|r| r["not_run"].as_str().unwrap().contains("cannot reach")));
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        summary.contains("0 trials of 0 tasks; 3 more could not be run"),
        "{summary}"
    );
    assert!(
        !summary.contains("0.0%"),
        "no rate from trials that did not run: {summary}"
    );

    // Running into the same folder again is refused without --resume.
    let (ok, text) = run(&args);
    assert!(
        !ok && text.contains("already has results (3 trials)"),
        "{text}"
    );
    assert!(
        text.contains("--resume") && text.contains("--fresh"),
        "{text}"
    );

    // The server back: --resume runs the three again (and the rest), one row each.
    let mock = suite_model();
    let base = format!("http://127.0.0.1:{}/v1", mock.port);
    let mut resumed: Vec<&str> = args.to_vec();
    resumed[4] = &base;
    resumed.push("--resume");
    let (_, text) = run(&resumed);
    assert!(text.contains("0 done before); 10 to run"), "{text}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("10 trials of 5 tasks."), "{summary}");
    assert!(!summary.contains("could not be run"), "{summary}");

    // --fresh moves the old results aside.
    let (_, text) = run(&[&resumed[..resumed.len() - 1], &["--fresh"]].concat());
    assert!(text.contains("the earlier results are in"), "{text}");
    assert!(std::fs::read_dir(&out).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("previous-")));

    // A report of the same folder twice counts each trial once, and says so.
    let merged = tmp.path().join("merged");
    let dir = out.to_str().unwrap();
    let (ok, text) = codeact(&[
        "eval",
        "report",
        dir,
        dir,
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert!(ok && text.contains("counted once"), "{text}");
    let summary = std::fs::read_to_string(merged.join("summary.md")).unwrap();
    assert!(summary.contains("10 trials of 5 tasks."), "{summary}");
}

#[test]
fn credentials_refused_are_not_run() {
    let mock = MockLlm::start(vec![Step::Status(401, None); 4]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("refused");
    let (ok, text) = model_eval(
        &mock,
        &out,
        &["--tasks", "nav-*", "--seeds", "1", "--workers", "1"],
    );
    assert!(!ok, "{text}");
    let rows = results(&out);
    assert!(
        rows.iter().all(|r| r["not_run"]
            .as_str()
            .unwrap()
            .contains("refused the credentials")),
        "{rows:?}"
    );
    assert_eq!(rows[0]["stop_reason"], "llm_unavailable");
}

#[test]
fn a_task_file_finds_its_world_next_to_it_and_refuses_a_duplicate_id() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lab_tasks");
    std::fs::create_dir_all(&dir).unwrap();
    let world = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sim/worlds/small_room.yaml"
    ))
    .unwrap();
    std::fs::write(dir.join("my_room.yaml"), world).unwrap();
    let task = "- id: mine\n  tier: navigation\n  world: my_room.yaml\n  instructions: [Go to the blue zone., Drive to the blue zone.]\n  success:\n    - robot_in_zone: blue_zone\n  oracle: |\n    go_to('blue_zone')\n    done('there')\n";
    let file = dir.join("tasks.yaml");
    std::fs::write(&file, task).unwrap();
    // Run from another folder, the task file's options after the subcommand.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(common::exe())
            .args(args)
            .current_dir(&elsewhere)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let path = file.to_str().unwrap();
    let (ok, text) = run(&["tasks", "check", "--task-file", path, "--seeds", "1"]);
    assert!(ok, "the world next to the task file: {text}");
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let (ok, text) = run(&[
        "eval",
        "--oracle",
        "--task-file",
        path,
        "--seeds",
        "1",
        "--out",
        out,
    ]);
    assert!(ok && text.contains("1 passed"), "{text}");

    // A world that is not there: said once, at load, with where it looked.
    std::fs::write(&file, task.replace("my_room.yaml", "gone.yaml")).unwrap();
    let (ok, text) = run(&["eval", "--oracle", "--task-file", path, "--seeds", "3"]);
    assert!(!ok, "{text}");
    assert_eq!(text.matches("gone.yaml").count(), 2, "once: {text}");
    assert!(
        text.contains(&format!("{path}:1:"))
            && text.contains(&dir.join("gone.yaml").display().to_string()),
        "{text}"
    );

    // The same id twice: refused with both lines.
    std::fs::write(&file, format!("{task}{task}")).unwrap();
    let (ok, text) = run(&["tasks", "--task-file", path]);
    assert!(
        !ok && text.contains(&format!("{path}:10:")) && text.contains(&format!("also at {path}:1")),
        "{text}"
    );
}

#[test]
fn task_choices_take_lists_and_repeats() {
    let (ok, text) = codeact(&["tasks", "--tasks", "nav-*,lh-warehouse-two-orders"]);
    assert!(ok && text.contains("6 tasks"), "{text}");
    let (ok, text) = codeact(&[
        "tasks",
        "--tasks",
        "nav-*",
        "--tasks",
        "lh-warehouse-two-orders",
    ]);
    assert!(ok && text.contains("6 tasks"), "{text}");
    let (ok, text) = codeact(&["tasks", "check", "--tasks", "nav-*", "--seeds", "1"]);
    assert!(ok && text.contains("5 tasks x 1 seeds"), "{text}");
}

#[test]
fn a_number_in_a_zone_name_is_no_count_and_the_verdict_says_what_was_read() {
    let tmp = tempfile::tempdir().unwrap();
    let world = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sim/worlds/small_room.yaml"
    ))
    .unwrap()
    .replace("blue_zone", "aisle_1");
    std::fs::write(tmp.path().join("aisles.yaml"), world).unwrap();
    let task = |id: &str, answer: &str| {
        format!("- id: {id}\n  tier: questions\n  world: aisles.yaml\n  instructions: [How many red objects are in aisle 1?, Count the red things in aisle 1.]\n  setup:\n    objects:\n      - {{name: red_cube, at: [4.9, 3.9]}}\n      - {{name: red_ball, kind: ball, colour: red, size: 0.07, at: [5.4, 3.9]}}\n  success:\n    - answer_count: {{colour: red, zone: aisle_1}}\n  oracle: done('{answer}')\n")
    };
    let file = tmp.path().join("count.yaml");
    std::fs::write(
        &file,
        task("right", "There are 2 red objects in aisle 1.")
            + &task("wrong", "There are 3 red objects in aisle 1."),
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (_, text) = codeact(&[
        "eval",
        "--oracle",
        "--task-file",
        file.to_str().unwrap(),
        "--seeds",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    let rows = results(&out);
    let of = |id: &str| rows.iter().find(|r| r["task"] == id).unwrap().clone();
    assert_eq!(of("right")["success"], true, "{text}");
    assert_eq!(of("wrong")["success"], false, "{text}");
    let why = of("wrong")["failed"].as_str().unwrap().to_owned();
    assert!(why.contains("read as 3; there are 2"), "{why}");
    // The failed oracle trial left its picture and observation to debug it.
    let dir = std::path::PathBuf::from(of("wrong")["dir"].as_str().unwrap());
    let png = std::fs::read(dir.join("picture.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let observation = std::fs::read_to_string(dir.join("observation.txt")).unwrap();
    assert!(observation.contains("done"), "{observation}");
    assert!(
        of("right")["dir"].is_null(),
        "a passing oracle trial leaves none"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("| stopped | why |"), "{summary}");
}

#[test]
fn a_fixed_placement_in_an_obstacle_fails_at_once_with_its_file_line_and_object() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("stuck.yaml");
    std::fs::write(
        &file,
        "# a crate, and the cube inside it\n- id: stuck\n  tier: navigation\n  world: small_room\n  instructions: [Go to the blue zone., Drive to the blue zone.]\n  setup:\n    obstacles:\n      - {name: crate, rect: [1.0, 3.0, 0.5, 0.5]}\n    objects:\n      - {name: red_cube, at: [1.2, 3.2]}\n  success:\n    - robot_in_zone: blue_zone\n  oracle: done('x')\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let (ok, text) = codeact(&["eval", "--oracle", "--task-file", path, "--seeds", "3"]);
    assert!(!ok, "{text}");
    assert_eq!(
        text.matches("red_cube").count(),
        1,
        "said once, before any trial: {text}"
    );
    assert!(
        text.contains(&format!("{path}:2: task stuck:"))
            && text.contains("another seed cannot help"),
        "{text}"
    );
    assert!(!text.contains("trials in"), "no trial ran: {text}");
}

#[test]
fn progress_lines_say_the_stop_reason_and_the_retries() {
    let mock = MockLlm::start(vec![
        Step::Status(500, None),
        Step::Reply("```python\ndone('nothing to do')\n```"),
    ]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("retried");
    let (_, text) = model_eval(
        &mock,
        &out,
        &[
            "--tasks",
            "nav-round-trip",
            "--seeds",
            "1",
            "--retries",
            "2",
        ],
    );
    assert!(text.contains("stopped: done, 1 retry"), "{text}");
    assert_eq!(results(&out)[0]["retries"], 1);
}
