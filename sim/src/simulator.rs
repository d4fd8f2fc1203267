//! The simulation: fixed-step differential-drive physics with collisions that
//! cannot tunnel, odometry, battery, lidar and camera at their own rates, a
//! gripper. Deterministic: the same world and commands give the same run,
//! bit for bit.

use std::sync::Arc;

use robot_api::{BatteryState, Detection, Pose2, ScanData};

use crate::geometry::{wrap_angle, P2, V2};
use crate::rng::Rng;

mod step;
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
    /// Its noise (odometry, lidar): a stream of its own, so a robot's run
    /// does not depend on which other robot drew first.
    rng: Rng,
}

impl Body {
    fn new(name: &str, config: &RobotConfig, lidar: &crate::world::LidarConfig, rng: Rng) -> Self {
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
            rng,
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

    /// Adds the position it is at to its trajectory (if it moved).
    fn sample_trajectory(&mut self) {
        let p = self.centre();
        if self.trajectory.last().is_none_or(|q| (q - p).norm() > 1e-4) {
            self.trajectory.push(p);
        }
    }
}

/// The fewest steps worth handing robots to another thread (a step takes
/// about a microsecond).
const APART_MIN_STEPS: u64 = 100;

/// Metres beyond the lidar's range (and a robot's radius) that robots
/// running on their own keep between them.
const APART_MARGIN: f64 = 0.1;

/// How long the stepping thread watches for a helper's robots before it
/// sleeps.
const HELPER_WATCH: std::time::Duration = std::time::Duration::from_millis(2);

/// Work for another thread: robots running on their own.
pub type Job = Box<dyn FnOnce() + Send>;

/// Who may run robots far apart on another thread while a step runs the
/// first (a fleet's clock: a robot's thread waiting for the others).
pub trait Helper {
    /// Offers `job`: `Err` gives it back when no one can take it (it is
    /// then run here).
    fn offer(&self, job: Job) -> Result<(), Job>;
    /// The job offered, back, if no one has taken it yet.
    fn take_back(&self) -> Option<Job>;
}

/// No helper: everything runs on the stepping thread.
pub struct Inline;

impl Helper for Inline {
    fn offer(&self, job: Job) -> Result<(), Job> {
        Err(job)
    }
    fn take_back(&self) -> Option<Job> {
        None
    }
}

/// A running simulation of one world, with one robot or several.
#[derive(Debug, Clone)]
pub struct Simulator {
    world: Arc<World>,
    dt: f64,
    steps: u64,
    lidar_every: u64,
    /// Steps between two trajectory samples (0.1 s).
    trajectory_every: u64,
    objects: Vec<ObjectState>,
    bodies: Vec<Body>,
}

impl Simulator {
    /// Starts a world at time 0.
    pub fn new(world: Arc<World>) -> Self {
        let dt = 1.0 / world.physics_rate;
        let lidar_every = (world.physics_rate / world.lidar.rate).round().max(1.0) as u64;
        // The first robot draws the world's seed's stream (a world of one
        // runs as it always has); each other robot a stream of its own.
        let bodies = world
            .robots()
            .enumerate()
            .map(|(i, (name, config))| {
                let seed = world.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                Body::new(name, config, &world.lidar, Rng::new(seed))
            })
            .collect();
        let mut sim = Simulator {
            dt,
            steps: 0,
            lidar_every,
            trajectory_every: (0.1 / dt).round().max(1.0) as u64,
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
        self.run_steps_with(n, &Inline);
    }

    /// Runs `n` physics steps; while the robots of a fleet are far enough
    /// apart that none can reach another or see it in its lidar, the robots
    /// after the first run as a job `helper` may take on another thread,
    /// for as many steps as that lasts: step for step the same run.
    pub fn run_steps_with(&mut self, n: u64, helper: &dyn Helper) {
        let mut left = n;
        while left > 0 {
            let alone = self.steps_apart(left);
            if alone >= APART_MIN_STEPS {
                self.run_apart(alone, helper);
                left -= alone;
            } else {
                self.step();
                left -= 1;
            }
        }
    }

    /// How many of the next `left` steps the robots can run each on its
    /// own (0 when some are, or may come, within another's reach or lidar
    /// range in them).
    fn steps_apart(&self, left: u64) -> u64 {
        if self.bodies.len() < 2 {
            return 0;
        }
        let range = self.world.lidar.range_max;
        let speed = |b: &Body| b.v.abs().max(b.cmd.0.abs());
        let mut steps = left;
        for (i, a) in self.bodies.iter().enumerate() {
            for b in &self.bodies[i + 1..] {
                let apart = (a.centre() - b.centre()).norm()
                    - range
                    - a.config.radius.max(b.config.radius)
                    - APART_MARGIN;
                if apart <= 0.0 {
                    return 0;
                }
                let closing = (speed(a) + speed(b)) * self.dt;
                if closing > 0.0 {
                    steps = steps.min((apart / closing).floor() as u64);
                }
            }
        }
        steps
    }

    /// Runs `n` steps with the robots apart ([`Simulator::steps_apart`]):
    /// the first here, the others as one job offered to `helper`.
    fn run_apart(&mut self, n: u64, helper: &dyn Helper) {
        let alone = |body: Body, objects: &[ObjectState]| step::Alone {
            held: body.holding.map(|o| (o, objects[o].clone())),
            body,
            world: self.world.clone(),
            dt: self.dt,
            steps: self.steps,
            lidar_every: self.lidar_every,
            trajectory_every: self.trajectory_every,
            n,
        };
        let mut bodies = std::mem::take(&mut self.bodies).into_iter();
        let mut first = alone(bodies.next().expect("the first robot"), &self.objects);
        let others: Vec<step::Alone> = bodies.map(|b| alone(b, &self.objects)).collect();
        let (tx, rx) = std::sync::mpsc::channel();
        let job: Job = Box::new(move || {
            let mut others = others;
            others.iter_mut().for_each(step::Alone::run);
            let _ = tx.send(others);
        });
        let here = helper.offer(job).err();
        first.run();
        // Not taken in the meantime: run here.
        if let Some(job) = here.or_else(|| helper.take_back()) {
            job();
        }
        // The helper runs about as long as this thread did: watch for it
        // rather than sleep (a wake-up can cost more than the steps).
        let watch = std::time::Instant::now();
        let others = loop {
            match rx.try_recv() {
                Ok(others) => break others,
                Err(std::sync::mpsc::TryRecvError::Empty) if watch.elapsed() < HELPER_WATCH => {
                    std::hint::spin_loop();
                    std::thread::yield_now();
                }
                Err(_) => break rx.recv().expect("the job sends the robots back"),
            }
        };
        for alone in std::iter::once(first).chain(others) {
            if let Some((o, state)) = alone.held {
                self.objects[o] = state;
            }
            self.bodies.push(alone.body);
        }
        self.steps += n;
    }

    /// Runs for `seconds` of simulated time (rounded to whole steps).
    pub fn run_for(&mut self, seconds: f64) {
        self.run_steps((seconds / self.dt).round().max(0.0) as u64);
    }

    /// One physics step: every robot moves, in world-file order (each sees
    /// the ones before it where they moved to), then scans.
    pub fn step(&mut self) {
        let time = self.time();
        for i in 0..self.bodies.len() {
            let (before, rest) = self.bodies.split_at_mut(i);
            let (b, after) = rest.split_first_mut().expect("robot i exists");
            let held = b.holding.map(|o| &mut self.objects[o]);
            let others = step::Others { before, after };
            if let Some(j) = step::move_body(b, held, &self.world, self.dt, time, &others) {
                self.note_run_into(j, i, time);
            }
        }
        self.steps += 1;
        if self.steps % self.lidar_every == 0 {
            for i in 0..self.bodies.len() {
                self.take_scan_of(i);
            }
        }
        if self.steps % self.trajectory_every == 0 {
            self.bodies.iter_mut().for_each(Body::sample_trajectory);
        }
    }

    /// Robot `j` was run into by robot `by` at `time`: counted, and told
    /// as its event (its bump flag stays for its own moves: a skill of its
    /// own did not hit anything).
    fn note_run_into(&mut self, j: usize, by: usize, time: f64) {
        let by = self.bodies[by].name.clone();
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

    /// Casts the first robot's lidar now.
    pub fn take_scan(&mut self) {
        self.take_scan_of(0);
    }

    /// Casts robot `i`'s lidar now from its true pose: walls, obstacles and
    /// the other robots.
    pub fn take_scan_of(&mut self, i: usize) {
        let time = self.time();
        let (before, rest) = self.bodies.split_at_mut(i);
        let (b, after) = rest.split_first_mut().expect("robot i exists");
        step::scan(b, &self.world, &step::Others { before, after }, time);
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

    /// Robot `i` starts out holding `name` (a twin of a robot that holds
    /// it now). Returns whether there is such an object.
    pub fn start_holding_by(&mut self, i: usize, name: &str) -> bool {
        let Some(o) = self.world.objects.iter().position(|o| o.name == name) else {
            return false;
        };
        let b = &mut self.bodies[i];
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
