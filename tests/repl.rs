//! `codeact repl` and pictures: what `show()` attaches is saved (in the
//! workspace given, else where it stays after exit) with its path printed,
//! and drawn inline on a terminal (a real pseudo-terminal, through
//! util-linux's `script`).

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SHOW: &str = "show(get_camera_image(64, 48), 'the view')\n";

/// Runs `program` with `args`, types SHOW, and once `wait_for` is out
/// (input typed while an action runs is not kept), `:quit`; returns stdout.
fn repl_with(program: &str, args: &[&str], env: &[(&str, &str)], wait_for: &str) -> String {
    repl_typing(program, args, env, SHOW, wait_for).0
}

/// Runs `program` with `args`, types `typed`, and once `wait_for` is out
/// on stdout, `:quit`; returns stdout and stderr.
fn repl_typing(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    typed: &str,
    wait_for: &str,
) -> (String, String) {
    repl_steps(program, args, env, &[(typed, wait_for)])
}

/// Runs `program` with `args`; for each step types its text and waits until
/// its mark has come out on stdout once more than before; then `:quit`.
fn repl_steps(
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    steps: &[(&str, &str)],
) -> (String, String) {
    let mut child = Command::new(program)
        .args(args)
        .env("TERM", "xterm-256color")
        .env("COLORTERM", "truecolor")
        .env_remove("KITTY_WINDOW_ID")
        .env_remove("TERM_PROGRAM")
        .env_remove("LC_TERMINAL")
        .env_remove("KONSOLE_VERSION")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let count = |mark: &str| {
        String::from_utf8_lossy(&seen.lock().unwrap())
            .matches(mark)
            .count()
    };
    for (typed, wait_for) in steps {
        let before = count(wait_for);
        stdin.write_all(typed.as_bytes()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(wait_for) <= before {
            let so_far = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
            assert!(
                Instant::now() < deadline,
                "{wait_for:?} never came:\n{so_far}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    stdin.write_all(b":quit\n").unwrap();
    drop(stdin);
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let out = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(status.success(), "{status:?}\n{out}");
    (out, err)
}

#[test]
fn a_shown_picture_is_saved_in_the_workspace_and_its_path_printed() {
    let ws = tempfile::tempdir().unwrap();
    let exe = common::exe();
    let out = repl_with(
        exe.to_str().unwrap(),
        &[
            "repl",
            "--world",
            "small_room",
            "--workspace",
            ws.path().to_str().unwrap(),
        ],
        &[],
        "action1-1.png",
    );
    let path = ws.path().join("pictures/action1-1.png");
    assert!(out.contains("[picture 1: PNG 64x48, "), "{out}");
    assert!(
        out.contains(&format!("the view] {}", path.display())),
        "{out}"
    );
    let data = std::fs::read(&path).unwrap();
    let info = png::Decoder::new(std::io::Cursor::new(data))
        .read_info()
        .unwrap()
        .info()
        .clone();
    assert_eq!((info.width, info.height), (64, 48));
    assert!(
        !out.contains('▄'),
        "not drawn when stdout is not a terminal"
    );
}

#[test]
fn without_a_workspace_pictures_stay_after_exit_where_the_repl_says() {
    let state = tempfile::tempdir().unwrap();
    let exe = common::exe();
    let out = repl_with(
        exe.to_str().unwrap(),
        &["repl", "--world", "small_room"],
        &[("XDG_STATE_HOME", state.path().to_str().unwrap())],
        "action1-1.png",
    );
    let dir = state.path().join("codeact/pictures");
    let session = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let path = session.join("action1-1.png");
    assert!(path.is_file(), "kept after exit: {out}");
    assert!(out.contains(&path.display().to_string()), "{out}");
    assert!(
        out.contains(&format!(
            "the pictures of this session stay in {}",
            session.display()
        )),
        "{out}"
    );
}

#[test]
fn on_a_terminal_the_picture_is_drawn_inline() {
    let ws = tempfile::tempdir().unwrap();
    let command = format!(
        "{} repl --world small_room --workspace {}",
        common::exe().display(),
        ws.path().display()
    );
    // `script` runs the REPL on a pseudo-terminal of its own.
    let out = repl_with("script", &["-qfec", &command, "/dev/null"], &[], "[2]>>>");
    assert!(out.contains("pictures/action1-1.png"), "{out}");
    let blocks = out.matches('▄').count();
    assert!(
        blocks >= 60 * 10,
        "drawn in coloured half blocks, 60 columns wide: {blocks} blocks\n{out}"
    );
    assert!(out.contains("\x1b[38;2;"), "in true colour");

    let out = repl_with(
        "script",
        &["-qfec", &command, "/dev/null"],
        &[("CODEACT_INLINE_IMAGES", "0")],
        "[2]>>>",
    );
    assert!(out.contains("pictures/action1-1.png"), "{out}");
    assert!(
        !out.contains('▄'),
        "CODEACT_INLINE_IMAGES=0 turns drawing off"
    );
}

#[test]
fn a_syntax_error_inside_an_open_block_is_reported_at_once() {
    // No empty line closes the block: the error alone ends the input.
    let state = tempfile::tempdir().unwrap();
    let exe = common::exe();
    let (out, err) = repl_typing(
        exe.to_str().unwrap(),
        &["repl", "--world", "small_room", "--no-library"],
        &[("XDG_STATE_HOME", state.path().to_str().unwrap())],
        "for i in range(3):\n    x = = 1\n",
        "[error in",
    );
    assert!(
        err.contains("SyntaxError") && err.contains("x = = 1"),
        "the error and its line: {out}\n{err}"
    );
    assert!(!err.contains("ast.py"), "no internal frame: {err}");
}

/// `--preview show`: the verdict and the predicted path come before the
/// action runs, and it runs only when the person says y.
#[test]
fn with_preview_show_the_person_sees_the_verdict_and_decides() {
    let ws = tempfile::tempdir().unwrap();
    let exe = common::exe();
    // The prompts are not printed when stdin is not a terminal: each step
    // waits for what the REPL prints instead.
    let drive = "drive(0.3, 0.0, 2.0); print('drove')\n";
    let moved = "print('moved', round(get_pose().distance_to(p0), 1))\n";
    let verdict = "predicted path:";
    let (out, err) = repl_steps(
        exe.to_str().unwrap(),
        &[
            "repl",
            "--world",
            "small_room",
            "--preview",
            "show",
            "--workspace",
            ws.path().to_str().unwrap(),
            "--no-library",
        ],
        &[],
        &[
            ("p0 = get_pose(); print('start')\n", verdict),
            ("y\n", "start"),
            (drive, verdict),
            ("n\n", "not run"),
            (moved, verdict),
            ("y\n", "moved 0.0"),
            (drive, verdict),
            ("y\n", "drove"),
            (moved, verdict),
            ("y\n", "moved 0.6"),
        ],
    );
    assert!(
        out.contains("Preview: the rehearsal on a twin of the robot passed."),
        "{out}\n{err}"
    );
    assert!(out.contains("would move the robot from"), "{out}");
    assert!(out.contains("predicted path:"), "{out}");
    assert!(ws.path().join("pictures").is_dir(), "{out}");
}
