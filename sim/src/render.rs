//! Pictures of a world: PNG (tiny-skia) and SVG, with the robot's
//! trajectory, its last lidar hits, objects and zones when a run is given.

use std::fmt::Write as _;
use std::path::Path;

use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Stroke, Transform};

use crate::geometry::P2;
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
    /// Walls.
    pub const WALL: (u8, u8, u8) = (20, 20, 20);
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

/// Maps world coordinates to picture pixels (y up in the world, down in the picture).
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

    /// Picture size, pixels.
    pub fn size(&self) -> (u32, u32) {
        (
            ((self.max.x - self.min.x) * self.scale + 2.0 * MARGIN).ceil() as u32,
            ((self.max.y - self.min.y) * self.scale + 2.0 * MARGIN).ceil() as u32,
        )
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

fn zone_rgb(name: &str, charger: bool) -> (u8, u8, u8) {
    if charger {
        return (120, 210, 120);
    }
    for c in ["red", "green", "blue", "yellow", "orange", "purple"] {
        if name.contains(c) {
            return colour_rgb(c);
        }
    }
    (200, 190, 240)
}

fn paint(rgb: (u8, u8, u8), alpha: u8) -> Paint<'static> {
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

/// Lidar hit points of the latest scan, world frame (ground truth pose).
pub fn lidar_hits(sim: &Simulator) -> Vec<P2> {
    let scan = sim.scan();
    let pose = sim.true_pose();
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
    let p = sim.true_pose();
    let view = View::around(P2::new(p.x, p.y), radius, 400.0);
    draw_view(sim.world(), Some(sim), &view)
        .encode_png()
        .unwrap_or_default()
}

/// Draws what `view` shows of the world (and the run, if given).
pub fn draw_view(world: &World, sim: Option<&Simulator>, view: &View) -> Pixmap {
    let view = *view;
    let (w, h) = view.size();
    let mut pm = Pixmap::new(w.max(1), h.max(1)).expect("picture size is positive");
    pm.fill(Color::WHITE);
    let t = Transform::identity();
    for z in &world.zones {
        if let Some(path) = pixel_path(&view, &z.polygon, true) {
            pm.fill_path(
                &path,
                &paint(zone_rgb(&z.name, z.charger), 90),
                FillRule::Winding,
                t,
                None,
            );
        }
    }
    for o in &world.obstacles {
        if let Some(path) = pixel_path(&view, &o.polygon, true) {
            pm.fill_path(
                &path,
                &paint(colours::OBSTACLE, 255),
                FillRule::Winding,
                t,
                None,
            );
        }
    }
    let wall_stroke = Stroke {
        width: 3.0,
        ..Stroke::default()
    };
    for s in &world.walls {
        if let Some(path) = pixel_path(&view, &[s.a, s.b], false) {
            pm.stroke_path(&path, &paint(colours::WALL, 255), &wall_stroke, t, None);
        }
    }
    let object_at = |i: usize| sim.map_or(world.objects[i].at, |s| s.objects()[i].at);
    for (i, o) in world.objects.iter().enumerate() {
        let half = ((o.size * view.scale) as f32 / 2.0).max(3.0);
        let (x, y) = view.px(object_at(i));
        if let Some(rect) = tiny_skia::Rect::from_xywh(x - half, y - half, 2.0 * half, 2.0 * half) {
            pm.fill_rect(rect, &paint(colour_rgb(&o.colour), 255), t, None);
        }
    }
    let (pose, trajectory) = match sim {
        Some(s) => (s.true_pose(), s.trajectory().to_vec()),
        None => {
            let (x, y, th) = world.robot.start;
            (robot_api::Pose2::new(x, y, th), Vec::new())
        }
    };
    if trajectory.len() > 1 {
        if let Some(path) = pixel_path(&view, &trajectory, false) {
            let stroke = Stroke {
                width: 2.5,
                ..Stroke::default()
            };
            pm.stroke_path(&path, &paint(colours::TRAJECTORY, 255), &stroke, t, None);
        }
    }
    if let Some(s) = sim {
        let dot = paint(colours::LIDAR, 255);
        for p in lidar_hits(s) {
            let (x, y) = view.px(p);
            if let Some(c) = PathBuilder::from_circle(x, y, 1.8) {
                pm.fill_path(&c, &dot, FillRule::Winding, t, None);
            }
        }
    }
    let (x, y) = view.px(P2::new(pose.x, pose.y));
    let r = (world.robot.radius * view.scale) as f32;
    if let Some(c) = PathBuilder::from_circle(x, y, r) {
        pm.fill_path(&c, &paint(colours::ROBOT, 255), FillRule::Winding, t, None);
    }
    let tip = P2::new(
        pose.x + world.robot.radius * pose.theta.cos(),
        pose.y + world.robot.radius * pose.theta.sin(),
    );
    if let Some(path) = pixel_path(&view, &[P2::new(pose.x, pose.y), tip], false) {
        pm.stroke_path(
            &path,
            &paint((0, 0, 0), 255),
            &Stroke {
                width: 2.0,
                ..Stroke::default()
            },
            t,
            None,
        );
    }
    pm
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

/// The same picture as SVG text.
pub fn svg(world: &World, sim: Option<&Simulator>) -> String {
    let view = View::of(world);
    let (w, h) = view.size();
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">"#
    );
    let _ = writeln!(out, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(out, "<title>{}</title>", xml_escape(&world.name));
    let points = |ps: &[P2]| {
        ps.iter()
            .map(|p| {
                let (x, y) = view.px(*p);
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rgb = |c: (u8, u8, u8)| format!("rgb({},{},{})", c.0, c.1, c.2);
    for z in &world.zones {
        let _ = writeln!(
            out,
            r#"<polygon points="{}" fill="{}" fill-opacity="0.35"><title>{}</title></polygon>"#,
            points(&z.polygon),
            rgb(zone_rgb(&z.name, z.charger)),
            xml_escape(&z.name)
        );
    }
    for o in &world.obstacles {
        let _ = writeln!(
            out,
            r#"<polygon points="{}" fill="{}"><title>{}</title></polygon>"#,
            points(&o.polygon),
            rgb(colours::OBSTACLE),
            xml_escape(&o.name)
        );
    }
    for s in &world.walls {
        let _ = writeln!(
            out,
            r#"<polyline points="{}" stroke="{}" stroke-width="3" fill="none"/>"#,
            points(&[s.a, s.b]),
            rgb(colours::WALL)
        );
    }
    for (i, o) in world.objects.iter().enumerate() {
        let at = sim.map_or(o.at, |s| s.objects()[i].at);
        let (x, y) = view.px(at);
        let half = ((o.size * view.scale) / 2.0).max(3.0);
        let _ = writeln!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}</title></rect>"#,
            x as f64 - half,
            y as f64 - half,
            2.0 * half,
            2.0 * half,
            rgb(colour_rgb(&o.colour)),
            xml_escape(&o.name)
        );
    }
    let pose = match sim {
        Some(s) => {
            if s.trajectory().len() > 1 {
                let _ = writeln!(
                    out,
                    r#"<polyline points="{}" stroke="{}" stroke-width="2.5" fill="none"/>"#,
                    points(s.trajectory()),
                    rgb(colours::TRAJECTORY)
                );
            }
            for p in lidar_hits(s) {
                let (x, y) = view.px(p);
                let _ = writeln!(
                    out,
                    r#"<circle cx="{x:.1}" cy="{y:.1}" r="1.8" fill="{}"/>"#,
                    rgb(colours::LIDAR)
                );
            }
            s.true_pose()
        }
        None => robot_api::Pose2::new(
            world.robot.start.0,
            world.robot.start.1,
            world.robot.start.2,
        ),
    };
    let (x, y) = view.px(P2::new(pose.x, pose.y));
    let _ = writeln!(
        out,
        r#"<circle cx="{x:.1}" cy="{y:.1}" r="{:.1}" fill="{}"/>"#,
        world.robot.radius * view.scale,
        rgb(colours::ROBOT)
    );
    out.push_str("</svg>\n");
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
