//! [`RecordingBackend`]: a robot that records what the skills make it do.

use std::sync::Arc;
use std::time::Duration;

use robot_api::geometry::P2;
use robot_api::nav::GridMap;
use robot_api::{
    BatteryState, CallContext, CameraView, CancelToken, Capabilities, Detection, Pose2, Progress,
    RobotBackend, RobotLimits, ScanData, SkillError, SurfaceInfo, Tolerances, ZoneInfo,
};

use super::Recorder;

/// Forwards every call to the robot; records velocity commands, the pose
/// and scans as time advances, and camera pictures.
pub struct RecordingBackend {
    inner: Arc<dyn RobotBackend>,
    recorder: Arc<Recorder>,
}

impl RecordingBackend {
    /// `inner`, recorded by `recorder`.
    pub fn new(inner: Arc<dyn RobotBackend>, recorder: Arc<Recorder>) -> Self {
        RecordingBackend { inner, recorder }
    }
}

impl RobotBackend for RecordingBackend {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
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
    fn camera_view(&self) -> Option<CameraView> {
        self.inner.camera_view()
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
            self.recorder.command(linear, angular);
        }
        result
    }
    fn advance(&self, dt: Duration, cancel: &CancelToken) -> Result<(), SkillError> {
        let result = self.inner.advance(dt, cancel);
        self.recorder.sample(false);
        result
    }
    fn navigate(
        &self,
        goal: P2,
        theta: Option<f64>,
        timeout: f64,
        ctx: &CallContext,
    ) -> Option<Result<(), SkillError>> {
        // The robot's own navigator drives without `advance`: sample the
        // pose and scan at each of its progress reports instead.
        let (recorder, outer) = (self.recorder.clone(), ctx.progress.clone());
        let ctx = CallContext {
            cancel: ctx.cancel.clone(),
            progress: Progress::new(move |line| {
                outer.report(line);
                recorder.sample(false);
            }),
        };
        let done = self.inner.navigate(goal, theta, timeout, &ctx)?;
        self.recorder.sample(true);
        Some(done)
    }
    fn stop(&self) {
        self.inner.stop();
        self.recorder.command(0.0, 0.0);
    }
    fn safe_stop(&self) {
        self.inner.safe_stop();
        self.recorder.command(0.0, 0.0);
    }
    fn take_bump(&self) -> bool {
        self.inner.take_bump()
    }
    fn scan(&self) -> Result<ScanData, SkillError> {
        self.inner.scan()
    }
    fn detect(&self) -> Result<Vec<Detection>, SkillError> {
        self.inner.detect()
    }
    fn battery(&self) -> Result<BatteryState, SkillError> {
        self.inner.battery()
    }
    fn pick(&self, name: &str, seen_at: P2) -> Result<(), SkillError> {
        self.inner.pick(name, seen_at)
    }
    fn place(&self, at: Option<P2>) -> Result<(String, P2), SkillError> {
        self.inner.place(at)
    }
    fn holding(&self) -> Option<String> {
        self.inner.holding()
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
    fn map_image(&self, radius: f64) -> Option<Vec<u8>> {
        self.inner.map_image(radius)
    }
    fn camera_image(&self, width: u32, height: u32) -> Result<Vec<u8>, SkillError> {
        let png = self.inner.camera_image(width, height);
        if let Ok(png) = &png {
            self.recorder.camera(png);
        }
        png
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
}
