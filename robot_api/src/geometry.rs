//! Plane geometry shared by the skills, the simulator and the ROS side, on
//! nalgebra's types: points, segments, polygons, boxes, angles. One
//! definition of a point ([`P2`]) for all of them. Everything small is
//! `#[inline]`: the simulator calls these across the crate boundary in its
//! inner loops.

use nalgebra::{Point2, Vector2};

/// A point in the world frame, metres.
pub type P2 = Point2<f64>;
/// A vector in the world frame, metres.
pub type V2 = Vector2<f64>;

/// A wall segment (polygon edges become segments too).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// One end.
    pub a: P2,
    /// The other end.
    pub b: P2,
}

impl Segment {
    /// A segment from `a` to `b`.
    #[inline]
    pub fn new(a: P2, b: P2) -> Self {
        Segment { a, b }
    }

    /// Distance along the ray `origin + t * dir` (`dir` of unit length) to
    /// this segment, if the ray meets it at `t >= 0`.
    #[inline]
    pub fn ray_distance(&self, origin: P2, dir: V2) -> Option<f64> {
        let e = self.b - self.a;
        let denom = cross(dir, e);
        if denom.abs() < 1e-12 {
            return None; // parallel: a grazing ray does not count as a hit
        }
        let w = self.a - origin;
        let t = cross(w, e) / denom;
        let u = cross(w, dir) / denom;
        (t >= 0.0 && (0.0..=1.0).contains(&u)).then_some(t)
    }

    /// The point of this segment closest to `p`.
    #[inline]
    pub fn closest_point(&self, p: P2) -> P2 {
        let e = self.b - self.a;
        let len2 = e.norm_squared();
        if len2 < 1e-18 {
            return self.a;
        }
        let t = ((p - self.a).dot(&e) / len2).clamp(0.0, 1.0);
        self.a + e * t
    }

    /// Distance from `p` to this segment.
    #[inline]
    pub fn distance_to(&self, p: P2) -> f64 {
        (p - self.closest_point(p)).norm()
    }

    /// Shortest distance between this segment and `other` (0 when they cross).
    #[inline]
    pub fn distance_to_segment(&self, other: &Segment) -> f64 {
        if self.intersects(other) {
            return 0.0;
        }
        self.distance_to(other.a)
            .min(self.distance_to(other.b))
            .min(other.distance_to(self.a))
            .min(other.distance_to(self.b))
    }

    /// Whether the two segments cross or touch.
    #[inline]
    pub fn intersects(&self, other: &Segment) -> bool {
        let d1 = cross(other.b - other.a, self.a - other.a);
        let d2 = cross(other.b - other.a, self.b - other.a);
        let d3 = cross(self.b - self.a, other.a - self.a);
        let d4 = cross(self.b - self.a, other.b - self.a);
        if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
            && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
        {
            return true;
        }
        let on = |s: &Segment, p: P2, d: f64| d.abs() < 1e-12 && s.distance_to(p) < 1e-9;
        on(other, self.a, d1)
            || on(other, self.b, d2)
            || on(self, other.a, d3)
            || on(self, other.b, d4)
    }
}

/// The z component of the cross product of two plane vectors.
#[inline]
pub fn cross(a: V2, b: V2) -> f64 {
    a.x * b.y - a.y * b.x
}

/// The distance between two points.
#[inline]
pub fn distance(a: P2, b: P2) -> f64 {
    (b - a).norm()
}

/// Whether `p` lies inside the polygon (even-odd rule; vertices in order).
#[inline]
pub fn point_in_polygon(p: P2, polygon: &[P2]) -> bool {
    let mut inside = false;
    for edge in polygon_edges(polygon) {
        let (a, b) = (edge.a, edge.b);
        if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) * (b.x - a.x) / (b.y - a.y) {
            inside = !inside;
        }
    }
    inside
}

/// Wraps an angle to (-pi, pi].
#[inline]
pub fn wrap_angle(a: f64) -> f64 {
    let mut a = a % std::f64::consts::TAU;
    if a <= -std::f64::consts::PI {
        a += std::f64::consts::TAU;
    } else if a > std::f64::consts::PI {
        a -= std::f64::consts::TAU;
    }
    a
}

/// The edges of a closed polygon.
#[inline]
pub fn polygon_edges(polygon: &[P2]) -> impl Iterator<Item = Segment> + '_ {
    (0..polygon.len()).map(move |i| Segment::new(polygon[i], polygon[(i + 1) % polygon.len()]))
}

/// Twice the signed area of a polygon: positive when counter-clockwise.
#[inline]
pub fn signed_area2(polygon: &[P2]) -> f64 {
    (0..polygon.len())
        .map(|i| cross(polygon[i].coords, polygon[(i + 1) % polygon.len()].coords))
        .sum()
}

/// The centroid (mean of the vertices) of a polygon: good enough to aim at.
#[inline]
pub fn polygon_centre(polygon: &[P2]) -> P2 {
    let n = polygon.len().max(1) as f64;
    let sum = polygon.iter().fold(V2::zeros(), |acc, p| acc + p.coords);
    P2::from(sum / n)
}

/// An axis-aligned box, for bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aabb {
    /// Lower-left corner.
    pub min: P2,
    /// Upper-right corner.
    pub max: P2,
}

impl Aabb {
    /// The box around the given points (an empty list gives a unit box at the origin).
    #[inline]
    pub fn around(points: impl IntoIterator<Item = P2>) -> Self {
        let mut min = P2::new(f64::INFINITY, f64::INFINITY);
        let mut max = P2::new(f64::NEG_INFINITY, f64::NEG_INFINITY);
        for p in points {
            min = P2::new(min.x.min(p.x), min.y.min(p.y));
            max = P2::new(max.x.max(p.x), max.y.max(p.y));
        }
        if !min.x.is_finite() {
            return Aabb {
                min: P2::origin(),
                max: P2::new(1.0, 1.0),
            };
        }
        Aabb { min, max }
    }
}

/// The outline of the rectangle with lower-left corner (x, y), width and
/// height, counter-clockwise (world files' and tasks' `rect`).
#[inline]
pub fn rect_outline(x: f64, y: f64, w: f64, h: f64) -> Vec<P2> {
    vec![
        P2::new(x, y),
        P2::new(x + w, y),
        P2::new(x + w, y + h),
        P2::new(x, y + h),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(x: f64, y: f64) -> P2 {
        P2::new(x, y)
    }

    #[test]
    fn a_ray_meets_a_segment_at_the_analytic_distance() {
        let s = Segment::new(p(2.0, -1.0), p(2.0, 1.0));
        let t = s.ray_distance(p(0.0, 0.0), V2::new(1.0, 0.0)).unwrap();
        assert!((t - 2.0).abs() < 1e-12);
        assert!(s.ray_distance(p(0.0, 0.0), V2::new(-1.0, 0.0)).is_none());
        let d = V2::new(1.0, 1.0).normalize();
        assert!(
            s.ray_distance(p(0.0, 0.0), d).is_none(),
            "passes above the segment's end"
        );
        let s = Segment::new(p(2.0, -1.0), p(2.0, 3.0));
        let t = s.ray_distance(p(0.0, 0.0), d).unwrap();
        assert!((t - 2.0 * 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn points_inside_and_outside_a_concave_polygon() {
        // An L shape.
        let l = [
            p(0.0, 0.0),
            p(2.0, 0.0),
            p(2.0, 1.0),
            p(1.0, 1.0),
            p(1.0, 2.0),
            p(0.0, 2.0),
        ];
        assert!(point_in_polygon(p(0.5, 1.5), &l));
        assert!(point_in_polygon(p(1.5, 0.5), &l));
        assert!(!point_in_polygon(p(1.5, 1.5), &l));
        assert!(!point_in_polygon(p(-0.1, 0.5), &l));
        assert!(signed_area2(&l) > 0.0, "counter-clockwise");
    }

    #[test]
    fn angles_wrap_into_one_turn_and_distances_reach_segment_ends() {
        use std::f64::consts::PI;
        assert!((wrap_angle(3.0 * PI) - PI).abs() < 1e-12);
        assert!((wrap_angle(-PI) - PI).abs() < 1e-12);
        assert!((wrap_angle(-0.5) + 0.5).abs() < 1e-12);
        let s = Segment::new(p(0.0, 0.0), p(2.0, 0.0));
        assert_eq!(s.closest_point(p(1.0, 3.0)), p(1.0, 0.0));
        assert!((s.distance_to(p(3.0, 0.0)) - 1.0).abs() < 1e-12);
        let point = Segment::new(p(1.0, 1.0), p(1.0, 1.0));
        assert_eq!(point.closest_point(p(5.0, 5.0)), p(1.0, 1.0));
    }
}
