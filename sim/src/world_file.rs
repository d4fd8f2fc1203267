//! World files: YAML in `sim/worlds/`, schema in `sim/worlds/README.md`.
//! A bad file gets an error naming the file, the line and what is wrong.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::geometry::{Segment, P2};
use crate::world::{
    CameraConfig, FleetRobot, LidarConfig, ObjectSpec, Obstacle, RobotConfig, World, WorldParts,
    Zone,
};

/// The worlds built into the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("small_room", include_str!("../worlds/small_room.yaml")),
    ("warehouse", include_str!("../worlds/warehouse.yaml")),
    ("apartment", include_str!("../worlds/apartment.yaml")),
    ("lab", include_str!("../worlds/lab.yaml")),
    (
        "warehouse_duo",
        include_str!("../worlds/warehouse_duo.yaml"),
    ),
];

/// Why a world could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    /// The file could not be read.
    #[error("cannot read the world file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Neither a built-in name nor a file.
    #[error("no world named {0:?}: give a built-in name ({names}) or the path of a .yaml world file", names = builtin_names())]
    Unknown(String),
    /// The file is not valid YAML for the schema, or describes an impossible world.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// Whether `name` is a built-in world's name.
pub fn is_builtin(name: &str) -> bool {
    BUILTIN.iter().any(|(n, _)| *n == name)
}

fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWorld {
    name: Option<String>,
    #[serde(default)]
    seed: u64,
    /// Walls around the rectangle [0, w] x [0, h].
    boundary: Option<[f64; 2]>,
    #[serde(default)]
    walls: Vec<[[f64; 2]; 2]>,
    #[serde(default)]
    obstacles: Vec<FileShape>,
    #[serde(default)]
    zones: Vec<FileZone>,
    #[serde(default)]
    objects: Vec<FileObject>,
    robot: Option<FileRobot>,
    /// A fleet: several robots, each with a name (instead of `robot:`).
    #[serde(default)]
    robots: Vec<FileRobot>,
    #[serde(default)]
    lidar: FileLidar,
    #[serde(default)]
    camera: FileCamera,
    #[serde(default)]
    physics: FilePhysics,
    /// The skill library's folder, relative to this file.
    skill_library: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    name: String,
    polygon: Option<Vec<[f64; 2]>>,
    /// x, y of the lower-left corner, width, height.
    rect: Option<[f64; 4]>,
    /// Not on the robot's map: only its sensors find it.
    #[serde(default)]
    unmapped: bool,
    /// Furniture with a top: objects can lie on it and be put on it.
    #[serde(default)]
    surface: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileZone {
    name: String,
    polygon: Option<Vec<[f64; 2]>>,
    rect: Option<[f64; 4]>,
    #[serde(default)]
    charger: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileObject {
    name: String,
    #[serde(default = "default_kind")]
    kind: String,
    colour: String,
    #[serde(default = "default_size")]
    size: f64,
    at: [f64; 2],
    /// Picks that fail before one holds.
    #[serde(default)]
    slips: u32,
}

fn default_kind() -> String {
    "object".into()
}
fn default_size() -> f64 {
    0.05
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRobot {
    /// Only in `robots:`.
    name: Option<String>,
    start: Option<[f64; 3]>,
    radius: Option<f64>,
    max_linear: Option<f64>,
    max_angular: Option<f64>,
    max_linear_accel: Option<f64>,
    max_angular_accel: Option<f64>,
    reach: Option<f64>,
    odom_noise: Option<f64>,
    odom_drift: Option<f64>,
    battery_start: Option<f64>,
    battery_idle_drain: Option<f64>,
    battery_drain_per_m: Option<f64>,
    battery_charge_rate: Option<f64>,
    battery_low: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLidar {
    rays: Option<usize>,
    fov_deg: Option<f64>,
    range_min: Option<f64>,
    range_max: Option<f64>,
    noise: Option<f64>,
    rate: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCamera {
    fov_deg: Option<f64>,
    range: Option<f64>,
    height: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePhysics {
    rate: Option<f64>,
}

/// Loads a world by built-in name or file path.
pub fn load(name_or_path: &str) -> Result<World, WorldError> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("sim/worlds/{name}.yaml"));
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        return Err(WorldError::Unknown(name_or_path.into()));
    }
    let text = std::fs::read_to_string(path).map_err(|source| WorldError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses a world file's text; `path` is only used in error messages.
pub fn parse(text: &str, path: &str) -> Result<World, WorldError> {
    let file: FileWorld = serde_norway::from_str(text).map_err(|e| WorldError::Invalid {
        path: path.into(),
        line: e.location().map_or(1, |l| l.line()),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned()
            + ". See sim/worlds/README.md for the schema",
    })?;
    Checker { text, path }.build(file)
}

struct Checker<'a> {
    text: &'a str,
    path: &'a str,
}

impl Checker<'_> {
    /// An error at the line where `needle` (a name) first appears.
    fn error(&self, needle: &str, message: String) -> WorldError {
        let line = self
            .text
            .lines()
            .position(|l| !needle.is_empty() && l.contains(needle))
            .map_or(1, |i| i + 1);
        WorldError::Invalid {
            path: self.path.into(),
            line,
            message,
        }
    }

    fn outline(
        &self,
        kind: &str,
        name: &str,
        polygon: Option<Vec<[f64; 2]>>,
        rect: Option<[f64; 4]>,
    ) -> Result<Vec<P2>, WorldError> {
        let at = format!("name: {name}");
        match (polygon, rect) {
            (Some(points), None) => {
                if points.len() < 3 {
                    return Err(self.error(&at, format!("{kind} {name:?}: a polygon needs at least 3 points, got {}", points.len())));
                }
                if points.iter().flatten().any(|v| !v.is_finite()) {
                    return Err(self.error(&at, format!("{kind} {name:?}: polygon coordinates must be finite numbers")));
                }
                Ok(points.iter().map(|p| P2::new(p[0], p[1])).collect())
            }
            (None, Some([x, y, w, h])) => {
                if !(w > 0.0 && h > 0.0 && [x, y].iter().all(|v| v.is_finite())) {
                    return Err(self.error(&at, format!("{kind} {name:?}: rect is [x, y, width, height] with positive width and height, got [{x}, {y}, {w}, {h}]")));
                }
                Ok(crate::geometry::rect_outline(x, y, w, h))
            }
            (Some(_), Some(_)) => Err(self.error(&at, format!("{kind} {name:?}: give either polygon or rect, not both"))),
            (None, None) => Err(self.error(&at, format!("{kind} {name:?}: needs a shape: polygon: [[x, y], ...] or rect: [x, y, width, height]"))),
        }
    }

    fn positive(&self, key: &str, value: Option<f64>, default: f64) -> Result<f64, WorldError> {
        match value {
            None => Ok(default),
            Some(v) if v > 0.0 && v.is_finite() => Ok(v),
            Some(v) => Err(self.error(
                &format!("{key}:"),
                format!("{key} must be a positive number, got {v}"),
            )),
        }
    }

    fn non_negative(&self, key: &str, value: Option<f64>, default: f64) -> Result<f64, WorldError> {
        match value {
            None => Ok(default),
            Some(v) if v >= 0.0 && v.is_finite() => Ok(v),
            Some(v) => Err(self.error(
                &format!("{key}:"),
                format!("{key} must be zero or more, got {v}"),
            )),
        }
    }

    fn unique<'n>(
        &self,
        kind: &str,
        names: impl Iterator<Item = &'n str>,
    ) -> Result<(), WorldError> {
        let mut seen = std::collections::BTreeSet::new();
        for n in names {
            if n.trim().is_empty() {
                return Err(self.error("name:", format!("every {kind} needs a non-empty name")));
            }
            if !seen.insert(n) {
                return Err(self.error(
                    &format!("name: {n}"),
                    format!("two {kind}s are named {n:?}; names must be unique"),
                ));
            }
        }
        Ok(())
    }

    fn build(&self, f: FileWorld) -> Result<World, WorldError> {
        let mut walls: Vec<Segment> = f
            .walls
            .iter()
            .map(|[a, b]| Segment::new(P2::new(a[0], a[1]), P2::new(b[0], b[1])))
            .collect();
        if let Some([w, h]) = f.boundary {
            if !(w > 0.0 && h > 0.0) {
                return Err(self.error(
                    "boundary:",
                    format!("boundary is [width, height] in metres, both positive; got [{w}, {h}]"),
                ));
            }
            let c = [
                P2::new(0.0, 0.0),
                P2::new(w, 0.0),
                P2::new(w, h),
                P2::new(0.0, h),
            ];
            walls.extend((0..4).map(|i| Segment::new(c[i], c[(i + 1) % 4])));
        }
        self.unique("obstacle", f.obstacles.iter().map(|o| o.name.as_str()))?;
        self.unique("zone", f.zones.iter().map(|z| z.name.as_str()))?;
        self.unique("object", f.objects.iter().map(|o| o.name.as_str()))?;
        let obstacles = f
            .obstacles
            .into_iter()
            .map(|o| {
                Ok(Obstacle {
                    polygon: self.outline("obstacle", &o.name, o.polygon, o.rect)?,
                    name: o.name,
                    unmapped: o.unmapped,
                    surface: o.surface,
                })
            })
            .collect::<Result<Vec<_>, WorldError>>()?;
        let zones = f
            .zones
            .into_iter()
            .map(|z| {
                Ok(Zone {
                    polygon: self.outline("zone", &z.name, z.polygon, z.rect)?,
                    name: z.name,
                    charger: z.charger,
                })
            })
            .collect::<Result<Vec<_>, WorldError>>()?;
        let mut objects = Vec::new();
        for o in f.objects {
            if !(o.size > 0.0 && o.size < 5.0) {
                return Err(self.error(
                    &format!("name: {}", o.name),
                    format!(
                        "object {:?}: size is in metres, between 0 and 5; got {}",
                        o.name, o.size
                    ),
                ));
            }
            objects.push(ObjectSpec {
                name: o.name,
                kind: o.kind,
                colour: o.colour,
                size: o.size,
                at: P2::new(o.at[0], o.at[1]),
                slips: o.slips,
            });
        }

        let (robot_name, robot, fleet) = self.robots(f.robot, f.robots)?;
        let dl = LidarConfig::default();
        let l = f.lidar;
        let lidar = LidarConfig {
            rays: match l.rays {
                None => dl.rays,
                Some(n) if (1..=100_000).contains(&n) => n,
                Some(n) => {
                    return Err(self.error(
                        "rays:",
                        format!("lidar rays must be between 1 and 100000, got {n}"),
                    ))
                }
            },
            fov: self
                .positive("fov_deg", l.fov_deg, dl.fov.to_degrees())?
                .min(360.0)
                .to_radians(),
            range_min: self.non_negative("range_min", l.range_min, dl.range_min)?,
            range_max: self.positive("range_max", l.range_max, dl.range_max)?,
            noise: self.non_negative("noise", l.noise, dl.noise)?,
            rate: self.positive("rate", l.rate, dl.rate)?,
        };
        if lidar.range_min >= lidar.range_max {
            return Err(self.error(
                "range_min:",
                format!(
                    "lidar range_min ({}) must be below range_max ({})",
                    lidar.range_min, lidar.range_max
                ),
            ));
        }
        let dc = CameraConfig::default();
        let camera = CameraConfig {
            fov: self
                .positive("fov_deg", f.camera.fov_deg, dc.fov.to_degrees())?
                .min(360.0)
                .to_radians(),
            range: self.positive("range", f.camera.range, dc.range)?,
            height: self.positive("height", f.camera.height, dc.height)?,
        };
        if camera.fov >= std::f64::consts::PI {
            return Err(self.error(
                "fov_deg:",
                format!(
                    "a camera's fov_deg must be below 180 (a pinhole camera), got {}",
                    camera.fov.to_degrees()
                ),
            ));
        }
        let physics_rate = self.positive("rate", f.physics.rate, 100.0)?;
        if !(10.0..=10_000.0).contains(&physics_rate) {
            return Err(self.error(
                "physics:",
                format!("physics rate must be between 10 and 10000 Hz, got {physics_rate}"),
            ));
        }
        if lidar.rate > physics_rate {
            return Err(self.error(
                "lidar:",
                format!(
                    "the lidar rate ({} Hz) cannot exceed the physics rate ({physics_rate} Hz)",
                    lidar.rate
                ),
            ));
        }

        let world = World::build(WorldParts {
            name: f.name.unwrap_or_else(|| {
                Path::new(self.path)
                    .file_stem()
                    .map_or("world".into(), |s| s.to_string_lossy().into_owned())
            }),
            seed: f.seed,
            physics_rate,
            boundary: f.boundary.map(|[w, h]| (w, h)),
            walls,
            obstacles,
            zones,
            objects,
            robot,
            robot_name,
            fleet,
            lidar,
            camera,
            skill_library: f.skill_library.map(|dir| {
                Path::new(self.path)
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join(dir)
            }),
        });

        let starts: Vec<(String, P2, f64)> = world
            .robots()
            .map(|(name, c)| (name.to_owned(), P2::new(c.start.0, c.start.1), c.radius))
            .collect();
        for (k, (name, at, radius)) in starts.iter().enumerate() {
            let who = if world.fleet.is_empty() {
                "the robot".to_owned()
            } else {
                format!("robot {name}")
            };
            if let Some(o) = world.inside_obstacle(*at) {
                return Err(self.error(
                    "start:",
                    format!("{who} starts inside obstacle {:?}; move its start", o.name),
                ));
            }
            let clearance = world.clearance(*at, *radius);
            if clearance < *radius {
                return Err(self.error("start:", format!("{who} (radius {radius} m) at its start ({}, {}) overlaps a wall ({clearance:.3} m away); move its start", at.x, at.y)));
            }
            if let Some((other, ..)) = starts[..k]
                .iter()
                .find(|(_, p, r)| (p - at).norm() < r + radius)
            {
                return Err(self.error(
                    &format!("name: {name}"),
                    format!("robots {other} and {name} overlap at their starts; move one"),
                ));
            }
        }
        if let Some((name, why)) = world.misplaced() {
            return Err(self.error(&format!("name: {name}"), why));
        }
        Ok(world)
    }
    /// The world's robots: `robot:` (one, called "robot") or `robots:` (a
    /// fleet, each named). Returns the first's name, its settings and the rest.
    fn robots(
        &self,
        one: Option<FileRobot>,
        fleet: Vec<FileRobot>,
    ) -> Result<(String, RobotConfig, Vec<FleetRobot>), WorldError> {
        if fleet.is_empty() {
            let r = one.unwrap_or_default();
            if r.name.is_some() {
                return Err(self.error(
                    "name:",
                    "robot: takes no name; a fleet of named robots goes under robots:".into(),
                ));
            }
            return Ok((String::new(), self.robot_config(r)?, Vec::new()));
        }
        if one.is_some() {
            return Err(self.error(
                "robots:",
                "give either robot: (one robot) or robots: (a fleet), not both".into(),
            ));
        }
        let mut named = Vec::new();
        for r in fleet {
            let Some(name) = r.name.clone() else {
                return Err(self.error(
                    "robots:",
                    "each robot under robots: needs a name (name: alpha)".into(),
                ));
            };
            if let Some(problem) = robot_api::fleet::robot_name_problem(&name) {
                return Err(self.error(&format!("name: {name}"), problem));
            }
            if named.iter().any(|f: &FleetRobot| f.name == name) {
                return Err(self.error(
                    &format!("name: {name}"),
                    format!("two robots are called {name:?}"),
                ));
            }
            named.push(FleetRobot {
                name,
                config: self.robot_config(r)?,
            });
        }
        let first = named.remove(0);
        Ok((first.name, first.config, named))
    }

    /// One robot's settings, defaults filled in and checked.
    fn robot_config(&self, r: FileRobot) -> Result<RobotConfig, WorldError> {
        let d = RobotConfig::default();
        let start = r.start.map_or(d.start, |s| (s[0], s[1], s[2]));
        Ok(RobotConfig {
            start,
            radius: self.positive("radius", r.radius, d.radius)?,
            max_linear: self.positive("max_linear", r.max_linear, d.max_linear)?,
            max_angular: self.positive("max_angular", r.max_angular, d.max_angular)?,
            max_linear_accel: self.positive(
                "max_linear_accel",
                r.max_linear_accel,
                d.max_linear_accel,
            )?,
            max_angular_accel: self.positive(
                "max_angular_accel",
                r.max_angular_accel,
                d.max_angular_accel,
            )?,
            reach: self.positive("reach", r.reach, d.reach)?,
            odom_noise: self.non_negative("odom_noise", r.odom_noise, d.odom_noise)?,
            odom_drift: self.non_negative("odom_drift", r.odom_drift, d.odom_drift)?,
            battery_start: self
                .non_negative("battery_start", r.battery_start, d.battery_start)?
                .min(100.0),
            battery_idle_drain: self.non_negative(
                "battery_idle_drain",
                r.battery_idle_drain,
                d.battery_idle_drain,
            )?,
            battery_drain_per_m: self.non_negative(
                "battery_drain_per_m",
                r.battery_drain_per_m,
                d.battery_drain_per_m,
            )?,
            battery_charge_rate: self.non_negative(
                "battery_charge_rate",
                r.battery_charge_rate,
                d.battery_charge_rate,
            )?,
            battery_low: self.non_negative("battery_low", r.battery_low, d.battery_low)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> (usize, String) {
        match parse(text, "bad.yaml") {
            Err(WorldError::Invalid { line, message, .. }) => (line, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn the_builtin_worlds_load() {
        for (name, _) in BUILTIN {
            let w = load(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!w.grid.segments().is_empty(), "{name}");
            assert!(!w.zones.is_empty(), "{name}");
        }
    }

    #[test]
    fn errors_name_the_line_and_what_is_wrong() {
        let (line, msg) = err("name: x\nboundary: [5, 5]\nobstacles:\n  - name: t\n    polgon: [[1, 1], [2, 1], [2, 2]]\n");
        assert_eq!(line, 5, "{msg}");
        assert!(msg.contains("unknown field `polgon`"), "{msg}");

        let (line, msg) =
            err("boundary: [5, 5]\nzones:\n  - name: dock\n    polygon: [[1, 1], [2, 1]]\n");
        assert_eq!(line, 3);
        assert!(msg.contains("at least 3 points"), "{msg}");

        let (line, msg) = err("boundary: [5, 5]\nobjects:\n  - {name: a, colour: red, at: [1, 1]}\n  - {name: a, colour: blue, at: [2, 2]}\n");
        assert_eq!(line, 3);
        assert!(msg.contains("unique"), "{msg}");

        let (line, msg) = err("boundary: [5, 5]\nrobot:\n  start: [0.1, 1, 0]\n");
        assert_eq!(line, 3);
        assert!(msg.contains("overlaps a wall"), "{msg}");

        let (line, msg) = err("boundary: [5, 5]\nrobot:\n  radius: -1\n");
        assert_eq!(line, 3);
        assert!(msg.contains("positive"), "{msg}");

        let (_, msg) = err("boundary: [5, 5]\nlidar: {rays: 10, range_min: 3, range_max: 2}\n");
        assert!(msg.contains("range_min"), "{msg}");
    }

    #[test]
    fn things_out_of_place_name_their_line() {
        let world = |extra: &str| {
            format!("boundary: [5, 5]\nrobot: {{start: [0.5, 4.5, 0]}}\nwalls:\n  - [[3, 0], [3, 5]]\nobstacles:\n  - {{name: box, rect: [1, 3, 1, 1]}}\n  - {{name: table, rect: [1, 1, 1, 1], surface: true}}\n{extra}")
        };
        let (line, msg) = err(&world(
            "objects:\n  - {name: far, colour: red, at: [7, 1]}\n",
        ));
        assert_eq!(line, 9, "{msg}");
        assert!(msg.contains("outside the boundary"), "{msg}");
        let (line, msg) = err(&world("zones:\n  - {name: void, rect: [6, 6, 1, 1]}\n"));
        assert_eq!(line, 9, "{msg}");
        assert!(msg.contains("entirely outside"), "{msg}");
        let (line, msg) = err(&world(
            "objects:\n  - {name: stuck, colour: red, size: 0.1, at: [3.02, 2]}\n",
        ));
        assert_eq!(line, 9, "{msg}");
        assert!(msg.contains("inside a wall"), "{msg}");
        let (line, msg) = err(&world(
            "objects:\n  - {name: boxed, colour: red, at: [1.5, 3.5]}\n",
        ));
        assert_eq!(line, 9, "{msg}");
        assert!(
            msg.contains("inside obstacle \"box\"") && msg.contains("surface: true"),
            "{msg}"
        );
        let (_, msg) = err(&world(
            "objects:\n  - {name: edge, colour: red, size: 0.2, at: [1.05, 1.5]}\n",
        ));
        assert!(msg.contains("over the edge"), "{msg}");
        // Beyond the gripper's reach from anywhere the robot fits.
        let (line, msg) = err(&world(
            "objects:\n  - {name: mug, colour: red, at: [1.5, 1.5]}\n",
        ));
        assert_eq!(line, 9, "{msg}");
        assert!(
            msg.contains("out of reach") && msg.contains("0.74 m from it"),
            "{msg}"
        );
        // On a surface within reach, and partly outside the boundary's zone, are fine.
        let ok = world("zones:\n  - {name: half, rect: [4, 4, 2, 2]}\nobjects:\n  - {name: mug, colour: red, at: [1.1, 1.5]}\n");
        parse(&ok, "ok.yaml").unwrap();
    }

    #[test]
    fn an_unknown_name_lists_the_builtin_worlds() {
        let e = load("no-such-world").unwrap_err().to_string();
        assert!(e.contains("warehouse"), "{e}");
    }
}
