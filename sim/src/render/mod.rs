//! Pictures of a world: PNG (tiny-skia) and SVG, with the robot's
//! trajectory, its last lidar hits, objects and zones when a run is given,
//! every name written on it, a scale bar and a legend.
//!
//! - [`text`]: labels on a PNG (embedded-graphics' bitmap fonts).
//! - [`key`]: the title, the scale bar and the legend.
//! - [`svg`](mod@svg): the same picture as SVG.

mod key;
mod svg;
pub mod text;

pub use svg::svg;

use std::path::Path;

use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Stroke, StrokeDash, Transform};

use text::{label, Anchor, SMALL, TITLE};

use crate::geometry::{Aabb, P2};
use crate::simulator::Simulator;
use crate::world::World;

/// Pixels per metre, unless the picture would exceed [`MAX_SIDE`].
const SCALE: f64 = 80.0;
/// Longest side of a picture, pixels.
const MAX_SIDE: f64 = 1600.0;
/// Border around the world, pixels.
const MARGIN: f64 = 20.0;

/// Colours in pictures; the trajectory's is checked by tests.
pub mod colours {
    /// The trajectory (RGB).
    pub const TRAJECTORY: (u8, u8, u8) = (30, 110, 230);
    /// Lidar hits.
    pub const LIDAR: (u8, u8, u8) = (230, 40, 40);
    /// The robot.
    pub const ROBOT: (u8, u8, u8) = (250, 150, 20);
    /// Obstacles.
    pub const OBSTACLE: (u8, u8, u8) = (120, 120, 120);
    /// Furniture with a top (a surface).
    pub const SURFACE: (u8, u8, u8) = (176, 132, 88);
    /// Obstacles missing from the robot's map (drawn light, with a dashed outline).
    pub const UNMAPPED: (u8, u8, u8) = (200, 200, 200);
    /// Walls.
    pub const WALL: (u8, u8, u8) = (20, 20, 20);
    /// Text.
    pub const TEXT: (u8, u8, u8) = (20, 20, 20);
    /// A zone's tint in the legend (zones get tints of their own).
    pub const ZONE: (u8, u8, u8) = (200, 190, 240);
    /// Charger zones.
    pub const CHARGER: (u8, u8, u8) = (120, 210, 120);
    /// Opacity of zone tints.
    pub const ZONE_ALPHA: u8 = 90;
    /// Tints of zones whose names name no colour, in turn, so neighbouring rooms differ.
    pub const ROOM_TINTS: [(u8, u8, u8); 6] = [
        (200, 190, 240),
        (250, 210, 150),
        (160, 210, 240),
        (240, 180, 200),
        (200, 230, 160),
        (230, 220, 140),
    ];
}

/// Why a picture could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// Writing the file failed.
    #[error("cannot write the picture {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// PNG bytes of an RGB picture (8 bits a channel, row by row from the
/// top), compressed fast: for pictures made often and read once (a camera
/// frame). `rgb` holds `width * height * 3` bytes.
pub fn encode_rgb_png(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    debug_assert_eq!(rgb.len() as u64, width as u64 * height as u64 * 3);
    let mut out = Vec::with_capacity(rgb.len() / 4);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let written = encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(rgb));
    if let Err(e) = written {
        unreachable!("an RGB picture of its own size always encodes: {e}");
    }
    out
}

/// Maps world coordinates to picture pixels (y up in the world, down in the
/// picture); the key (scale bar, legend) goes below the map.
#[derive(Debug, Clone, Copy)]
pub struct View {
    scale: f64,
    min: P2,
    max: P2,
}

impl View {
    /// The view of a whole world.
    pub fn of(world: &World) -> Self {
        let (min, max) = (world.bounds.min, world.bounds.max);
        let side = (max.x - min.x).max(max.y - min.y).max(0.1);
        View {
            scale: SCALE.min(MAX_SIDE / side),
            min,
            max,
        }
    }
    /// A square view of `radius` metres around `centre`, `pixels` wide.
    pub fn around(centre: P2, radius: f64, pixels: f64) -> Self {
        let radius = radius.max(0.1);
        View {
            scale: (pixels - 2.0 * MARGIN).max(16.0) / (2.0 * radius),
            min: P2::new(centre.x - radius, centre.y - radius),
            max: P2::new(centre.x + radius, centre.y + radius),
        }
    }

    /// Picture size, pixels: the map and the key below it.
    pub fn size(&self) -> (u32, u32) {
        let width = self.width();
        (
            width.ceil() as u32,
            (self.map_bottom() + self.key().height).ceil() as u32,
        )
    }

    fn width(&self) -> f32 {
        ((self.max.x - self.min.x) * self.scale + 2.0 * MARGIN) as f32
    }

    /// Where the map's area ends (its lower margin included), pixels from the top.
    pub fn map_bottom(&self) -> f32 {
        ((self.max.y - self.min.y) * self.scale + 2.0 * MARGIN) as f32
    }

    /// Pixels per metre.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Where the scale bar and the legend go.
    pub fn key(&self) -> key::Layout {
        key::layout(self.width(), self.scale, self.map_bottom(), MARGIN as f32)
    }
    /// The pixel of a world point.
    pub fn px(&self, p: P2) -> (f32, f32) {
        (
            ((p.x - self.min.x) * self.scale + MARGIN) as f32,
            ((self.max.y - p.y) * self.scale + MARGIN) as f32,
        )
    }
}

/// A named colour of an object ("red") as RGB; unknown names are grey.
pub fn colour_rgb(name: &str) -> (u8, u8, u8) {
    match name.to_ascii_lowercase().as_str() {
        "red" => (220, 30, 30),
        "green" => (30, 170, 60),
        "blue" => (30, 80, 220),
        "yellow" => (235, 200, 20),
        "orange" => (245, 130, 20),
        "purple" => (140, 50, 170),
        "black" => (10, 10, 10),
        "white" => (250, 250, 250),
        "brown" => (130, 80, 40),
        _ => (150, 150, 150),
    }
}

/// The tint of each zone of `world`: a charger's green, the colour a name
/// names ("blue_zone"), or else the room tints in turn.
pub(crate) fn zone_tints(world: &World) -> Vec<(u8, u8, u8)> {
    let mut next = 0;
    world
        .zones
        .iter()
        .map(|z| {
            if z.charger {
                return colours::CHARGER;
            }
            if let Some(c) = ["red", "green", "blue", "yellow", "orange", "purple"]
                .into_iter()
                .find(|c| z.name.contains(c))
            {
                return colour_rgb(c);
            }
            next += 1;
            colours::ROOM_TINTS[(next - 1) % colours::ROOM_TINTS.len()]
        })
        .collect()
}

/// An obstacle's fill: furniture with a top, an unmapped one, or plain.
fn obstacle_rgb(o: &crate::world::Obstacle) -> (u8, u8, u8) {
    if o.unmapped {
        colours::UNMAPPED
    } else if o.surface {
        colours::SURFACE
    } else {
        colours::OBSTACLE
    }
}

/// A solid, anti-aliased paint of `rgb` at `alpha`.
pub fn paint(rgb: (u8, u8, u8), alpha: u8) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(Color::from_rgba8(rgb.0, rgb.1, rgb.2, alpha));
    p.anti_alias = true;
    p
}

/// A path through `points` in picture pixels; `closed` joins the last to the first.
fn pixel_path(view: &View, points: &[P2], closed: bool) -> Option<tiny_skia::Path> {
    let mut pb = PathBuilder::new();
    for (i, p) in points.iter().enumerate() {
        let (x, y) = view.px(*p);
        if i == 0 {
            pb.move_to(x, y);
        } else {
            pb.line_to(x, y);
        }
    }
    if closed {
        pb.close();
    }
    pb.finish()
}

/// Lidar hit points of the first robot's latest scan, world frame.
pub fn lidar_hits(sim: &Simulator) -> Vec<P2> {
    lidar_hits_of(sim, 0)
}

/// Lidar hit points of robot `i`'s latest scan, world frame (ground truth pose).
pub fn lidar_hits_of(sim: &Simulator, i: usize) -> Vec<P2> {
    let scan = sim.robot(i).scan();
    let pose = sim.robot(i).true_pose();
    scan.ranges
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_finite())
        .map(|(i, r)| {
            let a = pose.theta + scan.angle_min + i as f64 * scan.angle_increment;
            P2::new(pose.x + r * a.cos(), pose.y + r * a.sin())
        })
        .collect()
}

/// Draws the world (and the run, if given) into a pixmap.
pub fn draw(world: &World, sim: Option<&Simulator>) -> Pixmap {
    draw_view(world, sim, &View::of(world))
}

/// A PNG of the map within `radius` metres of the robot, 400 pixels wide:
/// what the `get_map_image` skill returns for vision models.
pub fn map_crop_png(sim: &Simulator, radius: f64) -> Vec<u8> {
    map_crop_png_of(sim, 0, radius)
}

/// [`map_crop_png`] around robot `i`.
pub fn map_crop_png_of(sim: &Simulator, i: usize, radius: f64) -> Vec<u8> {
    let p = sim.robot(i).true_pose();
    let view = View::around(P2::new(p.x, p.y), radius, 400.0);
    draw_view(sim.world(), Some(sim), &view)
        .encode_png()
        .unwrap_or_default()
}

/// Draws what `view` shows of the world (and the run, if given): the map,
/// every name, the title, the scale bar and the legend.
pub fn draw_view(world: &World, sim: Option<&Simulator>, view: &View) -> Pixmap {
    let view = *view;
    let (w, h) = view.size();
    let mut pm = Pixmap::new(w.max(1), h.max(1)).expect("picture size is positive");
    pm.fill(Color::WHITE);
    draw_places(&mut pm, world, &view);
    draw_objects(&mut pm, world, sim, &view);
    draw_robot(&mut pm, world, sim, &view);
    draw_names(&mut pm, world, sim, &view);
    draw_key(&mut pm, world, sim, &view);
    pm
}

fn fill(pm: &mut Pixmap, path: &tiny_skia::Path, rgb: (u8, u8, u8), alpha: u8) {
    pm.fill_path(
        path,
        &paint(rgb, alpha),
        FillRule::Winding,
        Transform::identity(),
        None,
    );
}

/// Strokes `path` in `rgb`, `width` pixels wide, dashed or solid.
pub fn stroke(pm: &mut Pixmap, path: &tiny_skia::Path, rgb: (u8, u8, u8), width: f32, dash: bool) {
    let stroke = Stroke {
        width,
        dash: if dash {
            StrokeDash::new(vec![4.0, 3.0], 0.0)
        } else {
            None
        },
        ..Stroke::default()
    };
    pm.stroke_path(path, &paint(rgb, 255), &stroke, Transform::identity(), None);
}

/// Zones, obstacles (unmapped ones light and dashed) and walls.
fn draw_places(pm: &mut Pixmap, world: &World, view: &View) {
    for (z, tint) in world.zones.iter().zip(zone_tints(world)) {
        if let Some(path) = pixel_path(view, &z.polygon, true) {
            fill(pm, &path, tint, colours::ZONE_ALPHA);
        }
    }
    for o in &world.obstacles {
        if let Some(path) = pixel_path(view, &o.polygon, true) {
            fill(pm, &path, obstacle_rgb(o), 255);
            if o.unmapped {
                stroke(pm, &path, colours::OBSTACLE, 1.5, true);
            }
        }
    }
    for s in &world.walls {
        if let Some(path) = pixel_path(view, &[s.a, s.b], false) {
            stroke(pm, &path, colours::WALL, 3.0, false);
        }
    }
}

/// The top-left corner of a zone's bounding box (world frame: least x, most y).
fn zone_corner(z: &crate::world::Zone) -> P2 {
    let b = Aabb::around(z.polygon.iter().copied());
    P2::new(b.min.x, b.max.y)
}

/// Where object `i` is: in the run, or where the world puts it.
fn object_at(world: &World, sim: Option<&Simulator>, i: usize) -> P2 {
    sim.map_or(world.objects[i].at, |s| s.objects()[i].at)
}

/// Objects as squares of their colour with a dark outline (white ones show on white).
fn draw_objects(pm: &mut Pixmap, world: &World, sim: Option<&Simulator>, view: &View) {
    for (i, o) in world.objects.iter().enumerate() {
        let half = ((o.size * view.scale) as f32 / 2.0).max(3.0);
        let (x, y) = view.px(object_at(world, sim, i));
        if let Some(rect) = tiny_skia::Rect::from_xywh(x - half, y - half, 2.0 * half, 2.0 * half) {
            pm.fill_rect(
                rect,
                &paint(colour_rgb(&o.colour), 255),
                Transform::identity(),
                None,
            );
            let outline = PathBuilder::from_rect(rect);
            stroke(pm, &outline, colours::TEXT, 1.0, false);
        }
    }
}

/// Each robot's trajectory, last lidar hits and body with its heading.
fn draw_robot(pm: &mut Pixmap, world: &World, sim: Option<&Simulator>, view: &View) {
    let Some(s) = sim else {
        for (_, c) in world.robots() {
            let (x, y, th) = c.start;
            draw_body(pm, view, robot_api::Pose2::new(x, y, th), c.radius);
        }
        return;
    };
    for (i, body) in s.robots().iter().enumerate() {
        if let Some(path) = pixel_path(view, body.trajectory(), false) {
            if body.trajectory().len() > 1 {
                stroke(pm, &path, colours::TRAJECTORY, 2.5, false);
            }
        }
        for p in lidar_hits_of(s, i) {
            let (x, y) = view.px(p);
            if let Some(c) = PathBuilder::from_circle(x, y, 1.8) {
                fill(pm, &c, colours::LIDAR, 255);
            }
        }
    }
    for body in s.robots() {
        draw_body(pm, view, body.true_pose(), body.config().radius);
    }
}

/// A robot's disc with a line for its heading.
fn draw_body(pm: &mut Pixmap, view: &View, pose: robot_api::Pose2, radius: f64) {
    let (x, y) = view.px(P2::new(pose.x, pose.y));
    let r = (radius * view.scale) as f32;
    if let Some(c) = PathBuilder::from_circle(x, y, r) {
        fill(pm, &c, colours::ROBOT, 255);
    }
    let tip = P2::new(
        pose.x + radius * pose.theta.cos(),
        pose.y + radius * pose.theta.sin(),
    );
    if let Some(path) = pixel_path(view, &[P2::new(pose.x, pose.y), tip], false) {
        stroke(pm, &path, (0, 0, 0), 2.0, false);
    }
}

/// The names of zones (at their centres), of obstacles that have room for
/// them, and of objects (beside them).
fn draw_names(pm: &mut Pixmap, world: &World, sim: Option<&Simulator>, view: &View) {
    // Zone names in their top-left corners, as on a floor plan: their
    // centres are where the robot and the objects tend to be.
    for z in &world.zones {
        let (x, y) = view.px(zone_corner(z));
        label(
            pm,
            &z.name,
            (x + 5.0, y + 5.0),
            Anchor::TopLeft,
            SMALL,
            colours::TEXT,
        );
    }
    // Unnamed ones (a twin's map cells, its lidar returns) go unlabelled.
    for o in world.obstacles.iter().filter(|o| !o.name.is_empty()) {
        let Aabb { min: lo, max: hi } = Aabb::around(o.polygon.iter().copied());
        let room = ((hi.x - lo.x) * view.scale) as f32;
        let centre = P2::new((lo.x + hi.x) / 2.0, (lo.y + hi.y) / 2.0);
        // Inside when it fits, else just above (a bin, a pillar).
        let at = if text::extent(&o.name, SMALL).0 <= room {
            view.px(centre)
        } else {
            let (x, y) = view.px(P2::new(centre.x, hi.y));
            (x, y - 8.0)
        };
        label(pm, &o.name, at, Anchor::Centre, SMALL, colours::TEXT);
    }
    for (i, o) in world.objects.iter().enumerate() {
        let half = ((o.size * view.scale) as f32 / 2.0).max(3.0);
        let (x, y) = view.px(object_at(world, sim, i));
        label(
            pm,
            &o.name,
            (x + half + 3.0, y),
            Anchor::Left,
            SMALL,
            colours::TEXT,
        );
    }
}

/// The title (world, and the run's time) in the top margin, and below the
/// map the scale bar and the legend.
fn draw_key(pm: &mut Pixmap, world: &World, sim: Option<&Simulator>, view: &View) {
    let title = match sim {
        Some(s) => format!("{}  t = {:.1} s", world.name, s.time()),
        None => world.name.clone(),
    };
    label(
        pm,
        &title,
        (MARGIN as f32, 3.0),
        Anchor::TopLeft,
        TITLE,
        colours::TEXT,
    );
    let key = view.key();
    let (x, y, len, metres) = key.scale_bar;
    let mut pb = PathBuilder::new();
    pb.move_to(x, y - 4.0);
    pb.line_to(x, y);
    pb.line_to(x + len, y);
    pb.line_to(x + len, y - 4.0);
    if let Some(path) = pb.finish() {
        stroke(pm, &path, colours::TEXT, 2.0, false);
    }
    label(
        pm,
        &key::metres_label(metres),
        (x + len + 6.0, y - 2.0),
        Anchor::Left,
        SMALL,
        colours::TEXT,
    );
    for &(x, y, name, mark) in &key.entries {
        draw_mark(pm, mark, x, y);
        label(
            pm,
            name,
            (x + key::MARK + 4.0, y),
            Anchor::Left,
            SMALL,
            colours::TEXT,
        );
    }
}

/// A legend mark, `key::MARK` pixels wide, its left edge at `x`, centred on `y`.
fn draw_mark(pm: &mut Pixmap, mark: key::Mark, x: f32, y: f32) {
    let m = key::MARK;
    let square = tiny_skia::Rect::from_xywh(x, y - m / 2.0, m, m).map(PathBuilder::from_rect);
    let line = {
        let mut pb = PathBuilder::new();
        pb.move_to(x, y);
        pb.line_to(x + m, y);
        pb.finish()
    };
    match mark {
        key::Mark::Swatch(rgb, alpha) => {
            if let Some(p) = square {
                fill(pm, &p, rgb, alpha);
            }
        }
        key::Mark::Dashed(rgb) => {
            if let Some(p) = square {
                fill(pm, &p, rgb, 255);
                stroke(pm, &p, colours::OBSTACLE, 1.5, true);
            }
        }
        key::Mark::Line(rgb) => {
            if let Some(p) = line {
                stroke(pm, &p, rgb, 2.5, false);
            }
        }
        key::Mark::Dot(rgb) => {
            if let Some(c) = PathBuilder::from_circle(x + m / 2.0, y, 2.0) {
                fill(pm, &c, rgb, 255);
            }
        }
        key::Mark::Disc(rgb) => {
            if let Some(c) = PathBuilder::from_circle(x + m / 2.0, y, m / 2.0) {
                fill(pm, &c, rgb, 255);
            }
        }
    }
}

/// [`write_png`] with lines of text under the picture (a trial's task and
/// verdict), each cut to the picture's width.
pub fn write_png_captioned(
    world: &World,
    sim: Option<&Simulator>,
    path: &Path,
    lines: &[String],
) -> Result<(), RenderError> {
    let picture = draw(world, sim);
    let (w, h) = (picture.width(), picture.height());
    let fits = ((w as f64 - 2.0 * MARGIN) / 6.0).max(10.0) as usize;
    let lines: Vec<String> = lines.iter().flat_map(|l| wrap(l, fits)).collect();
    let line_height = 13.0;
    let extra = (lines.len() as f32 * line_height + 8.0) as u32;
    let mut pm = Pixmap::new(w, h + extra).expect("picture size is positive");
    pm.fill(Color::WHITE);
    pm.draw_pixmap(
        0,
        0,
        picture.as_ref(),
        &tiny_skia::PixmapPaint::default(),
        Transform::identity(),
        None,
    );
    for (i, line) in lines.iter().enumerate() {
        let y = h as f32 + 4.0 + i as f32 * line_height;
        label(
            &mut pm,
            line,
            (MARGIN as f32, y),
            Anchor::TopLeft,
            SMALL,
            colours::TEXT,
        );
    }
    pm.save_png(path).map_err(|e| RenderError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

/// `text` in lines of at most `width` characters, broken at spaces (a word
/// longer than a line is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let word: String = word.chars().take(width).collect();
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines
}

/// Writes a PNG of the world (and the run, if given).
pub fn write_png(world: &World, sim: Option<&Simulator>, path: &Path) -> Result<(), RenderError> {
    draw(world, sim)
        .save_png(path)
        .map_err(|e| RenderError::Write {
            path: path.display().to_string(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_wrap_at_spaces_and_go_under_the_picture() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 4), ["abcd"]);
        let world = crate::load("small_room").unwrap();
        let dir = std::env::temp_dir().join(format!("codeact-caption-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (plain, captioned) = (dir.join("plain.png"), dir.join("captioned.png"));
        write_png(&world, None, &plain).unwrap();
        let lines = vec![
            "task (seed 0): do it".to_owned(),
            "FAIL: it was not done".to_owned(),
        ];
        write_png_captioned(&world, None, &captioned, &lines).unwrap();
        let size = |p: &Path| {
            let pm = Pixmap::load_png(p).unwrap();
            (pm.width(), pm.height())
        };
        let (w, h) = size(&plain);
        assert_eq!(size(&captioned), (w, h + 2 * 13 + 8));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
