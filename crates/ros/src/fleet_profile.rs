//! Fleet profiles: several ROS 2 robots driven from one session. A fleet
//! file lists robots by name and namespace, each from a robot profile (a
//! built-in name or a file) with the fleet's own settings for it laid over
//! it (`limits:`, `safety: {geofence: ...}`, `topics: {map: /map}`). The
//! profile's relative names (`cmd_vel`) are resolved in the robot's
//! namespace (`/beta/cmd_vel`); absolute ones (`/map`) are shared. The
//! fleet has one e-stop for all besides each robot's own. The schema is
//! in `launch/profiles/README.md`.

use serde::Deserialize;
use serde_norway::{Mapping, Value};

use super::profile::{self, ProfileError, RobotProfile};

/// A fleet: its robots' profiles (each with `member` set) and its e-stop.
#[derive(Debug, Clone)]
pub struct FleetProfile {
    /// Short name ("sim_duo").
    pub name: String,
    /// One line for the API text.
    pub description: String,
    /// std_msgs/Bool in: true engages every robot's e-stop and stops the action.
    pub e_stop: String,
    /// The robots, the first the default one.
    pub robots: Vec<RobotProfile>,
}

/// What a profile name or file holds.
#[derive(Debug, Clone)]
pub enum Profiles {
    /// One robot.
    One(Box<RobotProfile>),
    /// A fleet.
    Fleet(FleetProfile),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetFile {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_fleet_e_stop")]
    e_stop: String,
    robots: Vec<Mapping>,
}

fn default_fleet_e_stop() -> String {
    "/e_stop".into()
}

/// Loads a robot profile or a fleet profile (a file with `robots:`) by
/// built-in name or file path.
pub fn load(name_or_path: &str) -> Result<Profiles, ProfileError> {
    let source = profile::read(name_or_path)?;
    if !profile::lists_robots(&source.text) {
        let one = profile::with_files(profile::parse(&source.text, &source.path)?, &source)?;
        return Ok(Profiles::One(Box::new(one)));
    }
    parse_fleet(&source).map(Profiles::Fleet)
}

fn parse_fleet(source: &profile::Source) -> Result<FleetProfile, ProfileError> {
    let at = |line: usize, message: String| ProfileError::Invalid {
        path: source.path.clone(),
        line,
        message,
    };
    let line_of = |needle: &str| {
        source
            .text
            .lines()
            .position(|l| l.contains(needle))
            .map_or(1, |i| i + 1)
    };
    let file: FleetFile = serde_norway::from_str(&source.text).map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        at(e.location().map_or(1, |l| l.line()), message.to_owned())
    })?;
    if file.robots.is_empty() {
        return Err(at(
            line_of("robots:"),
            "a fleet needs at least one robot under robots:".into(),
        ));
    }
    check_name(&file.e_stop).map_err(|m| at(line_of("e_stop:"), format!("e_stop: {m}")))?;
    let mut robots: Vec<RobotProfile> = Vec::new();
    for entry in file.robots {
        let (robot, line) = member(source, entry, &line_of)?;
        for other in &robots {
            if let Some(clash) = clash(other, &robot) {
                return Err(at(line, clash));
            }
        }
        if robot.topics.e_stop == file.e_stop {
            return Err(at(line, format!("robot {} has the fleet's e-stop topic {} as its own: give it one of its own (a relative e_stop, the default, is under its namespace)", robot.member.as_deref().unwrap_or(""), file.e_stop)));
        }
        robots.push(robot);
    }
    Ok(FleetProfile {
        name: file.name,
        description: file.description,
        e_stop: file.e_stop,
        robots,
    })
}

/// One robot of the fleet from its entry: its profile with the entry's
/// settings over it, its names in its namespace; and the entry's line.
fn member(
    source: &profile::Source,
    mut entry: Mapping,
    line_of: &dyn Fn(&str) -> usize,
) -> Result<(RobotProfile, usize), ProfileError> {
    let mut take = |key: &str| -> Result<String, ProfileError> {
        match entry.remove(key) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(ProfileError::Invalid {
                path: source.path.clone(),
                line: line_of("robots:"),
                message: format!("each robot under robots: needs {key}: (a text) besides name, namespace and profile; the other keys are laid over its profile"),
            }),
        }
    };
    let name = take("name")?;
    let namespace = take("namespace")?;
    let base = take("profile")?;
    let line = line_of(&format!("name: {name}"));
    let invalid = |message: String| ProfileError::Invalid {
        path: source.path.clone(),
        line,
        message,
    };
    if let Some(problem) = robot_api::fleet::robot_name_problem(&name) {
        return Err(invalid(problem));
    }
    if !namespace.starts_with('/') {
        return Err(invalid(format!(
            "robot {name}: namespace {namespace:?} must start with '/' (/{namespace})"
        )));
    }
    check_name(&namespace).map_err(|m| invalid(format!("robot {name}: namespace {m}")))?;
    let base_source = if profile::is_builtin(&base) {
        profile::read(&base)?
    } else {
        profile::read(&source.folder.join(&base).to_string_lossy())?
    };
    let mut merged: Value = serde_norway::from_str(&base_source.text).map_err(|e| {
        invalid(format!(
            "robot {name}: its profile {} is not YAML: {e}",
            base_source.path
        ))
    })?;
    lay_over(&mut merged, Value::Mapping(entry));
    let text = serde_norway::to_string(&merged).unwrap_or_default();
    let parsed = profile::parse_in(&text, &base_source.path, &namespace).map_err(|e| match e {
        ProfileError::Invalid { message, .. } => invalid(format!(
            "robot {name} (profile {base} with this file's settings for it): {message}"
        )),
        other => other,
    })?;
    let mut robot = profile::with_files(parsed, &base_source)?;
    robot.member = Some(name);
    Ok((robot, line))
}

/// `over`'s keys laid over `base`: mappings merged key by key, anything
/// else replaced.
fn lay_over(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => lay_over(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Why two robots cannot share a fleet: same name, or the same command,
/// e-stop or gripper names (each would move the other).
fn clash(a: &RobotProfile, b: &RobotProfile) -> Option<String> {
    let (an, bn) = (a.member.as_deref()?, b.member.as_deref()?);
    if an == bn {
        return Some(format!("two robots are called {an:?}"));
    }
    let pairs = [
        ("command", Some(&a.topics.cmd_vel), Some(&b.topics.cmd_vel)),
        ("e-stop", Some(&a.topics.e_stop), Some(&b.topics.e_stop)),
        (
            "gripper",
            a.services.gripper.as_ref(),
            b.services.gripper.as_ref(),
        ),
        (
            "Nav2 action",
            a.nav2.as_ref().map(|n| &n.action),
            b.nav2.as_ref().map(|n| &n.action),
        ),
    ];
    for (what, x, y) in pairs {
        if let (Some(x), Some(y)) = (x, y) {
            if x == y {
                return Some(format!("robots {an} and {bn} both have the {what} name {x}: one robot's commands would move the other; give relative names in the profile (cmd_vel, not /cmd_vel) so each namespace applies, or set them for each robot here"));
            }
        }
    }
    if a.use_sim_time != b.use_sim_time {
        return Some(format!(
            "robots {an} and {bn} disagree on use_sim_time: a fleet has one clock"
        ));
    }
    None
}

/// `Ok` when `name` is a well-formed ROS name; else why not.
fn check_name(name: &str) -> Result<(), String> {
    if profile::well_formed_name(name) {
        return Ok(());
    }
    Err(format!(
        "{name:?} is not a valid ROS name: letters, digits, '_' and '/' between them"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet(text: &str) -> Result<FleetProfile, ProfileError> {
        // A file of its own per call: the tests run at once.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("codeact-fleet-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fleet.yaml");
        std::fs::write(&path, text).unwrap();
        let loaded = load(&path.to_string_lossy());
        let _ = std::fs::remove_dir_all(&dir);
        match loaded? {
            Profiles::Fleet(f) => Ok(f),
            Profiles::One(p) => panic!("read as one robot: {}", p.name),
        }
    }

    const DUO: &str = "name: duo
robots:
  - name: alpha
    namespace: /alpha
    profile: sim
  - name: beta
    namespace: /beta
    profile: sim
    limits: {max_linear: 0.25}
    topics: {map: /map, tf: tf}
    safety: {geofence: [[0, 0], [5, 0], [5, 5]]}
";

    #[test]
    fn each_robot_gets_its_namespace_and_its_own_settings() {
        let f = fleet(DUO).unwrap();
        assert_eq!(f.e_stop, "/e_stop");
        let [alpha, beta] = &f.robots[..] else {
            panic!()
        };
        assert_eq!(alpha.member.as_deref(), Some("alpha"));
        assert_eq!(alpha.topics.cmd_vel, "/alpha/cmd_vel");
        assert_eq!(alpha.topics.e_stop, "/alpha/e_stop");
        assert_eq!(alpha.services.gripper.as_deref(), Some("/alpha/gripper"));
        assert_eq!(
            alpha.topics.camera.as_deref(),
            Some("/alpha/camera/image_raw")
        );
        assert!(alpha.ros_access.deny.contains(&"/alpha/cmd_vel".to_owned()));
        assert_eq!(alpha.limits.max_linear, 0.8);
        assert_eq!(beta.topics.cmd_vel, "/beta/cmd_vel");
        assert_eq!(
            beta.topics.map.as_deref(),
            Some("/map"),
            "an absolute name is shared"
        );
        // Transforms are shared unless a robot's come under its namespace.
        assert_eq!(
            (alpha.topics.tf.as_str(), alpha.topics.tf_static.as_str()),
            ("/tf", "/tf_static")
        );
        assert_eq!(beta.topics.tf, "/beta/tf");
        assert_eq!(beta.limits.max_linear, 0.25);
        assert_eq!(
            beta.limits.max_angular, 2.0,
            "the rest of the limits stay the profile's"
        );
        assert_eq!(beta.safety.geofence.as_ref().map(Vec::len), Some(3));
        assert!(alpha.safety.geofence.is_none());
        // One robot's profile is still one robot.
        assert!(matches!(load("sim").unwrap(), Profiles::One(p) if p.topics.cmd_vel == "/cmd_vel"));
    }

    fn error(text: &str) -> (usize, String) {
        match fleet(text) {
            Err(ProfileError::Invalid { line, message, .. }) => (line, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_fleet_whose_robots_would_move_each_other_is_refused() {
        let shared = DUO
            .replace(
                "profile: sim\n  - name: beta",
                "profile: sim\n    topics: {cmd_vel: /cmd_vel}\n  - name: beta",
            )
            .replace(
                "topics: {map: /map, tf: tf}",
                "topics: {map: /map, tf: tf, cmd_vel: /cmd_vel}",
            );
        let (line, message) = error(&shared);
        assert!(
            message.contains("both have the command name /cmd_vel"),
            "{message}"
        );
        assert_eq!(line, 7, "{message}");
        let (_, message) = error(&DUO.replace("name: beta", "name: alpha"));
        assert!(
            message.contains("two robots are called \"alpha\""),
            "{message}"
        );
        let (_, message) = error(&DUO.replace("name: beta", "name: robots"));
        assert!(message.contains("Python identifier"), "{message}");
        let (_, message) = error(&DUO.replace("namespace: /beta", "namespace: beta"));
        assert!(message.contains("must start with '/'"), "{message}");
        let (_, message) = error(&DUO.replace("max_linear: 0.25", "max_linear: -1"));
        assert!(
            message.contains("robot beta (profile sim")
                && message.contains("max_linear must be a positive number"),
            "{message}"
        );
        let (_, message) = error(&DUO.replace("    profile: sim\n    limits", "    limits"));
        assert!(message.contains("needs profile:"), "{message}");
        let (_, message) = error(&format!("e_stop: /alpha/e_stop\n{DUO}"));
        assert!(message.contains("the fleet's e-stop topic"), "{message}");
        let (_, message) = error("name: none\nrobots: []\n");
        assert!(message.contains("at least one robot"), "{message}");
    }
}
