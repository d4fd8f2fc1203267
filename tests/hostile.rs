//! Hostile actions. Each must leave the supervisor alive, give an observation
//! that says what happened, call the safe stop, and the next action must work.

mod common;

use std::net::TcpListener;

use codeact::executor::{Observation, Status};
use common::{assert_alive, run, run_timeout, session};

/// The common checks after a hostile action.
fn survived(
    s: &mut codeact::executor::Session,
    probe: &robot_api::testing::TestProbe,
    obs: &Observation,
    stops_before: u64,
) {
    assert!(obs.safe_stop, "safe stop not called:\n{}", obs.render());
    assert_eq!(probe.safe_stops(), stops_before + 1);
    assert_alive(s);
}

#[test]
fn busy_loop_times_out_and_the_namespace_survives() {
    let (mut s, probe) = session();
    run(&mut s, "kept = 7");
    let obs = run_timeout(&mut s, "while True: pass", 0.3);
    assert_eq!(obs.status, Status::Timeout);
    assert!(obs.worker_restart.is_none());
    survived(&mut s, &probe, &obs, 0);
    assert_eq!(run(&mut s, "kept").result.as_deref(), Some("7"));
}

#[test]
fn a_loop_that_swallows_the_timeout_is_killed_and_the_observation_says_so() {
    let (mut s, probe) = session();
    // The literal case. CPython 3.11 lets the exception escape this
    // exact construct (the bare `while True: pass` jump lies outside the try's
    // exception table), so it may end by the exception or by the kill.
    let obs = run_timeout(
        &mut s,
        "while True:\n    try:\n        while True: pass\n    except BaseException:\n        pass",
        0.3,
    );
    assert_eq!(obs.status, Status::Timeout);
    survived(&mut s, &probe, &obs, 0);

    // A loop that really catches every exception needs the hard stop.
    run(&mut s, "kept = 7");
    let obs = run_timeout(
        &mut s,
        "while True:\n    try:\n        n = 0\n        while True:\n            n += 1\n    except BaseException:\n        pass",
        0.3,
    );
    assert_eq!(obs.status, Status::Timeout);
    let why = obs.worker_restart.as_deref().expect("worker restarted");
    assert!(why.contains("did not stop"), "{why}");
    assert!(obs
        .render()
        .contains("Variables, imports and functions from earlier actions are gone"));
    survived(&mut s, &probe, &obs, 1);
    assert_eq!(run(&mut s, "kept").error.unwrap().type_name, "NameError");
}

#[test]
fn a_long_sleep_is_interrupted() {
    let (mut s, probe) = session();
    let obs = run_timeout(&mut s, "import time\ntime.sleep(10**6)", 0.3);
    assert_eq!(obs.status, Status::Timeout);
    assert!(
        obs.worker_restart.is_none(),
        "sleep must be interruptible without a kill"
    );
    survived(&mut s, &probe, &obs, 0);
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let (mut s, probe) = session();
    let obs = run(
        &mut s,
        "hog = []\nwhile True:\n    hog.append(bytearray(50 * 2**20))",
    );
    assert!(
        matches!(obs.status, Status::Error | Status::WorkerRestarted),
        "{}",
        obs.render()
    );
    if obs.status == Status::Error {
        assert_eq!(obs.error.as_ref().unwrap().type_name, "MemoryError");
    }
    survived(&mut s, &probe, &obs, 0);
}

#[test]
fn a_fork_bomb_is_contained() {
    let (mut s, probe) = session();
    let obs = run_timeout(&mut s, "import os\nwhile True:\n    os.fork()", 5.0);
    assert_ne!(obs.status, Status::Ok, "{}", obs.render());
    survived(&mut s, &probe, &obs, 0);
    // A fork bomb that swallows its errors runs into the time limit and is killed.
    let obs = run_timeout(
        &mut s,
        "import os\nwhile True:\n    try:\n        os.fork()\n    except BaseException:\n        pass",
        1.0,
    );
    assert_eq!(obs.status, Status::Timeout, "{}", obs.render());
    survived(&mut s, &probe, &obs, 1);
}

fn processes_with_cmdline(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid = e.ok()?.file_name().to_str()?.parse::<u32>().ok()?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(needle)
                .then_some(())
        })
        .count()
}

#[test]
fn a_child_process_left_running_is_reported_and_killed_on_reset() {
    let (mut s, probe) = session();
    let obs = run(
        &mut s,
        "import subprocess\nsubprocess.Popen(['sleep', '31337'])\n'started'",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert!(
        obs.notes
            .iter()
            .any(|n| n.contains("process(es) started by this action are still running")),
        "{:?}",
        obs.notes
    );
    survived(&mut s, &probe, &obs, 0);
    // Popen may return before the child has exec'd `sleep`: wait for it (bounded).
    let found = (0..500).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(10));
        processes_with_cmdline("sleep 31337") == 1
    });
    assert!(found, "the child process is running");
    s.reset().unwrap();
    assert_eq!(
        processes_with_cmdline("sleep 31337"),
        0,
        "reset must kill what the code started"
    );
    assert_alive(&mut s);
}

#[test]
fn os_exit_restarts_the_worker() {
    let (mut s, probe) = session();
    let obs = run(&mut s, "import os\nos._exit(3)");
    assert_eq!(obs.status, Status::WorkerRestarted);
    assert!(
        obs.worker_restart
            .as_deref()
            .unwrap()
            .contains("exited with status 3"),
        "{:?}",
        obs.worker_restart
    );
    survived(&mut s, &probe, &obs, 0);
}

#[test]
fn sys_exit_is_an_error_not_an_exit() {
    let (mut s, probe) = session();
    run(&mut s, "kept = 1");
    let obs = run(&mut s, "import sys\nsys.exit()");
    assert_eq!(obs.status, Status::Error);
    assert_eq!(obs.error.as_ref().unwrap().type_name, "SystemExit");
    survived(&mut s, &probe, &obs, 0);
    assert_eq!(run(&mut s, "kept").result.as_deref(), Some("1"));
}

#[test]
fn a_segfault_restarts_the_worker() {
    let (mut s, probe) = session();
    let obs = run(&mut s, "import ctypes\nctypes.string_at(0)");
    assert_eq!(obs.status, Status::WorkerRestarted);
    assert!(
        obs.worker_restart.as_deref().unwrap().contains("SIGSEGV"),
        "{:?}",
        obs.worker_restart
    );
    survived(&mut s, &probe, &obs, 0);
}

#[test]
fn unbounded_recursion_is_a_recursion_error() {
    let (mut s, probe) = session();
    let obs = run(&mut s, "def f(n):\n    return f(n + 1)\nf(0)");
    assert_eq!(obs.status, Status::Error);
    assert_eq!(obs.error.as_ref().unwrap().type_name, "RecursionError");
    assert!(
        obs.error.as_ref().unwrap().traceback.len() < 20_000,
        "traceback is compacted"
    );
    survived(&mut s, &probe, &obs, 0);
}

#[test]
fn printing_a_gigabyte_hits_the_output_limit() {
    let (mut s, probe) = session();
    let obs = run(&mut s, "print('x' * 2**30)");
    assert_eq!(obs.status, Status::Error, "{}", obs.render());
    assert_eq!(obs.error.as_ref().unwrap().type_name, "OutputLimitExceeded");
    assert!(obs.output_cut_bytes > 1 << 29);
    let kept: usize = obs
        .output
        .iter()
        .chain(&obs.output_tail)
        .map(|c| c.text.len())
        .sum();
    assert!(kept <= 100 << 10, "kept {kept} bytes");
    survived(&mut s, &probe, &obs, 0);
    // Many small prints hit the same limit.
    let obs = run(&mut s, "while True:\n    print('y' * 1000)");
    assert_eq!(obs.error.as_ref().unwrap().type_name, "OutputLimitExceeded");
    survived(&mut s, &probe, &obs, 1);
}

#[test]
fn a_secret_in_the_supervisors_environment_is_out_of_reach() {
    // The secret is planted in the environment of a real `codeact session`
    // process, and the action searches everything it can read for it.
    let secret = format!("hunter2-{}", std::process::id());
    let mut command = std::process::Command::new(common::exe());
    command
        .args(["session", "--skills", "test"])
        .env("CODEACT_TEST_SECRET", &secret)
        .env("OPENAI_API_KEY", &secret);
    let mut client = codeact::executor::client::SessionClient::start(command).unwrap();
    let code = format!(
        "import os, glob\nfound = [k for k, v in os.environ.items() if {secret:?} in v]\nfor p in glob.glob('/proc/*/environ') + glob.glob('/proc/*/cmdline'):\n    try:\n        if {secret:?}.encode() in open(p, 'rb').read(): found.append(p)\n    except OSError:\n        pass\nassert found, 'secret not found'\nfound"
    );
    let searched = client.execute(&code, None, &mut |_, _| {}).unwrap();
    let obs = &searched.observation;
    assert_eq!(obs.status, Status::Error, "{}", searched.text);
    assert_eq!(
        obs.error.as_ref().map(|e| e.type_name.as_str()),
        Some("AssertionError"),
        "{}",
        searched.text
    );
    assert!(obs.safe_stop);
    let after = client.execute("1 + 1", None, &mut |_, _| {}).unwrap();
    assert_eq!(after.observation.result.as_deref(), Some("2"));
    assert!(client.close().unwrap().success());
}

#[test]
fn a_socket_cannot_reach_even_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (mut s, probe) = session();
    let obs = run(
        &mut s,
        &format!("import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"),
    );
    assert_eq!(obs.status, Status::Error, "{}", obs.render());
    let err = obs.error.as_ref().unwrap();
    assert!(
        ["OSError", "PermissionError", "ConnectionRefusedError"].contains(&err.type_name.as_str()),
        "{}",
        err.type_name
    );
    assert!(
        listener.accept().is_err(),
        "the listener must see no connection"
    );
    survived(&mut s, &probe, &obs, 0);
}

#[test]
fn writing_outside_the_workspace_is_denied() {
    let target = std::env::temp_dir().join(format!("codeact-escape-{}", std::process::id()));
    let (mut s, probe) = session();
    let obs = run(
        &mut s,
        &format!("open({:?}, 'w').write('escaped')", target.to_str().unwrap()),
    );
    assert_eq!(obs.status, Status::Error, "{}", obs.render());
    assert_eq!(obs.error.as_ref().unwrap().type_name, "PermissionError");
    assert!(!target.exists());
    survived(&mut s, &probe, &obs, 0);
}

#[test]
fn a_thread_calling_skills_after_its_action_ended_is_refused() {
    let (mut s, probe) = session();
    let obs = run(
        &mut s,
        "import threading, time\nok, errors = [], []\ndef pester():\n    while True:\n        try:\n            ok.append(echo(1))\n        except Exception as e:\n            errors.append(type(e).__name__)\n        time.sleep(0.001)\nthreading.Thread(target=pester, daemon=True).start()\ntime.sleep(0.05)",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert!(
        obs.notes
            .iter()
            .any(|n| n.contains("thread(s) started by this action are still running")),
        "{:?}",
        obs.notes
    );
    survived(&mut s, &probe, &obs, 0);
    let calls_after_action = probe.calls();
    assert!(
        calls_after_action > 1,
        "the thread called skills during its action"
    );
    let obs = run(&mut s, "time.sleep(0.2)\nsorted(set(errors))");
    assert_eq!(
        probe.calls(),
        calls_after_action,
        "no call reached a skill after its action ended"
    );
    assert_eq!(obs.result.as_deref(), Some("['SkillCallRefused']"));
    assert!(
        obs.notes.iter().any(|n| n.contains("refused")),
        "{:?}",
        obs.notes
    );
}

#[test]
fn replacing_the_skill_functions_is_undone() {
    let (mut s, probe) = session();
    let obs = run(
        &mut s,
        "del echo\nadd = lambda a, b: 'fake'\nRobotError = None",
    );
    assert!(
        obs.notes
            .iter()
            .any(|n| n.contains("echo") && n.contains("add") && n.contains("restored")),
        "{:?}",
        obs.notes
    );
    survived(&mut s, &probe, &obs, 0);
    let obs = run(&mut s, "(echo(5), add(1, 2), RobotError.__name__)");
    assert_eq!(obs.result.as_deref(), Some("(5, 3.0, 'RobotError')"));
}

#[test]
fn nul_bytes_in_the_code_are_an_error() {
    let (mut s, probe) = session();
    let obs = run(&mut s, "x = 1\0\nprint(x)");
    assert_eq!(obs.status, Status::Error, "{}", obs.render());
    assert!(
        obs.error.as_ref().unwrap().message.contains("null"),
        "{}",
        obs.render()
    );
    survived(&mut s, &probe, &obs, 0);
}
