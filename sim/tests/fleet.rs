//! A fleet in one simulation: robots listed in the world file, stepped on
//! one clock while each moves on its own thread, colliding with and seen
//! by one another.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use robot_api::{CancelToken, ErrorKind, RobotBackend};
use sim::geometry::P2;
use sim::SimRobot;

/// A 10 m x 6 m hall; alpha at (1, 1) and beta at (1, 4), both facing east.
const HALL: &str = "
name: hall
boundary: [10, 6]
robots:
  - {name: alpha, start: [1.0, 1.0, 0.0]}
  - {name: beta, start: [1.0, 4.0, 0.0], radius: 0.3}
";

fn fleet(text: &str) -> Vec<Arc<SimRobot>> {
    let world = sim::world_file::parse(text, "fleet.yaml").unwrap_or_else(|e| panic!("{e}"));
    SimRobot::fleet(Arc::new(world))
}

/// Drives `robot` at `speed` for `seconds` of simulated time, then stops.
fn drive(
    robot: &SimRobot,
    speed: f64,
    seconds: f64,
    cancel: &CancelToken,
) -> Result<(), ErrorKind> {
    robot.command(speed, 0.0).map_err(|e| e.kind)?;
    let ran = robot.advance(Duration::from_secs_f64(seconds), cancel);
    robot.stop();
    ran.map_err(|e| e.kind)
}

fn at(robot: &SimRobot) -> P2 {
    let p = robot.sim().robot(robot.index()).true_pose();
    P2::new(p.x, p.y)
}

#[test]
fn a_world_lists_its_robots_by_name_each_with_its_own_settings() {
    let robots = fleet(HALL);
    assert_eq!(robots.len(), 2);
    assert_eq!(robots[0].name(), "alpha");
    assert_eq!(robots[1].name(), "beta");
    assert_eq!(robots[1].limits().radius, 0.3);
    assert!(
        robots[1].describe().contains("'beta' of 2"),
        "{}",
        robots[1].describe()
    );
    // One robot of a world of one keeps its old name and description.
    let one = fleet("boundary: [4, 4]\nrobot: {start: [1, 1, 0]}\n");
    assert_eq!(one[0].name(), "robot");
    assert!(!one[0].describe().contains(" of "));
}

#[test]
fn two_robots_move_at_once_and_the_clock_is_the_longer_motion() {
    let robots = fleet(HALL);
    // The fleet's skill layer marks both busy before either starts, so the
    // clock waits for both whichever thread runs first.
    let busy: Vec<_> = robots.iter().map(|r| r.busy()).collect();
    let runs: Vec<_> = robots
        .iter()
        .zip([4.0, 2.0])
        .zip(busy)
        .map(|((r, seconds), busy)| {
            let r = r.clone();
            thread::spawn(move || {
                let ran = drive(&r, 0.5, seconds, &CancelToken::new());
                drop(busy);
                ran
            })
        })
        .collect();
    for run in runs {
        assert_eq!(run.join().unwrap(), Ok(()));
    }
    let time = robots[0].time();
    assert!(
        (time - 4.0).abs() < 0.02,
        "4 s of simulated time, not 6: {time}"
    );
    let (a, b) = (at(&robots[0]), at(&robots[1]));
    // Each moved as if alone: 0.5 m/s after a short acceleration.
    assert!(a.x > 2.8 && a.x < 3.0, "alpha drove 4 s: {a:?}");
    assert!(b.x > 1.8 && b.x < 2.0, "beta drove 2 s: {b:?}");
    assert!((a.y - 1.0).abs() < 1e-9 && (b.y - 4.0).abs() < 1e-9);
}

#[test]
fn robots_driving_into_each_other_stop_at_contact_and_both_hear_of_it() {
    let robots = fleet(
        "boundary: [10, 4]\nrobots:\n  - {name: alpha, start: [2.0, 2.0, 0.0]}\n  - {name: beta, start: [6.0, 2.0, 3.14159265]}\n",
    );
    let busy: Vec<_> = robots.iter().map(|r| r.busy()).collect();
    let runs: Vec<_> = robots
        .iter()
        .zip(busy)
        .map(|(r, busy)| {
            let r = r.clone();
            thread::spawn(move || {
                let ran = drive(&r, 0.8, 6.0, &CancelToken::new());
                drop(busy);
                ran
            })
        })
        .collect();
    for run in runs {
        run.join().unwrap().unwrap();
    }
    let gap = (at(&robots[0]) - at(&robots[1])).norm();
    assert!(gap >= 0.4 - 1e-6, "they passed through each other: {gap}");
    assert!(gap < 0.45, "they met: {gap}");
    for (r, other) in [(&robots[0], "beta"), (&robots[1], "alpha")] {
        let events = r.take_events().join("\n");
        assert!(
            events.contains("collision at") && events.contains(other),
            "{}: {events}",
            r.name()
        );
    }
    // Both drove into the other.
    assert!(robots[0].take_bump() && robots[1].take_bump());
}

#[test]
fn each_robot_sees_the_other_in_its_lidar() {
    // beta 2 m ahead of alpha, on its heading.
    let robots = fleet(
        "boundary: [10, 4]\nrobots:\n  - {name: alpha, start: [2.0, 2.0, 0.0]}\n  - {name: beta, start: [4.0, 2.0, 0.0], radius: 0.25}\nlidar: {rays: 360, fov_deg: 360}\n",
    );
    let scan = robots[0].lidar().unwrap().scan().unwrap();
    let ahead = scan
        .ranges
        .iter()
        .enumerate()
        .min_by_key(|(i, _)| {
            let a = scan.angle_min + *i as f64 * scan.angle_increment;
            (a.abs() * 1e6) as i64
        })
        .map(|(_, r)| *r)
        .unwrap();
    assert!((ahead - 1.75).abs() < 0.01, "beta's near side: {ahead}");
    // And beta sees alpha behind it.
    let scan = robots[1].lidar().unwrap().scan().unwrap();
    let behind = scan.ranges[0];
    assert!((behind - 1.8).abs() < 0.01, "alpha's near side: {behind}");
}

#[test]
fn a_cancelled_robot_stops_while_the_other_drives_on() {
    let robots = fleet(HALL);
    let busy: Vec<_> = robots.iter().map(|r| r.busy()).collect();
    let cancel = CancelToken::new();
    let (alpha, beta) = (robots[0].clone(), robots[1].clone());
    let mut busy = busy.into_iter();
    let (busy_a, busy_b) = (busy.next().unwrap(), busy.next().unwrap());
    let c = cancel.clone();
    let a = thread::spawn(move || {
        let ran = drive(&alpha, 0.5, 600.0, &c);
        drop(busy_a);
        ran
    });
    let b = thread::spawn(move || {
        let ran = drive(&beta, 0.5, 3.0, &CancelToken::new());
        drop(busy_b);
        ran
    });
    assert_eq!(b.join().unwrap(), Ok(()), "beta drove its 3 s");
    cancel.cancel();
    assert_eq!(a.join().unwrap(), Err(ErrorKind::Cancelled));
    assert_eq!(robots[0].velocity(), (0.0, 0.0));
    assert!(at(&robots[1]).x > 2.3);
}

#[test]
fn a_fleet_world_file_is_checked() {
    let err = |text: &str| {
        sim::world_file::parse(text, "fleet.yaml")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let base = "boundary: [10, 6]\n";
    let e = err(&format!(
        "{base}robots:\n  - {{name: a, start: [1, 1, 0]}}\n  - {{name: a, start: [3, 3, 0]}}\n"
    ));
    assert!(e.contains("two robots are called \"a\""), "{e}");
    let e = err(&format!(
        "{base}robots:\n  - {{name: a, start: [1, 1, 0]}}\n  - {{name: b, start: [1.2, 1, 0]}}\n"
    ));
    assert!(e.contains("overlap"), "{e}");
    let e = err(&format!(
        "{base}robot: {{start: [1, 1, 0]}}\nrobots:\n  - {{name: a, start: [3, 3, 0]}}\n"
    ));
    assert!(e.contains("not both"), "{e}");
    let e = err(&format!("{base}robots:\n  - {{start: [3, 3, 0]}}\n"));
    assert!(e.contains("needs a name"), "{e}");
    let e = err(&format!(
        "{base}robots:\n  - {{name: 2fast, start: [3, 3, 0]}}\n"
    ));
    assert!(e.contains("Python identifier"), "{e}");
}

#[test]
fn a_robot_in_view_is_detected_by_name_and_drawn_in_the_picture() {
    // beta 1.5 m ahead of alpha.
    let robots = fleet(
        "boundary: [10, 4]\nrobots:\n  - {name: alpha, start: [2.0, 2.0, 0.0]}\n  - {name: beta, start: [3.5, 2.0, 0.0]}\n",
    );
    let seen = robots[0].camera().unwrap().detect().unwrap();
    let beta = seen
        .iter()
        .find(|d| d.name == "beta")
        .expect("beta detected");
    assert_eq!(beta.kind, "robot");
    assert!((beta.distance - 1.5).abs() < 1e-6 && beta.bearing.abs() < 1e-6);
    // beta looks away: alpha is behind it.
    let seen = robots[1].camera().unwrap().detect().unwrap();
    assert!(seen.iter().all(|d| d.name != "alpha"), "{seen:?}");

    // The middle column of alpha's picture shows beta's grey below the
    // horizon (beta is lower than the camera), where the room alone shows floor.
    let view = sim::camera::view_of(&robots[0].sim(), 0, 64, 48);
    let alone = fleet("boundary: [10, 4]\nrobot: {start: [2.0, 2.0, 0.0]}\n");
    let empty = sim::camera::view_of(&alone[0].sim(), 0, 64, 48);
    let px = |img: &sim::camera::Image, y: usize| {
        let k = (y * 64 + 32) * 3;
        [img.rgb[k], img.rgb[k + 1], img.rgb[k + 2]]
    };
    let changed: Vec<usize> = (0..48).filter(|&y| px(&view, y) != px(&empty, y)).collect();
    assert!(
        changed.len() >= 4,
        "beta is in the picture: rows {changed:?}"
    );
    let [r, g, b] = px(&view, changed[changed.len() / 2]);
    assert!(
        r.abs_diff(b) < 30 && g.abs_diff(b) < 30,
        "grey: {r} {g} {b}"
    );
}

#[test]
fn the_built_in_warehouse_duo_has_two_robots_in_the_warehouse() {
    let duo = sim::load("warehouse_duo").unwrap();
    let one = sim::load("warehouse").unwrap();
    let names: Vec<&str> = duo.robots().map(|(n, _)| n).collect();
    assert_eq!(names, ["alpha", "beta"]);
    assert_eq!(duo.obstacles.len(), one.obstacles.len());
    assert_eq!(duo.objects, one.objects);
    assert_eq!(duo.robot.start, one.robot.start, "alpha starts at the dock");
}

/// The same fleet world and commands give the same noisy scans, bit for
/// bit, run after run; each scan stepping made (each robot seeing the
/// others) is the one casting it alone makes.
#[test]
fn a_fleets_scans_are_the_same_run_after_run_and_as_cast_one_by_one() {
    let noisy = format!("{HALL}lidar: {{noise: 0.02}}\n");
    let world = Arc::new(sim::world_file::parse(&noisy, "hall.yaml").unwrap());
    let run = || {
        let mut s = sim::Simulator::new(world.clone());
        s.command_robot(0, 0.5, 0.2);
        s.command_robot(1, 0.4, -0.1);
        s.run_for(3.0);
        s
    };
    let (a, b) = (run(), run());
    for i in 0..2 {
        assert_eq!(a.robot(i).scan().ranges, b.robot(i).scan().ranges);
        assert!(a.robot(i).scan().ranges.iter().any(|r| r.is_finite()));
    }
    // Without noise, a scan cast alone (one robot at a time) is the one stepping cast.
    let quiet = Arc::new(sim::world_file::parse(HALL, "hall.yaml").unwrap());
    let mut s = sim::Simulator::new(quiet);
    s.command_robot(0, 0.5, 0.2);
    s.command_robot(1, 0.4, -0.1);
    s.run_for(3.0);
    let stepped: Vec<Vec<f64>> = (0..2).map(|i| s.robot(i).scan().ranges.clone()).collect();
    for (i, ranges) in stepped.iter().enumerate() {
        s.take_scan_of(i);
        assert_eq!(&s.robot(i).scan().ranges, ranges, "robot {i}");
    }
}

/// A 60 m hall with a lidar of 8 m and noise on it and on odometry: alpha
/// at (2, 3) facing east, beta at (`beta_x`, 3) facing west.
fn long_hall(beta_x: f64) -> Arc<sim::World> {
    let world = format!(
        "
name: long_hall
boundary: [60, 6]
lidar: {{noise: 0.01, range_max: 8}}
robots:
  - {{name: alpha, start: [2.0, 3.0, 0.0], odom_noise: 0.02}}
  - {{name: beta, start: [{beta_x}, 3.0, 3.14159], odom_noise: 0.02}}
"
    );
    Arc::new(sim::world_file::parse(&world, "long_hall.yaml").unwrap_or_else(|e| panic!("{e}")))
}

/// While robots are far apart (none within another's reach or lidar range)
/// the simulator may run them on different threads; the run is the same,
/// bit for bit, as stepping them together, also when they come within
/// sight of each other part way.
#[test]
fn robots_far_apart_run_exactly_as_stepped_together() {
    let world = long_hall(26.0);
    let start = || {
        let mut s = sim::Simulator::new(world.clone());
        s.command_robot(0, 0.8, 0.05);
        s.command_robot(1, 0.8, -0.05);
        s
    };
    // 30 s: 24 m apart at first, within the lidar's 8 m by the end.
    let (mut apart, mut together) = (start(), start());
    apart.run_steps(3000);
    for _ in 0..3000 {
        together.step();
    }
    for i in 0..2 {
        let (a, t) = (apart.robot(i), together.robot(i));
        assert_eq!(a.true_pose(), t.true_pose(), "robot {i}");
        assert_eq!(a.odom_pose(), t.odom_pose(), "robot {i}");
        assert_eq!(a.scan().ranges, t.scan().ranges, "robot {i}");
        assert_eq!(a.trajectory(), t.trajectory(), "robot {i}");
        assert_eq!(a.battery().percent, t.battery().percent, "robot {i}");
    }
    assert_eq!(apart.steps(), together.steps());
    assert!(
        apart.robot(1).scan().ranges.iter().any(|r| *r < 7.5),
        "beta sees alpha by the end"
    );
}

/// The same through the fleet's clock, each robot driven from its own
/// thread: a waiting robot's thread may run the other robot's steps.
#[test]
fn robots_far_apart_on_their_own_threads_run_as_stepped_together() {
    let world = long_hall(40.0);
    let turns = [0.05, -0.05];
    let robots = SimRobot::fleet(world.clone());
    thread::scope(|scope| {
        let busy: Vec<_> = robots.iter().map(|r| r.busy()).collect();
        for ((r, busy), turn) in robots.iter().zip(busy).zip(turns) {
            scope.spawn(move || {
                let cancel = CancelToken::new();
                for k in 0..10 {
                    r.command(0.8, if k % 2 == 0 { turn } else { -turn })
                        .unwrap();
                    r.advance(Duration::from_secs(3), &cancel).unwrap();
                }
                drop(busy);
            });
        }
    });
    let mut together = sim::Simulator::new(world);
    for k in 0..10 {
        for (i, turn) in turns.into_iter().enumerate() {
            together.command_robot(i, 0.8, if k % 2 == 0 { turn } else { -turn });
        }
        for _ in 0..300 {
            together.step();
        }
    }
    let sim = robots[0].sim();
    for i in 0..2 {
        assert_eq!(
            sim.robot(i).true_pose(),
            together.robot(i).true_pose(),
            "robot {i}"
        );
        assert_eq!(
            sim.robot(i).scan().ranges,
            together.robot(i).scan().ranges,
            "robot {i}"
        );
    }
}
