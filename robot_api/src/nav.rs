//! Navigation shared by every backend: an occupancy grid of the known
//! obstacles, A* path planning on it, and path shortening. `move_to` plans
//! with this and follows the path with the robot's own sensors.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::geometry::{point_in_polygon, P2};

/// An occupancy grid: square cells, row-major from the lower-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct GridMap {
    /// World position of the lower-left corner of cell (0, 0), metres.
    pub origin: P2,
    /// Cell edge, metres.
    pub resolution: f64,
    /// Cells along x.
    pub width: usize,
    /// Cells along y.
    pub height: usize,
    /// Occupied cells (true) in row-major order.
    pub occupied: Vec<bool>,
}

/// Why no path was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The goal lies in an obstacle (after inflation by the robot's radius) or off the map.
    #[error(
        "the goal ({0:.2}, {1:.2}) is inside an obstacle or too close to one for the robot to fit"
    )]
    GoalBlocked(f64, f64),
    /// The goal is off the map.
    #[error("the goal ({0:.2}, {1:.2}) is outside the map")]
    OffMap(f64, f64),
    /// Start and goal are not connected.
    #[error(
        "no path from ({0:.2}, {1:.2}) to ({2:.2}, {3:.2}): the known obstacles separate them"
    )]
    NoPath(f64, f64, f64, f64),
}

type Cell = (usize, usize);

impl GridMap {
    /// Marks every cell whose centre lies outside `polygon` as occupied.
    pub fn mark_outside(&mut self, polygon: &[P2]) {
        for r in 0..self.height {
            for c in 0..self.width {
                if !point_in_polygon(self.centre_of((c, r)), polygon) {
                    self.occupied[r * self.width + c] = true;
                }
            }
        }
    }

    /// An empty (all free) grid covering `width * resolution` by `height * resolution` metres.
    pub fn new(origin: P2, resolution: f64, width: usize, height: usize) -> Self {
        GridMap {
            origin,
            resolution,
            width,
            height,
            occupied: vec![false; width * height],
        }
    }

    /// The cell containing a world point, if on the map.
    pub fn cell_of(&self, p: P2) -> Option<Cell> {
        let c = ((p.x - self.origin.x) / self.resolution).floor();
        let r = ((p.y - self.origin.y) / self.resolution).floor();
        (c >= 0.0 && r >= 0.0 && (c as usize) < self.width && (r as usize) < self.height)
            .then_some((c as usize, r as usize))
    }

    /// The world position of a cell's centre.
    pub fn centre_of(&self, (c, r): Cell) -> P2 {
        P2::new(
            self.origin.x + (c as f64 + 0.5) * self.resolution,
            self.origin.y + (r as f64 + 0.5) * self.resolution,
        )
    }

    /// Whether a cell is occupied (off the map counts as occupied).
    pub fn is_occupied(&self, (c, r): Cell) -> bool {
        c >= self.width || r >= self.height || self.occupied[r * self.width + c]
    }

    /// Whether the world point lies on the grid in a free cell.
    pub fn is_free_at(&self, p: P2) -> bool {
        self.cell_of(p).is_some_and(|c| !self.is_occupied(c))
    }

    /// The centres of the free cells, row by row.
    pub fn free_points(&self) -> impl Iterator<Item = P2> + '_ {
        (0..self.height)
            .flat_map(move |r| (0..self.width).map(move |c| (c, r)))
            .filter(|&cell| !self.is_occupied(cell))
            .map(|cell| self.centre_of(cell))
    }

    /// Marks the cell containing a world point.
    pub fn mark_point(&mut self, p: P2) {
        if let Some((c, r)) = self.cell_of(p) {
            self.occupied[r * self.width + c] = true;
        }
    }

    /// Marks every cell a segment passes through (sampled at a quarter cell).
    pub fn mark_segment(&mut self, a: P2, b: P2) {
        let n = ((b - a).norm() / (self.resolution * 0.25)).ceil().max(1.0) as usize;
        for i in 0..=n {
            self.mark_point(a + (b - a) * (i as f64 / n as f64));
        }
    }

    /// A copy with every occupied cell grown by `radius` metres, so that a
    /// robot of that radius can be planned for as a point.
    pub fn inflated(&self, radius: f64) -> GridMap {
        let k = (radius / self.resolution).ceil() as i64;
        let limit = (radius / self.resolution + 0.5).powi(2);
        let offsets: Vec<(i64, i64)> = (-k..=k)
            .flat_map(|dy| (-k..=k).map(move |dx| (dx, dy)))
            .filter(|&(dx, dy)| ((dx * dx + dy * dy) as f64) <= limit)
            .collect();
        let mut out = self.clone();
        for r in 0..self.height {
            for c in 0..self.width {
                if !self.occupied[r * self.width + c] {
                    continue;
                }
                // Interior cells add nothing new; only cells on an edge spread.
                let edge = [(0i64, 1i64), (1, 0), (0, -1), (-1, 0)]
                    .iter()
                    .any(|(dx, dy)| {
                        let (nc, nr) = (c as i64 + dx, r as i64 + dy);
                        nc < 0
                            || nr < 0
                            || nc >= self.width as i64
                            || nr >= self.height as i64
                            || !self.occupied[nr as usize * self.width + nc as usize]
                    });
                if !edge {
                    continue;
                }
                for &(dx, dy) in &offsets {
                    let (nc, nr) = (c as i64 + dx, r as i64 + dy);
                    if nc >= 0
                        && nr >= 0
                        && (nc as usize) < self.width
                        && (nr as usize) < self.height
                    {
                        out.occupied[nr as usize * self.width + nc as usize] = true;
                    }
                }
            }
        }
        out
    }

    /// Whether the straight line between two cells crosses only free cells.
    pub fn line_free(&self, a: Cell, b: Cell) -> bool {
        // Supercover walk: every cell the line touches, corners included.
        let (mut x, mut y) = (a.0 as i64, a.1 as i64);
        let (x1, y1) = (b.0 as i64, b.1 as i64);
        let (dx, dy) = ((x1 - x).abs(), (y1 - y).abs());
        let (sx, sy) = ((x1 - x).signum(), (y1 - y).signum());
        let mut err = dx - dy;
        loop {
            if self.is_occupied((x as usize, y as usize)) {
                return false;
            }
            if x == x1 && y == y1 {
                return true;
            }
            let e2 = 2 * err;
            if e2 > -dy && e2 < dx {
                // A diagonal step: both side cells must be free too.
                if self.is_occupied(((x + sx) as usize, y as usize))
                    || self.is_occupied((x as usize, (y + sy) as usize))
                {
                    return false;
                }
            }
            if e2 > -dy {
                err -= dy;
                x += sx;
            }
            if e2 < dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// The nearest free cell to `cell` within `max_cells`, searching in rings.
    fn nearest_free(&self, cell: Cell, max_cells: usize) -> Option<Cell> {
        if !self.is_occupied(cell) {
            return Some(cell);
        }
        for ring in 1..=max_cells as i64 {
            let mut best: Option<(i64, Cell)> = None;
            for dy in -ring..=ring {
                for dx in -ring..=ring {
                    if dx.abs() != ring && dy.abs() != ring {
                        continue;
                    }
                    let (c, r) = (cell.0 as i64 + dx, cell.1 as i64 + dy);
                    if c < 0 || r < 0 {
                        continue;
                    }
                    let n = (c as usize, r as usize);
                    let d = dx * dx + dy * dy;
                    if !self.is_occupied(n) && best.is_none_or(|(bd, _)| d < bd) {
                        best = Some((d, n));
                    }
                }
            }
            if let Some((_, n)) = best {
                return Some(n);
            }
        }
        None
    }

    /// Plans a path from `start` to `goal` (world points) on this grid, which
    /// should already be inflated by the robot's radius. Returns waypoints,
    /// shortened to the corners that matter, ending at `goal`.
    ///
    /// A start inside an inflated obstacle (the robot touching a wall) leaves
    /// from the nearest free cell.
    pub fn plan(&self, start: P2, goal: P2) -> Result<Vec<P2>, PlanError> {
        let goal_cell = self
            .cell_of(goal)
            .ok_or(PlanError::OffMap(goal.x, goal.y))?;
        if self.is_occupied(goal_cell) {
            return Err(PlanError::GoalBlocked(goal.x, goal.y));
        }
        let no_path = || PlanError::NoPath(start.x, start.y, goal.x, goal.y);
        let start_cell = self
            .cell_of(start)
            .and_then(|c| self.nearest_free(c, 4))
            .ok_or_else(no_path)?;
        let cells = self.astar(start_cell, goal_cell).ok_or_else(no_path)?;

        // Keep only the cells where the straight line would hit something.
        let mut corners = vec![cells[0]];
        let mut i = 0;
        while i < cells.len() - 1 {
            let mut j = cells.len() - 1;
            while j > i + 1 && !self.line_free(cells[i], cells[j]) {
                j -= 1;
            }
            corners.push(cells[j]);
            i = j;
        }
        let mut path: Vec<P2> = corners.iter().skip(1).map(|&c| self.centre_of(c)).collect();
        if let Some(last) = path.last_mut() {
            *last = goal;
        } else {
            path.push(goal);
        }
        Ok(path)
    }

    fn astar(&self, start: Cell, goal: Cell) -> Option<Vec<Cell>> {
        #[derive(PartialEq)]
        struct Open {
            f: f64,
            index: usize,
        }
        impl Eq for Open {}
        impl Ord for Open {
            fn cmp(&self, other: &Self) -> Ordering {
                // Min-heap on f; ties by index keep the search deterministic.
                other
                    .f
                    .total_cmp(&self.f)
                    .then_with(|| other.index.cmp(&self.index))
            }
        }
        impl PartialOrd for Open {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        let w = self.width;
        let index = |(c, r): Cell| r * w + c;
        let h = |(c, r): Cell| {
            let dx = (c as f64 - goal.0 as f64).abs();
            let dy = (r as f64 - goal.1 as f64).abs();
            dx.max(dy) + (std::f64::consts::SQRT_2 - 1.0) * dx.min(dy)
        };
        let mut g = vec![f64::INFINITY; self.occupied.len()];
        let mut came = vec![usize::MAX; self.occupied.len()];
        let mut closed = vec![false; self.occupied.len()];
        let mut open = BinaryHeap::new();
        g[index(start)] = 0.0;
        open.push(Open {
            f: h(start),
            index: index(start),
        });
        const STEPS: [(i64, i64, f64); 8] = [
            (1, 0, 1.0),
            (-1, 0, 1.0),
            (0, 1, 1.0),
            (0, -1, 1.0),
            (1, 1, std::f64::consts::SQRT_2),
            (1, -1, std::f64::consts::SQRT_2),
            (-1, 1, std::f64::consts::SQRT_2),
            (-1, -1, std::f64::consts::SQRT_2),
        ];
        while let Some(Open { index: i, .. }) = open.pop() {
            if closed[i] {
                continue;
            }
            closed[i] = true;
            let cell = (i % w, i / w);
            if cell == goal {
                let mut path = vec![cell];
                let mut k = i;
                while came[k] != usize::MAX {
                    k = came[k];
                    path.push((k % w, k / w));
                }
                path.reverse();
                return Some(path);
            }
            for (dx, dy, cost) in STEPS {
                let (nc, nr) = (cell.0 as i64 + dx, cell.1 as i64 + dy);
                if nc < 0 || nr < 0 || nc as usize >= w || nr as usize >= self.height {
                    continue;
                }
                let n = (nc as usize, nr as usize);
                // No squeezing diagonally between two occupied cells.
                if self.is_occupied(n)
                    || (dx != 0
                        && dy != 0
                        && (self.is_occupied((nc as usize, cell.1))
                            || self.is_occupied((cell.0, nr as usize))))
                {
                    continue;
                }
                let ni = index(n);
                let tentative = g[i] + cost;
                if tentative < g[ni] {
                    g[ni] = tentative;
                    came[ni] = i;
                    open.push(Open {
                        f: tentative + h(n),
                        index: ni,
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maze(text: &str) -> GridMap {
        let rows: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        let mut m = GridMap::new(P2::origin(), 1.0, rows[0].len(), rows.len());
        for (i, row) in rows.iter().enumerate() {
            let r = rows.len() - 1 - i; // first text line is the top
            for (c, ch) in row.chars().enumerate() {
                m.occupied[r * m.width + c] = ch == '#';
            }
        }
        m
    }

    fn path_is_free(m: &GridMap, start: P2, path: &[P2]) -> bool {
        let mut prev = m.cell_of(start).unwrap();
        path.iter().all(|p| {
            let c = m.cell_of(*p).unwrap();
            let ok = m.line_free(prev, c);
            prev = c;
            ok
        })
    }

    #[test]
    fn a_path_through_a_maze_is_found_and_stays_free() {
        let m = maze(
            "
#########
#...#...#
#.#.#.#.#
#.#...#.#
#.#####.#
#.......#
#########",
        );
        let start = P2::new(1.5, 5.5);
        let goal = P2::new(7.5, 5.5);
        let path = m.plan(start, goal).unwrap();
        assert_eq!(*path.last().unwrap(), goal);
        assert!(path_is_free(&m, start, &path), "{path:?}");
        assert!(path.len() >= 3, "it must turn corners: {path:?}");
    }

    #[test]
    fn a_walled_off_goal_is_unreachable() {
        let m = maze(
            "
#######
#..#..#
#..#..#
#######",
        );
        assert_eq!(
            m.plan(P2::new(1.5, 1.5), P2::new(4.5, 1.5)),
            Err(PlanError::NoPath(1.5, 1.5, 4.5, 1.5))
        );
        assert_eq!(
            m.plan(P2::new(1.5, 1.5), P2::new(3.5, 1.5)),
            Err(PlanError::GoalBlocked(3.5, 1.5))
        );
        assert_eq!(
            m.plan(P2::new(1.5, 1.5), P2::new(30.0, 1.5)),
            Err(PlanError::OffMap(30.0, 1.5))
        );
    }

    #[test]
    fn inflation_grows_obstacles_by_the_radius() {
        let mut m = GridMap::new(P2::origin(), 0.1, 50, 50);
        m.mark_point(P2::new(2.5, 2.5));
        let inflated = m.inflated(0.3);
        assert!(inflated.is_occupied(inflated.cell_of(P2::new(2.75, 2.5)).unwrap()));
        assert!(!inflated.is_occupied(inflated.cell_of(P2::new(3.0, 2.5)).unwrap()));
    }

    #[test]
    fn random_mazes_agree_with_a_flood_fill() {
        let mut seed = 7u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        for _ in 0..50 {
            let mut m = GridMap::new(P2::origin(), 1.0, 30, 30);
            for v in m.occupied.iter_mut() {
                *v = rnd() < 0.3;
            }
            m.occupied[0] = false;
            let last = m.occupied.len() - 1;
            m.occupied[last] = false;
            // Reachability by 4-connected flood fill (diagonals need both sides free, so 4-connectivity decides).
            let mut seen = vec![false; m.occupied.len()];
            let mut stack = vec![(0usize, 0usize)];
            while let Some((c, r)) = stack.pop() {
                let i = r * 30 + c;
                if seen[i] || m.occupied[i] {
                    continue;
                }
                seen[i] = true;
                if c > 0 {
                    stack.push((c - 1, r));
                }
                if r > 0 {
                    stack.push((c, r - 1));
                }
                if c < 29 {
                    stack.push((c + 1, r));
                }
                if r < 29 {
                    stack.push((c, r + 1));
                }
            }
            let result = m.plan(P2::new(0.5, 0.5), P2::new(29.5, 29.5));
            assert_eq!(result.is_ok(), seen[last], "{result:?}");
            if let Ok(path) = result {
                assert!(path_is_free(&m, P2::new(0.5, 0.5), &path));
            }
        }
    }
}
