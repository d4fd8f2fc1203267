//! Motion control: the controller every motion skill shares ([`Mover`]), path
//! following with re-planning ([`navigate`]), coming to rest, and where to
//! stand for a zone or an object.

use crate::backend::{Pose2, RobotBackend};
use crate::cancel::CancelToken;
use crate::error::{ErrorKind, SkillError};
use crate::geometry::{distance, point_in_polygon, polygon_edges, wrap_angle, Segment, P2};
use crate::nav::{GridMap, PlanError};
use crate::reach::{self, Footprint, PLAN_CLEARANCE};
use crate::registry::CallContext;
use std::time::Duration;
/// Control period of the motion skills, seconds.
pub(super) const CONTROL_DT: f64 = 0.05;
/// How close to an intermediate waypoint counts as passing it, metres.
const WAYPOINT_TOLERANCE: f64 = 0.15;
/// Slowest turn the heading controller commands, rad/s (so the last bit converges quickly).
const MIN_TURN_SPEED: f64 = 0.15;
/// Free space `move_to` keeps ahead of the footprint before it stops and re-plans, metres.
const OBSTACLE_MARGIN: f64 = 0.12;
/// How far from a corner of furniture the robot faces when it stands beside it, metres.
const CORNER_MARGIN: f64 = 0.12;
/// Re-plans `move_to` attempts around obstacles its map did not show.
const MAX_REPLANS: usize = 8;
pub(super) fn whereabouts(robot: &dyn RobotBackend) -> String {
    match robot.pose() {
        Ok(p) => p.whereabouts(),
        Err(_) => "the robot's position is unknown".into(),
    }
}

/// Angular speed to close a heading error: proportional, limited, never too slow.
pub(super) fn turn_speed(err: f64, max_w: f64) -> f64 {
    (3.0 * err)
        .clamp(-max_w, max_w)
        .abs()
        .max(MIN_TURN_SPEED.min(max_w))
        * err.signum()
}

/// Motion helpers shared by the motion skills.
pub(super) struct Mover<'a> {
    pub(super) robot: &'a dyn RobotBackend,
    pub(super) cancel: &'a CancelToken,
    pub(super) deadline: f64,
    pub(super) what: String,
}

impl Mover<'_> {
    pub(super) fn step(&self, linear: f64, angular: f64) -> Result<(), SkillError> {
        self.step_for(linear, angular, CONTROL_DT)
    }

    /// Commands the velocities and lets `dt` seconds pass; stops the robot
    /// and says so on a bump, a cancellation or the deadline.
    pub(super) fn step_for(&self, linear: f64, angular: f64, dt: f64) -> Result<(), SkillError> {
        self.robot.command(linear, angular)?;
        let result = self.robot.advance(Duration::from_secs_f64(dt), self.cancel);
        if result.is_err() {
            self.robot.stop();
        }
        result?;
        if self.robot.take_bump() {
            self.robot.stop();
            return Err(SkillError::new(
                ErrorKind::Blocked,
                format!(
                    "{}: the robot bumped into something and stopped; {}",
                    self.what,
                    whereabouts(self.robot)
                ),
            ));
        }
        if self.robot.time() > self.deadline {
            self.robot.stop();
            return Err(SkillError::new(
                ErrorKind::SkillTimeout,
                format!(
                    "{} did not finish within its time limit; {}",
                    self.what,
                    whereabouts(self.robot)
                ),
            ));
        }
        Ok(())
    }

    /// Commands zero and lets time pass until the robot is at rest (by its
    /// measured velocities), so the pose a motion skill returns is where the
    /// robot stays. Gives up with `RobotError` if it is still moving after
    /// twice its braking time plus a second.
    pub(super) fn come_to_rest(&self) -> Result<Pose2, SkillError> {
        let limits = self.robot.limits();
        let rest = self.robot.tolerances();
        let give_up = self.robot.time() + 2.0 * limits.max_linear / limits.max_linear_accel + 1.0;
        loop {
            self.robot.command(0.0, 0.0)?;
            let (v, w) = self.robot.velocity();
            if v.abs() <= rest.rest_linear && w.abs() <= rest.rest_angular {
                // A touch while braking stopped the robot too: nothing to report.
                self.robot.take_bump();
                return self.robot.pose();
            }
            if self.robot.time() > give_up {
                self.robot.stop();
                return Err(SkillError::new(
                    ErrorKind::Robot,
                    format!(
                        "{}: the robot was told to stop but still moves ({v:.2} m/s, {w:.2} rad/s); {}",
                        self.what,
                        whereabouts(self.robot)
                    ),
                ));
            }
            let step = self
                .robot
                .advance(Duration::from_secs_f64(CONTROL_DT), self.cancel);
            if step.is_err() {
                self.robot.stop();
            }
            step?;
        }
    }

    /// Turns in place to an absolute heading.
    fn turn_to(&self, heading: f64) -> Result<(), SkillError> {
        let max_w = self.robot.limits().max_angular;
        loop {
            let err = wrap_angle(heading - self.robot.pose()?.theta);
            if err.abs() < self.robot.tolerances().heading {
                self.robot.command(0.0, 0.0)?;
                return Ok(());
            }
            self.step(0.0, turn_speed(err, max_w))?;
        }
    }

    /// Whether the lidar sees something the footprint would touch on the
    /// path ahead (`ahead`: from the robot through the next waypoints), up to
    /// `margin` plus the distance needed to brake from `speed`. Obstacles the
    /// plan already avoids sit further from the path than the footprint, so
    /// only new ones count. Returns the scan's hit points (world frame).
    fn obstacle_ahead(&self, ahead: &[P2], margin: f64, speed: f64) -> Option<Vec<P2>> {
        let scan = self.robot.lidar()?.scan().ok()?;
        let limits = self.robot.limits();
        let radius = limits.radius;
        // Braking distance, plus the way covered while the scan ages and the command takes effect.
        let mut budget = limits.radius
            + margin
            + speed * speed / (2.0 * limits.max_linear_accel)
            + speed * 3.0 * CONTROL_DT;
        let mut segments = Vec::new();
        for pair in ahead.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let len = distance(a, b);
            if len >= budget {
                segments.push(Segment::new(a, a + (b - a) * (budget / len)));
                break;
            }
            segments.push(Segment::new(a, b));
            budget -= len;
        }
        let hits: Vec<P2> = scan
            .ranges
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_finite())
            .map(|(i, &r)| {
                let (s, c) =
                    (scan.pose.theta + scan.angle_min + i as f64 * scan.angle_increment).sin_cos();
                P2::new(scan.pose.x + r * c, scan.pose.y + r * s)
            })
            .collect();
        // A hit blocks the way when the path would bring the footprint
        // against it, closer than the robot is now: standing close beside
        // furniture (to reach onto it), the robot may still drive away or
        // along it.
        let here = ahead[0];
        let blocked = hits.iter().any(|&h| {
            let closest = segments
                .iter()
                .map(|s| s.distance_to(h))
                .fold(f64::INFINITY, f64::min);
            closest < radius + 0.01 && closest < distance(here, h) - 1e-3
        });
        blocked.then_some(hits)
    }

    /// Follows a planned path. Returns `Err(hits)` when the lidar finds the
    /// way blocked, so the caller can re-plan around what it saw.
    fn follow(&self, path: &[P2]) -> Result<Result<(), Vec<P2>>, SkillError> {
        let limits = self.robot.limits();
        for (i, &goal) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            let tolerance = if last {
                self.robot.tolerances().goal
            } else {
                WAYPOINT_TOLERANCE
            };
            loop {
                let p = self.robot.pose()?;
                let dist = distance(p.point(), goal);
                if dist < tolerance {
                    break;
                }
                let err = wrap_angle((goal.y - p.y).atan2(goal.x - p.x) - p.theta);
                let (v, w) = if err.abs() > 0.6 {
                    (
                        0.0,
                        (3.0 * err).clamp(-limits.max_angular, limits.max_angular),
                    )
                } else {
                    let remaining = dist
                        + path[i..]
                            .windows(2)
                            .map(|s| distance(s[0], s[1]))
                            .sum::<f64>();
                    let v = (1.2 * remaining).min(limits.max_linear) * err.cos();
                    (
                        v.max(0.05),
                        (3.0 * err).clamp(-limits.max_angular, limits.max_angular),
                    )
                };
                if v > 0.0 {
                    let (speed, _) = self.robot.velocity();
                    let mut ahead = vec![p.point()];
                    ahead.extend_from_slice(&path[i..]);
                    if let Some(hits) = self.obstacle_ahead(&ahead, OBSTACLE_MARGIN, speed.max(v)) {
                        self.robot.command(0.0, 0.0)?;
                        return Ok(Err(hits));
                    }
                }
                self.step(v, w)?;
            }
        }
        self.robot.command(0.0, 0.0)?;
        Ok(Ok(()))
    }
}

fn plan_error(e: PlanError, robot: &dyn RobotBackend) -> SkillError {
    SkillError::new(
        ErrorKind::Unreachable,
        format!("{e}; {}", whereabouts(robot)),
    )
}

/// Plans and drives to (x, y), re-planning around obstacles the lidar finds.
pub(super) fn navigate(
    robot: &dyn RobotBackend,
    ctx: &CallContext,
    goal: P2,
    theta: Option<f64>,
    timeout: f64,
    what: String,
) -> Result<Pose2, SkillError> {
    let mover = Mover {
        robot,
        cancel: &ctx.cancel,
        deadline: robot.time() + timeout,
        what,
    };
    let mut seen: Vec<P2> = Vec::new();
    let area = robot.allowed_area();
    if let Some(area) = &area {
        if !point_in_polygon(goal, area) {
            return Err(SkillError::new(
                ErrorKind::Unreachable,
                format!(
                    "{}: the goal is outside the robot's geofence (the area its profile allows: {}); {}",
                    mover.what,
                    area.iter().map(|p| format!("({:.1}, {:.1})", p.x, p.y)).collect::<Vec<_>>().join(", "),
                    whereabouts(robot)
                ),
            ));
        }
    }
    // A robot with its own navigation stack (Nav2) drives there itself.
    if let Some(nav) = robot.navigation() {
        nav.navigate(goal, theta, timeout, ctx).map_err(|mut e| {
            e.message = format!("{}: {}", mover.what, e.message);
            e
        })?;
        return mover.come_to_rest();
    }
    let base = known_map(robot);
    for attempt in 0..=MAX_REPLANS {
        let start = robot.pose()?;
        let path = match &base {
            Some(map) => {
                let mut map: GridMap = map.clone();
                for &hit in &seen {
                    map.mark_point(hit);
                }
                plan_with_stances(robot, &map, start.point(), goal)?
            }
            None => vec![goal],
        };
        match mover.follow(&path)? {
            Ok(()) => {
                if let Some(theta) = theta {
                    mover.turn_to(theta)?;
                }
                return mover.come_to_rest();
            }
            Err(hits) => {
                if base.is_none() || attempt == MAX_REPLANS {
                    robot.stop();
                    return Err(SkillError::new(
                        ErrorKind::Blocked,
                        format!(
                            "{}: an obstacle blocks the way and no way around it was found; {}",
                            mover.what,
                            whereabouts(robot)
                        ),
                    ));
                }
                seen.extend(hits);
            }
        }
    }
    unreachable!("the loop returns on its last attempt")
}

/// The robot's map of known obstacles, where outside its geofence counts as
/// occupied (so paths and goals keep the footprint inside it).
fn known_map(robot: &dyn RobotBackend) -> Option<GridMap> {
    let mut map = robot.map()?;
    if let Some(area) = robot.allowed_area() {
        map.mark_outside(&area);
    }
    Some(map)
}

/// The known map inflated by the footprint and clearance: a free cell is a
/// place the robot's centre can be.
fn fit_map(robot: &dyn RobotBackend) -> Option<GridMap> {
    known_map(robot).map(|m| m.inflated(robot.limits().radius + PLAN_CLEARANCE))
}

/// Where to drive for a zone: its centre, or when the robot does not fit
/// there (furniture), the free points of the zone nearest the centre, a few
/// spread out, nearest first.
pub(super) fn zone_goals(robot: &dyn RobotBackend, polygon: &[P2], centre: P2) -> Vec<P2> {
    let Some(map) = fit_map(robot) else {
        return vec![centre];
    };
    if map.is_free_at(centre) {
        return vec![centre];
    }
    let mut points: Vec<P2> = map
        .free_points()
        .filter(|&p| point_in_polygon(p, polygon))
        .collect();
    points.sort_by(|a, b| distance(*a, centre).total_cmp(&distance(*b, centre)));
    spread(points, 0.5, 3)
}

/// Where to stand to reach an object at `at`: places within the gripper's
/// reach where the robot fits and which it can join from the planner's free
/// space ([`reach`]), the comfortable distance first and the side the robot
/// comes from first, a few spread out.
pub(super) fn stand_points(robot: &dyn RobotBackend, at: P2) -> Result<Vec<P2>, SkillError> {
    let limits = robot.limits();
    let p = robot.pose()?;
    let comfortable = (limits.reach * 0.7).max(limits.radius + 0.05);
    let base = (p.y - at.y).atan2(p.x - at.x);
    let Some(map) = known_map(robot) else {
        // Nothing known to stand clear of: come up to it from where the robot is.
        return Ok(vec![P2::new(
            at.x + comfortable * base.cos(),
            at.y + comfortable * base.sin(),
        )]);
    };
    let surfaces = robot.surfaces();
    let footprint = Footprint::new(&map, &surfaces, limits.radius);
    let goal_tolerance = robot.tolerances().goal;
    let mut found = reach::stances(&footprint, &limits, goal_tolerance, at);
    // By distance in 5 cm steps from the comfortable one, then by how far
    // round the object from the robot's side.
    let key = |q: &P2| {
        let ring = ((distance(*q, at) - comfortable).abs() / 0.05).round() as i64;
        let turn = wrap_angle((q.y - at.y).atan2(q.x - at.x) - base).abs();
        (ring, turn)
    };
    found.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let inflated = map.inflated(limits.radius + PLAN_CLEARANCE);
    let joinable = found
        .into_iter()
        .filter(|&q| reach::join_point(&inflated, &footprint, q).is_some());
    Ok(spread(joinable, 0.25, 4))
}

/// The path from `start` to `goal` on the inflated `map`; a goal (or start)
/// off its free space, as a stance beside furniture is, is joined on a
/// straight line that keeps the footprint clear ([`reach::approach`]).
fn plan_with_stances(
    robot: &dyn RobotBackend,
    map: &GridMap,
    start: P2,
    goal: P2,
) -> Result<Vec<P2>, SkillError> {
    let radius = robot.limits().radius;
    let inflated = map.inflated(radius + PLAN_CLEARANCE);
    let free = |q: P2| inflated.is_free_at(q);
    if free(goal) && free(start) {
        return inflated.plan(start, goal).map_err(|e| plan_error(e, robot));
    }
    let surfaces = robot.surfaces();
    let footprint = Footprint::new(map, &surfaces, radius);
    let joined = |q: P2| reach::join_point(&inflated, &footprint, q);
    let (Some(from), Some(to)) = (joined(start), joined(goal)) else {
        // Not joinable: the planner says why.
        return inflated.plan(start, goal).map_err(|e| plan_error(e, robot));
    };
    let mut path = Vec::new();
    if from != start {
        path.push(from);
    }
    if distance(from, to) > 1e-9 {
        path.extend(inflated.plan(from, to).map_err(|e| plan_error(e, robot))?);
    }
    if to != goal {
        path.push(goal);
    }
    Ok(path)
}

/// A place to stand and the heading to face there (radians).
pub(super) type Stance = (P2, f64);

/// Where to stand beside furniture: free points just clear of its outline,
/// nearest the robot first, each with the heading that faces the outline.
pub(super) fn surface_goals(
    robot: &dyn RobotBackend,
    polygon: &[P2],
) -> Result<Vec<Stance>, SkillError> {
    let limits = robot.limits();
    let p = robot.pose()?;
    let Some(map) = fit_map(robot) else {
        return Ok(Vec::new());
    };
    let nearest_on_outline = |q: P2| {
        polygon_edges(polygon)
            .map(|edge| edge.closest_point(q))
            .min_by(|a, b| distance(*a, q).total_cmp(&distance(*b, q)))
            .unwrap_or(q)
    };
    // Close enough that place() reaches well onto the top.
    let band = (limits.reach - 0.06).max(limits.radius + PLAN_CLEARANCE + map.resolution);
    let mut points: Vec<(Stance, f64)> = map
        .free_points()
        .filter_map(|q| {
            let edge = nearest_on_outline(q);
            let d = distance(edge, q);
            // Facing an edge, not a corner, so what is put down lands well on the top.
            let off_corner = polygon.iter().all(|&v| distance(v, edge) >= CORNER_MARGIN);
            (d <= band && off_corner && !point_in_polygon(q, polygon))
                .then(|| ((q, (edge.y - q.y).atan2(edge.x - q.x)), d))
        })
        .collect();
    if points.is_empty() {
        return Err(SkillError::new(
            ErrorKind::Unreachable,
            format!(
                "there is no free place within the gripper's reach ({:.2} m) of that furniture's edge; {}",
                limits.reach,
                whereabouts(robot)
            ),
        ));
    }
    // Nearest the furniture first (a cell's width counts as the same), then nearest the robot.
    let ring = |d: f64| (d / map.resolution).round() as i64;
    points.sort_by(|a, b| {
        ring(a.1)
            .cmp(&ring(b.1))
            .then(distance(a.0 .0, p.point()).total_cmp(&distance(b.0 .0, p.point())))
    });
    let points: Vec<Stance> = points.into_iter().map(|(s, _)| s).collect();
    let kept = spread(points.iter().map(|g| g.0), 0.3, 4);
    Ok(points.into_iter().filter(|g| kept.contains(&g.0)).collect())
}

/// The first `n` points, skipping any closer than `gap` to one already kept.
fn spread(points: impl IntoIterator<Item = P2>, gap: f64, n: usize) -> Vec<P2> {
    let mut kept: Vec<P2> = Vec::new();
    for p in points {
        if kept.iter().all(|&k| distance(k, p) >= gap) {
            kept.push(p);
            if kept.len() == n {
                break;
            }
        }
    }
    kept
}
