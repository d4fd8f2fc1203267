//! Rehearsals (`Session::rehearse`): an action run in a fork of the worker
//! against a twin's skills. What the rehearsal sets, imports or calls is not
//! in the session afterwards, the session's skills are never called, and a
//! rehearsal that runs on (or ignores its interrupt) is ended without
//! touching the session.

mod common;

use std::sync::Arc;
use std::time::Duration;

use codeact::executor::Status;
use common::*;
use robot_api::testing::test_skills;

#[test]
fn a_rehearsal_leaves_the_namespace_and_the_real_skills_untouched() {
    let (mut session, real) = session();
    run(&mut session, "x = 1\nimport sys");
    let (twin, rehearsed) = test_skills();
    let twin = Arc::new(twin);

    let r = session
        .rehearse(
            "x = 99\ny = add(x, 1)\nimport colorsys as _c\nprint('in the rehearsal', x, y)",
            twin.clone(),
            Duration::from_secs(10),
        )
        .unwrap();
    let obs = r.observation;
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(obs.output_text(), "in the rehearsal 99 100.0\n");
    assert_eq!(obs.skill_calls.len(), 1, "{}", obs.render());
    assert_eq!(rehearsed.calls(), 1, "the twin's skill was called");
    assert_eq!(real.calls(), 0, "the session's skills were not");
    assert!(r.worker_restart.is_none());

    let obs = run(
        &mut session,
        "(x, 'y' in dir(), '_c' in dir(), 'colorsys' in sys.modules)",
    );
    assert_eq!(obs.result.as_deref(), Some("(1, False, False, False)"));
    // The real run calls the real skills.
    run(&mut session, "add(1, 2)");
    assert_eq!(real.calls(), 1);
}

#[test]
fn a_rehearsal_works_on_a_copy_of_the_workspace() {
    let (mut session, _) = session();
    run(
        &mut session,
        "import os\nopen('notes.txt', 'w').write('real')\nhome = os.getcwd()",
    );
    let (twin, _) = test_skills();
    let code = "import os, tempfile\nprint(open('notes.txt').read())\nopen('notes.txt', 'w').write('rehearsed')\nopen('new.txt', 'w').write('x')\ntempfile.NamedTemporaryFile(delete=False).write(b'x')\ntry:\n    open(os.path.join(home, 'escape.txt'), 'w')\nexcept PermissionError:\n    print('the real workspace is read-only here')";
    let r = session
        .rehearse(code, Arc::new(twin), Duration::from_secs(10))
        .unwrap();
    let obs = r.observation;
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(
        obs.output_text(),
        "real\nthe real workspace is read-only here\n"
    );
    // The session's files are as they were, and nothing new is there.
    let obs = run(
        &mut session,
        "(open('notes.txt').read(), sorted(f for f in os.listdir('.') if not f.startswith('.')), os.listdir('.tmp'))",
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("('real', ['notes.txt'], [])"),
        "{}",
        obs.render()
    );
}

#[test]
fn a_rehearsal_that_runs_on_is_stopped_and_the_session_goes_on() {
    let (mut session, real) = session();
    run(&mut session, "x = 1");
    let (twin, _) = test_skills();
    let twin = Arc::new(twin);

    // Past its limit: the rehearsal's code gets ActionTimeout.
    let r = session
        .rehearse(
            "while True:\n    pass",
            twin.clone(),
            Duration::from_millis(500),
        )
        .unwrap();
    assert_eq!(
        r.observation.status,
        Status::Timeout,
        "{}",
        r.observation.render()
    );
    assert_error(&r.observation, "ActionTimeout");

    // Ignoring its interrupt: the worker ends the rehearsal's process.
    let r = session
        .rehearse(
            "import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])\nwhile True:\n    pass",
            twin.clone(),
            Duration::from_millis(300),
        )
        .unwrap();
    assert_ne!(
        r.observation.status,
        Status::Ok,
        "{}",
        r.observation.render()
    );
    assert!(r.worker_restart.is_none(), "{:?}", r.worker_restart);

    // The session is as it was, and goes on.
    let obs = run(&mut session, "x + 1");
    assert_eq!(obs.result.as_deref(), Some("2"), "{}", obs.render());
    assert_eq!(real.calls(), 0);
    let r = session
        .rehearse("x * 10", twin, Duration::from_secs(5))
        .unwrap();
    assert_eq!(r.observation.result.as_deref(), Some("10"));
}

#[test]
fn a_twin_with_other_skills_is_refused() {
    let (mut session, _) = session();
    let other = Arc::new(robot_api::SkillSet::new("nothing"));
    let e = session
        .rehearse("1", other, Duration::from_secs(1))
        .err()
        .unwrap();
    assert!(e.to_string().contains("declared as the session's"), "{e}");
}
