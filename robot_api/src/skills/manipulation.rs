//! Manipulation skills: `pick`, `place`, `place_at` and `holding`. An object
//! is picked by the name the camera reported, where the robot saw it.

use std::sync::Arc;

use super::{Examples, Robot};
use crate::error::{ErrorKind, SkillError};
use crate::geometry::P2;
use crate::registry::SkillSet;
use crate::spec::SkillSpec;
use crate::value::Value;

crate::skill_params! {
    /// `pick`'s parameters.
    pub struct Pick { name: String }
}

crate::skill_params! {
    /// `place_at`'s parameters.
    pub struct PlaceAt { x: f64, y: f64 }
}

/// Adds the gripper's skills.
pub(super) fn add(set: &mut SkillSet, robot: &Arc<Robot>, ex: &Examples) {
    let limits = robot.backend.limits();
    let r = robot.clone();
    set.add(
        SkillSpec::new("pick", &*format!("Pick up the named object, which the camera must have seen (detect_objects()). It must be within {:.2} m of the robot's centre and in front of it; go_to(name) first. Objects on furniture (tables, benches, shelves) can be picked from beside it. A slippery object can slip out (GripperError): try again.\n\nExample: o = detect_objects()[0]; go_to(o.name); pick(o.name)", limits.reach))
            .raises(ErrorKind::ObjectNotSeen)
            .raises(ErrorKind::NotInReach)
            .raises(ErrorKind::GripperError),
        move |p: Pick, _| {
            let seen_at = {
                let memory = r.memory();
                let seen = memory.get(&p.name, "pick")?;
                P2::new(seen.last.x, seen.last.y)
            };
            Robot::need(r.backend.gripper(), "gripper")?.pick(&p.name, seen_at)?;
            r.memory().picked(&p.name);
            Ok(Value::None)
        },
    );
    let r = robot.clone();
    set.add(
        SkillSpec::new("place", &*format!("Put the held object down {:.2} m in front of the robot's centre (on the floor, or on furniture such as a table when the robot stands beside it). Returns its name.\n\nExample: go_to(\"{}\"); place()", limits.place_distance(), ex.zone)).returns("str").raises(ErrorKind::GripperError),
        move |(), _| place(&r, None),
    );
    let r = robot.clone();
    set.add(
        SkillSpec::new("place_at", &*format!("Put the held object down at (x, y), metres (on the floor or on furniture); the point must be within {:.2} m of the robot's centre. Returns its name.\n\nExample: p = get_pose(); place_at(p.x + 0.3, p.y)", limits.reach))
            .returns("str")
            .raises(ErrorKind::NotInReach)
            .raises(ErrorKind::GripperError),
        move |p: PlaceAt, _| place(&r, Some(P2::new(p.x, p.y))),
    );
    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "holding",
            "The name of the held object, or None.\n\nExample: if holding() is None: print('gripper empty')",
        )
        .returns("str | None"),
        move |(), _| {
            let held = Robot::need(r.backend.gripper(), "gripper")?.holding();
            Ok(held.map_or(Value::None, Value::Str))
        },
    );
}

/// Puts the held object down (in front, or at a point) and remembers where.
fn place(r: &Robot, at: Option<P2>) -> Result<Value, SkillError> {
    let (name, spot) = Robot::need(r.backend.gripper(), "gripper")?.place(at)?;
    let now = r.backend.time();
    r.memory().placed(&name, spot, now);
    Ok(Value::Str(name))
}
