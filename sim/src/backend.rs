//! [`SimRobot`]: the simulator as a [`RobotBackend`], so the robot_api skills
//! drive it. In lockstep (the default) time only passes inside skills, as
//! fast as the machine allows; the world waits while the LLM thinks.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use robot_api::nav::GridMap;
use robot_api::{
    Battery, BatteryState, Camera, CameraPictures, CameraView, CancelToken, Detection, ErrorKind,
    Gripper, Lidar, MapPictures, Navigation, Pose2, RobotBackend, RobotLimits, ScanData,
    SkillError, SurfaceInfo, Tolerances, ZoneInfo,
};

use crate::geometry::{point_in_polygon, P2};
use crate::simulator::{GripperFailure, Simulator};
use crate::world::World;

/// Resolution of the planning map, metres (a 20 m world is 200 x 200 cells).
pub const MAP_RESOLUTION: f64 = 0.1;
/// Physics steps between checks for cancellation inside `advance`.
const CANCEL_CHECK_STEPS: u64 = 200;

/// The simulated robot, shared by the skill thread and whoever watches it.
#[derive(Debug)]
pub struct SimRobot {
    sim: Mutex<Simulator>,
    map: GridMap,
    /// Simulated seconds per wall-clock second, when time follows the
    /// clock; `None`: lockstep, as fast as possible.
    realtime: Mutex<Option<f64>>,
}

impl SimRobot {
    /// A robot in a fresh simulation of `world`.
    pub fn new(world: Arc<World>) -> Self {
        let map = world.occupancy().clone();
        SimRobot {
            sim: Mutex::new(Simulator::new(world)),
            map,
            realtime: Mutex::new(None),
        }
    }

    /// Makes simulated time follow the wall clock at `factor` (1.0: real
    /// time), for a person watching or a ROS graph; `None` goes back to
    /// lockstep. In real time the simulation is unlocked between physics
    /// steps, so others can read it while a skill runs.
    pub fn set_realtime(&self, factor: Option<f64>) {
        *self.realtime.lock().unwrap_or_else(|e| e.into_inner()) =
            factor.filter(|f| *f > 0.0 && f.is_finite());
    }

    /// The real-time factor, if time follows the clock.
    pub fn realtime(&self) -> Option<f64> {
        *self.realtime.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The simulation, locked (for pictures, tests and benchmarks).
    pub fn sim(&self) -> MutexGuard<'_, Simulator> {
        self.sim.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn whereabouts(sim: &Simulator) -> String {
        sim.odom_pose().whereabouts()
    }

    fn battery_empty(sim: &Simulator, what: &str) -> SkillError {
        let dock = sim
            .world()
            .zones
            .iter()
            .find(|z| z.charger)
            .map(|z| z.name.clone());
        SkillError::new(
            ErrorKind::BatteryEmpty,
            format!(
                "{what}; {}{}",
                Self::whereabouts(sim),
                dock.map(|d| format!(
                    "; it charges in zone {d:?} (push it there or reset the world)"
                ))
                .unwrap_or_default()
            ),
        )
    }
}

/// The occupancy grid of a world's walls and obstacles (interiors filled).
pub fn occupancy_map(world: &World, resolution: f64) -> GridMap {
    let b = world.bounds;
    let width = ((b.max.x - b.min.x) / resolution).ceil() as usize + 1;
    let height = ((b.max.y - b.min.y) / resolution).ceil() as usize + 1;
    let mut map = GridMap::new(b.min, resolution, width, height);
    for s in &world.walls {
        map.mark_segment(s.a, s.b);
    }
    for o in world.obstacles.iter().filter(|o| !o.unmapped) {
        for s in crate::geometry::polygon_edges(&o.polygon) {
            map.mark_segment(s.a, s.b);
        }
        let bounds = crate::geometry::Aabb::around(o.polygon.iter().copied());
        let (Some(c0), Some(c1)) = (map.cell_of(bounds.min), map.cell_of(bounds.max)) else {
            continue;
        };
        for r in c0.1..=c1.1 {
            for c in c0.0..=c1.0 {
                if point_in_polygon(map.centre_of((c, r)), &o.polygon) {
                    map.occupied[r * width + c] = true;
                }
            }
        }
    }
    map
}

impl RobotBackend for SimRobot {
    fn describe(&self) -> String {
        format!(
            "simulated differential-drive robot in world '{}'",
            self.sim().world().name
        )
    }
    fn limits(&self) -> RobotLimits {
        self.sim().world().robot.limits()
    }
    fn time(&self) -> f64 {
        self.sim().time()
    }
    fn clock_note(&self) -> String {
        match self.realtime() {
            None => "Times (timeouts, durations, waits) are simulated seconds: the simulation runs much faster than real time while a skill runs and stands still between actions.".into(),
            Some(f) if (f - 1.0).abs() < 1e-9 => "Times (timeouts, durations, waits) are simulated seconds, which follow the wall clock.".into(),
            Some(f) => format!("Times (timeouts, durations, waits) are simulated seconds, which run at {f} times the wall clock."),
        }
    }
    fn pose(&self) -> Result<Pose2, SkillError> {
        Ok(self.sim().odom_pose())
    }
    fn velocity(&self) -> (f64, f64) {
        self.sim().velocity()
    }
    fn command(&self, linear: f64, angular: f64) -> Result<(), SkillError> {
        let mut sim = self.sim();
        if sim.battery().percent <= 0.0 && (linear != 0.0 || angular != 0.0) {
            return Err(Self::battery_empty(
                &sim,
                "the battery is empty, so the robot cannot move",
            ));
        }
        sim.command(linear, angular);
        Ok(())
    }
    fn advance(&self, dt: Duration, cancel: &CancelToken) -> Result<(), SkillError> {
        let realtime = self.realtime();
        let wall_start = std::time::Instant::now();
        let step = self.sim().dt();
        let total = (dt.as_secs_f64() / step).round() as u64;
        // Lockstep runs many steps per lock; real time one step, then waits.
        let chunk = if realtime.is_some() {
            1
        } else {
            CANCEL_CHECK_STEPS
        };
        let mut done = 0;
        while done < total {
            {
                let mut sim = self.sim();
                if cancel.is_cancelled() {
                    sim.halt();
                    return Err(SkillError::new(
                        ErrorKind::Cancelled,
                        format!(
                            "stopped: the action is being stopped; {}",
                            Self::whereabouts(&sim)
                        ),
                    ));
                }
                let n = (total - done).min(chunk);
                sim.run_steps(n);
                done += n;
                let (v, w) = sim.commanded();
                if sim.battery().percent <= 0.0 && (v != 0.0 || w != 0.0) {
                    sim.halt();
                    return Err(Self::battery_empty(
                        &sim,
                        "the battery ran out, so the robot stopped",
                    ));
                }
            }
            if let Some(factor) = realtime {
                let due = wall_start + Duration::from_secs_f64(done as f64 * step / factor);
                // A cancelled sleep ends early; the next turn of the loop reports it.
                cancel.sleep(due.saturating_duration_since(std::time::Instant::now()));
            }
        }
        Ok(())
    }
    fn stop(&self) {
        self.sim().halt();
    }
    fn take_bump(&self) -> bool {
        self.sim().take_bump()
    }
    fn zones(&self) -> Vec<ZoneInfo> {
        let sim = self.sim();
        sim.world()
            .zones
            .iter()
            .map(|z| {
                let c = z.centre();
                ZoneInfo {
                    name: z.name.clone(),
                    polygon: z.polygon.clone(),
                    centre: c,
                    charger: z.charger,
                }
            })
            .collect()
    }
    fn surfaces(&self) -> Vec<SurfaceInfo> {
        self.sim().world().surface_infos()
    }
    fn map(&self) -> Option<GridMap> {
        Some(self.map.clone())
    }
    fn say(&self, text: &str) {
        self.sim().push_event(format!("said: {text}"));
    }
    fn take_events(&self) -> Vec<String> {
        self.sim()
            .take_events()
            .into_iter()
            .map(|e| format!("t={:.1}s {}", e.time, e.text))
            .collect()
    }
    fn state_line(&self) -> String {
        let sim = self.sim();
        let p = sim.odom_pose();
        let b = sim.battery();
        format!(
            "pose ({:.2}, {:.2}, {:.2} rad), battery {:.1}%{}, holding {}",
            p.x,
            p.y,
            p.theta,
            b.percent,
            if b.charging { " charging" } else { "" },
            sim.holding().unwrap_or("nothing"),
        )
    }

    /// Exact: the simulator runs in lockstep.
    fn tolerances(&self) -> Tolerances {
        Tolerances::default()
    }

    /// The world has no geofence; its walls bound it.
    fn allowed_area(&self) -> Option<Vec<P2>> {
        None
    }

    fn safe_stop(&self) {
        self.stop();
    }

    fn lidar(&self) -> Option<&dyn Lidar> {
        Some(self)
    }

    fn camera(&self) -> Option<&dyn Camera> {
        Some(self)
    }

    fn camera_pictures(&self) -> Option<&dyn CameraPictures> {
        Some(self)
    }

    fn gripper(&self) -> Option<&dyn Gripper> {
        Some(self)
    }

    fn battery(&self) -> Option<&dyn Battery> {
        Some(self)
    }

    /// The skills' own planner and controller drive the simulated robot.
    fn navigation(&self) -> Option<&dyn Navigation> {
        None
    }

    fn map_pictures(&self) -> Option<&dyn MapPictures> {
        Some(self)
    }
}

impl Camera for SimRobot {
    fn view(&self) -> Option<CameraView> {
        let sim = self.sim();
        let cam = &sim.world().camera;
        Some(CameraView {
            fov: cam.fov,
            range: cam.range,
        })
    }
    fn detect(&self) -> Result<Vec<Detection>, SkillError> {
        Ok(self.sim().detections())
    }
}

impl Lidar for SimRobot {
    fn scan(&self) -> Result<ScanData, SkillError> {
        Ok(self.sim().scan().clone())
    }
}

impl Battery for SimRobot {
    fn state(&self) -> Result<BatteryState, SkillError> {
        Ok(self.sim().battery())
    }
}

impl Gripper for SimRobot {
    fn pick(&self, name: &str, _seen_at: P2) -> Result<(), SkillError> {
        let mut sim = self.sim();
        sim.pick(name).map_err(|f| gripper_error(&sim, f))
    }
    fn place(&self, at: Option<P2>) -> Result<(String, P2), SkillError> {
        let mut sim = self.sim();
        sim.place(at).map_err(|f| gripper_error(&sim, f))
    }
    fn holding(&self) -> Option<String> {
        self.sim().holding().map(str::to_owned)
    }
}

impl MapPictures for SimRobot {
    fn map_image(&self, radius: f64) -> Result<Vec<u8>, SkillError> {
        Ok(crate::render::map_crop_png(&self.sim(), radius))
    }
}

impl CameraPictures for SimRobot {
    fn camera_image(&self, width: u32, height: u32) -> Result<Vec<u8>, SkillError> {
        let view = crate::camera::view(&self.sim(), width as usize, height as usize);
        Ok(view.png())
    }
}

fn gripper_error(sim: &Simulator, failure: GripperFailure) -> SkillError {
    match failure {
        GripperFailure::Unknown(name) => SkillError::new(
            ErrorKind::ObjectNotSeen,
            format!(
                "there is no object called {name:?} here; {}",
                SimRobot::whereabouts(sim)
            ),
        ),
        GripperFailure::NotInReach(m) => SkillError::new(
            ErrorKind::NotInReach,
            format!("{m}; {}", SimRobot::whereabouts(sim)),
        ),
        GripperFailure::Gripper(m) => SkillError::new(
            ErrorKind::GripperError,
            format!("{m}; {}", SimRobot::whereabouts(sim)),
        ),
    }
}
