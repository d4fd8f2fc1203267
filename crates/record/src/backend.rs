//! [`RecordingBackend`]: a robot that records what the skills make it do.

use std::sync::Arc;
use std::time::Duration;

use robot_api::geometry::P2;
use robot_api::nav::GridMap;
use robot_api::{
    Battery, CallContext, Camera, CameraPictures, CancelToken, ErrorKind, Gripper, Lidar,
    MapPictures, Navigation, Pose2, Progress, RobotBackend, RobotLimits, SkillError, SurfaceInfo,
    Tolerances, ZoneInfo,
};

use super::Recorder;

/// Forwards every call to the robot; records velocity commands, the pose
/// and scans as time advances and as the robot's own navigation reports,
/// and camera pictures.
pub struct RecordingBackend {
    inner: Arc<dyn RobotBackend>,
    recorder: Arc<Recorder>,
    /// Which of the recording's robots it is.
    index: usize,
}

impl RecordingBackend {
    /// `inner`, robot `index` of the robots `recorder` records.
    pub fn new(inner: Arc<dyn RobotBackend>, recorder: Arc<Recorder>, index: usize) -> Self {
        RecordingBackend {
            inner,
            recorder,
            index,
        }
    }
}

impl RobotBackend for RecordingBackend {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn limits(&self) -> RobotLimits {
        self.inner.limits()
    }
    fn tolerances(&self) -> Tolerances {
        self.inner.tolerances()
    }
    fn time(&self) -> f64 {
        self.inner.time()
    }
    fn clock_note(&self) -> String {
        self.inner.clock_note()
    }
    fn allowed_area(&self) -> Option<Vec<P2>> {
        self.inner.allowed_area()
    }
    fn pose(&self) -> Result<Pose2, SkillError> {
        self.inner.pose()
    }
    fn velocity(&self) -> (f64, f64) {
        self.inner.velocity()
    }
    fn command(&self, linear: f64, angular: f64) -> Result<(), SkillError> {
        let result = self.inner.command(linear, angular);
        if result.is_ok() {
            self.recorder.command(self.index, linear, angular);
        }
        result
    }
    fn advance(&self, dt: Duration, cancel: &CancelToken) -> Result<(), SkillError> {
        let result = self.inner.advance(dt, cancel);
        self.recorder.sample(self.index, false);
        result
    }
    fn stop(&self) {
        self.inner.stop();
        self.recorder.command(self.index, 0.0, 0.0);
    }
    fn safe_stop(&self) {
        self.inner.safe_stop();
        self.recorder.command(self.index, 0.0, 0.0);
    }
    fn take_bump(&self) -> bool {
        self.inner.take_bump()
    }
    fn zones(&self) -> Vec<ZoneInfo> {
        self.inner.zones()
    }
    fn surfaces(&self) -> Vec<SurfaceInfo> {
        self.inner.surfaces()
    }
    fn map(&self) -> Option<GridMap> {
        self.inner.map()
    }
    fn say(&self, text: &str) {
        self.inner.say(text)
    }
    fn take_events(&self) -> Vec<String> {
        self.inner.take_events()
    }
    fn state_line(&self) -> String {
        self.inner.state_line()
    }
    // Recorded: the robot's own navigation (its pose sampled at each
    // progress report) and camera pictures; the rest passes straight on.
    fn navigation(&self) -> Option<&dyn Navigation> {
        self.inner.navigation().map(|_| self as &dyn Navigation)
    }
    fn camera_pictures(&self) -> Option<&dyn CameraPictures> {
        self.inner
            .camera_pictures()
            .map(|_| self as &dyn CameraPictures)
    }
    fn lidar(&self) -> Option<&dyn Lidar> {
        self.inner.lidar()
    }
    fn camera(&self) -> Option<&dyn Camera> {
        self.inner.camera()
    }
    fn gripper(&self) -> Option<&dyn Gripper> {
        self.inner.gripper()
    }
    fn battery(&self) -> Option<&dyn Battery> {
        self.inner.battery()
    }
    fn map_pictures(&self) -> Option<&dyn MapPictures> {
        self.inner.map_pictures()
    }
}

impl Navigation for RecordingBackend {
    fn navigate(
        &self,
        goal: P2,
        theta: Option<f64>,
        timeout: f64,
        ctx: &CallContext,
    ) -> Result<(), SkillError> {
        let Some(nav) = self.inner.navigation() else {
            return Err(SkillError::new(
                ErrorKind::Robot,
                "this robot has no navigation stack of its own",
            ));
        };
        // The robot's own navigator drives without `advance`: sample the
        // pose and scan at each of its progress reports instead.
        let (recorder, outer, index) = (self.recorder.clone(), ctx.progress.clone(), self.index);
        let ctx = CallContext {
            cancel: ctx.cancel.clone(),
            progress: Progress::new(move |line| {
                outer.report(line);
                recorder.sample(index, false);
            }),
        };
        let done = nav.navigate(goal, theta, timeout, &ctx);
        self.recorder.sample(self.index, true);
        done
    }
}

impl CameraPictures for RecordingBackend {
    fn camera_image(&self, width: u32, height: u32) -> Result<Vec<u8>, SkillError> {
        let Some(camera) = self.inner.camera_pictures() else {
            return Err(SkillError::new(
                ErrorKind::Robot,
                "this robot's camera gives no pictures",
            ));
        };
        let png = camera.camera_image(width, height);
        if let Ok(png) = &png {
            self.recorder.camera(self.index, png);
        }
        png
    }
}
