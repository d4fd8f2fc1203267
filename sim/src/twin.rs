//! A twin: a simulated robot built, at the moment it is asked for, from what
//! a robot knows — its map, its pose in it, its lidar's latest returns, its
//! zones, footprint and limits, the objects it remembers where it remembers
//! them — and nothing else. A rehearsal drives the twin to foresee what an
//! action will do; the twin never knows more than the robot does (no
//! objects it has not seen, nothing off its map but what its lidar sees now).

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
}

/// The size of a lidar return's obstacle in the twin, metres: what a return
/// shows is a surface there, not how deep it goes.
const RETURN_SIZE: f64 = 0.1;

/// A simulated robot made from what `robot` knows now, with the objects it
/// remembers (`known`) where it remembers them.
pub fn twin_of(robot: &dyn RobotBackend, known: &ObjectMemory) -> Result<SimRobot, TwinError> {
    let map = robot.map().ok_or(TwinError::NoMap)?;
    let pose = robot.pose().map_err(|e| TwinError::NoPose(e.message))?;
    let limits = robot.limits();
    let mut obstacles = map_obstacles(&map);
    if let Some(scan) = robot.lidar().and_then(|l| l.scan().ok()) {
        for hit in scan_hits(&scan) {
            if !occupied_near(&map, hit) {
                obstacles.push(square(hit, RETURN_SIZE, true));
            }
        }
    }
    let zones = robot
        .zones()
        .into_iter()
        .map(|z| Zone {
            name: z.name,
            polygon: z.polygon,
            charger: z.charger,
        })
        .collect();
    let parts = WorldParts {
        name: "rehearsal on a twin".into(),
        seed: 0,
        physics_rate: 0.0,
        boundary: None,
        walls: Vec::new(),
        obstacles,
        zones,
        objects: known_objects(known),
        robot: RobotConfig {
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
        },
        ..WorldParts::default()
    };
    let mut world = World::build(parts);
    // The twin plans on the robot's own map, not on one made from its obstacles.
    world.set_map(map);
    let twin = SimRobot::new(Arc::new(world));
    let held = robot.gripper().and_then(|g| g.holding());
    if let Some(name) = held.or_else(|| {
        known
            .objects()
            .find(|o| o.held)
            .map(|o| o.last.name.clone())
    }) {
        twin.sim().start_holding(&name);
    }
    Ok(twin)
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

/// The remembered objects as the twin's, where the robot last saw or put
/// them. It cannot know which will slip from the gripper.
fn known_objects(known: &ObjectMemory) -> Vec<ObjectSpec> {
    known
        .objects()
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

/// Makes twins of a robot (any backend with a map) for rehearsals.
pub struct TwinOf(pub Arc<dyn RobotBackend>);

impl TwinMaker for TwinOf {
    fn make(&self, known: &ObjectMemory) -> Result<Box<dyn Twin>, String> {
        let robot = Arc::new(twin_of(&*self.0, known).map_err(|e| e.to_string())?);
        let skills = robot_api::skills::robot_skills_knowing(robot.clone(), known.clone());
        let start = robot.pose().ok();
        Ok(Box::new(SimTwin {
            start_time: robot.time(),
            // No battery use is foreseen for a robot without a battery.
            start_battery: battery(&*self.0).and(battery(&*robot)),
            allowed: self.0.allowed_area(),
            robot,
            skills,
            start,
        }))
    }

    fn pose(&self) -> Option<Pose2> {
        self.0.pose().ok()
    }
}

/// A twin in the simulator, and where it started.
struct SimTwin {
    robot: Arc<SimRobot>,
    skills: SkillSet,
    start: Option<Pose2>,
    start_time: f64,
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
        let (collisions, events) = self
            .robot
            .take_events()
            .into_iter()
            .partition(|e| e.contains("collision at"));
        let sim = self.robot.sim();
        let geofence = match &self.allowed {
            Some(area) => sim
                .trajectory()
                .iter()
                .find(|p| !crate::geometry::point_in_polygon(**p, area))
                .map(|p| format!("leaves the allowed area at ({:.2}, {:.2})", p.x, p.y))
                .into_iter()
                .collect(),
            None => Vec::new(),
        };
        let picture = crate::render::draw(sim.world(), Some(&sim))
            .encode_png()
            .ok();
        let end = sim.true_pose();
        drop(sim);
        Foresight {
            collisions,
            geofence,
            events,
            end_pose: Some(end),
            start_pose: self.start,
            duration: self.robot.time() - self.start_time,
            battery_used: self
                .start_battery
                .zip(battery(&*self.robot))
                .map(|(a, b)| a - b),
            picture,
        }
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
