//! A twin: a simulated robot built, at the moment it is asked for, from what
//! a robot knows — its map, its pose in it, its lidar's latest returns, its
//! zones, footprint and limits, the objects it remembers where it remembers
//! them — and nothing else. A rehearsal drives the twin to foresee what an
//! action will do; the twin never knows more than the robot does (no
//! objects it has not seen, nothing off its map but what its lidar sees now).
//! A fleet's twin holds every robot, on the map they share, each knowing
//! what its own robot knows.

use std::sync::Arc;

use robot_api::nav::GridMap;
use robot_api::preview::{Foresight, Twin, TwinMaker};
use robot_api::{ObjectMemory, Pose2, RobotBackend, SkillSet};

use crate::geometry::P2;

use crate::backend::SimRobot;
use crate::world::{ObjectSpec, Obstacle, RobotConfig, World, WorldParts, Zone};

/// Why no twin could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TwinError {
    /// The robot has no map to build one from.
    #[error("the robot has no map, so no twin can be built to rehearse on: give the robot a map (a map topic in its profile, or a world file)")]
    NoMap,
    /// The robot does not know where it is.
    #[error("the robot's pose is unknown, so no twin can be built: {0}")]
    NoPose(String),
    /// A fleet's robots plan on different maps, so no one twin holds them.
    #[error("{0} plans on another map than {1}, so no one twin of the fleet can be built: give the robots one map (a shared map topic)")]
    OtherMap(String, String),
}

/// The size of a lidar return's obstacle in the twin, metres: what a return
/// shows is a surface there, not how deep it goes.
const RETURN_SIZE: f64 = 0.1;

/// The robots of a twin (name, robot; one robot's name is empty) as
/// simulated robots made from what they know now, each holding what its
/// robot holds; the objects any of them remembers (`known`, in the robots'
/// order) are where the one that saw them last remembers them.
pub fn twin_of(
    robots: &[(String, Arc<dyn RobotBackend>)],
    known: &[ObjectMemory],
) -> Result<Vec<Arc<SimRobot>>, TwinError> {
    let (first_name, first) = &robots[0];
    let map = first.map().ok_or(TwinError::NoMap)?;
    for (name, robot) in &robots[1..] {
        match robot.map() {
            None => return Err(TwinError::NoMap),
            Some(other) if other != map => {
                return Err(TwinError::OtherMap(name.clone(), first_name.clone()))
            }
            Some(_) => {}
        }
    }
    let configs = robots
        .iter()
        .map(|(_, robot)| twin_config(&**robot))
        .collect::<Result<Vec<_>, _>>()?;
    // A return on a robot of the fleet is that robot, a body of the twin.
    let on_a_robot = |hit: P2| {
        configs
            .iter()
            .any(|c| (hit - P2::new(c.start.0, c.start.1)).norm() < c.radius + RETURN_SIZE)
    };
    let mut obstacles = map_obstacles(&map);
    for (_, robot) in robots {
        if let Some(scan) = robot.lidar().and_then(|l| l.scan().ok()) {
            for hit in scan_hits(&scan) {
                if !occupied_near(&map, hit) && !on_a_robot(hit) {
                    obstacles.push(square(hit, RETURN_SIZE, true));
                }
            }
        }
    }
    let zones = first
        .zones()
        .into_iter()
        .map(|z| Zone {
            name: z.name,
            polygon: z.polygon,
            charger: z.charger,
        })
        .collect();
    let mut configs = configs.into_iter();
    let parts = WorldParts {
        name: "rehearsal on a twin".into(),
        seed: 0,
        physics_rate: 0.0,
        boundary: None,
        walls: Vec::new(),
        obstacles,
        zones,
        objects: known_objects(known),
        robot: configs.next().expect("a twin has a robot"),
        robot_name: first_name.clone(),
        fleet: robots[1..]
            .iter()
            .zip(configs)
            .map(|((name, _), config)| crate::world::FleetRobot {
                name: name.clone(),
                config,
            })
            .collect(),
        ..WorldParts::default()
    };
    let mut world = World::build(parts);
    // The twin plans on the robots' own map, not on one made from its obstacles.
    world.set_map(map);
    let twins = SimRobot::fleet(Arc::new(world));
    for (i, (_, robot)) in robots.iter().enumerate() {
        let held = robot.gripper().and_then(|g| g.holding()).or_else(|| {
            let memory = known.get(i)?;
            let held = memory.objects().find(|o| o.held)?;
            Some(held.last.name.clone())
        });
        if let Some(name) = held {
            twins[i].sim().start_holding_by(i, &name);
        }
    }
    Ok(twins)
}

/// A twin robot's settings from what `robot` knows: where it is, its
/// footprint and limits, its battery.
fn twin_config(robot: &dyn RobotBackend) -> Result<RobotConfig, TwinError> {
    let pose = robot.pose().map_err(|e| TwinError::NoPose(e.message))?;
    let limits = robot.limits();
    Ok(RobotConfig {
        start: (pose.x, pose.y, pose.theta),
        radius: limits.radius,
        max_linear: limits.max_linear,
        max_angular: limits.max_angular,
        max_linear_accel: limits.max_linear_accel,
        reach: limits.reach,
        // A rehearsal foresees the plan, not the noise.
        odom_noise: 0.0,
        odom_drift: 0.0,
        ..twin_battery(robot)
    })
}

/// The twin's battery: the robot's charge now, drained at the simulator's
/// rates (what the robot's own rates are it cannot say); a robot without a
/// battery gets one that never drains.
fn twin_battery(robot: &dyn RobotBackend) -> RobotConfig {
    let d = RobotConfig::default();
    match battery(robot) {
        Some(percent) => RobotConfig {
            battery_start: percent,
            ..d
        },
        None => RobotConfig {
            battery_idle_drain: 0.0,
            battery_drain_per_m: 0.0,
            ..d
        },
    }
}

/// The remembered objects as the twin's, where the robot that saw or put
/// them last remembers them. It cannot know which will slip from the
/// gripper.
fn known_objects(known: &[ObjectMemory]) -> Vec<ObjectSpec> {
    let mut latest: std::collections::BTreeMap<&str, &robot_api::memory::Remembered> =
        std::collections::BTreeMap::new();
    for o in known.iter().flat_map(ObjectMemory::objects) {
        let entry = latest.entry(o.last.name.as_str()).or_insert(o);
        if o.seen_at > entry.seen_at {
            *entry = o;
        }
    }
    latest
        .values()
        .map(|o| ObjectSpec {
            name: o.last.name.clone(),
            kind: o.last.kind.clone(),
            colour: o.last.colour.clone(),
            size: o.last.size,
            at: P2::new(o.last.x, o.last.y),
            slips: 0,
        })
        .collect()
}

/// The map's occupied cells as obstacles: each row's runs of occupied
/// cells as one rectangle.
fn map_obstacles(map: &GridMap) -> Vec<Obstacle> {
    let mut out = Vec::new();
    let r = map.resolution;
    for row in 0..map.height {
        let mut col = 0;
        while col < map.width {
            if !map.occupied[row * map.width + col] {
                col += 1;
                continue;
            }
            let start = col;
            while col < map.width && map.occupied[row * map.width + col] {
                col += 1;
            }
            let (x0, y0) = (
                map.origin.x + start as f64 * r,
                map.origin.y + row as f64 * r,
            );
            let (x1, y1) = (map.origin.x + col as f64 * r, y0 + r);
            out.push(Obstacle {
                // Unnamed: a picture labels none of the cells.
                name: String::new(),
                polygon: vec![
                    P2::new(x0, y0),
                    P2::new(x1, y0),
                    P2::new(x1, y1),
                    P2::new(x0, y1),
                ],
                unmapped: false,
                surface: false,
            });
        }
    }
    out
}

/// Makes twins of a robot, or of a fleet's robots (any backends with one
/// map), for rehearsals.
pub struct TwinOf {
    /// Name and robot; one robot's name is empty.
    robots: Vec<(String, Arc<dyn RobotBackend>)>,
}

impl TwinOf {
    /// Twins of one robot.
    pub fn robot(robot: Arc<dyn RobotBackend>) -> Self {
        TwinOf {
            robots: vec![(String::new(), robot)],
        }
    }

    /// Twins of a fleet's robots (name, robot), the first the default one.
    pub fn fleet(robots: Vec<(String, Arc<dyn RobotBackend>)>) -> Self {
        assert!(!robots.is_empty(), "a fleet has a robot");
        TwinOf { robots }
    }
}

impl TwinMaker for TwinOf {
    fn make(&self, known: &[ObjectMemory]) -> Result<Box<dyn Twin>, String> {
        let twins = twin_of(&self.robots, known).map_err(|e| e.to_string())?;
        let skills = if let [twin] = &twins[..] {
            let memory = known.first().cloned().unwrap_or_default();
            robot_api::skills::robot_skills_knowing(twin.clone(), memory)
        } else {
            let through = twins
                .iter()
                .map(|t| t.clone() as Arc<dyn RobotBackend>)
                .collect();
            crate::backend::fleet_skills_knowing(&twins, through, known)
        };
        let robots = self
            .robots
            .iter()
            .zip(twins)
            .map(|((name, real), twin)| TwinRobot {
                name: (self.robots.len() > 1).then(|| name.clone()),
                start: twin.pose().ok(),
                // No battery use is foreseen for a robot without a battery.
                start_battery: battery(&**real).and(battery(&*twin)),
                allowed: real.allowed_area(),
                twin,
            })
            .collect::<Vec<_>>();
        Ok(Box::new(SimTwin {
            start_time: robots[0].twin.time(),
            robots,
            skills,
        }))
    }

    fn poses(&self) -> Vec<Option<Pose2>> {
        self.robots.iter().map(|(_, r)| r.pose().ok()).collect()
    }
}

/// A twin in the simulator: its robots, and when it started.
struct SimTwin {
    robots: Vec<TwinRobot>,
    skills: SkillSet,
    start_time: f64,
}

/// One robot of a twin, and where it started.
struct TwinRobot {
    /// Its name in a fleet.
    name: Option<String>,
    twin: Arc<SimRobot>,
    start: Option<Pose2>,
    start_battery: Option<f64>,
    /// The real robot's geofence.
    allowed: Option<Vec<P2>>,
}

fn battery(robot: &dyn RobotBackend) -> Option<f64> {
    robot.battery()?.state().ok().map(|b| b.percent)
}

impl Twin for SimTwin {
    fn skills(&self) -> &SkillSet {
        &self.skills
    }

    fn foresee(&self) -> Foresight {
        let mut foresight = Foresight {
            duration: self.robots[0].twin.time() - self.start_time,
            ..Foresight::default()
        };
        for r in &self.robots {
            // A fleet's robots are told apart by name.
            let named = |text: String| match &r.name {
                Some(name) => format!("{name}: {text}"),
                None => text,
            };
            let (collisions, events): (Vec<_>, Vec<_>) = r
                .twin
                .take_events()
                .into_iter()
                .partition(|e| e.contains("collision at"));
            foresight
                .collisions
                .extend(collisions.into_iter().map(named));
            foresight.events.extend(events.into_iter().map(named));
            let sim = r.twin.sim();
            let body = sim.robot(r.twin.index());
            if let Some(area) = &r.allowed {
                let outside = |p: &&P2| !crate::geometry::point_in_polygon(**p, area);
                let who = r.name.as_deref().unwrap_or("the robot");
                foresight.geofence.extend(
                    body.trajectory().iter().find(outside).map(|p| {
                        format!("{who} leaves the allowed area at ({:.2}, {:.2})", p.x, p.y)
                    }),
                );
            }
            let end = body.true_pose();
            drop(sim);
            foresight.paths.push(robot_api::preview::RobotPath {
                robot: r.name.clone(),
                start: r.start,
                end: Some(end),
                battery_used: r.start_battery.zip(battery(&*r.twin)).map(|(a, b)| a - b),
            });
        }
        let sim = self.robots[0].twin.sim();
        foresight.picture = crate::render::draw(sim.world(), Some(&sim))
            .encode_png()
            .ok();
        foresight
    }
}

/// Where the scan's rays hit something, world frame.
fn scan_hits(scan: &robot_api::ScanData) -> Vec<P2> {
    scan.ranges
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_finite() && **r >= scan.range_min && **r < scan.range_max)
        .map(|(i, r)| {
            let a = scan.pose.theta + scan.angle_min + i as f64 * scan.angle_increment;
            P2::new(scan.pose.x + r * a.cos(), scan.pose.y + r * a.sin())
        })
        .collect()
}

/// Whether the map has an occupied cell within a cell of `p` (a return on
/// a mapped wall adds nothing).
fn occupied_near(map: &GridMap, p: P2) -> bool {
    let col = ((p.x - map.origin.x) / map.resolution).floor() as i64;
    let row = ((p.y - map.origin.y) / map.resolution).floor() as i64;
    (-1..=1).any(|dr| {
        (-1..=1).any(|dc| {
            let (r, c) = (row + dr, col + dc);
            r >= 0
                && c >= 0
                && (r as usize) < map.height
                && (c as usize) < map.width
                && map.occupied[r as usize * map.width + c as usize]
        })
    })
}

fn square(centre: P2, size: f64, unmapped: bool) -> Obstacle {
    let h = size / 2.0;
    Obstacle {
        name: String::new(),
        polygon: vec![
            P2::new(centre.x - h, centre.y - h),
            P2::new(centre.x + h, centre.y - h),
            P2::new(centre.x + h, centre.y + h),
            P2::new(centre.x - h, centre.y + h),
        ],
        unmapped,
        surface: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn robot_in(world: &str) -> Arc<dyn RobotBackend> {
        let world = crate::world_file::parse(world, "twin.yaml").unwrap();
        Arc::new(SimRobot::new(Arc::new(world)))
    }

    #[test]
    fn a_fleet_on_two_maps_has_no_one_twin() {
        let room = "boundary: [4, 4]\nrobot: {start: [1, 1, 0]}\n";
        let hall = "boundary: [8, 4]\nrobot: {start: [1, 1, 0]}\n";
        let fleet = TwinOf::fleet(vec![
            ("alpha".into(), robot_in(room)),
            ("beta".into(), robot_in(hall)),
        ]);
        let err = fleet.make(&[]).err().expect("two maps, no twin");
        assert!(
            err.contains("beta plans on another map than alpha"),
            "{err}"
        );
        // The same map: one twin of both, each where its robot is.
        let fleet = TwinOf::fleet(vec![
            ("alpha".into(), robot_in(room)),
            (
                "beta".into(),
                robot_in(&room.replace("[1, 1, 0]", "[3, 3, 0]")),
            ),
        ]);
        let twin = fleet.make(&[]).expect("one map");
        let paths = twin.foresee().paths;
        let at: Vec<_> = paths
            .iter()
            .map(|p| (p.robot.clone(), p.end.map(|e| (e.x, e.y))))
            .collect();
        assert_eq!(
            at,
            vec![
                (Some("alpha".into()), Some((1.0, 1.0))),
                (Some("beta".into()), Some((3.0, 3.0)))
            ]
        );
    }
}
