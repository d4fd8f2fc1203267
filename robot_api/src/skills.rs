//! The skills an agent composes, written once against [`RobotBackend`]:
//! motion (`move_to`, `go_to`, `drive`, `rotate`, `stop`), sensing
//! (`get_pose`, `get_scan`, `get_battery`, `detect_objects`, `list_zones`,
//! `get_zone`), manipulation (`pick`, `place`, `place_at`, `holding`) and
//! `wait`, `say`. Their docstrings are what the LLM reads: units and one
//! example each.

use std::sync::Arc;
use std::time::Duration;

use crate::backend::{Detection, Pose2, RobotBackend, ZoneInfo};
use crate::cancel::CancelToken;
use crate::error::{ErrorKind, SkillError};
use crate::nav::{point_segment_distance, wrap_angle, GridMap, PlanError};
use crate::registry::SkillSet;
use crate::spec::{ParamType, RecordType, SkillSpec};
use crate::value::{Record, Value};

/// Control period of the motion skills, seconds.
const CONTROL_DT: f64 = 0.05;
/// How close to an intermediate waypoint counts as passing it, metres.
const WAYPOINT_TOLERANCE: f64 = 0.15;
/// Slowest turn the heading controller commands, rad/s (so the last bit converges quickly).
const MIN_TURN_SPEED: f64 = 0.15;
/// Free space `move_to` keeps ahead of the footprint before it stops and re-plans, metres.
const OBSTACLE_MARGIN: f64 = 0.12;
/// Re-plans `move_to` attempts around obstacles its map did not show.
const MAX_REPLANS: usize = 8;

fn optional_float() -> ParamType {
    ParamType::Optional(Box::new(ParamType::Float))
}

fn float(v: f64) -> Value {
    Value::Float(v)
}

fn record(name: &str, fields: Vec<(&str, Value)>) -> Value {
    Value::Record(Record {
        type_name: name.into(),
        fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    })
}

/// A `Pose` record.
pub fn pose_value(p: Pose2) -> Value {
    record(
        "Pose",
        vec![
            ("x", float(round(p.x))),
            ("y", float(round(p.y))),
            ("theta", float(round(p.theta))),
        ],
    )
}

/// Millimetre / milliradian precision: readable reprs, nothing lost that matters.
fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn object_value(d: &Detection) -> Value {
    record(
        "Object",
        vec![
            ("name", Value::Str(d.name.clone())),
            ("kind", Value::Str(d.kind.clone())),
            ("colour", Value::Str(d.colour.clone())),
            ("x", float(round(d.x))),
            ("y", float(round(d.y))),
            ("size", float(d.size)),
            ("distance", float(round(d.distance))),
            ("bearing", float(round(d.bearing))),
        ],
    )
}

fn zone_value(z: &ZoneInfo) -> Value {
    record(
        "Zone",
        vec![
            ("name", Value::Str(z.name.clone())),
            ("x", float(round(z.centre.0))),
            ("y", float(round(z.centre.1))),
            (
                "polygon",
                Value::List(
                    z.polygon
                        .iter()
                        .map(|p| Value::List(vec![float(p.0), float(p.1)]))
                        .collect(),
                ),
            ),
            ("charger", Value::Bool(z.charger)),
        ],
    )
}

/// Where the robot is, for error messages: "the robot is at (1.20, 3.40), heading 0.50 rad".
fn whereabouts(robot: &dyn RobotBackend) -> String {
    match robot.pose() {
        Ok(p) => p.whereabouts(),
        Err(_) => "the robot's position is unknown".into(),
    }
}

/// Angular speed to close a heading error: proportional, limited, never too slow.
fn turn_speed(err: f64, max_w: f64) -> f64 {
    (3.0 * err)
        .clamp(-max_w, max_w)
        .abs()
        .max(MIN_TURN_SPEED.min(max_w))
        * err.signum()
}

/// Motion helpers shared by the motion skills.
struct Mover<'a> {
    robot: &'a dyn RobotBackend,
    cancel: &'a CancelToken,
    deadline: f64,
    what: String,
}

impl Mover<'_> {
    fn step(&self, linear: f64, angular: f64) -> Result<(), SkillError> {
        self.step_for(linear, angular, CONTROL_DT)
    }

    /// Commands the velocities and lets `dt` seconds pass; stops the robot
    /// and says so on a bump, a cancellation or the deadline.
    fn step_for(&self, linear: f64, angular: f64, dt: f64) -> Result<(), SkillError> {
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
    fn obstacle_ahead(
        &self,
        ahead: &[(f64, f64)],
        margin: f64,
        speed: f64,
    ) -> Option<Vec<(f64, f64)>> {
        if !self.robot.capabilities().lidar {
            return None;
        }
        let scan = self.robot.scan().ok()?;
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
            let len = (b.0 - a.0).hypot(b.1 - a.1);
            if len >= budget {
                let t = budget / len;
                segments.push((a, (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)));
                break;
            }
            segments.push((a, b));
            budget -= len;
        }
        let hits: Vec<(f64, f64)> = scan
            .ranges
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_finite())
            .map(|(i, &r)| {
                let (s, c) =
                    (scan.pose.theta + scan.angle_min + i as f64 * scan.angle_increment).sin_cos();
                (scan.pose.x + r * c, scan.pose.y + r * s)
            })
            .collect();
        let blocked = hits.iter().any(|&h| {
            segments
                .iter()
                .any(|&(a, b)| point_segment_distance(h, a, b) < radius + 0.01)
        });
        blocked.then_some(hits)
    }

    /// Follows a planned path. Returns `Err(hits)` when the lidar finds the
    /// way blocked, so the caller can re-plan around what it saw.
    fn follow(&self, path: &[(f64, f64)]) -> Result<Result<(), Vec<(f64, f64)>>, SkillError> {
        let limits = self.robot.limits();
        for (i, &(gx, gy)) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            let tolerance = if last {
                self.robot.tolerances().goal
            } else {
                WAYPOINT_TOLERANCE
            };
            loop {
                let p = self.robot.pose()?;
                let dist = p.distance_to(gx, gy);
                if dist < tolerance {
                    break;
                }
                let err = wrap_angle((gy - p.y).atan2(gx - p.x) - p.theta);
                let (v, w) = if err.abs() > 0.6 {
                    (
                        0.0,
                        (3.0 * err).clamp(-limits.max_angular, limits.max_angular),
                    )
                } else {
                    let remaining = dist
                        + path[i..]
                            .windows(2)
                            .map(|s| (s[1].0 - s[0].0).hypot(s[1].1 - s[0].1))
                            .sum::<f64>();
                    let v = (1.2 * remaining).min(limits.max_linear) * err.cos();
                    (
                        v.max(0.05),
                        (3.0 * err).clamp(-limits.max_angular, limits.max_angular),
                    )
                };
                if v > 0.0 {
                    let (speed, _) = self.robot.velocity();
                    let mut ahead = vec![(p.x, p.y)];
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
fn navigate(
    robot: &dyn RobotBackend,
    cancel: &CancelToken,
    goal: (f64, f64),
    theta: Option<f64>,
    timeout: f64,
    what: String,
) -> Result<Pose2, SkillError> {
    let mover = Mover {
        robot,
        cancel,
        deadline: robot.time() + timeout,
        what,
    };
    let radius = robot.limits().radius;
    let mut seen: Vec<(f64, f64)> = Vec::new();
    let base = robot.map();
    for attempt in 0..=MAX_REPLANS {
        let start = robot.pose()?;
        let path = match &base {
            Some(map) => {
                let mut map: GridMap = map.clone();
                for &(x, y) in &seen {
                    map.mark_point(x, y);
                }
                // A little more than the radius, so the path keeps off the walls.
                map.inflated(radius + 0.05)
                    .plan((start.x, start.y), goal)
                    .map_err(|e| plan_error(e, robot))?
            }
            None => vec![goal],
        };
        match mover.follow(&path)? {
            Ok(()) => {
                if let Some(theta) = theta {
                    mover.turn_to(theta)?;
                }
                robot.command(0.0, 0.0)?;
                return robot.pose();
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

/// The skill set for a robot backend. Skills the robot lacks (no gripper, no
/// camera) are left out, so the LLM never sees them.
pub fn robot_skills(robot: Arc<dyn RobotBackend>) -> SkillSet {
    let caps = robot.capabilities();
    let limits = robot.limits();
    let mut set = SkillSet::new(robot.describe());
    set.add_record(
        RecordType::new("Pose", &["x", "y", "theta"], "A pose in the world frame: x, y in metres, theta (heading) in radians, counter-clockwise from +x.")
            .with_methods("    def distance_to(self, other):\n        \"\"\"Straight-line distance in metres to another Pose, Object or Zone.\"\"\"\n        return ((self.x - other.x) ** 2 + (self.y - other.y) ** 2) ** 0.5\n"),
    );
    set.add_record(RecordType::new("Zone", &["name", "x", "y", "polygon", "charger"], "A named area: its centre x, y (metres), outline polygon [[x, y], ...], and whether the robot charges there."));
    set.add_record(RecordType::new(
        "Scan",
        &["ranges", "angle_min", "angle_increment", "range_min", "range_max", "pose", "stamp"],
        "A lidar scan: ranges (metres, numpy array; inf where nothing was hit), ray i at angle angle_min + i * angle_increment (radians, robot frame, 0 = straight ahead, left positive), taken at pose (Pose) at time stamp (s).",
    ));
    set.add_record(RecordType::new(
        "Battery",
        &["percent", "charging"],
        "Battery charge in percent (0-100) and whether it is charging (on a dock).",
    ));
    if caps.camera {
        set.add_record(
            RecordType::new(
                "Object",
                &["name", "kind", "colour", "x", "y", "size", "distance", "bearing"],
                "An object the camera sees: name (use it with pick/go_to), kind, colour, world position x, y (metres), size (metres), distance (metres) and bearing (radians, left positive) from the robot.",
            )
            .with_methods("    def distance_to(self, other):\n        \"\"\"Straight-line distance in metres to a Pose, Object or Zone.\"\"\"\n        return ((self.x - other.x) ** 2 + (self.y - other.y) ** 2) ** 0.5\n"),
        );
    }

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "move_to",
            "Drive to (x, y) in metres, planning a path around known obstacles and re-planning around new ones the lidar sees. If theta (radians) is given, turn to that heading at the end. Gives up after timeout seconds.\n\nExample: move_to(3.0, 1.5, theta=1.57) -> Pose(x=3.0, y=1.5, theta=1.57)",
        )
        .param("x", ParamType::Float)
        .param("y", ParamType::Float)
        .param_default("theta", optional_float(), Value::None)
        .param_default("timeout", ParamType::Float, 120.0)
        .returns("Pose")
        .raises(ErrorKind::Unreachable)
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::SkillTimeout)
        .raises(ErrorKind::BatteryEmpty),
        move |args, ctx| {
            let (x, y) = (args.f64("x").unwrap_or(0.0), args.f64("y").unwrap_or(0.0));
            let timeout = positive(args.f64("timeout"), "move_to", "timeout")?;
            let theta = args.f64("theta");
            let what = format!("move_to({x:.2}, {y:.2})");
            navigate(&*r, &ctx.cancel, (x, y), theta, timeout, what).map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "go_to",
            "Drive to a named zone (its centre) or object (stopping within gripper reach, facing it). Names come from list_zones() and detect_objects().\n\nExample: go_to(\"dock\") -> Pose(x=0.5, y=0.5, theta=0.0)",
        )
        .param("name", ParamType::Str)
        .param_default("timeout", ParamType::Float, 120.0)
        .returns("Pose")
        .raises(ErrorKind::Unreachable)
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::SkillTimeout)
        .raises(ErrorKind::BatteryEmpty),
        move |args, ctx| {
            let name = args.str("name").unwrap_or_default();
            let timeout = positive(args.f64("timeout"), "go_to", "timeout")?;
            let what = format!("go_to({name:?})");
            if let Some(zone) = r.zones().into_iter().find(|z| z.name == name) {
                return navigate(&*r, &ctx.cancel, zone.centre, None, timeout, what).map(pose_value);
            }
            let Some((ox, oy)) = r.locate(name) else {
                let zones: Vec<String> = r.zones().into_iter().map(|z| z.name).collect();
                return Err(SkillError::invalid(format!(
                    "go_to(): no zone or object named {name:?}; zones: {}; objects: see detect_objects()",
                    zones.join(", ")
                )));
            };
            // Stop short of the object, on the side the robot comes from.
            let p = r.pose()?;
            let stand_off = (r.limits().reach * 0.7).max(r.limits().radius + 0.05);
            let base = (p.y - oy).atan2(p.x - ox);
            let candidates = [0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0, 4.0].map(|k: f64| {
                let a = base + k * std::f64::consts::FRAC_PI_4;
                (ox + stand_off * a.cos(), oy + stand_off * a.sin())
            });
            let mut last_err = None;
            for (gx, gy) in candidates {
                let heading = (oy - gy).atan2(ox - gx);
                match navigate(&*r, &ctx.cancel, (gx, gy), Some(heading), timeout, what.clone()) {
                    Ok(pose) => return Ok(pose_value(pose)),
                    Err(e) if e.kind == ErrorKind::Unreachable => last_err = Some(e),
                    Err(e) => return Err(e),
                }
            }
            Err(last_err.unwrap_or_else(|| SkillError::new(ErrorKind::Unreachable, format!("{what}: no place to stand next to it"))))
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "drive",
            &*format!("Drive with linear speed (m/s, negative backwards) and angular speed (rad/s, left positive) for duration seconds, then stop. Speeds are limited to {:.2} m/s and {:.2} rad/s. No path planning: stops with Blocked when it touches something.\n\nExample: drive(0.2, 0.0, 2.0)  # 0.4 m straight ahead", limits.max_linear, limits.max_angular),
        )
        .param("linear", ParamType::Float)
        .param("angular", ParamType::Float)
        .param("duration", ParamType::Float)
        .returns("Pose")
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::BatteryEmpty),
        move |args, ctx| {
            let duration = positive(args.f64("duration"), "drive", "duration")?;
            let (v, w) = (args.f64("linear").unwrap_or(0.0), args.f64("angular").unwrap_or(0.0));
            let mover = Mover { robot: &*r, cancel: &ctx.cancel, deadline: f64::INFINITY, what: format!("drive({v}, {w}, {duration})") };
            let end = r.time() + duration;
            while r.time() < end - 1e-9 {
                mover.step_for(v, w, (end - r.time()).min(CONTROL_DT))?;
            }
            r.command(0.0, 0.0)?;
            r.pose().map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "rotate",
            "Turn in place by angle radians (positive = counter-clockwise / left).\n\nExample: rotate(math.pi / 2)  # quarter turn left",
        )
        .param("angle", ParamType::Float)
        .param_default("timeout", ParamType::Float, 30.0)
        .returns("Pose")
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::SkillTimeout)
        .raises(ErrorKind::BatteryEmpty),
        move |args, ctx| {
            let angle = args.f64("angle").unwrap_or(0.0);
            let timeout = positive(args.f64("timeout"), "rotate", "timeout")?;
            let start = r.pose()?.theta;
            let mover = Mover { robot: &*r, cancel: &ctx.cancel, deadline: r.time() + timeout, what: format!("rotate({angle:.2})") };
            // Track the turn so far, so angles beyond pi turn the long way as asked.
            let mut turned = 0.0;
            let mut last = start;
            let max_w = r.limits().max_angular;
            let tolerance = r.tolerances().heading;
            while (angle - turned).abs() > tolerance {
                mover.step(0.0, turn_speed(angle - turned, max_w))?;
                let now = r.pose()?.theta;
                turned += wrap_angle(now - last);
                last = now;
            }
            r.command(0.0, 0.0)?;
            r.pose().map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new("stop", "Stop all motion now.\n\nExample: stop()"),
        move |_, _| {
            r.stop();
            Ok(Value::None)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new("get_pose", "The robot's pose: x, y in metres, theta in radians.\n\nExample: get_pose() -> Pose(x=1.0, y=2.0, theta=0.0)").returns("Pose"),
        move |_, _| r.pose().map(pose_value),
    );

    if caps.lidar {
        let r = robot.clone();
        set.add(
            SkillSpec::new(
                "get_scan",
                "The latest lidar scan. ranges is a numpy array in metres (inf: nothing in range).\n\nExample: s = get_scan(); s.ranges.min()  # nearest obstacle, metres",
            )
            .returns("Scan"),
            move |_, _| {
                let s = r.scan()?;
                Ok(record(
                    "Scan",
                    vec![
                        ("ranges", Value::FloatArray(s.ranges)),
                        ("angle_min", float(s.angle_min)),
                        ("angle_increment", float(s.angle_increment)),
                        ("range_min", float(s.range_min)),
                        ("range_max", float(s.range_max)),
                        ("pose", pose_value(s.pose)),
                        ("stamp", float(round(s.stamp))),
                    ],
                ))
            },
        );
    }

    if caps.battery {
        let r = robot.clone();
        set.add(
            SkillSpec::new("get_battery", "The battery: percent (0-100) and whether it is charging. It drains with motion and time and charges while the robot is in a charger zone (see list_zones()).\n\nExample: get_battery() -> Battery(percent=87.5, charging=False)").returns("Battery"),
            move |_, _| {
                let b = r.battery()?;
                Ok(record("Battery", vec![("percent", float((b.percent * 10.0).round() / 10.0)), ("charging", Value::Bool(b.charging))]))
            },
        );
    }

    if caps.camera {
        let r = robot.clone();
        set.add(
            SkillSpec::new("detect_objects", "The objects the camera sees now (in its field of view, in range, not hidden behind walls), nearest first.\n\nExample: [o.name for o in detect_objects() if o.colour == \"red\"] -> ['red_cube']").returns("list[Object]"),
            move |_, _| {
                let mut seen = r.detect()?;
                seen.sort_by(|a, b| a.distance.total_cmp(&b.distance));
                Ok(Value::List(seen.iter().map(object_value).collect()))
            },
        );
    }

    if caps.map_image {
        let r = robot.clone();
        set.add(
            SkillSpec::new("get_map_image", "A PNG picture (bytes) of the map within radius metres of the robot, north up: walls and obstacles (grey), zones (tinted), objects (coloured squares), the robot (orange, a line for its heading), its trajectory (blue) and latest lidar hits (red). For looking with a vision model, or saving: open('map.png', 'wb').write(get_map_image()).\n\nExample: png = get_map_image(3.0)")
                .param_default("radius", ParamType::Float, 4.0)
                .returns("bytes"),
            move |args, _| {
                let radius = args.f64("radius").unwrap_or(4.0);
                if !(0.5..=50.0).contains(&radius) {
                    return Err(SkillError::invalid(format!("get_map_image(): radius must be between 0.5 and 50 metres, got {radius}")));
                }
                r.map_image(radius).map(Value::Bytes).ok_or_else(|| SkillError::new(ErrorKind::Robot, "this robot cannot draw its map"))
            },
        );
    }

    let r = robot.clone();
    set.add(
        SkillSpec::new("list_zones", "All named zones of the world.\n\nExample: [z.name for z in list_zones()] -> ['dock', 'blue_zone']").returns("list[Zone]"),
        move |_, _| Ok(Value::List(r.zones().iter().map(zone_value).collect())),
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new("get_zone", "The zone called name.\n\nExample: get_zone(\"dock\") -> Zone(name='dock', x=0.5, y=0.5, ...)").param("name", ParamType::Str).returns("Zone"),
        move |args, _| {
            let name = args.str("name").unwrap_or_default();
            let zones = r.zones();
            zones.iter().find(|z| z.name == name).map(zone_value).ok_or_else(|| {
                let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
                SkillError::invalid(format!("get_zone(): no zone named {name:?}; zones are: {}", names.join(", ")))
            })
        },
    );

    if caps.gripper {
        let r = robot.clone();
        set.add(
            SkillSpec::new("pick", &*format!("Pick up the named object. It must be within {:.2} m of the robot's centre and in front of it; go_to(name) first.\n\nExample: go_to(\"red_cube\"); pick(\"red_cube\")", limits.reach))
                .param("name", ParamType::Str)
                .raises(ErrorKind::NotInReach)
                .raises(ErrorKind::GripperError),
            move |args, _| {
                r.pick(args.str("name").unwrap_or_default())?;
                Ok(Value::None)
            },
        );
        let r = robot.clone();
        set.add(
            SkillSpec::new("place", "Put the held object down just in front of the robot. Returns its name.\n\nExample: go_to(\"blue_zone\"); place() -> 'red_cube'").returns("str").raises(ErrorKind::GripperError),
            move |_, _| r.place(None).map(Value::Str),
        );
        let r = robot.clone();
        set.add(
            SkillSpec::new("place_at", &*format!("Put the held object down at (x, y), metres; the point must be within {:.2} m of the robot's centre. Returns its name.\n\nExample: place_at(4.2, 1.0) -> 'red_cube'", limits.reach))
                .param("x", ParamType::Float)
                .param("y", ParamType::Float)
                .returns("str")
                .raises(ErrorKind::NotInReach)
                .raises(ErrorKind::GripperError),
            move |args, _| r.place(Some((args.f64("x").unwrap_or(0.0), args.f64("y").unwrap_or(0.0)))).map(Value::Str),
        );
        let r = robot.clone();
        set.add(
            SkillSpec::new(
                "holding",
                "The name of the held object, or None.\n\nExample: holding() -> 'red_cube'",
            )
            .returns("str | None"),
            move |_, _| Ok(r.holding().map_or(Value::None, Value::Str)),
        );
    }

    let r = robot.clone();
    set.add(
        SkillSpec::new("wait", "Let seconds of robot time pass, standing still (the battery charges on a dock).\n\nExample: wait(5.0)").param("seconds", ParamType::Float),
        move |args, ctx| {
            let seconds = args.f64("seconds").unwrap_or(0.0);
            if !(0.0..=86_400.0).contains(&seconds) {
                return Err(SkillError::invalid(format!("wait(): seconds must be between 0 and 86400, got {seconds}")));
            }
            r.command(0.0, 0.0)?;
            r.advance(Duration::from_secs_f64(seconds), &ctx.cancel)?;
            Ok(Value::None)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new("say", "Tell the user something (kept in the transcript).\n\nExample: say(\"The red cube is in the blue zone.\")").param("text", ParamType::Str),
        move |args, _| {
            r.say(args.str("text").unwrap_or_default());
            Ok(Value::None)
        },
    );

    let r = robot.clone();
    set.set_safe_stop(move || r.stop());
    let r = robot;
    set.set_reporter(move || crate::registry::RobotReport {
        events: r.take_events(),
        state: r.state_line(),
    });
    set
}

fn positive(v: Option<f64>, skill: &str, name: &str) -> Result<f64, SkillError> {
    match v {
        Some(v) if v > 0.0 && v.is_finite() => Ok(v),
        other => Err(SkillError::invalid(format!(
            "{skill}(): {name} must be a positive number of seconds, got {}",
            other.map_or("None".into(), |v| v.to_string())
        ))),
    }
}
