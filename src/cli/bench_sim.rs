//! The simulator's figures: the "warehouse-lite" workload (the same in every
//! simulator compared), one lidar scan, path planning, and skills called from
//! Python through the session protocol.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Result};
use robot_api::geometry::P2;
use robot_api::RobotBackend;
use sim::Simulator;

use super::bench::{micros, report, stats, Driver};

/// warehouse-lite: 60 simulated seconds at v = 0.5 m/s with w alternating
/// +0.3 / -0.3 rad/s every 2 s from (1, 1), physics at 100 Hz, a 360-ray
/// lidar (0.05-12 m) at 10 Hz, collisions checked, in the 20 m x 20 m
/// warehouse with 40 shelves of 2 m x 0.5 m (sim/worlds/warehouse.yaml).
fn warehouse_lite(world: &Arc<sim::World>) -> (f64, Simulator) {
    let mut s = Simulator::new(world.clone());
    let started = Instant::now();
    for k in 0..30 {
        s.command(0.5, if k % 2 == 0 { 0.3 } else { -0.3 });
        s.run_for(2.0);
    }
    (started.elapsed().as_secs_f64(), s)
}

/// Runs the simulator benchmarks and prints the figures.
pub fn run(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    println!("codeact simulator benchmarks (warehouse world, one core)");
    let world = Arc::new(sim::load("warehouse")?);
    let w = &world;
    if w.obstacles.len() != 40
        || w.physics_rate != 100.0
        || w.lidar.rays != 360
        || w.lidar.rate != 10.0
    {
        bail!("sim/worlds/warehouse.yaml no longer matches the warehouse-lite workload");
    }

    let mut factors = Vec::new();
    let mut last = None;
    for _ in 0..reps(50) {
        let (wall, s) = warehouse_lite(&world);
        factors.push(60.0 / wall);
        last = Some(s);
    }
    let s = last.expect("at least one run");
    println!(
        "  (the run drove {:.1} m in 60 s; collision events: {})",
        s.distance_driven(),
        s.clone()
            .take_events()
            .iter()
            .filter(|e| e.text.starts_with("collision"))
            .count()
    );
    let single = stats(factors);
    report("warehouse-lite real-time factor", "x", &single, ">= 2000x");

    // One scan, from poses along the run.
    let mut s = Simulator::new(world.clone());
    let mut scans = Vec::new();
    for k in 0..reps(300) {
        s.command(0.5, if (k / 20) % 2 == 0 { 0.3 } else { -0.3 });
        s.run_steps(10);
        let started = Instant::now();
        for _ in 0..20 {
            s.take_scan();
        }
        scans.push(micros(started.elapsed()) / 20.0);
    }
    report("one 360-ray lidar scan", "us", &stats(scans), "<= 20 us");

    let map = sim::backend::occupancy_map(&world, sim::backend::MAP_RESOLUTION);
    let inflated = map.inflated(world.robot.radius + 0.05);
    let mut plans = Vec::new();
    for _ in 0..reps(100) {
        let started = Instant::now();
        let path = inflated.plan(P2::new(1.0, 1.0), P2::new(18.5, 18.5))?;
        plans.push(micros(started.elapsed()) / 1e3);
        std::hint::black_box(path);
    }
    report(
        &format!(
            "path planning, {}x{} grid, corner to corner",
            map.width, map.height
        ),
        "ms",
        &stats(plans),
        "<= 5 ms",
    );

    let (mut d, _) = Driver::start(&["--world", "warehouse"])?;
    let mut moves = Vec::new();
    for i in 0..reps(40) {
        let code = if i % 2 == 0 {
            "move_to(18.5, 18.5)"
        } else {
            "move_to(1.0, 1.0)"
        };
        let (took, obs) = d.execute(code)?;
        if obs.observation.status != crate::executor::Status::Ok {
            bail!("move_to benchmark failed: {}", obs.text);
        }
        moves.push(micros(took) / 1e3);
    }
    report(
        "move_to across the warehouse, from Python",
        "ms",
        &stats(moves),
        "<= 50 ms",
    );

    let mut calls = Vec::new();
    for _ in 0..reps(30) {
        calls.push(d.per_call("get_pose()", 10_000)?.1);
    }
    report("get_pose() from Python", "us", &stats(calls), "<= 10 us");

    // The camera view, 320 x 240, made and encoded in the skill, bytes back in Python.
    let mut per_view = Vec::new();
    for _ in 0..reps(20) {
        per_view.push(d.per_call("get_camera_image()", 50)?.1 / 1e3);
    }
    report(
        "get_camera_image() 320x240 from Python",
        "ms",
        &stats(per_view),
        "<= 2 ms",
    );
    drop(d);
    fleet(reps, single.median)
}

/// Warehouse-lite driven through the simulator's robot backend (its lock,
/// its clock, a thread per robot) by every robot of `robots` at once, each
/// run the mirror image of the one before; the real-time factor.
fn backend_lite(robots: &[Arc<sim::SimRobot>]) -> Result<f64> {
    let started = Instant::now();
    std::thread::scope(|scope| {
        let busy: Vec<_> = robots.iter().map(|r| r.busy()).collect();
        for ((r, busy), turn) in robots.iter().zip(busy).zip([0.3, -0.3].into_iter().cycle()) {
            scope.spawn(move || {
                let cancel = robot_api::CancelToken::new();
                for k in 0..30 {
                    let _ = r.command(0.5, if k % 2 == 0 { turn } else { -turn });
                    let _ = r.advance(std::time::Duration::from_secs(2), &cancel);
                }
                drop(busy);
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let time = robots[0].sim().time();
    if (time - 60.0).abs() > 0.1 {
        bail!("the backend run took {time} simulated seconds, not 60");
    }
    Ok(60.0 / wall)
}

/// The fleet's figures: warehouse-lite with both robots of warehouse_duo
/// driving at once (beta's run the mirror image of alpha's), each on its
/// own thread on the shared clock, against one robot driven the same way
/// (and against the bare simulator's figure); a skill call on the second
/// robot from Python, against one robot's.
fn fleet(reps: &dyn Fn(usize) -> usize, single_factor: f64) -> Result<()> {
    let duo = Arc::new(sim::load("warehouse_duo")?);
    let warehouse = Arc::new(sim::load("warehouse")?);
    let (mut ones, mut twos) = (Vec::new(), Vec::new());
    for _ in 0..reps(20) {
        ones.push(backend_lite(&sim::SimRobot::fleet(warehouse.clone()))?);
        twos.push(backend_lite(&sim::SimRobot::fleet(duo.clone()))?);
    }
    let one = stats(ones);
    report(
        "warehouse-lite, one robot through its backend",
        "x",
        &one,
        "-",
    );
    let two = stats(twos);
    report(
        "warehouse-lite, two robots at once",
        "x",
        &two,
        ">= 0.5x one robot's",
    );
    println!(
        "  (two robots: {:.2}x one robot's real-time factor through the backend, {:.2}x the bare simulator's)",
        two.median / one.median,
        two.median / single_factor
    );

    // The single robot's session and the fleet's, measured in turn so
    // that both see the same machine.
    let (mut one, _) = Driver::start(&["--world", "warehouse"])?;
    let (mut duo, _) = Driver::start(&["--world", "warehouse_duo"])?;

    // Each robot along its wall of the warehouse and back, from Python;
    // the first way there and back unmeasured (the first actions of a
    // session are several times slower).
    let (mut alone, mut both) = (Vec::new(), Vec::new());
    for k in 0..2 + reps(20) {
        let x = if k % 2 == 0 { 18.5 } else { 1.0 };
        let one_factor = sim_factor(&mut one, &format!("move_to({x}, 1.0)"))?;
        let duo_factor = sim_factor(
            &mut duo,
            &format!(
                "together(alpha.start('move_to', {x}, 1.0), beta.start('move_to', {x}, 19.0))"
            ),
        )?;
        if k >= 2 {
            alone.push(one_factor);
            both.push(duo_factor);
        }
    }
    let alone = stats(alone);
    let both = stats(both);
    report(
        "move_to of both robots at once, from Python",
        "x",
        &both,
        ">= 0.5x one robot's",
    );
    println!(
        "  (two robots: {:.2}x the real-time factor of one robot's move_to, {:.0}x, measured in turn)",
        both.median / alone.median,
        alone.median
    );

    let (mut alone, mut in_fleet) = (Vec::new(), Vec::new());
    for _ in 0..reps(30) {
        alone.push(one.per_call("get_pose()", 10_000)?.1);
        in_fleet.push(duo.per_call("beta.get_pose()", 10_000)?.1);
    }
    let alone = stats(alone);
    let beta = stats(in_fleet);
    report(
        "beta.get_pose() from Python, a fleet of two",
        "us",
        &beta,
        "<= 1.1x one robot's",
    );
    println!(
        "  (a fleet robot's call: {:.2}x one robot's get_pose(), {:.3} us, measured in turn)",
        beta.median / alone.median,
        alone.median
    );
    Ok(())
}

/// The real-time factor of an action `code` driving robots from Python:
/// the simulated time it took (robot time before and after) over the wall
/// time of its round trip.
fn sim_factor(d: &mut Driver, code: &str) -> Result<f64> {
    let (took, obs) = d.execute(&format!(
        "_t = get_scan().stamp\n{code}\nget_scan().stamp - _t"
    ))?;
    let seconds: Option<f64> = obs
        .observation
        .result
        .as_deref()
        .and_then(|r| r.parse().ok());
    match seconds {
        Some(s) if obs.observation.status == crate::executor::Status::Ok && s > 0.0 => {
            Ok(s / took.as_secs_f64())
        }
        _ => bail!("{code} failed: {}", obs.text),
    }
}
