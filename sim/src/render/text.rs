//! Text on a PNG: embedded-graphics' bitmap fonts drawn into a tiny-skia
//! pixmap, with a white halo so names stay readable on any fill.

use std::convert::Infallible;

use embedded_graphics::mono_font::{ascii, MonoFont, MonoTextStyle};
use embedded_graphics::pixelcolor::{Rgb888, RgbColor};
use embedded_graphics::prelude::{DrawTarget, OriginDimensions, Pixel, Point, Size};
use embedded_graphics::text::{Baseline, Text};
use embedded_graphics::Drawable;
use tiny_skia::{Pixmap, PremultipliedColorU8};

/// Labels of zones, objects and furniture.
pub const SMALL: &MonoFont<'static> = &ascii::FONT_6X10;
/// The title.
pub const TITLE: &MonoFont<'static> = &ascii::FONT_7X13_BOLD;

/// A pixmap as an embedded-graphics target: opaque pixels, clipped.
struct Canvas<'a>(&'a mut Pixmap);

impl OriginDimensions for Canvas<'_> {
    fn size(&self) -> Size {
        Size::new(self.0.width(), self.0.height())
    }
}

impl DrawTarget for Canvas<'_> {
    type Color = Rgb888;
    type Error = Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Infallible>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        let (w, h) = (self.0.width() as i32, self.0.height() as i32);
        let data = self.0.pixels_mut();
        for Pixel(p, c) in pixels {
            if (0..w).contains(&p.x) && (0..h).contains(&p.y) {
                if let Some(px) = PremultipliedColorU8::from_rgba(c.r(), c.g(), c.b(), 255) {
                    data[(p.y * w + p.x) as usize] = px;
                }
            }
        }
        Ok(())
    }
}

/// Width and height of `text` in `font`, pixels.
pub fn extent(text: &str, font: &MonoFont<'_>) -> (f32, f32) {
    let n = text.chars().count() as u32;
    let w = n * font.character_size.width + n.saturating_sub(1) * font.character_spacing;
    (w as f32, font.character_size.height as f32)
}

/// Where a label's anchor point sits on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    /// The anchor is the label's top-left corner.
    TopLeft,
    /// The anchor is the label's centre.
    Centre,
    /// The anchor is the middle of the label's left edge.
    Left,
}

/// Writes `text` in `rgb` at `(x, y)` (placed by `anchor`), over a white
/// halo one pixel wide.
pub fn label(
    pm: &mut Pixmap,
    text: &str,
    (x, y): (f32, f32),
    anchor: Anchor,
    font: &MonoFont<'_>,
    rgb: (u8, u8, u8),
) {
    let (w, h) = extent(text, font);
    let (left, top) = match anchor {
        Anchor::TopLeft => (x, y),
        Anchor::Centre => (x - w / 2.0, y - h / 2.0),
        Anchor::Left => (x, y - h / 2.0),
    };
    let origin = Point::new(left.round() as i32, top.round() as i32);
    let mut canvas = Canvas(pm);
    let halo = MonoTextStyle::new(font, Rgb888::WHITE);
    for (dx, dy) in [
        (-1, 0),
        (1, 0),
        (0, -1),
        (0, 1),
        (-1, -1),
        (1, 1),
        (-1, 1),
        (1, -1),
    ] {
        let _ = Text::with_baseline(text, origin + Point::new(dx, dy), halo, Baseline::Top)
            .draw(&mut canvas);
    }
    let ink = MonoTextStyle::new(font, Rgb888::new(rgb.0, rgb.1, rgb.2));
    let _ = Text::with_baseline(text, origin, ink, Baseline::Top).draw(&mut canvas);
}
