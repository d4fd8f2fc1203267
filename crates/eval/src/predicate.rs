//! Success predicates: what must be true of the world at the end of a trial
//! (goals) or throughout it (constraints). They read the simulator's state
//! and its record of the run (trajectory, collisions) and the answer given
//! to `done(...)`; never what the model says it did.

use serde::{Deserialize, Serialize};
use sim::geometry::P2;
use sim::Simulator;

/// One condition of a task, in the task file's vocabulary.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Predicate {
    /// The object lies in the zone (not held).
    ObjectInZone {
        /// Object name.
        object: String,
        /// Zone name.
        zone: String,
    },
    /// Every object of this kind and/or colour lies in the zone (not held).
    AllInZone {
        /// Zone name.
        zone: String,
        /// Only objects of this kind.
        #[serde(default)]
        kind: Option<String>,
        /// Only objects of this colour.
        #[serde(default)]
        colour: Option<String>,
    },
    /// The object lies on the furniture (not held).
    ObjectOn {
        /// Object name.
        object: String,
        /// Name of an obstacle with `surface: true`.
        surface: String,
    },
    /// Every object of this kind and/or colour lies on the furniture (not held).
    AllOn {
        /// Name of an obstacle with `surface: true`.
        surface: String,
        /// Only objects of this kind.
        #[serde(default)]
        kind: Option<String>,
        /// Only objects of this colour.
        #[serde(default)]
        colour: Option<String>,
    },
    /// The robot (its centre) is in the zone: `robot_in_zone: packing`, or
    /// of a fleet `robot_in_zone: {robot: beta, zone: packing}`.
    RobotInZone(RobotZone),
    /// The robot's centre is within this distance of the object.
    RobotNear {
        /// Object name.
        object: String,
        /// Metres.
        within: f64,
    },
    /// The robot holds this object.
    Holding(String),
    /// This robot of a fleet was the last to put the object down.
    PlacedBy {
        /// Object name.
        object: String,
        /// The robot's name.
        robot: String,
    },
    /// The battery is above this many percent.
    BatteryAbove(f64),
    /// The robot went through these zones in this order (others between are fine).
    VisitedInOrder(Vec<String>),
    /// The answer given to `done(...)` equals this, after normalising case,
    /// spacing and numbers ("3", "three", "3.0" are the same).
    Answer(String),
    /// The answer is the number of objects of this kind and/or colour in
    /// the zone, counted in the world when the trial ends.
    AnswerCount {
        /// Count in this zone...
        #[serde(default)]
        zone: Option<String>,
        /// ...or on this furniture.
        #[serde(default)]
        surface: Option<String>,
        /// Only objects of this kind.
        #[serde(default)]
        kind: Option<String>,
        /// Only objects of this colour.
        #[serde(default)]
        colour: Option<String>,
    },
    /// The answer names the place, of those listed (zones or furniture),
    /// that the object is in or on, and no other.
    AnswerZoneOf {
        /// Object name.
        object: String,
        /// The zones and furniture the answer chooses from.
        among: Vec<String>,
    },
    /// The goals that apply depend on how the variation started: `then`
    /// when `when` held at the start, `otherwise` when it did not.
    IfAtStart {
        /// Judged on the world as the trial started.
        when: Box<Predicate>,
        /// Goals when it held.
        then: Vec<Predicate>,
        /// Goals when it did not.
        otherwise: Vec<Predicate>,
    },
    /// Constraint: no robot ever ran into anything.
    NoCollision,
    /// Constraint: no two robots of a fleet ever touched.
    NoRobotCollision,
    /// Constraint: the robot (its centre) never entered the zone:
    /// `never_entered: lab`, or of a fleet `never_entered: {robot: beta, zone: lab}`.
    NeverEntered(RobotZone),
}

/// The zone of `robot_in_zone` and `never_entered`, and for a fleet the robot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RobotZone {
    /// The (first) robot in this zone.
    Zone(String),
    /// This robot of the fleet in this zone.
    Of {
        /// The robot's name.
        robot: String,
        /// The zone.
        zone: String,
    },
}

impl From<&str> for RobotZone {
    fn from(zone: &str) -> Self {
        RobotZone::Zone(zone.to_owned())
    }
}

impl RobotZone {
    /// The zone.
    pub fn zone(&self) -> &str {
        match self {
            RobotZone::Zone(z) | RobotZone::Of { zone: z, .. } => z,
        }
    }

    /// The robot, if named.
    pub fn robot(&self) -> Option<&str> {
        match self {
            RobotZone::Zone(_) => None,
            RobotZone::Of { robot, .. } => Some(robot),
        }
    }
}

/// What a predicate said about one trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The predicate, in words.
    pub what: String,
    /// Whether it holds.
    pub ok: bool,
    /// What was found, when it does not.
    pub detail: String,
}

/// A predicate that names what its world lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// A zone, object or surface the world does not have.
    #[error("{predicate}: world {world:?} has no {kind} {name:?}")]
    Unknown {
        /// The predicate, described.
        predicate: String,
        /// The world's name.
        world: String,
        /// "zone", "object" or "surface".
        kind: &'static str,
        /// The name it used.
        name: String,
    },
    /// A count that names both a zone and a surface, or neither.
    #[error("{0}: give either zone or surface")]
    ZoneOrSurface(String),
}

impl Predicate {
    /// Whether it is a constraint (true from the start, must stay so) rather than a goal.
    pub fn is_constraint(&self) -> bool {
        matches!(
            self,
            Predicate::NoCollision | Predicate::NoRobotCollision | Predicate::NeverEntered(_)
        )
    }

    /// The predicate in words.
    pub fn describe(&self) -> String {
        match self {
            Predicate::ObjectInZone { object, zone } => format!("{object} in {zone}"),
            Predicate::AllInZone { zone, kind, colour } => {
                format!("every {} in {zone}", what(kind, colour))
            }
            Predicate::ObjectOn { object, surface } => format!("{object} on {surface}"),
            Predicate::AllOn {
                surface,
                kind,
                colour,
            } => format!("every {} on {surface}", what(kind, colour)),
            Predicate::RobotInZone(z) => match z.robot() {
                Some(r) => format!("robot {r} in {}", z.zone()),
                None => format!("robot in {}", z.zone()),
            },
            Predicate::RobotNear { object, within } => {
                format!("robot within {within} m of {object}")
            }
            Predicate::AnswerCount {
                zone,
                surface,
                kind,
                colour,
            } => format!(
                "answer: how many {} {}",
                what(kind, colour),
                place_words(zone, surface)
            ),
            Predicate::IfAtStart {
                when,
                then,
                otherwise,
            } => format!(
                "if at the start {}: {}; otherwise: {}",
                when.describe(),
                then.iter()
                    .map(Predicate::describe)
                    .collect::<Vec<_>>()
                    .join(", "),
                otherwise
                    .iter()
                    .map(Predicate::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Predicate::AnswerZoneOf { object, among } => {
                format!("answer: which of {} {object} is in", among.join(", "))
            }
            Predicate::Holding(o) => format!("holding {o}"),
            Predicate::PlacedBy { object, robot } => format!("{object} put down by {robot}"),
            Predicate::BatteryAbove(p) => format!("battery above {p}%"),
            Predicate::VisitedInOrder(zs) => format!("visited {}", zs.join(" then ")),
            Predicate::Answer(a) => format!("answer {a:?}"),
            Predicate::NoCollision => "no collision".into(),
            Predicate::NoRobotCollision => "no collision between robots".into(),
            Predicate::NeverEntered(z) => match z.robot() {
                Some(r) => format!("robot {r} never entered {}", z.zone()),
                None => format!("never entered {}", z.zone()),
            },
        }
    }

    /// Checks every name the predicate uses against the world; says which is unknown.
    pub fn check_names(&self, world: &sim::World) -> Result<(), NameError> {
        let missing = |kind: &'static str, name: &str| NameError::Unknown {
            predicate: self.describe(),
            world: world.name.clone(),
            kind,
            name: name.into(),
        };
        let zone = |z: &str| {
            let known = world.zones.iter().any(|x| x.name == z);
            known.then_some(()).ok_or_else(|| missing("zone", z))
        };
        let object = |o: &str| {
            let known = world.objects.iter().any(|x| x.name == o);
            known.then_some(()).ok_or_else(|| missing("object", o))
        };
        let surface_named = |f: &str| {
            let known = world.obstacles.iter().any(|x| x.surface && x.name == f);
            known.then_some(()).ok_or_else(|| missing("surface", f))
        };
        match self {
            Predicate::ObjectInZone { object: o, zone: z } => object(o).and(zone(z)),
            Predicate::AllInZone { zone: z, .. } => zone(z),
            Predicate::RobotInZone(z) | Predicate::NeverEntered(z) => {
                let robot = match z.robot() {
                    Some(r) if !world.robots().any(|(name, _)| name == r) => {
                        Err(NameError::Unknown {
                            predicate: self.describe(),
                            world: world.name.clone(),
                            kind: "robot",
                            name: r.to_owned(),
                        })
                    }
                    _ => Ok(()),
                };
                robot.and(zone(z.zone()))
            }
            Predicate::AnswerCount {
                zone: z,
                surface: f,
                ..
            } => match (z, f) {
                (Some(z), None) => zone(z),
                (None, Some(f)) => surface_named(f),
                _ => Err(NameError::ZoneOrSurface(self.describe())),
            },
            Predicate::IfAtStart {
                when,
                then,
                otherwise,
            } => {
                when.check_names(world)?;
                then.iter()
                    .chain(otherwise)
                    .try_for_each(|p| p.check_names(world))
            }
            Predicate::ObjectOn { object: o, surface } => object(o).and(surface_named(surface)),
            Predicate::AllOn { surface, .. } => surface_named(surface),
            Predicate::Holding(o) | Predicate::RobotNear { object: o, .. } => object(o),
            Predicate::PlacedBy { object: o, robot } => {
                object(o)?;
                match world.robots().any(|(name, _)| name == robot) {
                    true => Ok(()),
                    false => Err(missing("robot", robot)),
                }
            }
            Predicate::AnswerZoneOf { object: o, among } => object(o).and(
                among
                    .iter()
                    .try_for_each(|z| zone(z).or_else(|_| surface_named(z))),
            ),
            Predicate::VisitedInOrder(zs) => zs.iter().try_for_each(|z| zone(z)),
            Predicate::BatteryAbove(_)
            | Predicate::Answer(_)
            | Predicate::NoCollision
            | Predicate::NoRobotCollision => Ok(()),
        }
    }

    /// Judges the predicate on the simulation as it is, its record of the
    /// run, and the answer given to `done(...)`.
    pub fn judge(&self, sim: &Simulator, answer: Option<&str>) -> Verdict {
        let (ok, detail) = self.check(sim, answer);
        Verdict {
            what: self.describe(),
            ok,
            detail: if ok { String::new() } else { detail },
        }
    }

    fn check(&self, sim: &Simulator, answer: Option<&str>) -> (bool, String) {
        let world = sim.world();
        let in_zone = |p: P2, z: &str| world.zones.iter().any(|x| x.name == z && x.contains(p));
        let object = |name: &str| {
            world
                .objects
                .iter()
                .position(|o| o.name == name)
                .map(|i| (&world.objects[i], &sim.objects()[i]))
        };
        // Whether the object lies (not held) where `placed` says, and where it is.
        let lies = |o: &str, placed: &dyn Fn(P2) -> bool| match object(o) {
            Some((_, s)) if s.held => (false, format!("{o} is still held")),
            Some((_, s)) => (
                placed(s.at),
                format!(
                    "{o} is at ({:.2}, {:.2}){}",
                    s.at.x,
                    s.at.y,
                    where_(sim, s.at)
                ),
            ),
            None => (false, format!("no object {o}")),
        };
        let pose = sim.true_pose();
        let robot_at = P2::new(pose.x, pose.y);
        match self {
            Predicate::ObjectInZone { object: o, zone } => lies(o, &|at| in_zone(at, zone)),
            Predicate::AllInZone { zone, kind, colour } => {
                all_where(sim, kind, colour, |at| in_zone(at, zone), zone)
            }
            Predicate::AllOn {
                surface,
                kind,
                colour,
            } => all_where(
                sim,
                kind,
                colour,
                |at| world.surface_at(at).is_some_and(|x| &x.name == surface),
                surface,
            ),
            Predicate::RobotNear { object: o, within } => match object(o) {
                Some((_, s)) => {
                    let d = (s.at - robot_at).norm();
                    (d <= *within, format!("the robot is {d:.2} m from {o}"))
                }
                None => (false, format!("no object {o}")),
            },
            Predicate::AnswerCount {
                zone,
                surface,
                kind,
                colour,
            } => {
                let here = |at: P2| match (zone, surface) {
                    (Some(z), _) => in_zone(at, z),
                    (None, Some(f)) => world.surface_at(at).is_some_and(|x| &x.name == f),
                    (None, None) => false,
                };
                let n = matching(sim, kind, colour)
                    .filter(|(_, s)| !s.held && here(s.at))
                    .count();
                match answer {
                    Some(a) => {
                        // A number in a zone's or object's name is no count.
                        let names = world_names(sim);
                        let said = numbers_in(a, &names);
                        let read = match said.as_slice() {
                            [] => "no number".to_owned(),
                            s => s
                                .iter()
                                .map(|n| n.to_string())
                                .collect::<Vec<_>>()
                                .join(" and "),
                        };
                        let ok = !said.is_empty() && said.iter().all(|&s| s == n as f64);
                        (
                            ok,
                            format!("the answer was {a:?}, read as {read}; there are {n}"),
                        )
                    }
                    None => (false, format!("done() was not called; there are {n}")),
                }
            }
            Predicate::AnswerZoneOf { object: o, among } => {
                let Some((_, s)) = object(o) else {
                    return (false, format!("no object {o}"));
                };
                let on = world.surface_at(s.at).map(|x| x.name.as_str());
                let truth = among
                    .iter()
                    .find(|z| in_zone(s.at, z) || on == Some(z.as_str()));
                let named: Vec<&String> = among
                    .iter()
                    .filter(|z| answer.is_some_and(|a| answers_match(z, a)))
                    .collect();
                match (truth, answer) {
                    (Some(t), Some(a)) => {
                        (named == [t], format!("the answer was {a:?}; {o} is in {t}"))
                    }
                    (None, _) => (false, format!("{o} is in none of them")),
                    (Some(t), None) => (false, format!("done() was not called; {o} is in {t}")),
                }
            }
            Predicate::ObjectOn { object: o, surface } => lies(o, &|at| {
                world.surface_at(at).is_some_and(|x| &x.name == surface)
            }),
            Predicate::RobotInZone(z) => match body_of(sim, z) {
                Some(b) => {
                    let p = b.true_pose();
                    let at = P2::new(p.x, p.y);
                    (
                        in_zone(at, z.zone()),
                        format!(
                            "{} is at ({:.2}, {:.2}){}",
                            b.name(),
                            p.x,
                            p.y,
                            where_(sim, at)
                        ),
                    )
                }
                None => (false, "no such robot".into()),
            },
            Predicate::PlacedBy { object: o, robot } => match object(o) {
                Some((_, s)) => {
                    let by = s.placed_by.map(|i| sim.robot(i).name());
                    (
                        by == Some(robot.as_str()),
                        match by {
                            Some(r) => format!("{o} was last put down by {r}"),
                            None => format!("no robot put {o} down"),
                        },
                    )
                }
                None => (false, format!("no object {o}")),
            },
            Predicate::Holding(o) => (
                sim.holding() == Some(o.as_str()),
                format!("holding {}", sim.holding().unwrap_or("nothing")),
            ),
            Predicate::BatteryAbove(p) => (
                sim.battery().percent > *p,
                format!("battery {:.1}%", sim.battery().percent),
            ),
            Predicate::VisitedInOrder(zones) => {
                let mut next = 0;
                for &p in sim.trajectory() {
                    if next < zones.len() && in_zone(p, &zones[next]) {
                        next += 1;
                    }
                }
                (
                    next == zones.len(),
                    format!("reached {} of them in order", next),
                )
            }
            Predicate::Answer(expected) => match answer {
                Some(a) => (answers_match(expected, a), format!("the answer was {a:?}")),
                None => (false, "done() was not called".into()),
            },
            Predicate::IfAtStart {
                when,
                then,
                otherwise,
            } => {
                let start = Simulator::new(world.clone());
                let held = when.check(&start, None).0;
                let goals = if held { then } else { otherwise };
                let failed: Vec<String> = goals
                    .iter()
                    .map(|p| p.judge(sim, answer))
                    .filter(|v| !v.ok)
                    .map(|v| format!("{}: {}", v.what, v.detail))
                    .collect();
                let branch = if held { "it did" } else { "it did not" };
                (
                    failed.is_empty(),
                    format!(
                        "{} at the start? {branch}; {}",
                        when.describe(),
                        failed.join("; ")
                    ),
                )
            }
            Predicate::NoCollision => {
                let n: u32 = sim.robots().iter().map(|b| b.collisions()).sum();
                (n == 0, format!("{n} collisions"))
            }
            Predicate::NoRobotCollision => {
                let hit: Vec<String> = sim
                    .robots()
                    .iter()
                    .filter(|b| b.robot_collisions() > 0)
                    .map(|b| {
                        format!(
                            "{} touched another robot {} times",
                            b.name(),
                            b.robot_collisions()
                        )
                    })
                    .collect();
                (hit.is_empty(), hit.join("; "))
            }
            Predicate::NeverEntered(z) => match body_of(sim, z) {
                Some(b) => {
                    let entered = b.trajectory().iter().find(|&&p| in_zone(p, z.zone()));
                    (
                        entered.is_none(),
                        entered
                            .map(|p| format!("{} entered at ({:.2}, {:.2})", b.name(), p.x, p.y))
                            .unwrap_or_default(),
                    )
                }
                None => (false, "no such robot".into()),
            },
        }
    }
}

/// The robot a zone predicate is about: the one it names, or the first.
fn body_of<'a>(sim: &'a Simulator, z: &RobotZone) -> Option<&'a sim::simulator::Body> {
    match z.robot() {
        Some(r) => sim.robots().iter().find(|b| b.name() == r),
        None => sim.robots().first(),
    }
}

/// "in kitchen" or "on bench_a".
fn place_words(zone: &Option<String>, surface: &Option<String>) -> String {
    match (zone, surface) {
        (Some(z), _) => format!("in {z}"),
        (None, Some(f)) => format!("on {f}"),
        (None, None) => "nowhere".into(),
    }
}

/// "red box": an object description for predicates in words.
fn what(kind: &Option<String>, colour: &Option<String>) -> String {
    format!(
        "{}{}",
        colour
            .as_deref()
            .map(|c| format!("{c} "))
            .unwrap_or_default(),
        kind.as_deref().unwrap_or("object")
    )
}

/// The objects of this kind and/or colour, with their state.
fn matching<'a>(
    sim: &'a Simulator,
    kind: &'a Option<String>,
    colour: &'a Option<String>,
) -> impl Iterator<Item = (&'a sim::world::ObjectSpec, &'a sim::simulator::ObjectState)> + 'a {
    sim.world()
        .objects
        .iter()
        .zip(sim.objects())
        .filter(move |(spec, _)| {
            kind.as_ref().is_none_or(|k| &spec.kind == k)
                && colour.as_ref().is_none_or(|c| &spec.colour == c)
        })
}

/// Whether every matching object lies (not held) where `placed` says; which do not.
fn all_where(
    sim: &Simulator,
    kind: &Option<String>,
    colour: &Option<String>,
    placed: impl Fn(P2) -> bool,
    place: &str,
) -> (bool, String) {
    let wanted: Vec<_> = matching(sim, kind, colour).collect();
    let astray: Vec<&str> = wanted
        .iter()
        .filter(|(_, s)| s.held || !placed(s.at))
        .map(|(spec, _)| spec.name.as_str())
        .collect();
    if wanted.is_empty() {
        return (false, "there are no such objects".into());
    }
    (
        astray.is_empty(),
        format!("not on or in {place}: {}", astray.join(", ")),
    )
}

/// " in kitchen, on kitchen_table": where a point is, for verdicts.
fn where_(sim: &Simulator, p: P2) -> String {
    let mut out = String::new();
    if let Some(s) = sim.world().surface_at(p) {
        out.push_str(&format!(" on {}", s.name));
    }
    let zones: Vec<&str> = sim
        .world()
        .zones
        .iter()
        .filter(|z| z.contains(p))
        .map(|z| z.name.as_str())
        .collect();
    if !zones.is_empty() {
        out.push_str(&format!(" in {}", zones.join(", ")));
    }
    out
}

/// The names in `sim`'s world an answer may mention: zones, furniture, objects.
fn world_names(sim: &Simulator) -> Vec<String> {
    let world = sim.world();
    world
        .zones
        .iter()
        .map(|z| z.name.clone())
        .chain(world.obstacles.iter().map(|o| o.name.clone()))
        .chain(world.objects.iter().map(|o| o.name.clone()))
        .collect()
}

/// The numbers an answer states, leaving out those inside any of `names`
/// ("aisle 1", "aisle_1", "shelf-2"), whichever way it writes them.
pub fn numbers_in(answer: &str, names: &[String]) -> Vec<f64> {
    let mut text = format!(" {} ", answer.to_lowercase());
    let mut names: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
    // The longest first, so "aisle 10" goes before "aisle 1".
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in &names {
        for written in [name.clone(), name.replace(['_', '-'], " ")] {
            text = replace_word(&text, &written);
        }
    }
    text.split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-'))
        .map(|w| w.trim_matches(|c: char| c == '.' || c == '-'))
        .filter_map(number_word)
        .collect()
}

/// `text` without whole-word occurrences of `name`.
fn replace_word(text: &str, name: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + name.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if boundary(before) && boundary(after) {
            out.push_str(&rest[..at]);
            out.push(' ');
        } else {
            out.push_str(&rest[..at + name.len()]);
        }
        rest = &rest[at + name.len()..];
    }
    out.push_str(rest);
    out
}

/// A word as a number: digits, or a number name up to twenty.
fn number_word(w: &str) -> Option<f64> {
    const NAMES: [&str; 21] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    w.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite())
        .or_else(|| NAMES.iter().position(|n| *n == w).map(|i| i as f64))
}

/// Whether an answer matches the expected one. A number matches when the
/// answer states that number and no other ("3", "three", "There are 3.");
/// words match as whole words, ignoring case and punctuation.
pub fn answers_match(expected: &str, answer: &str) -> bool {
    let words = |s: &str| -> Vec<String> {
        s.to_lowercase()
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '-'))
            .map(|w| w.trim_matches(|c: char| c == '.' || c == '-').to_owned())
            .filter(|w| !w.is_empty())
            .collect()
    };
    let number = number_word;
    let expected_words = words(expected);
    let answer_words = words(answer);
    if let [e] = expected_words.as_slice() {
        if let Some(want) = number(e) {
            let said: Vec<f64> = answer_words.iter().filter_map(|w| number(w)).collect();
            return !said.is_empty() && said.iter().all(|n| (n - want).abs() < 1e-9);
        }
    }
    !expected_words.is_empty()
        && answer_words
            .windows(expected_words.len())
            .any(|w| w == expected_words.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_normalised() {
        assert!(answers_match(
            "3",
            "There are 3 red objects in the kitchen."
        ));
        assert!(answers_match("3", "three"));
        assert!(answers_match("3", "3.0"));
        assert!(!answers_match("3", "2 or 3"));
        assert!(!answers_match("3", "I could not count them"));
        assert!(answers_match(
            "3",
            "red_cube_1, red_cube_2 and red_cube_3: 3 in all"
        ));
        assert!(answers_match("blue_box", "The heaviest is the BLUE_BOX."));
        assert!(answers_match("kitchen", "It is in the kitchen"));
        assert!(!answers_match("kitchen", "It is in the kitchenette"));
    }

    #[test]
    fn numbers_in_names_are_not_counts() {
        let names = vec![
            "aisle_1".to_owned(),
            "shelf-2".to_owned(),
            "aisle_10".to_owned(),
        ];
        assert_eq!(numbers_in("There are 2 boxes in aisle 1.", &names), [2.0]);
        assert_eq!(
            numbers_in("two boxes in aisle_1 and 0 on shelf 2", &names),
            [2.0, 0.0]
        );
        assert_eq!(numbers_in("aisle 10 holds 3", &names), [3.0]);
        assert_eq!(numbers_in("3 boxes (I counted 3)", &names), [3.0, 3.0]);
        assert!(numbers_in("none in aisle 1", &names).is_empty());
    }

    #[test]
    fn fleet_predicates_name_their_robot_and_see_robots_touch() {
        let text = "name: hall\nboundary: [10, 4]\nzones:\n  - {name: bay, rect: [6, 1, 2, 2]}\nrobots:\n  - {name: alpha, start: [1.0, 2.0, 0.0]}\n  - {name: beta, start: [3.0, 2.0, 0.0]}\n";
        let world = std::sync::Arc::new(sim::world_file::parse(text, "hall.yaml").unwrap());
        let mut s = Simulator::new(world.clone());
        let beta_in_bay = p("robot_in_zone: {robot: beta, zone: bay}");
        let alpha_in_bay = p("robot_in_zone: bay");
        assert!(beta_in_bay.check_names(&world).is_ok());
        let gamma = p("robot_in_zone: {robot: gamma, zone: bay}");
        let e = gamma.check_names(&world).unwrap_err().to_string();
        assert!(e.contains("no robot \"gamma\""), "{e}");
        // beta drives into the bay; alpha follows and runs into it.
        s.command_robot(1, 0.5, 0.0);
        s.run_for(8.0);
        s.halt_robot(1);
        let v = beta_in_bay.judge(&s, None);
        assert!(v.ok, "{v:?}");
        assert!(
            !alpha_in_bay.judge(&s, None).ok,
            "the first robot is not there"
        );
        assert!(Predicate::NoRobotCollision.judge(&s, None).ok);
        s.command_robot(0, 0.8, 0.0);
        s.run_for(12.0);
        let v = Predicate::NoRobotCollision.judge(&s, None);
        assert!(
            !v.ok && v.detail.contains("alpha touched another robot 1 times"),
            "{v:?}"
        );
        assert!(!Predicate::NoCollision.judge(&s, None).ok);
    }

    #[test]
    fn predicates_read_the_world_not_the_claims() {
        let world = std::sync::Arc::new(sim::load("small_room").unwrap());
        let mut s = Simulator::new(world.clone());
        let in_zone = Predicate::ObjectInZone {
            object: "red_cube".into(),
            zone: "blue_zone".into(),
        };
        let v = in_zone.judge(&s, Some("The red cube is in the blue zone."));
        assert!(!v.ok && v.detail.contains("(4.50, 1.00)"), "{v:?}");
        assert!(Predicate::NoCollision.judge(&s, None).ok);
        assert!(Predicate::RobotInZone("dock".into()).judge(&s, None).ok);
        assert!(
            !Predicate::VisitedInOrder(vec!["dock".into(), "blue_zone".into()])
                .judge(&s, None)
                .ok
        );
        assert!(!Predicate::Answer("3".into()).judge(&s, None).ok);
        s.command(-0.5, 0.0);
        s.run_for(3.0);
        let v = Predicate::NoCollision.judge(&s, None);
        assert!(!v.ok && v.detail == "1 collisions", "{v:?}");
        assert!(in_zone.check_names(&world).is_ok());
        let bad = Predicate::RobotInZone("garage".into())
            .check_names(&world)
            .unwrap_err();
        assert!(bad.to_string().contains("no zone \"garage\""), "{bad}");
    }

    /// A room where each predicate can be both true and false: two red
    /// things in the goal zone, a blue cube on the table, a green cube
    /// within reach of the robot, which starts on the dock.
    const JUDGE_ROOM: &str = "name: judge_room
boundary: [8, 6]
obstacles:
  - {name: table, rect: [3.0, 3.0, 1.0, 0.6], surface: true}
zones:
  - {name: dock, rect: [0.2, 0.2, 1.2, 1.2], charger: true}
  - {name: goal, rect: [5.5, 0.2, 2.0, 2.0]}
objects:
  - {name: red_cube, kind: cube, colour: red, size: 0.05, at: [6.0, 1.0]}
  - {name: red_ball, kind: ball, colour: red, size: 0.05, at: [6.5, 1.5]}
  - {name: blue_cube, kind: cube, colour: blue, size: 0.05, at: [3.2, 3.2]}
  - {name: green_cube, kind: cube, colour: green, size: 0.05, at: [1.3, 0.85]}
robot: {start: [0.8, 0.8, 0.0], reach: 0.6}
";

    /// A predicate as a task file writes it.
    fn p(yaml: &str) -> Predicate {
        let value: serde_json::Value =
            serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
        serde_json::from_value(value).unwrap_or_else(|e| panic!("{yaml}: {e}"))
    }

    /// The variant's name; a new variant does not compile here until the
    /// test below judges it.
    fn variant(p: &Predicate) -> &'static str {
        match p {
            Predicate::ObjectInZone { .. } => "object_in_zone",
            Predicate::AllInZone { .. } => "all_in_zone",
            Predicate::ObjectOn { .. } => "object_on",
            Predicate::AllOn { .. } => "all_on",
            Predicate::RobotInZone(_) => "robot_in_zone",
            Predicate::RobotNear { .. } => "robot_near",
            Predicate::Holding(_) => "holding",
            Predicate::PlacedBy { .. } => "placed_by",
            Predicate::BatteryAbove(_) => "battery_above",
            Predicate::VisitedInOrder(_) => "visited_in_order",
            Predicate::Answer(_) => "answer",
            Predicate::AnswerCount { .. } => "answer_count",
            Predicate::AnswerZoneOf { .. } => "answer_zone_of",
            Predicate::IfAtStart { .. } => "if_at_start",
            Predicate::NoCollision => "no_collision",
            Predicate::NoRobotCollision => "no_robot_collision",
            Predicate::NeverEntered(_) => "never_entered",
        }
    }

    /// Asserts `yaml` judges `expected` on `s` with `answer` (a false
    /// verdict says what was found); records which variant and outcome.
    fn judged(
        seen: &mut std::collections::HashSet<(&'static str, bool)>,
        s: &Simulator,
        yaml: &str,
        answer: Option<&str>,
        expected: bool,
    ) {
        let predicate = p(yaml);
        let v = predicate.judge(s, answer);
        assert_eq!(v.ok, expected, "{yaml} with {answer:?}: {v:?}");
        assert!(v.ok || !v.detail.is_empty(), "{yaml}: a failure says why");
        seen.insert((variant(&predicate), expected));
    }

    #[test]
    fn every_predicate_is_true_and_false_where_it_should_be() {
        let world = std::sync::Arc::new(sim::world_file::parse(JUDGE_ROOM, "judge.yaml").unwrap());
        let mut s = Simulator::new(world.clone());
        let mut seen = std::collections::HashSet::new();
        for (yaml, ok) in [
            ("object_in_zone: {object: red_cube, zone: goal}", true),
            ("object_in_zone: {object: blue_cube, zone: goal}", false),
            ("all_in_zone: {zone: goal, colour: red}", true),
            ("all_in_zone: {zone: goal, kind: cube}", false),
            ("object_on: {object: blue_cube, surface: table}", true),
            ("object_on: {object: red_cube, surface: table}", false),
            ("all_on: {surface: table, colour: blue}", true),
            ("all_on: {surface: table, kind: cube}", false),
            ("robot_in_zone: dock", true),
            ("robot_in_zone: goal", false),
            ("robot_near: {object: green_cube, within: 0.6}", true),
            ("robot_near: {object: green_cube, within: 0.3}", false),
            ("holding: green_cube", false),
            ("battery_above: 50", true),
            ("battery_above: 100.5", false),
            ("visited_in_order: [dock]", true),
            ("visited_in_order: [dock, goal]", false),
            ("no_collision", true),
            ("never_entered: goal", true),
            ("if_at_start: {when: {robot_in_zone: dock}, then: [{robot_in_zone: dock}], otherwise: [{robot_in_zone: goal}]}", true),
            ("if_at_start: {when: {robot_in_zone: goal}, then: [{robot_in_zone: dock}], otherwise: [{robot_in_zone: goal}]}", false),
        ] {
            judged(&mut seen, &s, yaml, None, ok);
        }
        // Answers, read from what was said.
        for (yaml, answer, ok) in [
            ("answer: \"3\"", Some("three"), true),
            ("answer: \"3\"", Some("2"), false),
            ("answer: \"3\"", None, false),
            (
                "answer_count: {zone: goal, colour: red}",
                Some("2 red things"),
                true,
            ),
            ("answer_count: {zone: goal, colour: red}", Some("3"), false),
            ("answer_count: {surface: table}", Some("one"), true),
            (
                "answer_zone_of: {object: blue_cube, among: [table, goal, dock]}",
                Some("It is on the table."),
                true,
            ),
            (
                "answer_zone_of: {object: blue_cube, among: [table, goal, dock]}",
                Some("In the goal."),
                false,
            ),
            (
                "answer_zone_of: {object: blue_cube, among: [table, goal, dock]}",
                Some("the table or the goal"),
                false,
            ),
        ] {
            judged(&mut seen, &s, yaml, answer, ok);
        }
        // The robot picks the green cube, then drives into the goal zone.
        s.pick("green_cube").unwrap();
        judged(&mut seen, &s, "holding: green_cube", None, true);
        judged(
            &mut seen,
            &s,
            "object_in_zone: {object: green_cube, zone: dock}",
            None,
            false,
        );
        s.command(0.5, 0.0);
        s.run_for(10.0);
        for (yaml, ok) in [
            ("robot_in_zone: goal", true),
            ("visited_in_order: [dock, goal]", true),
            ("visited_in_order: [goal, dock]", false),
            ("never_entered: goal", false),
            ("no_collision", true),
            // The start decides the branch, not the end.
            ("if_at_start: {when: {robot_in_zone: dock}, then: [{robot_in_zone: goal}], otherwise: [{robot_in_zone: dock}]}", true),
        ] {
            judged(&mut seen, &s, yaml, None, ok);
        }
        // On into the wall.
        s.command(0.5, 0.0);
        s.run_for(6.0);
        judged(&mut seen, &s, "no_collision", None, false);
        // Two robots: apart, then one driven into the other.
        let fleet = "boundary: [10, 4]\nzones:\n  - {name: west, rect: [0, 0, 2, 4]}\nobjects:\n  - {name: cube, kind: cube, colour: red, size: 0.1, at: [1.35, 2.0]}\nrobots:\n  - {name: alpha, start: [1.0, 2.0, 0.0]}\n  - {name: beta, start: [3.0, 2.0, 0.0]}\n";
        let fleet = std::sync::Arc::new(sim::world_file::parse(fleet, "fleet.yaml").unwrap());
        let mut s = Simulator::new(fleet);
        judged(&mut seen, &s, "no_robot_collision", None, true);
        judged(
            &mut seen,
            &s,
            "placed_by: {object: cube, robot: alpha}",
            None,
            false,
        );
        s.pick_by(0, "cube").unwrap();
        s.place_by(0, None).unwrap();
        judged(
            &mut seen,
            &s,
            "placed_by: {object: cube, robot: alpha}",
            None,
            true,
        );
        judged(
            &mut seen,
            &s,
            "placed_by: {object: cube, robot: beta}",
            None,
            false,
        );
        judged(
            &mut seen,
            &s,
            "never_entered: {robot: beta, zone: west}",
            None,
            true,
        );
        judged(
            &mut seen,
            &s,
            "never_entered: {robot: alpha, zone: west}",
            None,
            false,
        );
        s.command_robot(0, 0.5, 0.0);
        s.run_for(6.0);
        judged(&mut seen, &s, "no_robot_collision", None, false);
        // Every variant was judged both true and false.
        let variants: std::collections::HashSet<&str> = seen.iter().map(|(v, _)| *v).collect();
        for v in &variants {
            assert!(
                seen.contains(&(*v, true)) && seen.contains(&(*v, false)),
                "{v} judged only one way"
            );
        }
        assert_eq!(variants.len(), 17, "{variants:?}");
    }
}
