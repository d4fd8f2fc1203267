//! What the robot knows about objects: only what its camera has seen.
//!
//! A real robot cannot drive to an object it has never seen, so neither can
//! the skills: `detect_objects()` adds what the camera reports (with where and
//! when it was seen), `pick` and `place` keep the memory up to date, and
//! `go_to`/`pick` of a name the robot has not seen raise `ObjectNotSeen`.

use crate::geometry::{wrap_angle, P2};
use std::collections::BTreeMap;

use crate::backend::{Detection, Pose2};
use crate::error::{ErrorKind, SkillError};

/// An object the robot has seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Remembered {
    /// The detection, as last seen; `x`, `y` are where it was then (or where
    /// the robot put it down since).
    pub last: Detection,
    /// Robot time when it was last seen or put down, seconds.
    pub seen_at: f64,
    /// Whether the robot holds it now.
    pub held: bool,
}

/// The objects the robot has seen, by name.
#[derive(Debug, Clone, Default)]
pub struct ObjectMemory {
    objects: BTreeMap<String, Remembered>,
}

impl ObjectMemory {
    /// Remembers what the camera reports at robot time `now`.
    pub fn saw(&mut self, detections: &[Detection], now: f64) {
        for d in detections {
            self.objects.insert(
                d.name.clone(),
                Remembered {
                    last: d.clone(),
                    seen_at: now,
                    held: false,
                },
            );
        }
    }

    /// The remembered object called `name`, or an `ObjectNotSeen` error for
    /// `skill` that says to look for it first.
    pub fn get(&self, name: &str, skill: &str) -> Result<&Remembered, SkillError> {
        self.objects.get(name).ok_or_else(|| {
            let known = if self.objects.is_empty() {
                "it has seen no objects yet".to_owned()
            } else {
                format!(
                    "objects it has seen: {}",
                    self.objects.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            };
            SkillError::new(
                ErrorKind::ObjectNotSeen,
                format!(
                    "{skill}({name:?}): the robot has not seen an object called {name:?}, so it does not know where it is ({known}); look for it first: move or turn so the camera can see it, and call detect_objects()"
                ),
            )
        })
    }

    /// Notes that the robot picked up `name`.
    pub fn picked(&mut self, name: &str) {
        if let Some(o) = self.objects.get_mut(name) {
            o.held = true;
        }
    }

    /// Notes that the robot put `name` down at `at` at time `now`.
    pub fn placed(&mut self, name: &str, at: P2, now: f64) {
        if let Some(o) = self.objects.get_mut(name) {
            o.held = false;
            o.last.x = at.x;
            o.last.y = at.y;
            o.seen_at = now;
        }
    }

    /// Every remembered object, by name.
    pub fn objects(&self) -> impl Iterator<Item = &Remembered> {
        self.objects.values()
    }

    /// Every remembered object, with distance and bearing from `pose`.
    pub fn all_from(&self, pose: Pose2) -> Vec<Remembered> {
        self.objects
            .values()
            .map(|o| {
                let mut o = o.clone();
                o.last.distance = pose.distance_to(P2::new(o.last.x, o.last.y));
                o.last.bearing =
                    wrap_angle((o.last.y - pose.y).atan2(o.last.x - pose.x) - pose.theta);
                o
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube(name: &str, x: f64, y: f64) -> Detection {
        Detection {
            name: name.into(),
            kind: "cube".into(),
            colour: "red".into(),
            x,
            y,
            size: 0.1,
            distance: 1.0,
            bearing: 0.0,
        }
    }

    #[test]
    fn only_seen_objects_are_known_and_follow_the_gripper() {
        let mut m = ObjectMemory::default();
        let e = m.get("red", "go_to").unwrap_err();
        assert_eq!(e.kind, ErrorKind::ObjectNotSeen);
        assert!(e.message.contains("detect_objects()"), "{}", e.message);
        m.saw(&[cube("red", 1.0, 2.0)], 3.0);
        assert_eq!(m.get("red", "pick").unwrap().seen_at, 3.0);
        m.picked("red");
        assert!(m.get("red", "pick").unwrap().held);
        m.placed("red", P2::new(4.0, 5.0), 9.0);
        let all = m.all_from(Pose2::new(4.0, 4.0, 0.0));
        assert_eq!(
            (all[0].last.x, all[0].last.y, all[0].held),
            (4.0, 5.0, false)
        );
        assert!((all[0].last.distance - 1.0).abs() < 1e-9);
        assert!((all[0].last.bearing - std::f64::consts::FRAC_PI_2).abs() < 1e-9);
        let e = m.get("blue", "pick").unwrap_err();
        assert!(
            e.message.contains("objects it has seen: red"),
            "{}",
            e.message
        );
    }
}
