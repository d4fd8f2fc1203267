//! The agent loop against an LLM server on loopback that speaks the real
//! wire formats (OpenAI Chat Completions and Anthropic Messages, streamed),
//! scripted turn by turn: full episodes in the simulator, and the faults
//! real endpoints have.

mod common;

use common::mock_llm::{MockLlm, Step};

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value as Json};

const SECRET: &str = "sk-test-DO-NOT-LEAK-1234567890";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    dir: std::path::PathBuf,
    records: Vec<Json>,
    _tmp: tempfile::TempDir,
}

fn run_agent(provider: &str, mock: &MockLlm, extra: &[&str]) -> Run {
    run_agent_with_input(provider, mock, extra, "")
}

fn run_agent_with_input(provider: &str, mock: &MockLlm, extra: &[&str], input: &str) -> Run {
    run_agent_at(provider, mock.port, extra, input)
}

/// `codeact run` against a loopback endpoint on `port` (in the small room
/// unless `extra` gives a --world).
fn run_agent_at(provider: &str, port: u16, extra: &[&str], input: &str) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let base = match provider {
        "anthropic" => format!("http://127.0.0.1:{port}"),
        _ => format!("http://127.0.0.1:{port}/v1"),
    };
    let key_var = if provider == "anthropic" {
        "ANTHROPIC_API_KEY"
    } else {
        "OPENAI_API_KEY"
    };
    let world: &[&str] = match extra.contains(&"--world") {
        true => &[],
        false => &["--world", "small_room"],
    };
    let out = Command::new(common::exe())
        .arg("run")
        .args(world)
        .args(["--task", "bring the red cube to the blue zone"])
        .args([
            "--llm",
            &format!("{provider}:mock-model"),
            "--base-url",
            &base,
        ])
        .args([
            "--runs-dir",
            tmp.path().to_str().unwrap(),
            "--retry-backoff",
            "0.05",
        ])
        .args(if extra.contains(&"--request-timeout") {
            &[][..]
        } else {
            &["--request-timeout", "2"][..]
        })
        .args(extra)
        .env(key_var, SECRET)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("codeact run starts");
    let mut child = out;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let dir = std::fs::read_dir(tmp.path())
        .unwrap()
        .next()
        .expect("a run folder")
        .unwrap()
        .path();
    let records = codeact::agent::transcript::read(&dir).expect("a transcript");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
        records,
        _tmp: tmp,
    }
}

fn end_of(run: &Run) -> &Json {
    let end = run.records.iter().find(|r| r["type"] == "end");
    &end.unwrap_or_else(|| panic!("no end record: {:?}", run.records))["outcome"]
}

const LOOK: &str = "Let me look around first.\n```python\nprint(get_pose())\nseen = [o.name for o in detect_objects()]\nprint(seen)\n```";
const FETCH: &str = "The red cube is visible. Fetching it:\n```python\ndetect_objects()\ngo_to('red_cube')\npick('red_cube')\ngo_to('blue_zone')\nplace()\n```\nThen I check and finish:\n```python\nassert holding() is None\ndone('The red cube is in the blue zone.')\n```";

#[test]
fn an_openai_compatible_model_completes_the_task_in_the_simulator() {
    let mock = MockLlm::start(vec![Step::Reply(LOOK), Step::Reply(FETCH)]);
    let run = run_agent("openai", &mock, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let end = end_of(&run);
    assert_eq!(end["claimed_done"], true);
    assert!(end.get("success").is_none(), "the claim is not a verdict");
    assert_eq!(end["summary"], "The red cube is in the blue zone.");
    assert_eq!(end["turns"], 2);
    assert_eq!(end["usage"]["input_tokens"], 200);
    // The world really changed: the cube was placed in the zone.
    let placed = run
        .records
        .iter()
        .filter(|r| r["type"] == "observation")
        .any(|r| {
            r["observation"]["robot_events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| {
                    e.as_str().unwrap().contains("placed red_cube")
                        && e.as_str().unwrap().contains("blue_zone")
                })
        });
    assert!(placed, "{:?}", run.records);
    assert!(run.dir.join("picture.png").exists());
    // The wire: auth header, the system prompt from the live skills, the observation sent back.
    let seen = mock.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].path, "/v1/chat/completions");
    assert!(seen[0]
        .headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == &format!("Bearer {SECRET}")));
    let system = seen[0].body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("def move_to(")
            && system.contains("def done(summary: str)")
            && system.contains("Zones: dock"),
        "{system}"
    );
    assert_eq!(seen[0].body["stream"], true);
    let second = seen[1].body["messages"].as_array().unwrap();
    let observation = second.last().unwrap()["content"].as_str().unwrap();
    assert!(
        observation.starts_with("Observation:") && observation.contains("['red_cube']"),
        "{observation}"
    );
    // Streamed text reached the terminal.
    assert!(
        run.stdout.contains("Let me look around first."),
        "{}",
        run.stdout
    );
}

#[test]
fn a_replay_reproduces_the_recorded_run_and_finds_changes() {
    let mock = MockLlm::start(vec![Step::Reply(LOOK), Step::Reply(FETCH)]);
    let run = run_agent("openai", &mock, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let replay = Command::new(common::exe())
        .args(["replay", run.dir.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(out.contains("same final world state"), "{out}");
    // Change what the model said: the cube goes to the dock instead.
    let path = run.dir.join("transcript.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("go_to('blue_zone')", "go_to('dock')");
    std::fs::write(&path, text).unwrap();
    let replay = Command::new(common::exe())
        .args(["replay", run.dir.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(replay.status.code(), Some(1), "{out}");
    assert!(
        out.contains("robot_events differs") && out.contains("final world state differs"),
        "{out}"
    );
}

#[test]
fn an_anthropic_model_speaks_the_messages_format() {
    let mock = MockLlm::start(vec![Step::Reply("```python\ndone('nothing to do')\n```")]);
    let run = run_agent("anthropic", &mock, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(end_of(&run)["usage"]["output_tokens"], 20);
    let seen = mock.seen();
    assert_eq!(seen[0].path, "/v1/messages");
    assert!(seen[0]
        .headers
        .iter()
        .any(|(k, v)| k == "x-api-key" && v == SECRET));
    assert!(seen[0]
        .headers
        .iter()
        .any(|(k, _)| k == "anthropic-version"));
    assert!(seen[0].body["system"]
        .as_str()
        .unwrap()
        .contains("def pick("));
    assert_eq!(seen[0].body["messages"][0]["role"], "user");
}

#[test]
fn rate_limits_errors_garbage_and_cut_streams_are_retried() {
    let mock = MockLlm::start(vec![
        Step::Status(429, Some(1)),
        Step::Status(500, None),
        Step::Garbage,
        Step::Cut("```python\ndone('partial"),
        Step::Reply("```python\ndone('made it')\n```"),
    ]);
    let run = run_agent("openai", &mock, &["--retries", "4"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(end_of(&run)["summary"], "made it");
    let seen = mock.seen();
    assert_eq!(seen.len(), 5);
    assert!(
        seen[1].at - seen[0].at >= Duration::from_millis(950),
        "Retry-After: 1 was not honoured"
    );
    let retries: Vec<&Json> = run
        .records
        .iter()
        .filter(|r| r["type"] == "retry")
        .collect();
    assert_eq!(retries.len(), 4, "{:?}", run.records);
    // Each failed attempt is recorded when it happens, numbered.
    let times: Vec<f64> = retries
        .iter()
        .map(|r| r["t_ms"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    assert_eq!(retries[3]["attempt"], 4);
    let reply = run.records.iter().find(|r| r["type"] == "reply").unwrap();
    assert_eq!(reply["attempts"], 5);
}

#[test]
fn a_server_that_never_answers_ends_the_run_with_a_clear_reason() {
    let mock = MockLlm::start(vec![Step::Hang, Step::Hang]);
    let run = run_agent(
        "openai",
        &mock,
        &["--request-timeout", "1", "--retries", "1"],
    );
    assert_eq!(run.code, 1);
    let end = end_of(&run);
    // An outage says nothing about the model.
    assert_eq!(end["reason"], "llm_unavailable");
    assert!(
        end["detail"].as_str().unwrap().contains("timed out"),
        "{end}"
    );
    assert!(run.stdout.contains("stopped"), "{}", run.stdout);
}

#[test]
fn an_endpoint_nobody_listens_on_is_named_in_words_and_not_retried() {
    // A loopback port that was just free: connecting is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = run_agent_at("openai", port, &["--retries", "5"], "");
    assert_eq!(run.code, 1);
    let end = end_of(&run);
    // An outage says nothing about the model.
    assert_eq!(end["reason"], "llm_unavailable");
    let detail = end["detail"].as_str().unwrap();
    assert!(
        detail.contains("connection refused") && detail.contains(&format!("127.0.0.1:{port}")),
        "{detail}"
    );
    assert!(detail.contains("--base-url"), "{detail}");
    assert!(
        !run.records.iter().any(|r| r["type"] == "retry"),
        "{:?}",
        run.records
    );
    assert!(
        run.stdout
            .contains("stopped: no model could be asked: cannot reach"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("LlmFailed"), "{}", run.stdout);
}

#[test]
fn replies_without_code_are_nudged_and_the_turn_limit_holds() {
    let mock = MockLlm::start(vec![
        Step::Reply("I think the cube is red."),
        Step::Reply("Still thinking."),
        Step::Reply("Hmm."),
    ]);
    let run = run_agent("openai", &mock, &["--max-turns", "3"]);
    assert_eq!(run.code, 1);
    assert_eq!(end_of(&run)["reason"], "max_turns");
    let seen = mock.seen();
    let nudge = seen[1].body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(nudge.contains("no code"), "{nudge}");
}

#[test]
fn repeating_the_same_action_is_nudged_then_stopped() {
    let same = "```python\nprint(get_pose())\n```";
    let mock = MockLlm::start(vec![Step::Reply(same); 6]);
    let run = run_agent("openai", &mock, &["--max-turns", "6"]);
    assert_eq!(end_of(&run)["reason"], "stuck", "{:?}", run.records.last());
    let seen = mock.seen();
    let third_observation = seen[3].body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        third_observation.contains("same code with the same result"),
        "{third_observation}"
    );
}

#[test]
fn the_key_reaches_neither_the_worker_nor_the_transcript_nor_the_output() {
    let probe = "```python\nimport os\nprint('keys:', sorted(k for k in os.environ if 'KEY' in k or 'TOKEN' in k))\nprint('value:', os.environ.get('OPENAI_API_KEY'))\ndone('checked')\n```";
    let mock = MockLlm::start(vec![Step::Reply(probe)]);
    let run = run_agent("openai", &mock, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let obs = run
        .records
        .iter()
        .find(|r| r["type"] == "observation")
        .unwrap();
    let text = obs["shown"].as_str().unwrap();
    assert!(
        text.contains("keys: []") && text.contains("value: None"),
        "{text}"
    );
    let transcript = std::fs::read_to_string(run.dir.join("transcript.jsonl")).unwrap();
    for (what, haystack) in [
        ("transcript", &transcript),
        ("stdout", &run.stdout),
        ("stderr", &run.stderr),
    ] {
        assert!(!haystack.contains(SECRET), "the key leaked into the {what}");
    }
}

#[test]
fn without_an_llm_run_says_how_to_configure_one() {
    let out = Command::new(common::exe())
        .args(["run", "--world", "small_room", "--task", "anything"])
        .env_remove("CODEACT_LLM")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--llm openai:MODEL") && err.contains("codeact repl"),
        "{err}"
    );
}

#[test]
fn approval_refuses_or_edits_actions_and_messages_reach_the_model() {
    let risky = "```python\ndrive(0.8, 0.0, 30.0)\n```";
    let mock = MockLlm::start(vec![
        Step::Reply(risky),
        Step::Reply("```python\nprint('ok')\n```"),
        Step::Reply(risky),
    ]);
    // Refuse the first, approve the second (and add a message), edit the third.
    let input = "n too fast near people\n\ny\nslow down please\ne\ndone('edited by a person')\n.\n";
    let run = run_agent_with_input("openai", &mock, &["--approve", "--interactive"], input);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(end_of(&run)["summary"], "edited by a person");
    let seen = mock.seen();
    let after_refusal = seen[1].body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        after_refusal.contains("did not allow") && after_refusal.contains("too fast near people"),
        "{after_refusal}"
    );
    let after_message = seen[2].body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        after_message.contains("Message from the person: slow down please"),
        "{after_message}"
    );
    // The refused drive never ran: no collision, no motion.
    assert!(
        !run.records
            .iter()
            .any(|r| r["type"] == "action" && r["code"].as_str().unwrap().contains("drive(")),
        "{:?}",
        run.records
    );
    assert!(run.records.iter().any(|r| r["type"] == "edited"));
}

#[test]
fn the_token_budget_ends_the_run() {
    // Each mock reply reports 120 tokens; a budget of 200 allows two turns.
    let step = |n: &'static str| Step::Reply(n);
    let mock = MockLlm::start(vec![
        step("```python\nx = 1\n```"),
        step("```python\nx = 2\n```"),
        step("```python\nx = 3\n```"),
    ]);
    let run = run_agent("openai", &mock, &["--max-tokens", "200"]);
    assert_eq!(run.code, 1);
    let end = end_of(&run);
    assert_eq!(end["reason"], "token_budget", "{end}");
    assert_eq!(end["turns"], 2);
    assert_eq!(mock.seen().len(), 2);
}

/// The tool called `name` in an OpenAI request's `tools`.
fn tool_named<'a>(body: &'a Json, name: &str) -> &'a Json {
    body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == name)
        .unwrap_or_else(|| panic!("no tool {name}"))
}

#[test]
fn native_tool_calls_drive_the_robot_in_the_openai_format() {
    let mock = MockLlm::start(vec![
        Step::Tools(vec![
            ("detect_objects", json!({})),
            ("go_to", json!({"name": "red_cube"})),
            ("pick", json!({"name": "red_cube"})),
        ]),
        Step::Tools(vec![
            ("go_to", json!({"name": "blue_zone"})),
            ("place", json!({})),
            ("done", json!({"summary": "placed by tools"})),
        ]),
    ]);
    let run = run_agent("openai", &mock, &["--action-format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(end_of(&run)["summary"], "placed by tools");
    let seen = mock.seen();
    let move_to = tool_named(&seen[0].body, "move_to");
    assert_eq!(
        move_to["function"]["parameters"]["required"],
        json!(["x", "y"])
    );
    assert!(
        !seen[0].body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("def move_to"),
        "tool schemas replace the Python API text"
    );
    // The second request carries the calls and one result per call id.
    let messages = seen[1].body["messages"].as_array().unwrap();
    let assistant = messages.iter().find(|m| m["role"] == "assistant").unwrap();
    assert_eq!(assistant["tool_calls"][2]["function"]["name"], "pick");
    let results: Vec<&Json> = messages.iter().filter(|m| m["role"] == "tool").collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[2]["tool_call_id"], "call_2");
    assert!(
        results[2]["content"]
            .as_str()
            .unwrap()
            .contains("picked red_cube"),
        "{}",
        results[2]
    );
}

#[test]
fn native_tool_calls_drive_any_robot_of_a_fleet() {
    let mock = MockLlm::start(vec![
        Step::Tools(vec![
            ("move_to", json!({"x": 1.0, "y": 18.0, "robot": "beta"})),
            ("move_to", json!({"x": 1.0, "y": 2.0})),
            ("get_pose", json!({"robot": "gamma"})),
        ]),
        Step::Tools(vec![("done", json!({"summary": "both moved"}))]),
    ]);
    let run = run_agent(
        "openai",
        &mock,
        &["--action-format", "json", "--world", "warehouse_duo"],
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let seen = mock.seen();
    let move_to = tool_named(&seen[0].body, "move_to");
    assert_eq!(
        move_to["function"]["parameters"]["properties"]["robot"]["enum"],
        json!(["alpha", "beta"])
    );
    let messages = seen[1].body["messages"].as_array().unwrap();
    let results: Vec<&str> = messages
        .iter()
        .filter(|m| m["role"] == "tool")
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(results.len(), 3);
    // beta went up the first aisle's end, alpha (the default) to (1, 2).
    assert!(
        results[0].contains("beta.move_to(x=1.0, y=18.0") && results[0].contains("y=18.0"),
        "{}",
        results[0]
    );
    assert!(
        results[1].contains("  move_to(x=1.0, y=2.0") && results[1].contains("Pose(x=1.0"),
        "{}",
        results[1]
    );
    assert!(
        results[2].contains("robot \"gamma\" has no skill get_pose"),
        "{}",
        results[2]
    );
}

#[test]
fn native_tool_calls_in_the_anthropic_format_and_bad_calls_are_reported() {
    let mock = MockLlm::start(vec![
        Step::Tools(vec![("teleport", json!({"x": 1})), ("get_pose", json!({}))]),
        Step::Tools(vec![("done", json!({"summary": "looked"}))]),
    ]);
    let run = run_agent("anthropic", &mock, &["--action-format", "json"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let seen = mock.seen();
    assert!(seen[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "get_pose" && t["input_schema"]["type"] == "object"));
    let last = seen[1].body["messages"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let blocks = last["content"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "tool_result");
    assert_eq!(blocks[0]["tool_use_id"], "toolu_0");
    assert!(
        blocks[0]["content"]
            .as_str()
            .unwrap()
            .contains("no skill named \"teleport\""),
        "{last}"
    );
    // The bad call stopped the turn; the next call was reported as not run.
    assert!(
        blocks[1]["content"].as_str().unwrap().contains("not run"),
        "{last}"
    );
}

#[test]
fn text_actions_run_one_call_per_turn() {
    let mock = MockLlm::start(vec![
        Step::Reply("Look first.\nAction: detect_objects {}"),
        Step::Reply("First the cube.\nAction: go_to {\"name\": \"red_cube\"}"),
        Step::Reply("Action: pick(red_cube)"),
        Step::Reply("Action: pick {\"name\": \"red_cube\"}"),
        Step::Reply("Action: done {\"summary\": \"holding the cube\"}"),
    ]);
    let run = run_agent("openai", &mock, &["--action-format", "text"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(end_of(&run)["summary"], "holding the cube");
    let seen = mock.seen();
    assert!(seen[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("Action: skill_name"));
    let after_bad = seen[3].body["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(after_bad.contains("not a JSON object"), "{after_bad}");
    assert!(run
        .records
        .iter()
        .any(|r| r["type"] == "observation"
            && r["shown"].as_str().unwrap().contains("picked red_cube")));
}

#[test]
fn settings_come_from_a_config_file_and_flags_win() {
    let mock = MockLlm::start(vec![Step::Reply("No code."), Step::Reply("Still none.")]);
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("codeact.yaml");
    std::fs::write(&config, format!("llm: openai:from-config\nbase_url: http://127.0.0.1:{}/v1\nmax_turns: 5\nrequest_timeout: 2\ntemperature: 0.7\n", mock.port)).unwrap();
    let out = Command::new(common::exe())
        .args([
            "run",
            "--world",
            "small_room",
            "--task",
            "t",
            "--config",
            config.to_str().unwrap(),
            "--max-turns",
            "2",
        ])
        .args(["--runs-dir", tmp.path().join("runs").to_str().unwrap()])
        .env("OPENAI_API_KEY", SECRET)
        .env_remove("CODEACT_LLM")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = mock.seen();
    assert_eq!(seen.len(), 2, "--max-turns 2 wins over the file's 5");
    assert_eq!(seen[0].body["model"], "from-config");
    assert_eq!(seen[0].body["temperature"], 0.7);

    std::fs::write(&config, "llm: openai:x\nmax_turnz: 3\n").unwrap();
    let out = Command::new(common::exe())
        .args(["run", "--task", "t", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("codeact.yaml:2") && err.contains("max_turnz"),
        "{err}"
    );
}

#[test]
fn the_wall_clock_budget_ends_the_run() {
    let slow = "```python\nimport time\ntime.sleep(0.6)\n```";
    let slower = "```python\nimport time\ntime.sleep(0.7)\n```";
    let mock = MockLlm::start(vec![
        Step::Reply(slow),
        Step::Reply(slower),
        Step::Reply(slow),
    ]);
    let run = run_agent("openai", &mock, &["--max-seconds", "1"]);
    assert_eq!(run.code, 1);
    let end = end_of(&run);
    assert_eq!(end["reason"], "wall_budget", "{end}");
    assert_eq!(
        end["turns"], 2,
        "two sleeps of more than half the budget use it up"
    );
}
