//! The simulation: fixed-step differential-drive physics with collisions that
//! cannot tunnel, odometry, battery, lidar and camera at their own rates, a
//! gripper. Deterministic: the same world and commands give the same run,
//! bit for bit.

use std::sync::Arc;

use robot_api::{BatteryState, Detection, Pose2, ScanData};

use crate::geometry::{wrap_angle, RayFan, Segment, P2, V2};
use crate::rng::Rng;
use crate::world::World;

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

/// A running simulation of one world.
#[derive(Debug, Clone)]
pub struct Simulator {
    world: Arc<World>,
    dt: f64,
    steps: u64,
    lidar_every: u64,
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
    objects: Vec<ObjectState>,
    holding: Option<usize>,
    scan: ScanData,
    rng: Rng,
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
}

impl Simulator {
    /// Starts a world at time 0.
    pub fn new(world: Arc<World>) -> Self {
        let dt = 1.0 / world.physics_rate;
        let lidar_every = (world.physics_rate / world.lidar.rate).round().max(1.0) as u64;
        let (x, y, theta) = world.robot.start;
        let pose = Pose2::new(x, y, theta);
        let lidar = &world.lidar;
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
        let mut sim = Simulator {
            dt,
            steps: 0,
            lidar_every,
            pose,
            odom: pose,
            v: 0.0,
            w: 0.0,
            cmd: (0.0, 0.0),
            battery: world.robot.battery_start,
            docked: false,
            charging: false,
            low_reported: false,
            bumped: false,
            in_contact: false,
            objects: world
                .objects
                .iter()
                .map(|o| ObjectState {
                    at: o.at,
                    held: false,
                    slips_left: o.slips,
                })
                .collect(),
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
            rng: Rng::new(world.seed),
            events: Vec::new(),
            trajectory: vec![P2::new(x, y)],
            world_dirs: Vec::with_capacity(ray_dirs.len()),
            ray_dirs,
            distance_driven: 0.0,
            collisions: 0,
            world,
        };
        sim.take_scan();
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
    /// The physics step, seconds.
    pub fn dt(&self) -> f64 {
        self.dt
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
    /// The latest lidar scan.
    pub fn scan(&self) -> &ScanData {
        &self.scan
    }
    /// The objects' states, in world-file order.
    pub fn objects(&self) -> &[ObjectState] {
        &self.objects
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
    /// Takes the bump flag (set by any collision since the last call).
    pub fn take_bump(&mut self) -> bool {
        std::mem::take(&mut self.bumped)
    }
    /// How many times the robot has run into something since the start.
    pub fn collisions(&self) -> u32 {
        self.collisions
    }

    /// Takes the events since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
    /// Records an event (also used for `say`).
    pub fn push_event(&mut self, text: String) {
        self.events.push(Event {
            time: self.time(),
            text,
        });
    }

    /// The battery.
    pub fn battery(&self) -> BatteryState {
        BatteryState {
            percent: self.battery,
            charging: self.charging,
        }
    }

    /// Sets the commanded velocities, clamped to the robot's limits.
    pub fn command(&mut self, linear: f64, angular: f64) {
        let r = &self.world.robot;
        let clean = |v: f64, max: f64| {
            if v.is_finite() {
                v.clamp(-max, max)
            } else {
                0.0
            }
        };
        self.cmd = (clean(linear, r.max_linear), clean(angular, r.max_angular));
    }

    /// The commanded velocities.
    pub fn commanded(&self) -> (f64, f64) {
        self.cmd
    }

    /// Stops at once (commands zero and drops the current speed).
    pub fn halt(&mut self) {
        self.cmd = (0.0, 0.0);
        self.v = 0.0;
        self.w = 0.0;
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

    /// One physics step.
    pub fn step(&mut self) {
        let dt = self.dt;
        let cfg = self.world.robot.clone();
        let (mut cmd_v, mut cmd_w) = self.cmd;
        if self.battery <= 0.0 {
            cmd_v = 0.0;
            cmd_w = 0.0;
        }
        let approach =
            |cur: f64, target: f64, max_step: f64| cur + (target - cur).clamp(-max_step, max_step);
        self.v = approach(self.v, cmd_v, cfg.max_linear_accel * dt);
        self.w = approach(self.w, cmd_w, cfg.max_angular_accel * dt);

        let p0 = P2::new(self.pose.x, self.pose.y);
        let heading_mid = self.pose.theta + self.w * dt / 2.0;
        let p1 = p0 + V2::new(heading_mid.cos(), heading_mid.sin()) * (self.v * dt);
        let mut moved_to = p1;
        let mut hit = false;
        if self.v != 0.0 && self.sweep_hits(p0, p1) {
            // Move as far as the footprint fits (bisection), then stop.
            let (mut ok, mut bad) = (0.0, 1.0);
            for _ in 0..12 {
                let mid = (ok + bad) / 2.0;
                if self.sweep_hits(p0, p0 + (p1 - p0) * mid) {
                    bad = mid;
                } else {
                    ok = mid;
                }
            }
            moved_to = p0 + (p1 - p0) * ok;
            hit = true;
            self.v = 0.0;
        }
        // Signed distance along the heading (negative when reversing).
        let ds = (moved_to - p0).dot(&V2::new(heading_mid.cos(), heading_mid.sin()));
        let dtheta = self.w * dt;
        self.pose = Pose2::new(moved_to.x, moved_to.y, wrap_angle(self.pose.theta + dtheta));
        self.distance_driven += ds.abs();

        if hit && !self.in_contact {
            self.collisions += 1;
            self.push_event(format!(
                "collision at ({:.2}, {:.2})",
                moved_to.x, moved_to.y
            ));
        }
        self.bumped |= hit;
        self.in_contact = hit;

        // Odometry integrates what the wheels did, with noise and drift.
        let ds_m = ds * (1.0 + self.rng.normal(cfg.odom_noise));
        let dth_m = dtheta * (1.0 + self.rng.normal(cfg.odom_noise)) + cfg.odom_drift * dt;
        let om = self.odom.theta + dth_m / 2.0;
        self.odom = Pose2::new(
            self.odom.x + ds_m * om.cos(),
            self.odom.y + ds_m * om.sin(),
            wrap_angle(self.odom.theta + dth_m),
        );

        self.update_battery(ds.abs(), moved_to);
        if let Some(i) = self.holding {
            self.objects[i].at = self.carry_point();
        }
        self.steps += 1;
        if self.steps % self.lidar_every == 0 {
            self.take_scan();
        }
        if self.steps % ((0.1 / dt).round().max(1.0) as u64) == 0 {
            let p = P2::new(self.pose.x, self.pose.y);
            if self.trajectory.last().is_none_or(|q| (q - p).norm() > 1e-4) {
                self.trajectory.push(p);
            }
        }
    }

    /// Whether the footprint swept from `a` to `b` comes closer than its radius to a wall.
    fn sweep_hits(&self, a: P2, b: P2) -> bool {
        let radius = self.world.robot.radius;
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
        hit
    }

    fn update_battery(&mut self, driven: f64, at: P2) {
        let world = self.world.clone();
        let cfg = &world.robot;
        let charger = self
            .world
            .zones
            .iter()
            .find(|z| z.charger && z.contains(at))
            .map(|z| z.name.clone());
        let was_docked = self.docked;
        // A charger keeps a robot that stands on it full; events mark changes only.
        self.docked = charger.is_some() && self.v.abs() < 1e-3 && self.w.abs() < 1e-3;
        let before = self.battery;
        if self.docked {
            self.battery = (self.battery + cfg.battery_charge_rate * self.dt).min(100.0);
        } else {
            self.battery = (self.battery
                - cfg.battery_idle_drain * self.dt
                - cfg.battery_drain_per_m * driven)
                .max(0.0);
        }
        self.charging = self.docked && self.battery < 100.0;
        match (was_docked, self.docked) {
            (false, true) if before < 100.0 => self.push_event(format!(
                "charging in {} ({:.0}%)",
                charger.unwrap_or_default(),
                before.floor()
            )),
            (false, true) => self.push_event(format!(
                "on the charger in {}; the battery is full",
                charger.unwrap_or_default()
            )),
            (true, true) if before < 100.0 && self.battery >= 100.0 => {
                self.push_event("battery full (100%)".into())
            }
            (true, false) => self.push_event(format!("stopped charging ({:.0}%)", self.battery)),
            _ => {}
        }
        if before >= cfg.battery_low && self.battery < cfg.battery_low && !self.low_reported {
            self.low_reported = true;
            self.push_event(format!("battery low ({:.0}%)", self.battery));
        }
        if self.battery >= cfg.battery_low + 5.0 {
            self.low_reported = false;
        }
        if before > 0.0 && self.battery <= 0.0 {
            self.push_event("battery empty: the robot cannot move until it is charged".into());
        }
    }

    /// Casts the lidar now from the true pose.
    pub fn take_scan(&mut self) {
        let lidar = &self.world.lidar;
        let origin = P2::new(self.pose.x, self.pose.y);
        let (s, c) = self.pose.theta.sin_cos();
        self.world_dirs.clear();
        self.world_dirs.extend(
            self.ray_dirs
                .iter()
                .map(|&(rc, rs)| (rc * c - rs * s, rc * s + rs * c)),
        );
        let full_circle = (lidar.fov - std::f64::consts::TAU).abs() < 1e-9;
        let first = self.pose.theta + self.scan.angle_min;
        let fan = RayFan {
            dirs: &self.world_dirs,
            first,
            increment: self.scan.angle_increment,
            full_circle,
        };
        self.world
            .grid
            .scan(origin, &fan, lidar.range_max, &mut self.scan.ranges);
        if lidar.noise > 0.0 || lidar.range_min > 0.0 {
            for r in self.scan.ranges.iter_mut().filter(|r| r.is_finite()) {
                *r = (*r + self.rng.normal(lidar.noise)).clamp(lidar.range_min, lidar.range_max);
            }
        }
        self.scan.pose = self.odom;
        self.scan.stamp = self.time();
    }

    /// What the camera recognises now ([`crate::camera::recognises`]: what
    /// its picture shows clearly enough; the held object excluded).
    pub fn detections(&self) -> Vec<Detection> {
        let origin = P2::new(self.pose.x, self.pose.y);
        let mut out = Vec::new();
        for (spec, state) in self.world.objects.iter().zip(&self.objects) {
            if state.held || !crate::camera::recognises(&self.world, self.pose, state.at, spec.size)
            {
                continue;
            }
            let d = state.at - origin;
            let distance = d.norm();
            let bearing = wrap_angle(d.y.atan2(d.x) - self.pose.theta);
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
        out
    }

    /// The state now, for comparing runs.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            time: self.time(),
            pose: (self.pose.x, self.pose.y, self.pose.theta),
            battery: self.battery,
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

    /// The held object's name.
    pub fn holding(&self) -> Option<&str> {
        self.holding.map(|i| self.world.objects[i].name.as_str())
    }

    fn carry_point(&self) -> P2 {
        let d = self.world.robot.radius * 0.6;
        P2::new(
            self.pose.x + d * self.pose.theta.cos(),
            self.pose.y + d * self.pose.theta.sin(),
        )
    }

    /// Starts out holding `name` (a twin of a robot that holds it now).
    /// Returns whether there is such an object.
    pub fn start_holding(&mut self, name: &str) -> bool {
        let Some(i) = self.world.objects.iter().position(|o| o.name == name) else {
            return false;
        };
        self.holding = Some(i);
        self.objects[i].held = true;
        self.objects[i].at = self.carry_point();
        true
    }

    /// Picks up an object within reach, in front of the robot.
    pub fn pick(&mut self, name: &str) -> Result<(), GripperFailure> {
        let Some(i) = self.world.objects.iter().position(|o| o.name == name) else {
            return Err(GripperFailure::Unknown(name.into()));
        };
        if let Some(held) = self.holding() {
            return Err(GripperFailure::Gripper(format!(
                "already holding {held}; place() it first"
            )));
        }
        let reach = self.world.robot.reach;
        let d = self.objects[i].at - P2::new(self.pose.x, self.pose.y);
        let bearing = wrap_angle(d.y.atan2(d.x) - self.pose.theta);
        if d.norm() > reach {
            return Err(GripperFailure::NotInReach(format!("{name} is {:.2} m from the robot's centre; the gripper reaches {reach:.2} m; go_to({name:?}) first", d.norm())));
        }
        if bearing.abs() > 1.0 {
            return Err(GripperFailure::NotInReach(format!("{name} is not in front of the robot (bearing {bearing:.2} rad); turn towards it first")));
        }
        if self.objects[i].slips_left > 0 {
            self.objects[i].slips_left -= 1;
            self.push_event(format!("{name} slipped out of the gripper"));
            return Err(GripperFailure::Gripper(format!(
                "{name} slipped out of the gripper; it is still there, try again"
            )));
        }
        self.holding = Some(i);
        self.objects[i].held = true;
        self.objects[i].at = self.carry_point();
        self.push_event(format!("picked {name}"));
        Ok(())
    }

    /// Puts the held object down at `at` (within reach) or in front of the
    /// robot. Returns its name and where it lies now.
    pub fn place(&mut self, at: Option<P2>) -> Result<(String, P2), GripperFailure> {
        let Some(i) = self.holding else {
            return Err(GripperFailure::Gripper(
                "the gripper is empty; pick() something first".into(),
            ));
        };
        let robot = P2::new(self.pose.x, self.pose.y);
        let reach = self.world.robot.reach;
        let size = self.world.objects[i].size;
        let spot = match at {
            Some(p) => {
                let d = (p - robot).norm();
                if d > reach {
                    return Err(GripperFailure::NotInReach(format!("({:.2}, {:.2}) is {d:.2} m from the robot's centre; the gripper reaches {reach:.2} m", p.x, p.y)));
                }
                p
            }
            None => self.default_spot(size),
        };
        if !self.room_for(spot, size) {
            return Err(GripperFailure::Gripper(format!(
                "no room to put it down at ({:.2}, {:.2}): a wall or obstacle is there",
                spot.x, spot.y
            )));
        }
        self.holding = None;
        self.objects[i].held = false;
        self.objects[i].at = spot;
        let name = self.world.objects[i].name.clone();
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
        self.push_event(format!(
            "placed {name} at ({:.2}, {:.2}){on}{zone}",
            spot.x, spot.y
        ));
        Ok((name, spot))
    }

    /// Where `place()` puts an object of `size` down: the place distance
    /// ahead on the floor, or, when furniture with a top stands ahead within
    /// reach, just past its edge on top of it.
    fn default_spot(&self, size: f64) -> P2 {
        let robot = P2::new(self.pose.x, self.pose.y);
        let heading = V2::new(self.pose.theta.cos(), self.pose.theta.sin());
        let cfg = &self.world.robot;
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
    /// there from the robot.
    fn room_for(&self, spot: P2, size: f64) -> bool {
        let robot = P2::new(self.pose.x, self.pose.y);
        let fits = match self.world.inside_obstacle(spot) {
            Some(o) => o.surface && o.depth(spot) >= size / 2.0,
            None => self.world.clearance(spot, size / 2.0) >= size / 2.0,
        };
        fits && self.world.in_sight(robot, spot)
    }
}
