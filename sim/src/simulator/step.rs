//! One robot's physics step: speeds towards the command, the move as far as
//! its footprint fits, odometry, battery, what it carries, and its lidar.
//! Everything a step reads of the other robots comes in [`Others`], and a
//! robot's noise comes from its own stream, so a robot's run depends on the
//! others only where it meets or sees them.

use robot_api::Pose2;

use super::{Body, ObjectState};
use crate::geometry::{wrap_angle, RayFan, Segment, P2, V2};
use crate::world::World;

/// The other robots, as one robot's step sees them: those before it in the
/// world file and those after it.
pub(super) struct Others<'a> {
    pub before: &'a [Body],
    pub after: &'a [Body],
}

impl Others<'_> {
    /// Nobody: a robot on its own.
    pub const NONE: Others<'static> = Others {
        before: &[],
        after: &[],
    };

    /// Each other robot with its index in the world (the robot stepping
    /// being number `before.len()`).
    fn each(&self) -> impl Iterator<Item = (usize, &Body)> {
        let skip = self.before.len() + 1;
        self.before.iter().enumerate().chain(
            self.after
                .iter()
                .enumerate()
                .map(move |(k, b)| (skip + k, b)),
        )
    }
}

/// A robot run on its own for some steps (none other within its reach or
/// lidar range): everything it needs, owned, so another thread may run it.
pub(super) struct Alone {
    pub body: Body,
    /// The object it holds, if any (its index and state).
    pub held: Option<(usize, ObjectState)>,
    pub world: std::sync::Arc<World>,
    pub dt: f64,
    /// The step count it starts from.
    pub steps: u64,
    pub lidar_every: u64,
    pub trajectory_every: u64,
    pub n: u64,
}

impl Alone {
    /// Runs its `n` steps, step for step as among the others.
    pub fn run(&mut self) {
        let Alone {
            body,
            held,
            world,
            dt,
            ..
        } = self;
        let mut steps = self.steps;
        for _ in 0..self.n {
            let time = steps as f64 * *dt;
            let held = held.as_mut().map(|(_, o)| o);
            move_body(body, held, world, *dt, time, &Others::NONE);
            steps += 1;
            if steps % self.lidar_every == 0 {
                scan(body, world, &Others::NONE, steps as f64 * *dt);
            }
            if steps % self.trajectory_every == 0 {
                body.sample_trajectory();
            }
        }
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

/// One step of `b` at `time` among `others`: speeds towards the command,
/// the move as far as its footprint fits, odometry, battery, what it
/// carries (`held`). A robot it newly ran into (its index), which must be
/// told.
pub(super) fn move_body(
    b: &mut Body,
    held: Option<&mut ObjectState>,
    world: &World,
    dt: f64,
    time: f64,
    others: &Others,
) -> Option<usize> {
    let (mut cmd_v, mut cmd_w) = b.cmd;
    if b.battery <= 0.0 {
        cmd_v = 0.0;
        cmd_w = 0.0;
    }
    let approach =
        |cur: f64, target: f64, max_step: f64| cur + (target - cur).clamp(-max_step, max_step);
    b.v = approach(b.v, cmd_v, b.config.max_linear_accel * dt);
    b.w = approach(b.w, cmd_w, b.config.max_angular_accel * dt);
    let (v, w, pose) = (b.v, b.w, b.pose);

    let p0 = P2::new(pose.x, pose.y);
    let heading_mid = pose.theta + w * dt / 2.0;
    let p1 = p0 + V2::new(heading_mid.cos(), heading_mid.sin()) * (v * dt);
    let mut moved_to = p1;
    let mut hit = None;
    if v != 0.0 {
        let radius = b.config.radius;
        if let Some(what) = sweep_hits(radius, world, others, p0, p1) {
            // Move as far as the footprint fits (bisection), then stop.
            let (mut ok, mut bad) = (0.0, 1.0);
            for _ in 0..12 {
                let mid = (ok + bad) / 2.0;
                if sweep_hits(radius, world, others, p0, p0 + (p1 - p0) * mid).is_some() {
                    bad = mid;
                } else {
                    ok = mid;
                }
            }
            moved_to = p0 + (p1 - p0) * ok;
            hit = Some(what);
            b.v = 0.0;
        }
    }
    // Signed distance along the heading (negative when reversing).
    let ds = (moved_to - p0).dot(&V2::new(heading_mid.cos(), heading_mid.sin()));
    let dtheta = w * dt;
    b.pose = Pose2::new(moved_to.x, moved_to.y, wrap_angle(pose.theta + dtheta));
    b.distance_driven += ds.abs();
    let new_contact = !b.in_contact;
    b.bumped |= hit.is_some();
    b.in_contact = hit.is_some();
    let mut run_into = None;
    if let (Some(what), true) = (hit, new_contact) {
        run_into = note_collision(b, what, moved_to, time, others);
    }

    // Odometry integrates what the wheels did, with noise and drift.
    let noise = b.config.odom_noise;
    let ds_m = ds * (1.0 + b.rng.normal(noise));
    let dth_m = dtheta * (1.0 + b.rng.normal(noise)) + b.config.odom_drift * dt;
    let om = b.odom.theta + dth_m / 2.0;
    b.odom = Pose2::new(
        b.odom.x + ds_m * om.cos(),
        b.odom.y + ds_m * om.sin(),
        wrap_angle(b.odom.theta + dth_m),
    );

    update_battery(b, world, dt, time, ds.abs(), moved_to);
    if let Some(o) = held {
        o.at = b.carry_point();
    }
    run_into
}

/// `b` has just run into `what` at `at`: counted, and told as its event;
/// the robot it ran into, if one, is returned to be told too.
fn note_collision(b: &mut Body, what: Hit, at: P2, time: f64, others: &Others) -> Option<usize> {
    let with = match what {
        Hit::World => String::new(),
        Hit::Robot(j) => {
            let name = others
                .each()
                .find(|(k, _)| *k == j)
                .map(|(_, o)| o.name.as_str());
            format!(" with robot {}", name.unwrap_or("?"))
        }
    };
    b.collisions += 1;
    b.push_event(
        time,
        format!("collision at ({:.2}, {:.2}){with}", at.x, at.y),
    );
    match what {
        Hit::Robot(j) => {
            b.robot_collisions += 1;
            Some(j)
        }
        Hit::World => None,
    }
}

/// What a footprint of `radius`, swept from `a` to `b`, would come closer
/// than its radius to: a wall or obstacle, or another robot.
fn sweep_hits(radius: f64, world: &World, others: &Others, a: P2, b: P2) -> Option<Hit> {
    let path = Segment::new(a, b);
    let start_clearance = |s: &Segment| s.distance_to(a);
    let mut hit = false;
    world.grid.near_sweep(a, b, radius, |s| {
        // Touching at the start is allowed as long as the move does not go deeper.
        if !hit && path.distance_to_segment(s) < radius - 1e-9 {
            let d0 = start_clearance(s);
            hit = d0 >= radius - 1e-9 || s.distance_to(b) < d0;
        }
    });
    if hit {
        return Some(Hit::World);
    }
    others.each().find_map(|(j, other)| {
        let c = other.centre();
        let reach = radius + other.config.radius;
        let d0 = (c - a).norm();
        // The same rule as for walls: deeper into contact is a hit.
        (path.distance_to(c) < reach - 1e-9 && (d0 >= reach - 1e-9 || (c - b).norm() < d0))
            .then_some(Hit::Robot(j))
    })
}

/// The battery after a step that drove `driven` metres to `at`: charging
/// while standing in a charger zone, draining otherwise; its events.
fn update_battery(b: &mut Body, world: &World, dt: f64, time: f64, driven: f64, at: P2) {
    let charger = world
        .zones
        .iter()
        .find(|z| z.charger && z.contains(at))
        .map(|z| z.name.as_str());
    let cfg = &b.config;
    let was_docked = b.docked;
    // A charger keeps a robot that stands on it full; events mark changes only.
    b.docked = charger.is_some() && b.v.abs() < 1e-3 && b.w.abs() < 1e-3;
    let before = b.battery;
    if b.docked {
        b.battery = (b.battery + cfg.battery_charge_rate * dt).min(100.0);
    } else {
        b.battery =
            (b.battery - cfg.battery_idle_drain * dt - cfg.battery_drain_per_m * driven).max(0.0);
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
        (true, true) if before < 100.0 && b.battery >= 100.0 => Some("battery full (100%)".into()),
        (true, false) => Some(format!("stopped charging ({:.0}%)", b.battery)),
        _ => None,
    };
    if let Some(e) = event {
        b.push_event(time, e);
    }
    let low = b.config.battery_low;
    if before >= low && b.battery < low && !b.low_reported {
        b.low_reported = true;
        let text = format!("battery low ({:.0}%)", b.battery);
        b.push_event(time, text);
    }
    if b.battery >= low + 5.0 {
        b.low_reported = false;
    }
    if before > 0.0 && b.battery <= 0.0 {
        b.push_event(
            time,
            "battery empty: the robot cannot move until it is charged".into(),
        );
    }
}

/// Casts `b`'s lidar from its true pose at `time`: walls, obstacles and
/// `others`, with the lidar's noise (from `b`'s own stream).
pub(super) fn scan(b: &mut Body, world: &World, others: &Others, time: f64) {
    let lidar = &world.lidar;
    let origin = b.centre();
    let (s, c) = b.pose.theta.sin_cos();
    b.world_dirs.clear();
    b.world_dirs.extend(
        b.ray_dirs
            .iter()
            .map(|&(rc, rs)| (rc * c - rs * s, rc * s + rs * c)),
    );
    let full_circle = (lidar.fov - std::f64::consts::TAU).abs() < 1e-9;
    let fan = RayFan {
        dirs: &b.world_dirs,
        first: b.pose.theta + b.scan.angle_min,
        increment: b.scan.angle_increment,
        full_circle,
    };
    world
        .grid
        .scan(origin, &fan, lidar.range_max, &mut b.scan.ranges);
    for (_, other) in others.each() {
        let (centre, radius) = (other.centre(), other.config.radius);
        // A robot out of the lidar's range shows in no ray.
        if (centre - origin).norm() - radius > lidar.range_max {
            continue;
        }
        for (range, &(dx, dy)) in b.scan.ranges.iter_mut().zip(&b.world_dirs) {
            if let Some(t) = ray_circle(origin, V2::new(dx, dy), centre, radius) {
                if t < *range && t <= lidar.range_max {
                    *range = t;
                }
            }
        }
    }
    if lidar.noise > 0.0 || lidar.range_min > 0.0 {
        for r in b.scan.ranges.iter_mut().filter(|r| r.is_finite()) {
            *r = (*r + b.rng.normal(lidar.noise)).clamp(lidar.range_min, lidar.range_max);
        }
    }
    b.scan.pose = b.odom;
    b.scan.stamp = time;
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
