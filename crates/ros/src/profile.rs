//! Robot profiles: how a ROS 2 robot is reached and what it may do. A YAML
//! file names the robot's topics and services, its frames and limits, the
//! skills it has, its named zones, the safety settings the node enforces and
//! which topics and services code actions may reach directly. The schema is
//! in `launch/profiles/README.md`; built-in profiles sit next to it.

use std::path::Path;

use robot_api::geometry::P2;
use serde::Deserialize;

use super::declared::{DeclarationError, DeclaredSkill};

/// Built-in profiles, by name.
const BUILTIN: &[(&str, &str)] = &[
    ("sim", include_str!("../../../launch/profiles/sim.yaml")),
    (
        "turtlebot3",
        include_str!("../../../launch/profiles/turtlebot3.yaml"),
    ),
    (
        "sim_duo",
        include_str!("../../../launch/profiles/sim_duo.yaml"),
    ),
];

/// Why a profile could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read the robot profile {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Neither a built-in name nor an existing file.
    #[error("no robot profile named {0:?}: give a built-in name ({names}) or the path of a .yaml profile (see launch/profiles/README.md)", names = builtin_names())]
    Unknown(String),
    /// The file is not a valid profile.
    #[error("{path}:{line}: {message}. See launch/profiles/README.md for the schema")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line the problem is on (or near).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A robot profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RobotProfile {
    /// Short name ("turtlebot3").
    pub name: String,
    /// One line for the API text the LLM reads ("a TurtleBot 3 Burger with a 2D lidar").
    #[serde(default)]
    pub description: String,
    /// Topic names.
    pub topics: ProfileTopics,
    /// Service names.
    #[serde(default)]
    pub services: ProfileServices,
    /// Frame names.
    #[serde(default)]
    pub frames: Frames,
    /// Physical limits; commands are clamped to them.
    pub limits: ProfileLimits,
    /// How precisely motion skills stop.
    #[serde(default)]
    pub tolerances: ProfileTolerances,
    /// Safety settings enforced by the node, below Python.
    #[serde(default)]
    pub safety: SafetySettings,
    /// Only these skills exist (default: every skill the robot's topics support).
    #[serde(default)]
    pub skills: Option<Vec<String>>,
    /// Named places.
    #[serde(default)]
    pub zones: Vec<ProfileZone>,
    /// Which topics and services code actions may reach with the generic ROS functions.
    #[serde(default)]
    pub ros_access: AccessLists,
    /// The skill library's folder (relative paths: to the profile file's
    /// folder, once loaded); `None`: the default one for the profile's name.
    #[serde(default)]
    pub skill_library: Option<std::path::PathBuf>,
    /// Nav2 as the navigator of `move_to` and `go_to` (instead of the
    /// built-in planner on /odom, /scan and /map).
    #[serde(default)]
    pub nav2: Option<Nav2Settings>,
    /// Skills this robot has beyond the built-in ones: ROS actions, services
    /// and topics as Python functions.
    #[serde(default)]
    pub ros_skills: Vec<DeclaredSkill>,
    /// Follow simulated time from /clock (Gazebo, a bag played with
    /// --clock), as ROS nodes do with the parameter `use_sim_time`: the
    /// stamps of commands, goals and recordings, and the skills' timeouts.
    /// The safety watchdog and stale-data limits stay on the wall clock.
    #[serde(default)]
    pub use_sim_time: bool,
    /// Rehearse every action on a twin before it runs (`off`, `show`,
    /// `gate`; docs/preview.md), unless the command's --preview says otherwise.
    #[serde(default)]
    pub preview: Option<codeact_executor::PreviewMode>,
    /// A map from a file, for a robot whose graph publishes none (relative
    /// paths: to the profile file's folder): a map_server map YAML or a
    /// codeact world file. The map topic's map wins once one arrives.
    #[serde(default)]
    pub map_file: Option<std::path::PathBuf>,
    /// The map `map_file` holds, read when the profile is loaded.
    #[serde(skip)]
    pub file_map: Option<robot_api::nav::GridMap>,
    /// The file it came from and its text, for errors that point at a line.
    #[serde(skip)]
    pub source: (String, String),
    /// Its name in a fleet (`None`: the session's only robot).
    #[serde(skip)]
    pub member: Option<String>,
}

impl RobotProfile {
    /// A problem with a declared skill as a profile error at its line.
    pub fn declaration_error(&self, e: &DeclarationError) -> ProfileError {
        ProfileError::Invalid {
            path: self.source.0.clone(),
            line: e.line(&self.source.1),
            message: e.message.clone(),
        }
    }
}

/// How `move_to` and `go_to` reach Nav2.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nav2Settings {
    /// Nav2's `nav2_msgs/action/NavigateToPose` action.
    #[serde(default = "default_nav2_action")]
    pub action: String,
    /// The behavior tree to ask for (empty: Nav2's default).
    #[serde(default)]
    pub behavior_tree: String,
    /// Where Nav2's controller publishes its velocity commands when they
    /// are to pass through the bridge (its `cmd_vel` remapped here, e.g.
    /// `/cmd_vel_nav`): the bridge relays them to the base within the
    /// profile's limits, geofence, watchdog and e-stop, as Nav2's collision
    /// monitor does. Without it Nav2 drives the base directly.
    #[serde(default)]
    pub relay: Option<String>,
    /// The message type on `relay` (`twist` or `twist_stamped`, as Nav2's
    /// `enable_stamped_cmd_vel` says).
    #[serde(default)]
    pub relay_type: CmdVelType,
}

fn default_nav2_action() -> String {
    "navigate_to_pose".into()
}

/// Topic names. A topic left out means the robot lacks that sensor.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileTopics {
    /// nav_msgs/Odometry in.
    pub odom: String,
    /// Velocity commands out, as `cmd_vel_type` says.
    pub cmd_vel: String,
    /// The message `cmd_vel` takes: `twist` (geometry_msgs/Twist) or
    /// `twist_stamped` (geometry_msgs/TwistStamped, stamped now in the base
    /// frame), as ros2_control's diff_drive_controller and Nav2 expect from Jazzy on.
    #[serde(default)]
    pub cmd_vel_type: CmdVelType,
    /// sensor_msgs/LaserScan in.
    #[serde(default)]
    pub scan: Option<String>,
    /// sensor_msgs/BatteryState in.
    #[serde(default)]
    pub battery: Option<String>,
    /// nav_msgs/OccupancyGrid in (latched), for path planning.
    #[serde(default)]
    pub map: Option<String>,
    /// std_msgs/String in, a JSON list of detected objects (the simulator's camera).
    #[serde(default)]
    pub detections: Option<String>,
    /// sensor_msgs/Image in (rgb8, bgr8, rgba8, bgra8, mono8): `get_camera_image()`.
    #[serde(default)]
    pub camera: Option<String>,
    /// sensor_msgs/CompressedImage in (JPEG or PNG), instead of `camera`.
    #[serde(default)]
    pub camera_compressed: Option<String>,
    /// std_msgs/Bool in: true engages the e-stop (latched until cleared).
    #[serde(default = "default_e_stop")]
    pub e_stop: String,
    /// tf2_msgs/TFMessage in, where a localizing robot's `map → odom`
    /// comes: the shared `/tf` by default; `tf` in a fleet whose robots
    /// each publish their own under their namespace (as Nav2's multi-robot
    /// bringup does).
    #[serde(default = "default_tf")]
    pub tf: String,
    /// The same, latched (`/tf_static` by default).
    #[serde(default = "default_tf_static")]
    pub tf_static: String,
}

fn default_e_stop() -> String {
    "e_stop".into()
}
fn default_tf() -> String {
    "/tf".into()
}
fn default_tf_static() -> String {
    "/tf_static".into()
}

/// The message type of a robot's velocity commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmdVelType {
    /// geometry_msgs/Twist.
    #[default]
    Twist,
    /// geometry_msgs/TwistStamped.
    TwistStamped,
}

impl CmdVelType {
    /// The ROS type name, as the graph lists it.
    pub fn ros_type(self) -> &'static str {
        match self {
            CmdVelType::Twist => "geometry_msgs/msg/Twist",
            CmdVelType::TwistStamped => "geometry_msgs/msg/TwistStamped",
        }
    }

    /// The profile's name for it.
    pub fn name(self) -> &'static str {
        match self {
            CmdVelType::Twist => "twist",
            CmdVelType::TwistStamped => "twist_stamped",
        }
    }
}

/// Service names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileServices {
    /// std_srvs/SetBool: true closes the gripper on the object within reach, false opens it.
    #[serde(default)]
    pub gripper: Option<String>,
}

/// Frame names.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frames {
    /// The frame odometry poses are in (and goals are given in).
    #[serde(default = "default_odom_frame")]
    pub odom: String,
    /// The robot's body frame.
    #[serde(default = "default_base_frame")]
    pub base: String,
    /// The frame a localizing robot (AMCL, SLAM) publishes `map → odom` in
    /// on /tf or /tf_static. When given, poses, goals, zones and the
    /// geofence are in it, not in the odometry frame.
    #[serde(default)]
    pub map: Option<String>,
}

fn default_odom_frame() -> String {
    "odom".into()
}
fn default_base_frame() -> String {
    "base_link".into()
}

impl Default for Frames {
    fn default() -> Self {
        Frames {
            odom: default_odom_frame(),
            base: default_base_frame(),
            map: None,
        }
    }
}

/// Physical limits.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileLimits {
    /// Footprint radius, metres.
    pub radius: f64,
    /// Top linear speed, m/s.
    pub max_linear: f64,
    /// Top angular speed, rad/s.
    pub max_angular: f64,
    /// Linear acceleration limit, m/s².
    pub max_linear_accel: f64,
    /// Angular acceleration limit, rad/s².
    pub max_angular_accel: f64,
    /// Gripper reach from the robot's centre, metres.
    #[serde(default)]
    pub reach: f64,
}

/// Stopping tolerances.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileTolerances {
    /// Distance to the goal, metres.
    pub goal: f64,
    /// Heading error, radians.
    pub heading: f64,
    /// Linear speed below which the robot counts as at rest, m/s.
    #[serde(default = "default_rest_linear")]
    pub rest_linear: f64,
    /// Angular speed below which the robot counts as at rest, rad/s.
    #[serde(default = "default_rest_angular")]
    pub rest_angular: f64,
}

fn default_rest_linear() -> f64 {
    0.01
}

fn default_rest_angular() -> f64 {
    0.02
}

impl Default for ProfileTolerances {
    fn default() -> Self {
        ProfileTolerances {
            goal: 0.05,
            heading: 0.03,
            rest_linear: default_rest_linear(),
            rest_angular: default_rest_angular(),
        }
    }
}

/// What the node enforces whatever the code actions do.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SafetySettings {
    /// Seconds without a new command after which the robot is stopped.
    #[serde(default = "default_watchdog")]
    pub watchdog: f64,
    /// Odometry older than this (seconds) stops the robot and fails skills.
    #[serde(default = "default_odom_stale")]
    pub odom_stale: f64,
    /// Scans older than this (seconds) stop the robot and fail skills.
    #[serde(default = "default_scan_stale")]
    pub scan_stale: f64,
    /// A `map → odom` transform from /tf older than this (seconds) stops
    /// the robot and fails skills (one from /tf_static never grows old).
    #[serde(default = "default_tf_stale")]
    pub tf_stale: f64,
    /// Commands sent to the robot per second.
    #[serde(default = "default_rate")]
    pub rate: f64,
    /// The robot must stay inside this polygon (the frame poses are in), if given.
    #[serde(default)]
    pub geofence: Option<Vec<P2>>,
}

fn default_watchdog() -> f64 {
    0.5
}
fn default_odom_stale() -> f64 {
    0.5
}
fn default_scan_stale() -> f64 {
    1.0
}
fn default_tf_stale() -> f64 {
    1.0
}
fn default_rate() -> f64 {
    20.0
}

impl Default for SafetySettings {
    fn default() -> Self {
        SafetySettings {
            watchdog: default_watchdog(),
            odom_stale: default_odom_stale(),
            scan_stale: default_scan_stale(),
            tf_stale: default_tf_stale(),
            rate: default_rate(),
            geofence: None,
        }
    }
}

/// A named place.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileZone {
    /// Name ("dock").
    pub name: String,
    /// Outline, odometry frame, metres.
    pub polygon: Vec<P2>,
    /// Whether the robot charges here.
    #[serde(default)]
    pub charger: bool,
}

/// Allow and deny lists of topic and service names for the generic ROS
/// functions. Entries are exact names or prefixes ending in `*`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLists {
    /// Names code actions may reach; empty allows everything not denied.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Names they may not reach; wins over `allow`.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// A profile's text, where it came from, and the folder its relative
/// paths are in.
pub(crate) struct Source {
    /// The YAML.
    pub text: String,
    /// The file (or the built-in's path in the source tree), for errors.
    pub path: String,
    /// The folder `skill_library` and `map_file` are relative to.
    pub folder: std::path::PathBuf,
}

/// Whether `name` is a built-in profile's.
pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTIN.iter().any(|(n, _)| *n == name)
}

/// The text of a profile by built-in name or file path.
pub(crate) fn read(name_or_path: &str) -> Result<Source, ProfileError> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return Ok(Source {
            text: (*text).to_owned(),
            path: format!("launch/profiles/{name}.yaml"),
            folder: ".".into(),
        });
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        return Err(ProfileError::Unknown(name_or_path.into()));
    }
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Source {
        text,
        path: path.display().to_string(),
        folder: path.parent().unwrap_or(Path::new(".")).to_owned(),
    })
}

/// Loads a profile by built-in name or file path.
pub fn load(name_or_path: &str) -> Result<RobotProfile, ProfileError> {
    let source = read(name_or_path)?;
    let profile = parse(&source.text, &source.path)?;
    with_files(profile, &source)
}

/// `profile` with its relative paths in `source`'s folder and the map its
/// `map_file` names read.
pub(crate) fn with_files(
    mut profile: RobotProfile,
    source: &Source,
) -> Result<RobotProfile, ProfileError> {
    let folder = &source.folder;
    if let Some(dir) = &profile.skill_library {
        profile.skill_library = Some(folder.join(dir));
    }
    if let Some(file) = &profile.map_file {
        let file = folder.join(file);
        profile.file_map = Some(crate::map_file::load(&file).map_err(|e| {
            ProfileError::Invalid {
                path: source.path.clone(),
                line: source
                    .text
                    .lines()
                    .position(|l| l.trim_start().starts_with("map_file:"))
                    .map_or(1, |i| i + 1),
                message: format!("map_file: {e}"),
            }
        })?);
        profile.map_file = Some(file);
    }
    Ok(profile)
}

/// A hint for a YAML error on `line`: in a `{...}` mapping, a type with
/// brackets (`list[float]`) reads as the start of a list unless quoted.
fn bracket_hint(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let open = l.find('{')?;
    let bracket = open + l[open..].find('[')?;
    let start = l[..bracket]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let quoted = l[..start].trim_end().ends_with(['\'', '"']);
    if start == bracket || quoted {
        return None;
    }
    let end = bracket + l[bracket..].find(']')? + 1;
    Some(format!(
        "; inside {{...}} a type with brackets must be quoted: '{}'",
        &l[start..end]
    ))
}

/// Parses and checks a profile's text; `path` is only used in error messages.
pub fn parse(text: &str, path: &str) -> Result<RobotProfile, ProfileError> {
    parse_in(text, path, "/")
}

/// Parses and checks a profile's text for a robot under `namespace` (`/`
/// for none): its relative names (`odom`, `cmd_vel`) are resolved in it,
/// as a ROS node's are, and absolute ones (`/map`) kept.
pub fn parse_in(text: &str, path: &str, namespace: &str) -> Result<RobotProfile, ProfileError> {
    if lists_robots(text) {
        return Err(ProfileError::Invalid {
            path: path.into(),
            line: 1,
            message: "this is a fleet profile (it lists robots:), where one robot's profile is wanted; a fleet cannot be a robot of a fleet".into(),
        });
    }
    let profile: RobotProfile = serde_norway::from_str(text).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line());
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        ProfileError::Invalid {
            path: path.into(),
            line,
            message: format!("{message}{}", bracket_hint(text, line).unwrap_or_default()),
        }
    })?;
    let mut profile = profile;
    profile.source = (path.to_owned(), text.to_owned());
    profile.resolve_names(namespace);
    for skill in &profile.ros_skills {
        skill
            .check_shape(&[])
            .map_err(|e| profile.declaration_error(&e))?;
    }
    let invalid = |key: &str, message: String| ProfileError::Invalid {
        path: path.into(),
        line: text
            .lines()
            .position(|l| l.trim_start().starts_with(&format!("{key}:")))
            .map_or(1, |i| i + 1),
        message,
    };
    let l = &profile.limits;
    for (key, value) in [
        ("radius", l.radius),
        ("max_linear", l.max_linear),
        ("max_angular", l.max_angular),
        ("max_linear_accel", l.max_linear_accel),
        ("max_angular_accel", l.max_angular_accel),
        ("goal", profile.tolerances.goal),
        ("heading", profile.tolerances.heading),
        ("rest_linear", profile.tolerances.rest_linear),
        ("rest_angular", profile.tolerances.rest_angular),
        ("watchdog", profile.safety.watchdog),
        ("odom_stale", profile.safety.odom_stale),
        ("scan_stale", profile.safety.scan_stale),
        ("tf_stale", profile.safety.tf_stale),
        ("rate", profile.safety.rate),
    ] {
        if !(value > 0.0 && value.is_finite()) {
            return Err(invalid(
                key,
                format!("{key} must be a positive number, got {value}"),
            ));
        }
    }
    if profile.topics.camera.is_some() && profile.topics.camera_compressed.is_some() {
        return Err(invalid(
            "camera_compressed",
            "give camera (sensor_msgs/Image) or camera_compressed (sensor_msgs/CompressedImage), not both".into(),
        ));
    }
    if !(l.reach >= 0.0 && l.reach.is_finite()) {
        return Err(invalid(
            "reach",
            format!("reach must be 0 or more metres, got {}", l.reach),
        ));
    }
    if let Some(fence) = &profile.safety.geofence {
        if fence.len() < 3 {
            return Err(invalid(
                "geofence",
                format!(
                    "the geofence needs at least 3 corners [x, y], got {}",
                    fence.len()
                ),
            ));
        }
    }
    for z in &profile.zones {
        if z.polygon.len() < 3 {
            return Err(invalid(
                "zones",
                format!(
                    "zone '{}' needs at least 3 corners [x, y], got {}",
                    z.name,
                    z.polygon.len()
                ),
            ));
        }
    }
    let t = &profile.topics;
    for name in [Some(&t.odom), Some(&t.cmd_vel), Some(&t.e_stop)]
        .into_iter()
        .chain([&t.scan, &t.battery, &t.map, &t.detections].map(Option::as_ref))
        .chain([profile.services.gripper.as_ref()])
        .flatten()
    {
        if name.len() < 2 || !well_formed_name(name) {
            return Err(invalid(
                "topics",
                format!("{name:?} is not a valid ROS name: letters, digits, '_' and '/' between them (\"odom\", \"/map\")"),
            ));
        }
    }
    Ok(profile)
}

/// Whether a profile's text is a fleet's: it lists `robots:` and has no
/// `topics:` of its own.
pub(crate) fn lists_robots(text: &str) -> bool {
    serde_norway::from_str::<serde_norway::Value>(text)
        .is_ok_and(|v| v.get("robots").is_some() && v.get("topics").is_none())
}

/// Whether `name` is a well-formed ROS name or namespace: letters, digits,
/// '_' and '/' between them (`/` alone is the root namespace).
pub(crate) fn well_formed_name(name: &str) -> bool {
    let bad = |c: char| !(c.is_ascii_alphanumeric() || "_/".contains(c));
    !name.is_empty()
        && !name.contains(bad)
        && !name.contains("//")
        && (name.len() == 1 || !name.ends_with('/'))
}

/// `name` in `namespace`: a relative name goes under it, an absolute one
/// (starting with '/') stays as it is.
pub fn resolve(namespace: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_owned()
    } else {
        format!("{}/{name}", namespace.trim_end_matches('/'))
    }
}

impl RobotProfile {
    /// Every topic, service and action name (and access-list entry) made
    /// absolute in `namespace`.
    fn resolve_names(&mut self, namespace: &str) {
        let r = |n: &mut String| *n = resolve(namespace, n);
        let t = &mut self.topics;
        for name in [
            &mut t.odom,
            &mut t.cmd_vel,
            &mut t.e_stop,
            &mut t.tf,
            &mut t.tf_static,
        ] {
            r(name);
        }
        for name in [
            &mut t.scan,
            &mut t.battery,
            &mut t.map,
            &mut t.detections,
            &mut t.camera,
            &mut t.camera_compressed,
            &mut self.services.gripper,
        ]
        .into_iter()
        .flatten()
        {
            r(name);
        }
        if let Some(nav2) = &mut self.nav2 {
            r(&mut nav2.action);
            nav2.relay.iter_mut().for_each(r);
        }
        for skill in &mut self.ros_skills {
            [&mut skill.action, &mut skill.service, &mut skill.topic]
                .into_iter()
                .flatten()
                .for_each(r);
        }
        let access = &mut self.ros_access;
        access.allow.iter_mut().chain(&mut access.deny).for_each(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_profiles_load() {
        for (name, _) in BUILTIN {
            let loaded = crate::fleet_profile::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            match loaded {
                crate::fleet_profile::Profiles::One(p) => assert_eq!(&p.name, name),
                crate::fleet_profile::Profiles::Fleet(f) => assert_eq!(&f.name, name),
            }
        }
        let sim = load("sim").unwrap();
        assert_eq!(sim.topics.scan.as_deref(), Some("/scan"));
        assert!(sim.ros_access.deny.iter().any(|d| d == "/cmd_vel"));
    }

    fn error_of(text: &str) -> (usize, String) {
        match parse(text, "p.yaml") {
            Err(ProfileError::Invalid { line, message, .. }) => (line, message),
            other => panic!("expected an invalid profile, got {other:?}"),
        }
    }

    const MINIMAL: &str = "name: r\ntopics:\n  odom: /odom\n  cmd_vel: /cmd_vel\nlimits:\n  radius: 0.1\n  max_linear: 0.2\n  max_angular: 1.0\n  max_linear_accel: 1.0\n  max_angular_accel: 2.0\n";

    #[test]
    fn nav2_may_relay_its_commands_and_time_may_follow_the_clock_topic() {
        let p = parse(MINIMAL, "p.yaml").unwrap();
        assert!(p.nav2.is_none() && !p.use_sim_time);
        let text = format!(
            "{MINIMAL}use_sim_time: true\nnav2:\n  relay: /cmd_vel_nav\n  relay_type: twist_stamped\n"
        );
        let p = parse(&text, "p.yaml").unwrap();
        let nav2 = p.nav2.unwrap();
        assert_eq!(nav2.relay.as_deref(), Some("/cmd_vel_nav"));
        assert_eq!(nav2.relay_type, CmdVelType::TwistStamped);
        assert!(p.use_sim_time);
        let (line, message) = error_of(&text.replace("twist_stamped", "stamped"));
        assert_eq!(line, 14, "{message}");
        assert!(message.contains("twist_stamped"), "{message}");
    }

    #[test]
    fn a_minimal_profile_gets_defaults() {
        let p = parse(MINIMAL, "p.yaml").unwrap();
        assert_eq!(p.safety.watchdog, 0.5);
        assert_eq!(p.topics.e_stop, "/e_stop");
        assert!(p.topics.scan.is_none());
        assert!(p.skills.is_none());
        assert_eq!(p.topics.cmd_vel_type, CmdVelType::Twist);
        let stamped = MINIMAL.replace(
            "  cmd_vel: /cmd_vel\n",
            "  cmd_vel: /cmd_vel\n  cmd_vel_type: twist_stamped\n",
        );
        let p = parse(&stamped, "p.yaml").unwrap();
        assert_eq!(
            p.topics.cmd_vel_type.ros_type(),
            "geometry_msgs/msg/TwistStamped"
        );
        let (line, msg) = error_of(&stamped.replace("twist_stamped", "twiststamped"));
        assert_eq!(line, 5);
        assert!(
            msg.contains("twist_stamped"),
            "the choices are named: {msg}"
        );
        assert_eq!(
            load("turtlebot3").unwrap().topics.cmd_vel_type,
            CmdVelType::TwistStamped
        );
        assert_eq!(load("sim").unwrap().topics.cmd_vel_type, CmdVelType::Twist);
    }

    #[test]
    fn errors_name_the_line_and_what_is_wrong() {
        let (line, msg) = error_of(&MINIMAL.replace("max_linear: 0.2", "max_linear: -1"));
        assert_eq!(line, 7);
        assert!(
            msg.contains("max_linear must be a positive number"),
            "{msg}"
        );
        let (line, msg) = error_of(&MINIMAL.replace(
            "  cmd_vel: /cmd_vel\n",
            "  cmd_vel: /cmd_vel\n  laser: /scan\n",
        ));
        assert_eq!(line, 5);
        assert!(msg.contains("unknown field `laser`"), "{msg}");
        let (_, msg) = error_of(&MINIMAL.replace("/odom", "od om"));
        assert!(msg.contains("not a valid ROS name"), "{msg}");
        let (line, msg) = error_of(&format!("{MINIMAL}safety:\n  geofence: [[0, 0], [1, 0]]\n"));
        assert_eq!(line, 12);
        assert!(msg.contains("at least 3 corners"), "{msg}");
    }

    #[test]
    fn unknown_names_list_the_builtins() {
        let e = load("no-such-robot").unwrap_err().to_string();
        assert!(e.contains("sim, turtlebot3"), "{e}");
    }

    #[test]
    fn a_bracketed_type_in_a_flow_mapping_is_said_to_need_quotes() {
        let text = format!("{MINIMAL}ros_skills:\n  - name: go\n    doc: Go.\n    service: /go\n    type: example_interfaces/srv/Trigger\n    params:\n      - {{name: xs, type: list[float], field: xs}}\n");
        let (line, message) = error_of(&text);
        assert_eq!(line, 17, "{message}");
        assert!(
            message.contains("must be quoted: 'list[float]'"),
            "{message}"
        );
        let quoted = text.replace("list[float]", "'list[float]'");
        assert!(parse(&quoted, "p.yaml").is_ok());
    }
}
