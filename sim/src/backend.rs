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
use crate::lockstep::{Busy, Lockstep};
use crate::simulator::{GripperFailure, Simulator};
use crate::world::World;

/// Resolution of the planning map, metres (a 20 m world is 200 x 200 cells).
pub const MAP_RESOLUTION: f64 = 0.1;
/// Physics steps between checks for cancellation inside `advance`.
const CANCEL_CHECK_STEPS: u64 = 200;

/// A simulated robot, shared by the skill thread and whoever watches it:
/// the only robot of its simulation, or one of a fleet sharing one
/// simulation and one clock ([`SimRobot::fleet`]).
#[derive(Debug)]
pub struct SimRobot {
    sim: Arc<Mutex<Simulator>>,
    /// Which robot of the simulation it is.
    index: usize,
    clock: Arc<Lockstep>,
    map: GridMap,
    /// Simulated seconds per wall-clock second, when time follows the
    /// clock; `None`: lockstep, as fast as possible. Shared by a fleet.
    realtime: Arc<Mutex<Option<f64>>>,
}

/// The simulation as the lockstep clock steps it (the clock may hand
/// robots far apart to a waiting robot's thread).
struct Stepped<'a>(&'a Mutex<Simulator>, &'a crate::lockstep::Lockstep);

impl crate::lockstep::World for Stepped<'_> {
    fn steps(&self) -> u64 {
        lock(self.0).steps()
    }
    fn run(&self, n: u64) {
        lock(self.0).run_steps_with(n, self.1);
    }
}

fn lock(sim: &Mutex<Simulator>) -> MutexGuard<'_, Simulator> {
    sim.lock().unwrap_or_else(|e| e.into_inner())
}

impl SimRobot {
    /// The (first) robot in a fresh simulation of `world`.
    pub fn new(world: Arc<World>) -> Self {
        Self::robots_of(world).swap_remove(0)
    }

    /// Every robot of a fresh simulation of `world`, in world-file order,
    /// sharing it and its clock: motions of different robots run at once.
    pub fn fleet(world: Arc<World>) -> Vec<Arc<SimRobot>> {
        Self::robots_of(world).into_iter().map(Arc::new).collect()
    }

    fn robots_of(world: Arc<World>) -> Vec<SimRobot> {
        let map = world.occupancy().clone();
        let sim = Arc::new(Mutex::new(Simulator::new(world)));
        let count = lock(&sim).robots().len();
        let clock = Lockstep::new(count);
        let realtime = Arc::new(Mutex::new(None));
        (0..count)
            .map(|index| SimRobot {
                sim: sim.clone(),
                index,
                clock: clock.clone(),
                map: map.clone(),
                realtime: realtime.clone(),
            })
            .collect()
    }

    /// Which robot of its simulation it is (0: the first).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its name in the world ("robot" for a world of one).
    pub fn name(&self) -> String {
        self.sim().robot(self.index).name().to_owned()
    }

    /// Marks this robot busy (a skill runs on it) while the guard lives:
    /// the fleet's clock waits for it before time passes.
    pub fn busy(&self) -> Busy {
        self.clock.busy(self.index)
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
        lock(&self.sim)
    }

    fn whereabouts(&self, sim: &Simulator) -> String {
        sim.robot(self.index).odom_pose().whereabouts()
    }

    fn battery_empty(&self, sim: &Simulator, what: &str) -> SkillError {
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
                self.whereabouts(sim),
                dock.map(|d| format!(
                    "; it charges in zone {d:?} (push it there or reset the world)"
                ))
                .unwrap_or_default()
            ),
        )
    }

    /// The check between steps of `advance`: cancelled, or out of battery.
    fn may_go_on(&self, cancel: &CancelToken) -> Result<(), SkillError> {
        let mut sim = self.sim();
        let i = self.index;
        if cancel.is_cancelled() {
            sim.halt_robot(i);
            return Err(SkillError::new(
                ErrorKind::Cancelled,
                format!(
                    "stopped: the action is being stopped; {}",
                    self.whereabouts(&sim)
                ),
            ));
        }
        let (v, w) = sim.robot(i).commanded();
        if sim.robot(i).battery().percent <= 0.0 && (v != 0.0 || w != 0.0) {
            sim.halt_robot(i);
            return Err(self.battery_empty(&sim, "the battery ran out, so the robot stopped"));
        }
        Ok(())
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
        let sim = self.sim();
        if sim.robots().len() == 1 {
            return format!(
                "simulated differential-drive robot in world '{}'",
                sim.world().name
            );
        }
        format!(
            "simulated differential-drive robot '{}' of {} in world '{}'",
            sim.robot(self.index).name(),
            sim.robots().len(),
            sim.world().name
        )
    }
    fn limits(&self) -> RobotLimits {
        self.sim().robot(self.index).config().limits()
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
        Ok(self.sim().robot(self.index).odom_pose())
    }
    fn velocity(&self) -> (f64, f64) {
        self.sim().robot(self.index).velocity()
    }
    fn command(&self, linear: f64, angular: f64) -> Result<(), SkillError> {
        let mut sim = self.sim();
        if sim.robot(self.index).battery().percent <= 0.0 && (linear != 0.0 || angular != 0.0) {
            return Err(self.battery_empty(&sim, "the battery is empty, so the robot cannot move"));
        }
        sim.command_robot(self.index, linear, angular);
        Ok(())
    }
    fn advance(&self, dt: Duration, cancel: &CancelToken) -> Result<(), SkillError> {
        self.may_go_on(cancel)?;
        let realtime = self.realtime();
        let wall_start = std::time::Instant::now();
        let (step, start) = {
            let sim = self.sim();
            (sim.dt(), sim.steps())
        };
        let total = (dt.as_secs_f64() / step).round() as u64;
        // Lockstep runs many steps per lock; real time one step, then waits.
        let chunk = if realtime.is_some() {
            1
        } else {
            CANCEL_CHECK_STEPS
        };
        let _busy = self.busy();
        self.clock.advance(
            self.index,
            start + total,
            chunk,
            &Stepped(&self.sim, &self.clock),
            |stepped| {
                self.may_go_on(cancel)?;
                if let (Some(factor), true) = (realtime, stepped) {
                    let done = self.sim().steps().saturating_sub(start);
                    let due = wall_start + Duration::from_secs_f64(done as f64 * step / factor);
                    // A cancelled sleep ends early; the next check reports it.
                    cancel.sleep(due.saturating_duration_since(std::time::Instant::now()));
                }
                Ok(())
            },
        )
    }
    fn stop(&self) {
        self.sim().halt_robot(self.index);
    }
    fn take_bump(&self) -> bool {
        self.sim().take_bump_of(self.index)
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
        self.sim()
            .push_event_to(self.index, format!("said: {text}"));
    }
    fn take_events(&self) -> Vec<String> {
        self.sim()
            .take_events_of(self.index)
            .into_iter()
            .map(|e| format!("t={:.1}s {}", e.time, e.text))
            .collect()
    }
    fn state_line(&self) -> String {
        let sim = self.sim();
        let me = sim.robot(self.index);
        let (p, b) = (me.odom_pose(), me.battery());
        format!(
            "pose ({:.2}, {:.2}, {:.2} rad), battery {:.1}%{}, holding {}",
            p.x,
            p.y,
            p.theta,
            b.percent,
            if b.charging { " charging" } else { "" },
            sim.holding_of(self.index).unwrap_or("nothing"),
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
        Ok(self.sim().detections_of(self.index))
    }
}

impl Lidar for SimRobot {
    fn scan(&self) -> Result<ScanData, SkillError> {
        Ok(self.sim().robot(self.index).scan().clone())
    }
}

impl Battery for SimRobot {
    fn state(&self) -> Result<BatteryState, SkillError> {
        Ok(self.sim().robot(self.index).battery())
    }
}

impl Gripper for SimRobot {
    fn pick(&self, name: &str, _seen_at: P2) -> Result<(), SkillError> {
        let mut sim = self.sim();
        sim.pick_by(self.index, name)
            .map_err(|f| gripper_error(&self.whereabouts(&sim), f))
    }
    fn place(&self, at: Option<P2>) -> Result<(String, P2), SkillError> {
        let mut sim = self.sim();
        sim.place_by(self.index, at)
            .map_err(|f| gripper_error(&self.whereabouts(&sim), f))
    }
    fn holding(&self) -> Option<String> {
        self.sim().holding_of(self.index).map(str::to_owned)
    }
}

impl MapPictures for SimRobot {
    fn map_image(&self, radius: f64) -> Result<Vec<u8>, SkillError> {
        Ok(crate::render::map_crop_png_of(
            &self.sim(),
            self.index,
            radius,
        ))
    }
}

impl CameraPictures for SimRobot {
    fn camera_image(&self, width: u32, height: u32) -> Result<Vec<u8>, SkillError> {
        let view = crate::camera::view_of(&self.sim(), self.index, width as usize, height as usize);
        Ok(view.png())
    }
}

fn gripper_error(whereabouts: &str, failure: GripperFailure) -> SkillError {
    match failure {
        GripperFailure::Unknown(name) => SkillError::new(
            ErrorKind::ObjectNotSeen,
            format!("there is no object called {name:?} here; {whereabouts}"),
        ),
        GripperFailure::NotInReach(m) => {
            SkillError::new(ErrorKind::NotInReach, format!("{m}; {whereabouts}"))
        }
        GripperFailure::Gripper(m) => {
            SkillError::new(ErrorKind::GripperError, format!("{m}; {whereabouts}"))
        }
    }
}

/// Each robot of a fleet by name, as a backend (to record them all).
pub fn named(robots: &[Arc<SimRobot>]) -> Vec<(String, Arc<dyn RobotBackend>)> {
    robots
        .iter()
        .map(|r| (r.name(), r.clone() as Arc<dyn RobotBackend>))
        .collect()
}

/// The skill set of a fleet ([`SimRobot::fleet`]): every robot's skills as
/// methods of its robot object, the first robot's also as plain functions,
/// each driven `through` its backend as the caller wraps it (a recording),
/// in the robots' order. Each call marks its robot busy, so the fleet's
/// clock waits for it while robots move at once.
pub fn fleet_skills(
    robots: &[Arc<SimRobot>],
    through: Vec<Arc<dyn RobotBackend>>,
) -> robot_api::SkillSet {
    fleet_skills_knowing(robots, through, &[])
}

/// [`fleet_skills`] of robots that already remember objects (`known`, in
/// the robots' order: a fleet's twin, knowing what each real robot knows).
pub fn fleet_skills_knowing(
    robots: &[Arc<SimRobot>],
    through: Vec<Arc<dyn RobotBackend>>,
    known: &[robot_api::ObjectMemory],
) -> robot_api::SkillSet {
    let sets: Vec<(String, robot_api::SkillSet)> = robots
        .iter()
        .zip(through)
        .enumerate()
        .map(|(i, (robot, backend))| {
            let memory = known.get(i).cloned().unwrap_or_default();
            let mut set = robot_api::skills::robot_skills_knowing(backend, memory);
            let busy = robot.clone();
            set.wrap_handlers(|handler| {
                let busy = busy.clone();
                Arc::new(move |args, ctx| {
                    let _busy = busy.busy();
                    handler(args, ctx)
                })
            });
            (robot.name(), set)
        })
        .collect();
    let names: Vec<String> = sets.iter().map(|(name, _)| name.clone()).collect();
    let mut set = robot_api::fleet::fleet_skills(sets);
    // A started call claims its robot's place on the clock at once, so
    // calls started together move together.
    let owners: Vec<Option<Arc<SimRobot>>> = (0..set.len())
        .map(|i| {
            let name = set.robot_of(i)?;
            let k = names.iter().position(|n| n == name)?;
            Some(robots[k].clone())
        })
        .collect();
    set.set_claim(move |index| {
        let robot = owners.get(index)?.as_ref()?;
        Some(Box::new(robot.busy()) as robot_api::registry::Claim)
    });
    set
}
