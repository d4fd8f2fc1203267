//! Perception skills: `get_pose`, `get_scan`, `get_battery`,
//! `detect_objects`, `known_objects`, `get_camera_image` and `get_map_image`. Only what the
//! robot's own sensors report; objects become known through the camera.

use std::sync::Arc;

use super::values::{float, object_value, pose_value, record, round};
use super::Robot;
use crate::error::SkillError;
use crate::registry::SkillSet;
use crate::spec::SkillSpec;
use crate::value::Value;

crate::skill_params! {
    /// `get_map_image`'s parameters.
    pub struct MapImage { radius: f64 = 4.0 }
}

crate::skill_params! {
    /// `get_camera_image`'s parameters.
    pub struct CameraImage { width: i64 = 320, height: i64 = 240 }
}

/// Adds the perception skills the robot's sensors allow.
pub(super) fn add(set: &mut SkillSet, robot: &Arc<Robot>) {
    let r = robot.clone();
    set.add(
        SkillSpec::new("get_pose", "The robot's pose: x, y in metres, theta in radians.\n\nExample: p = get_pose(); print(p.x, p.y, p.theta)").returns("Pose"),
        move |(), _| r.backend.pose().map(pose_value),
    );

    let backend = &robot.backend;
    if backend.lidar().is_some() {
        let r = robot.clone();
        set.add(
            SkillSpec::new(
                "get_scan",
                "The latest lidar scan. ranges is a numpy array in metres (inf: nothing in range).\n\nExample: s = get_scan(); s.ranges.min()  # nearest obstacle, metres",
            )
            .returns("Scan"),
            move |(), _| {
                let s = Robot::need(r.backend.lidar(), "lidar")?.scan()?;
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

    if backend.battery().is_some() {
        let r = robot.clone();
        set.add(
            SkillSpec::new("get_battery", "The battery: percent (0-100) and whether it is charging. It drains with motion and time and charges while the robot stands still in a charger zone (see list_zones()).\n\nExample: b = get_battery(); print(b.percent, b.charging)").returns("Battery"),
            move |(), _| {
                let b = Robot::need(r.backend.battery(), "battery gauge")?.state()?;
                Ok(record("Battery", vec![("percent", float((b.percent * 10.0).round() / 10.0)), ("charging", Value::Bool(b.charging))]))
            },
        );
    }

    if backend.camera().is_some() {
        add_camera(set, robot);
    }

    if backend.camera_pictures().is_some() {
        let r = robot.clone();
        set.add(
            SkillSpec::new("get_camera_image", "What the camera sees now, as PNG bytes; show() it to look.\n\nExample: show(get_camera_image())")
                .returns("bytes"),
            move |p: CameraImage, _| {
                if !(16..=1920).contains(&p.width) || !(16..=1080).contains(&p.height) {
                    return Err(SkillError::invalid(format!("get_camera_image(): width must be 16 to 1920 and height 16 to 1080 pixels, got {} x {}", p.width, p.height)));
                }
                Robot::need(r.backend.camera_pictures(), "camera pictures")?.camera_image(p.width as u32, p.height as u32).map(Value::Bytes)
            },
        );
    }

    if backend.map_pictures().is_some() {
        let r = robot.clone();
        set.add(
            SkillSpec::new("get_map_image", "A PNG picture (bytes) of the map within radius metres of the robot, north up, with names, a scale bar and a legend. For a vision model, or to save: open('map.png', 'wb').write(get_map_image()).\n\nExample: png = get_map_image(3.0)")
                .returns("bytes"),
            move |p: MapImage, _| {
                if !(0.5..=50.0).contains(&p.radius) {
                    return Err(SkillError::invalid(format!("get_map_image(): radius must be between 0.5 and 50 metres, got {}", p.radius)));
                }
                Robot::need(r.backend.map_pictures(), "map pictures")?.map_image(p.radius).map(Value::Bytes)
            },
        );
    }
}

/// `detect_objects` and `known_objects`: what the camera sees, and what the
/// robot remembers of it.
fn add_camera(set: &mut SkillSet, robot: &Arc<Robot>) {
    let r = robot.clone();
    set.add(
        SkillSpec::new("detect_objects", "The objects the camera recognises now (wholly in its picture, in range, not hidden, big enough), nearest first. The robot remembers them (known_objects()).\n\nExample: red = [o.name for o in detect_objects() if o.colour == \"red\"]").returns("list[Object]"),
        move |(), _| {
            let mut seen = Robot::need(r.backend.camera(), "camera")?.detect()?;
            seen.sort_by(|a, b| a.distance.total_cmp(&b.distance));
            let now = r.backend.time();
            r.memory().saw(&seen, now);
            Ok(Value::List(seen.iter().map(|d| object_value(d, now)).collect()))
        },
    );
    let r = robot.clone();
    set.add(
        SkillSpec::new("known_objects", "Every object the robot has seen so far (with detect_objects()), where it was last seen or put down, nearest first; the held object is left out (see holding()). Objects never seen are not known.\n\nExample: [(o.name, o.x, o.y) for o in known_objects()]").returns("list[Object]"),
        move |(), _| {
            let pose = r.backend.pose()?;
            let mut known: Vec<_> = r.memory().all_from(pose).into_iter().filter(|o| !o.held).collect();
            known.sort_by(|a, b| a.last.distance.total_cmp(&b.last.distance));
            Ok(Value::List(known.iter().map(|o| object_value(&o.last, o.seen_at)).collect()))
        },
    );
}
