//! The key of a picture, below the map: a scale bar and a legend of every
//! kind of mark, laid out once for both the PNG and the SVG.

use super::colours;
use super::text::{extent, SMALL};

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// A filled square.
    Swatch((u8, u8, u8), u8),
    /// A light square with a dashed outline.
    Dashed((u8, u8, u8)),
    /// A short line.
    Line((u8, u8, u8)),
    /// A small dot.
    Dot((u8, u8, u8)),
    /// A disc.
    Disc((u8, u8, u8)),
}

/// What each mark on a picture means, in legend order.
pub const LEGEND: &[(&str, Mark)] = &[
    ("robot", Mark::Disc(colours::ROBOT)),
    ("trajectory", Mark::Line(colours::TRAJECTORY)),
    ("lidar hits", Mark::Dot(colours::LIDAR)),
    ("wall", Mark::Line(colours::WALL)),
    ("obstacle", Mark::Swatch(colours::OBSTACLE, 255)),
    ("furniture with a top", Mark::Swatch(colours::SURFACE, 255)),
    ("unmapped obstacle", Mark::Dashed(colours::UNMAPPED)),
    ("zone", Mark::Swatch(colours::ZONE, colours::ZONE_ALPHA)),
    (
        "charger",
        Mark::Swatch(colours::CHARGER, colours::ZONE_ALPHA),
    ),
];

/// Height of the row of the scale bar, pixels.
const SCALE_ROW: f32 = 18.0;
/// Height of a legend row, pixels.
const ROW: f32 = 14.0;
/// Space around the key, pixels.
const PAD: f32 = 6.0;
/// Width of a legend mark, pixels.
pub const MARK: f32 = 12.0;
/// Space between the mark and its words, and after an entry, pixels.
const GAP: (f32, f32) = (4.0, 14.0);

/// Where the key's parts go on a picture `width` pixels wide whose map ends
/// at `top` (pixels from the picture's top).
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The scale bar: left end, y, length in pixels, and the metres it stands for.
    pub scale_bar: (f32, f32, f32, f64),
    /// Each legend entry: the mark's left edge, the row's middle, and the entry.
    pub entries: Vec<(f32, f32, &'static str, Mark)>,
    /// Height of the key, pixels.
    pub height: f32,
}

/// Lays out the key for a picture `width` pixels wide at `scale` pixels per
/// metre, starting at `top`, with `margin` pixels on the left and right.
pub fn layout(width: f32, scale: f64, top: f32, margin: f32) -> Layout {
    let metres = scale_bar_metres(scale, (width - 2.0 * margin).max(40.0));
    let bar_y = top + PAD + SCALE_ROW / 2.0;
    let mut entries = Vec::new();
    let (mut x, mut row) = (margin, 0.0f32);
    for &(name, mark) in LEGEND {
        let w = MARK + GAP.0 + extent(name, SMALL).0;
        if x > margin && x + w > width - margin {
            x = margin;
            row += 1.0;
        }
        entries.push((x, top + PAD + SCALE_ROW + row * ROW + ROW / 2.0, name, mark));
        x += w + GAP.1;
    }
    Layout {
        scale_bar: (margin, bar_y, (metres * scale) as f32, metres),
        entries,
        height: PAD + SCALE_ROW + (row + 1.0) * ROW + PAD,
    }
}

/// The scale bar's length in metres: a round length (1, 2 or 5 times a
/// power of ten) that is at most 200 pixels and fits in `room` pixels.
pub fn scale_bar_metres(scale: f64, room: f32) -> f64 {
    let longest = (200.0f64).min(room as f64 * 0.5) / scale;
    let power = 10f64.powf(longest.log10().floor());
    [5.0, 2.0, 1.0]
        .iter()
        .map(|k| k * power)
        .find(|m| *m <= longest)
        .unwrap_or(power)
}

/// "2 m", "0.5 m": a scale bar's words.
pub fn metres_label(m: f64) -> String {
    if m >= 1.0 {
        format!("{m:.0} m")
    } else {
        format!("{m} m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_bar_is_round_and_fits() {
        assert_eq!(scale_bar_metres(80.0, 1000.0), 2.0);
        assert_eq!(scale_bar_metres(80.0, 200.0), 1.0);
        assert_eq!(scale_bar_metres(45.0, 400.0), 2.0);
        assert_eq!(scale_bar_metres(400.0, 400.0), 0.5);
        assert_eq!(metres_label(0.5), "0.5 m");
        assert_eq!(metres_label(2.0), "2 m");
    }

    #[test]
    fn the_legend_wraps_to_the_width() {
        let wide = layout(1600.0, 80.0, 100.0, 20.0);
        assert!(wide.entries.iter().all(|e| e.1 == wide.entries[0].1));
        let narrow = layout(400.0, 80.0, 100.0, 20.0);
        assert!(narrow.height > wide.height);
        assert!(narrow.entries.iter().all(|e| e.0 < 380.0));
    }
}
