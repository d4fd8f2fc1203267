//! How a task's world starts for one seed: the task's world file changed by
//! its `setup` (objects moved, added or removed; obstacles, walls; the
//! robot's start and battery), with every range drawn from the seed. The
//! same task and seed give the same world, bit for bit.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sim::geometry::{rect_outline, Segment, P2};
use sim::rng::Rng;
use sim::world::{ObjectSpec, Obstacle, World, Zone};

/// A number, or a range `[low, high]` it is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Num {
    /// Exactly this.
    Fixed(f64),
    /// Drawn uniformly from `[low, high]`.
    Range([f64; 2]),
}

impl Num {
    fn draw(self, rng: &mut Rng) -> f64 {
        match self {
            Num::Fixed(v) => v,
            Num::Range([lo, hi]) => lo + (hi - lo) * rng.uniform(),
        }
    }
}

/// A position: `[x, y]` (each a number or a range), or one of several places.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Place {
    /// `[x, y]`.
    Point([Num; 2]),
    /// `{one_of: [[x, y], ...]}`: one of these, drawn.
    OneOf {
        /// The candidates.
        one_of: Vec<[Num; 2]>,
    },
}

impl Place {
    fn draw(&self, rng: &mut Rng) -> P2 {
        let [x, y] = match self {
            Place::Point(p) => *p,
            Place::OneOf { one_of } => {
                let i = ((rng.uniform() * one_of.len() as f64) as usize).min(one_of.len() - 1);
                one_of[i]
            }
        };
        P2::new(x.draw(rng), y.draw(rng))
    }
}

/// An object of the world moved, or a new one.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSetup {
    /// Its name: an object of the world (moved) or a new one (added).
    pub name: String,
    /// What it is (new objects; default "object").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Its colour (needed for new objects).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// Its size, metres (new objects; default 0.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<f64>,
    /// Where it is.
    pub at: Place,
    /// Picks that fail before one holds (a slippery object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slips: Option<u32>,
}

/// An obstacle added (a box in an aisle, a closed door).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ObstacleSetup {
    /// Its name.
    pub name: String,
    /// `[x, y, width, height]`, each a number or a range.
    pub rect: [Num; 4],
    /// Left off the robot's map: only the lidar finds it.
    #[serde(default)]
    pub unmapped: bool,
    /// Furniture with a top.
    #[serde(default)]
    pub surface: bool,
}

/// The robot's start.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RobotSetup {
    /// `[x, y, theta]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<[Num; 3]>,
    /// Battery at the start, percent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub battery: Option<Num>,
}

/// How a task changes its world; every range is drawn from the seed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    /// The robot's start and battery (the first robot of a fleet).
    #[serde(default)]
    pub robot: RobotSetup,
    /// A fleet's robots' starts and batteries, by name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub robots: std::collections::BTreeMap<String, RobotSetup>,
    /// Objects removed from the world first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Objects moved or added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<ObjectSetup>,
    /// Obstacles added.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub obstacles: Vec<ObstacleSetup>,
    /// Wall segments added: `[[x1, y1], [x2, y2]]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub walls: Vec<[[f64; 2]; 2]>,
    /// Zones added (for the task's predicates, and known to the robot).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<ZoneSetup>,
}

/// A zone added: `[x, y, width, height]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSetup {
    /// Its name.
    pub name: String,
    /// `[x, y, width, height]`.
    pub rect: [f64; 4],
}

/// Draws of a task whose ranges keep putting things where they cannot be.
const TRIES: u64 = 50;

/// Why a task's setup gives no world to start in.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetupError {
    /// It removes an object the world lacks.
    #[error("setup removes {name:?}, which world {world:?} does not have")]
    RemovesUnknown {
        /// The object.
        name: String,
        /// The world.
        world: String,
    },
    /// It sets up a robot the world lacks.
    #[error("setup sets up robot {name:?}, which world {world:?} does not have")]
    UnknownRobot {
        /// The robot.
        name: String,
        /// The world.
        world: String,
    },
    /// It adds an object without a colour.
    #[error("setup adds object {0:?}: give its colour")]
    NoColour(String),
    /// Everything is placed exactly, and something is where it cannot be.
    #[error(
        "task {task}: {problem}. The setup places everything exactly, so another seed cannot help"
    )]
    Fixed {
        /// The task.
        task: String,
        /// What is wrong.
        problem: String,
    },
    /// Every draw put something where it cannot be.
    #[error("task {task}, seed {seed}: no valid world after {TRIES} draws; the last: {problem}. Move or widen the setup's ranges so they leave free room")]
    NoValidWorld {
        /// The task.
        task: String,
        /// The seed.
        seed: u64,
        /// What was wrong with the last draw.
        problem: String,
    },
}

/// The world of `task_id`'s `setup` applied to `base` for `seed`. Things
/// drawn into obstacles or walls are drawn again (deterministically).
pub fn world_for(
    base: &World,
    setup: &Setup,
    task_id: &str,
    seed: u64,
) -> Result<Arc<World>, SetupError> {
    let mut last = String::new();
    // A setup without ranges draws the same world every time.
    let tries = if setup.is_fixed() { 1 } else { TRIES };
    for attempt in 0..tries {
        let mut rng = Rng::new(mix(task_id, seed, attempt));
        let world = apply(base, setup, &mut rng, seed)?;
        match problem(&world) {
            None => return Ok(Arc::new(world)),
            Some(why) => last = why,
        }
    }
    let task = task_id.to_owned();
    Err(if tries == 1 {
        SetupError::Fixed {
            task,
            problem: last,
        }
    } else {
        SetupError::NoValidWorld {
            task,
            seed,
            problem: last,
        }
    })
}

impl Num {
    fn is_fixed(self) -> bool {
        matches!(self, Num::Fixed(_))
    }
}

impl Place {
    fn is_fixed(&self) -> bool {
        match self {
            Place::Point([x, y]) => x.is_fixed() && y.is_fixed(),
            Place::OneOf { one_of } => one_of.len() <= 1,
        }
    }
}

impl Setup {
    /// Whether nothing in it is drawn: every place, start and size exact.
    pub fn is_fixed(&self) -> bool {
        let fixed = |r: &RobotSetup| {
            r.start.is_none_or(|s| s.iter().all(|n| n.is_fixed()))
                && r.battery.is_none_or(Num::is_fixed)
        };
        fixed(&self.robot)
            && self.robots.values().all(fixed)
            && self.objects.iter().all(|o| o.at.is_fixed())
            && self
                .obstacles
                .iter()
                .all(|o| o.rect.iter().all(|n| n.is_fixed()))
    }
}

/// A seed for the draws of one task, seed and attempt.
fn mix(task_id: &str, seed: u64, attempt: u64) -> u64 {
    // FNV-1a over the id, then the numbers.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in task_id
        .bytes()
        .chain(seed.to_le_bytes())
        .chain(attempt.to_le_bytes())
    {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn apply(base: &World, setup: &Setup, rng: &mut Rng, seed: u64) -> Result<World, SetupError> {
    let mut parts = base.parts.clone();
    parts.seed = parts.seed.wrapping_add(seed);
    for name in &setup.remove {
        let before = parts.objects.len();
        parts.objects.retain(|o| &o.name != name);
        if parts.objects.len() == before {
            return Err(SetupError::RemovesUnknown {
                name: name.clone(),
                world: base.name.clone(),
            });
        }
    }
    for o in &setup.objects {
        let at = o.at.draw(rng);
        match parts.objects.iter_mut().find(|x| x.name == o.name) {
            Some(existing) => {
                existing.at = at;
                if let Some(c) = &o.colour {
                    existing.colour = c.clone();
                }
                if let Some(k) = &o.kind {
                    existing.kind = k.clone();
                }
                if let Some(s) = o.size {
                    existing.size = s;
                }
                if let Some(n) = o.slips {
                    existing.slips = n;
                }
            }
            None => parts.objects.push(ObjectSpec {
                name: o.name.clone(),
                kind: o.kind.clone().unwrap_or_else(|| "object".into()),
                colour: o
                    .colour
                    .clone()
                    .ok_or_else(|| SetupError::NoColour(o.name.clone()))?,
                size: o.size.unwrap_or(0.1),
                at,
                slips: o.slips.unwrap_or(0),
            }),
        }
    }
    for ob in &setup.obstacles {
        let [x, y, w, h] = ob.rect.map(|n| n.draw(rng));
        parts.obstacles.push(Obstacle {
            name: ob.name.clone(),
            polygon: rect_outline(x, y, w, h),
            unmapped: ob.unmapped,
            surface: ob.surface,
        });
    }
    for z in &setup.zones {
        let [x, y, w, h] = z.rect;
        parts.zones.push(Zone {
            name: z.name.clone(),
            polygon: rect_outline(x, y, w, h),
            charger: false,
        });
    }
    for [a, b] in &setup.walls {
        parts
            .walls
            .push(Segment::new(P2::new(a[0], a[1]), P2::new(b[0], b[1])));
    }
    set_up_robot(&mut parts.robot, &setup.robot, rng);
    for (name, r) in &setup.robots {
        let config = if *name == parts.robot_name {
            &mut parts.robot
        } else {
            match parts.fleet.iter_mut().find(|f| &f.name == name) {
                Some(f) => &mut f.config,
                None => {
                    return Err(SetupError::UnknownRobot {
                        name: name.clone(),
                        world: parts.name.clone(),
                    })
                }
            }
        };
        set_up_robot(config, r, rng);
    }
    Ok(World::build(parts))
}

/// Draws a robot's start and battery.
fn set_up_robot(config: &mut sim::world::RobotConfig, setup: &RobotSetup, rng: &mut Rng) {
    if let Some([x, y, th]) = setup.start {
        config.start = (x.draw(rng), y.draw(rng), th.draw(rng));
    }
    if let Some(b) = setup.battery {
        config.battery_start = b.draw(rng).clamp(0.0, 100.0);
    }
}

/// What is wrong with a drawn world, if anything: misplaced objects or
/// zones, a robot that starts in something, objects too close together.
fn problem(world: &World) -> Option<String> {
    if let Some((_, why)) = world.misplaced() {
        return Some(why);
    }
    let starts: Vec<(&str, P2, f64)> = world
        .robots()
        .map(|(name, c)| (name, P2::new(c.start.0, c.start.1), c.radius))
        .collect();
    for (k, &(name, start, radius)) in starts.iter().enumerate() {
        if world.inside_obstacle(start).is_some() || world.clearance(start, radius) < radius {
            return Some(format!(
                "{name}'s start ({:.2}, {:.2}) is in or against something",
                start.x, start.y
            ));
        }
        if let Some((other, ..)) = starts[..k]
            .iter()
            .find(|(_, p, r)| (p - start).norm() < r + radius)
        {
            return Some(format!(
                "robots {other} and {name} start on top of each other"
            ));
        }
    }
    for (i, a) in world.objects.iter().enumerate() {
        if let Some(b) = world.objects[i + 1..]
            .iter()
            .find(|b| (b.at - a.at).norm() < (a.size + b.size) / 2.0 + 0.05)
        {
            return Some(format!("objects {:?} and {:?} overlap", a.name, b.name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(text: &str) -> Setup {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn a_fleet_robot_is_set_up_by_name_and_an_unknown_one_is_an_error() {
        let base = sim::load("warehouse_duo").unwrap();
        let s = setup("robots:\n  beta: {start: [[0.6, 1.4], [18.6, 19.4], 0.0], battery: [30, 40]}\n  alpha: {battery: 50}\n");
        for seed in 0..3 {
            let w = world_for(&base, &s, "t", seed).unwrap();
            let beta = &w.fleet[0].config;
            assert!(
                (18.6..=19.4).contains(&beta.start.1)
                    && (30.0..=40.0).contains(&beta.battery_start)
            );
            assert_eq!(w.robot.battery_start, 50.0);
        }
        let e = world_for(&base, &setup("robots:\n  gamma: {battery: 50}\n"), "t", 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("robot \"gamma\""), "{e}");
        // Both robots on one spot: no seed helps.
        let e = world_for(
            &base,
            &setup("robots:\n  beta: {start: [1.0, 1.0, 0.0]}\n"),
            "t",
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("start on top of each other"), "{e}");
    }

    #[test]
    fn the_seed_fixes_the_variation_and_ranges_are_honoured() {
        let base = sim::load("small_room").unwrap();
        let s = setup("robot: {start: [[0.6, 1.0], 0.8, [-1, 1]], battery: [20, 30]}\nobjects:\n  - {name: red_cube, at: [[3.8, 5.5], [0.4, 1.5]]}\n  - {name: spare, colour: white, at: {one_of: [[1, 4], [2, 4]]}}\nremove: [green_ball]\n");
        let a = world_for(&base, &s, "t", 1).unwrap();
        let b = world_for(&base, &s, "t", 1).unwrap();
        let c = world_for(&base, &s, "t", 2).unwrap();
        assert_eq!(a.objects, b.objects);
        assert_ne!(a.objects, c.objects);
        for w in [&a, &c] {
            assert!((20.0..=30.0).contains(&w.robot.battery_start));
            assert!((0.6..=1.0).contains(&w.robot.start.0));
            let red = w.objects.iter().find(|o| o.name == "red_cube").unwrap();
            assert!((3.8..=5.5).contains(&red.at.x) && (0.4..=1.5).contains(&red.at.y));
            let spare = w.objects.iter().find(|o| o.name == "spare").unwrap();
            assert!(spare.at.y == 4.0 && [1.0, 2.0].contains(&spare.at.x));
            assert!(!w.objects.iter().any(|o| o.name == "green_ball"));
        }
    }

    #[test]
    fn impossible_setups_say_why() {
        let base = sim::load("small_room").unwrap();
        let e = world_for(&base, &setup("remove: [nothing]\n"), "t", 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("does not have"), "{e}");
        let e = world_for(
            &base,
            &setup("objects:\n  - {name: red_cube, at: [0.01, 2.4]}\n"),
            "t",
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("red_cube") && e.contains("another seed cannot help"),
            "a fixed place is refused at once: {e}"
        );
        let e = world_for(
            &base,
            &setup("objects:\n  - {name: red_cube, at: [[0.0, 0.01], 2.4]}\n"),
            "t",
            0,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("after 50 draws") && e.contains("widen"), "{e}");
    }
}
