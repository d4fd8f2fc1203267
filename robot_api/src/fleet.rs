//! A fleet in one skill set: every robot's skills as methods of its robot
//! object in Python (`alpha.move_to(...)`, `robots['beta'].get_pose()`),
//! and the first robot's also as the plain functions, so code written for
//! one robot keeps working. Each robot's skills keep their handlers; the
//! fleet stops every robot on a safe stop and reports each one's events
//! and state under its name.

use std::sync::Arc;

use crate::registry::{RobotReport, SkillHandler, SkillSet};

/// Why `name` cannot name a robot of a fleet, if it cannot: it becomes
/// `robots['name']` and a variable in Python.
pub fn robot_name_problem(name: &str) -> Option<String> {
    (!crate::is_python_name(name) || name == "robot" || name == "robots").then(|| {
        format!("robot name {name:?} must be a Python identifier other than robot and robots (it becomes robots['{name}'] and a variable)")
    })
}

/// One skill set for `robots` (name, skill set), the first the default.
/// A single robot gives its own skill set back.
pub fn fleet_skills(mut robots: Vec<(String, SkillSet)>) -> SkillSet {
    if robots.len() == 1 {
        return robots.remove(0).1;
    }
    let names: Vec<String> = robots.iter().map(|(n, _)| n.clone()).collect();
    let first = &robots[0].1;
    let mut set = SkillSet::new(format!(
        "a fleet of {} robots ({}): {}",
        robots.len(),
        names.join(", "),
        first.title
    ));
    set.notes = first.notes.clone();
    set.notes.push(fleet_note(&robots));
    set.records = first.records.clone();
    for (_, r) in &robots[1..] {
        for record in &r.records {
            if !set.records.iter().any(|x| x.name == record.name) {
                set.records.push(record.clone());
            }
        }
    }
    set.skills = first.skills.clone();
    for (name, r) in &robots {
        for (spec, handler) in &r.skills {
            let mut spec = spec.clone();
            spec.robot = Some(name.clone());
            set.skills.push((spec, naming(name, handler.clone())));
        }
    }
    let stops: Vec<_> = robots
        .iter()
        .filter_map(|(_, r)| r.safe_stop.clone())
        .collect();
    set.safe_stop = Some(Arc::new(move || stops.iter().for_each(|stop| stop())));
    let reporters: Vec<_> = robots
        .iter()
        .filter_map(|(n, r)| r.reporter.clone().map(|rep| (n.clone(), rep)))
        .collect();
    set.reporter = Some(Arc::new(move || merged_report(&reporters)));
    let lines: Vec<_> = robots
        .iter()
        .filter_map(|(n, r)| r.state.clone().map(|s| (n.clone(), s)))
        .collect();
    set.state = Some(Arc::new(move || {
        lines
            .iter()
            .map(|(n, s)| format!("{n}: {}", s()))
            .collect::<Vec<_>>()
            .join("; ")
    }));
    set.memory = first.memory.clone();
    set.memories = robots
        .iter()
        .map(|(_, r)| {
            r.memory
                .clone()
                .unwrap_or_else(|| Arc::new(crate::memory::ObjectMemory::default))
        })
        .collect();
    set.robot_of = std::iter::repeat_n(Some(names[0].clone()), first.skills.len())
        .chain(
            robots
                .iter()
                .flat_map(|(n, r)| std::iter::repeat_n(Some(n.clone()), r.skills.len())),
        )
        .collect();
    set
}

/// `handler`, its errors saying which robot they are of.
fn naming(robot: &str, handler: SkillHandler) -> SkillHandler {
    let robot = robot.to_owned();
    Arc::new(move |args, ctx| {
        handler(args, ctx).map_err(|mut e| {
            e.message = format!("{robot}: {}", e.message);
            e
        })
    })
}

/// What the API text says of the fleet: its robots, the default, and the
/// skills a robot lacks.
fn fleet_note(robots: &[(String, SkillSet)]) -> String {
    let names: Vec<String> = robots.iter().map(|(n, _)| format!("'{n}': {n}")).collect();
    let (first, default) = (&robots[0].0, &robots[0].1);
    let mut note = format!(
        "A fleet: robots = {{{}}}. Every skill is also a method of each robot, acting on it: {first}.move_to(2, 3), robots['{}'].get_pose(). The plain functions act on {first}. To move robots at once, start each call and wait for all: together({first}.start('move_to', 2, 3), {}.start('move_to', 5, 1)) returns their results; robot.start(skill, ...) returns a Started call whose .wait() gives its result. An interrupt or a timeout stops every robot.",
        names.join(", "),
        robots[1].0,
        robots[1].0
    );
    for (name, r) in &robots[1..] {
        let lacks: Vec<&str> = default
            .specs()
            .map(|s| s.name.as_str())
            .filter(|n| !r.specs().any(|s| s.name == *n))
            .collect();
        if !lacks.is_empty() {
            note.push_str(&format!(" {name} has no {}.", lacks.join(", ")));
        }
    }
    note
}

/// Every robot's report, each event and note under its robot's name.
fn merged_report(reporters: &[(String, crate::registry::Reporter)]) -> RobotReport {
    let mut out = RobotReport::default();
    let mut states = Vec::new();
    for (i, (name, report)) in reporters.iter().enumerate() {
        let r = report();
        if i == 0 {
            out.time = r.time;
        }
        out.events
            .extend(r.events.into_iter().map(|e| format!("{name}: {e}")));
        out.notes
            .extend(r.notes.into_iter().map(|n| format!("{name}: {n}")));
        states.push(format!("{name}: {}", r.state));
    }
    out.state = states.join("; ");
    out
}

impl SkillSet {
    /// Wraps every handler (a fleet's simulator marks its robot busy around
    /// each call, so its clock waits for the robot).
    pub fn wrap_handlers(&mut self, wrap: impl Fn(SkillHandler) -> SkillHandler) {
        for (_, handler) in &mut self.skills {
            *handler = wrap(handler.clone());
        }
    }
}
