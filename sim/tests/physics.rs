//! Physics invariants, determinism, sensors and pictures of the simulator.

use std::sync::Arc;

use sim::geometry::P2;
use sim::render;
use sim::world::{LidarConfig, Obstacle, RobotConfig, World, WorldParts};
use sim::Simulator;

fn world(text: &str) -> Arc<World> {
    Arc::new(sim::world_file::parse(text, "test.yaml").unwrap_or_else(|e| panic!("{e}")))
}

/// A box room with a thin wall across the middle.
fn thin_wall_room() -> Arc<World> {
    world("boundary: [6, 4]\nwalls:\n  - [[3, 0.5], [3, 3.5]]\nrobot: {start: [1, 2, 0], max_linear: 3.0, max_linear_accel: 50}\n")
}

#[test]
fn a_fast_robot_never_passes_through_a_thin_wall() {
    let w = thin_wall_room();
    let mut s = Simulator::new(w.clone());
    s.command(3.0, 0.0);
    s.run_for(5.0);
    let p = s.true_pose();
    assert!(
        p.x < 3.0 - w.robot.radius + 1e-6,
        "went through the wall: {p:?}"
    );
    assert!(s.take_bump(), "the bump sensor saw the contact");
    let events = s.take_events();
    assert!(
        events.iter().any(|e| e.text.starts_with("collision")),
        "{events:?}"
    );
    // Every sampled position keeps the footprint out of every wall.
    for q in s.trajectory() {
        assert!(w.clearance(*q, 1.0) >= w.robot.radius - 1e-6, "{q:?}");
    }
    // It can still back away from the wall.
    s.command(-0.5, 0.0);
    s.run_for(1.0);
    assert!(s.true_pose().x < p.x - 0.3);
}

#[test]
fn speed_and_acceleration_limits_hold() {
    let w = world("boundary: [40, 40]\nrobot: {start: [2, 20, 0], max_linear: 0.8, max_angular: 2.0, max_linear_accel: 1.5}\n");
    let mut s = Simulator::new(w);
    s.command(100.0, 100.0);
    let mut last_v = 0.0;
    for _ in 0..300 {
        s.step();
        let (v, om) = s.velocity();
        assert!(v <= 0.8 + 1e-12 && om.abs() <= 2.0 + 1e-12, "{v} {om}");
        assert!(v - last_v <= 1.5 * s.dt() + 1e-12, "accelerated too fast");
        last_v = v;
    }
    assert!((last_v - 0.8).abs() < 1e-9);
}

#[test]
fn the_same_seed_gives_the_same_run_bit_for_bit() {
    let text = "boundary: [10, 10]\nseed: 42\nobstacles:\n  - {name: b, rect: [4, 4, 1, 1]}\nrobot: {start: [1, 1, 0], odom_noise: 0.05, odom_drift: 0.01}\nlidar: {noise: 0.02}\n";
    let run = |text: &str| {
        let mut s = Simulator::new(world(text));
        for k in 0..40 {
            s.command(0.6, if (k / 5) % 2 == 0 { 0.4 } else { -0.4 });
            s.run_for(0.5);
        }
        (
            s.true_pose(),
            s.odom_pose(),
            s.scan().ranges.clone(),
            s.trajectory().to_vec(),
        )
    };
    let (a, b) = (run(text), run(text));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert_eq!(
        a.2.iter().map(|r| r.to_bits()).collect::<Vec<_>>(),
        b.2.iter().map(|r| r.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(a.3, b.3);
    // A different seed changes the noise.
    let c = run(&text.replace("seed: 42", "seed: 43"));
    assert_ne!(a.1, c.1);
}

#[test]
fn lidar_ranges_match_analytic_distances() {
    // Robot at the centre of a 10 m x 6 m box, facing +x: straight ahead the
    // wall is 5 m away, left 3 m, behind 5 m; a ray at angle a hits the side
    // wall at 3 / |sin a| when that is nearer than the end wall.
    let w =
        world("boundary: [10, 6]\nrobot: {start: [5, 3, 0]}\nlidar: {rays: 360, range_max: 12}\n");
    let s = Simulator::new(w);
    let scan = s.scan();
    for (i, &r) in scan.ranges.iter().enumerate() {
        let a = scan.angle_min + i as f64 * scan.angle_increment;
        let expected = (5.0 / a.cos().abs()).min(3.0 / a.sin().abs());
        assert!(
            (r - expected).abs() < 1e-9,
            "ray {i} at {a}: {r} vs {expected}"
        );
    }
}

#[test]
fn the_camera_sees_only_what_is_in_view_and_not_behind_walls() {
    let w = world("boundary: [10, 6]\nwalls:\n  - [[6, 0], [6, 4]]\nobjects:\n  - {name: ahead, colour: red, at: [4, 3]}\n  - {name: behind, colour: blue, at: [1, 3]}\n  - {name: hidden, colour: green, at: [7, 1]}\nrobot: {start: [2, 3, 0]}\ncamera: {fov_deg: 90, range: 8}\n");
    let s = Simulator::new(w);
    let names: Vec<String> = s.detections().into_iter().map(|d| d.name).collect();
    assert_eq!(names, vec!["ahead".to_string()]);
}

#[test]
fn the_gripper_picks_only_within_reach_and_carries_the_object() {
    let w = world("boundary: [6, 4]\nobjects:\n  - {name: cube, colour: red, at: [1.4, 2]}\n  - {name: far, colour: blue, at: [4, 2]}\nrobot: {start: [1, 2, 0], reach: 0.45}\n");
    let mut s = Simulator::new(w);
    assert!(matches!(
        s.pick("far"),
        Err(sim::simulator::GripperFailure::NotInReach(_))
    ));
    s.pick("cube").unwrap();
    assert!(matches!(
        s.pick("far"),
        Err(sim::simulator::GripperFailure::Gripper(_))
    ));
    s.command(0.5, 0.0);
    s.run_for(2.0);
    assert!(s.objects()[0].at.x > 1.8, "the cube moved with the robot");
    let (name, _) = s.place(None).unwrap();
    assert_eq!(name, "cube");
    assert!(s.holding().is_none());
}

#[test]
fn a_slippery_object_slips_as_often_as_its_world_says() {
    let w = world("boundary: [6, 4]\nobjects:\n  - {name: wet, colour: blue, at: [1.4, 2], slips: 2}\nrobot: {start: [1, 2, 0]}\n");
    let mut s = Simulator::new(w);
    for _ in 0..2 {
        match s.pick("wet") {
            Err(sim::simulator::GripperFailure::Gripper(m)) => {
                assert!(m.contains("slipped"), "{m}")
            }
            other => panic!("expected a slip, got {other:?}"),
        }
        assert!(s.holding().is_none());
    }
    s.pick("wet").unwrap();
    assert_eq!(s.holding(), Some("wet"));
    assert_eq!(
        s.take_events()
            .iter()
            .filter(|e| e.text.contains("slipped"))
            .count(),
        2
    );
}

#[test]
fn the_battery_drains_with_motion_and_charges_on_the_dock() {
    let w = world("boundary: [20, 4]\nzones:\n  - {name: dock, rect: [0, 0, 2, 4], charger: true}\nrobot: {start: [3, 2, 0], battery_start: 50, battery_drain_per_m: 1.0, battery_low: 45}\n");
    let mut s = Simulator::new(w);
    s.command(0.8, 0.0);
    s.run_for(10.0);
    let after = s.battery().percent;
    assert!(after < 50.0 - 7.0, "{after}");
    assert!(s
        .take_events()
        .iter()
        .any(|e| e.text.starts_with("battery low")));
    // Drive back onto the dock and stand still.
    let mut s = Simulator::new(world("boundary: [20, 4]\nzones:\n  - {name: dock, rect: [0, 0, 2, 4], charger: true}\nrobot: {start: [1, 2, 0], battery_start: 50}\n"));
    s.run_for(10.0);
    assert!(s.battery().charging);
    assert!(s.battery().percent > 55.0);
}

#[test]
fn a_picture_shows_the_trajectory() {
    let w = world("boundary: [6, 4]\nrobot: {start: [1, 1, 0.3]}\n");
    let mut s = Simulator::new(w.clone());
    s.command(0.5, 0.0);
    s.run_for(6.0);
    let pm = render::draw(&w, Some(&s));
    let view = render::View::of(&w);
    // Pixels along the straight path (away from the robot drawn at its end) carry the trajectory colour.
    let (tr, tg, tb) = render::colours::TRAJECTORY;
    let mut on_path = 0;
    for k in 1..6 {
        let t = k as f64 * 0.5;
        let p = P2::new(1.0 + 0.5 * t * 0.3f64.cos(), 1.0 + 0.5 * t * 0.3f64.sin());
        let (x, y) = view.px(p);
        let px = pm.pixel(x.round() as u32, y.round() as u32).unwrap();
        if (px.red() as i32 - tr as i32).abs() < 40
            && (px.green() as i32 - tg as i32).abs() < 40
            && (px.blue() as i32 - tb as i32).abs() < 40
        {
            on_path += 1;
        }
    }
    assert!(on_path >= 4, "only {on_path} of 5 path points drawn");
    // And the empty world has no trajectory colour on its map (the legend shows it below).
    let empty = render::draw(&w, None);
    let map_pixels = (view.map_bottom() as usize) * empty.width() as usize;
    let blue = empty.pixels()[..map_pixels]
        .iter()
        .filter(|p| p.red() == tr && p.green() == tg && p.blue() == tb)
        .count();
    assert_eq!(blue, 0);
    let png = std::env::temp_dir().join(format!("sim-test-{}.png", std::process::id()));
    render::write_png(&w, Some(&s), &png).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    let _ = std::fs::remove_file(png);
    assert!(render::svg(&w, Some(&s)).contains("<polyline"));
}

/// Dark pixels (text, lines) in a rectangle of a picture.
fn dark_pixels(pm: &tiny_skia::Pixmap, (x0, y0): (f32, f32), (w, h): (f32, f32)) -> usize {
    let mut n = 0;
    for y in y0.max(0.0) as u32..((y0 + h) as u32).min(pm.height()) {
        for x in x0.max(0.0) as u32..((x0 + w) as u32).min(pm.width()) {
            let p = pm.pixel(x, y).unwrap();
            if (p.red() as u32 + p.green() as u32 + p.blue() as u32) < 150 {
                n += 1;
            }
        }
    }
    n
}

fn rgb_at(pm: &tiny_skia::Pixmap, view: &render::View, p: P2) -> (u8, u8, u8) {
    let (x, y) = view.px(p);
    let px = pm.pixel(x.round() as u32, y.round() as u32).unwrap();
    (px.red(), px.green(), px.blue())
}

#[test]
fn a_picture_is_labelled_with_names_a_scale_bar_and_a_legend() {
    let w = world("name: labelled\nboundary: [8, 5]\nobstacles:\n  - {name: crate, rect: [1, 3, 2, 1]}\n  - {name: bench, rect: [4, 3, 3, 1], surface: true}\n  - {name: lost, rect: [5, 0.5, 2, 1], unmapped: true}\nzones:\n  - {name: lab, rect: [0, 0, 4, 2.5]}\n  - {name: store, rect: [4, 0, 4, 2.5]}\nobjects:\n  - {name: ghost, colour: white, size: 0.2, at: [2, 1]}\nrobot: {start: [0.5, 0.5, 0]}\n");
    let pm = render::draw(&w, None);
    let view = render::View::of(&w);
    let blank = render::draw(
        &world("name: x\nboundary: [8, 5]\nrobot: {start: [0.5, 0.5, 0]}\n"),
        None,
    );
    // The title in the top margin (nothing else is drawn there).
    assert!(dark_pixels(&pm, (20.0, 0.0), (60.0, 18.0)) > 40);
    // Zone names in their top-left corners: "lab" at (0, 2.5), "store" at (4, 2.5).
    for corner in [P2::new(0.0, 2.5), P2::new(4.0, 2.5)] {
        let (x, y) = view.px(corner);
        let here = dark_pixels(&pm, (x + 4.0, y + 4.0), (32.0, 12.0));
        let empty = dark_pixels(&blank, (x + 4.0, y + 4.0), (32.0, 12.0));
        assert!(
            here > 15 + empty,
            "zone name at {corner:?}: {here} dark pixels"
        );
    }
    // The object's name beside it, and a dark outline around the white object.
    let (x, y) = view.px(P2::new(2.0, 1.0));
    assert!(dark_pixels(&pm, (x + 10.0, y - 6.0), (30.0, 12.0)) > 15);
    let outline = (0..18u32)
        .flat_map(|i| [(i, 0), (i, 17), (0, i), (17, i)])
        .filter(|&(dx, dy)| {
            let p = pm.pixel(x as u32 - 9 + dx, y as u32 - 9 + dy).unwrap();
            (p.red() as u32 + p.green() as u32 + p.blue() as u32) < 500
        })
        .count();
    assert!(
        outline > 40,
        "white object outlined: {outline} grey pixels around it"
    );
    // The scale bar: a dark line of the stated length.
    let key = view.key();
    let (bx, by, len, metres) = key.scale_bar;
    assert!((len as f64 - metres * view.scale()).abs() < 0.5);
    for k in 0..=10 {
        let x = bx + len * k as f32 / 10.0;
        assert!(
            dark_pixels(&pm, (x - 1.0, by - 1.5), (2.0, 3.0)) > 0,
            "scale bar at {x}"
        );
    }
    // Its label and every legend entry are written.
    assert!(dark_pixels(&pm, (bx + len + 5.0, by - 8.0), (20.0, 12.0)) > 10);
    assert!(key.entries.len() >= 9);
    for &(x, y, name, _) in &key.entries {
        assert!(
            dark_pixels(&pm, (x + 16.0, y - 5.0), (6.0 * name.len() as f32, 10.0)) > 10,
            "legend {name}"
        );
    }
    // Mapped, unmapped and surface obstacles differ, and so do the two rooms' tints.
    let crate_rgb = rgb_at(&pm, &view, P2::new(1.2, 3.2));
    assert_eq!(crate_rgb, render::colours::OBSTACLE);
    assert_eq!(
        rgb_at(&pm, &view, P2::new(4.2, 3.2)),
        render::colours::SURFACE
    );
    assert_eq!(
        rgb_at(&pm, &view, P2::new(5.2, 0.7)),
        render::colours::UNMAPPED
    );
    assert_ne!(
        rgb_at(&pm, &view, P2::new(3.5, 0.3)),
        rgb_at(&pm, &view, P2::new(4.5, 0.3))
    );
    let svg = render::svg(&w, None);
    for words in [
        ">labelled<",
        ">lab<",
        ">ghost<",
        ">furniture with a top<",
        "stroke-dasharray",
    ] {
        assert!(svg.contains(words), "{words} in the SVG");
    }
}

#[test]
fn worlds_can_be_built_in_code() {
    let w = World::build(WorldParts {
        name: "code".into(),
        obstacles: vec![Obstacle {
            name: "o".into(),
            unmapped: false,
            surface: false,
            polygon: vec![P2::new(2.0, 2.0), P2::new(3.0, 2.0), P2::new(3.0, 3.0)],
        }],
        robot: RobotConfig::default(),
        lidar: LidarConfig {
            rays: 8,
            ..LidarConfig::default()
        },
        ..WorldParts::default()
    });
    let s = Simulator::new(Arc::new(w));
    assert_eq!(s.scan().ranges.len(), 8);
}

#[test]
fn skipping_the_back_edges_of_obstacles_changes_no_range() {
    // Obstacles given clockwise and counter-clockwise; the scan skips edges
    // seen from behind, per-ray casting tests them all: both must agree.
    let mut seed = 11u64;
    let mut rnd = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut obstacles = Vec::new();
    for i in 0..30 {
        let (x, y) = (1.0 + rnd() * 17.0, 1.0 + rnd() * 17.0);
        let (w, h) = (0.2 + rnd() * 1.5, 0.2 + rnd() * 1.5);
        let mut polygon = vec![
            P2::new(x, y),
            P2::new(x + w, y),
            P2::new(x + w, y + h),
            P2::new(x, y + h),
        ];
        if i % 2 == 0 {
            polygon.reverse();
        }
        obstacles.push(Obstacle {
            name: format!("o{i}"),
            polygon,
            unmapped: false,
            surface: false,
        });
    }
    let w = World::build(WorldParts {
        name: "random".into(),
        walls: sim::geometry::polygon_edges(&[
            P2::new(0.0, 0.0),
            P2::new(20.0, 0.0),
            P2::new(20.0, 20.0),
            P2::new(0.0, 20.0),
        ])
        .collect(),
        obstacles,
        ..WorldParts::default()
    });
    let dirs: Vec<(f64, f64)> = (0..360)
        .map(|i| {
            let a = -std::f64::consts::PI + i as f64 * std::f64::consts::TAU / 360.0;
            (a.cos(), a.sin())
        })
        .collect();
    let fan = sim::geometry::RayFan {
        dirs: &dirs,
        first: -std::f64::consts::PI,
        increment: std::f64::consts::TAU / 360.0,
        full_circle: true,
    };
    let mut tested = 0;
    while tested < 200 {
        let o = P2::new(rnd() * 20.0, rnd() * 20.0);
        if w.inside_obstacle(o).is_some() {
            continue;
        }
        tested += 1;
        let mut out = vec![0.0; 360];
        w.grid.scan(o, &fan, 12.0, &mut out);
        for (i, &(dx, dy)) in dirs.iter().enumerate() {
            let one = w
                .grid
                .cast(o, sim::geometry::V2::new(dx, dy), 12.0)
                .unwrap_or(f64::INFINITY);
            assert!(
                one == out[i] || (one - out[i]).abs() < 1e-9,
                "ray {i} from {o:?}: {one} vs {}",
                out[i]
            );
        }
    }
}

#[test]
fn real_time_follows_the_clock_and_lets_others_read_the_state() {
    use robot_api::{CancelToken, RobotBackend};
    use std::time::{Duration, Instant};
    let robot = Arc::new(sim::SimRobot::new(world(
        "boundary: [6, 4]\nrobot: {start: [1, 2, 0]}\n",
    )));
    // Lockstep: exactly the time asked for, whatever the clock says.
    robot
        .advance(Duration::from_secs(10), &CancelToken::new())
        .unwrap();
    assert!((robot.time() - 10.0).abs() < 1e-9);
    // Real time at 4x: 0.4 simulated seconds take at least 0.1 s, and a
    // reader sees the time move on while the skill runs.
    robot.set_realtime(Some(4.0));
    let reader = {
        let robot = robot.clone();
        std::thread::spawn(move || {
            // Polls until it sees a time strictly inside the skill's run.
            (0..400).any(|_| {
                std::thread::sleep(Duration::from_millis(5));
                let t = robot.time();
                t > 10.0 + 1e-9 && t < 10.4 - 1e-9
            })
        })
    };
    let started = Instant::now();
    robot.command(0.2, 0.0).unwrap();
    robot
        .advance(Duration::from_millis(400), &CancelToken::new())
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(99),
        "{:?}",
        started.elapsed()
    );
    assert!(
        reader.join().unwrap(),
        "the state was locked for the whole skill"
    );
    assert!((robot.time() - 10.4).abs() < 1e-9);
    // A cancelled wait in real time returns early with an error.
    let cancel = CancelToken::new();
    let c = cancel.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        c.cancel();
    });
    let started = Instant::now();
    assert!(robot.advance(Duration::from_secs(60), &cancel).is_err());
    assert!(started.elapsed() < Duration::from_secs(30));
}
