//! Reaching onto furniture: over every surface of the lab and the apartment
//! (0.4 to 1.0 m deep), objects placed at random are either refused when
//! the world is loaded or fetched by `go_to` + `pick`, and what lies within
//! reach of an edge the robot can stand at is never refused. "Within reach"
//! is judged here on the world's exact geometry, apart from the skills'
//! search: the nearest point where the footprint fits (its edge 0.04 m clear
//! of furniture, and a further map cell clear of walls and other obstacles,
//! which the robot knows only as 0.1 m cells) no farther than the reach
//! less its 0.03 m slack.

use std::sync::Arc;

use robot_api::geometry::{distance, point_in_polygon, polygon_edges, Aabb, P2};
use robot_api::reach::{REACH_SLACK, STAND_MARGIN};
use robot_api::{CallContext, SkillError, SkillSet, Value};
use sim::rng::Rng;
use sim::world::{ObjectSpec, World};
use sim::SimRobot;

/// Placements tried on each surface.
const PER_SURFACE: usize = 10;

/// The distance from `at` to the nearest point where the robot's footprint
/// fits, judged on the exact geometry (see the module's doc), in 1 cm rings
/// up to 3 m.
fn nearest_true_fit(world: &World, at: P2) -> Option<f64> {
    let radius = world.robot.radius;
    let clear = |q: P2| {
        let (w, h) = world.boundary.unwrap_or((f64::INFINITY, f64::INFINITY));
        let cell = 0.1;
        if q.x < radius + STAND_MARGIN + cell
            || q.y < radius + STAND_MARGIN + cell
            || q.x > w - radius - STAND_MARGIN - cell
            || q.y > h - radius - STAND_MARGIN - cell
        {
            return false;
        }
        for o in &world.obstacles {
            let need = radius + STAND_MARGIN + if o.surface { 0.0 } else { cell };
            if point_in_polygon(q, &o.polygon)
                || polygon_edges(&o.polygon).any(|e| e.distance_to(q) < need)
            {
                return false;
            }
        }
        world
            .walls
            .iter()
            .all(|s| s.distance_to(q) >= radius + STAND_MARGIN + cell)
    };
    let mut r = 0.01;
    while r <= 3.0 {
        let n = (std::f64::consts::TAU * r / 0.01).ceil() as usize;
        if (0..n).any(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            clear(P2::new(at.x + r * a.cos(), at.y + r * a.sin()))
        }) {
            return Some(r);
        }
        r += 0.01;
    }
    None
}

/// A random point on `polygon` at least `inset` in from its outline.
fn point_on(polygon: &[P2], inset: f64, rng: &mut Rng) -> P2 {
    let Aabb { min: lo, max: hi } = Aabb::around(polygon.iter().copied());
    loop {
        let p = P2::new(
            lo.x + (hi.x - lo.x) * rng.uniform(),
            lo.y + (hi.y - lo.y) * rng.uniform(),
        );
        if point_in_polygon(p, polygon) && polygon_edges(polygon).all(|e| e.distance_to(p) >= inset)
        {
            return p;
        }
    }
}

/// `base` with only the probe object, at `at`, and the robot starting
/// `start` (facing the probe).
fn with_probe(base: &World, at: P2, start: P2) -> World {
    let mut parts = base.parts.clone();
    parts.objects = vec![ObjectSpec {
        name: "probe".into(),
        kind: "vial".into(),
        colour: "red".into(),
        size: 0.04,
        at,
        slips: 0,
    }];
    let heading = (at.y - start.y).atan2(at.x - start.x);
    parts.robot.start = (start.x, start.y, heading);
    World::build(parts)
}

/// A start about a metre from the probe, in the open, with the probe in
/// sight: the planner's free space nearest a point 0.8 m beyond the true
/// fit, seen from the probe.
fn start_near(world: &World, at: P2, fit: f64) -> P2 {
    let map = sim::backend::occupancy_map(world, sim::backend::MAP_RESOLUTION)
        .inflated(world.robot.radius + 0.15);
    let mut best: Option<(f64, P2)> = None;
    for r in 0..map.height {
        for c in 0..map.width {
            if map.is_occupied((c, r)) {
                continue;
            }
            let p = map.centre_of((c, r));
            let d = distance(p, at);
            let score = (d - (fit + 0.8)).abs();
            if d > fit + 0.3 && world.in_sight(p, at) && best.is_none_or(|(s, _)| score < s) {
                best = Some((score, p));
            }
        }
    }
    best.expect("a start in sight of the probe").1
}

fn call(skills: &SkillSet, name: &str, args: Vec<Value>) -> Result<Value, SkillError> {
    let index = skills
        .specs()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no skill {name}"));
    let spec = skills.get(index).unwrap().0;
    let mut values = args;
    for p in &spec.params[values.len()..] {
        values.push(p.default.clone().expect("a default"));
    }
    skills.call(index, values, &CallContext::default())
}

/// Fetches the probe from the world's start: detect, go_to, pick. Returns
/// what went wrong, if anything.
fn fetch(world: World) -> Result<(), String> {
    let robot = Arc::new(SimRobot::new(Arc::new(world)));
    let skills = robot_api::skills::robot_skills(robot.clone());
    let seen = call(&skills, "detect_objects", vec![]).map_err(|e| e.message)?;
    if !format!("{seen:?}").contains("probe") {
        return Err(format!(
            "the probe is not in sight from the start: {seen:?}"
        ));
    }
    call(&skills, "go_to", vec![Value::Str("probe".into())])
        .map_err(|e| format!("go_to: {}", e.message))?;
    call(&skills, "pick", vec![Value::Str("probe".into())])
        .map_err(|e| format!("pick: {}", e.message))?;
    let collisions = robot.sim().collisions();
    if collisions > 0 {
        return Err(format!("{collisions} collisions on the way"));
    }
    Ok(())
}

#[test]
fn what_lies_within_reach_of_an_edge_is_fetched_and_the_rest_refused_at_load() {
    let mut rng = Rng::new(7);
    let (mut fetched, mut refused) = (0, 0);
    for name in ["lab", "apartment"] {
        let base = sim::load(name).unwrap();
        let reach = base.robot.reach;
        let surfaces: Vec<_> = base.obstacles.iter().filter(|o| o.surface).collect();
        assert!(surfaces.len() >= 4, "{name}");
        for surface in surfaces {
            for _ in 0..PER_SURFACE {
                let at = point_on(&surface.polygon, 0.03, &mut rng);
                let fit = nearest_true_fit(&base, at);
                let within = fit.is_some_and(|d| d <= reach - REACH_SLACK);
                let start = start_near(&base, at, fit.unwrap_or(0.5));
                let world = with_probe(&base, at, start);
                let here = format!(
                    "{name}: probe at ({:.2}, {:.2}) on {}, nearest true fit {fit:?}",
                    at.x, at.y, surface.name
                );
                match world.misplaced() {
                    None => {
                        fetch(world).unwrap_or_else(|why| {
                            panic!("{here}: accepted but not fetched: {why}")
                        });
                        fetched += 1;
                    }
                    Some((_, why)) => {
                        assert!(
                            !within,
                            "{here}: within reach of an edge, yet refused: {why}"
                        );
                        assert!(
                            why.contains("out of reach")
                                && why.contains(&format!("reaches {reach} m")),
                            "{here}: {why}"
                        );
                        refused += 1;
                    }
                }
            }
        }
    }
    eprintln!("{fetched} fetched, {refused} refused");
    // Both outcomes were exercised.
    assert!(
        fetched >= 40 && refused >= 5,
        "{fetched} fetched, {refused} refused"
    );
}

#[test]
fn a_world_file_with_an_object_beyond_reach_is_refused_at_its_line() {
    let text = include_str!("../worlds/lab.yaml").replace("at: [2.0, 7.15]", "at: [2.0, 7.36]");
    let err = sim::world_file::parse(&text, "deep_lab.yaml")
        .unwrap_err()
        .to_string();
    let line = text.lines().position(|l| l.contains("vial_2")).unwrap() + 1;
    assert!(err.starts_with(&format!("deep_lab.yaml:{line}:")), "{err}");
    assert!(
        err.contains("\"vial_2\"")
            && err.contains("\"bench_a\"")
            && err.contains("out of reach")
            && err.contains("within 0.33 m of an edge"),
        "{err}"
    );
    // 0.3 m in from the front edge it loads.
    let text = include_str!("../worlds/lab.yaml").replace("at: [2.0, 7.15]", "at: [2.0, 7.30]");
    sim::world_file::parse(&text, "lab.yaml").unwrap();
}
