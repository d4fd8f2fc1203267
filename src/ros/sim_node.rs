//! `codeact sim --ros`: the simulator as a ROS 2 robot, in real time.
//! Publishes `/odom` (nav_msgs/Odometry), `/scan` (sensor_msgs/LaserScan,
//! best effort), `/battery_state` (sensor_msgs/BatteryState) and `/clock`
//! (the simulated time); follows `/cmd_vel` (geometry_msgs/Twist), and stops
//! the robot when commands stop coming (the watchdog).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::{FutureExt, StreamExt};
use r2r::QosProfile;
use robot_api::RobotBackend;

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
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            odom: "/odom".into(),
            scan: "/scan".into(),
            battery: "/battery_state".into(),
            cmd_vel: "/cmd_vel".into(),
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

/// Runs the node until `run_for` has passed (or forever).
pub fn run(robot: Arc<sim::SimRobot>, options: &SimNodeOptions) -> Result<()> {
    let ctx = r2r::Context::create()
        .context("creating the ROS context (is the ROS environment set? see docs/ros.md)")?;
    let mut node =
        r2r::Node::create(ctx, "codeact_sim", "").context("creating the node codeact_sim")?;
    let t = &options.topics;
    let odom_pub =
        node.create_publisher::<r2r::nav_msgs::msg::Odometry>(&t.odom, QosProfile::default())?;
    let scan_pub = node
        .create_publisher::<r2r::sensor_msgs::msg::LaserScan>(&t.scan, QosProfile::sensor_data())?;
    let battery_pub = node.create_publisher::<r2r::sensor_msgs::msg::BatteryState>(
        &t.battery,
        QosProfile::default(),
    )?;
    let clock_pub =
        node.create_publisher::<r2r::rosgraph_msgs::msg::Clock>("/clock", QosProfile::default())?;
    let mut cmd_sub =
        node.subscribe::<r2r::geometry_msgs::msg::Twist>(&t.cmd_vel, QosProfile::default())?;

    let started = Instant::now();
    let dt = robot.sim().dt();
    let odom_every = Duration::from_secs_f64(1.0 / options.odom_rate.max(1.0));
    let mut last_cmd: Option<Instant> = None;
    let mut last_odom = Instant::now() - odom_every;
    let mut last_battery = Instant::now() - Duration::from_secs(1);
    let mut last_scan_stamp = -1.0;
    let mut steps_done: u64 = 0;
    loop {
        if options.run_for.is_some_and(|d| started.elapsed() >= d) {
            return Ok(());
        }
        node.spin_once(Duration::from_millis(1));
        while let Some(Some(twist)) = cmd_sub.next().now_or_never() {
            last_cmd = Some(Instant::now());
            // An empty battery refuses motion; the robot then just stays put.
            let _ = robot.command(twist.linear.x, twist.angular.z);
        }
        if last_cmd.is_some_and(|t| t.elapsed() > options.watchdog) {
            robot.stop();
            last_cmd = None;
        }
        // Real time: run the physics steps the clock says are due.
        let due = (started.elapsed().as_secs_f64() / dt) as u64;
        if due > steps_done {
            robot.sim().run_steps(due - steps_done);
            steps_done = due;
        }
        let sim = robot.sim();
        let now = sim.time();
        let _ = clock_pub.publish(&r2r::rosgraph_msgs::msg::Clock { clock: stamp(now) });
        if last_odom.elapsed() >= odom_every {
            last_odom = Instant::now();
            let p = sim.odom_pose();
            let (v, w) = sim.velocity();
            let mut msg = r2r::nav_msgs::msg::Odometry::default();
            msg.header.stamp = stamp(now);
            msg.header.frame_id = "odom".into();
            msg.child_frame_id = "base_link".into();
            msg.pose.pose.position.x = p.x;
            msg.pose.pose.position.y = p.y;
            msg.pose.pose.orientation = yaw_quaternion(p.theta);
            msg.twist.twist.linear.x = v;
            msg.twist.twist.angular.z = w;
            let _ = odom_pub.publish(&msg);
        }
        let scan = sim.scan();
        if scan.stamp != last_scan_stamp {
            last_scan_stamp = scan.stamp;
            let lidar = &sim.world().lidar;
            let mut msg = r2r::sensor_msgs::msg::LaserScan::default();
            msg.header.stamp = stamp(scan.stamp);
            msg.header.frame_id = "base_scan".into();
            msg.angle_min = scan.angle_min as f32;
            msg.angle_increment = scan.angle_increment as f32;
            msg.angle_max = (scan.angle_min
                + scan.angle_increment * (scan.ranges.len().max(1) - 1) as f64)
                as f32;
            msg.scan_time = (1.0 / lidar.rate) as f32;
            msg.range_min = scan.range_min as f32;
            msg.range_max = scan.range_max as f32;
            msg.ranges = scan.ranges.iter().map(|&r| r as f32).collect();
            let _ = scan_pub.publish(&msg);
        }
        if last_battery.elapsed() >= Duration::from_secs(1) {
            last_battery = Instant::now();
            let b = sim.battery();
            let mut msg = r2r::sensor_msgs::msg::BatteryState::default();
            msg.header.stamp = stamp(now);
            msg.percentage = (b.percent / 100.0) as f32;
            msg.present = true;
            // sensor_msgs/BatteryState: 1 charging, 2 discharging.
            msg.power_supply_status = if b.charging { 1 } else { 2 };
            msg.voltage = f32::NAN;
            let _ = battery_pub.publish(&msg);
        }
        drop(sim);
        std::thread::sleep(Duration::from_millis(2));
    }
}
