//! Plane geometry the simulator is built on: the shared geometry of
//! [`robot_api::geometry`] (re-exported here), rays, and a uniform grid that
//! finds the segments near a point or along a ray quickly.

pub use robot_api::geometry::*;

/// atan2 to within 0.004 rad, several times cheaper than the exact one;
/// the lidar sweep only needs it to pick which rays to test.
#[inline]
pub fn fast_atan2(y: f64, x: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};
    if x == 0.0 && y == 0.0 {
        return 0.0;
    }
    let (ax, ay) = (x.abs(), y.abs());
    let (z, swap) = if ay > ax {
        (ax / ay, true)
    } else {
        (ay / ax, false)
    };
    let mut a = z * (FRAC_PI_4 + 0.273 * (1.0 - z));
    if swap {
        a = FRAC_PI_2 - a;
    }
    if x < 0.0 {
        a = PI - a;
    }
    if y < 0.0 {
        -a
    } else {
        a
    }
}

/// The rays of one scan.
#[derive(Debug, Clone, Copy)]
pub struct RayFan<'a> {
    /// Unit directions (world frame), in angle order.
    pub dirs: &'a [(f64, f64)],
    /// Angle of the first ray, radians (world frame).
    pub first: f64,
    /// Angle between rays, radians.
    pub increment: f64,
    /// Whether the last ray neighbours the first (a 360° scan).
    pub full_circle: bool,
}

/// Segments bucketed in square cells, so that a ray or a circle only tests
/// the segments of the cells it touches.
#[derive(Debug, Clone)]
pub struct SegmentGrid {
    segments: Vec<Segment>,
    /// Per segment: start x, y and direction x, y (b - a), for ray casts.
    rays: Vec<[f64; 4]>,
    /// Per segment: an edge of a solid, counter-clockwise polygon, seen only
    /// from outside (a scan skips it from behind: the front edge is nearer).
    one_sided: Vec<bool>,
    origin: P2,
    cell: f64,
    cols: usize,
    rows: usize,
    /// Cell `i` holds the segments `items[starts[i]..starts[i + 1]]` (one
    /// flat array: no pointer chase per cell while a ray crosses empty space).
    starts: Vec<u32>,
    /// Indices into `segments`, cell by cell.
    items: Vec<u32>,
}

impl SegmentGrid {
    /// Buckets `segments` in cells of `cell` metres covering `bounds` (plus a margin).
    pub fn new(segments: Vec<Segment>, bounds: Aabb, cell: f64) -> Self {
        let one_sided = vec![false; segments.len()];
        Self::with_sides(segments, one_sided, bounds, cell)
    }

    /// Like [`SegmentGrid::new`], marking which segments are edges of solid
    /// polygons, oriented counter-clockwise (their outside is on the right).
    pub fn with_sides(
        segments: Vec<Segment>,
        one_sided: Vec<bool>,
        bounds: Aabb,
        cell: f64,
    ) -> Self {
        assert_eq!(segments.len(), one_sided.len());
        let origin = P2::new(bounds.min.x - cell, bounds.min.y - cell);
        let cols = (((bounds.max.x - origin.x) / cell).ceil() as usize + 2).max(1);
        let rows = (((bounds.max.y - origin.y) / cell).ceil() as usize + 2).max(1);
        let mut cells = vec![Vec::new(); cols * rows];
        for (i, s) in segments.iter().enumerate() {
            // Walk the segment's bounding cells; test each cell against the segment.
            let (c0, r0) = Self::cell_of(origin, cell, P2::new(s.a.x.min(s.b.x), s.a.y.min(s.b.y)));
            let (c1, r1) = Self::cell_of(origin, cell, P2::new(s.a.x.max(s.b.x), s.a.y.max(s.b.y)));
            for r in r0.max(0)..=r1.min(rows as i64 - 1) {
                for c in c0.max(0)..=c1.min(cols as i64 - 1) {
                    let centre = P2::new(
                        origin.x + (c as f64 + 0.5) * cell,
                        origin.y + (r as f64 + 0.5) * cell,
                    );
                    // A cell is touched when the segment passes within its half-diagonal.
                    if s.distance_to(centre) <= cell * std::f64::consts::FRAC_1_SQRT_2 + 1e-9 {
                        cells[r as usize * cols + c as usize].push(i as u32);
                    }
                }
            }
        }
        let rays = segments
            .iter()
            .map(|s| [s.a.x, s.a.y, s.b.x - s.a.x, s.b.y - s.a.y])
            .collect();
        let mut starts = Vec::with_capacity(cells.len() + 1);
        let mut items = Vec::new();
        for cell in &cells {
            starts.push(items.len() as u32);
            items.extend_from_slice(cell);
        }
        starts.push(items.len() as u32);
        SegmentGrid {
            segments,
            rays,
            one_sided,
            origin,
            cell,
            cols,
            rows,
            starts,
            items,
        }
    }

    fn cell_of(origin: P2, cell: f64, p: P2) -> (i64, i64) {
        (
            ((p.x - origin.x) / cell).floor() as i64,
            ((p.y - origin.y) / cell).floor() as i64,
        )
    }

    fn cell(&self, index: usize) -> &[u32] {
        &self.items[self.starts[index] as usize..self.starts[index + 1] as usize]
    }

    /// All segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Distance to the first segment along a ray (unit `dir`), up to `max`.
    pub fn cast(&self, origin: P2, dir: V2, max: f64) -> Option<f64> {
        // Grid traversal (Amanatides & Woo): visit cells in the order the ray
        // crosses them; a hit inside the current cell ends the search.
        let (mut c, mut r) = Self::cell_of(self.origin, self.cell, origin);
        let step_c: i64 = if dir.x >= 0.0 { 1 } else { -1 };
        let step_r: i64 = if dir.y >= 0.0 { 1 } else { -1 };
        let next_boundary = |i: i64, step: i64, o: f64, org: f64| {
            org + (i + if step > 0 { 1 } else { 0 }) as f64 * self.cell - o
        };
        let mut t_max_x = if dir.x.abs() < 1e-12 {
            f64::INFINITY
        } else {
            next_boundary(c, step_c, origin.x, self.origin.x) / dir.x
        };
        let mut t_max_y = if dir.y.abs() < 1e-12 {
            f64::INFINITY
        } else {
            next_boundary(r, step_r, origin.y, self.origin.y) / dir.y
        };
        let t_delta_x = if dir.x.abs() < 1e-12 {
            f64::INFINITY
        } else {
            self.cell / dir.x.abs()
        };
        let t_delta_y = if dir.y.abs() < 1e-12 {
            f64::INFINITY
        } else {
            self.cell / dir.y.abs()
        };
        let mut t_cell_start = 0.0;
        loop {
            if c < 0
                || r < 0
                || c >= self.cols as i64
                || r >= self.rows as i64
                || t_cell_start > max
            {
                return None;
            }
            let t_cell_end = t_max_x.min(t_max_y);
            let mut best = f64::INFINITY;
            for &i in self.cell(r as usize * self.cols + c as usize) {
                let [ax, ay, ex, ey] = self.rays[i as usize];
                // Segment.ray_distance, with the tests done before the division.
                let denom = dir.x * ey - dir.y * ex;
                if denom.abs() < 1e-12 {
                    continue;
                }
                let (wx, wy) = (ax - origin.x, ay - origin.y);
                let tn = wx * ey - wy * ex;
                let un = wx * dir.y - wy * dir.x;
                let hit = if denom > 0.0 {
                    tn >= 0.0 && un >= 0.0 && un <= denom
                } else {
                    tn <= 0.0 && un <= 0.0 && un >= denom
                };
                if hit {
                    best = best.min(tn / denom);
                }
            }
            // A hit beyond this cell may be cut by a segment in a later cell.
            if best <= t_cell_end + 1e-9 {
                return (best <= max).then_some(best);
            }
            t_cell_start = t_cell_end;
            if t_max_x < t_max_y {
                c += step_c;
                t_max_x += t_delta_x;
            } else {
                r += step_r;
                t_max_y += t_delta_y;
            }
        }
    }

    /// A whole scan at once: for each segment in range, the rays it may meet
    /// (from its angular extent) are tested against it; each ray keeps the
    /// nearest hit, up to `max`; rays that hit nothing read infinity. Gives
    /// the same distances as [`SegmentGrid::cast`] per ray, at a fraction of
    /// the cost when most rays cross open space.
    pub fn scan(&self, origin: P2, fan: &RayFan<'_>, max: f64, out: &mut [f64]) {
        let RayFan {
            dirs,
            first,
            increment,
            full_circle,
        } = *fan;
        out.fill(f64::INFINITY);
        let n = dirs.len() as i64;
        if n == 0 {
            return;
        }
        for ((seg, &[ax, ay, ex, ey]), &one_sided) in
            self.segments.iter().zip(&self.rays).zip(&self.one_sided)
        {
            let (ax, ay) = (ax - origin.x, ay - origin.y);
            // Behind a counter-clockwise edge means the origin is on its left.
            if one_sided && ex * (-ay) - ey * (-ax) >= 0.0 {
                continue;
            }
            if seg.distance_to(origin) > max {
                continue;
            }
            let (bx, by) = (ax + ex, ay + ey);
            let alpha = fast_atan2(ay, ax);
            let span = wrap_angle(fast_atan2(by, bx) - alpha);
            let (lo, hi) = if span >= 0.0 {
                (alpha, alpha + span)
            } else {
                (alpha + span, alpha)
            };
            // Rays to test: from the first ray's angle, one ray of margin each
            // side for the approximation. On a full circle the indices wrap.
            // Otherwise the interval may lie either side of the cut behind the
            // robot, so both placements are tried (the one outside the field
            // of view yields no rays).
            let width = hi - lo;
            let base = (lo - first).rem_euclid(std::f64::consts::TAU);
            let ranges = if full_circle {
                [(base, true), (0.0, false)]
            } else {
                [(base, true), (base - std::f64::consts::TAU, true)]
            };
            for (start, used) in ranges {
                if !used {
                    continue;
                }
                let k0 = (start / increment).floor() as i64 - 1;
                let k1 = ((start + width) / increment).ceil() as i64 + 1;
                let (k0, k1) = if full_circle {
                    (k0, k1)
                } else {
                    (k0.max(0), k1.min(n - 1))
                };
                for k in k0..=k1 {
                    let k = if full_circle { k.rem_euclid(n) } else { k };
                    let (dx, dy) = dirs[k as usize];
                    let denom = dx * ey - dy * ex;
                    if denom.abs() < 1e-12 {
                        continue;
                    }
                    let tn = ax * ey - ay * ex;
                    let un = ax * dy - ay * dx;
                    let hit = if denom > 0.0 {
                        tn >= 0.0 && un >= 0.0 && un <= denom
                    } else {
                        tn <= 0.0 && un <= 0.0 && un >= denom
                    };
                    if hit {
                        let t = tn / denom;
                        let slot = &mut out[k as usize];
                        if t < *slot && t <= max {
                            *slot = t;
                        }
                    }
                }
            }
        }
    }

    /// Calls `f` with every segment that may lie within `radius` of the
    /// segment `a`–`b` (a swept circle). A segment may be seen more than once.
    pub fn near_sweep(&self, a: P2, b: P2, radius: f64, mut f: impl FnMut(&Segment)) {
        let (c0, r0) = Self::cell_of(
            self.origin,
            self.cell,
            P2::new(a.x.min(b.x) - radius, a.y.min(b.y) - radius),
        );
        let (c1, r1) = Self::cell_of(
            self.origin,
            self.cell,
            P2::new(a.x.max(b.x) + radius, a.y.max(b.y) + radius),
        );
        for r in r0.max(0)..=r1.min(self.rows as i64 - 1) {
            for c in c0.max(0)..=c1.min(self.cols as i64 - 1) {
                for &i in self.cell(r as usize * self.cols + c as usize) {
                    f(&self.segments[i as usize]);
                }
            }
        }
    }

    /// Whether anything blocks the straight line from `a` to `b`.
    pub fn line_blocked(&self, a: P2, b: P2) -> bool {
        let d = b - a;
        let len = d.norm();
        if len < 1e-12 {
            return false;
        }
        self.cast(a, d / len, len - 1e-9).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f64, y: f64) -> P2 {
        P2::new(x, y)
    }

    #[test]
    fn the_grid_cast_agrees_with_brute_force() {
        let mut segs = Vec::new();
        let mut seed = 1u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..200 {
            let a = p(rnd() * 20.0, rnd() * 20.0);
            let b = a + V2::new(rnd() - 0.5, rnd() - 0.5) * 3.0;
            segs.push(Segment::new(a, b));
        }
        let grid = SegmentGrid::new(
            segs.clone(),
            Aabb::around(segs.iter().flat_map(|s| [s.a, s.b])),
            1.0,
        );
        for _ in 0..2000 {
            let o = p(rnd() * 20.0, rnd() * 20.0);
            let ang = rnd() * std::f64::consts::TAU;
            let d = V2::new(ang.cos(), ang.sin());
            let brute = segs
                .iter()
                .filter_map(|s| s.ray_distance(o, d))
                .fold(f64::INFINITY, f64::min);
            let brute = (brute <= 12.0).then_some(brute);
            let fast = grid.cast(o, d, 12.0);
            match (brute, fast) {
                (None, None) => {}
                (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{a} vs {b}"),
                other => panic!("mismatch {other:?} from {o:?} dir {d:?}"),
            }
        }
    }

    #[test]
    fn the_sweep_scan_agrees_with_casting_each_ray() {
        let mut seed = 5u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut segs = Vec::new();
        for _ in 0..150 {
            let a = p(rnd() * 20.0, rnd() * 20.0);
            segs.push(Segment::new(a, a + V2::new(rnd() - 0.5, rnd() - 0.5) * 4.0));
        }
        let grid = SegmentGrid::new(
            segs.clone(),
            Aabb::around(segs.iter().flat_map(|s| [s.a, s.b])),
            1.0,
        );
        for (rays, fov) in [
            (360usize, std::f64::consts::TAU),
            (181, std::f64::consts::PI),
        ] {
            let full = fov == std::f64::consts::TAU;
            let inc = if full {
                fov / rays as f64
            } else {
                fov / (rays - 1) as f64
            };
            for _ in 0..100 {
                let o = p(rnd() * 20.0, rnd() * 20.0);
                let heading = rnd() * 7.0 - 3.5;
                let first = heading
                    + if full {
                        -std::f64::consts::PI
                    } else {
                        -fov / 2.0
                    };
                let dirs: Vec<(f64, f64)> = (0..rays)
                    .map(|i| {
                        (
                            (first + i as f64 * inc).cos(),
                            (first + i as f64 * inc).sin(),
                        )
                    })
                    .collect();
                let mut out = vec![0.0; rays];
                let fan = RayFan {
                    dirs: &dirs,
                    first,
                    increment: inc,
                    full_circle: full,
                };
                grid.scan(o, &fan, 12.0, &mut out);
                for (i, &(dx, dy)) in dirs.iter().enumerate() {
                    let one = grid.cast(o, V2::new(dx, dy), 12.0).unwrap_or(f64::INFINITY);
                    assert!(one == out[i] || (one - out[i]).abs() < 1e-9, "ray {i} of {rays}: {one} vs {} (origin {o:?}, first {first}, dir {dx} {dy})", out[i]);
                }
            }
        }
    }

    #[test]
    fn fast_atan2_is_close() {
        for i in 0..1000 {
            let a = i as f64 * 0.00628 - std::f64::consts::PI;
            let (y, x) = (a.sin() * 3.0, a.cos() * 3.0);
            assert!((fast_atan2(y, x) - y.atan2(x)).abs() < 0.005, "{a}");
        }
    }

    #[test]
    fn polygons_and_angles() {
        let square = [p(0.0, 0.0), p(1.0, 0.0), p(1.0, 1.0), p(0.0, 1.0)];
        assert!(point_in_polygon(p(0.5, 0.5), &square));
        assert!(!point_in_polygon(p(1.5, 0.5), &square));
        assert_eq!(polygon_edges(&square).count(), 4);
        assert!((wrap_angle(3.0 * std::f64::consts::PI) - std::f64::consts::PI).abs() < 1e-12);
        assert!((wrap_angle(-0.5) + 0.5).abs() < 1e-12);
    }

    #[test]
    fn segments_that_cross_are_at_distance_zero() {
        let a = Segment::new(p(0.0, 0.0), p(2.0, 2.0));
        let b = Segment::new(p(0.0, 2.0), p(2.0, 0.0));
        assert_eq!(a.distance_to_segment(&b), 0.0);
        let c = Segment::new(p(3.0, 0.0), p(3.0, 2.0));
        assert!((a.distance_to_segment(&c) - 1.0).abs() < 1e-12);
    }
}
