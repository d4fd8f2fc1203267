//! An example robot backend: a round "turtle" that drives in a world drawn as
//! a grid of characters. It shows what a backend must provide to get every
//! built-in motion skill (`move_to` with planning, `go_to` a zone, `drive`,
//! `rotate`, `stop`, `get_pose`, `list_zones`, `wait`, `say`) and how a robot
//! without a lidar, camera, gripper or battery leaves those skills out.
//!
//! It is a simulator in lockstep: [`RobotBackend::advance`] integrates the
//! motion for the time asked and returns at once, so its clock is simulated
//! seconds. A real robot's backend would send the command to the hardware in
//! `command`, let the time pass in `advance` and read the pose back.
//! `docs/backend-guide.md` walks through it.

use std::sync::Mutex;
use std::time::Duration;

use robot_api::backend::{Pose2, RobotLimits, SurfaceInfo, Tolerances, ZoneInfo};
use robot_api::capability::{
    Battery, Camera, CameraPictures, Gripper, Lidar, MapPictures, Navigation,
};
use robot_api::geometry::P2;
use robot_api::nav::GridMap;
use robot_api::{CancelToken, ErrorKind, RobotBackend, SkillError};

/// The physics step: `advance` integrates in steps this long.
const STEP: f64 = 0.01;

/// Errors reading a grid drawing.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    /// The drawing has no rows, or rows of different lengths.
    #[error("the grid must be a rectangle of characters; row {row} has {got} columns, row 1 has {expected}")]
    Ragged {
        /// The row (1-based, top first).
        row: usize,
        /// Its length.
        got: usize,
        /// The first row's length.
        expected: usize,
    },
    /// No `S` marks the start.
    #[error("the grid has no start cell: mark one with S")]
    NoStart,
    /// A character that is not a wall, floor, start or a zone in the legend.
    #[error("unknown character {0:?} in the grid: use # (wall), . (floor), S (start) or a zone letter from the legend")]
    Unknown(char),
}

/// What changes as the turtle drives.
#[derive(Debug, Default)]
struct State {
    pose: Pose2,
    /// Commanded body velocities.
    command: (f64, f64),
    /// Actual body velocities (the command, reached at the acceleration limits).
    velocity: (f64, f64),
    time: f64,
    bumped: bool,
    events: Vec<String>,
}

/// A turtle in a grid world.
pub struct GridTurtle {
    map: GridMap,
    zones: Vec<ZoneInfo>,
    limits: RobotLimits,
    max_angular_accel: f64,
    state: Mutex<State>,
}

impl GridTurtle {
    /// Reads a world drawn with `#` walls, `.` floor, `S` the start (facing
    /// +x) and letters for zones, named by `legend`; the top row is the
    /// largest y. Each character is a `cell`-metre square.
    pub fn new(drawing: &str, cell: f64, legend: &[(char, &str)]) -> Result<Self, GridError> {
        let rows: Vec<&str> = drawing
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let width = rows.first().map_or(0, |r| r.chars().count());
        let mut map = GridMap::new(P2::new(0.0, 0.0), cell, width, rows.len());
        let mut start = None;
        let mut zone_cells: Vec<(char, Vec<(usize, usize)>)> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if row.chars().count() != width {
                return Err(GridError::Ragged {
                    row: i + 1,
                    got: row.chars().count(),
                    expected: width,
                });
            }
            let r = rows.len() - 1 - i;
            for (c, ch) in row.chars().enumerate() {
                match ch {
                    '#' => map.mark_point(map.centre_of((c, r))),
                    '.' => {}
                    'S' => start = Some(map.centre_of((c, r))),
                    z if legend.iter().any(|(l, _)| *l == z) => {
                        match zone_cells.iter_mut().find(|(l, _)| *l == z) {
                            Some((_, cells)) => cells.push((c, r)),
                            None => zone_cells.push((z, vec![(c, r)])),
                        }
                    }
                    other => return Err(GridError::Unknown(other)),
                }
            }
        }
        let start = start.ok_or(GridError::NoStart)?;
        let zones = zone_cells
            .into_iter()
            .map(|(letter, cells)| zone(&map, legend, letter, &cells))
            .collect();
        Ok(GridTurtle {
            map,
            zones,
            limits: RobotLimits {
                radius: 0.15,
                max_linear: 0.5,
                max_angular: 1.5,
                max_linear_accel: 1.0,
                reach: 0.0,
            },
            max_angular_accel: 4.0,
            state: Mutex::new(State {
                pose: Pose2::new(start.x, start.y, 0.0),
                ..State::default()
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the turtle's footprint at `p` overlaps a wall cell.
    fn hits_wall(&self, p: P2) -> bool {
        let Some((c, r)) = self.map.cell_of(p) else {
            return true;
        };
        let res = self.map.resolution;
        (r.saturating_sub(1)..=r + 1)
            .flat_map(|rr| (c.saturating_sub(1)..=c + 1).map(move |cc| (cc, rr)))
            .filter(|&cell| self.map.is_occupied(cell))
            .any(|cell| {
                // Distance from p to the cell's square.
                let centre = self.map.centre_of(cell);
                let dx = ((p.x - centre.x).abs() - res / 2.0).max(0.0);
                let dy = ((p.y - centre.y).abs() - res / 2.0).max(0.0);
                dx.hypot(dy) < self.limits.radius
            })
    }

    /// One physics step: velocities move towards the command at the
    /// acceleration limits; a step into a wall is not taken and stops the turtle.
    fn step(&self, s: &mut State) {
        let toward =
            |v: f64, target: f64, accel: f64| v + (target - v).clamp(-accel * STEP, accel * STEP);
        s.velocity = (
            toward(s.velocity.0, s.command.0, self.limits.max_linear_accel),
            toward(s.velocity.1, s.command.1, self.max_angular_accel),
        );
        let theta = s.pose.theta + s.velocity.1 * STEP;
        let next = P2::new(
            s.pose.x + s.velocity.0 * STEP * theta.cos(),
            s.pose.y + s.velocity.0 * STEP * theta.sin(),
        );
        if self.hits_wall(next) {
            if !s.bumped {
                s.events.push(format!(
                    "bumped into a wall at ({:.2}, {:.2})",
                    s.pose.x, s.pose.y
                ));
            }
            s.bumped = true;
            s.velocity = (0.0, 0.0);
            s.command = (0.0, 0.0);
        } else {
            s.pose = Pose2::new(next.x, next.y, robot_api::geometry::wrap_angle(theta));
        }
        s.time += STEP;
    }
}

/// A zone from its cells: its outline is their bounding box, its centre the
/// free cell nearest the box's middle.
fn zone(
    map: &GridMap,
    legend: &[(char, &str)],
    letter: char,
    cells: &[(usize, usize)],
) -> ZoneInfo {
    let res = map.resolution;
    let (c0, c1) = (
        cells.iter().map(|c| c.0).min().unwrap_or(0),
        cells.iter().map(|c| c.0).max().unwrap_or(0),
    );
    let (r0, r1) = (
        cells.iter().map(|c| c.1).min().unwrap_or(0),
        cells.iter().map(|c| c.1).max().unwrap_or(0),
    );
    let (x0, y0) = (c0 as f64 * res, r0 as f64 * res);
    let (x1, y1) = ((c1 + 1) as f64 * res, (r1 + 1) as f64 * res);
    let middle = P2::new((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let centre = cells
        .iter()
        .map(|&c| map.centre_of(c))
        .min_by(|a, b| (a - middle).norm().total_cmp(&(b - middle).norm()))
        .unwrap_or(middle);
    ZoneInfo {
        name: legend
            .iter()
            .find(|(l, _)| *l == letter)
            .map_or(letter.to_string(), |(_, n)| (*n).to_owned()),
        polygon: vec![
            P2::new(x0, y0),
            P2::new(x1, y0),
            P2::new(x1, y1),
            P2::new(x0, y1),
        ],
        centre,
        charger: false,
    }
}

impl RobotBackend for GridTurtle {
    fn describe(&self) -> String {
        "a turtle in a grid world (example backend)".into()
    }
    fn limits(&self) -> RobotLimits {
        self.limits
    }
    fn time(&self) -> f64 {
        self.state().time
    }
    fn clock_note(&self) -> String {
        "Times (timeouts, durations, waits) are simulated seconds: the grid turtle runs faster than real time.".into()
    }
    fn pose(&self) -> Result<Pose2, SkillError> {
        Ok(self.state().pose)
    }
    fn velocity(&self) -> (f64, f64) {
        self.state().velocity
    }
    fn command(&self, linear: f64, angular: f64) -> Result<(), SkillError> {
        let l = &self.limits;
        self.state().command = (
            linear.clamp(-l.max_linear, l.max_linear),
            angular.clamp(-l.max_angular, l.max_angular),
        );
        Ok(())
    }
    fn advance(&self, dt: Duration, cancel: &CancelToken) -> Result<(), SkillError> {
        let steps = (dt.as_secs_f64() / STEP).round().max(1.0) as usize;
        for _ in 0..steps {
            if cancel.is_cancelled() {
                return Err(SkillError::new(ErrorKind::Cancelled, "cancelled"));
            }
            let mut s = self.state();
            self.step(&mut s);
        }
        Ok(())
    }
    fn stop(&self) {
        let mut s = self.state();
        s.command = (0.0, 0.0);
        s.velocity = (0.0, 0.0);
    }
    fn take_bump(&self) -> bool {
        std::mem::take(&mut self.state().bumped)
    }
    fn zones(&self) -> Vec<ZoneInfo> {
        self.zones.clone()
    }
    fn map(&self) -> Option<GridMap> {
        Some(self.map.clone())
    }
    fn say(&self, text: &str) {
        self.state().events.push(format!("said: {text}"));
    }
    fn take_events(&self) -> Vec<String> {
        std::mem::take(&mut self.state().events)
    }
    fn state_line(&self) -> String {
        let s = self.state();
        format!(
            "pose ({:.2}, {:.2}, {:.2} rad)",
            s.pose.x, s.pose.y, s.pose.theta
        )
    }

    fn tolerances(&self) -> Tolerances {
        Tolerances::default()
    }

    fn allowed_area(&self) -> Option<Vec<P2>> {
        None
    }

    fn safe_stop(&self) {
        self.stop();
    }

    fn surfaces(&self) -> Vec<SurfaceInfo> {
        Vec::new()
    }

    // The turtle has none of the optional capabilities, so the skills that
    // need them are left out of its API.

    fn lidar(&self) -> Option<&dyn Lidar> {
        None
    }

    fn camera(&self) -> Option<&dyn Camera> {
        None
    }

    fn camera_pictures(&self) -> Option<&dyn CameraPictures> {
        None
    }

    fn gripper(&self) -> Option<&dyn Gripper> {
        None
    }

    fn battery(&self) -> Option<&dyn Battery> {
        None
    }

    fn navigation(&self) -> Option<&dyn Navigation> {
        None
    }

    fn map_pictures(&self) -> Option<&dyn MapPictures> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOM: &str = "
        #######
        #S....#
        #.##..#
        #...D.#
        #######";

    #[test]
    fn reads_the_drawing() {
        let t = GridTurtle::new(ROOM, 0.5, &[('D', "dock")]).unwrap();
        let p = t.pose().unwrap();
        assert_eq!((p.x, p.y), (0.75, 1.75));
        let dock = &t.zones()[0];
        assert_eq!(dock.name, "dock");
        assert_eq!((dock.centre.x, dock.centre.y), (2.25, 0.75));
        assert!(t.map().unwrap().is_occupied((2, 2)));
        assert!(matches!(
            GridTurtle::new("#.#", 0.5, &[]),
            Err(GridError::NoStart)
        ));
        assert!(matches!(
            GridTurtle::new("S?", 0.5, &[]),
            Err(GridError::Unknown('?'))
        ));
        assert!(matches!(
            GridTurtle::new("S.\n.", 0.5, &[]),
            Err(GridError::Ragged { row: 2, .. })
        ));
    }

    #[test]
    fn drives_at_its_limits_and_stops_at_walls() {
        let t = GridTurtle::new(ROOM, 0.5, &[('D', "dock")]).unwrap();
        t.command(5.0, 0.0).unwrap();
        t.advance(Duration::from_secs_f64(0.2), &CancelToken::new())
            .unwrap();
        // Accelerating at 1 m/s² for 0.2 s: 0.2 m/s, about 0.02 m.
        assert!((t.velocity().0 - 0.2).abs() < 1e-9);
        t.advance(Duration::from_secs(10), &CancelToken::new())
            .unwrap();
        let p = t.pose().unwrap();
        // The east wall's face is at x = 3.0; the turtle's radius is 0.15.
        assert!(p.x < 2.85 && p.x > 2.8, "{p:?}");
        assert!(t.take_bump());
        assert_eq!(t.velocity(), (0.0, 0.0));
        assert!(t.take_events()[0].starts_with("bumped into a wall"));
    }
}
