//! The robot's camera view: a first-person picture ray-cast from the 2D
//! world, so a vision model can find the red mug by looking. Walls and
//! solid obstacles stand [`WALL_HEIGHT`] tall, furniture with a top
//! [`SURFACE_HEIGHT`] (the camera, lower than a table top, sees objects on
//! it over its front); objects are coloured blocks at their place; the
//! floor is tinted where it lies in a zone. Shading darkens with distance.
//! Every pixel has a depth, so nothing behind a wall is drawn.

use robot_api::Pose2;

use crate::geometry::{point_in_polygon, Aabb, P2, V2};
use crate::render::{colour_rgb, colours, encode_rgb_png, zone_tints};
use crate::simulator::Simulator;
use crate::world::{CameraConfig, World};

/// Height of walls and solid obstacles, metres.
pub const WALL_HEIGHT: f64 = 1.0;
/// Height of furniture with a top (tables, benches), metres.
pub const SURFACE_HEIGHT: f64 = 0.75;
/// Height of the camera above the floor unless the world says otherwise
/// (`camera: {height}`), metres.
pub const CAMERA_HEIGHT: f64 = 0.5;
/// The frame `detect_objects()` recognises objects in, pixels: 4:3 across
/// the camera's field of view (a picture of other proportions shows more or
/// less above and below).
pub const FRAME: (f64, f64) = (640.0, 480.0);
/// The fewest pixels across and up an object must show in that frame to be
/// recognised.
pub const MIN_PIXELS: f64 = 3.0;
/// How far the picture shows walls and floor, metres.
const VIEW_DISTANCE: f64 = 30.0;
/// Layers (furniture, then what stands behind it) followed along one ray.
const MAX_LAYERS: usize = 4;

const SKY: (u8, u8, u8) = (205, 220, 235);
const FLOOR: (u8, u8, u8) = (190, 190, 185);

/// An RGB picture, row by row from the top-left.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// `width * height * 3` bytes.
    pub rgb: Vec<u8>,
}

impl Image {
    /// The colour at a pixel.
    pub fn pixel(&self, x: usize, y: usize) -> (u8, u8, u8) {
        let i = (y * self.width + x) * 3;
        (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])
    }

    /// The picture as PNG bytes.
    pub fn png(&self) -> Vec<u8> {
        encode_rgb_png(&self.rgb, self.width as u32, self.height as u32)
    }
}

/// Something a ray meets: where, how tall, what colour; for furniture,
/// where the ray leaves it (its top lies between).
#[derive(Debug, Clone, Copy)]
struct Face {
    distance: f64,
    height: f64,
    rgb: (u8, u8, u8),
    exit: Option<f64>,
}

/// A face as one column shows it: its rows and shaded colour, and how far
/// away each row is: one distance for an upright face, or a furniture top
/// at this height, whose rows lie farther the nearer they are to the horizon.
struct Span {
    top: f64,
    bottom: f64,
    rgb: (u8, u8, u8),
    distance: f64,
    top_at: Option<f64>,
}

/// The faces along one ray, nearest first.
fn faces(sim: &Simulator, origin: P2, dir: V2) -> Vec<Face> {
    let world = sim.world();
    let mut out = Vec::new();
    let mut from = origin;
    let mut travelled = 0.0;
    for _ in 0..MAX_LAYERS {
        let Some(t) = world.grid.cast(from, dir, VIEW_DISTANCE - travelled) else {
            break;
        };
        let hit = from + dir * t;
        let distance = travelled + t;
        let inside = hit + dir * 1e-4;
        match world.surface_at(inside) {
            Some(surface) if world.surface_at(from).is_none() => {
                // Past the furniture: the ray leaves it through its far edge.
                let across = world.grid.cast(inside, dir, VIEW_DISTANCE);
                out.push(Face {
                    distance,
                    height: SURFACE_HEIGHT,
                    rgb: colours::SURFACE,
                    exit: across.map(|a| distance + 1e-4 + a),
                });
                let Some(across) = across else {
                    break;
                };
                let exit = inside + dir * across;
                if !point_in_polygon(exit + dir * 1e-4, &surface.polygon) {
                    from = exit + dir * 1e-4;
                    travelled = distance + 1e-4 + across + 1e-4;
                    continue;
                }
                break;
            }
            _ => {
                let rgb = match world.inside_obstacle(inside) {
                    Some(o) if o.unmapped => colours::UNMAPPED,
                    Some(_) => colours::OBSTACLE,
                    None => (150, 150, 155),
                };
                out.push(Face {
                    distance,
                    height: WALL_HEIGHT,
                    rgb,
                    exit: None,
                });
                break;
            }
        }
    }
    out
}

/// Darker with distance, as a lamp on the robot would light it.
fn shade(rgb: (u8, u8, u8), distance: f64) -> (u8, u8, u8) {
    let k = 1.0 / (1.0 + 0.12 * distance.max(0.0));
    let s = |c: u8| (c as f64 * (0.35 + 0.65 * k)) as u8;
    (s(rgb.0), s(rgb.1), s(rgb.2))
}

/// What the robot's camera sees now, `width` × `height` pixels, across the
/// camera's field of view.
pub fn view(sim: &Simulator, width: usize, height: usize) -> Image {
    view_of(sim, 0, width, height)
}

/// What robot `viewer`'s camera sees now (see [`view`]).
pub fn view_of(sim: &Simulator, viewer: usize, width: usize, height: usize) -> Image {
    let world = sim.world();
    let pose = sim.robot(viewer).true_pose();
    let origin = P2::new(pose.x, pose.y);
    let half_fov = world.camera.fov / 2.0;
    // A pinhole with square pixels: the focal length in pixels, the horizon mid-height.
    let focal = (width as f64 / 2.0) / half_fov.tan();
    let horizon = height as f64 / 2.0;
    let camera_height = world.camera.height;
    let row_of = |h: f64, d: f64| horizon - focal * (h - camera_height) / d;
    let mut rgb = vec![0u8; width * height * 3];
    let mut depth = vec![f64::INFINITY; width * height];
    let floor = Floor::new(world);
    let (heading_sin, heading_cos) = pose.theta.sin_cos();
    for x in 0..width {
        // Column x looks at this angle off the heading (left positive), through the image plane.
        let offset = ((width as f64 / 2.0) - (x as f64 + 0.5)) / focal;
        let dir = V2::new(
            heading_cos - heading_sin * offset,
            heading_sin + heading_cos * offset,
        )
        .normalize();
        // Depth along the heading (not the ray), so straight walls stay straight.
        let along = 1.0 / (1.0 + offset * offset).sqrt();
        // Each face's rows and shaded colour, once per column, nearest first;
        // a furniture top after its front, when the camera looks down on it.
        let mut spans: Vec<Span> = Vec::new();
        for f in faces(sim, origin, dir) {
            let d = f.distance * along;
            spans.push(Span {
                top: row_of(f.height, d),
                bottom: row_of(0.0, d),
                rgb: shade(f.rgb, f.distance),
                distance: f.distance,
                top_at: None,
            });
            if let Some(exit) = f.exit.filter(|_| camera_height > f.height) {
                spans.push(Span {
                    top: row_of(f.height, exit * along),
                    bottom: row_of(f.height, d),
                    rgb: shade(mix(f.rgb, (255, 255, 255), 0.2), f.distance),
                    distance: f.distance,
                    top_at: Some(f.height),
                });
            }
        }
        for y in 0..height {
            let yc = y as f64 + 0.5;
            let face = spans.iter().find(|s| yc >= s.top && yc <= s.bottom);
            let (colour, d) = match face {
                Some(span) => match span.top_at {
                    // Where this row's ray meets the top.
                    Some(h) => (
                        span.rgb,
                        focal * (camera_height - h) / (yc - horizon) / along,
                    ),
                    None => (span.rgb, span.distance),
                },
                None if yc > horizon => {
                    let ground = focal * camera_height / (yc - horizon) / along;
                    let tint = floor.at(origin + dir * ground);
                    (shade(tint, ground), ground)
                }
                None => (SKY, f64::INFINITY),
            };
            let i = y * width + x;
            rgb[i * 3..i * 3 + 3].copy_from_slice(&[colour.0, colour.1, colour.2]);
            depth[i] = d;
        }
    }
    let mut image = Image { width, height, rgb };
    draw_objects(sim, viewer, &mut image, &mut depth, focal, horizon);
    image
}

/// The tangents of half the [`FRAME`]'s angle across and up, for a level
/// pinhole camera of `cam`'s field of view (square pixels).
pub fn frame_tangents(cam: &CameraConfig) -> (f64, f64) {
    let tan_h = (cam.fov / 2.0).tan();
    (tan_h, tan_h * FRAME.1 / FRAME.0)
}

/// Whether the camera, on a robot at `pose` (its true pose) in `world`,
/// shows an object of `size` at `at` well enough to recognise it: within
/// range, wholly inside the [`FRAME`] (pinhole model, the camera at
/// `world.camera.height` looking level), nothing solid in the way of its
/// middle or its sides, at least [`MIN_PIXELS`] wide and, where it lies on
/// furniture whose top is above the camera, as many pixels of it standing
/// up over the front edge. What it decides, the picture shows.
pub fn recognises(world: &World, pose: Pose2, at: P2, size: f64) -> bool {
    let cam = &world.camera;
    let origin = P2::new(pose.x, pose.y);
    let rel = at - origin;
    let (s, c) = pose.theta.sin_cos();
    let forward = rel.x * c + rel.y * s;
    let left = -rel.x * s + rel.y * c;
    if rel.norm() > cam.range || forward <= 0.05 {
        return false;
    }
    let half = size / 2.0;
    let (tan_h, tan_v) = frame_tangents(cam);
    let focal = FRAME.0 / 2.0 / tan_h;
    let on = world.surface_at(at);
    let base = if on.is_some() { SURFACE_HEIGHT } else { 0.0 };
    let in_frame = (left.abs() + half) / forward <= tan_h
        && (base + size - cam.height) / forward <= tan_v
        && (cam.height - base) / forward <= tan_v;
    if !in_frame || focal * size / forward < MIN_PIXELS {
        return false;
    }
    // Its middle and both sides in sight (over the front of furniture it lies on).
    let side = V2::new(-s, c) * half;
    if ![at, at + side, at - side]
        .iter()
        .all(|&p| world.in_sight(origin, p))
    {
        return false;
    }
    // Below a furniture top, only what stands up over the front edge shows.
    match on {
        Some(furniture) if cam.height < SURFACE_HEIGHT => {
            let Some(t) = furniture.first_crossing(origin, at) else {
                return true;
            };
            let edge = forward * t;
            let hidden_below = cam.height + (SURFACE_HEIGHT - cam.height) * forward / edge;
            focal * (base + size - hidden_below) / forward >= MIN_PIXELS
        }
        _ => true,
    }
}

/// The floor's colour, tinted in zones as in the map picture.
struct Floor<'w> {
    zones: Vec<ZoneTint<'w>>,
}

/// A zone's bounds (a quick test first), outline and tint.
type ZoneTint<'w> = (Aabb, &'w [P2], (u8, u8, u8));

impl<'w> Floor<'w> {
    fn new(world: &'w crate::world::World) -> Self {
        let zones = world
            .zones
            .iter()
            .zip(zone_tints(world))
            .map(|(z, tint)| {
                (
                    Aabb::around(z.polygon.iter().copied()),
                    &z.polygon[..],
                    tint,
                )
            })
            .collect();
        Floor { zones }
    }

    /// The colour of the floor at `p`.
    fn at(&self, p: P2) -> (u8, u8, u8) {
        let inside = |(b, polygon, _): &&ZoneTint| {
            p.x >= b.min.x
                && p.x <= b.max.x
                && p.y >= b.min.y
                && p.y <= b.max.y
                && point_in_polygon(p, polygon)
        };
        self.zones
            .iter()
            .find(inside)
            .map_or(FLOOR, |(_, _, tint)| mix(FLOOR, *tint, 0.55))
    }
}

/// Blends `b` into `a` by `k`.
fn mix(a: (u8, u8, u8), b: (u8, u8, u8), k: f64) -> (u8, u8, u8) {
    let m = |x: u8, y: u8| (x as f64 * (1.0 - k) + y as f64 * k) as u8;
    (m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

/// The objects as blocks of their colour, and the other robots as grey
/// blocks, each pixel drawn only where it is nearer than what is already there.
fn draw_objects(
    sim: &Simulator,
    viewer: usize,
    image: &mut Image,
    depth: &mut [f64],
    focal: f64,
    horizon: f64,
) {
    let world = sim.world();
    let pose = sim.robot(viewer).true_pose();
    let mut canvas = Canvas {
        image,
        depth,
        focal,
        horizon,
        eye: world.camera.height,
        pose,
    };
    for (spec, state) in world.objects.iter().zip(sim.objects()) {
        if state.held {
            continue;
        }
        let base = if world.surface_at(state.at).is_some() {
            SURFACE_HEIGHT
        } else {
            0.0
        };
        let rgb = colour_rgb(&spec.colour);
        canvas.block(state.at, spec.size / 2.0, base, spec.size, rgb);
    }
    for (j, other) in sim.robots().iter().enumerate() {
        if j != viewer {
            let p = other.true_pose();
            let r = other.config().radius;
            canvas.block(P2::new(p.x, p.y), r, 0.0, ROBOT_HEIGHT, ROBOT_RGB);
        }
    }
}

/// How tall another robot stands in a camera's picture, metres.
pub const ROBOT_HEIGHT: f64 = 0.35;
/// Its colour there.
const ROBOT_RGB: (u8, u8, u8) = (90, 90, 100);

/// Where a camera's picture is drawn: the picture, its depths, the pinhole.
struct Canvas<'a> {
    image: &'a mut Image,
    depth: &'a mut [f64],
    focal: f64,
    horizon: f64,
    /// Camera height, metres.
    eye: f64,
    /// The camera's (the robot's true) pose.
    pose: robot_api::Pose2,
}

impl Canvas<'_> {
    /// A block `half` wide either side of `at`, from `base` up `height`.
    fn block(&mut self, at: P2, half: f64, base: f64, height: f64, rgb: (u8, u8, u8)) {
        let rel = at - P2::new(self.pose.x, self.pose.y);
        let (s, c) = self.pose.theta.sin_cos();
        // Camera frame: forward along the heading, left positive.
        let forward = rel.x * c + rel.y * s;
        let left = -rel.x * s + rel.y * c;
        if forward <= 0.05 {
            return;
        }
        let (width, focal) = (self.image.width as f64, self.focal);
        let col = |l: f64| width / 2.0 - focal * l / forward;
        let row = |h: f64| self.horizon - focal * (h - self.eye) / forward;
        let (x0, x1) = (
            col(left + half).floor().max(0.0),
            col(left - half).ceil().min(width),
        );
        let (y0, y1) = (
            row(base + height).floor().max(0.0),
            row(base).ceil().min(self.image.height as f64),
        );
        let rgb = shade(rgb, rel.norm());
        for x in x0 as usize..x1.max(0.0) as usize {
            // Depth in the same measure as the walls: distance along the ray.
            let offset = ((width / 2.0) - (x as f64 + 0.5)) / focal;
            let distance = forward * (1.0 + offset * offset).sqrt();
            for y in y0 as usize..y1.max(0.0) as usize {
                let i = y * self.image.width + x;
                if distance < self.depth[i] {
                    self.image.rgb[i * 3..i * 3 + 3].copy_from_slice(&[rgb.0, rgb.1, rgb.2]);
                    self.depth[i] = distance;
                }
            }
        }
    }
}
