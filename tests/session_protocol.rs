//! `codeact session` driven as a real child process over JSON lines.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use codeact::executor::client::{ClientError, SessionClient};
use codeact::executor::protocol::{Reply, Request};
use codeact::executor::{Status, Stream};
use serde_json::{json, Value as Json};

fn start() -> SessionClient {
    let mut command = Command::new(common::exe());
    command.args(["session", "--skills", "test"]);
    SessionClient::start(command).expect("the session starts")
}

/// The message of an error reply, with the id it answers.
fn error(reply: Reply) -> (Json, String) {
    match reply {
        Reply::Error { id, message } => (id, message),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn requests_are_answered_with_their_ids_and_bad_input_gets_clear_errors() {
    let mut client = start();
    assert!(client.ready().skills.iter().any(|s| s == "echo"));

    client
        .send(&Request::Execute {
            id: json!("a"),
            code: "print('hi')\n6 * 7".into(),
            timeout: None,
        })
        .unwrap();
    assert_eq!(
        client.recv().unwrap(),
        Reply::Output {
            id: json!("a"),
            stream: Stream::Stdout,
            text: "hi\n".into()
        }
    );
    let Reply::Observation {
        id,
        text,
        observation,
    } = client.recv().unwrap()
    else {
        panic!("expected an observation")
    };
    assert_eq!(id, "a");
    assert_eq!(observation.status, Status::Ok);
    assert_eq!(observation.result.as_deref(), Some("42"));
    assert!(text.contains("Out: 42"));

    // Not JSON, not UTF-8, unknown type, bad timeout: each an error, and the session goes on.
    client.send_raw(b"this is not json\n").unwrap();
    assert!(error(client.recv().unwrap()).1.contains("bad request"));
    // A lone surrogate escape (as Python's json.dumps writes): the error still names the id.
    client
        .send_raw(b"{\"type\":\"execute\",\"id\":\"s1\",\"code\":\"print('\\ud800')\"}\n")
        .unwrap();
    let (id, message) = error(client.recv().unwrap());
    assert_eq!(id, "s1");
    assert!(message.contains("surrogate"), "{message}");
    client
        .send_raw(b"{\"type\":\"execute\",\"id\":1,\"code\":\"\xff\"}\n")
        .unwrap();
    assert!(error(client.recv().unwrap()).1.contains("not valid UTF-8"));
    client
        .send_raw(b"{\"type\":\"launch\",\"id\":7}\n")
        .unwrap();
    assert_eq!(error(client.recv().unwrap()).0, 7);
    let refused = client.execute("1", Some(-1.0), &mut |_, _| {});
    assert!(
        matches!(&refused, Err(ClientError::Refused(m)) if m.contains("timeout")),
        "{refused:?}"
    );

    client.send(&Request::Skills { id: json!(9) }).unwrap();
    let Reply::Skills { id, api_text, .. } = client.recv().unwrap() else {
        panic!("expected the skills")
    };
    assert_eq!(id, 9);
    assert!(api_text.contains("def echo(value: object) -> object:"));

    // An interrupt arriving while an action runs stops it.
    client
        .send(&Request::Execute {
            id: json!(10),
            code: "print('go', flush=True)\nblock()".into(),
            timeout: None,
        })
        .unwrap();
    assert!(matches!(client.recv().unwrap(), Reply::Output { text, .. } if text == "go\n"));
    client.send(&Request::Interrupt { id: Json::Null }).unwrap();
    let observation = loop {
        if let Reply::Observation {
            id, observation, ..
        } = client.recv().unwrap()
        {
            assert_eq!(id, 10);
            break observation;
        }
    };
    assert_eq!(observation.status, Status::Interrupted);

    client.send(&Request::Reset { id: json!(11) }).unwrap();
    assert_eq!(
        client.recv().unwrap(),
        Reply::Reset {
            id: json!(11),
            ok: true
        }
    );
    assert!(client.close().unwrap().success());
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
        serde_json::from_str::<Reply>(line)
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
