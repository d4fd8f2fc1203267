//! `codeact sim --ros --world ...`: the simulator as a ROS 2 robot in real time.

use std::process::ExitCode;
use std::sync::Arc;
#[cfg(feature = "ros")]
use std::time::Duration;

use anyhow::{bail, Result};

/// Options of `codeact sim`.
#[derive(clap::Args, Debug)]
pub struct SimOpts {
    /// Serve the simulated robot over ROS 2 (the only interface for now).
    #[arg(long)]
    ros: bool,
    /// A built-in world (small_room, warehouse, apartment, lab, warehouse_duo) or a world
    /// file; each robot of a fleet is served under its name (/beta/odom).
    #[arg(long, default_value = "small_room")]
    world: String,
    /// Seconds without a /cmd_vel message after which the robot stops.
    #[arg(long, default_value_t = 0.5)]
    watchdog: f64,
    /// Stop after this many seconds (default: run until killed).
    #[arg(long)]
    seconds: Option<f64>,
    /// Topic for odometry.
    #[arg(long, default_value = "/odom")]
    odom_topic: String,
    /// Topic for laser scans.
    #[arg(long, default_value = "/scan")]
    scan_topic: String,
    /// Topic for the battery.
    #[arg(long, default_value = "/battery_state")]
    battery_topic: String,
    /// Topic for velocity commands.
    #[arg(long, default_value = "/cmd_vel")]
    cmd_vel_topic: String,
    /// Topic for the static map (latched).
    #[arg(long, default_value = "/map")]
    map_topic: String,
    /// Topic for camera detections.
    #[arg(long, default_value = "/detections")]
    detections_topic: String,
    /// Topic for camera pictures (sensor_msgs/Image, rgb8, 320 x 240, 5 Hz).
    #[arg(long, default_value = "/camera/image_raw")]
    camera_topic: String,
    /// Service that closes and opens the gripper.
    #[arg(long, default_value = "/gripper")]
    gripper_service: String,
    /// Topic for the e-stop.
    #[arg(long, default_value = "/e_stop")]
    e_stop_topic: String,
}

/// Runs `codeact sim`.
pub fn run(opts: &SimOpts) -> Result<ExitCode> {
    if !opts.ros {
        bail!("codeact sim needs --ros (the simulator served as a ROS 2 robot); to drive the simulator from Python, use codeact repl --world {}", opts.world);
    }
    if !(opts.watchdog > 0.0 && opts.watchdog.is_finite()) {
        bail!(
            "--watchdog must be a positive number of seconds, got {}",
            opts.watchdog
        );
    }
    let world = sim::load(&opts.world)?;
    serve(sim::SimRobot::fleet(Arc::new(world)), opts)
}

#[cfg(feature = "ros")]
fn serve(robots: Vec<Arc<sim::SimRobot>>, opts: &SimOpts) -> Result<ExitCode> {
    use crate::ros::sim_node::{SimNodeOptions, Topics};
    let options = SimNodeOptions {
        topics: Topics {
            odom: opts.odom_topic.clone(),
            scan: opts.scan_topic.clone(),
            battery: opts.battery_topic.clone(),
            cmd_vel: opts.cmd_vel_topic.clone(),
            map: opts.map_topic.clone(),
            detections: opts.detections_topic.clone(),
            camera: opts.camera_topic.clone(),
            gripper: opts.gripper_service.clone(),
            e_stop: opts.e_stop_topic.clone(),
        },
        watchdog: Duration::from_secs_f64(opts.watchdog),
        odom_rate: 50.0,
        run_for: opts.seconds.map(Duration::from_secs_f64),
    };
    let world = robots[0].sim().world().name.clone();
    let t = &options.topics;
    let served: Vec<String> = match &robots[..] {
        [_] => vec![format!(
            "{} in, {} {} {} out",
            t.cmd_vel, t.odom, t.scan, t.battery
        )],
        fleet => fleet
            .iter()
            .map(|r| {
                let t = t.under(&r.name());
                format!("{}: {} in, {} {} out", r.name(), t.cmd_vel, t.odom, t.scan)
            })
            .collect(),
    };
    eprintln!(
        "codeact sim: world '{world}' on ROS 2 ({})",
        served.join("; ")
    );
    crate::ros::sim_node::run(robots, &options)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "ros"))]
fn serve(_robots: Vec<Arc<sim::SimRobot>>, _opts: &SimOpts) -> Result<ExitCode> {
    bail!("{}", super::NO_ROS)
}
