//! The skills an agent composes, written once against [`RobotBackend`], by
//! group: [`motion`] (`move_to`, `go_to`, `drive`, `rotate`, `stop`,
//! `wait`), [`perception`] (`get_pose`, `get_scan`, `get_battery`,
//! `detect_objects`, `known_objects`, `get_camera_image`, `get_map_image`), [`places`]
//! (`list_zones`, `get_zone`), [`manipulation`] (`pick`, `place`,
//! `place_at`, `holding`) and `say`; the shared controller is `control`,
//! the result records `values`. Each handler takes its parameters as a typed
//! struct ([`crate::skill_params!`]).
//! Their docstrings are what the LLM reads: units and one example each, the
//! examples taken from the robot's own zones.
//!
//! Every motion skill returns once the robot is at rest, so the pose it
//! returns is where the robot stays. Objects are known only once the camera
//! has reported them ([`ObjectMemory`]).

mod control;
pub mod manipulation;
pub mod motion;
pub mod perception;
pub mod places;
#[cfg(test)]
mod tests;
mod values;

use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::RobotBackend;
use crate::error::{ErrorKind, SkillError};
use crate::geometry::P2;
use crate::memory::ObjectMemory;
use crate::registry::SkillSet;
use crate::spec::SkillSpec;
use crate::value::Value;
pub use values::pose_value;

/// What every skill of one robot shares: the robot, what it has seen, and
/// warnings about how skills were called, for the next observation.
struct Robot {
    backend: Arc<dyn RobotBackend>,
    memory: Mutex<ObjectMemory>,
    notes: Mutex<Vec<String>>,
}

impl Robot {
    /// The robot's capability `what`. The skills that use one exist only
    /// where the robot has it, so the error is for a backend whose accessor
    /// changed its answer.
    fn need<'a, T: ?Sized>(cap: Option<&'a T>, what: &str) -> Result<&'a T, SkillError> {
        cap.ok_or_else(|| SkillError::new(ErrorKind::Robot, format!("this robot has no {what}")))
    }

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
    zone_centre: P2,
    /// The first few zone names as a Python list literal.
    zone_names: String,
}

impl Examples {
    fn new(robot: &dyn RobotBackend) -> Self {
        let zones = robot.zones();
        let pick = zones.iter().find(|z| !z.charger).or(zones.first()).cloned();
        Examples {
            zone: pick.as_ref().map_or("kitchen".into(), |z| z.name.clone()),
            zone_centre: pick.map_or(P2::new(2.0, 1.0), |z| z.centre),
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
    robot_skills_knowing(backend, ObjectMemory::default())
}

/// [`robot_skills`] of a robot that already remembers `memory` (a twin, made
/// knowing what the real robot knows).
pub fn robot_skills_knowing(backend: Arc<dyn RobotBackend>, memory: ObjectMemory) -> SkillSet {
    let robot = Arc::new(Robot {
        backend: backend.clone(),
        memory: Mutex::new(memory),
        notes: Mutex::new(Vec::new()),
    });
    let ex = Examples::new(&*backend);
    let mut set = SkillSet::new(backend.describe());
    set.notes.push(backend.clock_note());
    if let Some(cam) = backend.camera().and_then(|c| c.view()) {
        set.notes.push(format!(
            "The camera sees objects within {:.0} degrees ({:.2} rad) either side of the heading and up to {:.1} m away, unless a wall or obstacle hides them. The robot knows an object only once detect_objects() has reported it.",
            cam.fov.to_degrees() / 2.0,
            cam.fov / 2.0,
            cam.range
        ));
    }
    values::add_records(&mut set, &*backend);
    motion::add(&mut set, &robot, &ex);
    perception::add(&mut set, &robot);
    places::add(&mut set, &robot, &ex);
    if backend.gripper().is_some() {
        manipulation::add(&mut set, &robot, &ex);
    }
    motion::add_wait(&mut set, &robot);
    add_say(&mut set, &robot);
    let r = robot.clone();
    set.set_memory(move || r.memory().clone());
    let b = backend.clone();
    set.set_safe_stop(move || b.safe_stop());
    let b = backend.clone();
    // With the time, for a person or a client asking now.
    set.set_state_line(move || format!("{}, t={:.1}s", b.state_line(), b.time()));
    let r = robot;
    set.set_reporter(move || crate::registry::RobotReport {
        events: r.backend.take_events(),
        state: r.backend.state_line(),
        time: r.backend.time(),
        notes: std::mem::take(&mut *r.notes.lock().unwrap_or_else(|e| e.into_inner())),
    });
    set
}

crate::skill_params! {
    /// `say`'s parameters.
    pub struct Say { text: String }
}

fn add_say(set: &mut SkillSet, robot: &Arc<Robot>) {
    let r = robot.clone();
    set.add(
        SkillSpec::new("say", "Tell the user something (kept in the transcript).\n\nExample: say(\"I am at the door.\")"),
        move |p: Say, _| {
            r.backend.say(&p.text);
            Ok(Value::None)
        },
    );
}

/// A time limit, checked: a positive, finite number of seconds.
fn positive(v: f64, skill: &str, name: &str) -> Result<f64, SkillError> {
    if v > 0.0 && v.is_finite() {
        Ok(v)
    } else {
        Err(SkillError::invalid(format!(
            "{skill}(): {name} must be a positive number of seconds, got {v}"
        )))
    }
}
