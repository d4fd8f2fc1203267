//! How skill results look in Python: the record types (`Pose`, `Zone`,
//! `Scan`, `Battery`, `Object`) and the values that fill them.

use crate::backend::{Detection, Pose2, RobotBackend, ZoneInfo};
use crate::registry::SkillSet;
use crate::spec::RecordType;
use crate::value::{Record, Value};

pub(super) fn float(v: f64) -> Value {
    Value::Float(v)
}

pub(super) fn record(name: &str, fields: Vec<(&str, Value)>) -> Value {
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
pub(super) fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

pub(super) fn object_value(d: &Detection, seen_at: f64) -> Value {
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

pub(super) fn zone_value(z: &ZoneInfo) -> Value {
    record(
        "Zone",
        vec![
            ("name", Value::Str(z.name.clone())),
            ("x", float(round(z.centre.x))),
            ("y", float(round(z.centre.y))),
            (
                "polygon",
                Value::List(
                    z.polygon
                        .iter()
                        .map(|p| Value::List(vec![float(p.x), float(p.y)]))
                        .collect(),
                ),
            ),
            ("charger", Value::Bool(z.charger)),
        ],
    )
}

const DISTANCE_TO: &str = "    def distance_to(self, other):\n        \"\"\"Straight-line distance in metres to a Pose, Object or Zone.\"\"\"\n        return ((self.x - other.x) ** 2 + (self.y - other.y) ** 2) ** 0.5\n";

/// Declares the record types the skills return.
pub(super) fn add_records(set: &mut SkillSet, backend: &dyn RobotBackend) {
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
    if backend.camera().is_some() {
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
