//! `codeact mcp` against real clients: the official MCP Python SDK
//! (tests/mcp/client.py, in the venv scripts/mcp-setup.sh makes) over stdio
//! and streamable HTTP, and raw JSON-RPC lines and HTTP requests for what
//! no well-behaved client sends.
//!
//! A second client, the MCP Inspector's CLI, guards against testing only
//! against one implementation. The client tests need what
//! scripts/mcp-setup.sh installs (scripts/test.sh sets both variables):
//! `CODEACT_MCP_PYTHON=.mcp/venv/bin/python CODEACT_MCP_INSPECTOR=.mcp/inspector
//! cargo test --test mcp -- --ignored`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value as Json};

/// Runs a client.py scenario; returns the JSON it printed.
fn client(scenario: &str, transport: &[&str]) -> Json {
    let python = std::env::var("CODEACT_MCP_PYTHON")
        .expect("CODEACT_MCP_PYTHON: the venv's python (scripts/mcp-setup.sh)");
    let out = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py"))
        .arg(scenario)
        .args(transport)
        .output()
        .expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{scenario}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{scenario}: not JSON ({e}): {stdout}"))
}

/// `client` against a fresh `codeact mcp ARGS` over stdio.
fn over_stdio(scenario: &str, args: &[&str]) -> Json {
    let exe = common::exe();
    let mut transport = vec!["stdio", exe.to_str().unwrap()];
    transport.extend_from_slice(args);
    client(scenario, &transport)
}

/// A `codeact mcp --http` server, killed when dropped.
struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(common::exe())
            .arg("mcp")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server says where it serves")
                .unwrap();
            if let Some(at) = line.find("http://") {
                break line[at..].split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        HttpServer { child, url }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token_file() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("test-token-{}-0123456789", std::process::id());
    let path = dir.path().join("token");
    std::fs::write(&path, format!("{token}\n")).unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, token, path)
}

fn check_basics(out: &Json) {
    let tools = &out["tools"];
    for name in ["execute", "stop_robot", "reset", "robot_state", "picture"] {
        assert!(tools.get(name).is_some(), "{name} missing: {tools}");
    }
    let execute = &tools["execute"];
    assert_eq!(execute["schema"]["required"], json!(["code"]));
    assert_eq!(execute["schema"]["properties"]["code"]["type"], "string");
    assert!(
        execute["description"]
            .as_str()
            .unwrap()
            .contains("def move_to(x: float, y: float"),
        "the API text is in execute's description"
    );
    // The API text once per session: in the description, not the instructions.
    let description = execute["description"].as_str().unwrap();
    let instructions = out["instructions"].as_str().unwrap();
    assert!(!instructions.contains("def go_to("), "{instructions}");
    assert!(instructions.contains("codeact://api"), "{instructions}");
    // The world: zones with their extents, furniture, the map's size.
    assert!(
        description.contains("# The world")
            && description.contains("blue_zone (x ")
            && description.contains(" m x "),
        "{description}"
    );
    assert_eq!(
        execute["destructive"], false,
        "the simulator is not destructive"
    );
    // Variables persist; the result is text and structure.
    assert_eq!(out["kept"]["result"], "42");
    assert_eq!(out["kept"]["is_error"], false);
    assert!(out["kept"]["text"].as_str().unwrap().starts_with("Out: 42"));
    // An exception: isError, the traceback in the text and the structure.
    assert_eq!(out["failed"]["is_error"], true);
    assert_eq!(out["failed"]["error"]["type"], "ZeroDivisionError");
    let failed = out["failed"]["text"].as_str().unwrap();
    assert!(
        failed.contains("return 1 / n") && failed.contains("ZeroDivisionError"),
        "{failed}"
    );
    // A picture the code shows comes as image content.
    assert_eq!(
        out["shown"],
        json!([{"mime": "image/png", "head": "89504e470d0a1a0a"}])
    );
    // The picture is a PNG.
    assert_eq!(out["picture"]["mime"], "image/png");
    assert_eq!(out["picture"]["head"], "89504e470d0a1a0a");
    assert!(out["state"].as_str().unwrap().starts_with("pose ("));
    assert_eq!(
        out["resources"],
        json!(["codeact://api", "codeact://map.png", "codeact://state"])
    );
    assert!(out["api"].as_str().unwrap().contains("def get_pose()"));
    assert_eq!(out["state_resource"]["busy"], false);
    assert!(out["state_resource"]["state"]
        .as_str()
        .unwrap()
        .starts_with("pose ("));
    assert_eq!(out["map_resource"]["mime"], "image/png");
    assert_eq!(out["map_resource"]["head"], "89504e470d0a1a0a");
    // A long observation is cut in the middle to --max-output, its end kept.
    let long = &out["long"];
    assert!(long["chars"].as_u64().unwrap() <= 20_100, "{long}");
    assert!(long["tail"].as_str().unwrap().contains("99999\n"));
    assert_eq!(out["reset"]["after"], "NameError", "reset clears variables");
}

#[test]
#[ignore = "needs the MCP Python SDK: CODEACT_MCP_PYTHON=.mcp/venv/bin/python (scripts/mcp-setup.sh)"]
fn the_python_sdk_over_stdio_lists_tools_runs_code_and_gets_errors_pictures_and_resources() {
    let out = over_stdio("basics", &["--world", "small_room"]);
    check_basics(&out);
}

#[test]
#[ignore = "needs the MCP Python SDK: CODEACT_MCP_PYTHON=.mcp/venv/bin/python (scripts/mcp-setup.sh)"]
fn progress_notifications_carry_live_output() {
    let out = over_stdio("progress", &["--world", "small_room"]);
    assert_eq!(out["progress"], json!(["step 0\n", "step 1\n", "step 2\n"]));
    assert_eq!(out["result"], "'done'");
}

#[test]
#[ignore = "needs the MCP Python SDK: CODEACT_MCP_PYTHON=.mcp/venv/bin/python (scripts/mcp-setup.sh)"]
fn a_cancelled_execute_interrupts_a_long_drive_and_the_robot_stops() {
    // In real time, so that the 30 s drive is still going when cancelled.
    let out = over_stdio("cancel", &["--world", "small_room", "--realtime"]);
    assert!(
        out["idle_after"].as_f64().unwrap() < 20.0,
        "the drive did not run its 30 s: {out}"
    );
    assert_eq!(out["moved_after"], "0.0", "at rest after the cancel: {out}");
}

#[test]
#[ignore = "needs the MCP Python SDK: CODEACT_MCP_PYTHON=.mcp/venv/bin/python (scripts/mcp-setup.sh)"]
fn stop_robot_during_a_running_execute_stops_it() {
    let out = over_stdio("stop", &["--world", "small_room", "--realtime"]);
    assert_eq!(out["execute"]["status"], "interrupted", "{out}");
    assert_eq!(out["execute"]["is_error"], true);
    assert!(out["execute"]["seconds"].as_f64().unwrap() < 20.0, "{out}");
    assert!(out["stop"].as_str().unwrap().contains("interrupted"));
    assert_eq!(out["moved_after"], "0.0", "at rest after stop_robot: {out}");
}

#[test]
#[ignore = "needs the MCP Python SDK: CODEACT_MCP_PYTHON=.mcp/venv/bin/python (scripts/mcp-setup.sh)"]
fn an_execute_right_after_a_cancel_waits_for_the_stop_and_runs() {
    // The cancelled action takes 0.5 s to stop (a finally block).
    let out = over_stdio("cancel_then_execute", &["--skills", "test"]);
    assert_eq!(out["is_error"], false, "{out}");
    assert_eq!(out["result"], "2", "{out}");
}

#[test]
#[ignore = "needs the MCP Python SDK: CODEACT_MCP_PYTHON=.mcp/venv/bin/python (scripts/mcp-setup.sh)"]
fn a_fleet_world_is_driven_and_stopped_whole_over_mcp() {
    let out = over_stdio("fleet", &["--world", "warehouse_duo", "--realtime", "1"]);
    let text = |k: &str| out[k].as_str().unwrap_or_default().to_owned();
    let execute = text("execute");
    // The world's summary names each robot and where it started.
    assert!(execute.contains("Robot beta (radius"), "{execute}");
    assert_eq!(out["moved"]["is_error"], false, "{}", out["moved"]);
    let moved = out["moved"]["text"].as_str().unwrap();
    assert!(moved.contains("['alpha', 'beta'] 2.0"), "{moved}");
    let state = text("state");
    assert!(
        state.contains("alpha: pose") && state.contains("beta: pose"),
        "{state}"
    );
    assert!(text("drive").contains("interrupted"), "{}", text("drive"));
    // stop_robot stopped both: neither moves in the second after.
    assert!(text("rest").starts_with("0.0 0.0"), "{}", text("rest"));
}

#[test]
#[ignore = "needs the MCP Python SDK: CODEACT_MCP_PYTHON=.mcp/venv/bin/python (scripts/mcp-setup.sh)"]
fn a_second_execute_while_one_runs_is_refused_as_busy() {
    let out = over_stdio("busy", &["--skills", "test"]);
    assert_eq!(out["second"]["is_error"], true);
    assert!(out["second"]["text"].as_str().unwrap().contains("busy"));
}

#[test]
#[ignore = "needs the MCP Python SDK: CODEACT_MCP_PYTHON=.mcp/venv/bin/python (scripts/mcp-setup.sh)"]
fn the_python_sdk_over_streamable_http_with_a_token() {
    let (_dir, token, path) = token_file();
    let server = HttpServer::start(&[
        "--world",
        "small_room",
        "--http",
        "127.0.0.1:0",
        "--token-file",
        &path,
    ]);
    let out = client("basics", &["http", &server.url, &token]);
    check_basics(&out);
}

/// A raw HTTP POST; returns status and body.
fn post(url: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    // reqwest is built without a default TLS provider; plain HTTP needs one installed all the same.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::blocking::Client::builder()
        .no_proxy()
        .build()
        .unwrap();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned());
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().unwrap();
    (
        response.status().as_u16(),
        response.text().unwrap_or_default(),
    )
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;

#[test]
fn http_needs_its_token_refuses_a_bad_origin_and_answers_malformed_json_with_a_parse_error() {
    let (_dir, token, path) = token_file();
    // Every interface: only with a token.
    let refused = Command::new(common::exe())
        .args(["mcp", "--skills", "test", "--http", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("not a loopback address") && why.contains("--token-file"),
        "{why}"
    );

    let server = HttpServer::start(&[
        "--skills",
        "test",
        "--http",
        "0.0.0.0:0",
        "--token-file",
        &path,
    ]);
    let port = server
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/mcp");
    let url = format!("http://127.0.0.1:{port}/mcp");
    let bearer = format!("Bearer {token}");
    let (status, _) = post(&url, &[], INITIALIZE);
    assert_eq!(status, 401, "no token");
    let (status, _) = post(
        &url,
        &[("authorization", "Bearer wrong-token-0123456789")],
        INITIALIZE,
    );
    assert_eq!(status, 401, "a wrong token");
    let (status, body) = post(
        &url,
        &[
            ("authorization", &bearer),
            ("origin", "http://evil.example"),
        ],
        INITIALIZE,
    );
    assert_eq!(status, 403, "a foreign origin: {body}");
    let (status, body) = post(&url, &[("authorization", &bearer)], "{not json");
    assert_eq!(status, 400);
    let error: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], -32700, "{body}");
    // The server lives on.
    let (status, body) = post(
        &url,
        &[
            ("authorization", &bearer),
            ("origin", "http://localhost:3000"),
        ],
        INITIALIZE,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"serverInfo\""), "{body}");
}

#[test]
fn stdio_answers_a_line_that_is_not_json_and_goes_on_for_old_and_new_clients() {
    for version in ["2024-11-05", "2025-06-18", "2025-11-25"] {
        let mut command = Command::new(common::exe());
        command.args(["mcp", "--skills", "test"]);
        let mut server = common::JsonLines::spawn(command);
        server.send(&INITIALIZE.replace("2025-06-18", version));
        let ready = server.next();
        assert_eq!(ready["result"]["protocolVersion"], version, "{ready}");
        server.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        server.send("this is not json");
        let error = server.next();
        assert_eq!(error["error"]["code"], -32700, "{error}");
        assert_eq!(error["id"], Json::Null);
        server.send(
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"execute","arguments":{"code":"add(40, 2)"}}}"#,
        );
        let done = server.next();
        assert_eq!(done["id"], 2, "{done}");
        assert_eq!(
            done["result"]["structuredContent"]["result"], "42.0",
            "{done}"
        );
        assert!(server.close().success());
    }
}

#[test]
fn sigterm_and_sigint_end_the_server_in_order_even_mid_action() {
    use nix::sys::signal::Signal;
    for (signal, code) in [(Signal::SIGTERM, 143), (Signal::SIGINT, 130)] {
        let mut command = Command::new(common::exe());
        command.args(["mcp", "--skills", "test"]);
        let mut server = common::JsonLines::spawn(command);
        let pid = server.pid();
        server.send(INITIALIZE);
        server.next();
        server.send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        server.send(
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"execute","arguments":{"code":"import time\nprint('go', flush=True)\ntime.sleep(30)"},"_meta":{"progressToken":7}}}"#,
        );
        let progress = server.next();
        assert_eq!(progress["params"]["message"], "go\n", "{progress}");
        let workspace = std::path::PathBuf::from(format!("/tmp/codeact-{pid}-0"));
        assert!(workspace.exists(), "the session's workspace while it runs");
        let status = server.signal(signal);
        assert_eq!(status.code(), Some(code), "{signal:?}");
        assert!(!workspace.exists(), "{signal:?}: the workspace was removed");
        assert_eq!(common::cgroups_of(pid), Vec::<std::path::PathBuf>::new());
    }
}

/// The MCP Inspector's CLI (a second, independent client): its JSON answer.
fn inspector(args: &[&str]) -> Json {
    let dir = PathBuf::from(
        std::env::var("CODEACT_MCP_INSPECTOR")
            .expect("CODEACT_MCP_INSPECTOR: the folder scripts/mcp-setup.sh installs it in"),
    );
    let catalog = tempfile::tempdir().unwrap();
    let out =
        Command::new(dir.join("node"))
            .arg(dir.join(
                "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js",
            ))
            .arg("--cli")
            .args(args)
            .env("MCP_CATALOG_PATH", catalog.path().join("mcp.json"))
            .output()
            .expect("the Inspector runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[test]
#[ignore = "needs the MCP Inspector: CODEACT_MCP_INSPECTOR=.mcp/inspector (scripts/mcp-setup.sh)"]
fn the_mcp_inspector_lists_and_calls_tools_over_stdio_and_http() {
    let exe = common::exe();
    let exe = exe.to_str().unwrap();
    let tools = inspector(&[exe, "mcp", "--skills", "test", "--method", "tools/list"]);
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["execute", "stop_robot", "reset", "robot_state", "picture"]
    );
    let call = [
        "--method",
        "tools/call",
        "--tool-name",
        "execute",
        "--tool-arg",
        "code=add(40, 2)",
    ];
    let mut args = vec![exe, "mcp", "--skills", "test"];
    args.extend(call);
    let done = inspector(&args);
    assert_eq!(done["structuredContent"]["result"], "42.0", "{done}");
    assert_eq!(done["isError"], false);

    let (_dir, token, path) = token_file();
    let server = HttpServer::start(&[
        "--skills",
        "test",
        "--http",
        "127.0.0.1:0",
        "--token-file",
        &path,
    ]);
    let header = format!("Authorization: Bearer {token}");
    let mut args = vec![
        server.url.as_str(),
        "--transport",
        "http",
        "--header",
        &header,
    ];
    args.extend(call);
    let done = inspector(&args);
    assert_eq!(done["structuredContent"]["result"], "42.0", "{done}");
}
