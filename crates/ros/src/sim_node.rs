//! `codeact sim --ros`: the simulator as a ROS 2 robot, in real time.
//! Publishes `/odom` (nav_msgs/Odometry), `/scan` (sensor_msgs/LaserScan,
//! best effort), `/battery_state` (sensor_msgs/BatteryState) and `/clock`
//! (the simulated time), `/map` (nav_msgs/OccupancyGrid, latched) and
//! `/detections` (std_msgs/String: a JSON list of the objects the camera
//! sees, world frame); follows `/cmd_vel` (geometry_msgs/Twist) and stops the
//! robot when commands stop coming (the watchdog). `/gripper`
//! (std_srvs/SetBool) closes the gripper on the nearest object within reach
//! (true) or opens it (false); `/e_stop` (std_msgs/Bool) true stops the robot
//! and ignores `/cmd_vel` until a false arrives. A world of several robots
//! is served with each robot's topics under its name (`/beta/cmd_vel`),
//! `/clock` shared.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{FutureExt, StreamExt};
use r2r::QosProfile;
use robot_api::geometry::P2;
use robot_api::{Camera, Gripper, RobotBackend};

/// Topic names (remappable with flags).
#[derive(Debug, Clone)]
pub struct Topics {
    /// Odometry out.
    pub odom: String,
    /// Laser scans out.
    pub scan: String,
    /// Battery out.
    pub battery: String,
    /// Velocity commands in.
    pub cmd_vel: String,
    /// The static map out.
    pub map: String,
    /// Camera detections out.
    pub detections: String,
    /// Camera pictures out (sensor_msgs/Image, rgb8, 320 x 240, 5 Hz).
    pub camera: String,
    /// Gripper service.
    pub gripper: String,
    /// E-stop in.
    pub e_stop: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            odom: "/odom".into(),
            scan: "/scan".into(),
            battery: "/battery_state".into(),
            cmd_vel: "/cmd_vel".into(),
            map: "/map".into(),
            detections: "/detections".into(),
            camera: "/camera/image_raw".into(),
            gripper: "/gripper".into(),
            e_stop: "/e_stop".into(),
        }
    }
}

/// Settings of the simulator node.
#[derive(Debug, Clone)]
pub struct SimNodeOptions {
    /// Topic names.
    pub topics: Topics,
    /// Stop the robot when no command came for this long.
    pub watchdog: Duration,
    /// Odometry messages per second.
    pub odom_rate: f64,
    /// Stop after this long (tests); `None` runs until killed.
    pub run_for: Option<Duration>,
}

fn yaw_quaternion(theta: f64) -> r2r::geometry_msgs::msg::Quaternion {
    r2r::geometry_msgs::msg::Quaternion {
        x: 0.0,
        y: 0.0,
        z: (theta / 2.0).sin(),
        w: (theta / 2.0).cos(),
    }
}

fn stamp(seconds: f64) -> r2r::builtin_interfaces::msg::Time {
    r2r::builtin_interfaces::msg::Time {
        sec: seconds.floor() as i32,
        nanosec: ((seconds - seconds.floor()) * 1e9) as u32,
    }
}

impl Topics {
    /// These names under `/name` (a robot of a fleet: `/beta/odom`).
    pub fn under(&self, name: &str) -> Topics {
        let ns = |t: &String| format!("/{name}/{}", t.trim_start_matches('/'));
        Topics {
            odom: ns(&self.odom),
            scan: ns(&self.scan),
            battery: ns(&self.battery),
            cmd_vel: ns(&self.cmd_vel),
            map: ns(&self.map),
            detections: ns(&self.detections),
            camera: ns(&self.camera),
            gripper: ns(&self.gripper),
            e_stop: ns(&self.e_stop),
        }
    }
}

/// One robot as the node serves it: its topics and what it last did.
struct Served {
    robot: Arc<sim::SimRobot>,
    /// Latched: kept so late subscribers still get the map.
    _map: r2r::Publisher<r2r::nav_msgs::msg::OccupancyGrid>,
    odom: r2r::Publisher<r2r::nav_msgs::msg::Odometry>,
    scan: r2r::Publisher<r2r::sensor_msgs::msg::LaserScan>,
    battery: r2r::Publisher<r2r::sensor_msgs::msg::BatteryState>,
    detections: r2r::Publisher<r2r::std_msgs::msg::String>,
    camera: r2r::Publisher<r2r::sensor_msgs::msg::Image>,
    cmd_vel: futures::stream::BoxStream<'static, r2r::geometry_msgs::msg::Twist>,
    e_stop: futures::stream::BoxStream<'static, r2r::std_msgs::msg::Bool>,
    gripper: futures::stream::BoxStream<
        'static,
        r2r::ServiceRequest<r2r::std_srvs::srv::SetBool::Service>,
    >,
    e_stopped: bool,
    last_cmd: Option<Instant>,
    last_odom: Instant,
    last_battery: Instant,
    last_detections: Instant,
    last_scan_stamp: f64,
}

impl Served {
    /// Creates `robot`'s publishers, subscriptions and gripper service on `node`.
    fn new(node: &mut r2r::Node, robot: Arc<sim::SimRobot>, t: &Topics) -> Result<Self> {
        let latched = QosProfile::default().reliable().transient_local();
        let map = node.create_publisher::<r2r::nav_msgs::msg::OccupancyGrid>(&t.map, latched)?;
        if let Some(grid) = robot.map() {
            map.publish(&occupancy_grid(&grid))?;
        }
        let long_ago = Instant::now() - Duration::from_secs(1);
        Ok(Served {
            _map: map,
            odom: node.create_publisher(&t.odom, QosProfile::default())?,
            scan: node.create_publisher(&t.scan, QosProfile::sensor_data())?,
            battery: node.create_publisher(&t.battery, QosProfile::default())?,
            detections: node.create_publisher(&t.detections, QosProfile::default())?,
            camera: node.create_publisher(&t.camera, QosProfile::sensor_data())?,
            cmd_vel: node.subscribe(&t.cmd_vel, QosProfile::default())?.boxed(),
            e_stop: node.subscribe(&t.e_stop, QosProfile::default())?.boxed(),
            gripper: node
                .create_service::<r2r::std_srvs::srv::SetBool::Service>(
                    &t.gripper,
                    QosProfile::default(),
                )?
                .boxed(),
            robot,
            e_stopped: false,
            last_cmd: None,
            last_odom: long_ago,
            last_battery: long_ago,
            last_detections: long_ago,
            last_scan_stamp: -1.0,
        })
    }

    /// Takes what arrived: the e-stop, commands (ignored while it is
    /// pressed), gripper requests; the watchdog stops a robot whose
    /// commands stopped coming.
    fn take_input(&mut self, watchdog: Duration) {
        let robot = &self.robot;
        while let Some(Some(m)) = self.e_stop.next().now_or_never() {
            self.e_stopped = m.data;
            if self.e_stopped {
                robot.stop();
                self.last_cmd = None;
            }
        }
        while let Some(Some(twist)) = self.cmd_vel.next().now_or_never() {
            if self.e_stopped {
                continue;
            }
            self.last_cmd = Some(Instant::now());
            // An empty battery refuses motion; the robot then just stays put.
            let _ = robot.command(twist.linear.x, twist.angular.z);
        }
        while let Some(Some(request)) = self.gripper.next().now_or_never() {
            let response = gripper(robot, request.message.data);
            let _ = request.respond(response);
        }
        if self.last_cmd.is_some_and(|t| t.elapsed() > watchdog) {
            robot.stop();
            self.last_cmd = None;
        }
    }

    /// Publishes what is due: detections and a camera frame (5 Hz),
    /// odometry (`odom_every`), each new scan, the battery (1 Hz).
    fn publish(&mut self, odom_every: Duration) {
        let robot = self.robot.clone();
        if self.last_detections.elapsed() >= Duration::from_millis(200) {
            self.last_detections = Instant::now();
            if let Ok(seen) = robot.detect() {
                let list: Vec<serde_json::Value> = seen
                    .iter()
                    .map(|d| serde_json::json!({"name": d.name, "kind": d.kind, "colour": d.colour, "x": d.x, "y": d.y, "size": d.size}))
                    .collect();
                let _ = self.detections.publish(&r2r::std_msgs::msg::String {
                    data: serde_json::Value::Array(list).to_string(),
                });
            }
            let _ = self.camera.publish(&camera_frame(&robot));
        }
        let sim = robot.sim();
        let (now, body) = (sim.time(), sim.robot(robot.index()));
        if self.last_odom.elapsed() >= odom_every {
            self.last_odom = Instant::now();
            let _ = self.odom.publish(&odometry(body, now));
        }
        let scan = body.scan();
        if scan.stamp != self.last_scan_stamp {
            self.last_scan_stamp = scan.stamp;
            let _ = self.scan.publish(&laser_scan(scan, sim.world().lidar.rate));
        }
        if self.last_battery.elapsed() >= Duration::from_secs(1) {
            self.last_battery = Instant::now();
            let b = body.battery();
            let mut msg = r2r::sensor_msgs::msg::BatteryState::default();
            msg.header.stamp = stamp(now);
            msg.percentage = (b.percent / 100.0) as f32;
            msg.present = true;
            // sensor_msgs/BatteryState: 1 charging, 2 discharging.
            msg.power_supply_status = if b.charging { 1 } else { 2 };
            msg.voltage = f32::NAN;
            let _ = self.battery.publish(&msg);
        }
    }
}

fn odometry(body: &sim::simulator::Body, now: f64) -> r2r::nav_msgs::msg::Odometry {
    let p = body.odom_pose();
    let (v, w) = body.velocity();
    let mut msg = r2r::nav_msgs::msg::Odometry::default();
    msg.header.stamp = stamp(now);
    msg.header.frame_id = "odom".into();
    msg.child_frame_id = "base_link".into();
    msg.pose.pose.position.x = p.x;
    msg.pose.pose.position.y = p.y;
    msg.pose.pose.orientation = yaw_quaternion(p.theta);
    msg.twist.twist.linear.x = v;
    msg.twist.twist.angular.z = w;
    msg
}

fn laser_scan(scan: &robot_api::ScanData, rate: f64) -> r2r::sensor_msgs::msg::LaserScan {
    let mut msg = r2r::sensor_msgs::msg::LaserScan::default();
    msg.header.stamp = stamp(scan.stamp);
    msg.header.frame_id = "base_scan".into();
    msg.angle_min = scan.angle_min as f32;
    msg.angle_increment = scan.angle_increment as f32;
    msg.angle_max =
        (scan.angle_min + scan.angle_increment * (scan.ranges.len().max(1) - 1) as f64) as f32;
    msg.scan_time = (1.0 / rate) as f32;
    msg.range_min = scan.range_min as f32;
    msg.range_max = scan.range_max as f32;
    msg.ranges = scan.ranges.iter().map(|&r| r as f32).collect();
    msg
}

/// Runs the node until `run_for` has passed (or forever): one robot under
/// the topics given, the robots of a fleet each under its name (`/beta/odom`).
pub fn run(robots: Vec<Arc<sim::SimRobot>>, options: &SimNodeOptions) -> Result<()> {
    super::spin::keep_dds_local_by_default();
    let ctx = r2r::Context::create()
        .context("creating the ROS context (is the ROS environment set? see docs/ros.md)")?;
    let mut node =
        r2r::Node::create(ctx, "codeact_sim", "").context("creating the node codeact_sim")?;
    let clock_pub =
        node.create_publisher::<r2r::rosgraph_msgs::msg::Clock>("/clock", QosProfile::default())?;
    let fleet = robots.len() > 1;
    let mut served = Vec::new();
    for robot in &robots {
        let topics = if fleet {
            options.topics.under(&robot.name())
        } else {
            options.topics.clone()
        };
        served.push(Served::new(&mut node, robot.clone(), &topics)?);
    }
    let started = Instant::now();
    let dt = robots[0].sim().dt();
    let odom_every = Duration::from_secs_f64(1.0 / options.odom_rate.max(1.0));
    let mut steps_done: u64 = 0;
    loop {
        if options.run_for.is_some_and(|d| started.elapsed() >= d) {
            return Ok(());
        }
        node.spin_once(Duration::from_millis(1));
        crate::spin::clear_rcl_error();
        served
            .iter_mut()
            .for_each(|s| s.take_input(options.watchdog));
        // Real time: run the physics steps the clock says are due.
        let due = (started.elapsed().as_secs_f64() / dt) as u64;
        if due > steps_done {
            robots[0].sim().run_steps(due - steps_done);
            steps_done = due;
        }
        let now = robots[0].sim().time();
        let _ = clock_pub.publish(&r2r::rosgraph_msgs::msg::Clock { clock: stamp(now) });
        served.iter_mut().for_each(|s| s.publish(odom_every));
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The gripper service: close on the nearest object within reach, or open.
fn gripper(robot: &sim::SimRobot, close: bool) -> r2r::std_srvs::srv::SetBool::Response {
    let result = if close {
        let reach = robot.limits().reach;
        let nearest = robot.detect().ok().and_then(|seen| {
            seen.into_iter()
                .filter(|d| d.distance <= reach)
                .min_by(|a, b| a.distance.total_cmp(&b.distance))
        });
        match nearest {
            Some(d) => robot.pick(&d.name, P2::new(d.x, d.y)).map(|()| d.name),
            None => Err(robot_api::SkillError::new(
                robot_api::ErrorKind::NotInReach,
                format!("no object within the gripper's reach ({reach:.2} m)"),
            )),
        }
    } else {
        robot.place(None).map(|(name, _)| name)
    };
    match result {
        Ok(name) => r2r::std_srvs::srv::SetBool::Response {
            success: true,
            message: name,
        },
        Err(e) => r2r::std_srvs::srv::SetBool::Response {
            success: false,
            message: e.message,
        },
    }
}

/// The planning map as a nav_msgs/OccupancyGrid (100 occupied, 0 free).
fn occupancy_grid(map: &robot_api::nav::GridMap) -> r2r::nav_msgs::msg::OccupancyGrid {
    let mut msg = r2r::nav_msgs::msg::OccupancyGrid::default();
    msg.header.frame_id = "odom".into();
    msg.info.resolution = map.resolution as f32;
    msg.info.width = map.width as u32;
    msg.info.height = map.height as u32;
    msg.info.origin.position.x = map.origin.x;
    msg.info.origin.position.y = map.origin.y;
    msg.info.origin.orientation.w = 1.0;
    msg.data = map
        .occupied
        .iter()
        .map(|&o| if o { 100 } else { 0 })
        .collect();
    msg
}

/// What the robot's camera sees now, as a 320 x 240 rgb8 image in the camera's frame.
fn camera_frame(robot: &sim::SimRobot) -> r2r::sensor_msgs::msg::Image {
    let sim = robot.sim();
    let view = sim::camera::view_of(&sim, robot.index(), 320, 240);
    let mut image = r2r::sensor_msgs::msg::Image {
        width: view.width as u32,
        height: view.height as u32,
        encoding: "rgb8".into(),
        step: view.width as u32 * 3,
        data: view.rgb,
        ..Default::default()
    };
    image.header.stamp = stamp(sim.time());
    image.header.frame_id = "camera".into();
    image
}
