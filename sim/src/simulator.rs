//! The simulation: fixed-step differential-drive physics with collisions that
//! cannot tunnel, odometry, battery, lidar and camera at their own rates, a
//! gripper. Deterministic: the same world and commands give the same run,
//! bit for bit.

use std::sync::Arc;

use robot_api::{BatteryState, Detection, Pose2, ScanData};

use crate::geometry::{wrap_angle, RayFan, Segment, P2, V2};
use crate::rng::Rng;
use crate::world::{RobotConfig, World};

/// Something that happened, with the simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Seconds since the start.
    pub time: f64,
    /// What happened, for the observation.
    pub text: String,
}

/// Where an object is now.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectState {
    /// Position (follows the gripper while held).
    pub at: P2,
    /// Whether the robot holds it.
    pub held: bool,
    /// Picks that will still slip.
    pub slips_left: u32,
    /// The robot that last put it down (its index), if one has.
    pub placed_by: Option<usize>,
}

/// The state of a run at one moment, for comparing two runs (replay).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// Simulated seconds.
    pub time: f64,
    /// True pose: x, y, theta.
    pub pose: (f64, f64, f64),
    /// Battery, percent.
    pub battery: f64,
    /// The held object.
    pub holding: Option<String>,
    /// Every object: name, x, y.
    pub objects: Vec<(String, f64, f64)>,
}

/// Why a gripper request failed.
#[derive(Debug, Clone, PartialEq)]
pub enum GripperFailure {
    /// No such object.
    Unknown(String),
    /// Too far or not in front.
    NotInReach(String),
    /// Holding something already, holding nothing, or no room to put it down.
    Gripper(String),
}

/// One robot in a simulation: its state, and what happened to it.
#[derive(Debug, Clone)]
pub struct Body {
    name: String,
    config: RobotConfig,
    /// True pose.
    pose: Pose2,
    /// Odometry estimate.
    odom: Pose2,
    v: f64,
    w: f64,
    cmd: (f64, f64),
    battery: f64,
    /// Standing still in a charger zone (charging, or kept full).
    docked: bool,
    charging: bool,
    low_reported: bool,
    bumped: bool,
    in_contact: bool,
    holding: Option<usize>,
    scan: ScanData,
    events: Vec<Event>,
    /// Sampled true positions (every 0.1 s), for pictures.
    trajectory: Vec<P2>,
    /// Ray directions relative to the heading.
    ray_dirs: Vec<(f64, f64)>,
    /// Scratch: ray directions in the world frame.
    world_dirs: Vec<(f64, f64)>,
    distance_driven: f64,
    /// Collisions so far (each new contact counts once).
    collisions: u32,
    /// Of those, with another robot (run into it, or run into by it).
    robot_collisions: u32,
}

impl Body {
    fn new(name: &str, config: &RobotConfig, lidar: &crate::world::LidarConfig) -> Self {
        let (x, y, theta) = config.start;
        let pose = Pose2::new(x, y, theta);
        let full_circle = (lidar.fov - std::f64::consts::TAU).abs() < 1e-9;
        // A full circle does not repeat its first ray at the end.
        let increment = if lidar.rays > 1 {
            lidar.fov
                / if full_circle {
                    lidar.rays as f64
                } else {
                    (lidar.rays - 1) as f64
                }
        } else {
            0.0
        };
        let angle_min = if full_circle {
            -std::f64::consts::PI
        } else {
            -lidar.fov / 2.0
        };
        let ray_dirs: Vec<(f64, f64)> = (0..lidar.rays)
            .map(|i| {
                let a = angle_min + i as f64 * increment;
                (a.cos(), a.sin())
            })
            .collect();
        Body {
            name: name.to_owned(),
            config: config.clone(),
            pose,
            odom: pose,
            v: 0.0,
            w: 0.0,
            cmd: (0.0, 0.0),
            battery: config.battery_start,
            docked: false,
            charging: false,
            low_reported: false,
            bumped: false,
            in_contact: false,
            holding: None,
            scan: ScanData {
                angle_min,
                angle_increment: increment,
                range_min: lidar.range_min,
                range_max: lidar.range_max,
                ranges: vec![f64::INFINITY; lidar.rays],
                pose,
                stamp: 0.0,
            },
            events: Vec::new(),
            trajectory: vec![P2::new(x, y)],
            world_dirs: Vec::with_capacity(ray_dirs.len()),
            ray_dirs,
            distance_driven: 0.0,
            collisions: 0,
            robot_collisions: 0,
        }
    }

    /// Its name in the world ("robot" for a world of one).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its settings.
    pub fn config(&self) -> &RobotConfig {
        &self.config
    }
    /// The true pose (ground truth).
    pub fn true_pose(&self) -> Pose2 {
        self.pose
    }
    /// The odometry estimate (what the robot believes).
    pub fn odom_pose(&self) -> Pose2 {
        self.odom
    }
    /// Current body velocities (m/s, rad/s).
    pub fn velocity(&self) -> (f64, f64) {
        (self.v, self.w)
    }
    /// The commanded velocities.
    pub fn commanded(&self) -> (f64, f64) {
        self.cmd
    }
    /// The latest lidar scan.
    pub fn scan(&self) -> &ScanData {
        &self.scan
    }
    /// Sampled trajectory (true positions every 0.1 s).
    pub fn trajectory(&self) -> &[P2] {
        &self.trajectory
    }
    /// Metres driven so far.
    pub fn distance_driven(&self) -> f64 {
        self.distance_driven
    }
    /// Whether the robot touches something now.
    pub fn in_contact(&self) -> bool {
        self.in_contact
    }
    /// How many times the robot has run into something since the start.
    pub fn collisions(&self) -> u32 {
        self.collisions
    }
    /// How many of those were with another robot of the fleet.
    pub fn robot_collisions(&self) -> u32 {
        self.robot_collisions
    }
    /// The battery.
    pub fn battery(&self) -> BatteryState {
        BatteryState {
            percent: self.battery,
            charging: self.charging,
        }
    }

    fn centre(&self) -> P2 {
        P2::new(self.pose.x, self.pose.y)
    }

    fn carry_point(&self) -> P2 {
        let d = self.config.radius * 0.6;
        P2::new(
            self.pose.x + d * self.pose.theta.cos(),
            self.pose.y + d * self.pose.theta.sin(),
        )
    }

    fn push_event(&mut self, time: f64, text: String) {
        self.events.push(Event { time, text });
    }
}

/// A running simulation of one world, with one robot or several.
#[derive(Debug, Clone)]
pub struct Simulator {
    world: Arc<World>,
    dt: f64,
    steps: u64,
    lidar_every: u64,
    objects: Vec<ObjectState>,
    rng: Rng,
    bodies: Vec<Body>,
}

impl Simulator {
    /// Starts a world at time 0.
    pub fn new(world: Arc<World>) -> Self {
        let dt = 1.0 / world.physics_rate;
        let lidar_every = (world.physics_rate / world.lidar.rate).round().max(1.0) as u64;
        let bodies = world
            .robots()
            .map(|(name, config)| Body::new(name, config, &world.lidar))
            .collect();
        let mut sim = Simulator {
            dt,
            steps: 0,
            lidar_every,
            objects: world
                .objects
                .iter()
                .map(|o| ObjectState {
                    at: o.at,
                    held: false,
                    slips_left: o.slips,
                    placed_by: None,
                })
                .collect(),
            rng: Rng::new(world.seed),
            bodies,
            world,
        };
        for i in 0..sim.bodies.len() {
            sim.take_scan_of(i);
        }
        sim
    }

    /// The world.
    pub fn world(&self) -> &Arc<World> {
        &self.world
    }
    /// Simulated seconds since the start.
    pub fn time(&self) -> f64 {
        self.steps as f64 * self.dt
    }
    /// Physics steps since the start.
    pub fn steps(&self) -> u64 {
        self.steps
    }
    /// The physics step, seconds.
    pub fn dt(&self) -> f64 {
        self.dt
    }
    /// Every robot, in world-file order.
    pub fn robots(&self) -> &[Body] {
        &self.bodies
    }
    /// Robot `i` (0: the first, the only one in a world of one).
    pub fn robot(&self, i: usize) -> &Body {
        &self.bodies[i]
    }
    /// The first robot's true pose (ground truth).
    pub fn true_pose(&self) -> Pose2 {
        self.bodies[0].pose
    }
    /// The first robot's odometry estimate (what the robot believes).
    pub fn odom_pose(&self) -> Pose2 {
        self.bodies[0].odom
    }
    /// The first robot's velocities (m/s, rad/s).
    pub fn velocity(&self) -> (f64, f64) {
        self.bodies[0].velocity()
    }
    /// The first robot's latest lidar scan.
    pub fn scan(&self) -> &ScanData {
        &self.bodies[0].scan
    }
    /// The objects' states, in world-file order.
    pub fn objects(&self) -> &[ObjectState] {
        &self.objects
    }
    /// The first robot's sampled trajectory.
    pub fn trajectory(&self) -> &[P2] {
        &self.bodies[0].trajectory
    }
    /// Metres the first robot has driven.
    pub fn distance_driven(&self) -> f64 {
        self.bodies[0].distance_driven
    }
    /// Whether the first robot touches something now.
    pub fn in_contact(&self) -> bool {
        self.bodies[0].in_contact
    }
    /// Takes the first robot's bump flag.
    pub fn take_bump(&mut self) -> bool {
        self.take_bump_of(0)
    }
    /// Takes robot `i`'s bump flag (set by any collision since the last call).
    pub fn take_bump_of(&mut self, i: usize) -> bool {
        std::mem::take(&mut self.bodies[i].bumped)
    }
    /// How many times the first robot has run into something.
    pub fn collisions(&self) -> u32 {
        self.bodies[0].collisions
    }

    /// Takes the first robot's events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        self.take_events_of(0)
    }
    /// Takes robot `i`'s events since the last call.
    pub fn take_events_of(&mut self, i: usize) -> Vec<Event> {
        std::mem::take(&mut self.bodies[i].events)
    }
    /// Records an event of the first robot (also used for `say`).
    pub fn push_event(&mut self, text: String) {
        self.push_event_to(0, text);
    }
    /// Records an event of robot `i`.
    pub fn push_event_to(&mut self, i: usize, text: String) {
        let time = self.time();
        self.bodies[i].push_event(time, text);
    }

    /// The first robot's battery.
    pub fn battery(&self) -> BatteryState {
        self.bodies[0].battery()
    }

    /// Sets the first robot's commanded velocities.
    pub fn command(&mut self, linear: f64, angular: f64) {
        self.command_robot(0, linear, angular);
    }
    /// Sets robot `i`'s commanded velocities, clamped to its limits.
    pub fn command_robot(&mut self, i: usize, linear: f64, angular: f64) {
        let b = &mut self.bodies[i];
        let clean = |v: f64, max: f64| {
            if v.is_finite() {
                v.clamp(-max, max)
            } else {
                0.0
            }
        };
        b.cmd = (
            clean(linear, b.config.max_linear),
            clean(angular, b.config.max_angular),
        );
    }

    /// The first robot's commanded velocities.
    pub fn commanded(&self) -> (f64, f64) {
        self.bodies[0].cmd
    }

    /// Stops the first robot at once.
    pub fn halt(&mut self) {
        self.halt_robot(0);
    }
    /// Stops robot `i` at once (commands zero and drops its current speed).
    pub fn halt_robot(&mut self, i: usize) {
        let b = &mut self.bodies[i];
        b.cmd = (0.0, 0.0);
        b.v = 0.0;
        b.w = 0.0;
    }

    /// Runs `n` physics steps.
    pub fn run_steps(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Runs for `seconds` of simulated time (rounded to whole steps).
    pub fn run_for(&mut self, seconds: f64) {
        self.run_steps((seconds / self.dt).round().max(0.0) as u64);
    }

    /// One physics step: every robot moves, in world-file order.
    pub fn step(&mut self) {
        for i in 0..self.bodies.len() {
            self.move_body(i);
        }
        self.steps += 1;
        if self.steps % self.lidar_every == 0 {
            for i in 0..self.bodies.len() {
                self.take_scan_of(i);
            }
        }
        if self.steps % ((0.1 / self.dt).round().max(1.0) as u64) == 0 {
            for b in &mut self.bodies {
                let p = b.centre();
                if b.trajectory.last().is_none_or(|q| (q - p).norm() > 1e-4) {
                    b.trajectory.push(p);
                }
            }
        }
    }

    /// One step of robot `i`: speeds towards the command, the move as far
    /// as its footprint fits, odometry, battery, what it carries.
    fn move_body(&mut self, i: usize) {
        let dt = self.dt;
        let b = &mut self.bodies[i];
        let cfg = b.config.clone();
        let (mut cmd_v, mut cmd_w) = b.cmd;
        if b.battery <= 0.0 {
            cmd_v = 0.0;
            cmd_w = 0.0;
        }
        let approach =
            |cur: f64, target: f64, max_step: f64| cur + (target - cur).clamp(-max_step, max_step);
        b.v = approach(b.v, cmd_v, cfg.max_linear_accel * dt);
        b.w = approach(b.w, cmd_w, cfg.max_angular_accel * dt);
        let (v, w, pose) = (b.v, b.w, b.pose);

        let p0 = P2::new(pose.x, pose.y);
        let heading_mid = pose.theta + w * dt / 2.0;
        let p1 = p0 + V2::new(heading_mid.cos(), heading_mid.sin()) * (v * dt);
        let mut moved_to = p1;
        let mut hit = None;
        if v != 0.0 {
            if let Some(what) = self.sweep_hits(i, p0, p1) {
                // Move as far as the footprint fits (bisection), then stop.
                let (mut ok, mut bad) = (0.0, 1.0);
                for _ in 0..12 {
                    let mid = (ok + bad) / 2.0;
                    if self.sweep_hits(i, p0, p0 + (p1 - p0) * mid).is_some() {
                        bad = mid;
                    } else {
                        ok = mid;
                    }
                }
                moved_to = p0 + (p1 - p0) * ok;
                hit = Some(what);
                self.bodies[i].v = 0.0;
            }
        }
        // Signed distance along the heading (negative when reversing).
        let ds = (moved_to - p0).dot(&V2::new(heading_mid.cos(), heading_mid.sin()));
        let dtheta = w * dt;
        let b = &mut self.bodies[i];
        b.pose = Pose2::new(moved_to.x, moved_to.y, wrap_angle(pose.theta + dtheta));
        b.distance_driven += ds.abs();
        let new_contact = !b.in_contact;
        b.bumped |= hit.is_some();
        b.in_contact = hit.is_some();
        if let (Some(what), true) = (hit, new_contact) {
            self.note_collision(i, what, moved_to);
        }

        // Odometry integrates what the wheels did, with noise and drift.
        let ds_m = ds * (1.0 + self.rng.normal(cfg.odom_noise));
        let dth_m = dtheta * (1.0 + self.rng.normal(cfg.odom_noise)) + cfg.odom_drift * dt;
        let b = &mut self.bodies[i];
        let om = b.odom.theta + dth_m / 2.0;
        b.odom = Pose2::new(
            b.odom.x + ds_m * om.cos(),
            b.odom.y + ds_m * om.sin(),
            wrap_angle(b.odom.theta + dth_m),
        );

        self.update_battery(i, ds.abs(), moved_to);
        let b = &self.bodies[i];
        if let Some(o) = b.holding {
            self.objects[o].at = b.carry_point();
        }
    }

    /// Robot `i` has just run into `what` at `at`: counted, and told as an
    /// event; a robot it ran into hears of it too (its bump flag stays for
    /// its own moves: a skill of its own did not hit anything).
    fn note_collision(&mut self, i: usize, what: Hit, at: P2) {
        let time = self.time();
        let with = match what {
            Hit::World => String::new(),
            Hit::Robot(j) => format!(" with robot {}", self.bodies[j].name),
        };
        let b = &mut self.bodies[i];
        b.collisions += 1;
        b.push_event(
            time,
            format!("collision at ({:.2}, {:.2}){with}", at.x, at.y),
        );
        if let Hit::Robot(j) = what {
            b.robot_collisions += 1;
            let by = b.name.clone();
            let other = &mut self.bodies[j];
            other.collisions += 1;
            other.robot_collisions += 1;
            let at = other.centre();
            other.push_event(
                time,
                format!(
                    "collision at ({:.2}, {:.2}): robot {by} ran into it",
                    at.x, at.y
                ),
            );
        }
    }

    /// What robot `i`'s footprint, swept from `a` to `b`, would come closer
    /// than its radius to: a wall or obstacle, or another robot.
    fn sweep_hits(&self, i: usize, a: P2, b: P2) -> Option<Hit> {
        let radius = self.bodies[i].config.radius;
        let path = Segment::new(a, b);
        let start_clearance = |s: &Segment| s.distance_to(a);
        let mut hit = false;
        self.world.grid.near_sweep(a, b, radius, |s| {
            // Touching at the start is allowed as long as the move does not go deeper.
            if !hit && path.distance_to_segment(s) < radius - 1e-9 {
                let d0 = start_clearance(s);
                hit = d0 >= radius - 1e-9 || s.distance_to(b) < d0;
            }
        });
        if hit {
            return Some(Hit::World);
        }
        self.bodies.iter().enumerate().find_map(|(j, other)| {
            if j == i {
                return None;
            }
            let c = other.centre();
            let reach = radius + other.config.radius;
            let d0 = (c - a).norm();
            // The same rule as for walls: deeper into contact is a hit.
            (path.distance_to(c) < reach - 1e-9 && (d0 >= reach - 1e-9 || (c - b).norm() < d0))
                .then_some(Hit::Robot(j))
        })
    }

    fn update_battery(&mut self, i: usize, driven: f64, at: P2) {
        let charger = self
            .world
            .zones
            .iter()
            .find(|z| z.charger && z.contains(at))
            .map(|z| z.name.clone());
        let (dt, time) = (self.dt, self.time());
        let b = &mut self.bodies[i];
        let cfg = b.config.clone();
        let was_docked = b.docked;
        // A charger keeps a robot that stands on it full; events mark changes only.
        b.docked = charger.is_some() && b.v.abs() < 1e-3 && b.w.abs() < 1e-3;
        let before = b.battery;
        if b.docked {
            b.battery = (b.battery + cfg.battery_charge_rate * dt).min(100.0);
        } else {
            b.battery =
                (b.battery - cfg.battery_idle_drain * dt - cfg.battery_drain_per_m * driven)
                    .max(0.0);
        }
        b.charging = b.docked && b.battery < 100.0;
        let event = match (was_docked, b.docked) {
            (false, true) if before < 100.0 => Some(format!(
                "charging in {} ({:.0}%)",
                charger.unwrap_or_default(),
                before.floor()
            )),
            (false, true) => Some(format!(
                "on the charger in {}; the battery is full",
                charger.unwrap_or_default()
            )),
            (true, true) if before < 100.0 && b.battery >= 100.0 => {
                Some("battery full (100%)".into())
            }
            (true, false) => Some(format!("stopped charging ({:.0}%)", b.battery)),
            _ => None,
        };
        if let Some(e) = event {
            b.push_event(time, e);
        }
        if before >= cfg.battery_low && b.battery < cfg.battery_low && !b.low_reported {
            b.low_reported = true;
            let text = format!("battery low ({:.0}%)", b.battery);
            b.push_event(time, text);
        }
        if b.battery >= cfg.battery_low + 5.0 {
            b.low_reported = false;
        }
        if before > 0.0 && b.battery <= 0.0 {
            b.push_event(
                time,
                "battery empty: the robot cannot move until it is charged".into(),
            );
        }
    }

    /// Casts the first robot's lidar now.
    pub fn take_scan(&mut self) {
        self.take_scan_of(0);
    }

    /// Casts robot `i`'s lidar now from its true pose: walls, obstacles and
    /// the other robots.
    pub fn take_scan_of(&mut self, i: usize) {
        let time = self.time();
        let world = self.world.clone();
        let lidar = &world.lidar;
        let others: Vec<(P2, f64)> = self
            .bodies
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, o)| (o.centre(), o.config.radius))
            .collect();
        let b = &mut self.bodies[i];
        let origin = b.centre();
        let (s, c) = b.pose.theta.sin_cos();
        b.world_dirs.clear();
        b.world_dirs.extend(
            b.ray_dirs
                .iter()
                .map(|&(rc, rs)| (rc * c - rs * s, rc * s + rs * c)),
        );
        let full_circle = (lidar.fov - std::f64::consts::TAU).abs() < 1e-9;
        let first = b.pose.theta + b.scan.angle_min;
        let fan = RayFan {
            dirs: &b.world_dirs,
            first,
            increment: b.scan.angle_increment,
            full_circle,
        };
        world
            .grid
            .scan(origin, &fan, lidar.range_max, &mut b.scan.ranges);
        for (range, &(dx, dy)) in b.scan.ranges.iter_mut().zip(&b.world_dirs) {
            for &(centre, radius) in &others {
                if let Some(t) = ray_circle(origin, V2::new(dx, dy), centre, radius) {
                    if t < *range && t <= lidar.range_max {
                        *range = t;
                    }
                }
            }
        }
        if lidar.noise > 0.0 || lidar.range_min > 0.0 {
            for r in b.scan.ranges.iter_mut().filter(|r| r.is_finite()) {
                *r = (*r + self.rng.normal(lidar.noise)).clamp(lidar.range_min, lidar.range_max);
            }
        }
        b.scan.pose = b.odom;
        b.scan.stamp = time;
    }

    /// What the first robot's camera recognises now.
    pub fn detections(&self) -> Vec<Detection> {
        self.detections_of(0)
    }

    /// What robot `i`'s camera recognises now ([`crate::camera::recognises`]:
    /// what its picture shows clearly enough; held objects excluded).
    pub fn detections_of(&self, i: usize) -> Vec<Detection> {
        let pose = self.bodies[i].pose;
        let origin = P2::new(pose.x, pose.y);
        let mut out = Vec::new();
        for (spec, state) in self.world.objects.iter().zip(&self.objects) {
            if state.held || !crate::camera::recognises(&self.world, pose, state.at, spec.size) {
                continue;
            }
            let d = state.at - origin;
            let distance = d.norm();
            let bearing = wrap_angle(d.y.atan2(d.x) - pose.theta);
            out.push(Detection {
                name: spec.name.clone(),
                kind: spec.kind.clone(),
                colour: spec.colour.clone(),
                x: state.at.x,
                y: state.at.y,
                size: spec.size,
                distance,
                bearing,
            });
        }
        // The other robots, as the camera shows them (by name, kind "robot").
        for (j, other) in self.bodies.iter().enumerate() {
            let at = other.centre();
            let size = 2.0 * other.config.radius;
            if j == i || !crate::camera::recognises(&self.world, pose, at, size) {
                continue;
            }
            let d = at - origin;
            out.push(Detection {
                name: other.name.clone(),
                kind: "robot".into(),
                colour: "grey".into(),
                x: at.x,
                y: at.y,
                size,
                distance: d.norm(),
                bearing: wrap_angle(d.y.atan2(d.x) - pose.theta),
            });
        }
        out
    }

    /// The state now, for comparing runs (the first robot's).
    pub fn snapshot(&self) -> Snapshot {
        let b = &self.bodies[0];
        Snapshot {
            time: self.time(),
            pose: (b.pose.x, b.pose.y, b.pose.theta),
            battery: b.battery,
            holding: self.holding().map(str::to_owned),
            objects: self
                .world
                .objects
                .iter()
                .zip(&self.objects)
                .map(|(spec, state)| (spec.name.clone(), state.at.x, state.at.y))
                .collect(),
        }
    }

    /// The first robot's held object's name.
    pub fn holding(&self) -> Option<&str> {
        self.holding_of(0)
    }

    /// Robot `i`'s held object's name.
    pub fn holding_of(&self, i: usize) -> Option<&str> {
        self.bodies[i]
            .holding
            .map(|o| self.world.objects[o].name.as_str())
    }

    /// Starts out holding `name` (a twin of a robot that holds it now).
    /// Returns whether there is such an object.
    pub fn start_holding(&mut self, name: &str) -> bool {
        let Some(o) = self.world.objects.iter().position(|o| o.name == name) else {
            return false;
        };
        let b = &mut self.bodies[0];
        b.holding = Some(o);
        self.objects[o].held = true;
        self.objects[o].at = b.carry_point();
        true
    }

    /// The first robot picks up `name`.
    pub fn pick(&mut self, name: &str) -> Result<(), GripperFailure> {
        self.pick_by(0, name)
    }

    /// Robot `i` picks up an object within reach, in front of it.
    pub fn pick_by(&mut self, i: usize, name: &str) -> Result<(), GripperFailure> {
        let Some(o) = self.world.objects.iter().position(|o| o.name == name) else {
            if self.bodies.iter().any(|b| b.name == name) {
                return Err(GripperFailure::Gripper(format!(
                    "{name} is a robot; the gripper picks up objects"
                )));
            }
            return Err(GripperFailure::Unknown(name.into()));
        };
        if let Some(held) = self.holding_of(i) {
            return Err(GripperFailure::Gripper(format!(
                "already holding {held}; place() it first"
            )));
        }
        if self.objects[o].held {
            return Err(GripperFailure::Gripper(format!(
                "{name} is held by another robot"
            )));
        }
        let b = &self.bodies[i];
        let reach = b.config.reach;
        let d = self.objects[o].at - b.centre();
        let bearing = wrap_angle(d.y.atan2(d.x) - b.pose.theta);
        if d.norm() > reach {
            return Err(GripperFailure::NotInReach(format!("{name} is {:.2} m from the robot's centre; the gripper reaches {reach:.2} m; go_to({name:?}) first", d.norm())));
        }
        if bearing.abs() > 1.0 {
            return Err(GripperFailure::NotInReach(format!("{name} is not in front of the robot (bearing {bearing:.2} rad); turn towards it first")));
        }
        if self.objects[o].slips_left > 0 {
            self.objects[o].slips_left -= 1;
            self.push_event_to(i, format!("{name} slipped out of the gripper"));
            return Err(GripperFailure::Gripper(format!(
                "{name} slipped out of the gripper; it is still there, try again"
            )));
        }
        let carry = self.bodies[i].carry_point();
        self.bodies[i].holding = Some(o);
        self.objects[o].held = true;
        self.objects[o].at = carry;
        self.push_event_to(i, format!("picked {name}"));
        Ok(())
    }

    /// The first robot puts down what it holds.
    pub fn place(&mut self, at: Option<P2>) -> Result<(String, P2), GripperFailure> {
        self.place_by(0, at)
    }

    /// Robot `i` puts the held object down at `at` (within reach) or in
    /// front of it. Returns its name and where it lies now.
    pub fn place_by(&mut self, i: usize, at: Option<P2>) -> Result<(String, P2), GripperFailure> {
        let Some(o) = self.bodies[i].holding else {
            return Err(GripperFailure::Gripper(
                "the gripper is empty; pick() something first".into(),
            ));
        };
        let robot = self.bodies[i].centre();
        let reach = self.bodies[i].config.reach;
        let size = self.world.objects[o].size;
        let spot = match at {
            Some(p) => {
                let d = (p - robot).norm();
                if d > reach {
                    return Err(GripperFailure::NotInReach(format!("({:.2}, {:.2}) is {d:.2} m from the robot's centre; the gripper reaches {reach:.2} m", p.x, p.y)));
                }
                p
            }
            None => self.default_spot(i, size),
        };
        if !self.room_for(i, spot, size) {
            return Err(GripperFailure::Gripper(format!(
                "no room to put it down at ({:.2}, {:.2}): a wall or obstacle is there",
                spot.x, spot.y
            )));
        }
        self.bodies[i].holding = None;
        self.objects[o].held = false;
        self.objects[o].at = spot;
        self.objects[o].placed_by = Some(i);
        let name = self.world.objects[o].name.clone();
        let on = self
            .world
            .surface_at(spot)
            .map(|s| format!(" on {}", s.name))
            .unwrap_or_default();
        let zone = self
            .world
            .zone_at(spot)
            .map(|z| format!(" in {}", z.name))
            .unwrap_or_default();
        self.push_event_to(
            i,
            format!("placed {name} at ({:.2}, {:.2}){on}{zone}", spot.x, spot.y),
        );
        Ok((name, spot))
    }

    /// Where `place()` puts an object of `size` down: the place distance
    /// ahead on the floor, or, when furniture with a top stands ahead within
    /// reach, just past its edge on top of it.
    fn default_spot(&self, i: usize, size: f64) -> P2 {
        let b = &self.bodies[i];
        let robot = b.centre();
        let heading = V2::new(b.pose.theta.cos(), b.pose.theta.sin());
        let cfg = &b.config;
        let floor = robot + heading * robot_api::backend::place_distance(cfg.radius, cfg.reach);
        let ahead = robot + heading * cfg.reach;
        self.world
            .obstacles
            .iter()
            .filter(|o| o.surface)
            .filter_map(|o| o.first_crossing(robot, ahead).map(|t| t * cfg.reach))
            .min_by(f64::total_cmp)
            .map(|edge| robot + heading * (edge + size / 2.0 + 0.02).min(cfg.reach))
            .unwrap_or(floor)
    }

    /// Whether an object of `size` fits at `spot` (on the floor clear of
    /// walls and obstacles, or well on a surface) and the gripper can get
    /// there from robot `i`.
    fn room_for(&self, i: usize, spot: P2, size: f64) -> bool {
        let robot = self.bodies[i].centre();
        let fits = match self.world.inside_obstacle(spot) {
            Some(o) => o.surface && o.depth(spot) >= size / 2.0,
            None => self.world.clearance(spot, size / 2.0) >= size / 2.0,
        };
        fits && self.world.in_sight(robot, spot)
    }
}

/// What a robot's move ran into.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hit {
    /// A wall or obstacle.
    World,
    /// Robot number `0`.
    Robot(usize),
}

/// Where a ray from `origin` along the unit vector `dir` first meets the
/// circle of `radius` around `centre`, if it does (ahead of the origin).
fn ray_circle(origin: P2, dir: V2, centre: P2, radius: f64) -> Option<f64> {
    let to = centre - origin;
    let along = to.dot(&dir);
    let miss2 = to.norm_squared() - along * along;
    let r2 = radius * radius;
    if along < 0.0 || miss2 > r2 {
        return None;
    }
    let t = along - (r2 - miss2).sqrt();
    (t >= 0.0).then_some(t)
}
