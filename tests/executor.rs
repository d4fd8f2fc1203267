//! The executor's behaviour through its library API: namespace, observations,
//! skills, time limits, interrupts, output handling.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use codeact::executor::{CallOutcome, Status, Stream};
use common::{assert_alive, run, run_timeout, session, session_with};

#[test]
fn namespace_persists_and_last_expression_is_the_result() {
    let (mut s, probe) = session();
    let obs = run(
        &mut s,
        "x = 20\ndef double(v):\n    return 2 * v\nprint('set')",
    );
    assert_eq!(obs.status, Status::Ok);
    assert_eq!(obs.output_text(), "set\n");
    assert_eq!(obs.result, None);
    let obs = run(&mut s, "double(x) + 2");
    assert_eq!(obs.result.as_deref(), Some("42"));
    assert!(!obs.safe_stop);
    assert_eq!(probe.safe_stops(), 0);
    // A trailing expression that is None shows no result.
    assert_eq!(run(&mut s, "None").result, None);
}

#[test]
fn stdout_and_stderr_keep_the_order_they_were_written_in() {
    let (mut s, _) = session();
    let obs = run(
        &mut s,
        "import sys\nprint('one')\nprint('two', file=sys.stderr)\nprint('three')",
    );
    let streams: Vec<(Stream, &str)> = obs
        .output
        .iter()
        .map(|c| (c.stream, c.text.as_str()))
        .collect();
    assert_eq!(
        streams,
        vec![
            (Stream::Stdout, "one\n"),
            (Stream::Stderr, "two\n"),
            (Stream::Stdout, "three\n")
        ]
    );
}

#[test]
fn errors_show_the_actions_own_lines_without_executor_frames() {
    let (mut s, probe) = session();
    run(&mut s, "def inner(d):\n    return d['missing']");
    let obs = run(&mut s, "data = {}\ninner(data)");
    assert_eq!(obs.status, Status::Error);
    let err = obs.error.as_ref().unwrap();
    assert_eq!(err.type_name, "KeyError");
    assert_eq!(err.line, Some(2));
    assert!(
        err.traceback.contains("File \"<action 2>\", line 2"),
        "{}",
        err.traceback
    );
    assert!(
        err.traceback
            .contains("File \"<action 1>\", line 2, in inner"),
        "{}",
        err.traceback
    );
    assert!(
        err.traceback.contains("return d['missing']"),
        "{}",
        err.traceback
    );
    assert!(!err.traceback.contains("<codeact>"), "{}", err.traceback);
    assert!(obs.safe_stop);
    assert_eq!(probe.safe_stops(), 1);
}

#[test]
fn a_syntax_error_points_at_its_line() {
    let (mut s, _) = session();
    let obs = run(&mut s, "x = 1\nif x > 0\n    print(x)");
    assert_eq!(obs.status, Status::Error);
    let err = obs.error.unwrap();
    assert_eq!(err.type_name, "SyntaxError");
    assert_eq!(err.line, Some(2));
    assert!(err.traceback.contains("if x > 0"), "{}", err.traceback);
    assert!(err.traceback.contains('^'), "{}", err.traceback);
    // Only the place in the action: no parser frame (ast.py) before it.
    assert!(
        err.traceback.starts_with("  File \"<action 1>\", line 2")
            && !err.traceback.contains("ast.py"),
        "{}",
        err.traceback
    );
    // A syntax error the code itself provokes keeps the code's frames.
    let obs = run(
        &mut s,
        "def f():\n    return compile('x = = 1', 'mine', 'exec')\nf()",
    );
    let err = obs.error.unwrap();
    assert!(err.traceback.contains("line 2, in f"), "{}", err.traceback);
}

#[test]
fn chained_exceptions_show_every_link_with_carets() {
    let (mut s, _) = session();
    let obs = run(
        &mut s,
        "def parse(text):\n    return int(text) + 1\ntry:\n    parse('x')\nexcept ValueError as e:\n    raise KeyError('no reading') from e",
    );
    let tb = obs.error.unwrap().traceback;
    let cause = tb.find("ValueError: invalid literal").expect(&tb);
    let link = tb
        .find("The above exception was the direct cause of the following exception:")
        .expect(&tb);
    let last = tb.find("KeyError: 'no reading'").expect(&tb);
    assert!(cause < link && link < last, "{tb}");
    // The caret sits under `int(text)`, the failing call, not the whole line.
    assert!(
        tb.contains("    return int(text) + 1\n           ^^^^^^^^^\n"),
        "{tb}"
    );
    assert!(!tb.contains("<codeact>"), "{tb}");

    let obs = run(&mut s, "def down(n):\n    return down(n + 1)\ndown(0)");
    let tb = obs.error.unwrap().traceback;
    assert!(tb.contains("[Previous line repeated "), "{tb}");
    assert!(
        tb.ends_with("RecursionError: maximum recursion depth exceeded\n"),
        "{tb}"
    );
}

#[test]
fn tracebacks_keep_pythons_did_you_mean_hints() {
    let (mut s, _) = session();
    let tb = |s: &mut codeact::executor::Session, code: &str| run(s, code).error.unwrap().traceback;
    let t = tb(&mut s, "ech('x')");
    assert!(
        t.ends_with("NameError: name 'ech' is not defined. Did you mean: 'echo'?\n"),
        "{t}"
    );
    let t = tb(&mut s, "pose().distnce_to(pose())");
    assert!(t.contains("Did you mean: 'distance_to'?"), "{t}");
    let t = tb(&mut s, "from math import sqr");
    assert!(t.contains("cannot import name 'sqr'"), "{t}");
    // Without a hint, the line is the plain message.
    let t = tb(&mut s, "undefined_thing_xyz");
    assert!(
        t.ends_with("NameError: name 'undefined_thing_xyz' is not defined\n"),
        "{t}"
    );
}

#[test]
fn skills_pass_values_both_ways_and_are_recorded() {
    let (mut s, probe) = session();
    let obs = run(
        &mut s,
        "v = echo({'a': [1, 2.5, None, True], 'b': b'\\x00\\xff', 'c': 'héllo'})\nassert v == {'a': [1, 2.5, None, True], 'b': b'\\x00\\xff', 'c': 'héllo'}, v\np = pose(3, 4)\n(add(2, 3.5), p, p.distance_to(pose()), echo(p) == p)",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(
        obs.result.as_deref(),
        Some("(5.5, TestPose(x=3.0, y=4.0, theta=0.0), 5.0, True)")
    );
    assert_eq!(probe.calls(), 5);
    let names: Vec<&str> = obs.skill_calls.iter().map(|c| c.skill.as_str()).collect();
    assert_eq!(names, ["echo", "pose", "add", "pose", "echo"]);
    assert_eq!(obs.skill_calls[2].args, "a=2.0, b=3.5");
    assert!(obs.skill_calls.iter().all(|c| c.outcome == CallOutcome::Ok));
}

#[test]
fn bad_arguments_are_python_errors_that_never_reach_the_robot() {
    let (mut s, probe) = session();
    let obs = run(&mut s, "add('2', 3)");
    assert_eq!(obs.error.as_ref().unwrap().type_name, "TypeError");
    assert!(obs.error.as_ref().unwrap().message.contains("argument 'a'"));
    let obs = run(&mut s, "add(1)");
    assert_eq!(obs.error.as_ref().unwrap().type_name, "TypeError");
    let obs = run(&mut s, "sleep(-1)");
    assert_eq!(obs.error.as_ref().unwrap().type_name, "ValueError");
    assert_eq!(probe.calls(), 1, "only the sleep call reached a handler");
}

#[test]
fn robot_errors_are_exception_classes_an_action_can_except() {
    let (mut s, _) = session();
    let obs = run(
        &mut s,
        "caught = []\nfor kind in ['Blocked', 'Unreachable', 'EStopped']:\n    try:\n        fail('why', kind)\n    except RobotError as e:\n        caught.append((type(e).__name__, str(e), isinstance(e, Exception)))\ncaught",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(
        obs.result.as_deref(),
        Some("[('Blocked', 'why', True), ('Unreachable', 'why', True), ('EStopped', 'why', True)]")
    );
    let obs = run(&mut s, "fail('wall ahead at 0.3 m', 'Blocked')");
    let err = obs.error.unwrap();
    assert_eq!(err.type_name, "Blocked");
    assert!(
        err.traceback.ends_with("Blocked: wall ahead at 0.3 m\n"),
        "{}",
        err.traceback
    );
    assert_eq!(obs.skill_calls[0].outcome, CallOutcome::Error);
}

#[test]
fn every_error_kind_round_trips_as_its_python_class() {
    let (mut s, _) = session();
    for kind in robot_api::ErrorKind::ALL {
        let name = kind.python_name();
        let obs = run(
            &mut s,
            &format!("try:\n    fail('why', {name:?})\nexcept BaseException as e:\n    r = (type(e).__name__, type(e).__mro__[1].__name__, str(e))\nr"),
        );
        // ValueError is Python's own, whose base is Exception.
        let base = if kind.is_builtin() {
            "Exception"
        } else {
            kind.python_base()
        };
        assert_eq!(
            obs.result.as_deref(),
            Some(format!("('{name}', '{base}', 'why')").as_str()),
            "{}",
            obs.render()
        );
    }
}

#[test]
fn skills_have_real_signatures_and_docstrings() {
    let (mut s, _) = session();
    let obs = run(
        &mut s,
        "import inspect\n(str(inspect.signature(add)), add.__doc__.splitlines()[0])",
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("('(a: float, b: float) -> float', 'Return a + b.')")
    );
    let api = s.skills().api_text();
    assert!(
        api.contains("def add(a: float, b: float) -> float:"),
        "{api}"
    );
    assert!(api.contains("class TestPose:"), "{api}");
}

#[test]
fn installed_packages_can_be_imported() {
    let (mut s, _) = session();
    let obs = run(
        &mut s,
        "import numpy as np, json, math\nfloat(np.linalg.norm(np.array([3.0, 4.0])))",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(obs.result.as_deref(), Some("5.0"));
}

#[test]
fn output_streams_live_while_the_action_runs() {
    // The action prints, then blocks until interrupted. The interrupt is sent
    // only when the printed text arrives, so the action can end this way only
    // if output streams live (otherwise it would run into its time limit).
    let (mut s, _) = session();
    let interrupter = s.interrupter();
    let seen = Arc::new(AtomicBool::new(false));
    let seen2 = seen.clone();
    let obs = s
        .execute(
            "print('waiting for you')\nblock()",
            Some(std::time::Duration::from_secs(30)),
            &mut |_, text| {
                if text.contains("waiting for you") && !seen2.swap(true, Ordering::SeqCst) {
                    interrupter.interrupt();
                }
            },
        )
        .unwrap();
    assert!(seen.load(Ordering::SeqCst));
    assert_eq!(obs.status, Status::Interrupted, "{}", obs.render());
    assert_eq!(obs.error.unwrap().type_name, "KeyboardInterrupt");
    assert!(obs.worker_restart.is_none());
    assert!(obs.safe_stop);
}

#[test]
fn a_timeout_raises_in_the_code_and_keeps_the_namespace() {
    let (mut s, probe) = session();
    run(&mut s, "kept = 'still here'");
    let obs = run_timeout(&mut s, "while True:\n    pass", 0.3);
    assert_eq!(obs.status, Status::Timeout);
    assert_eq!(obs.error.as_ref().unwrap().type_name, "ActionTimeout");
    assert!(obs.worker_restart.is_none());
    assert!(obs.safe_stop);
    assert_eq!(probe.safe_stops(), 1);
    assert_eq!(run(&mut s, "kept").result.as_deref(), Some("'still here'"));
}

#[test]
fn a_skill_blocked_in_rust_is_cancelled_by_the_timeout() {
    let (mut s, _) = session();
    let obs = run_timeout(&mut s, "block()", 0.3);
    assert_eq!(obs.status, Status::Timeout, "{}", obs.render());
    assert_eq!(obs.error.as_ref().unwrap().type_name, "ActionTimeout");
    assert!(obs.worker_restart.is_none(), "{}", obs.render());
    assert_eq!(obs.skill_calls.len(), 1);
    assert_eq!(obs.skill_calls[0].outcome, CallOutcome::Error);
    assert_alive(&mut s);
}

#[test]
fn long_output_keeps_head_and_tail_and_says_how_much_was_cut() {
    let (mut s, _) = session_with(|c| {
        c.output.head = 1000;
        c.output.tail = 100;
    });
    let obs = run(&mut s, "for i in range(100000):\n    print(i)");
    assert_eq!(obs.status, Status::Ok);
    let text = obs.output_text();
    assert!(text.starts_with("0\n1\n2\n"));
    assert!(
        text.ends_with("99998\n99999\n"),
        "{}",
        &text[text.len() - 50..]
    );
    let total: usize = (0..100000).map(|i: usize| i.to_string().len() + 1).sum();
    let kept: usize = obs
        .output
        .iter()
        .chain(&obs.output_tail)
        .map(|c| c.text.len())
        .sum();
    assert_eq!(kept as u64 + obs.output_cut_bytes, total as u64);
    assert!(text.contains("of output cut"), "{text}");
}

#[test]
fn reset_starts_a_fresh_namespace() {
    let (mut s, _) = session();
    run(&mut s, "x = 1");
    s.reset().unwrap();
    let obs = run(&mut s, "x");
    assert_eq!(obs.error.unwrap().type_name, "NameError");
}

#[test]
fn a_file_written_in_the_workspace_is_there() {
    let (mut s, _) = session();
    let obs = run(
        &mut s,
        "open('notes.txt', 'w').write('hello')\nimport os\nos.getcwd()",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let path = s.workspace().join("notes.txt");
    assert_eq!(std::fs::read_to_string(path).unwrap(), "hello");
}

#[test]
fn the_rendered_observation_is_stable() {
    let (mut s, _) = session();
    let mut obs = run(
        &mut s,
        "print('hi')\nadd(1, 2)\nfail('no path to (3, 4)', 'Unreachable')",
    );
    obs.duration_ms = 1.0;
    for c in &mut obs.skill_calls {
        c.duration_ms = 0.1;
    }
    assert_eq!(
        obs.render(),
        "hi\nTraceback (most recent call last):\n  File \"<action 1>\", line 3, in <module>\n    fail('no path to (3, 4)', 'Unreachable')\nUnreachable: no path to (3, 4)\nSkill calls (2):\n  add(a=1.0, b=2.0) -> ok [0.1 ms]\n  fail(message='no path to (3, 4)', kind='Unreachable') -> error (Unreachable: no path to (3, 4)) [0.1 ms]\n[error in 1.0 ms; robot safe-stopped]\n"
    );
}

#[test]
fn what_a_skill_reports_while_it_runs_streams_live_into_the_output() {
    // A skill that reports three steps, then waits until cancelled: the
    // interrupt is sent only when the third step arrives, so the action can
    // end this way only if a skill's progress streams live.
    let mut skills = robot_api::SkillSet::new("progress test");
    skills.add(
        robot_api::SkillSpec::new("work", "Reports steps, then waits."),
        |(), ctx: &robot_api::CallContext| {
            for i in 1..=3 {
                ctx.progress.report(&format!("step {i}"));
            }
            while !ctx.cancel.is_cancelled() {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(robot_api::SkillError::new(
                robot_api::ErrorKind::Cancelled,
                "cancelled",
            ))
        },
    );
    let config = codeact::executor::ExecutorConfig {
        worker_exe: Some(common::worker_exe()),
        ..Default::default()
    };
    let mut s = codeact::executor::Session::start(config, skills).unwrap();
    let interrupter = s.interrupter();
    let live = Arc::new(std::sync::Mutex::new(String::new()));
    let live2 = live.clone();
    let obs = s
        .execute(
            "print('before')\nwork()",
            Some(std::time::Duration::from_secs(30)),
            &mut |stream, text| {
                assert_eq!(stream, Stream::Stdout);
                let mut all = live2.lock().unwrap();
                all.push_str(text);
                if all.contains("step 3\n") {
                    interrupter.interrupt();
                }
            },
        )
        .unwrap();
    assert_eq!(obs.status, Status::Interrupted, "{}", obs.render());
    assert_eq!(*live.lock().unwrap(), "before\nstep 1\nstep 2\nstep 3\n");
    assert_eq!(obs.output_text(), "before\nstep 1\nstep 2\nstep 3\n");
    // The next action starts clean.
    assert_eq!(run(&mut s, "print('after')").output_text(), "after\n");
}

/// A session killed with SIGKILL cannot remove its workspace; the next
/// session on the machine does.
#[test]
fn the_next_session_removes_the_workspace_a_killed_one_left() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let start = || {
        let mut child = Command::new(common::exe())
            .args(["session", "--skills", "test"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        let ready: serde_json::Value = serde_json::from_str(&ready).unwrap();
        let workspace = std::path::PathBuf::from(ready["workspace"].as_str().unwrap());
        (child, workspace)
    };
    let (mut killed, left) = start();
    killed.kill().unwrap();
    killed.wait().unwrap();
    assert!(left.is_dir(), "SIGKILL leaves {}", left.display());
    let (mut next, own) = start();
    assert!(!left.exists(), "{} is still there", left.display());
    assert!(own.is_dir());
    drop(next.stdin.take());
    assert!(next.wait().unwrap().success());
    assert!(!own.exists(), "a session ending in order removes its own");
}
