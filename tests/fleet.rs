//! A fleet in one session (the Python face): every robot an object with
//! its skills as methods, `robots` by name, the plain functions on the
//! first robot, each robot's events and state in the observation under its
//! name.

mod common;

use std::time::Duration;

use codeact::executor::Status;
use common::*;
use robot_api::RobotBackend;

/// Two robots in a 10 m x 6 m hall: alpha at (1, 1), beta at (1, 4), both facing east.
const HALL: &str = "
name: hall
boundary: [10, 6]
zones:
  - {name: bay, rect: [7, 3, 2, 2]}
robots:
  - {name: alpha, start: [1.0, 1.0, 0.0]}
  - {name: beta, start: [1.0, 4.0, 0.0]}
";

fn at(robot: &sim::SimRobot) -> (f64, f64) {
    let p = robot.sim().robot(robot.index()).true_pose();
    (p.x, p.y)
}

#[test]
fn each_robot_is_an_object_with_its_skills_and_plain_functions_drive_the_first() {
    let (mut session, robots) = fleet_session(HALL);
    let api = session.api_text();
    assert!(
        api.contains("robots = {'alpha': alpha, 'beta': beta}"),
        "{api}"
    );
    assert_eq!(
        api.matches("def move_to(").count(),
        1,
        "one stub per skill: {api}"
    );

    let obs = run(
        &mut session,
        "print(sorted(robots), alpha, robots['beta'])\nbeta.move_to(3.0, 4.0)\nmove_to(2.0, 1.0)\n(round(alpha.get_pose().x, 1), round(beta.get_pose().x, 1))",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert!(obs
        .output_text()
        .contains("['alpha', 'beta'] Robot('alpha') Robot('beta')"));
    assert_eq!(obs.result.as_deref(), Some("(2.0, 3.0)"));
    let (ax, ay) = at(&robots[0]);
    let (bx, by) = at(&robots[1]);
    assert!(
        (ax - 2.0).abs() < 0.1 && (ay - 1.0).abs() < 0.1,
        "alpha {ax} {ay}"
    );
    assert!(
        (bx - 3.0).abs() < 0.1 && (by - 4.0).abs() < 0.1,
        "beta {bx} {by}"
    );

    // Each robot's state under its name.
    let state = obs.robot_state.clone().unwrap_or_default();
    assert!(
        state.starts_with("alpha: pose (1.9") && state.contains("; beta: pose (2.9"),
        "{state}"
    );

    // help() shows a method's own docstring; the robot objects are protected.
    let obs = run(&mut session, "beta = 5\nrobots['alpha'] = None");
    assert_error(&obs, "TypeError");
    let obs = run(
        &mut session,
        "beta.go_to.__doc__.split('.')[0], robots['alpha'].name",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert!(obs.result.unwrap().contains("'alpha'"));
}

#[test]
fn robots_meet_each_other_in_the_observation() {
    // beta drives into alpha, who stands in its way.
    let (mut session, _) = fleet_session(
        "boundary: [10, 4]\nrobots:\n  - {name: alpha, start: [4.0, 2.0, 0.0]}\n  - {name: beta, start: [1.0, 2.0, 0.0]}\n",
    );
    let obs = run(&mut session, "beta.drive(0.5, 0.0, 10.0)");
    let events = obs.robot_events.join("\n");
    assert!(
        events.contains("beta: ") && events.contains("with robot alpha"),
        "{events}"
    );
    assert!(
        events.contains("alpha: ") && events.contains("robot beta ran into it"),
        "{events}"
    );
    // beta backs off; alpha turns round and sees it.
    let obs = run(
        &mut session,
        "beta.drive(-0.5, 0.0, 2.0)\nalpha.rotate(3.14159)\n[o.name for o in alpha.detect_objects() if o.kind == 'robot']",
    );
    assert_eq!(obs.result.as_deref(), Some("['beta']"), "{}", obs.render());
}

fn robot_time(obs: &codeact::executor::Observation) -> f64 {
    obs.robot_time.expect("the robot's clock")
}

#[test]
fn together_moves_robots_at_once_in_the_time_of_the_longer_motion() {
    let code_together =
        "together(alpha.start('move_to', 8.0, 1.0), beta.start('move_to', 5.0, 4.0))";
    let (mut session, robots) = fleet_session(HALL);
    let obs = run(&mut session, code_together);
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let at_once = robot_time(&obs);
    assert!((at(&robots[0]).0 - 8.0).abs() < 0.1 && (at(&robots[1]).0 - 5.0).abs() < 0.1);
    assert_eq!(obs.skill_calls.len(), 2, "{}", obs.render());
    assert!(obs.skill_calls.iter().any(|c| c.skill == "beta.move_to"));

    let (mut session, _) = fleet_session(HALL);
    let obs = run(&mut session, "alpha.move_to(8.0, 1.0)");
    let alpha_alone = robot_time(&obs);
    let obs = run(&mut session, "beta.move_to(5.0, 4.0)");
    let one_after_other = robot_time(&obs);
    assert!(
        at_once < one_after_other - 3.0 && (at_once - alpha_alone).abs() < 0.5,
        "together {at_once} s, alpha alone {alpha_alone} s, one after the other {one_after_other} s"
    );
}

#[test]
fn a_failing_robot_is_named_and_the_other_finishes_its_motion() {
    let (mut session, robots) = fleet_session(HALL);
    // beta reverses into the wall behind it; alpha drives to (6, 1).
    let obs = run(
        &mut session,
        "together(alpha.start('move_to', 6.0, 1.0), beta.start('drive', -0.5, 0.0, 6.0))",
    );
    let error = assert_error(&obs, "Blocked");
    assert!(error.starts_with("beta: "), "{error}");
    assert!(
        (at(&robots[0]).0 - 6.0).abs() < 0.1,
        "alpha finished its move_to"
    );
    // A started call's result, and a bad skill name.
    let obs = run(
        &mut session,
        "c = alpha.start('get_pose')\nround(c.wait().x, 1)",
    );
    assert_eq!(obs.result.as_deref(), Some("6.0"), "{}", obs.render());
    let obs = run(&mut session, "alpha.start('fly', 1)");
    assert!(assert_error(&obs, "ValueError").contains("alpha has no skill 'fly'"));
}

#[test]
fn a_timeout_during_together_leaves_every_robot_at_rest() {
    let (mut session, robots) = fleet_session(HALL);
    let obs = run_timeout(
        &mut session,
        // Turning on the spot for hours: nothing ends it but the time limit.
        "together(alpha.start('drive', 0.0, 0.5, 60000.0), beta.start('drive', 0.0, -0.5, 60000.0))",
        0.3,
    );
    assert_error(&obs, "ActionTimeout");
    for r in &robots {
        assert_eq!(r.velocity(), (0.0, 0.0), "{} at rest", r.name());
        assert_eq!(r.sim().robot(r.index()).commanded(), (0.0, 0.0));
    }
}

#[test]
fn a_started_call_never_waited_for_is_stopped_with_its_action() {
    let (mut session, robots) = fleet_session(HALL);
    // Started, then running from the skill call after it, never waited for.
    let obs = run(
        &mut session,
        "beta.start('drive', 0.0, 0.5, 60000.0)\nalpha.rotate(1.0)",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert!(
        obs.notes.iter().any(|n| n.contains("never waited for")),
        "{:?}",
        obs.notes
    );
    assert!(obs.safe_stop, "the robots were safe-stopped");
    assert_eq!(robots[1].velocity(), (0.0, 0.0));
}

#[test]
fn an_interrupt_during_together_leaves_every_robot_at_rest() {
    let (mut session, robots) = fleet_session(HALL);
    let interrupter = session.interrupter();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        interrupter.interrupt();
    });
    let obs = run(
        &mut session,
        "together(alpha.start('drive', 0.0, 0.5, 60000.0), beta.start('drive', 0.0, -0.5, 60000.0))",
    );
    stopper.join().unwrap();
    assert_eq!(obs.status, Status::Interrupted, "{}", obs.render());
    for r in &robots {
        assert_eq!(r.velocity(), (0.0, 0.0), "{} at rest", r.name());
    }
    // The session goes on: both robots answer.
    let obs = run(
        &mut session,
        "alpha.get_pose() is not None and beta.get_pose() is not None",
    );
    assert_eq!(obs.result.as_deref(), Some("True"));
}

#[test]
fn a_robot_takes_one_skill_at_a_time() {
    let (mut session, robots) = fleet_session(HALL);
    // alpha was started on a drive: a second skill for it is refused until
    // the drive is waited for; beta is free meanwhile.
    let obs = run(
        &mut session,
        "a = alpha.start('drive', 0.3, 0.0, 2.0)\ntry:\n    alpha.rotate(1.0)\nexcept RobotError as e:\n    print('refused:', e)\nprint(round(beta.get_pose().x, 1))\na.wait()\nalpha.rotate(0.5)\nround(alpha.get_pose().theta, 1)",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let out = obs.output_text();
    assert!(
        out.contains("refused: alpha.rotate() refused: alpha is still doing the drive"),
        "{out}"
    );
    assert_eq!(obs.result.as_deref(), Some("0.5"));
    assert!(at(&robots[0]).0 > 1.4, "the drive ran");
}
