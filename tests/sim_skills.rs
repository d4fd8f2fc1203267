//! The robot skills on the simulator, called from Python through the
//! executor: each skill's success and failure paths, events and state in the
//! observation, and the safe stop stopping the simulated robot.

mod common;

use codeact::executor::Status;
use common::{assert_error, run, run_timeout, sim_session};
use robot_api::geometry::P2;

/// A 6 m x 4 m room with a table, a dock, a goal zone, two objects and a
/// box the map does not show.
const ROOM: &str = "
name: test_room
boundary: [6, 4]
obstacles:
  - {name: table, rect: [2.5, 1.5, 1.0, 1.0]}
zones:
  - {name: dock, rect: [0.2, 0.2, 1.0, 1.0], charger: true}
  - {name: goal, rect: [4.6, 2.6, 1.2, 1.2]}
objects:
  - {name: red_cube, kind: cube, colour: red, at: [4.5, 0.8]}
  - {name: blue_cube, kind: cube, colour: blue, at: [1.0, 3.2]}
robot: {start: [0.7, 0.7, 0.0]}
";

/// Two rooms with no door between them.
const SPLIT: &str = "
boundary: [6, 4]
walls:
  - [[3, 0], [3, 4]]
zones:
  - {name: far_side, rect: [4, 1, 1, 1]}
robot: {start: [1, 2, 0]}
";

#[test]
fn move_to_reaches_the_goal_around_the_table() {
    let (mut s, robot) = sim_session(ROOM);
    let obs = run(
        &mut s,
        "p = move_to(5.0, 2.0, theta=1.57)\n(round(p.x, 1), round(p.y, 1), round(p.theta, 1))",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(obs.result.as_deref(), Some("(5.0, 2.0, 1.6)"));
    let sim = robot.sim();
    let p = sim.true_pose();
    assert!(p.distance_to(P2::new(5.0, 2.0)) < 0.06, "{p:?}");
    assert!(!sim.world().grid.segments().is_empty());
    let state = obs.robot_state.as_deref().unwrap();
    assert!(
        state.starts_with("pose (") && state.contains("holding nothing"),
        "{state}"
    );
}

#[test]
fn move_to_into_an_obstacle_or_a_closed_room_is_unreachable() {
    let (mut s, _) = sim_session(ROOM);
    let msg = assert_error(&run(&mut s, "move_to(3.0, 2.0)"), "Unreachable");
    assert!(msg.contains("inside an obstacle"), "{msg}");
    assert!(msg.contains("the robot is at"), "{msg}");
    let (mut s, _) = sim_session(SPLIT);
    let obs = run(
        &mut s,
        "try:\n    go_to('far_side')\nexcept RobotError as e:\n    print(type(e).__name__)",
    );
    assert_eq!(obs.output_text(), "Unreachable\n", "{}", obs.render());
}

#[test]
fn move_to_replans_around_a_box_missing_from_its_map() {
    let world = format!("{ROOM}\n").replace(
        "  - {name: table, rect: [2.5, 1.5, 1.0, 1.0]}",
        "  - {name: table, rect: [2.5, 1.5, 1.0, 1.0]}\n  - {name: lost_box, rect: [2.0, 0.3, 0.5, 1.0], unmapped: true}",
    );
    let (mut s, robot) = sim_session(&world);
    let obs = run(&mut s, "move_to(4.5, 0.7)");
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let sim = robot.sim();
    assert!(sim.true_pose().distance_to(P2::new(4.5, 0.7)) < 0.06);
    assert!(
        !obs.robot_events.iter().any(|e| e.contains("collision")),
        "{:?}",
        obs.robot_events
    );
}

#[test]
fn a_skill_timeout_stops_the_robot_where_it_is() {
    let (mut s, robot) = sim_session(ROOM);
    let msg = assert_error(
        &run(&mut s, "move_to(5.0, 3.0, timeout=1.0)"),
        "SkillTimeout",
    );
    assert!(msg.contains("time limit"), "{msg}");
    assert_eq!(robot.sim().velocity(), (0.0, 0.0));
}

#[test]
fn drive_into_a_wall_is_blocked_with_a_collision_event() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(&mut s, "drive(0.5, 0.0, 30.0)");
    assert_error(&obs, "Blocked");
    assert!(obs.safe_stop);
    assert!(
        obs.robot_events.iter().any(|e| e.contains("collision")),
        "{:?}",
        obs.robot_events
    );
    let obs = run(&mut s, "p = drive(-0.2, 0.0, 1.0)\nround(p.x, 1)");
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
}

#[test]
fn rotate_turns_by_the_angle_asked() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(
        &mut s,
        "import math\nrotate(math.pi / 2)\nround(get_pose().theta, 2)",
    );
    assert_eq!(obs.result.as_deref(), Some("1.57"), "{}", obs.render());
    let obs = run(
        &mut s,
        "rotate(-3 * math.pi / 2)\nround(get_pose().theta, 2)",
    );
    assert!(
        matches!(obs.result.as_deref(), Some("3.14") | Some("-3.14")),
        "{}",
        obs.render()
    );
}

#[test]
fn sensing_skills_return_readable_records() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(
        &mut s,
        "import numpy as np\nscan = get_scan()\nprint(type(scan.ranges).__name__, len(scan.ranges), bool(np.isfinite(scan.ranges).all()))\nprint(get_battery())\nprint([z.name for z in list_zones()], get_zone('goal').charger)\nprint([(o.name, o.colour) for o in detect_objects()])\nget_pose()",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let out = obs.output_text();
    assert!(out.contains("ndarray 360 True"), "{out}");
    assert!(out.contains("Battery(percent=100.0, charging="), "{out}");
    assert!(out.contains("['dock', 'goal'] False"), "{out}");
    assert!(out.contains("[('red_cube', 'red')]"), "{out}");
    assert_eq!(obs.result.as_deref(), Some("Pose(x=0.7, y=0.7, theta=0.0)"));
    let msg = assert_error(&run(&mut s, "get_zone('kitchen')"), "ValueError");
    assert!(msg.contains("dock, goal"), "{msg}");
}

#[test]
fn fetch_and_deliver_with_the_gripper() {
    let (mut s, robot) = sim_session(ROOM);
    // Nothing is known before the camera has seen it.
    for code in ["pick('red_cube')", "go_to('red_cube')"] {
        let msg = assert_error(&run(&mut s, code), "ObjectNotSeen");
        assert!(msg.contains("detect_objects()"), "{msg}");
    }
    let obs = run(&mut s, "[o.name for o in detect_objects()]");
    assert_eq!(
        obs.result.as_deref(),
        Some("['red_cube']"),
        "{}",
        obs.render()
    );
    let msg = assert_error(&run(&mut s, "pick('red_cube')"), "NotInReach");
    assert!(msg.contains("go_to"), "{msg}");
    assert_error(&run(&mut s, "place()"), "GripperError");
    assert_error(&run(&mut s, "pick('purple_cube')"), "ObjectNotSeen");
    let obs = run(
        &mut s,
        "go_to('red_cube')\npick('red_cube')\ngo_to('goal')\nprint(holding())\nplace()",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(obs.result.as_deref(), Some("'red_cube'"));
    assert!(
        obs.robot_events
            .iter()
            .any(|e| e.contains("picked red_cube")),
        "{:?}",
        obs.robot_events
    );
    assert!(
        obs.robot_events
            .iter()
            .any(|e| e.contains("placed red_cube") && e.contains("in goal")),
        "{:?}",
        obs.robot_events
    );
    let sim = robot.sim();
    let cube = sim.objects()[0].at;
    assert!(sim.world().zones[1].contains(cube), "{cube:?}");
    drop(sim);
    let msg = assert_error(
        &run(
            &mut s,
            "rotate(1.6)\ndetect_objects()\ngo_to('blue_cube')\npick('blue_cube')\nplace_at(0.5, 0.5)",
        ),
        "NotInReach",
    );
    assert!(msg.contains("reaches"), "{msg}");
}

#[test]
fn wait_charges_on_the_dock_and_say_is_an_event() {
    let world = ROOM.replace(
        "robot: {start: [0.7, 0.7, 0.0]}",
        "robot: {start: [0.7, 0.7, 0.0], battery_start: 50}",
    );
    let (mut s, _) = sim_session(&world);
    let obs = run(
        &mut s,
        "wait(10)\nsay('charging up')\nget_battery().percent",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let percent: f64 = obs.result.as_deref().unwrap().parse().unwrap();
    assert!(percent > 55.0, "{percent}");
    assert!(
        obs.robot_events
            .iter()
            .any(|e| e.contains("said: charging up")),
        "{:?}",
        obs.robot_events
    );
    assert_error(&run(&mut s, "wait(-1)"), "ValueError");
}

#[test]
fn an_empty_battery_is_battery_empty() {
    let world = ROOM.replace(
        "robot: {start: [0.7, 0.7, 0.0]}",
        "robot: {start: [2.0, 0.7, 0.0], battery_start: 0.5, battery_drain_per_m: 2.0}",
    );
    let (mut s, _) = sim_session(&world);
    let msg = assert_error(&run(&mut s, "move_to(5.0, 0.7)"), "BatteryEmpty");
    assert!(msg.contains("dock"), "{msg}");
}

#[test]
fn the_safe_stop_stops_the_simulated_robot_when_an_action_times_out() {
    let (mut s, robot) = sim_session(ROOM);
    // A long drive in a loop: the action's own time limit ends it.
    let obs = run_timeout(&mut s, "while True:\n    drive(0.0, 0.5, 0.5)", 0.5);
    assert_eq!(obs.status, Status::Timeout, "{}", obs.render());
    assert!(obs.safe_stop);
    let sim = robot.sim();
    assert_eq!(sim.velocity(), (0.0, 0.0));
    assert_eq!(sim.commanded(), (0.0, 0.0));
}

#[test]
fn the_map_image_is_a_png_of_the_surroundings() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(
        &mut s,
        "png = get_map_image(2.0)\nopen('map.png', 'wb').write(png)\n(png[:8], len(png) > 1000)",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(
        obs.result.as_deref(),
        Some("(b'\\x89PNG\\r\\n\\x1a\\n', True)")
    );
    assert!(s.workspace().join("map.png").exists());
    assert_error(&run(&mut s, "get_map_image(0.0)"), "ValueError");
}

#[test]
fn the_camera_image_is_a_png_of_the_asked_size() {
    let (mut s, _) = sim_session(ROOM);
    // The PNG header says the size: width and height in the IHDR chunk.
    let obs = run(
        &mut s,
        "import struct\npng = get_camera_image(160, 90)\n(png[:8], struct.unpack('>II', png[16:24]))",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(
        obs.result.as_deref(),
        Some("(b'\\x89PNG\\r\\n\\x1a\\n', (160, 90))")
    );
    assert_error(&run(&mut s, "get_camera_image(5000, 10)"), "ValueError");
}

#[test]
fn show_attaches_pictures_from_bytes_arrays_and_files_and_refuses_what_is_not_one() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(
        &mut s,
        "import numpy as np\npng = get_camera_image(64, 48)\nshow(png, 'the view')\na = np.zeros((10, 20, 3), dtype=np.uint8)\na[:, :10, 0] = 255\nshow(a)\nopen('view.png', 'wb').write(png)\nshow('view.png')",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let sizes: Vec<_> = obs
        .images
        .iter()
        .map(|p| (p.size(), p.caption.as_deref()))
        .collect();
    assert_eq!(
        sizes,
        [
            (Some((64, 48)), Some("the view")),
            (Some((20, 10)), None),
            (Some((64, 48)), None)
        ]
    );
    assert_eq!(
        obs.images[0].data, obs.images[2].data,
        "the file holds the same picture"
    );
    let text = obs.render();
    assert!(
        text.contains("[picture 1: PNG 64x48, ") && text.contains(": the view]"),
        "{text}"
    );
    // The array's pixels survive: decode the PNG the array became.
    let decoder = png::Decoder::new(std::io::Cursor::new(obs.images[1].data.clone()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    reader.next_frame(&mut pixels).unwrap();
    assert_eq!(&pixels[..3], &[255, 0, 0], "red on the left");
    assert_eq!(&pixels[30..33], &[0, 0, 0], "black on the right");

    // What is not a picture is an error in the observation, with what to do.
    for (code, words) in [
        ("show(b'hello')", "not a PNG or JPEG"),
        ("import numpy as np\nshow(np.zeros((4, 4)))", "dtype uint8"),
        (
            "import numpy as np\nshow(np.zeros((4, 4, 2), dtype=np.uint8))",
            "H x W x 3",
        ),
        ("show(42)", "not int"),
        ("show('missing.png')", "No such file"),
        (
            "for _ in range(9):\n    show(get_camera_image(16, 16))",
            "at most 8 pictures",
        ),
    ] {
        let obs = run(&mut s, code);
        assert_eq!(obs.status, Status::Error, "{code}");
        let message = obs.error.as_ref().unwrap().message.clone();
        assert!(message.contains(words), "{code}: {message}");
        assert!(obs.images.is_empty() || code.starts_with("for"), "{code}");
    }
}

#[test]
fn go_to_an_unknown_name_lists_the_zones_and_stop_stops() {
    let (mut s, robot) = sim_session(ROOM);
    let msg = assert_error(&run(&mut s, "go_to('kitchen')"), "ObjectNotSeen");
    assert!(msg.contains("dock, goal"), "{msg}");
    let obs = run(&mut s, "stop()\nget_pose()");
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(robot.sim().commanded(), (0.0, 0.0));
}

/// The robot's measured speeds in the simulation.
fn at_rest(robot: &sim::SimRobot) -> bool {
    robot.sim().velocity() == (0.0, 0.0)
}

#[test]
fn motion_skills_return_at_rest() {
    let (mut s, robot) = sim_session(ROOM);
    // The pose drive returns is where the robot stays: it brakes before returning.
    let obs = run(
        &mut s,
        "p = drive(0.8, 0.0, 1.0)\nwait(2.0)\nq = get_pose()\n(round(q.x - p.x, 4), round(q.y - p.y, 4), p.x > 1.4)",
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("(0.0, 0.0, True)"),
        "{}",
        obs.render()
    );
    assert!(at_rest(&robot));
    for code in [
        "rotate(1.0)",
        "move_to(1.5, 3.0)",
        "move_to(1.0, 1.0, theta=0.5)",
        "go_to('goal')",
        "drive(0.3, 1.0, 0.5)",
    ] {
        let obs = run(
            &mut s,
            &format!("p = {code}\nwait(2.0)\nq = get_pose()\nround(abs(q.x - p.x) + abs(q.y - p.y) + abs(q.theta - p.theta), 3)"),
        );
        assert_eq!(
            obs.result.as_deref(),
            Some("0.0"),
            "{code}: {}",
            obs.render()
        );
        assert!(at_rest(&robot), "{code}");
    }
}

#[test]
fn a_full_dock_makes_events_for_changes_only() {
    let world = ROOM.replace(
        "robot: {start: [0.7, 0.7, 0.0]}",
        "robot: {start: [0.7, 0.7, 0.0], battery_start: 90}",
    );
    let (mut s, _) = sim_session(&world);
    let obs = run(&mut s, "wait(300.0)");
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let events: Vec<&str> = obs
        .robot_events
        .iter()
        .map(|e| e.split_once(' ').unwrap().1)
        .collect();
    assert_eq!(
        events,
        ["charging in dock (90%)", "battery full (100%)"],
        "{events:?}"
    );
    assert!(obs.render().len() < 1000, "{}", obs.render());
    let obs = run(&mut s, "wait(120.0)\nget_battery().percent");
    assert_eq!(obs.result.as_deref(), Some("100.0"));
    assert!(obs.robot_events.is_empty(), "{:?}", obs.robot_events);
    let obs = run(&mut s, "move_to(2.0, 0.7)");
    assert!(
        obs.robot_events
            .iter()
            .any(|e| e.contains("stopped charging (100%)")),
        "{:?}",
        obs.robot_events
    );
}

#[test]
fn observations_stay_short_whatever_the_action_makes() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(&mut s, "for i in range(5000):\n    say(f'message {i}')");
    assert_eq!(obs.status, Status::Ok);
    assert_eq!(obs.robot_events.len(), 41, "{:?}", obs.robot_events);
    assert!(
        obs.robot_events[20].contains("4960 more events"),
        "{}",
        obs.robot_events[20]
    );
    assert!(obs.robot_events[40].ends_with("message 4999"));
    assert!(obs.render().len() < 6000, "{} bytes", obs.render().len());
    let obs = run(
        &mut s,
        "for i in range(500):\n    move_to(0.7, 0.7, theta=100 + i)",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert_eq!(obs.notes.len(), 7, "{:?}", obs.notes);
    assert!(obs.notes[3].contains("494 more notes"), "{:?}", obs.notes);
}

#[test]
fn known_objects_remember_where_things_were_seen_and_put() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(&mut s, "known_objects()");
    assert_eq!(obs.result.as_deref(), Some("[]"));
    let obs = run(
        &mut s,
        "detect_objects()\nmove_to(1.5, 2.5)\n[(o.name, o.x, o.y) for o in known_objects()]",
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("[('red_cube', 4.5, 0.8)]"),
        "{}",
        obs.render()
    );
    let obs = run(
        &mut s,
        "go_to('red_cube')\npick('red_cube')\nk1 = known_objects()\nmove_to(5.0, 2.0)\nplace_at(5.2, 2.0)\n(k1, [(o.name, o.x, o.y) for o in known_objects()])",
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("([], [('red_cube', 5.2, 2.0)])"),
        "{}",
        obs.render()
    );
}

#[test]
fn go_to_a_zone_whose_centre_is_furniture_stops_at_its_nearest_free_point() {
    let world = ROOM.replace(
        "  - {name: goal, rect: [4.6, 2.6, 1.2, 1.2]}",
        "  - {name: goal, rect: [4.6, 2.6, 1.2, 1.2]}\n  - {name: by_the_table, rect: [2.0, 1.0, 2.0, 2.0]}",
    );
    let (mut s, robot) = sim_session(&world);
    let obs = run(&mut s, "p = go_to('by_the_table')\n(p.x, p.y)");
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let sim = robot.sim();
    let p = sim.true_pose();
    let zone = sim
        .world()
        .zones
        .iter()
        .find(|z| z.name == "by_the_table")
        .unwrap();
    assert!(zone.contains(sim::geometry::P2::new(p.x, p.y)), "{p:?}");
    // The nearest free point: the table's edge (1 m square at the centre) plus the footprint.
    let from_centre = p.distance_to(P2::new(3.0, 2.0));
    assert!(
        (0.7..0.95).contains(&from_centre),
        "{from_centre} from the centre: {p:?}"
    );
}

#[test]
fn an_angle_beyond_a_full_turn_gets_a_note_about_degrees() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(&mut s, "move_to(1.0, 0.7, theta=90)");
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    let note = obs
        .notes
        .iter()
        .find(|n| n.contains("degrees"))
        .expect("a note");
    assert!(
        note.contains("1.571 rad") && note.contains("theta=90"),
        "{note}"
    );
    assert!(
        obs.render().contains("Note: move_to(theta=90)"),
        "{}",
        obs.render()
    );
    let obs = run(&mut s, "move_to(1.0, 0.7, theta=1.5)");
    assert!(obs.notes.is_empty(), "{:?}", obs.notes);
}

#[test]
fn objects_go_on_and_come_off_furniture_with_a_top() {
    // The README's example: put the red mug on the kitchen table.
    let world = sim::world_file::load("apartment").unwrap();
    let (mut s, robot) = common::sim_session_world(world);
    let obs = run(
        &mut s,
        "move_to(7.0, 3.0, theta=0.0)\nseen = [o.name for o in detect_objects()]\ngo_to('red_mug')\npick('red_mug')\ngo_to('kitchen_table')\nplace()",
    );
    assert_eq!(obs.status, Status::Ok, "{}", obs.render());
    assert!(
        obs.robot_events
            .iter()
            .any(|e| e.contains("placed red_mug") && e.contains("on kitchen_table in kitchen")),
        "{:?}",
        obs.robot_events
    );
    let sim = robot.sim();
    let mug = sim.objects()[0].at;
    assert_eq!(
        sim.world().surface_at(mug).map(|o| o.name.as_str()),
        Some("kitchen_table")
    );
    drop(sim);
    // Seen on the table over its edge, and picked from beside it.
    let obs = run(
        &mut s,
        "move_to(7.0, 0.7, theta=0.8)\nprint([o.name for o in detect_objects()])\ngo_to('red_mug')\npick('red_mug')\nholding()",
    );
    assert_eq!(obs.result.as_deref(), Some("'red_mug'"), "{}", obs.render());
    assert!(obs.output_text().contains("red_mug"), "{}", obs.render());
    // Furniture without a top refuses things: a wardrobe is only an obstacle.
    let obs = run(
        &mut s,
        "move_to(7.0, 6.95, theta=1.5708)\nplace_at(7.0, 7.36)",
    );
    assert_error(&obs, "GripperError");
}

#[test]
fn helper_modules_import_the_skills_from_robot() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(
        &mut s,
        "open('helpers.py', 'w').write('from robot import get_pose, RobotError\\ndef where():\\n    return round(get_pose().x, 1)\\n')\nimport helpers\n(helpers.where(), helpers.RobotError is RobotError, round(math.pi, 2))",
    );
    assert_eq!(
        obs.result.as_deref(),
        Some("(0.7, True, 3.14)"),
        "{}",
        obs.render()
    );
}

#[test]
fn a_picture_as_the_last_expression_is_described_not_dumped() {
    let (mut s, _) = sim_session(ROOM);
    let obs = run(&mut s, "get_map_image(2.0)");
    let result = obs.result.unwrap();
    assert!(
        result.starts_with("<PNG image, ") && result.contains(" KiB of bytes"),
        "{result}"
    );
    assert!(result.len() < 120, "{result}");
    let obs = run(&mut s, "open('map.png', 'wb').write(_) > 1000, b'short'");
    assert_eq!(obs.result.as_deref(), Some("(True, b'short')"));
}
