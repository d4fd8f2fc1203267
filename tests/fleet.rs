//! A fleet in one session (the Python face): every robot an object with
//! its skills as methods, `robots` by name, the plain functions on the
//! first robot, each robot's events and state in the observation under its
//! name.

mod common;

use std::sync::Arc;
use std::time::Duration;

use codeact::executor::{ExecutorConfig, Session, Status};
use common::*;

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

fn fleet_session(world: &str) -> (Session, Vec<Arc<sim::SimRobot>>) {
    let world = sim::world_file::parse(world, "hall.yaml").unwrap();
    let robots: Vec<Arc<sim::SimRobot>> = sim::SimRobot::fleet(Arc::new(world))
        .into_iter()
        .map(Arc::new)
        .collect();
    let skills = sim::backend::fleet_skills(&robots, robots[0].clone());
    let config = ExecutorConfig {
        timeout: Duration::from_secs(30),
        worker_exe: Some(worker_exe()),
        ..ExecutorConfig::default()
    };
    (Session::start(config, skills).unwrap(), robots)
}

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
