//! The safety governor: the one place velocity commands pass on their way to
//! a ROS robot. It sits below Python and below the skills, so whatever a code
//! action does (skills or generic ROS access) the robot only ever receives:
//! - speeds clamped to the profile's limits, changed no faster than its
//!   acceleration limits;
//! - zero while the e-stop is latched (until a person clears it), when
//!   commands stop coming (watchdog), when odometry or scans are stale;
//! - no linear motion that would carry the robot out of its geofence.
//!
//! It is plain logic over times in seconds, so it is tested without ROS; the
//! node calls [`Governor::tick`] at the profile's rate and publishes the result.

use robot_api::geometry::{point_in_polygon, polygon_edges, P2};
use robot_api::Pose2;

/// The limits and settings the governor enforces.
#[derive(Debug, Clone)]
pub struct SafetyConfig {
    /// Top linear speed, m/s.
    pub max_linear: f64,
    /// Top angular speed, rad/s.
    pub max_angular: f64,
    /// Linear acceleration limit, m/s².
    pub max_linear_accel: f64,
    /// Angular acceleration limit, rad/s².
    pub max_angular_accel: f64,
    /// Footprint radius, metres (the geofence keeps the whole footprint inside).
    pub radius: f64,
    /// Seconds a command stays valid.
    pub watchdog: f64,
    /// Oldest usable odometry, seconds.
    pub odom_stale: f64,
    /// Oldest usable scan, seconds; `None` when the robot has no lidar.
    pub scan_stale: Option<f64>,
    /// Polygon the robot must stay in (odometry frame).
    pub geofence: Option<Vec<P2>>,
}

/// Why the governor is holding the robot still (or part of its motion).
#[derive(Debug, Clone, PartialEq)]
pub enum Hold {
    /// The e-stop is latched.
    EStop,
    /// No command within the watchdog period.
    Watchdog,
    /// No odometry yet, or older than the limit (its age in seconds, if any).
    StaleOdom(Option<f64>),
    /// No scan yet, or older than the limit.
    StaleScan(Option<f64>),
    /// Linear motion would leave the geofence.
    Geofence,
}

impl Hold {
    /// What it means, for events and errors.
    pub fn describe(&self) -> String {
        match self {
            Hold::EStop => "the e-stop is engaged; a person must clear it".into(),
            Hold::Watchdog => "no motion command came within the watchdog period".into(),
            Hold::StaleOdom(None) => "no odometry has arrived".into(),
            Hold::StaleOdom(Some(age)) => format!("odometry is stale ({age:.2} s old)"),
            Hold::StaleScan(None) => "no lidar scan has arrived".into(),
            Hold::StaleScan(Some(age)) => format!("the lidar scan is stale ({age:.2} s old)"),
            Hold::Geofence => "the motion would leave the geofence".into(),
        }
    }
}

/// How old the latest sensor data is, seconds (`None`: none received yet).
#[derive(Debug, Clone, Copy, Default)]
pub struct SensorAges {
    /// Odometry age.
    pub odom: Option<f64>,
    /// Scan age.
    pub scan: Option<f64>,
}

/// The governor's state: the requested command and what was last sent.
#[derive(Debug)]
pub struct Governor {
    config: SafetyConfig,
    target: (f64, f64),
    target_at: Option<f64>,
    output: (f64, f64),
    last_tick: Option<f64>,
    e_stop: bool,
}

impl Governor {
    /// A governor holding the robot still.
    pub fn new(config: SafetyConfig) -> Self {
        Governor {
            config,
            target: (0.0, 0.0),
            target_at: None,
            output: (0.0, 0.0),
            last_tick: None,
            e_stop: false,
        }
    }

    /// Its settings.
    pub fn config(&self) -> &SafetyConfig {
        &self.config
    }

    /// Requests body velocities at time `now`; they are clamped to the
    /// limits (NaN counts as 0). Refused while the e-stop is latched.
    pub fn command(&mut self, linear: f64, angular: f64, now: f64) -> Result<(), Hold> {
        if self.e_stop {
            return Err(Hold::EStop);
        }
        let clamp = |v: f64, max: f64| if v.is_nan() { 0.0 } else { v.clamp(-max, max) };
        self.target = (
            clamp(linear, self.config.max_linear),
            clamp(angular, self.config.max_angular),
        );
        self.target_at = Some(now);
        Ok(())
    }

    /// Stops now: target and output zero (not ramped: stopping is always allowed).
    pub fn stop(&mut self) {
        self.target = (0.0, 0.0);
        self.output = (0.0, 0.0);
        self.target_at = None;
    }

    /// Latches the e-stop and stops.
    pub fn engage_e_stop(&mut self) {
        self.e_stop = true;
        self.stop();
    }

    /// Clears the e-stop (a person's decision, never a code action's).
    pub fn clear_e_stop(&mut self) {
        self.e_stop = false;
    }

    /// Whether the e-stop is latched.
    pub fn e_stopped(&self) -> bool {
        self.e_stop
    }

    /// The velocities to send at time `now`, given the sensors' ages and the
    /// robot's pose, and why motion is held, if it is.
    pub fn tick(
        &mut self,
        now: f64,
        ages: SensorAges,
        pose: Option<Pose2>,
    ) -> ((f64, f64), Option<Hold>) {
        let dt = self.last_tick.map_or(0.0, |t| (now - t).clamp(0.0, 0.5));
        self.last_tick = Some(now);
        let hold = self.hold(now, ages);
        if let Some(hold) = hold {
            self.stop();
            return ((0.0, 0.0), Some(hold));
        }
        let ramp = |from: f64, to: f64, rate: f64| from + (to - from).clamp(-rate * dt, rate * dt);
        let mut linear = ramp(self.output.0, self.target.0, self.config.max_linear_accel);
        let angular = ramp(self.output.1, self.target.1, self.config.max_angular_accel);
        let mut fenced = None;
        if let (Some(fence), Some(pose)) = (&self.config.geofence, pose) {
            if linear != 0.0 && !self.fence_allows(fence, pose, linear) {
                linear = 0.0;
                fenced = Some(Hold::Geofence);
            }
        }
        self.output = (linear, angular);
        (self.output, fenced)
    }

    fn hold(&self, now: f64, ages: SensorAges) -> Option<Hold> {
        if self.e_stop {
            return Some(Hold::EStop);
        }
        let moving = self.target != (0.0, 0.0) || self.output != (0.0, 0.0);
        if !moving {
            return None;
        }
        if self
            .target_at
            .is_none_or(|t| now - t > self.config.watchdog)
        {
            return Some(Hold::Watchdog);
        }
        match ages.odom {
            Some(age) if age <= self.config.odom_stale => {}
            age => return Some(Hold::StaleOdom(age)),
        }
        if let Some(limit) = self.config.scan_stale {
            match ages.scan {
                Some(age) if age <= limit => {}
                age => return Some(Hold::StaleScan(age)),
            }
        }
        None
    }

    /// Whether driving at `linear` keeps the footprint inside the fence: the
    /// point the robot would reach after braking (plus its radius) must be
    /// inside, or at least deeper inside than where it is now.
    fn fence_allows(&self, fence: &[P2], pose: Pose2, linear: f64) -> bool {
        let braking = linear * linear / (2.0 * self.config.max_linear_accel);
        let reach = (braking + self.config.radius + 0.05) * linear.signum();
        let ahead = P2::new(
            pose.x + reach * pose.theta.cos(),
            pose.y + reach * pose.theta.sin(),
        );
        let depth_ahead = outside_depth(fence, ahead);
        depth_ahead == 0.0 || depth_ahead < outside_depth(fence, P2::new(pose.x, pose.y))
    }
}

/// How far `p` lies outside the polygon, metres (0 when inside).
pub fn outside_depth(polygon: &[P2], p: P2) -> f64 {
    if point_in_polygon(p, polygon) {
        return 0.0;
    }
    polygon_edges(polygon)
        .map(|edge| edge.distance_to(p))
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SafetyConfig {
        SafetyConfig {
            max_linear: 0.5,
            max_angular: 1.0,
            max_linear_accel: 1.0,
            max_angular_accel: 2.0,
            radius: 0.2,
            watchdog: 0.5,
            odom_stale: 0.3,
            scan_stale: Some(0.5),
            geofence: None,
        }
    }

    /// The square from (0, 0) to (side, side).
    fn square(side: f64) -> Vec<P2> {
        [(0.0, 0.0), (side, 0.0), (side, side), (0.0, side)]
            .map(|(x, y)| P2::new(x, y))
            .to_vec()
    }

    const FRESH: SensorAges = SensorAges {
        odom: Some(0.01),
        scan: Some(0.01),
    };

    /// Ticks at 50 Hz from `t0` for `seconds`, re-commanding each tick.
    fn run(g: &mut Governor, t0: f64, seconds: f64, cmd: (f64, f64)) -> Vec<(f64, f64)> {
        (0..(seconds * 50.0) as usize)
            .map(|i| {
                let now = t0 + i as f64 * 0.02;
                g.command(cmd.0, cmd.1, now).unwrap();
                g.tick(now, FRESH, None).0
            })
            .collect()
    }

    #[test]
    fn speeds_are_clamped_and_ramped() {
        let mut g = Governor::new(config());
        let out = run(&mut g, 0.0, 2.0, (5.0, -9.0));
        for pair in out.windows(2) {
            assert!((pair[1].0 - pair[0].0).abs() <= 1.0 * 0.02 + 1e-12);
            assert!((pair[1].1 - pair[0].1).abs() <= 2.0 * 0.02 + 1e-12);
        }
        let last = *out.last().unwrap();
        assert_eq!(last, (0.5, -1.0));
        assert!(out.iter().all(|&(v, w)| v <= 0.5 && w >= -1.0));
        // NaN is no command at all.
        g.command(f64::NAN, f64::NAN, 2.0).unwrap();
        let (out, _) = g.tick(2.02, FRESH, None);
        assert!(out.0 < 0.5 && out.0 > 0.4, "{out:?}");
    }

    #[test]
    fn the_watchdog_and_stale_sensors_stop_the_robot() {
        let mut g = Governor::new(config());
        run(&mut g, 0.0, 1.0, (0.3, 0.0));
        // No new command for longer than the watchdog.
        let (out, hold) = g.tick(1.6, FRESH, None);
        assert_eq!((out, hold), ((0.0, 0.0), Some(Hold::Watchdog)));

        g.command(0.3, 0.0, 2.0).unwrap();
        let stale = SensorAges {
            odom: Some(0.4),
            scan: Some(0.01),
        };
        assert_eq!(
            g.tick(2.02, stale, None),
            ((0.0, 0.0), Some(Hold::StaleOdom(Some(0.4))))
        );
        g.command(0.3, 0.0, 2.1).unwrap();
        let no_scan = SensorAges {
            odom: Some(0.01),
            scan: None,
        };
        assert_eq!(
            g.tick(2.12, no_scan, None),
            ((0.0, 0.0), Some(Hold::StaleScan(None)))
        );
        // Standing still needs no fresh data.
        assert_eq!(g.tick(2.2, SensorAges::default(), None), ((0.0, 0.0), None));
    }

    #[test]
    fn the_e_stop_latches_until_cleared() {
        let mut g = Governor::new(config());
        run(&mut g, 0.0, 1.0, (0.3, 0.5));
        g.engage_e_stop();
        assert_eq!(g.tick(1.01, FRESH, None), ((0.0, 0.0), Some(Hold::EStop)));
        assert_eq!(g.command(0.3, 0.0, 1.02), Err(Hold::EStop));
        assert_eq!(g.tick(1.03, FRESH, None).0, (0.0, 0.0));
        g.clear_e_stop();
        g.command(0.3, 0.0, 1.04).unwrap();
        assert!(g.tick(1.06, FRESH, None).0 .0 > 0.0);
    }

    #[test]
    fn the_geofence_stops_outward_motion_only() {
        let mut c = config();
        c.geofence = Some(square(4.0));
        let mut g = Governor::new(c);
        // Near the east edge, facing it: forward is refused, reverse and turning are not.
        let pose = Some(Pose2::new(3.8, 2.0, 0.0));
        g.command(0.3, 0.4, 0.0).unwrap();
        g.tick(0.0, FRESH, pose);
        g.command(0.3, 0.4, 0.5).unwrap();
        let (out, hold) = g.tick(0.5, FRESH, pose);
        assert_eq!(out.0, 0.0);
        assert!(out.1 > 0.0);
        assert_eq!(hold, Some(Hold::Geofence));
        g.command(-0.3, 0.0, 0.6).unwrap();
        let (out, hold) = g.tick(0.7, FRESH, pose);
        assert!(out.0 < 0.0 && hold.is_none(), "{out:?} {hold:?}");
        // Facing inward from the middle: free.
        let mut g = Governor::new(config());
        g.config.geofence = Some(square(4.0));
        g.command(0.3, 0.0, 0.0).unwrap();
        g.tick(0.0, FRESH, Some(Pose2::new(2.0, 2.0, 0.0)));
        g.command(0.3, 0.0, 0.1).unwrap();
        assert!(g
            .tick(0.1, FRESH, Some(Pose2::new(2.0, 2.0, 0.0)))
            .1
            .is_none());
    }

    #[test]
    fn outside_depth_measures_distance_to_the_polygon() {
        let square = square(2.0);
        assert_eq!(outside_depth(&square, P2::new(1.0, 1.0)), 0.0);
        assert!((outside_depth(&square, P2::new(3.0, 1.0)) - 1.0).abs() < 1e-12);
        assert!((outside_depth(&square, P2::new(3.0, 3.0)) - 2f64.sqrt()).abs() < 1e-12);
    }
}
