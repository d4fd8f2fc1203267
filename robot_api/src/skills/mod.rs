//! The skills an agent composes, written once against [`RobotBackend`]:
//! motion (`move_to`, `go_to`, `drive`, `rotate`, `stop`), sensing
//! (`get_pose`, `get_scan`, `get_battery`, `detect_objects`,
//! `known_objects`, `get_map_image`, `list_zones`, `get_zone`),
//! manipulation (`pick`, `place`, `place_at`, `holding`) and `wait`, `say`.
//! Their docstrings are what the LLM reads: units and one example each, the
//! examples taken from the robot's own zones.
//!
//! Every motion skill returns once the robot is at rest, so the pose it
//! returns is where the robot stays. Objects are known only once the camera
//! has reported them ([`ObjectMemory`]).

mod motion;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::backend::{Detection, Pose2, RobotBackend, ZoneInfo};
use crate::error::{ErrorKind, SkillError};
use crate::memory::ObjectMemory;
use crate::nav::wrap_angle;
use crate::registry::SkillSet;
use crate::spec::{ParamType, RecordType, SkillSpec};
use crate::value::{Record, Value};
use motion::{
    navigate, stand_points, surface_goals, turn_speed, whereabouts, zone_goals, Mover, CONTROL_DT,
};

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

fn object_value(d: &Detection, seen_at: f64) -> Value {
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
            ("seen_at", float((seen_at * 10.0).round() / 10.0)),
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

const DISTANCE_TO: &str = "    def distance_to(self, other):\n        \"\"\"Straight-line distance in metres to a Pose, Object or Zone.\"\"\"\n        return ((self.x - other.x) ** 2 + (self.y - other.y) ** 2) ** 0.5\n";

/// What every skill of one robot shares: the robot, what it has seen, and
/// warnings about how skills were called, for the next observation.
struct Robot {
    backend: Arc<dyn RobotBackend>,
    memory: Mutex<ObjectMemory>,
    notes: Mutex<Vec<String>>,
}

impl Robot {
    fn memory(&self) -> MutexGuard<'_, ObjectMemory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Warns when an angle in radians is more than a full turn: degrees were
    /// probably meant. The call goes ahead as asked.
    fn check_radians(&self, call: &str, value: f64) {
        if value.is_finite() && value.abs() > std::f64::consts::TAU {
            self.notes.lock().unwrap_or_else(|e| e.into_inner()).push(format!(
                "{call}: {value} radians is more than a full turn ({:.1} turns); angles are in radians here. If you meant {value} degrees, that is {:.3} rad (math.radians({value})).",
                value / std::f64::consts::TAU,
                value.to_radians()
            ));
        }
    }
}

/// The names used in examples: this robot's own zones, so examples never
/// name a place another world has.
struct Examples {
    zone: String,
    zone_centre: (f64, f64),
    /// The first few zone names as a Python list literal.
    zone_names: String,
}

impl Examples {
    fn new(robot: &dyn RobotBackend) -> Self {
        let zones = robot.zones();
        let pick = zones.iter().find(|z| !z.charger).or(zones.first()).cloned();
        Examples {
            zone: pick.as_ref().map_or("kitchen".into(), |z| z.name.clone()),
            zone_centre: pick.map_or((2.0, 1.0), |z| z.centre),
            zone_names: format!(
                "[{}]",
                zones
                    .iter()
                    .take(3)
                    .map(|z| format!("'{}'", z.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// The skill set for a robot backend. Skills the robot lacks (no gripper, no
/// camera) are left out, so the LLM never sees them.
pub fn robot_skills(backend: Arc<dyn RobotBackend>) -> SkillSet {
    let robot = Arc::new(Robot {
        backend: backend.clone(),
        memory: Mutex::new(ObjectMemory::default()),
        notes: Mutex::new(Vec::new()),
    });
    let ex = Examples::new(&*backend);
    let mut set = SkillSet::new(backend.describe());
    set.notes.push(backend.clock_note());
    if let Some(cam) = backend
        .camera_view()
        .filter(|_| backend.capabilities().camera)
    {
        set.notes.push(format!(
            "The camera sees objects within {:.0} degrees ({:.2} rad) either side of the heading and up to {:.1} m away, unless a wall or obstacle hides them. The robot knows an object only once detect_objects() has reported it.",
            cam.fov.to_degrees() / 2.0,
            cam.fov / 2.0,
            cam.range
        ));
    }
    add_records(&mut set, &*backend);
    add_motion(&mut set, &robot, &ex);
    add_sensing(&mut set, &robot, &ex);
    if backend.capabilities().gripper {
        add_gripper(&mut set, &robot, &ex);
    }
    add_time_and_speech(&mut set, &robot);
    let b = backend.clone();
    set.set_safe_stop(move || b.stop());
    let r = robot;
    set.set_reporter(move || crate::registry::RobotReport {
        events: r.backend.take_events(),
        state: r.backend.state_line(),
        notes: std::mem::take(&mut *r.notes.lock().unwrap_or_else(|e| e.into_inner())),
    });
    set
}

fn add_records(set: &mut SkillSet, backend: &dyn RobotBackend) {
    set.add_record(
        RecordType::new("Pose", &["x", "y", "theta"], "A pose in the world frame: x, y in metres, theta (heading) in radians, counter-clockwise from +x.")
            .with_methods(DISTANCE_TO),
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
    if backend.capabilities().camera {
        set.add_record(
            RecordType::new(
                "Object",
                &["name", "kind", "colour", "x", "y", "size", "distance", "bearing", "seen_at"],
                "An object the camera has seen: name (use it with pick/go_to), kind, colour, world position x, y where it was seen (metres), size (metres), distance (metres) and bearing (radians, left positive) from the robot now, and seen_at, the robot time (s) it was last seen.",
            )
            .with_methods(DISTANCE_TO),
        );
    }
}

fn add_motion(set: &mut SkillSet, robot: &Arc<Robot>, ex: &Examples) {
    let limits = robot.backend.limits();
    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "move_to",
            "Drive to (x, y) in metres, planning a path around known obstacles and re-planning around new ones the lidar sees. If theta (radians) is given, turn to that heading at the end. Returns the pose once the robot has stopped. Gives up after timeout seconds.\n\nExample: move_to(2.0, 1.0, theta=math.pi / 2)  # ends facing +y",
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
            if let Some(t) = theta {
                r.check_radians(&format!("move_to(theta={t})"), t);
            }
            let what = format!("move_to({x:.2}, {y:.2})");
            navigate(&*r.backend, &ctx.cancel, (x, y), theta, timeout, what).map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "go_to",
            &*format!("Drive to a named zone (its centre, or the free point of the zone nearest it when furniture stands there), to furniture objects can be put on (stopping beside it, facing it: then place() puts the held object on it), or to an object the camera has seen (stopping within gripper reach, facing it). Zone names come from list_zones(); objects must have been seen with detect_objects() first (ObjectNotSeen otherwise). Returns the pose once the robot has stopped.\n\nExample: go_to(\"{}\")  # zone centre ({:.1}, {:.1})", ex.zone, ex.zone_centre.0, ex.zone_centre.1),
        )
        .param("name", ParamType::Str)
        .param_default("timeout", ParamType::Float, 120.0)
        .returns("Pose")
        .raises(ErrorKind::Unreachable)
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::SkillTimeout)
        .raises(ErrorKind::BatteryEmpty)
        .raises(ErrorKind::ObjectNotSeen),
        move |args, ctx| {
            let name = args.str("name").unwrap_or_default();
            let timeout = positive(args.f64("timeout"), "go_to", "timeout")?;
            go_to(&r, name, timeout, &ctx.cancel).map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "drive",
            &*format!("Drive with linear speed (m/s, negative backwards) and angular speed (rad/s, left positive) for duration seconds, then brake to a stop; returns the pose at rest (braking from top speed adds about {:.2} m). Speeds are limited to {:.2} m/s and {:.2} rad/s. No path planning: stops with Blocked when it touches something.\n\nExample: drive(0.2, 0.0, 2.0)  # about 0.4 m straight ahead", limits.max_linear.powi(2) / (2.0 * limits.max_linear_accel), limits.max_linear, limits.max_angular),
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
            let b = &*r.backend;
            let mover = Mover { robot: b, cancel: &ctx.cancel, deadline: f64::INFINITY, what: format!("drive({v}, {w}, {duration})") };
            let end = b.time() + duration;
            while b.time() < end - 1e-9 {
                mover.step_for(v, w, (end - b.time()).min(CONTROL_DT))?;
            }
            mover.come_to_rest().map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "rotate",
            "Turn in place by angle radians (positive = counter-clockwise / left); returns the pose once the robot has stopped.\n\nExample: rotate(math.pi / 2)  # quarter turn left",
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
            r.check_radians(&format!("rotate({angle})"), angle);
            let b = &*r.backend;
            let start = b.pose()?.theta;
            let mover = Mover { robot: b, cancel: &ctx.cancel, deadline: b.time() + timeout, what: format!("rotate({angle:.2})") };
            // Track the turn so far, so angles beyond pi turn the long way as asked.
            let mut turned = 0.0;
            let mut last = start;
            let max_w = b.limits().max_angular;
            let tolerance = b.tolerances().heading;
            while (angle - turned).abs() > tolerance {
                mover.step(0.0, turn_speed(angle - turned, max_w))?;
                let now = b.pose()?.theta;
                turned += wrap_angle(now - last);
                last = now;
            }
            mover.come_to_rest().map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "stop",
            "Stop all motion now; returns once the robot is at rest.\n\nExample: stop()",
        ),
        move |_, ctx| {
            r.backend.stop();
            let mover = Mover {
                robot: &*r.backend,
                cancel: &ctx.cancel,
                deadline: f64::INFINITY,
                what: "stop()".into(),
            };
            mover.come_to_rest()?;
            Ok(Value::None)
        },
    );
}

/// `go_to(name)`: a zone by its free point nearest the centre, or a seen
/// object by a place to stand within reach of it.
fn go_to(
    r: &Robot,
    name: &str,
    timeout: f64,
    cancel: &crate::CancelToken,
) -> Result<Pose2, SkillError> {
    let b = &*r.backend;
    let what = format!("go_to({name:?})");
    let zones = b.zones();
    let surfaces = b.surfaces();
    let goals: Vec<((f64, f64), Option<f64>)> =
        if let Some(zone) = zones.iter().find(|z| z.name == name) {
            zone_goals(b, &zone.polygon, zone.centre)
                .into_iter()
                .map(|g| (g, None))
                .collect()
        } else if let Some(surface) = surfaces.iter().find(|s| s.name == name) {
            surface_goals(b, &surface.polygon)?
                .into_iter()
                .map(|(g, h)| (g, Some(h)))
                .collect()
        } else {
            let at = {
                let memory = r.memory();
                let seen = memory.get(name, "go_to").map_err(|mut e| {
                    let names: Vec<&str> = zones
                        .iter()
                        .map(|z| z.name.as_str())
                        .chain(surfaces.iter().map(|s| s.name.as_str()))
                        .collect();
                    e.message = format!("{}; zones and furniture: {}", e.message, names.join(", "));
                    e
                })?;
                if seen.held {
                    return Err(SkillError::new(
                        ErrorKind::GripperError,
                        format!("{what}: the robot is holding {name}"),
                    ));
                }
                (seen.last.x, seen.last.y)
            };
            stand_points(b, at)?
                .into_iter()
                .map(|g| (g, Some((at.1 - g.1).atan2(at.0 - g.0))))
                .collect()
        };
    let mut last_err = None;
    for (goal, heading) in goals {
        match navigate(b, cancel, goal, heading, timeout, what.clone()) {
            Err(e) if e.kind == ErrorKind::Unreachable => last_err = Some(e),
            done => return done,
        }
    }
    Err(last_err.unwrap_or_else(|| {
        SkillError::new(
            ErrorKind::Unreachable,
            format!(
                "{what}: there is no free place for the robot there; {}",
                whereabouts(b)
            ),
        )
    }))
}

fn add_sensing(set: &mut SkillSet, robot: &Arc<Robot>, ex: &Examples) {
    let caps = robot.backend.capabilities();
    let r = robot.clone();
    set.add(
        SkillSpec::new("get_pose", "The robot's pose: x, y in metres, theta in radians.\n\nExample: p = get_pose(); print(p.x, p.y, p.theta)").returns("Pose"),
        move |_, _| r.backend.pose().map(pose_value),
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
                let s = r.backend.scan()?;
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
            SkillSpec::new("get_battery", "The battery: percent (0-100) and whether it is charging. It drains with motion and time and charges while the robot stands still in a charger zone (see list_zones()).\n\nExample: b = get_battery(); print(b.percent, b.charging)").returns("Battery"),
            move |_, _| {
                let b = r.backend.battery()?;
                Ok(record("Battery", vec![("percent", float((b.percent * 10.0).round() / 10.0)), ("charging", Value::Bool(b.charging))]))
            },
        );
    }

    if caps.camera {
        let r = robot.clone();
        set.add(
            SkillSpec::new("detect_objects", "The objects the camera sees now (in its field of view, in range, not hidden behind walls), nearest first. The robot remembers them (known_objects()).\n\nExample: red = [o.name for o in detect_objects() if o.colour == \"red\"]").returns("list[Object]"),
            move |_, _| {
                let mut seen = r.backend.detect()?;
                seen.sort_by(|a, b| a.distance.total_cmp(&b.distance));
                let now = r.backend.time();
                r.memory().saw(&seen, now);
                Ok(Value::List(seen.iter().map(|d| object_value(d, now)).collect()))
            },
        );
        let r = robot.clone();
        set.add(
            SkillSpec::new("known_objects", "Every object the robot has seen so far (with detect_objects()), where it was last seen or put down, nearest first; the held object is left out (see holding()). Objects never seen are not known.\n\nExample: [(o.name, o.x, o.y) for o in known_objects()]").returns("list[Object]"),
            move |_, _| {
                let pose = r.backend.pose()?;
                let mut known: Vec<_> = r.memory().all_from(pose).into_iter().filter(|o| !o.held).collect();
                known.sort_by(|a, b| a.last.distance.total_cmp(&b.last.distance));
                Ok(Value::List(known.iter().map(|o| object_value(&o.last, o.seen_at)).collect()))
            },
        );
    }

    if caps.map_image {
        let r = robot.clone();
        set.add(
            SkillSpec::new("get_map_image", "A PNG picture (bytes) of the map within radius metres of the robot, north up, with names, a scale bar and a legend: walls, obstacles (grey; furniture with a top brown), zones (tinted), objects (coloured squares), the robot (orange, a line for its heading), its trajectory (blue) and latest lidar hits (red). For looking with a vision model, or saving: open('map.png', 'wb').write(get_map_image()).\n\nExample: png = get_map_image(3.0)")
                .param_default("radius", ParamType::Float, 4.0)
                .returns("bytes"),
            move |args, _| {
                let radius = args.f64("radius").unwrap_or(4.0);
                if !(0.5..=50.0).contains(&radius) {
                    return Err(SkillError::invalid(format!("get_map_image(): radius must be between 0.5 and 50 metres, got {radius}")));
                }
                r.backend.map_image(radius).map(Value::Bytes).ok_or_else(|| SkillError::new(ErrorKind::Robot, "this robot cannot draw its map"))
            },
        );
    }

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "list_zones",
            &*format!(
                "All named zones of the world.\n\nExample: [z.name for z in list_zones()] -> {}",
                ex.zone_names
            ),
        )
        .returns("list[Zone]"),
        move |_, _| {
            Ok(Value::List(
                r.backend.zones().iter().map(zone_value).collect(),
            ))
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new("get_zone", &*format!("The zone called name.\n\nExample: get_zone(\"{}\") -> Zone(name='{}', x={:.1}, y={:.1}, ...)", ex.zone, ex.zone, ex.zone_centre.0, ex.zone_centre.1)).param("name", ParamType::Str).returns("Zone"),
        move |args, _| {
            let name = args.str("name").unwrap_or_default();
            let zones = r.backend.zones();
            zones.iter().find(|z| z.name == name).map(zone_value).ok_or_else(|| {
                let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
                SkillError::invalid(format!("get_zone(): no zone named {name:?}; zones are: {}", names.join(", ")))
            })
        },
    );
}

fn add_gripper(set: &mut SkillSet, robot: &Arc<Robot>, ex: &Examples) {
    let limits = robot.backend.limits();
    let r = robot.clone();
    set.add(
        SkillSpec::new("pick", &*format!("Pick up the named object, which the camera must have seen (detect_objects()). It must be within {:.2} m of the robot's centre and in front of it; go_to(name) first. Objects on furniture (tables, benches, shelves) can be picked from beside it. A slippery object can slip out (GripperError): try again.\n\nExample: o = detect_objects()[0]; go_to(o.name); pick(o.name)", limits.reach))
            .param("name", ParamType::Str)
            .raises(ErrorKind::ObjectNotSeen)
            .raises(ErrorKind::NotInReach)
            .raises(ErrorKind::GripperError),
        move |args, _| {
            let name = args.str("name").unwrap_or_default();
            let seen_at = {
                let memory = r.memory();
                let seen = memory.get(name, "pick")?;
                (seen.last.x, seen.last.y)
            };
            r.backend.pick(name, seen_at)?;
            r.memory().picked(name);
            Ok(Value::None)
        },
    );
    let r = robot.clone();
    set.add(
        SkillSpec::new("place", &*format!("Put the held object down {:.2} m in front of the robot's centre (on the floor, or on furniture such as a table when the robot stands beside it). Returns its name.\n\nExample: go_to(\"{}\"); place()", limits.place_distance(), ex.zone)).returns("str").raises(ErrorKind::GripperError),
        move |_, _| place(&r, None),
    );
    let r = robot.clone();
    set.add(
        SkillSpec::new("place_at", &*format!("Put the held object down at (x, y), metres (on the floor or on furniture); the point must be within {:.2} m of the robot's centre. Returns its name.\n\nExample: p = get_pose(); place_at(p.x + 0.3, p.y)", limits.reach))
            .param("x", ParamType::Float)
            .param("y", ParamType::Float)
            .returns("str")
            .raises(ErrorKind::NotInReach)
            .raises(ErrorKind::GripperError),
        move |args, _| place(&r, Some((args.f64("x").unwrap_or(0.0), args.f64("y").unwrap_or(0.0)))),
    );
    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "holding",
            "The name of the held object, or None.\n\nExample: if holding() is None: print('gripper empty')",
        )
        .returns("str | None"),
        move |_, _| Ok(r.backend.holding().map_or(Value::None, Value::Str)),
    );
}

fn place(r: &Robot, at: Option<(f64, f64)>) -> Result<Value, SkillError> {
    let (name, spot) = r.backend.place(at)?;
    let now = r.backend.time();
    r.memory().placed(&name, spot, now);
    Ok(Value::Str(name))
}

fn add_time_and_speech(set: &mut SkillSet, robot: &Arc<Robot>) {
    let r = robot.clone();
    set.add(
        SkillSpec::new("wait", "Let seconds of robot time pass, standing still (the battery charges on a dock).\n\nExample: wait(5.0)").param("seconds", ParamType::Float),
        move |args, ctx| {
            let seconds = args.f64("seconds").unwrap_or(0.0);
            if !(0.0..=86_400.0).contains(&seconds) {
                return Err(SkillError::invalid(format!("wait(): seconds must be between 0 and 86400, got {seconds}")));
            }
            r.backend.command(0.0, 0.0)?;
            r.backend.advance(Duration::from_secs_f64(seconds), &ctx.cancel)?;
            Ok(Value::None)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new("say", "Tell the user something (kept in the transcript).\n\nExample: say(\"I am at the door.\")").param("text", ParamType::Str),
        move |args, _| {
            r.backend.say(args.str("text").unwrap_or_default());
            Ok(Value::None)
        },
    );
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
