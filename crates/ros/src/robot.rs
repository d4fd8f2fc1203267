//! [`RosRobot`]: the robot_api skills' backend for any ROS 2 robot that
//! speaks the standard interfaces, configured by a [`RobotProfile`]. It
//! listens to odometry, scans, the battery, a map and detections, and sends
//! velocity commands only through the safety [`Governor`], which a timer on
//! the ROS thread ticks at the profile's rate. Sensor data older than the
//! profile's limits is never acted on: skills fail with a clear error.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::task::LocalSpawnExt;
use futures::StreamExt;
use r2r::{GoalStatus, QosProfile};
use robot_api::geometry::{polygon_centre, wrap_angle, P2};
use robot_api::nav::GridMap;
use robot_api::{
    Battery, BatteryState, CallContext, Camera, CameraPictures, CameraView, CancelToken, Detection,
    ErrorKind, Gripper, Lidar, MapPictures, Navigation, Pose2, RobotBackend, RobotLimits, ScanData,
    SkillError, SurfaceInfo, Tolerances, ZoneInfo,
};

use super::actions::{run_goal_to_end, FeedbackLines, Goal, GoalHandle, Ledger};
use super::camera::Frame;
use super::graph::Graph;
use super::nav2;
use super::profile::{CmdVelType, Nav2Settings, RobotProfile};
use super::safety::{Governor, Hold, SafetyConfig, SensorAges};
use super::spin::{Poster, RosClock, RosError, RosThread};
use super::tf::{is_between, Transform2};

type SetBool = r2r::std_srvs::srv::SetBool::Service;

/// How long a gripper service call may take.
const GRIPPER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting waits for the first odometry and scan.
const FIRST_DATA_WAIT: Duration = Duration::from_secs(10);
/// Zero commands sent after motion stops, so a lost message cannot leave the robot moving.
const TRAILING_ZEROS: u32 = 3;

/// A value and when it arrived.
#[derive(Debug, Clone)]
struct Stamped<T> {
    value: T,
    at: Instant,
}

impl<T> Stamped<T> {
    fn age(&self) -> f64 {
        self.at.elapsed().as_secs_f64()
    }
}

/// An object as the simulator's camera topic reports it (world frame).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SeenObject {
    /// Unique name.
    pub name: String,
    /// What it is.
    pub kind: String,
    /// Colour name.
    pub colour: String,
    /// Position, metres.
    pub x: f64,
    /// Position, metres.
    pub y: f64,
    /// Size, metres.
    pub size: f64,
}

#[derive(Default)]
struct Latest {
    odom: Option<Stamped<(Pose2, (f64, f64))>>,
    scan: Option<Stamped<ScanData>>,
    battery: Option<Stamped<BatteryState>>,
    detections: Option<Stamped<Vec<SeenObject>>>,
    camera: Option<Stamped<Frame>>,
    map: Option<GridMap>,
    odom_frame_warned: bool,
    /// The latest `map → odom` (and whether it came on /tf_static), when
    /// the profile names a map frame.
    map_to_odom: Option<Stamped<(Transform2, bool)>>,
    /// Whether poses are in the map frame (the profile names one).
    in_map: bool,
}

impl Latest {
    /// The odometry pose in the frame poses are given in: through the
    /// latest `map → odom` when the profile names a map frame (`None`
    /// until one has arrived).
    fn located(&self) -> Option<Pose2> {
        let pose = self.odom.as_ref()?.value.0;
        if !self.in_map {
            return Some(pose);
        }
        Some(self.map_to_odom.as_ref()?.value.0.apply(pose))
    }
}

/// The velocity command publisher, in the type the robot takes.
enum CmdPublisher {
    Twist(r2r::Publisher<r2r::geometry_msgs::msg::Twist>),
    /// Stamped with the time of sending in the robot's base frame.
    Stamped(
        r2r::Publisher<r2r::geometry_msgs::msg::TwistStamped>,
        String,
    ),
}

struct SafetyCore {
    governor: Governor,
    publisher: CmdPublisher,
    /// The node's ROS clock, for the stamps.
    clock: Arc<RosClock>,
    hold: Option<Hold>,
    zeros_left: u32,
}

impl SafetyCore {
    /// Sends zero now, and a few more times on the next ticks.
    fn send_zero(&mut self) {
        self.zeros_left = TRAILING_ZEROS;
        self.publish((0.0, 0.0));
    }

    fn publish(&self, (linear, angular): (f64, f64)) {
        let mut twist = r2r::geometry_msgs::msg::Twist::default();
        twist.linear.x = linear;
        twist.angular.z = angular;
        let _ = match &self.publisher {
            CmdPublisher::Twist(p) => p.publish(&twist),
            CmdPublisher::Stamped(p, frame) => {
                let mut stamped = r2r::geometry_msgs::msg::TwistStamped {
                    twist,
                    ..Default::default()
                };
                stamped.header.frame_id = frame.clone();
                stamped.header.stamp = self.clock.stamp();
                p.publish(&stamped)
            }
        };
    }
}

struct Shared {
    started: Instant,
    /// Every action goal the bridge has sent or is about to send.
    goals: Arc<Ledger>,
    /// Where the answers to cancel requests are awaited.
    poster: Poster,
    /// The second rcl node: run-time types' goals are cancelled through it.
    graph: Graph,
    /// The node's ROS clock.
    clock: Arc<RosClock>,
    latest: Mutex<Latest>,
    safety: Mutex<SafetyCore>,
    events: Mutex<Vec<String>>,
    holding: Mutex<Option<String>>,
    on_e_stop: Mutex<Vec<Box<dyn Fn() + Send>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn event(&self, text: String) {
        lock(&self.events).push(text);
    }

    /// One governor tick: what to send now.
    fn tick(&self) {
        let (ages, pose) = {
            let l = lock(&self.latest);
            (
                SensorAges {
                    odom: l.odom.as_ref().map(Stamped::age),
                    scan: l.scan.as_ref().map(Stamped::age),
                },
                l.located(),
            )
        };
        let now = self.now();
        let mut core = lock(&self.safety);
        let (out, hold) = core.governor.tick(now, ages, pose);
        if hold != core.hold {
            if let Some(h) = &hold {
                if *h != Hold::EStop {
                    self.event(format!("safety stop: {}", h.describe()));
                }
            }
            core.hold = hold;
        }
        if out != (0.0, 0.0) {
            core.zeros_left = TRAILING_ZEROS;
            core.publish(out);
        } else if core.zeros_left > 0 {
            core.zeros_left -= 1;
            core.publish(out);
        }
    }

    /// Hands a velocity command to the governor, whoever gives it (a skill,
    /// or Nav2's controller through the profile's relay), so its limits,
    /// geofence, watchdog and e-stop hold. `Err` while the e-stop is latched
    /// (the command is dropped).
    fn command(&self, linear: f64, angular: f64) -> Result<(), ()> {
        let now = self.now();
        let starting = {
            let mut core = lock(&self.safety);
            core.governor
                .command(linear, angular, now)
                .map_err(|_| ())?;
            // A geofence stop belongs to the command that caused it: the
            // next tick judges this one afresh (turning or driving back in is allowed).
            if core.hold == Some(Hold::Geofence) {
                core.hold = None;
            }
            (linear != 0.0 || angular != 0.0) && core.zeros_left == 0
        };
        if starting {
            // From standstill, send at once rather than at the next tick.
            self.tick();
        }
        Ok(())
    }

    /// Latches the e-stop, sends zero at once, cancels every goal (none is
    /// sent while latched), and interrupts the running action.
    fn engage_e_stop(&self, source: &str) {
        {
            let mut core = lock(&self.safety);
            if !core.governor.e_stopped() {
                self.event(format!("e-stop engaged ({source})"));
            }
            core.governor.engage_e_stop();
            core.send_zero();
        }
        let handles = self.goals.latch("the e-stop was engaged");
        self.cancel(handles);
        for interrupt in lock(&self.on_e_stop).iter() {
            interrupt();
        }
    }

    /// Clears the e-stop; whether it was latched.
    fn clear_e_stop(&self) -> bool {
        let mut core = lock(&self.safety);
        let was = core.governor.e_stopped();
        core.governor.clear_e_stop();
        drop(core);
        self.goals.unlatch();
        if was {
            self.event("e-stop cleared".into());
        }
        was
    }

    /// Sends the cancel requests of these goals now (from any thread); the
    /// ROS thread collects r2r's answers.
    fn cancel(&self, handles: Vec<GoalHandle>) {
        for handle in handles {
            match handle {
                GoalHandle::Compiled(handle) => {
                    if let Ok(answer) = handle.cancel() {
                        self.poster.post(move |_, spawner| {
                            let _ = spawner.spawn_local(async move {
                                let _ = answer.await;
                            });
                        });
                    }
                }
                GoalHandle::RunTime(goal) => {
                    if let Err(e) = self.graph.cancel_goal(&goal) {
                        tracing::warn!("cancelling the goal on {} failed: {e}", goal.action);
                    }
                }
            }
        }
    }
}

/// A ROS 2 robot as a skill backend.
pub struct RosRobot {
    ros: Arc<RosThread>,
    profile: RobotProfile,
    shared: Arc<Shared>,
    gripper: Option<r2r::Client<SetBool>>,
}

fn yaw(q: &r2r::geometry_msgs::msg::Quaternion) -> f64 {
    (2.0 * (q.w * q.z + q.x * q.y)).atan2(1.0 - 2.0 * (q.y * q.y + q.z * q.z))
}

fn stale_error(what: &str, topic: &str, age: Option<f64>, limit: f64) -> SkillError {
    let message = match age {
        None => format!("no {what} has arrived on {topic}: is the robot's driver running? (check with `ros2 topic hz {topic}`)"),
        Some(age) => format!("the {what} on {topic} is {age:.2} s old (limit {limit} s): the robot was stopped rather than act on stale data; is the robot's driver still running? (`ros2 topic hz {topic}`)"),
    };
    SkillError::new(ErrorKind::Robot, message)
}

impl RosRobot {
    /// Connects to the robot the profile describes, on `ros`'s node.
    pub fn connect(ros: Arc<RosThread>, profile: RobotProfile) -> Result<Self, RosError> {
        let cmd_topic = profile.topics.cmd_vel.clone();
        let base = profile.frames.base.clone();
        let publisher = match profile.topics.cmd_vel_type {
            CmdVelType::Twist => ros.run(move |node, _| {
                node.create_publisher(&cmd_topic, QosProfile::default())
                    .map(CmdPublisher::Twist)
            })?,
            CmdVelType::TwistStamped => ros.run(move |node, _| {
                node.create_publisher(&cmd_topic, QosProfile::default())
                    .map(|p| CmdPublisher::Stamped(p, base))
            })?,
        }
        .map_err(|e| RosError::R2r(format!("cannot publish on {}: {e}", profile.topics.cmd_vel)))?;
        let shared = Arc::new(Shared {
            started: Instant::now(),
            goals: Arc::default(),
            poster: ros.poster(),
            graph: Graph::default(),
            clock: ros.clock(),
            latest: Mutex::new(Latest::default()),
            safety: Mutex::new(SafetyCore {
                governor: Governor::new(safety_config(&profile)),
                publisher,
                clock: ros.clock(),
                hold: None,
                zeros_left: 0,
            }),
            events: Mutex::new(Vec::new()),
            holding: Mutex::new(None),
            on_e_stop: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        lock(&shared.latest).in_map = profile.frames.map.is_some();
        let p = profile.clone();
        ros.run(move |node, spawner| subscribe(node, spawner, &s, &p))?
            .map_err(|e| RosError::R2r(format!("cannot subscribe to the robot's topics: {e}")))?;

        let gripper = match profile.services.gripper.clone() {
            Some(name) => Some(
                ros.run(move |node, _| {
                    node.create_client::<SetBool>(&name, QosProfile::default())
                })?
                .map_err(|e| RosError::R2r(format!("cannot create the gripper client: {e}")))?,
            ),
            None => None,
        };
        if let Some(nav2) = &profile.nav2 {
            crate::actions::prepare(&ros, &shared.graph, &nav2.action, nav2::ACTION_TYPE).map_err(|e| {
                RosError::R2r(format!(
                    "the profile's nav2 needs {}: {} (scripts/ros-setup.sh builds nav2_msgs' NavigateToPose when the ROS install lacks it)",
                    nav2::ACTION_TYPE,
                    e.message
                ))
            })?;
        }
        let robot = RosRobot {
            ros,
            profile,
            shared,
            gripper,
        };
        robot.wait_for_first_data();
        robot.check_cmd_vel_type()?;
        Ok(robot)
    }

    /// The frame poses, goals, zones and the geofence are in.
    fn pose_frame(&self) -> &str {
        let frames = &self.profile.frames;
        frames.map.as_deref().unwrap_or(&frames.odom)
    }

    /// Sends `goal` to Nav2 and waits for it: its feedback printed, the goal
    /// cancelled when the action stops or the e-stop engages, a failure
    /// turned into `Unreachable` or `Blocked` with Nav2's reason.
    fn navigate_with_nav2(
        &self,
        settings: &Nav2Settings,
        to: P2,
        theta: Option<f64>,
        timeout: f64,
        ctx: &CallContext,
    ) -> Result<(), SkillError> {
        let heading = nav2::arrival_heading(self.pose()?, to, theta);
        let goal = Goal {
            name: &settings.action,
            type_name: nav2::ACTION_TYPE,
            goal: nav2::goal(
                self.pose_frame(),
                self.shared.clock.now(),
                to,
                heading,
                &settings.behavior_tree,
            ),
            timeout: Duration::from_secs_f64(timeout),
        };
        let mut lines = FeedbackLines::new(&settings.action, &ctx.progress, self)
            .formatted(nav2::feedback_line);
        let ended = run_goal_to_end(self, goal, &ctx.cancel, &mut lines);
        lines.flush();
        match ended {
            Ok((GoalStatus::Succeeded, _)) => Ok(()),
            Ok((status, result)) => {
                let how = match status {
                    GoalStatus::Aborted => "aborted",
                    GoalStatus::Canceled => "canceled",
                    _ => "did not finish",
                };
                Err(nav2::failure(how, &result.unwrap_or_default()))
            }
            Err(e) if e.kind == ErrorKind::GoalFailed => {
                Err(SkillError::new(ErrorKind::Unreachable, e.message))
            }
            Err(e) => Err(e),
        }
    }

    /// A robot that takes another velocity message type than the profile
    /// says would silently never move: what the graph shows on the command
    /// topic (after discovery) must be the profile's type.
    fn check_cmd_vel_type(&self) -> Result<(), RosError> {
        let topic = self.profile.topics.cmd_vel.clone();
        let ours = self.profile.topics.cmd_vel_type;
        let types = self
            .ros
            .run(|node, _| node.get_topic_names_and_types())?
            .map_err(|e| RosError::R2r(format!("cannot list the ROS graph: {e}")))?;
        // r2r 0.9 gets a topic's type list right only in its length and its
        // first entry (the rest are the next topics' first types); the
        // middleware lists a topic's types sorted, so Twist comes first.
        let Some(listed) = types.get(&topic) else {
            return Ok(());
        };
        let theirs = match listed.first() {
            Some(first) if first != ours.ros_type() => first.clone(),
            _ if listed.len() > 1 => match ours {
                CmdVelType::Twist => CmdVelType::TwistStamped.ros_type().to_owned(),
                CmdVelType::TwistStamped => CmdVelType::Twist.ros_type().to_owned(),
            },
            _ => return Ok(()),
        };
        let fix = match theirs.as_str() {
            "geometry_msgs/msg/TwistStamped" => {
                "set `cmd_vel_type: twist_stamped` under topics in the robot profile"
            }
            "geometry_msgs/msg/Twist" => {
                "set `cmd_vel_type: twist` under topics in the robot profile"
            }
            _ => "point `cmd_vel` in the robot profile at the robot's velocity command topic",
        };
        Err(RosError::R2r(format!(
            "{topic} carries {theirs} on the ROS graph, but the profile sends {} ({}): the robot would ignore every command; {fix}",
            ours.ros_type(),
            ours.name()
        )))
    }

    /// Discovery takes a moment: gives the robot's odometry and scans (which
    /// motion needs), and /clock under sim time, a chance to arrive first,
    /// and warns about what did not.
    fn wait_for_first_data(&self) {
        let wants_scan = self.profile.topics.scan.is_some();
        let clock = &self.shared.clock;
        let arrived = || {
            let l = lock(&self.shared.latest);
            [
                l.odom.is_some(),
                l.scan.is_some() || !wants_scan,
                // Under sim time, ROS time is zero until /clock speaks.
                !clock.is_sim_time() || !clock.now().is_zero(),
            ]
        };
        let deadline = Instant::now() + FIRST_DATA_WAIT;
        while arrived().contains(&false) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let [odom, scan, time] = arrived();
        for (missing, topic, what) in [
            (
                !odom,
                self.profile.topics.odom.as_str(),
                "skills that need the pose",
            ),
            (
                !scan,
                self.profile.topics.scan.as_deref().unwrap_or(""),
                "motion",
            ),
        ] {
            if missing {
                tracing::warn!(
                    "nothing on {topic} after {} s; {what} will fail until it arrives",
                    FIRST_DATA_WAIT.as_secs()
                );
            }
        }
        if !time {
            tracing::warn!(
                "nothing on /clock after {} s (the profile sets use_sim_time): ROS time stays at zero, and stamps and skill timeouts with it, until it arrives",
                FIRST_DATA_WAIT.as_secs()
            );
        }
    }

    /// The profile it was made from.
    pub fn profile(&self) -> &RobotProfile {
        &self.profile
    }

    /// Calls `interrupt` whenever the e-stop engages (the node interrupts the running action).
    pub fn on_e_stop(&self, interrupt: impl Fn() + Send + 'static) {
        lock(&self.shared.on_e_stop).push(Box::new(interrupt));
    }

    /// Engages the e-stop from outside its topic (the fleet's e-stop): the
    /// robot stopped, its goals cancelled, its e-stop hooks called.
    pub fn engage_e_stop(&self, source: &str) {
        self.shared.engage_e_stop(source);
    }

    /// The service a person clears this robot's e-stop with, in full
    /// (`/codeact/clear_e_stop`, `/codeact/beta/clear_e_stop` in a fleet).
    pub fn clear_service(&self) -> String {
        r2r_name(&self.ros.node_name, &clear_service_of(&self.profile))
    }

    /// Clears the e-stop: a person's decision (the node's `~/clear_e_stop`
    /// service, the REPL's `:clear-e-stop`), never the code's. Whether it was latched.
    pub fn clear_e_stop(&self) -> bool {
        self.shared.clear_e_stop()
    }

    /// The ROS thread that owns the node.
    pub fn ros(&self) -> &RosThread {
        &self.ros
    }

    /// The second rcl node, for types the node was not built with and for
    /// what r2r cannot ask the graph.
    pub fn graph(&self) -> &Graph {
        &self.shared.graph
    }

    /// The goals the bridge has sent or is about to send.
    pub fn goals(&self) -> &Arc<Ledger> {
        &self.shared.goals
    }

    /// Cancels every goal still in flight (see [`Ledger::cancel_all`]).
    pub fn cancel_goals(&self, why: &str) {
        let handles = self.shared.goals.cancel_all(why);
        self.shared.cancel(handles);
    }

    /// Sends the cancel request of one goal now (the ROS thread collects
    /// the answer).
    pub fn cancel_goal(&self, handle: GoalHandle) {
        self.shared.cancel(vec![handle]);
    }

    /// Whether the e-stop is latched.
    pub fn e_stopped(&self) -> bool {
        lock(&self.shared.safety).governor.e_stopped()
    }

    /// The pose (in the frame poses are given in) and body velocities;
    /// stale or missing odometry, or `map → odom`, is an error.
    fn odom(&self) -> Result<(Pose2, (f64, f64)), SkillError> {
        let l = lock(&self.shared.latest);
        let limit = self.profile.safety.odom_stale;
        let (pose, velocity) = match &l.odom {
            Some(o) if o.age() <= limit => o.value,
            o => {
                return Err(stale_error(
                    "odometry",
                    &self.profile.topics.odom,
                    o.as_ref().map(Stamped::age),
                    limit,
                ))
            }
        };
        let Some(map) = &self.profile.frames.map else {
            return Ok((pose, velocity));
        };
        let limit = self.profile.safety.tf_stale;
        match &l.map_to_odom {
            Some(t) if t.value.1 || t.age() <= limit => Ok((t.value.0.apply(pose), velocity)),
            t => Err(stale_error(
                &format!("{map} → {} transform", self.profile.frames.odom),
                &self.profile.topics.tf,
                t.as_ref().map(Stamped::age),
                limit,
            )),
        }
    }

    /// What a skill raises while the e-stop is latched.
    pub fn e_stop_error(&self) -> SkillError {
        SkillError::new(
            ErrorKind::EStopped,
            format!(
                "the e-stop is engaged, so the robot will not move until a person clears it (ros2 service call {} std_srvs/srv/Trigger)",
                self.clear_service()
            ),
        )
    }

    /// `Ok` unless the e-stop is latched; then the refusal of `what` (a
    /// service call, a message, a gripper command), which is not sent: any
    /// of them may move the robot as surely as a velocity command.
    pub fn refuse_while_latched(&self, what: &str) -> Result<(), SkillError> {
        if !self.e_stopped() {
            return Ok(());
        }
        Err(nothing_sent(what, self.e_stop_error()))
    }

    fn call_gripper(&self, close: bool) -> Result<String, SkillError> {
        let Some(client) = &self.gripper else {
            return Err(SkillError::new(
                ErrorKind::GripperError,
                "this robot has no gripper service in its profile",
            ));
        };
        let name = self.profile.services.gripper.clone().unwrap_or_default();
        self.refuse_while_latched(&name)?;
        let request = r2r::std_srvs::srv::SetBool::Request { data: close };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let future = client.request(&request).map_err(|e| {
            SkillError::new(
                ErrorKind::GripperError,
                format!("calling {name} failed: {e}"),
            )
        })?;
        self.ros
            .run(move |_, spawner| {
                let _ = spawner.spawn_local(async move {
                    let _ = tx.send(future.await);
                });
            })
            .map_err(|e| SkillError::new(ErrorKind::GripperError, e.to_string()))?;
        match rx.recv_timeout(GRIPPER_TIMEOUT) {
            Ok(Ok(response)) if response.success => Ok(response.message),
            Ok(Ok(response)) => Err(SkillError::new(ErrorKind::GripperError, response.message)),
            Ok(Err(e)) => Err(SkillError::new(
                ErrorKind::GripperError,
                format!("{name} failed: {e}"),
            )),
            Err(_) => Err(SkillError::new(
                ErrorKind::GripperError,
                format!(
                    "{name} did not answer within {} s: is the gripper driver running?",
                    GRIPPER_TIMEOUT.as_secs()
                ),
            )),
        }
    }
}

/// The node-relative name of the service that clears `profile`'s robot's
/// e-stop: `~/clear_e_stop`, or `~/NAME/clear_e_stop` for a robot of a fleet.
fn clear_service_of(profile: &RobotProfile) -> String {
    match &profile.member {
        Some(name) => format!("~/{name}/clear_e_stop"),
        None => "~/clear_e_stop".into(),
    }
}

/// `name` (`~/x` private to the node, or absolute) in full, for a node
/// whose full name is `node`.
pub(crate) fn r2r_name(node: &str, name: &str) -> String {
    match name.strip_prefix("~/") {
        Some(rest) => format!("{}/{rest}", node.trim_end_matches('/')),
        None => name.to_owned(),
    }
}

/// `e`, saying that nothing went out to `what` (a goal's action, a service,
/// a topic) because of it.
pub fn nothing_sent(what: &str, e: SkillError) -> SkillError {
    SkillError::new(e.kind, format!("{what}: nothing was sent; {}", e.message))
}

/// Spawns a task on the ROS thread that hands every message of `stream` to `each`.
fn spawn<T: 'static>(
    spawner: &futures::executor::LocalSpawner,
    stream: impl futures::Stream<Item = T> + Unpin + 'static,
    mut each: impl FnMut(T) + 'static,
) {
    let _ = spawner.spawn_local(stream.for_each(move |m| {
        each(m);
        futures::future::ready(())
    }));
}

/// The safety governor's settings from a profile.
fn safety_config(profile: &RobotProfile) -> SafetyConfig {
    SafetyConfig {
        max_linear: profile.limits.max_linear,
        max_angular: profile.limits.max_angular,
        max_linear_accel: profile.limits.max_linear_accel,
        max_angular_accel: profile.limits.max_angular_accel,
        radius: profile.limits.radius,
        watchdog: profile.safety.watchdog,
        odom_stale: profile.safety.odom_stale,
        scan_stale: profile
            .topics
            .scan
            .as_ref()
            .map(|_| profile.safety.scan_stale),
        geofence: profile.safety.geofence.clone(),
    }
}

/// On the ROS thread: subscribes to the robot's topics (each message kept
/// as the latest, stamped) and starts the safety governor's timer.
fn subscribe(
    node: &mut r2r::Node,
    spawner: &futures::executor::LocalSpawner,
    s: &Arc<Shared>,
    profile: &RobotProfile,
) -> r2r::Result<()> {
    let (topics, frames) = (&profile.topics, &profile.frames);
    let period = Duration::from_secs_f64(1.0 / profile.safety.rate);
    let relay = profile
        .nav2
        .as_ref()
        .and_then(|n| n.relay.as_deref().map(|topic| (topic, n.relay_type)));
    let odom_frame = frames.odom.clone();
    if let Some(map) = &frames.map {
        subscribe_tf(node, spawner, s, topics, map, &frames.odom)?;
    }
    let sh = s.clone();
    let odom =
        node.subscribe::<r2r::nav_msgs::msg::Odometry>(&topics.odom, QosProfile::default())?;
    spawn(spawner, odom, move |m| {
        let p = &m.pose.pose;
        let pose = Pose2::new(p.position.x, p.position.y, yaw(&p.orientation));
        let v = (m.twist.twist.linear.x, m.twist.twist.angular.z);
        let mut l = lock(&sh.latest);
        if !l.odom_frame_warned
            && !m.header.frame_id.is_empty()
            && m.header.frame_id.trim_start_matches('/') != odom_frame
        {
            l.odom_frame_warned = true;
            sh.event(format!("odometry arrives in frame '{}', the profile says '{odom_frame}'; poses are taken as they come", m.header.frame_id));
        }
        l.odom = Some(Stamped {
            value: (pose, v),
            at: Instant::now(),
        });
    });
    if let Some(topic) = &topics.scan {
        let sh = s.clone();
        let scan =
            node.subscribe::<r2r::sensor_msgs::msg::LaserScan>(topic, QosProfile::sensor_data())?;
        spawn(spawner, scan, move |m| {
            let mut l = lock(&sh.latest);
            let pose = l.located().unwrap_or_default();
            l.scan = Some(Stamped {
                value: scan_data(&m, pose, sh.clock.now().as_secs_f64()),
                at: Instant::now(),
            });
        });
    }
    if let Some(topic) = &topics.battery {
        let sh = s.clone();
        let battery =
            node.subscribe::<r2r::sensor_msgs::msg::BatteryState>(topic, QosProfile::default())?;
        spawn(spawner, battery, move |m| {
            // sensor_msgs/BatteryState: percentage 0-1 (NaN if unknown); status 1 = charging.
            let percent = if m.percentage.is_finite() {
                m.percentage as f64 * 100.0
            } else {
                f64::NAN
            };
            lock(&sh.latest).battery = Some(Stamped {
                value: BatteryState {
                    percent,
                    charging: m.power_supply_status == 1,
                },
                at: Instant::now(),
            });
        });
    }
    if let Some(topic) = &topics.map {
        let sh = s.clone();
        let qos = QosProfile::default().reliable().transient_local();
        let map = node.subscribe::<r2r::nav_msgs::msg::OccupancyGrid>(topic, qos)?;
        spawn(spawner, map, move |m| {
            lock(&sh.latest).map = Some(grid_map(&m))
        });
    }
    if let Some(topic) = &topics.camera {
        let sh = s.clone();
        let camera =
            node.subscribe::<r2r::sensor_msgs::msg::Image>(topic, QosProfile::sensor_data())?;
        spawn(spawner, camera, move |m| {
            lock(&sh.latest).camera = Some(Stamped {
                value: Frame::Raw {
                    width: m.width,
                    height: m.height,
                    encoding: m.encoding,
                    step: m.step,
                    data: m.data,
                },
                at: Instant::now(),
            });
        });
    }
    if let Some(topic) = &topics.camera_compressed {
        let sh = s.clone();
        let camera = node.subscribe::<r2r::sensor_msgs::msg::CompressedImage>(
            topic,
            QosProfile::sensor_data(),
        )?;
        spawn(spawner, camera, move |m| {
            lock(&sh.latest).camera = Some(Stamped {
                value: Frame::Compressed(m.data),
                at: Instant::now(),
            });
        });
    }
    if let Some(topic) = &topics.detections {
        let sh = s.clone();
        let det = node.subscribe::<r2r::std_msgs::msg::String>(topic, QosProfile::default())?;
        spawn(spawner, det, move |m| {
            if let Ok(objects) = serde_json::from_str::<Vec<SeenObject>>(&m.data) {
                lock(&sh.latest).detections = Some(Stamped {
                    value: objects,
                    at: Instant::now(),
                });
            }
        });
    }
    let sh = s.clone();
    let e_stop =
        node.subscribe::<r2r::std_msgs::msg::Bool>(&topics.e_stop, QosProfile::default())?;
    let e_stop_topic = topics.e_stop.clone();
    spawn(spawner, e_stop, move |m| {
        if m.data {
            sh.engage_e_stop(&e_stop_topic);
        }
    });
    let sh = s.clone();
    serve_trigger(node, spawner, &clear_service_of(profile), move || {
        sh.clear_e_stop()
    })?;
    if let Some((topic, kind)) = relay {
        subscribe_relay(node, spawner, s, topic, kind)?;
    }
    let sh = s.clone();
    let mut timer = node.create_wall_timer(period)?;
    spawner
        .spawn_local(async move {
            while timer.tick().await.is_ok() {
                sh.tick();
            }
        })
        .map_err(|_| r2r::Error::RCL_RET_ERROR)?;
    Ok(())
}

/// On the ROS thread: relays Nav2's velocity commands from `topic` to the
/// base through the governor.
fn subscribe_relay(
    node: &mut r2r::Node,
    spawner: &futures::executor::LocalSpawner,
    s: &Arc<Shared>,
    topic: &str,
    kind: CmdVelType,
) -> r2r::Result<()> {
    let sh = s.clone();
    match kind {
        CmdVelType::Twist => {
            let twists =
                node.subscribe::<r2r::geometry_msgs::msg::Twist>(topic, QosProfile::default())?;
            spawn(spawner, twists, move |t| {
                let _ = sh.command(t.linear.x, t.angular.z);
            });
        }
        CmdVelType::TwistStamped => {
            let twists = node
                .subscribe::<r2r::geometry_msgs::msg::TwistStamped>(topic, QosProfile::default())?;
            spawn(spawner, twists, move |t| {
                let _ = sh.command(t.twist.linear.x, t.twist.angular.z);
            });
        }
    }
    Ok(())
}

/// On the ROS thread: serves `name` (std_srvs/srv/Trigger) by `clear`,
/// which says whether an e-stop was latched: the way a person clears an
/// e-stop (`~/clear_e_stop`, `~/beta/clear_e_stop` for a robot of a fleet),
/// in every process that drives a ROS robot.
pub(crate) fn serve_trigger(
    node: &mut r2r::Node,
    spawner: &futures::executor::LocalSpawner,
    name: &str,
    clear: impl Fn() -> bool + 'static,
) -> r2r::Result<()> {
    use r2r::std_srvs::srv::Trigger;
    let service = node.create_service::<Trigger::Service>(name, QosProfile::default())?;
    spawn(spawner, service, move |request| {
        let message = if clear() {
            "e-stop cleared"
        } else {
            "the e-stop was not engaged"
        };
        let _ = request.respond(Trigger::Response {
            success: true,
            message: message.into(),
        });
    });
    Ok(())
}

/// On the ROS thread: keeps the latest `map → odom` from the profile's tf
/// topics (/tf and /tf_static unless it says).
fn subscribe_tf(
    node: &mut r2r::Node,
    spawner: &futures::executor::LocalSpawner,
    s: &Arc<Shared>,
    topics: &crate::profile::ProfileTopics,
    map: &str,
    odom: &str,
) -> r2r::Result<()> {
    let latched = QosProfile::default().reliable().transient_local();
    for (topic, qos, is_static) in [
        (&topics.tf, QosProfile::default(), false),
        (&topics.tf_static, latched, true),
    ] {
        let stream = node.subscribe::<r2r::tf2_msgs::msg::TFMessage>(topic, qos)?;
        let (sh, map, odom) = (s.clone(), map.to_owned(), odom.to_owned());
        spawn(spawner, stream, move |m| {
            for t in &m.transforms {
                if is_between(&t.header.frame_id, &t.child_frame_id, &map, &odom) {
                    let (v, q) = (&t.transform.translation, &t.transform.rotation);
                    let transform = Transform2::from_ros((v.x, v.y), (q.x, q.y, q.z, q.w));
                    lock(&sh.latest).map_to_odom = Some(Stamped {
                        value: (transform, is_static),
                        at: Instant::now(),
                    });
                }
            }
        });
    }
    Ok(())
}

/// A LaserScan as the skills see it: no return (inf, NaN or outside
/// [min, max]) as infinity, taken at `pose`.
fn scan_data(m: &r2r::sensor_msgs::msg::LaserScan, pose: Pose2, stamp: f64) -> ScanData {
    let range_max = m.range_max as f64;
    let range_min = m.range_min as f64;
    let ranges = m
        .ranges
        .iter()
        .map(|&r| {
            let r = r as f64;
            if r.is_finite() && r >= range_min && r <= range_max {
                r
            } else {
                f64::INFINITY
            }
        })
        .collect();
    ScanData {
        angle_min: m.angle_min as f64,
        angle_increment: m.angle_increment as f64,
        range_min,
        range_max,
        ranges,
        pose,
        stamp,
    }
}

/// An OccupancyGrid as a planning grid: occupancy 0-100 with -1 unknown;
/// unknown counts as free (the lidar re-plans around what is there).
fn grid_map(m: &r2r::nav_msgs::msg::OccupancyGrid) -> GridMap {
    let info = &m.info;
    let mut grid = GridMap::new(
        P2::new(info.origin.position.x, info.origin.position.y),
        info.resolution as f64,
        info.width as usize,
        info.height as usize,
    );
    for (cell, &v) in grid.occupied.iter_mut().zip(&m.data) {
        *cell = v >= 50;
    }
    grid
}

impl RobotBackend for RosRobot {
    fn describe(&self) -> String {
        if self.profile.description.is_empty() {
            format!("ROS 2 robot '{}'", self.profile.name)
        } else {
            format!(
                "ROS 2 robot '{}': {}",
                self.profile.name, self.profile.description
            )
        }
    }
    fn limits(&self) -> RobotLimits {
        let l = &self.profile.limits;
        RobotLimits {
            radius: l.radius,
            max_linear: l.max_linear,
            max_angular: l.max_angular,
            max_linear_accel: l.max_linear_accel,
            reach: l.reach,
        }
    }
    fn tolerances(&self) -> Tolerances {
        Tolerances {
            goal: self.profile.tolerances.goal,
            heading: self.profile.tolerances.heading,
            rest_linear: self.profile.tolerances.rest_linear,
            rest_angular: self.profile.tolerances.rest_angular,
        }
    }
    /// ROS time: stamps, recordings and the skills' timeouts follow the
    /// node's clock (sim time from /clock when the profile says so).
    fn time(&self) -> f64 {
        self.shared.clock.now().as_secs_f64()
    }
    fn pose(&self) -> Result<Pose2, SkillError> {
        self.odom().map(|o| o.0)
    }
    fn allowed_area(&self) -> Option<Vec<P2>> {
        self.profile.safety.geofence.clone()
    }
    fn velocity(&self) -> (f64, f64) {
        self.odom().map(|o| o.1).unwrap_or((0.0, 0.0))
    }
    fn command(&self, linear: f64, angular: f64) -> Result<(), SkillError> {
        if linear != 0.0 || angular != 0.0 {
            // Never start moving on stale data.
            self.odom()?;
        }
        self.shared
            .command(linear, angular)
            .map_err(|()| self.e_stop_error())
    }
    fn advance(&self, dt: Duration, cancel: &CancelToken) -> Result<(), SkillError> {
        let end = Instant::now() + dt;
        loop {
            if cancel.is_cancelled() {
                self.stop();
                return Err(SkillError::new(
                    ErrorKind::Cancelled,
                    "stopped: the action is being stopped",
                ));
            }
            let (hold, e_stopped, moving) = {
                let core = lock(&self.shared.safety);
                (
                    core.hold.clone(),
                    core.governor.e_stopped(),
                    core.zeros_left > 0,
                )
            };
            if e_stopped {
                return Err(self.e_stop_error());
            }
            match hold {
                Some(Hold::Geofence) => {
                    self.stop();
                    return Err(SkillError::new(
                        ErrorKind::Blocked,
                        format!(
                            "the robot stopped at the edge of its geofence (the area the robot profile allows); {}",
                            self.pose().map(|p| p.whereabouts()).unwrap_or_default()
                        ),
                    ));
                }
                Some(Hold::StaleScan(age)) => {
                    return Err(stale_error(
                        "lidar scan",
                        self.profile
                            .topics
                            .scan
                            .as_deref()
                            .unwrap_or("the scan topic"),
                        age,
                        self.profile.safety.scan_stale,
                    ))
                }
                _ => {}
            }
            if moving {
                self.odom()?;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            cancel.sleep(left.min(Duration::from_millis(5)));
        }
    }
    fn stop(&self) {
        let mut core = lock(&self.shared.safety);
        core.governor.stop();
        core.send_zero();
    }
    fn safe_stop(&self) {
        self.cancel_goals("the action was stopped");
        self.stop();
    }
    fn take_bump(&self) -> bool {
        false
    }
    fn zones(&self) -> Vec<ZoneInfo> {
        self.profile
            .zones
            .iter()
            .map(|z| ZoneInfo {
                name: z.name.clone(),
                polygon: z.polygon.clone(),
                centre: polygon_centre(&z.polygon),
                charger: z.charger,
            })
            .collect()
    }
    fn map(&self) -> Option<GridMap> {
        let published = lock(&self.shared.latest).map.clone();
        published.or_else(|| self.profile.file_map.clone())
    }
    fn say(&self, text: &str) {
        tracing::info!("robot says: {text}");
        self.shared.event(format!("said: {text}"));
    }
    fn take_events(&self) -> Vec<String> {
        let mut events = std::mem::take(&mut *lock(&self.shared.events));
        events.extend(self.shared.goals.take_notes());
        events
    }
    fn state_line(&self) -> String {
        let l = lock(&self.shared.latest);
        let pose = match (&l.odom, l.located()) {
            (Some(o), Some(p)) => format!(
                "pose ({:.2}, {:.2}, {:.2} rad){}",
                p.x,
                p.y,
                p.theta,
                if o.age() > self.profile.safety.odom_stale {
                    format!(" [stale: {:.1} s old]", o.age())
                } else {
                    String::new()
                }
            ),
            (Some(_), None) => "pose unknown (no map → odom transform yet)".into(),
            (None, _) => "pose unknown (no odometry)".into(),
        };
        let battery = l
            .battery
            .as_ref()
            .map(|b| format!(", battery {:.1}%", b.value.percent))
            .unwrap_or_default();
        drop(l);
        let e_stop = if self.e_stopped() {
            ", E-STOP ENGAGED"
        } else {
            ""
        };
        let goals: Vec<String> = self
            .shared
            .goals
            .goals()
            .into_iter()
            .map(|g| format!("{} ({})", g.name, g.state))
            .collect();
        let goals = if goals.is_empty() {
            String::new()
        } else {
            format!(", goals: {}", goals.join(", "))
        };
        format!(
            "{pose}{battery}, holding {}{goals}{e_stop}",
            self.holding().unwrap_or_else(|| "nothing".into())
        )
    }

    fn clock_note(&self) -> String {
        robot_api::WALL_CLOCK_NOTE.into()
    }

    /// Furniture is not in a robot profile.
    fn surfaces(&self) -> Vec<SurfaceInfo> {
        Vec::new()
    }

    // Each capability exists where the profile names its topic or service.

    fn lidar(&self) -> Option<&dyn Lidar> {
        self.profile
            .topics
            .scan
            .is_some()
            .then_some(self as &dyn Lidar)
    }

    fn camera(&self) -> Option<&dyn Camera> {
        let t = &self.profile.topics;
        t.detections.is_some().then_some(self as &dyn Camera)
    }

    fn camera_pictures(&self) -> Option<&dyn CameraPictures> {
        let t = &self.profile.topics;
        (t.camera.is_some() || t.camera_compressed.is_some()).then_some(self as &dyn CameraPictures)
    }

    fn gripper(&self) -> Option<&dyn Gripper> {
        let gripper = &self.profile.services.gripper;
        gripper.is_some().then_some(self as &dyn Gripper)
    }

    fn battery(&self) -> Option<&dyn Battery> {
        self.profile
            .topics
            .battery
            .is_some()
            .then_some(self as &dyn Battery)
    }

    fn navigation(&self) -> Option<&dyn Navigation> {
        self.profile
            .nav2
            .is_some()
            .then_some(self as &dyn Navigation)
    }

    /// A ROS robot's map is drawn by RViz or Foxglove, not here.
    fn map_pictures(&self) -> Option<&dyn MapPictures> {
        None
    }
}

impl Navigation for RosRobot {
    fn navigate(
        &self,
        goal: P2,
        theta: Option<f64>,
        timeout: f64,
        ctx: &CallContext,
    ) -> Result<(), SkillError> {
        let Some(settings) = self.profile.nav2.as_ref() else {
            return Err(SkillError::new(
                ErrorKind::Robot,
                "this robot has no Nav2 in its profile",
            ));
        };
        self.navigate_with_nav2(settings, goal, theta, timeout, ctx)
    }
}

impl Lidar for RosRobot {
    fn scan(&self) -> Result<ScanData, SkillError> {
        let Some(topic) = &self.profile.topics.scan else {
            return Err(SkillError::new(
                ErrorKind::Robot,
                "this robot has no lidar in its profile",
            ));
        };
        let l = lock(&self.shared.latest);
        let limit = self.profile.safety.scan_stale;
        match &l.scan {
            Some(s) if s.age() <= limit => Ok(s.value.clone()),
            s => Err(stale_error(
                "lidar scan",
                topic,
                s.as_ref().map(Stamped::age),
                limit,
            )),
        }
    }
}

impl Camera for RosRobot {
    /// A ROS camera's field of view and range are not in the profile.
    fn view(&self) -> Option<CameraView> {
        None
    }

    fn detect(&self) -> Result<Vec<Detection>, SkillError> {
        let Some(topic) = &self.profile.topics.detections else {
            return Err(SkillError::new(
                ErrorKind::Robot,
                "this robot has no camera in its profile",
            ));
        };
        let pose = self.pose()?;
        let l = lock(&self.shared.latest);
        let limit = self.profile.safety.scan_stale.max(1.0);
        let objects = match &l.detections {
            Some(d) if d.age() <= limit => &d.value,
            d => {
                return Err(stale_error(
                    "camera detections",
                    topic,
                    d.as_ref().map(Stamped::age),
                    limit,
                ))
            }
        };
        Ok(objects
            .iter()
            .map(|o| {
                let bearing = (o.y - pose.y).atan2(o.x - pose.x) - pose.theta;
                Detection {
                    name: o.name.clone(),
                    kind: o.kind.clone(),
                    colour: o.colour.clone(),
                    x: o.x,
                    y: o.y,
                    size: o.size,
                    distance: pose.distance_to(P2::new(o.x, o.y)),
                    bearing: wrap_angle(bearing),
                }
            })
            .collect())
    }
}

impl Battery for RosRobot {
    fn state(&self) -> Result<BatteryState, SkillError> {
        let Some(topic) = &self.profile.topics.battery else {
            return Err(SkillError::new(
                ErrorKind::Robot,
                "this robot has no battery gauge in its profile",
            ));
        };
        let l = lock(&self.shared.latest);
        l.battery
            .as_ref()
            .map(|b| b.value)
            .ok_or_else(|| stale_error("battery state", topic, None, 0.0))
    }
}

impl Gripper for RosRobot {
    fn pick(&self, name: &str, seen_at: P2) -> Result<(), SkillError> {
        if let Some(held) = self.holding() {
            return Err(SkillError::new(
                ErrorKind::GripperError,
                format!("the gripper already holds {held}; place it first"),
            ));
        }
        if let Ok(pose) = self.pose() {
            let d = pose.distance_to(seen_at);
            if d > self.profile.limits.reach {
                return Err(SkillError::new(
                    ErrorKind::NotInReach,
                    format!("{name} is {d:.2} m away; the gripper reaches {:.2} m. Drive closer first (go_to('{name}'))", self.profile.limits.reach),
                ));
            }
        }
        let got = self.call_gripper(true)?;
        if !got.is_empty() && got != name {
            // The gripper closed on something else: put it back.
            let _ = self.call_gripper(false);
            return Err(SkillError::new(
                ErrorKind::GripperError,
                format!("the gripper closed on {got}, not {name}; it let go again"),
            ));
        }
        *lock(&self.shared.holding) = Some(name.to_owned());
        self.shared.event(format!("picked {name}"));
        Ok(())
    }
    fn place(&self, at: Option<P2>) -> Result<(String, P2), SkillError> {
        let Some(held) = self.holding() else {
            return Err(SkillError::new(
                ErrorKind::GripperError,
                "the gripper holds nothing",
            ));
        };
        if let (Some(spot), Ok(pose)) = (at, self.pose()) {
            let d = pose.distance_to(spot);
            let (x, y) = (spot.x, spot.y);
            if d > self.profile.limits.reach {
                return Err(SkillError::new(
                    ErrorKind::NotInReach,
                    format!(
                        "({x:.2}, {y:.2}) is {d:.2} m away; the gripper reaches {:.2} m",
                        self.profile.limits.reach
                    ),
                ));
            }
        }
        let pose = self.pose()?;
        let spot = at.unwrap_or_else(|| {
            let d = self.limits().place_distance();
            P2::new(pose.x + d * pose.theta.cos(), pose.y + d * pose.theta.sin())
        });
        self.call_gripper(false)?;
        *lock(&self.shared.holding) = None;
        self.shared.event(format!("placed {held}"));
        Ok((held, spot))
    }
    fn holding(&self) -> Option<String> {
        lock(&self.shared.holding).clone()
    }
}

impl CameraPictures for RosRobot {
    fn camera_image(&self, width: u32, height: u32) -> Result<Vec<u8>, SkillError> {
        let t = &self.profile.topics;
        let Some(topic) = t.camera.as_ref().or(t.camera_compressed.as_ref()) else {
            return Err(SkillError::new(
                ErrorKind::Robot,
                "this robot has no camera topic in its profile",
            ));
        };
        // Cameras run slower than lidars; a frame may be twice as old as a scan.
        let limit = (self.profile.safety.scan_stale * 2.0).max(1.0);
        let frame = match &lock(&self.shared.latest).camera {
            Some(f) if f.age() <= limit => f.value.clone(),
            f => {
                return Err(stale_error(
                    "camera image",
                    topic,
                    f.as_ref().map(Stamped::age),
                    limit,
                ))
            }
        };
        crate::camera::to_png(&frame, width, height)
            .map_err(|why| SkillError::new(ErrorKind::Robot, format!("{topic}: {why}")))
    }
}
