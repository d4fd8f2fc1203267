//! `codeact session` driven as a real child process over JSON lines.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::Value;

#[test]
fn requests_are_answered_with_their_ids_and_bad_input_gets_clear_errors() {
    let mut child = Command::new(common::exe())
        .args(["session", "--skills", "test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next =
        move || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };

    let ready = next();
    assert_eq!(ready["type"], "ready");
    assert!(ready["skills"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s == "echo"));

    writeln!(
        stdin,
        r#"{{"type":"execute","id":"a","code":"print('hi')\n6 * 7"}}"#
    )
    .unwrap();
    let out = next();
    assert_eq!(
        (
            out["type"].as_str(),
            out["id"].as_str(),
            out["text"].as_str()
        ),
        (Some("output"), Some("a"), Some("hi\n"))
    );
    let obs = next();
    assert_eq!(obs["type"], "observation");
    assert_eq!(obs["id"], "a");
    assert_eq!(obs["status"], "ok");
    assert_eq!(obs["result"], "42");
    assert!(obs["text"].as_str().unwrap().contains("Out: 42"));

    // Not JSON, not UTF-8, unknown type, bad timeout: each an error, and the session goes on.
    writeln!(stdin, "this is not json").unwrap();
    assert!(next()["message"].as_str().unwrap().contains("bad request"));
    // A lone surrogate escape (as Python's json.dumps writes): the error still names the id.
    writeln!(
        stdin,
        r#"{{"type":"execute","id":"s1","code":"print('\ud800')"}}"#
    )
    .unwrap();
    let err = next();
    assert_eq!(
        (err["type"].as_str(), err["id"].as_str()),
        (Some("error"), Some("s1")),
        "{err}"
    );
    assert!(
        err["message"].as_str().unwrap().contains("surrogate"),
        "{err}"
    );
    stdin
        .write_all(b"{\"type\":\"execute\",\"id\":1,\"code\":\"\xff\"}\n")
        .unwrap();
    assert!(next()["message"]
        .as_str()
        .unwrap()
        .contains("not valid UTF-8"));
    writeln!(stdin, r#"{{"type":"launch","id":7}}"#).unwrap();
    let err = next();
    assert_eq!(
        (err["type"].as_str(), err["id"].as_i64()),
        (Some("error"), Some(7))
    );
    writeln!(
        stdin,
        r#"{{"type":"execute","id":8,"code":"1","timeout":-1}}"#
    )
    .unwrap();
    assert!(next()["message"].as_str().unwrap().contains("timeout"));

    writeln!(stdin, r#"{{"type":"skills","id":9}}"#).unwrap();
    let skills = next();
    assert!(skills["api_text"]
        .as_str()
        .unwrap()
        .contains("def echo(value: object) -> object:"));

    // An interrupt arriving while an action runs stops it.
    writeln!(
        stdin,
        r#"{{"type":"execute","id":10,"code":"print('go', flush=True)\nblock()"}}"#
    )
    .unwrap();
    assert_eq!(next()["text"], "go\n");
    writeln!(stdin, r#"{{"type":"interrupt"}}"#).unwrap();
    let mut msg = next();
    while msg["type"] != "observation" {
        msg = next();
    }
    assert_eq!(msg["id"], 10);
    assert_eq!(msg["status"], "interrupted");

    writeln!(stdin, r#"{{"type":"reset","id":11}}"#).unwrap();
    assert_eq!(next()["ok"], true);
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn logs_go_to_stderr_and_stdout_carries_only_the_protocol() {
    let mut child = Command::new(common::exe())
        .args(["-v", "session", "--skills", "test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(
        stdin,
        r#"{{"type":"execute","id":1,"code":"echo(1)\nfail('no', 'Blocked')"}}"#
    )
    .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("not protocol: {line:?}: {e}"));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("action{n=1}") && stderr.contains("finished status=\"error\""),
        "{stderr}"
    );
    // Without -v, the session says nothing on stderr.
    let quiet = Command::new(common::exe())
        .args(["session", "--skills", "test"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
}
