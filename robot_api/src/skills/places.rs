//! Place skills: `list_zones` and `get_zone`, the named areas of the world
//! the robot was given (a map's annotations, not something it senses).

use std::sync::Arc;

use super::values::zone_value;
use super::{Examples, Robot};
use crate::error::SkillError;
use crate::registry::SkillSet;
use crate::spec::SkillSpec;
use crate::value::Value;

crate::skill_params! {
    /// `get_zone`'s parameters.
    pub struct GetZone { name: String }
}

/// Adds the place skills.
pub(super) fn add(set: &mut SkillSet, robot: &Arc<Robot>, ex: &Examples) {
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
        move |(), _| {
            Ok(Value::List(
                r.backend.zones().iter().map(zone_value).collect(),
            ))
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new("get_zone", &*format!("The zone called name.\n\nExample: get_zone(\"{}\") -> Zone(name='{}', x={:.1}, y={:.1}, ...)", ex.zone, ex.zone, ex.zone_centre.x, ex.zone_centre.y)).returns("Zone"),
        move |p: GetZone, _| {
            let zones = r.backend.zones();
            zones.iter().find(|z| z.name == p.name).map(zone_value).ok_or_else(|| {
                let names: Vec<&str> = zones.iter().map(|z| z.name.as_str()).collect();
                SkillError::invalid(format!("get_zone(): no zone named {:?}; zones are: {}", p.name, names.join(", ")))
            })
        },
    );
}
