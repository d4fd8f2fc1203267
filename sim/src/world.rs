//! A world: walls, obstacles, named zones, objects, and the robot and sensor
//! settings. Built from a world file ([`crate::world_file`]) or in code.

use crate::geometry::{
    point_in_polygon, polygon_centre, polygon_edges, signed_area2, Aabb, Segment, SegmentGrid, P2,
};

/// Whether no two non-adjacent edges of a polygon cross.
fn polygon_is_simple(polygon: &[P2]) -> bool {
    let edges: Vec<Segment> = polygon_edges(polygon).collect();
    let n = edges.len();
    (0..n).all(|i| (i + 2..n).all(|j| (i == 0 && j == n - 1) || !edges[i].intersects(&edges[j])))
}

/// A named area ("dock", "kitchen").
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// Unique name.
    pub name: String,
    /// Outline.
    pub polygon: Vec<P2>,
    /// Whether the robot charges here.
    pub charger: bool,
}

impl Zone {
    /// Whether a point lies in the zone.
    pub fn contains(&self, p: P2) -> bool {
        point_in_polygon(p, &self.polygon)
    }
    /// A point to drive to.
    pub fn centre(&self) -> P2 {
        polygon_centre(&self.polygon)
    }
}

/// A solid obstacle (a shelf, a table): a closed polygon.
#[derive(Debug, Clone, PartialEq)]
pub struct Obstacle {
    /// Name, for pictures and errors.
    pub name: String,
    /// Outline.
    pub polygon: Vec<P2>,
    /// Left out of the robot's map: only its sensors find it (a box left in an aisle).
    pub unmapped: bool,
    /// Furniture with a top (a table, a bench, a shelf): objects can lie on
    /// it, be put on it and be picked from it by a robot beside it, and the
    /// camera sees them over its edge.
    pub surface: bool,
}

impl Obstacle {
    /// How far `p` lies inside the outline (0 outside): the distance to the
    /// nearest edge of a point within.
    pub fn depth(&self, p: P2) -> f64 {
        if !point_in_polygon(p, &self.polygon) {
            return 0.0;
        }
        polygon_edges(&self.polygon)
            .map(|e| e.distance_to(p))
            .fold(f64::INFINITY, f64::min)
    }

    /// Where the segment from `a` to `b` first crosses the outline, as a
    /// fraction of the way (`None`: it never does).
    pub fn first_crossing(&self, a: P2, b: P2) -> Option<f64> {
        let d = b - a;
        let len = d.norm();
        if len < 1e-12 {
            return None;
        }
        polygon_edges(&self.polygon)
            .filter_map(|e| e.ray_distance(a, d / len))
            .filter(|&t| t <= len)
            .min_by(f64::total_cmp)
            .map(|t| t / len)
    }
}

/// An object the robot can see and carry. Objects are small: they block
/// neither the robot nor the lidar.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectSpec {
    /// Unique name.
    pub name: String,
    /// What it is ("cube").
    pub kind: String,
    /// Colour name ("red").
    pub colour: String,
    /// Edge or diameter, metres.
    pub size: f64,
    /// Where it starts.
    pub at: P2,
    /// How many times it slips out of the gripper before a pick holds
    /// (a wet bottle, a heavy box): each failed pick is a `GripperError`.
    pub slips: u32,
}

/// A robot of a fleet after the first: its name and settings.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetRobot {
    /// Its name (a Python identifier: `robots['beta']`, `beta.move_to`).
    pub name: String,
    /// Its settings.
    pub config: RobotConfig,
}

/// The differential-drive robot's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotConfig {
    /// Start pose: x, y (m), theta (rad).
    pub start: (f64, f64, f64),
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
    /// Gripper reach from the centre, metres.
    pub reach: f64,
    /// Odometry noise: relative standard deviation of each step's distance and turn.
    pub odom_noise: f64,
    /// Odometry heading drift, rad/s.
    pub odom_drift: f64,
    /// Battery at start, percent.
    pub battery_start: f64,
    /// Battery drain standing still, percent per second.
    pub battery_idle_drain: f64,
    /// Battery drain per metre driven, percent.
    pub battery_drain_per_m: f64,
    /// Charging rate in a charger zone, percent per second.
    pub battery_charge_rate: f64,
    /// Below this the robot reports "battery low", percent.
    pub battery_low: f64,
}

impl RobotConfig {
    /// The limits the skills see.
    pub fn limits(&self) -> robot_api::RobotLimits {
        robot_api::RobotLimits {
            radius: self.radius,
            max_linear: self.max_linear,
            max_angular: self.max_angular,
            max_linear_accel: self.max_linear_accel,
            reach: self.reach,
        }
    }
}

impl Default for RobotConfig {
    fn default() -> Self {
        RobotConfig {
            start: (1.0, 1.0, 0.0),
            radius: 0.2,
            max_linear: 0.8,
            max_angular: 2.0,
            max_linear_accel: 1.5,
            max_angular_accel: 6.0,
            reach: 0.45,
            odom_noise: 0.0,
            odom_drift: 0.0,
            battery_start: 100.0,
            battery_idle_drain: 0.005,
            battery_drain_per_m: 0.05,
            battery_charge_rate: 1.0,
            battery_low: 20.0,
        }
    }
}

/// The lidar's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct LidarConfig {
    /// Number of rays.
    pub rays: usize,
    /// Field of view, radians, centred on the heading.
    pub fov: f64,
    /// Shortest range, metres.
    pub range_min: f64,
    /// Longest range, metres.
    pub range_max: f64,
    /// Range noise, standard deviation in metres.
    pub noise: f64,
    /// Scans per second.
    pub rate: f64,
}

impl Default for LidarConfig {
    fn default() -> Self {
        LidarConfig {
            rays: 360,
            fov: std::f64::consts::TAU,
            range_min: 0.05,
            range_max: 12.0,
            noise: 0.0,
            rate: 10.0,
        }
    }
}

/// The camera's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// Horizontal field of view, radians.
    pub fov: f64,
    /// How far it recognises objects, metres.
    pub range: f64,
    /// Its height above the floor, metres: above furniture's tops (0.75 m)
    /// it sees what lies on them; below, only what stands up over their
    /// front edges.
    pub height: f64,
}

impl Default for CameraConfig {
    fn default() -> Self {
        CameraConfig {
            fov: 100f64.to_radians(),
            range: 6.0,
            height: crate::camera::CAMERA_HEIGHT,
        }
    }
}

/// Everything about a world that does not change while it runs: its parts
/// (read through `Deref`: `world.zones`) and the indexes built from them.
#[derive(Debug, Clone)]
pub struct World {
    /// What the world is made of.
    pub parts: WorldParts,
    /// Every solid edge (walls and obstacle outlines), bucketed in 1 m cells
    /// for collision, line-of-sight and lidar queries.
    pub grid: SegmentGrid,
    /// Bounds of everything.
    pub bounds: Aabb,
    /// The occupancy grid the robot is given, made once when first asked
    /// (by the load check of objects on furniture, then by the robot).
    map: std::sync::OnceLock<robot_api::nav::GridMap>,
}

impl std::ops::Deref for World {
    type Target = WorldParts;

    fn deref(&self) -> &WorldParts {
        &self.parts
    }
}

/// The parts a world is built from; [`World::build`] indexes them.
#[derive(Debug, Clone, Default)]
pub struct WorldParts {
    /// Name, for pictures and the API text.
    pub name: String,
    /// Seed of the noise.
    pub seed: u64,
    /// Physics steps per second (0 when built: 100).
    pub physics_rate: f64,
    /// The rectangle [0, w] x [0, h] walled around, if the world has one.
    pub boundary: Option<(f64, f64)>,
    /// Wall segments given as walls (the boundary's included).
    pub walls: Vec<Segment>,
    /// Solid obstacles.
    pub obstacles: Vec<Obstacle>,
    /// Named zones.
    pub zones: Vec<Zone>,
    /// Objects and where they start.
    pub objects: Vec<ObjectSpec>,
    /// The robot (the first of a fleet).
    pub robot: RobotConfig,
    /// The first robot's name when the world lists several (`robots:`);
    /// empty: "robot".
    pub robot_name: String,
    /// The other robots of a fleet, after the first.
    pub fleet: Vec<FleetRobot>,
    /// The lidar.
    pub lidar: LidarConfig,
    /// The camera.
    pub camera: CameraConfig,
    /// The skill library folder the world's file names (relative paths
    /// resolved against the file's folder); `None`: the default one.
    pub skill_library: Option<std::path::PathBuf>,
}

impl World {
    /// Builds the world's indexes from its parts.
    pub fn build(mut parts: WorldParts) -> World {
        if parts.physics_rate <= 0.0 {
            parts.physics_rate = 100.0;
        }
        let mut segments = parts.walls.clone();
        let mut one_sided = vec![false; segments.len()];
        for o in &parts.obstacles {
            // Counter-clockwise, so every edge's outside is on its right.
            let mut outline = o.polygon.clone();
            if signed_area2(&outline) < 0.0 {
                outline.reverse();
            }
            let before = segments.len();
            segments.extend(polygon_edges(&outline));
            // A self-intersecting outline has no clear outside: keep it two-sided.
            let simple = polygon_is_simple(&outline);
            one_sided.extend(std::iter::repeat_n(simple, segments.len() - before));
        }
        let start = P2::new(parts.robot.start.0, parts.robot.start.1);
        let bounds = Aabb::around(
            segments
                .iter()
                .flat_map(|s| [s.a, s.b])
                .chain(parts.zones.iter().flat_map(|z| z.polygon.iter().copied()))
                .chain(parts.objects.iter().map(|o| o.at))
                .chain([start]),
        );
        // Cells of about a metre keep a 360-ray scan to a few segments per ray.
        let grid = SegmentGrid::with_sides(segments, one_sided, bounds, 1.0);
        World {
            parts,
            grid,
            bounds,
            map: std::sync::OnceLock::new(),
        }
    }

    /// The occupancy grid of the walls and mapped obstacles the robot is
    /// given (interiors filled), at [`crate::backend::MAP_RESOLUTION`].
    /// Gives the world the robot's own map (a twin's: the map the robot
    /// plans on, not one drawn from the world's outlines).
    pub fn set_map(&mut self, map: robot_api::nav::GridMap) {
        self.map = std::sync::OnceLock::from(map);
    }

    /// Every robot, first to last, with its name ("robot" for a world of one).
    pub fn robots(&self) -> impl Iterator<Item = (&str, &RobotConfig)> {
        let first = if self.robot_name.is_empty() {
            "robot"
        } else {
            self.robot_name.as_str()
        };
        std::iter::once((first, &self.robot))
            .chain(self.fleet.iter().map(|f| (f.name.as_str(), &f.config)))
    }

    /// The occupancy grid of the world's mapped outlines (made once).
    pub fn occupancy(&self) -> &robot_api::nav::GridMap {
        self.map
            .get_or_init(|| crate::backend::occupancy_map(self, crate::backend::MAP_RESOLUTION))
    }

    /// The first thing out of place, as (its name, what is wrong): a zone
    /// entirely outside the boundary, or an object outside it, in a wall, in
    /// a solid obstacle, hanging over the edge of a surface or lying on one
    /// beyond the gripper's reach from anywhere the robot fits.
    pub fn misplaced(&self) -> Option<(String, String)> {
        // The robot's knowledge of the world, made once if an object lies on furniture.
        let mut known: Option<(robot_api::nav::GridMap, Vec<robot_api::SurfaceInfo>)> = None;
        let inside = |p: P2| {
            self.boundary
                .is_none_or(|(w, h)| (0.0..=w).contains(&p.x) && (0.0..=h).contains(&p.y))
        };
        if let Some((w, h)) = self.boundary {
            for z in &self.zones {
                let b = Aabb::around(z.polygon.iter().copied());
                if b.max.x <= 0.0 || b.max.y <= 0.0 || b.min.x >= w || b.min.y >= h {
                    let why = format!(
                        "zone {:?} lies entirely outside the boundary [0, {w}] x [0, {h}]",
                        z.name
                    );
                    return Some((z.name.clone(), why));
                }
            }
        }
        for o in &self.objects {
            let here = format!("object {:?} at ({}, {})", o.name, o.at.x, o.at.y);
            let why = if !inside(o.at) {
                let (w, h) = self.boundary.unwrap_or_default();
                Some(format!(
                    "{here} is outside the boundary [0, {w}] x [0, {h}]"
                ))
            } else {
                match self.inside_obstacle(o.at) {
                    Some(ob) if !ob.surface => Some(format!("{here} is inside obstacle {:?}; move it, or mark the obstacle `surface: true` if things can lie on it", ob.name)),
                    Some(ob) if ob.depth(o.at) < o.size / 2.0 => Some(format!("{here} hangs over the edge of {:?}; move it at least {} m inside", ob.name, o.size / 2.0)),
                    Some(ob) => {
                        let (map, surfaces) = known.get_or_insert_with(|| self.robot_knowledge());
                        self.out_of_reach(map, surfaces, o.at).map(|why| format!("{here} on {:?} {why}", ob.name))
                    }
                    None => {
                        let clearance = self.clearance(o.at, o.size / 2.0);
                        (clearance < o.size / 2.0).then(|| format!("{here} (size {} m) is inside a wall or an obstacle's edge ({clearance:.3} m from it); move it", o.size))
                    }
                }
            };
            if let Some(why) = why {
                return Some((o.name.clone(), why));
            }
        }
        None
    }

    /// Why the gripper cannot reach `at` on furniture, if it cannot: from
    /// `map` and `surfaces`, what the robot knows.
    fn out_of_reach(
        &self,
        map: &robot_api::nav::GridMap,
        surfaces: &[robot_api::SurfaceInfo],
        at: P2,
    ) -> Option<String> {
        use robot_api::reach::{assess, depth_reached, Reach, STAND_MARGIN};
        let limits = self.robot.limits();
        let tolerance = robot_api::Tolerances::default().goal;
        let rule = format!(
            "the robot's centre keeps {:.2} m from furniture and the gripper reaches {} m, so things on furniture must lie within {:.2} m of an edge the robot can stand at",
            limits.radius + STAND_MARGIN,
            limits.reach,
            depth_reached(&limits, tolerance)
        );
        match assess(map, surfaces, &limits, tolerance, at) {
            Reach::Reachable => None,
            Reach::Beyond(Some(d)) => Some(format!(
                "is out of reach: the nearest place the robot fits is {d:.2} m from it; {rule}; move it nearer such an edge"
            )),
            Reach::Beyond(None) => Some(format!(
                "is out of reach: the robot fits nowhere within 3 m of it; {rule}; move it nearer such an edge"
            )),
            Reach::CutOff => Some(format!(
                "is out of reach: the places near enough to reach it cannot be driven to; {rule}; move it nearer an edge with room in front"
            )),
        }
    }

    /// What the robot knows of this world: its map and its furniture's outlines.
    fn robot_knowledge(&self) -> (robot_api::nav::GridMap, Vec<robot_api::SurfaceInfo>) {
        (self.occupancy().clone(), self.surface_infos())
    }

    /// The surfaces as the robot knows them (name and outline).
    pub fn surface_infos(&self) -> Vec<robot_api::SurfaceInfo> {
        self.obstacles
            .iter()
            .filter(|o| o.surface)
            .map(|o| robot_api::SurfaceInfo {
                name: o.name.clone(),
                polygon: o.polygon.clone(),
            })
            .collect()
    }

    /// The clearance from a point to the nearest solid edge, metres (up to `limit`).
    pub fn clearance(&self, p: P2, limit: f64) -> f64 {
        let mut best = limit;
        self.grid
            .near_sweep(p, p, limit, |s| best = best.min(s.distance_to(p)));
        best
    }

    /// The surface (furniture with a top) a point lies on, if any.
    pub fn surface_at(&self, p: P2) -> Option<&Obstacle> {
        self.obstacles
            .iter()
            .find(|o| o.surface && point_in_polygon(p, &o.polygon))
    }

    /// Whether a camera at `from` sees the point `to`: nothing solid between
    /// them, where a point on a surface is seen over the surface's edge.
    pub fn in_sight(&self, from: P2, to: P2) -> bool {
        let end = match self.surface_at(to) {
            Some(s) if self.surface_at(from).is_none() => match s.first_crossing(from, to) {
                Some(t) => from + (to - from) * (t - 1e-6).max(0.0),
                None => to,
            },
            _ => to,
        };
        !self.grid.line_blocked(from, end)
    }

    /// Whether a point lies inside a solid obstacle.
    pub fn inside_obstacle(&self, p: P2) -> Option<&Obstacle> {
        self.obstacles
            .iter()
            .find(|o| point_in_polygon(p, &o.polygon))
    }

    /// A few lines about the world for an LLM's prompt: size, zones, what is
    /// in it. Object positions are left out: the robot finds them by looking.
    pub fn summary(&self) -> String {
        let size = self.bounds.max - self.bounds.min;
        let zones: Vec<String> = self
            .zones
            .iter()
            .map(|z| {
                format!(
                    "{} {}{}",
                    z.name,
                    extent(&z.polygon),
                    if z.charger { " (charger)" } else { "" }
                )
            })
            .collect();
        let surfaces: Vec<String> = self
            .obstacles
            .iter()
            .filter(|o| o.surface && !o.unmapped)
            .map(|o| format!("{} {}", o.name, extent(&o.polygon)))
            .collect();
        let surfaces = if surfaces.is_empty() {
            String::new()
        } else {
            format!(
                "Furniture things can be put on (go_to(name) stands beside it): {}.\n",
                surfaces.join(", ")
            )
        };
        let camera = self.camera_summary();
        let robots: Vec<String> = self
            .robots()
            .map(|(name, r)| {
                let (x, y, theta) = r.start;
                let who = match self.fleet.is_empty() {
                    true => "The robot".to_owned(),
                    false => format!("Robot {name}"),
                };
                format!(
                    "{who} (radius {:.2} m, gripper reach {:.2} m) started at ({x:.1}, {y:.1}), heading {theta:.2} rad.",
                    r.radius, r.reach
                )
            })
            .collect();
        format!(
            "World '{}': {:.0} m x {:.0} m, x from {:.0} to {:.0}, y from {:.0} to {:.0}; {} obstacles on the robot's map.\nZones: {}.\n{surfaces}{} objects to find with detect_objects().\n{}\n{camera}",
            self.name,
            size.x,
            size.y,
            self.bounds.min.x,
            self.bounds.max.x,
            self.bounds.min.y,
            self.bounds.max.y,
            self.obstacles.iter().filter(|o| !o.unmapped).count(),
            if zones.is_empty() { "none".to_owned() } else { zones.join(", ") },
            self.objects.len(),
            robots.join("\n"),
        )
    }

    /// What the camera can see, for the summary: the nearest floor in its
    /// frame, and whether it looks onto furniture or only at its front.
    fn camera_summary(&self) -> String {
        let cam = &self.camera;
        let (_, tan_v) = crate::camera::frame_tangents(cam);
        let floor = cam.height / tan_v;
        let tops = if cam.height > crate::camera::SURFACE_HEIGHT {
            "sees onto furniture tops"
        } else {
            "sees on furniture (0.75 m) only what stands up over its front edge"
        };
        format!(
            "The camera ({:.1} m up, level, {:.0} degrees) recognises what is wholly in its picture within {:.0} m: on the floor from {floor:.1} m away; it {tops}.",
            cam.height,
            cam.fov.to_degrees(),
            cam.range
        )
    }

    /// The zone a point is in, if any (the first listed wins).
    pub fn zone_at(&self, p: P2) -> Option<&Zone> {
        self.zones.iter().find(|z| z.contains(p))
    }
}

/// Where an outline lies, for a prompt: "(x 4.6-5.8, y 3.6-4.8)".
fn extent(polygon: &[P2]) -> String {
    let (mut lo, mut hi) = (P2::new(f64::MAX, f64::MAX), P2::new(f64::MIN, f64::MIN));
    for p in polygon {
        lo = P2::new(lo.x.min(p.x), lo.y.min(p.y));
        hi = P2::new(hi.x.max(p.x), hi.y.max(p.y));
    }
    format!("(x {:.1}-{:.1}, y {:.1}-{:.1})", lo.x, hi.x, lo.y, hi.y)
}
