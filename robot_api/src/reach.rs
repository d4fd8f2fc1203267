//! Where the robot can stand to reach something. The planner's grid is
//! inflated by the footprint and rounded to whole cells, so its free space
//! keeps a good 0.3 m from furniture; an object lying 0.3 m in from a
//! bench's edge is then out of reach from every free cell, though the robot
//! itself fits 0.24 m from the edge. So stances are searched on the plane:
//! a point is a stance when the footprint fits there (checked against the
//! furniture outlines the robot knows, exactly, and the map's other occupied
//! cells as squares) and the object lies within the gripper's reach of it;
//! the robot joins it from the planner's free space on a straight line that
//! stays clear ([`approach`]). The same rule decides, when a world or a task
//! is loaded, whether an object on furniture can be reached at all.

use crate::backend::{RobotLimits, SurfaceInfo};
use crate::geometry::{distance, point_in_polygon, polygon_edges, Aabb, P2};
use crate::nav::GridMap;

/// How far the footprint's edge keeps from anything at a stance, metres.
pub const STAND_MARGIN: f64 = 0.04;

/// The part of the reach a stance leaves unused (the goal tolerance and a
/// centimetre), metres, at least.
pub const REACH_SLACK: f64 = 0.03;

/// Clearance the planner keeps beyond the footprint, so paths keep off
/// the walls, metres.
pub const PLAN_CLEARANCE: f64 = 0.05;

/// How far from a goal off the planner's free space its straight approach
/// may start, metres.
const APPROACH_LIMIT: f64 = 0.8;

/// Spacing of the stances tried, metres along a circle and between circles.
const STEP: f64 = 0.02;

/// What the robot knows of the obstacles, to tell whether its footprint
/// fits somewhere.
pub struct Footprint<'a> {
    map: &'a GridMap,
    surfaces: &'a [SurfaceInfo],
    /// Occupied cells that belong to a surface, whose outline is checked
    /// exactly instead of the cell's square.
    outlined: Vec<bool>,
    /// The least distance from the centre to anything: radius and margin.
    need: f64,
}

impl<'a> Footprint<'a> {
    /// A footprint of `radius` on `map` (not inflated), with `surfaces`
    /// known by their outlines.
    pub fn new(map: &'a GridMap, surfaces: &'a [SurfaceInfo], radius: f64) -> Self {
        let mut outlined = vec![false; map.occupied.len()];
        let half = map.resolution / 2.0;
        for s in surfaces {
            let b = Aabb::around(s.polygon.iter().copied());
            let first = map.cell_of(b.min - nalgebra::Vector2::new(half, half) * 2.0);
            let last = map.cell_of(b.max + nalgebra::Vector2::new(half, half) * 2.0);
            let ((c0, r0), (c1, r1)) = (
                first.unwrap_or((0, 0)),
                last.unwrap_or((map.width - 1, map.height - 1)),
            );
            for r in r0..=r1 {
                for c in c0..=c1 {
                    if square_touches(map.centre_of((c, r)), half, &s.polygon) {
                        outlined[r * map.width + c] = true;
                    }
                }
            }
        }
        Footprint {
            map,
            surfaces,
            outlined,
            need: radius + STAND_MARGIN,
        }
    }

    /// Whether the footprint centred at `q` keeps its margin from every
    /// known obstacle (and lies on the map).
    pub fn fits(&self, q: P2) -> bool {
        let need = self.need;
        for s in self.surfaces {
            if point_in_polygon(q, &s.polygon)
                || polygon_edges(&s.polygon).any(|e| e.distance_to(q) < need)
            {
                return false;
            }
        }
        let map = self.map;
        let Some((c, r)) = map.cell_of(q) else {
            return false;
        };
        let k = (need / map.resolution).ceil() as i64 + 1;
        let half = map.resolution / 2.0;
        for dr in -k..=k {
            for dc in -k..=k {
                let (cc, rr) = (c as i64 + dc, r as i64 + dr);
                if cc < 0 || rr < 0 || cc >= map.width as i64 || rr >= map.height as i64 {
                    // Off the map counts as occupied.
                    let centre = map.centre_of((c, r))
                        + nalgebra::Vector2::new(dc as f64, dr as f64) * map.resolution;
                    if square_distance(q, centre, half) < need {
                        return false;
                    }
                    continue;
                }
                let (cc, rr) = (cc as usize, rr as usize);
                let i = rr * map.width + cc;
                if map.occupied[i]
                    && !self.outlined[i]
                    && square_distance(q, map.centre_of((cc, rr)), half) < need
                {
                    return false;
                }
            }
        }
        true
    }

    /// Whether the footprint fits all along the straight line from `a` to `b`.
    pub fn fits_along(&self, a: P2, b: P2) -> bool {
        let n = (distance(a, b) / (STEP / 2.0)).ceil().max(1.0) as usize;
        (0..=n).all(|i| self.fits(a + (b - a) * (i as f64 / n as f64)))
    }
}

/// Places for the robot's centre from which `at` lies within the gripper's
/// reach and the footprint fits, every [`STEP`] on circles around `at`.
/// `goal_tolerance` is how far from a goal the robot may stop.
pub fn stances(
    footprint: &Footprint<'_>,
    limits: &RobotLimits,
    goal_tolerance: f64,
    at: P2,
) -> Vec<P2> {
    let far = usable_reach(limits, goal_tolerance);
    // Nearer than the footprint's edge, the object would be under the robot.
    let near = limits.radius.min(far);
    let mut found = Vec::new();
    let mut radius = far;
    while radius >= near {
        found.extend(ring(at, radius).filter(|&q| footprint.fits(q)));
        radius -= STEP;
    }
    found
}

/// Points every [`STEP`] (at least 8) on the circle of `radius` around `at`.
fn ring(at: P2, radius: f64) -> impl Iterator<Item = P2> {
    let n = ((std::f64::consts::TAU * radius) / STEP).ceil().max(8.0) as usize;
    (0..n).map(move |i| {
        let a = std::f64::consts::TAU * i as f64 / n as f64;
        P2::new(at.x + radius * a.cos(), at.y + radius * a.sin())
    })
}

/// The reach a stance may use: the gripper's, less the slack (at least the
/// goal tolerance and a centimetre).
fn usable_reach(limits: &RobotLimits, goal_tolerance: f64) -> f64 {
    limits.reach - REACH_SLACK.max(goal_tolerance + 0.01)
}

/// Where the robot enters the planner's free space (`inflated`) for the
/// stance `q`: `q` itself when it lies in it, else its [`approach`].
pub fn join_point(inflated: &GridMap, footprint: &Footprint<'_>, q: P2) -> Option<P2> {
    if inflated.is_free_at(q) {
        Some(q)
    } else {
        approach(inflated, footprint, q, APPROACH_LIMIT)
    }
}

/// Where the robot joins `goal` from the planner's free space (a free cell
/// of `inflated`): the nearest such cell within `limit` metres from which
/// the footprint fits all along the straight line to `goal`.
pub fn approach(inflated: &GridMap, footprint: &Footprint<'_>, goal: P2, limit: f64) -> Option<P2> {
    let (c, r) = inflated.cell_of(goal)?;
    let k = (limit / inflated.resolution).ceil() as i64;
    let mut cells: Vec<(f64, P2)> = Vec::new();
    for dr in -k..=k {
        for dc in -k..=k {
            let (cc, rr) = (c as i64 + dc, r as i64 + dr);
            if cc < 0 || rr < 0 || cc >= inflated.width as i64 || rr >= inflated.height as i64 {
                continue;
            }
            let cell = (cc as usize, rr as usize);
            let p = inflated.centre_of(cell);
            let d = distance(p, goal);
            if d <= limit && !inflated.is_occupied(cell) {
                cells.push((d, p));
            }
        }
    }
    cells.sort_by(|a, b| a.0.total_cmp(&b.0));
    cells
        .into_iter()
        .map(|(_, p)| p)
        .find(|&p| footprint.fits_along(p, goal))
}

/// Whether the robot can reach a point, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reach {
    /// From a stance the robot can join from the planner's free space.
    Reachable,
    /// Every place the robot fits is too far: the nearest is this far from
    /// it, metres (`None`: none within 3 m).
    Beyond(Option<f64>),
    /// Stances within reach exist, but the robot cannot drive onto any.
    CutOff,
}

/// Whether the robot can reach `at` from a stance it can join from the
/// planner's free space (`map` not inflated): what decides, at load,
/// whether an object on furniture can be picked at all.
pub fn assess(
    map: &GridMap,
    surfaces: &[SurfaceInfo],
    limits: &RobotLimits,
    goal_tolerance: f64,
    at: P2,
) -> Reach {
    let footprint = Footprint::new(map, surfaces, limits.radius);
    let found = stances(&footprint, limits, goal_tolerance, at);
    if found.is_empty() {
        return Reach::Beyond(nearest_fit(&footprint, at, 3.0));
    }
    let inflated = map.inflated(limits.radius + PLAN_CLEARANCE);
    if found
        .into_iter()
        .any(|q| join_point(&inflated, &footprint, q).is_some())
    {
        Reach::Reachable
    } else {
        Reach::CutOff
    }
}

/// How far from `at` the nearest place is where the footprint fits (to a
/// step), up to `limit` metres.
fn nearest_fit(footprint: &Footprint<'_>, at: P2, limit: f64) -> Option<f64> {
    let mut radius = STEP;
    while radius <= limit {
        if ring(at, radius).any(|q| footprint.fits(q)) {
            return Some(radius);
        }
        radius += STEP;
    }
    None
}

/// How deep into furniture the gripper reaches from a stance: from its edge,
/// metres (for messages).
pub fn depth_reached(limits: &RobotLimits, goal_tolerance: f64) -> f64 {
    usable_reach(limits, goal_tolerance) - limits.radius - STAND_MARGIN
}

/// Distance from `q` to the square of half-side `half` centred at `centre`.
fn square_distance(q: P2, centre: P2, half: f64) -> f64 {
    let dx = ((q.x - centre.x).abs() - half).max(0.0);
    let dy = ((q.y - centre.y).abs() - half).max(0.0);
    dx.hypot(dy)
}

/// Whether the square of half-side `half` at `centre` shares a point with
/// `polygon` (its inside or its outline).
fn square_touches(centre: P2, half: f64, polygon: &[P2]) -> bool {
    const EPS: f64 = 1e-9;
    if point_in_polygon(centre, polygon) {
        return true;
    }
    if polygon
        .iter()
        .any(|v| (v.x - centre.x).abs() <= half + EPS && (v.y - centre.y).abs() <= half + EPS)
    {
        return true;
    }
    // An edge crossing the square: clip it to the square (Liang–Barsky).
    polygon_edges(polygon).any(|e| {
        let (d, mut t0, mut t1) = (e.b - e.a, 0.0f64, 1.0f64);
        for (p, q) in [
            (-d.x, e.a.x - (centre.x - half - EPS)),
            (d.x, (centre.x + half + EPS) - e.a.x),
            (-d.y, e.a.y - (centre.y - half - EPS)),
            (d.y, (centre.y + half + EPS) - e.a.y),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return false;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
            }
        }
        t0 <= t1
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::rect_outline;

    /// A 4 m x 4 m room (walls on the map's edge cells) with a 2 m x 0.6 m
    /// bench at y 3.0-3.6, at 0.1 m cells.
    fn room() -> (GridMap, Vec<SurfaceInfo>) {
        let mut map = GridMap::new(P2::new(0.0, 0.0), 0.1, 41, 41);
        let bench = rect_outline(1.0, 3.0, 2.0, 0.6);
        for r in 0..41 {
            for c in 0..41 {
                let p = map.centre_of((c, r));
                let wall = c == 0 || r == 0 || c == 40 || r == 40;
                if wall || square_touches(p, 0.05, &bench) {
                    map.occupied[r * 41 + c] = true;
                }
            }
        }
        let surfaces = vec![SurfaceInfo {
            name: "bench".into(),
            polygon: bench,
        }];
        (map, surfaces)
    }

    fn limits() -> RobotLimits {
        RobotLimits {
            radius: 0.2,
            max_linear: 0.5,
            max_angular: 1.5,
            max_linear_accel: 1.0,
            reach: 0.6,
        }
    }

    #[test]
    fn the_footprint_fits_up_to_its_margin_from_an_outline() {
        let (map, surfaces) = room();
        let f = Footprint::new(&map, &surfaces, 0.2);
        // 0.24 m from the bench's front edge (y = 3.0): fits; 0.23: not.
        assert!(f.fits(P2::new(2.0, 2.755)));
        assert!(!f.fits(P2::new(2.0, 2.77)));
        // The walls count as squares.
        assert!(!f.fits(P2::new(0.3, 1.0)));
        assert!(f.fits(P2::new(0.4, 1.0)));
    }

    #[test]
    fn an_object_a_third_of_a_metre_into_the_bench_has_stances() {
        let (map, surfaces) = room();
        let f = Footprint::new(&map, &surfaces, 0.2);
        let l = limits();
        // Reach 0.6 less the slack 0.03, less the 0.24 the centre keeps from the edge.
        let deep = P2::new(2.0, 3.325);
        let found = stances(&f, &l, 0.02, deep);
        assert!(!found.is_empty());
        for q in &found {
            assert!(distance(*q, deep) <= l.reach - REACH_SLACK + 1e-9);
            assert!(q.y <= 3.0 - 0.24 + 1e-9, "{q:?}");
        }
        // 0.34 m in is beyond the reach from any place the robot fits.
        assert!(stances(&f, &l, 0.02, P2::new(2.0, 3.34)).is_empty());
        match assess(&map, &surfaces, &l, 0.02, P2::new(2.0, 3.34)) {
            Reach::Beyond(Some(d)) => assert!((d - 0.58).abs() < 0.021, "{d}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(assess(&map, &surfaces, &l, 0.02, deep), Reach::Reachable);
        // The stance is joined from the inflated map's free space in a line.
        let inflated = map.inflated(0.25);
        let q = found[0];
        let a = approach(&inflated, &f, q, 0.8).expect("an approach");
        assert!(!inflated.is_occupied(inflated.cell_of(a).unwrap()));
        assert!(f.fits_along(a, q));
    }

    #[test]
    fn squares_touch_polygons_by_inside_vertex_or_edge() {
        let rect = rect_outline(1.0, 1.0, 1.0, 1.0);
        assert!(square_touches(P2::new(1.5, 1.5), 0.05, &rect));
        assert!(square_touches(P2::new(0.96, 1.5), 0.05, &rect));
        assert!(square_touches(P2::new(0.96, 0.96), 0.05, &rect));
        assert!(!square_touches(P2::new(0.9, 1.5), 0.05, &rect));
        // A long thin polygon crossing the square with no vertex in it.
        let thin = vec![
            P2::new(0.0, 0.99),
            P2::new(3.0, 0.99),
            P2::new(3.0, 1.01),
            P2::new(0.0, 1.01),
        ];
        assert!(square_touches(P2::new(1.5, 1.0), 0.05, &thin));
    }
}
