//! The skill library: functions saved with `save_skill` in one session are
//! there, with their docstrings, in the next session, the REPL, the agent
//! loop and `codeact skills`; bad saves are refused; a broken module is
//! reported while the rest loads. Every session is a real `codeact` process.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

use codeact::executor::client::SessionClient;
use codeact::executor::protocol::{Reply, Request};
use codeact::executor::{Observation, Status};
use common::mock_llm::{MockLlm, Step};
use serde_json::json;

/// A `codeact session` on the small room with the library at `dir`.
fn session(dir: &Path) -> SessionClient {
    let mut command = Command::new(common::exe());
    command.args(["session", "--world", "small_room", "--library"]);
    command.arg(dir);
    SessionClient::start(command).expect("the session starts")
}

fn execute(client: &mut SessionClient, code: &str) -> Observation {
    client
        .send(&Request::Execute {
            id: json!(1),
            code: code.into(),
            timeout: None,
        })
        .unwrap();
    loop {
        match client.recv().unwrap() {
            Reply::Observation { observation, .. } => return *observation,
            Reply::Output { .. } => {}
            other => panic!("unexpected reply {other:?}"),
        }
    }
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

const DISTANCE: &str = r#"
def distance_to(x: float = 0.0, y: float = 0.0) -> float:
    """Straight-line distance from the robot to (x, y), metres."""
    p = get_pose()
    return math.hypot(p.x - x, p.y - y)
"#;

#[test]
fn a_saved_function_is_there_with_its_docstring_in_the_next_session() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("skills");
    let mut first = session(&dir);
    assert_eq!(first.ready().library.dir.as_deref(), Some(dir.as_path()));
    assert!(first.ready().library.functions.is_empty());
    assert!(first.ready().skills.iter().any(|s| s == "save_skill"));
    let obs = execute(&mut first, &format!("{DISTANCE}\nsave_skill(distance_to)"));
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let written = dir.join("distance_to.py");
    assert_eq!(
        obs.result.as_deref(),
        Some(format!("'saved {}'", written.display()).as_str())
    );
    assert_eq!(
        std::fs::read_to_string(&written).unwrap(),
        DISTANCE.trim_start()
    );
    // Saved under another name, it is callable by that name at once.
    let obs = execute(
        &mut first,
        "save_skill(distance_to, name='how_far')\nhow_far(0.0, 0.0) == distance_to()",
    );
    assert_eq!(obs.result.as_deref(), Some("True"), "{}", obs.render());
    assert_eq!(files(&dir), ["distance_to.py", "how_far.py"]);
    first.close().unwrap();

    // A fresh session (a new process) loads both, lists them and runs them.
    let mut second = session(&dir);
    let library = second.ready().library.clone();
    let names: Vec<&str> = library.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["distance_to", "how_far"]);
    assert_eq!(
        library.functions[0].signature,
        "(x: float = 0.0, y: float = 0.0) -> float"
    );
    assert_eq!(
        library.functions[0].doc,
        "Straight-line distance from the robot to (x, y), metres."
    );
    assert!(library.broken.is_empty(), "{:?}", library.broken);
    let obs = execute(
        &mut second,
        "p = get_pose()\nabs(distance_to(1.0, 2.0) - math.hypot(p.x - 1.0, p.y - 2.0)) < 1e-12",
    );
    assert_eq!(obs.result.as_deref(), Some("True"), "{}", obs.render());
    second.send(&Request::Skills { id: json!(2) }).unwrap();
    let Reply::Skills { api_text, .. } = second.recv().unwrap() else {
        panic!("expected the skills reply")
    };
    assert!(
        api_text.contains(
            "def distance_to(x: float = 0.0, y: float = 0.0) -> float:\n    \"\"\"Straight-line distance from the robot to (x, y), metres.\"\"\""
        ),
        "{api_text}"
    );
    second.close().unwrap();

    // `codeact skills` lists the same.
    let out = common::codeact([
        OsStr::new("skills"),
        OsStr::new("--library"),
        dir.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("2 function(s)")
            && text.contains(
                "distance_to(x: float = 0.0, y: float = 0.0) -> float    [distance_to.py]"
            )
            && text.contains("Straight-line distance"),
        "{text}"
    );
}

#[test]
fn saves_that_would_not_work_later_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("skills");
    let mut client = session(&dir);
    let refused = [
        // Shadows a skill, by its own name or the one asked for.
        (
            "def get_pose():\n    \"\"\"Mine.\"\"\"\n    return 1\nsave_skill(get_pose)",
            "would shadow the skill or built-in get_pose()",
        ),
        (
            &format!("{DISTANCE}\nsave_skill(distance_to, name='move_to')"),
            "would shadow the skill or built-in move_to()",
        ),
        (
            "def nodoc():\n    return 1\nsave_skill(nodoc)",
            "nodoc has no docstring",
        ),
        (
            "LIMIT = 3\ndef capped(n):\n    \"\"\"Caps n.\"\"\"\n    return min(n, LIMIT)\nsave_skill(capped)",
            "capped uses LIMIT, which will not exist",
        ),
        (
            "save_skill(lambda: 1)",
            "a lambda has no name or docstring",
        ),
        (
            "def outer():\n    def inner():\n        \"\"\"In.\"\"\"\n    return inner\nsave_skill(outer())",
            "inner is defined inside another function",
        ),
        ("save_skill(print)", "takes a function defined with def"),
        (
            &format!("{DISTANCE}\nsave_skill(distance_to, name='../escape')"),
            "is not a function name",
        ),
    ];
    for (code, expected) in refused {
        let obs = execute(&mut client, code);
        let error = obs
            .error
            .as_ref()
            .unwrap_or_else(|| panic!("{code} was not refused: {}", obs.render()));
        assert!(
            error.message.contains(expected),
            "{code}: {}",
            error.message
        );
    }
    assert!(files(&dir).is_empty(), "{:?}", files(&dir));
    assert!(!tmp.path().join("escape.py").exists());
    // A function that calls a saved one and imports what it needs may be saved.
    let obs = execute(
        &mut client,
        &format!("{DISTANCE}\nsave_skill(distance_to)\ndef far(limit: float) -> bool:\n    \"\"\"Whether the origin is beyond limit metres.\"\"\"\n    import numpy as np\n    return bool(np.float64(distance_to()) > limit)\nsave_skill(far)\nfar(0.1)"),
    );
    assert_eq!(obs.result.as_deref(), Some("True"), "{}", obs.render());
    assert_eq!(files(&dir), ["distance_to.py", "far.py"]);
    client.close().unwrap();
}

#[test]
fn a_broken_module_is_reported_with_its_traceback_and_the_rest_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("skills");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("a_syntax.py"), "def broken(:\n    pass\n").unwrap();
    std::fs::write(
        dir.join("b_import.py"),
        "def helper():\n    \"\"\"Never loaded.\"\"\"\n\nVALUE = undefined_name + 1\n",
    )
    .unwrap();
    // Loading runs in the sandbox: writing outside the workspace fails.
    std::fs::write(
        dir.join("c_escape.py"),
        format!(
            "open({:?}, 'w').write('out')\n",
            tmp.path().join("escaped.txt")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("d_good.py"),
        "def twice(n: int) -> int:\n    \"\"\"Two times n.\"\"\"\n    return 2 * n\n\ndef move_to(x, y):\n    \"\"\"A shadow.\"\"\"\n",
    )
    .unwrap();
    let mut client = session(&dir);
    let library = client.ready().library.clone();
    let names: Vec<&str> = library.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["twice"]);
    let broken: Vec<(String, &str)> = library
        .broken
        .iter()
        .map(|b| {
            (
                b.module.file_name().unwrap().to_string_lossy().into_owned(),
                b.error.as_str(),
            )
        })
        .collect();
    assert_eq!(broken.len(), 4, "{broken:?}");
    assert_eq!(broken[0].0, "a_syntax.py");
    assert!(
        broken[0].1.contains("line 1") && broken[0].1.contains("SyntaxError"),
        "{}",
        broken[0].1
    );
    assert_eq!(broken[1].0, "b_import.py");
    assert!(
        broken[1].1.contains("Traceback")
            && broken[1].1.contains("line 4")
            && broken[1]
                .1
                .contains("NameError: name 'undefined_name' is not defined"),
        "{}",
        broken[1].1
    );
    assert_eq!(broken[2].0, "c_escape.py");
    assert!(broken[2].1.contains("PermissionError"), "{}", broken[2].1);
    assert!(!tmp.path().join("escaped.txt").exists());
    assert_eq!(broken[3].0, "d_good.py");
    assert!(
        broken[3]
            .1
            .contains("move_to() was not loaded: it would shadow the skill"),
        "{}",
        broken[3].1
    );
    // The rest works, and the real move_to is untouched.
    let obs = execute(&mut client, "twice(21), move_to.__module__");
    assert_eq!(
        obs.result.as_deref(),
        Some("(42, 'robot')"),
        "{}",
        obs.render()
    );
    client.close().unwrap();

    // doctor and `codeact skills` say the same, and skills fails for it.
    let doctor = common::codeact([
        OsStr::new("doctor"),
        OsStr::new("--library"),
        dir.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        text.contains("1 function(s): twice")
            && text.contains("a_syntax.py has a problem")
            && text.contains("NameError"),
        "{text}"
    );
    let skills = common::codeact([
        OsStr::new("skills"),
        OsStr::new("--library"),
        dir.as_os_str(),
    ]);
    assert_eq!(skills.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&skills.stdout).contains("b_import.py has a problem"));
}

#[test]
fn a_module_that_never_finishes_loading_is_stopped_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("spin.py"), "while True:\n    pass\n").unwrap();
    std::fs::write(
        tmp.path().join("ok.py"),
        "def one() -> int:\n    \"\"\"One.\"\"\"\n    return 1\n",
    )
    .unwrap();
    let mut client = session(tmp.path());
    let library = client.ready().library.clone();
    assert_eq!(library.functions.len(), 1);
    assert!(
        library.broken[0]
            .error
            .contains("LibraryLoadTimeout: loading took more than 5 s"),
        "{:?}",
        library.broken
    );
    assert_eq!(execute(&mut client, "one()").result.as_deref(), Some("1"));
    client.close().unwrap();
}

#[test]
fn the_repl_saves_with_a_command_and_lists_the_library_at_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("skills");
    let mut child = Command::new(common::exe())
        .args(["repl", "--world", "small_room", "--library"])
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"def spin_once() -> None:\n    \"\"\"Turn a full circle in place.\"\"\"\n    rotate(2 * math.pi)\n\n:save spin_once\n:save 1bad\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("empty (save_skill(fn) or :save NAME adds to it)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("saved {}", dir.join("spin_once.py").display())),
        "{stdout}"
    );
    assert!(stderr.contains("usage: :save NAME"), "{stderr}");
    assert_eq!(files(&dir), ["spin_once.py"]);

    let out = Command::new(common::exe())
        .args(["repl", "--world", "small_room", "--library"])
        .arg(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("skill library {}: spin_once", dir.display())),
        "{stdout}"
    );
}

#[test]
fn the_agent_loop_reads_the_library_and_its_replay_loads_the_same_one() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("skills");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("distance_to.py"), DISTANCE.trim_start()).unwrap();
    let mock = MockLlm::start(vec![Step::Reply(
        "```python\nd = distance_to(1.0, 1.0)\nprint(f'{d:.3f}')\ndef half(v: float) -> float:\n    \"\"\"Half of v.\"\"\"\n    return v / 2\nsave_skill(half)\ndone(f'{half(d):.3f}')\n```",
    )]);
    let runs = tmp.path().join("runs");
    let out = Command::new(common::exe())
        .args([
            "run",
            "--world",
            "small_room",
            "--task",
            "how far is (1, 1)?",
        ])
        .args(["--llm", "openai:mock-model", "--base-url"])
        .arg(format!("http://127.0.0.1:{}/v1", mock.port))
        .arg("--runs-dir")
        .arg(&runs)
        .arg("--library")
        .arg(&dir)
        .env("OPENAI_API_KEY", "sk-test")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The model was shown the library's function, before the world.
    let system = mock.seen()[0].body["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = system
        .find("def distance_to(x: float = 0.0, y: float = 0.0) -> float:")
        .unwrap_or_else(|| panic!("{system}"));
    assert!(at < system.find("# The world").unwrap());
    assert!(system.contains("def save_skill(function: object, name: str | None = None) -> str:"));
    assert_eq!(files(&dir), ["distance_to.py", "half.py"]);
    // The run kept the library as it started; its replay loads that copy
    // (and saves into a copy of its own, not into the user's library).
    let run = std::fs::read_dir(&runs)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(files(&run.join("library")), ["distance_to.py"]);
    std::fs::remove_file(dir.join("half.py")).unwrap();
    let replay = Command::new(common::exe())
        .arg("replay")
        .arg(&run)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(text.contains("same final world state"), "{text}");
    assert_eq!(files(&dir), ["distance_to.py"]);
    assert_eq!(files(&run.join("library")), ["distance_to.py"]);
}

#[test]
fn a_world_file_names_its_library_relative_to_itself() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("lib")).unwrap();
    std::fs::write(
        tmp.path().join("lib/greet.py"),
        "def greet() -> str:\n    \"\"\"Hello.\"\"\"\n    return 'hi'\n",
    )
    .unwrap();
    let world = tmp.path().join("room.yaml");
    std::fs::write(
        &world,
        "name: room\nboundary: [4, 4]\nrobot: {start: [1, 1, 0]}\nskill_library: lib\n",
    )
    .unwrap();
    let out = common::codeact([
        OsStr::new("skills"),
        OsStr::new("--world"),
        world.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!(
            "skill library {}: 1 function(s)",
            tmp.path().join("lib").display()
        )) && text.contains("greet() -> str    [greet.py]"),
        "{text}"
    );
    // --library wins over the file; --no-library has none.
    let out = common::codeact([
        OsStr::new("skills"),
        OsStr::new("--no-library"),
        OsStr::new("--world"),
        world.as_os_str(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no skill library"));
}

#[test]
fn codeact_api_shows_the_library_functions_too() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("greet.py"), "def greet(name: str) -> str:\n    \"\"\"Say hello to name.\"\"\"\n    return 'hi ' + name\n").unwrap();
    let out = common::codeact([
        OsStr::new("api"),
        OsStr::new("--library"),
        tmp.path().as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("def save_skill(")
            && text.contains("def greet(name: str) -> str:\n    \"\"\"Say hello to name.\"\"\""),
        "{text}"
    );
}
