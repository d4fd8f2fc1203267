//! The picture as SVG: the same layers, names as text, the scale bar and legend.

use std::fmt::Write as _;

use super::{
    colour_rgb, colours, key, lidar_hits, obstacle_rgb, zone_corner, zone_tints, View, MARGIN,
};
use crate::geometry::P2;
use crate::simulator::Simulator;
use crate::world::World;

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
    for (z, tint) in world.zones.iter().zip(zone_tints(world)) {
        let _ = writeln!(
            out,
            r#"<polygon points="{}" fill="{}" fill-opacity="0.35"><title>{}</title></polygon>"#,
            points(&z.polygon),
            rgb(tint),
            xml_escape(&z.name)
        );
    }
    for o in &world.obstacles {
        let dashed = if o.unmapped {
            format!(
                r#" stroke="{}" stroke-dasharray="4 3""#,
                rgb(colours::OBSTACLE)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            r#"<polygon points="{}" fill="{}"{dashed}><title>{}</title></polygon>"#,
            points(&o.polygon),
            rgb(obstacle_rgb(o)),
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
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="black" stroke-width="1"><title>{}</title></rect>"#,
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
    names(&mut out, world, sim, &view);
    write_key(&mut out, world, sim, &view);
    out.push_str("</svg>\n");
    out
}

/// A `<text>` element: `anchor` is SVG's text-anchor (start, middle).
fn text(out: &mut String, (x, y): (f32, f32), anchor: &str, size: u32, words: &str) {
    let _ = writeln!(
        out,
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" dominant-baseline="central" font-family="sans-serif" font-size="{size}" fill="black" stroke="white" stroke-width="2" paint-order="stroke">{}</text>"#,
        xml_escape(words)
    );
}

/// Names of zones, obstacles and objects, as on the PNG.
fn names(out: &mut String, world: &World, sim: Option<&Simulator>, view: &View) {
    for z in &world.zones {
        let (x, y) = view.px(zone_corner(z));
        text(out, (x + 5.0, y + 10.0), "start", 11, &z.name);
    }
    for o in &world.obstacles {
        let c = crate::geometry::polygon_centre(&o.polygon);
        text(out, view.px(c), "middle", 10, &o.name);
    }
    for (i, o) in world.objects.iter().enumerate() {
        let at = sim.map_or(o.at, |s| s.objects()[i].at);
        let (x, y) = view.px(at);
        let half = ((o.size * view.scale()) as f32 / 2.0).max(3.0);
        text(out, (x + half + 3.0, y), "start", 10, &o.name);
    }
}

/// The title, the scale bar and the legend, as on the PNG.
fn write_key(out: &mut String, world: &World, sim: Option<&Simulator>, view: &View) {
    let title = match sim {
        Some(s) => format!("{}  t = {:.1} s", world.name, s.time()),
        None => world.name.clone(),
    };
    text(out, (MARGIN as f32, 10.0), "start", 13, &title);
    let key = view.key();
    let (x, y, len, metres) = key.scale_bar;
    let _ = writeln!(
        out,
        r#"<polyline points="{x:.1},{:.1} {x:.1},{y:.1} {:.1},{y:.1} {:.1},{:.1}" stroke="black" stroke-width="2" fill="none"/>"#,
        y - 4.0,
        x + len,
        x + len,
        y - 4.0
    );
    text(
        out,
        (x + len + 6.0, y - 2.0),
        "start",
        10,
        &key::metres_label(metres),
    );
    let rgb = |c: (u8, u8, u8)| format!("rgb({},{},{})", c.0, c.1, c.2);
    let m = key::MARK;
    for &(x, y, name, mark) in &key.entries {
        let shape = match mark {
            key::Mark::Swatch(c, a) => format!(
                r#"<rect x="{x:.1}" y="{:.1}" width="{m}" height="{m}" fill="{}" fill-opacity="{:.2}"/>"#,
                y - m / 2.0,
                rgb(c),
                a as f32 / 255.0
            ),
            key::Mark::Dashed(c) => format!(
                r#"<rect x="{x:.1}" y="{:.1}" width="{m}" height="{m}" fill="{}" stroke="{}" stroke-dasharray="4 3"/>"#,
                y - m / 2.0,
                rgb(c),
                rgb(colours::OBSTACLE)
            ),
            key::Mark::Line(c) => format!(
                r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="2.5"/>"#,
                x + m,
                rgb(c)
            ),
            key::Mark::Dot(c) => format!(
                r#"<circle cx="{:.1}" cy="{y:.1}" r="2" fill="{}"/>"#,
                x + m / 2.0,
                rgb(c)
            ),
            key::Mark::Disc(c) => format!(
                r#"<circle cx="{:.1}" cy="{y:.1}" r="{:.1}" fill="{}"/>"#,
                x + m / 2.0,
                m / 2.0,
                rgb(c)
            ),
        };
        let _ = writeln!(out, "{shape}");
        text(out, (x + m + 4.0, y), "start", 10, name);
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
