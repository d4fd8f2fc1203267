//! `summary.png`: the results at a glance. Success rate per tier and
//! overall, a bar per model and format with its 95% interval, and below it
//! the mean turns of the successful trials.

use std::path::Path;

use sim::render::text::{extent, label, Anchor, SMALL, TITLE};
use sim::render::{paint, stroke};
use tiny_skia::{Color, PathBuilder, Pixmap, Rect, Transform};

use super::summary::{tally, wilson, Tally};
use super::task::Tier;
use super::trial::TrialReport;

/// Bar colours, one per model and format, in turn.
const PALETTE: [(u8, u8, u8); 6] = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
];
const INK: (u8, u8, u8) = (30, 30, 30);
const GRID: (u8, u8, u8) = (220, 220, 220);
const WIDTH: u32 = 960;
const LEFT: f32 = 56.0;
const RIGHT: f32 = 16.0;
/// Heights of the success and turns panels, pixels.
const PANELS: (f32, f32) = (300.0, 150.0);

fn line(pm: &mut Pixmap, a: (f32, f32), b: (f32, f32), rgb: (u8, u8, u8), width: f32) {
    let mut pb = PathBuilder::new();
    pb.move_to(a.0, a.1);
    pb.line_to(b.0, b.1);
    if let Some(path) = pb.finish() {
        stroke(pm, &path, rgb, width, false);
    }
}

fn bar(pm: &mut Pixmap, x: f32, w: f32, top: f32, bottom: f32, rgb: (u8, u8, u8)) {
    if let Some(r) = Rect::from_ltrb(x, top.min(bottom - 0.5), x + w, bottom) {
        pm.fill_rect(r, &paint(rgb, 255), Transform::identity(), None);
    }
}

/// Draws the chart of `reports`.
pub fn draw(reports: &[TrialReport]) -> Pixmap {
    let (by_actor, by_tier) = tally(reports);
    let actors: Vec<&String> = by_actor.keys().collect();
    let mut groups: Vec<(String, Vec<Tally>)> = Tier::ALL
        .into_iter()
        .filter(|t| by_tier.keys().any(|(_, tier)| tier == t))
        .map(|t| {
            let cells = actors
                .iter()
                .map(|a| by_tier.get(&((*a).clone(), t)).cloned().unwrap_or_default())
                .collect();
            (t.name().to_owned(), cells)
        })
        .collect();
    groups.push((
        "all".into(),
        actors.iter().map(|a| by_actor[*a].clone()).collect(),
    ));

    let legend_rows = actors.len().div_ceil(3) as f32;
    let top = 40.0 + legend_rows * 16.0;
    let height = (top + PANELS.0 + 50.0 + PANELS.1 + 40.0) as u32;
    let mut pm = Pixmap::new(WIDTH, height).expect("a positive size");
    pm.fill(Color::WHITE);
    label(
        &mut pm,
        "Task suite: success rate by tier (95% interval) and turns of the successes",
        (LEFT, 10.0),
        Anchor::TopLeft,
        TITLE,
        INK,
    );
    for (i, a) in actors.iter().enumerate() {
        let (x, y) = (LEFT + (i % 3) as f32 * 290.0, 34.0 + (i / 3) as f32 * 16.0);
        bar(
            &mut pm,
            x,
            12.0,
            y - 5.0,
            y + 7.0,
            PALETTE[i % PALETTE.len()],
        );
        label(
            &mut pm,
            &format!("{a} ({} trials)", by_actor[*a].n),
            (x + 17.0, y + 1.0),
            Anchor::Left,
            SMALL,
            INK,
        );
    }
    let plot_w = WIDTH as f32 - LEFT - RIGHT;
    let group_w = plot_w / groups.len() as f32;
    let bar_w = ((group_w - 14.0) / actors.len().max(1) as f32).min(28.0);

    // Success rates, with the Wilson interval as a whisker.
    let (p_top, p_bottom) = (top, top + PANELS.0);
    for k in 0..=4 {
        let y = p_bottom - PANELS.0 * k as f32 / 4.0;
        line(&mut pm, (LEFT, y), (LEFT + plot_w, y), GRID, 1.0);
        label(
            &mut pm,
            &format!("{}%", k * 25),
            (LEFT - 6.0 - extent(&format!("{}%", k * 25), SMALL).0, y),
            Anchor::Left,
            SMALL,
            INK,
        );
    }
    // Turns, scaled to the most turns any bar shows.
    let turns = |t: &Tally| {
        if t.ok > 0 {
            t.ok_turns as f64 / t.ok as f64
        } else {
            0.0
        }
    };
    let most = groups
        .iter()
        .flat_map(|(_, c)| c.iter().map(turns))
        .fold(1.0f64, f64::max)
        .ceil();
    let (t_top, t_bottom) = (p_bottom + 50.0, p_bottom + 50.0 + PANELS.1);
    label(
        &mut pm,
        "mean turns of the successful trials",
        (LEFT, t_top - 16.0),
        Anchor::TopLeft,
        SMALL,
        INK,
    );
    for k in 0..=2 {
        let y = t_bottom - PANELS.1 * k as f32 / 2.0;
        line(&mut pm, (LEFT, y), (LEFT + plot_w, y), GRID, 1.0);
        let v = format!("{:.1}", most * k as f64 / 2.0)
            .trim_end_matches(".0")
            .to_owned();
        label(
            &mut pm,
            &v,
            (LEFT - 6.0 - extent(&v, SMALL).0, y),
            Anchor::Left,
            SMALL,
            INK,
        );
    }
    for (g, (name, cells)) in groups.iter().enumerate() {
        let x0 = LEFT + g as f32 * group_w + 7.0;
        for (i, t) in cells.iter().enumerate() {
            if t.n == 0 {
                continue;
            }
            let x = x0 + i as f32 * bar_w;
            let rgb = PALETTE[i % PALETTE.len()];
            let rate = t.ok as f32 / t.n as f32;
            bar(
                &mut pm,
                x + 1.0,
                bar_w - 2.0,
                p_bottom - PANELS.0 * rate,
                p_bottom,
                rgb,
            );
            let (lo, hi) = wilson(t.ok, t.n);
            let cx = x + bar_w / 2.0;
            let (ylo, yhi) = (
                p_bottom - PANELS.0 * lo as f32,
                p_bottom - PANELS.0 * hi as f32,
            );
            line(&mut pm, (cx, ylo), (cx, yhi), INK, 1.2);
            line(&mut pm, (cx - 3.0, ylo), (cx + 3.0, ylo), INK, 1.2);
            line(&mut pm, (cx - 3.0, yhi), (cx + 3.0, yhi), INK, 1.2);
            bar(
                &mut pm,
                x + 1.0,
                bar_w - 2.0,
                t_bottom - PANELS.1 * (turns(t) / most) as f32,
                t_bottom,
                rgb,
            );
        }
        let cx = LEFT + (g as f32 + 0.5) * group_w;
        label(
            &mut pm,
            name,
            (cx, p_bottom + 12.0),
            Anchor::Centre,
            SMALL,
            INK,
        );
        label(
            &mut pm,
            name,
            (cx, t_bottom + 12.0),
            Anchor::Centre,
            SMALL,
            INK,
        );
    }
    line(
        &mut pm,
        (LEFT, p_bottom),
        (LEFT + plot_w, p_bottom),
        INK,
        1.0,
    );
    line(&mut pm, (LEFT, p_top), (LEFT, p_bottom), INK, 1.0);
    line(
        &mut pm,
        (LEFT, t_bottom),
        (LEFT + plot_w, t_bottom),
        INK,
        1.0,
    );
    pm
}

/// Writes the chart of `reports` as a PNG.
pub fn write(reports: &[TrialReport], path: &Path) -> std::io::Result<()> {
    let png = draw(reports).encode_png().map_err(std::io::Error::other)?;
    std::fs::write(path, png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::Policy;

    fn trial(tier: Tier, success: bool, turns: usize) -> TrialReport {
        serde_json::from_value(serde_json::json!({
            "task": "t", "tier": tier, "seed": 0, "paraphrase": 0, "policy": Policy::Oracle,
            "success": success, "verdicts": [], "failed": null, "answer": null, "error": null,
            "observation_tail": "", "collisions": 0, "sim_seconds": 1.0, "wall_seconds": 1.0,
            "model": null, "format": null, "turns": turns, "tokens_in": 0, "tokens_out": 0,
            "model_seconds": 0.0, "stop_reason": null, "safe_stops": 0, "dir": null
        }))
        .unwrap()
    }

    /// Pixels of the first bar colour.
    fn bar_pixels(reports: &[TrialReport]) -> usize {
        let (r, g, b) = PALETTE[0];
        draw(reports)
            .pixels()
            .iter()
            .filter(|p| (p.red(), p.green(), p.blue()) == (r, g, b))
            .count()
    }

    #[test]
    fn bars_grow_with_the_success_rate() {
        let all: Vec<TrialReport> = (0..4).map(|_| trial(Tier::Search, true, 2)).collect();
        let half: Vec<TrialReport> = (0..4).map(|i| trial(Tier::Search, i % 2 == 0, 2)).collect();
        let (full, halved) = (bar_pixels(&all), bar_pixels(&half));
        // Two success bars (search, all) and two turn bars: the success bars halve.
        assert!(full > halved && halved > full / 3, "{full} {halved}");
        let none: Vec<TrialReport> = (0..4).map(|_| trial(Tier::Search, false, 0)).collect();
        assert!(
            bar_pixels(&none) < halved / 4,
            "only the legend swatch is left"
        );
    }
}
