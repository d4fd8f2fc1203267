//! The example backend of docs/backend-guide.md (examples/grid_turtle), driven
//! through the executor from Python as any robot is: the built-in skills
//! plan, drive and report on it, and the skills it cannot support are absent.

mod common;

use std::sync::Arc;
use std::time::Duration;

use codeact::executor::{ExecutorConfig, Session, Status};
use grid_turtle::GridTurtle;
use robot_api::RobotBackend;

/// A room with a block in the middle and a dock behind it.
const ROOM: &str = "
    ##########
    #S.......#
    #..###...#
    #..###...#
    #......DD#
    ##########";

fn start() -> (Session, Arc<GridTurtle>) {
    let turtle = Arc::new(GridTurtle::new(ROOM, 0.5, &[('D', "dock")]).unwrap());
    let skills = robot_api::skills::robot_skills(turtle.clone());
    let config = ExecutorConfig {
        timeout: Duration::from_secs(30),
        worker_exe: Some(common::worker_exe()),
        ..ExecutorConfig::default()
    };
    (Session::start(config, skills).unwrap(), turtle)
}

#[test]
fn the_skills_plan_and_drive_the_turtle_around_the_block() {
    let (mut session, turtle) = start();
    let api = session.api_text();
    assert!(api.contains("a turtle in a grid world"), "{api}");
    for absent in [
        "def get_scan",
        "def detect_objects",
        "def pick",
        "def get_battery",
    ] {
        assert!(!api.contains(absent), "{absent} is offered: {api}");
    }
    // The straight line from the start to (3.75, 1.25) crosses the block:
    // move_to plans around it on the turtle's map and stops there at rest.
    let obs = common::run(&mut session, "p = move_to(3.75, 1.25)\nprint(p)\np");
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let pose = turtle.pose().unwrap();
    assert!(
        (pose.x - 3.75).abs() < 0.03 && (pose.y - 1.25).abs() < 0.03,
        "{pose:?}"
    );
    assert_eq!(turtle.velocity(), (0.0, 0.0));
    assert!(obs.output_text().contains("Pose(x=3.7"), "{}", obs.render());

    let obs = common::run(
        &mut session,
        "z = [z.name for z in list_zones()]\ngo_to('dock')\nz",
    );
    assert_eq!(obs.result.as_deref(), Some("['dock']"), "{}", obs.render());
    let dock = &turtle.zones()[0];
    let pose = turtle.pose().unwrap();
    assert!(
        robot_api::geometry::point_in_polygon(pose.point(), &dock.polygon),
        "{pose:?} not in {dock:?}"
    );
}

#[test]
fn driving_into_a_wall_raises_blocked_and_the_event_is_reported() {
    let (mut session, turtle) = start();
    let obs = common::run(&mut session, "drive(0.5, 0.0, 20.0)");
    let message = common::assert_error(&obs, "Blocked");
    assert!(!message.is_empty());
    assert!(
        obs.robot_events
            .iter()
            .any(|e| e.starts_with("bumped into a wall")),
        "{}",
        obs.render()
    );
    // The east wall's face is at x = 4.5: the turtle stopped touching it.
    let pose = turtle.pose().unwrap();
    assert!(pose.x > 4.3 && pose.x < 4.35, "{pose:?}");
    let obs = common::run(&mut session, "get_scan()");
    common::assert_error(&obs, "NameError");
}
