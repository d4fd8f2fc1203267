//! The skills against a fake backend: a unicycle in an empty room with a
//! few objects and zones, no simulator. What each skill asks of a backend,
//! and what it does with the answers, one group at a time.

use std::f64::consts::PI;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::robot_skills;
use crate::backend::{
    BatteryState, CameraView, Detection, Pose2, RobotBackend, RobotLimits, ScanData, SurfaceInfo,
    Tolerances, ZoneInfo,
};
use crate::capability::{Battery, Camera, CameraPictures, Gripper, Lidar, MapPictures, Navigation};
use crate::error::{ErrorKind, SkillError};
use crate::geometry::{wrap_angle, P2};
use crate::nav::GridMap;
use crate::registry::{CallContext, SkillSet};
use crate::value::Value;
use crate::CancelToken;

const REACH: f64 = 0.6;
const FOV: f64 = PI / 3.0;
const RANGE: f64 = 4.0;

#[derive(Debug, Default)]
struct State {
    pose: (f64, f64, f64),
    velocity: (f64, f64),
    time: f64,
    objects: Vec<(String, f64, f64)>,
    holding: Option<String>,
    said: Vec<String>,
}

/// A robot that moves exactly as commanded (no acceleration limit), in a
/// 10 m square room without walls; its camera sees objects within 60 degrees
/// either side and 4 m.
struct Fake(Mutex<State>);

impl Fake {
    fn new(objects: &[(&str, f64, f64)]) -> Arc<Self> {
        Arc::new(Fake(Mutex::new(State {
            pose: (1.0, 1.0, 0.0),
            objects: objects
                .iter()
                .map(|(n, x, y)| (n.to_string(), *x, *y))
                .collect(),
            ..State::default()
        })))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap()
    }
}

impl RobotBackend for Fake {
    fn describe(&self) -> String {
        "fake robot".into()
    }
    fn limits(&self) -> RobotLimits {
        RobotLimits {
            radius: 0.2,
            max_linear: 0.5,
            max_angular: 1.5,
            max_linear_accel: 1.0,
            reach: REACH,
        }
    }
    fn time(&self) -> f64 {
        self.state().time
    }
    fn pose(&self) -> Result<Pose2, SkillError> {
        let (x, y, theta) = self.state().pose;
        Ok(Pose2::new(x, y, theta))
    }
    fn velocity(&self) -> (f64, f64) {
        self.state().velocity
    }
    fn command(&self, linear: f64, angular: f64) -> Result<(), SkillError> {
        let l = self.limits();
        self.state().velocity = (
            linear.clamp(-l.max_linear, l.max_linear),
            angular.clamp(-l.max_angular, l.max_angular),
        );
        Ok(())
    }
    fn advance(&self, dt: Duration, cancel: &CancelToken) -> Result<(), SkillError> {
        if cancel.is_cancelled() {
            return Err(SkillError::new(ErrorKind::Cancelled, "cancelled"));
        }
        let mut s = self.state();
        let dt = dt.as_secs_f64();
        let (v, w) = s.velocity;
        let (x, y, theta) = s.pose;
        s.pose = (
            x + v * theta.cos() * dt,
            y + v * theta.sin() * dt,
            wrap_angle(theta + w * dt),
        );
        s.time += dt;
        Ok(())
    }
    fn stop(&self) {
        self.state().velocity = (0.0, 0.0);
    }
    fn take_bump(&self) -> bool {
        false
    }
    fn zones(&self) -> Vec<ZoneInfo> {
        vec![ZoneInfo {
            name: "dock".into(),
            polygon: crate::geometry::rect_outline(7.0, 7.0, 1.0, 1.0),
            centre: P2::new(7.5, 7.5),
            charger: false,
        }]
    }
    fn map(&self) -> Option<GridMap> {
        Some(GridMap::new(P2::origin(), 0.05, 200, 200))
    }
    fn say(&self, text: &str) {
        self.state().said.push(text.to_owned());
    }
    fn take_events(&self) -> Vec<String> {
        Vec::new()
    }
    fn state_line(&self) -> String {
        String::new()
    }
    fn tolerances(&self) -> Tolerances {
        Tolerances::default()
    }
    fn clock_note(&self) -> String {
        crate::WALL_CLOCK_NOTE.into()
    }
    fn allowed_area(&self) -> Option<Vec<P2>> {
        None
    }
    fn safe_stop(&self) {
        self.stop();
    }
    fn surfaces(&self) -> Vec<SurfaceInfo> {
        Vec::new()
    }
    fn lidar(&self) -> Option<&dyn Lidar> {
        Some(self)
    }
    fn camera(&self) -> Option<&dyn Camera> {
        Some(self)
    }
    fn camera_pictures(&self) -> Option<&dyn CameraPictures> {
        None
    }
    fn gripper(&self) -> Option<&dyn Gripper> {
        Some(self)
    }
    fn battery(&self) -> Option<&dyn Battery> {
        Some(self)
    }
    fn navigation(&self) -> Option<&dyn Navigation> {
        None
    }
    fn map_pictures(&self) -> Option<&dyn MapPictures> {
        None
    }
}

impl Lidar for Fake {
    fn scan(&self) -> Result<ScanData, SkillError> {
        Ok(ScanData {
            angle_min: -PI,
            angle_increment: PI / 180.0,
            range_min: 0.1,
            range_max: 8.0,
            ranges: vec![f64::INFINITY; 360],
            pose: self.pose()?,
            stamp: self.time(),
        })
    }
}

impl Camera for Fake {
    fn view(&self) -> Option<CameraView> {
        None
    }
    fn detect(&self) -> Result<Vec<Detection>, SkillError> {
        let s = self.state();
        let (x, y, theta) = s.pose;
        Ok(s.objects
            .iter()
            .filter_map(|(name, ox, oy)| {
                let distance = (ox - x).hypot(oy - y);
                let bearing = wrap_angle((oy - y).atan2(ox - x) - theta);
                (distance <= RANGE && bearing.abs() <= FOV).then(|| Detection {
                    name: name.clone(),
                    kind: "cube".into(),
                    colour: "red".into(),
                    x: *ox,
                    y: *oy,
                    size: 0.1,
                    distance,
                    bearing,
                })
            })
            .collect())
    }
}

impl Battery for Fake {
    fn state(&self) -> Result<BatteryState, SkillError> {
        Ok(BatteryState {
            percent: 80.0,
            charging: false,
        })
    }
}

impl Gripper for Fake {
    fn pick(&self, name: &str, _seen_at: P2) -> Result<(), SkillError> {
        let mut s = self.state();
        let (x, y, _) = s.pose;
        let at = s.objects.iter().position(|(n, ..)| n == name);
        let Some(i) = at.filter(|&i| (s.objects[i].1 - x).hypot(s.objects[i].2 - y) <= REACH)
        else {
            return Err(SkillError::new(
                ErrorKind::NotInReach,
                format!("{name} is not in reach"),
            ));
        };
        s.objects.remove(i);
        s.holding = Some(name.to_owned());
        Ok(())
    }
    fn place(&self, at: Option<P2>) -> Result<(String, P2), SkillError> {
        let mut s = self.state();
        let name = s
            .holding
            .take()
            .ok_or_else(|| SkillError::new(ErrorKind::GripperError, "holding nothing"))?;
        let (x, y, theta) = s.pose;
        let d = self.limits().place_distance();
        let spot = at.unwrap_or(P2::new(x + d * theta.cos(), y + d * theta.sin()));
        s.objects.push((name.clone(), spot.x, spot.y));
        Ok((name, spot))
    }
    fn holding(&self) -> Option<String> {
        self.state().holding.clone()
    }
}

/// The fake robot's skills, and a way to call them by name.
struct Robot {
    fake: Arc<Fake>,
    skills: SkillSet,
}

impl Robot {
    fn new(objects: &[(&str, f64, f64)]) -> Self {
        let fake = Fake::new(objects);
        let skills = robot_skills(fake.clone());
        Robot { fake, skills }
    }

    fn call(&self, name: &str, args: &[Value]) -> Result<Value, SkillError> {
        let index = self
            .skills
            .specs()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("no skill {name}"));
        // Defaults fill what the caller leaves out, as the Python stub does.
        let spec = self.skills.get(index).unwrap().0;
        let mut values = args.to_vec();
        for p in &spec.params[args.len()..] {
            values.push(p.default.clone().expect("a default"));
        }
        let ctx = CallContext::default();
        self.skills.call(index, values, &ctx)
    }

    fn pose(&self) -> (f64, f64, f64) {
        self.fake.state().pose
    }
}

fn field(value: &Value, name: &str) -> Value {
    match value {
        Value::Record(r) => r
            .fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap(),
        other => panic!("not a record: {other:?}"),
    }
}

fn kind(result: Result<Value, SkillError>) -> ErrorKind {
    result.expect_err("expected an error").kind
}

#[test]
fn every_skill_declaration_matches_its_handler() {
    // Building the set checks each parameter struct against its declaration.
    let robot = Robot::new(&[]);
    let names: Vec<&str> = robot.skills.specs().map(|s| s.name.as_str()).collect();
    for skill in [
        "move_to",
        "go_to",
        "drive",
        "rotate",
        "stop",
        "wait",
        "get_pose",
        "get_scan",
        "get_battery",
        "detect_objects",
        "known_objects",
        "list_zones",
        "get_zone",
        "pick",
        "place",
        "place_at",
        "holding",
        "say",
    ] {
        assert!(names.contains(&skill), "{skill} missing from {names:?}");
    }
    assert!(!names.contains(&"get_map_image"), "the fake cannot draw");
}

#[test]
fn motion_skills_reach_their_goal_and_return_at_rest() {
    let robot = Robot::new(&[]);
    let pose = robot
        .call("move_to", &[Value::Float(4.0), Value::Int(2)])
        .unwrap();
    let (x, y, _) = robot.pose();
    assert!((x - 4.0).hypot(y - 2.0) <= 0.02, "at ({x}, {y})");
    assert_eq!(
        field(&pose, "x"),
        Value::Float((x * 1000.0).round() / 1000.0)
    );
    assert_eq!(robot.fake.velocity(), (0.0, 0.0), "at rest");

    let before = robot.pose().2;
    robot.call("rotate", &[Value::Float(PI / 2.0)]).unwrap();
    let turned = wrap_angle(robot.pose().2 - before);
    assert!((turned - PI / 2.0).abs() < 0.01, "turned {turned}");

    let t0 = robot.fake.time();
    robot
        .call(
            "drive",
            &[Value::Float(0.2), Value::Float(0.0), Value::Float(1.0)],
        )
        .unwrap();
    assert!((robot.fake.time() - t0 - 1.0).abs() < 0.06);
    robot.call("wait", &[Value::Float(2.5)]).unwrap();
    assert!(robot.fake.time() - t0 >= 3.5);
    robot.call("stop", &[]).unwrap();
}

#[test]
fn bad_numbers_are_refused_before_the_robot_moves() {
    let robot = Robot::new(&[]);
    let start = robot.pose();
    let invalid = ErrorKind::InvalidArgument;
    assert_eq!(
        kind(robot.call(
            "drive",
            &[Value::Float(0.2), Value::Float(0.0), Value::Float(-1.0)]
        )),
        invalid
    );
    assert_eq!(
        kind(robot.call(
            "move_to",
            &[
                Value::Float(2.0),
                Value::Float(2.0),
                Value::None,
                Value::Float(0.0)
            ]
        )),
        invalid
    );
    assert_eq!(kind(robot.call("wait", &[Value::Float(-3.0)])), invalid);
    // A value of the wrong type never reaches a handler as a default.
    assert_eq!(
        kind(robot.call("move_to", &[Value::Str("2".into()), Value::Float(2.0)])),
        invalid
    );
    assert_eq!(robot.pose(), start);
}

#[test]
fn a_full_turn_in_radians_is_noted_as_probably_degrees() {
    let robot = Robot::new(&[]);
    robot
        .call("rotate", &[Value::Float(90.0), Value::Float(1.0)])
        .ok();
    let notes = robot.skills.report().unwrap().notes;
    assert!(
        notes.iter().any(|n| n.contains("math.radians(90)")),
        "{notes:?}"
    );
}

#[test]
fn objects_are_known_only_once_seen_then_picked_and_placed_where_remembered() {
    let robot = Robot::new(&[("red_cube", 3.0, 1.0), ("behind", 0.0, 1.0)]);
    assert_eq!(
        kind(robot.call("go_to", &[Value::Str("red_cube".into())])),
        ErrorKind::ObjectNotSeen
    );
    assert_eq!(
        kind(robot.call("pick", &[Value::Str("red_cube".into())])),
        ErrorKind::ObjectNotSeen
    );

    let Value::List(seen) = robot.call("detect_objects", &[]).unwrap() else {
        panic!("a list")
    };
    let names: Vec<Value> = seen.iter().map(|o| field(o, "name")).collect();
    assert_eq!(
        names,
        [Value::Str("red_cube".into())],
        "the one behind is not seen"
    );

    // Out of reach until the robot goes there.
    assert_eq!(
        kind(robot.call("pick", &[Value::Str("red_cube".into())])),
        ErrorKind::NotInReach
    );
    robot
        .call("go_to", &[Value::Str("red_cube".into())])
        .unwrap();
    let (x, y, _) = robot.pose();
    assert!(
        (3.0 - x).hypot(1.0 - y) <= REACH,
        "within reach at ({x}, {y})"
    );
    robot
        .call("pick", &[Value::Str("red_cube".into())])
        .unwrap();
    assert_eq!(
        robot.call("holding", &[]).unwrap(),
        Value::Str("red_cube".into())
    );
    let Value::List(known) = robot.call("known_objects", &[]).unwrap() else {
        panic!("a list")
    };
    assert!(known.is_empty(), "the held object is left out");

    let at = (x + 0.3, y);
    assert_eq!(
        robot
            .call("place_at", &[Value::Float(at.0), Value::Float(at.1)])
            .unwrap(),
        Value::Str("red_cube".into())
    );
    let Value::List(known) = robot.call("known_objects", &[]).unwrap() else {
        panic!("a list")
    };
    assert_eq!(
        field(&known[0], "x"),
        Value::Float((at.0 * 1000.0).round() / 1000.0)
    );
    assert_eq!(kind(robot.call("place", &[])), ErrorKind::GripperError);
}

#[test]
fn places_are_listed_and_an_unknown_one_names_the_real_ones() {
    let robot = Robot::new(&[]);
    let Value::List(zones) = robot.call("list_zones", &[]).unwrap() else {
        panic!("a list")
    };
    assert_eq!(field(&zones[0], "name"), Value::Str("dock".into()));
    let zone = robot
        .call("get_zone", &[Value::Str("dock".into())])
        .unwrap();
    assert_eq!(field(&zone, "x"), Value::Float(7.5));
    let err = robot
        .call("get_zone", &[Value::Str("kitchen".into())])
        .unwrap_err();
    assert!(err.message.contains("zones are: dock"), "{}", err.message);

    robot.call("go_to", &[Value::Str("dock".into())]).unwrap();
    let (x, y, _) = robot.pose();
    assert!((x - 7.5).hypot(y - 7.5) <= 0.05, "at ({x}, {y})");
}

#[test]
fn perception_reports_what_the_sensors_give() {
    let robot = Robot::new(&[]);
    let battery = robot.call("get_battery", &[]).unwrap();
    assert_eq!(field(&battery, "percent"), Value::Float(80.0));
    let scan = robot.call("get_scan", &[]).unwrap();
    let Value::FloatArray(ranges) = field(&scan, "ranges") else {
        panic!("ranges are an array")
    };
    assert_eq!(ranges.len(), 360);
    let pose = robot.call("get_pose", &[]).unwrap();
    assert_eq!(field(&pose, "y"), Value::Float(1.0));
    robot.call("say", &[Value::Str("hello".into())]).unwrap();
    assert_eq!(robot.fake.state().said, ["hello"]);
}
