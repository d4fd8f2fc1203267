//! Poses in the map frame: a localizing robot (AMCL, SLAM) publishes where
//! its odometry frame sits in the map (`map → odom` on /tf, or /tf_static
//! for a fixed one), and a pose in the map is that transform applied to the
//! odometry pose. Plain logic; the ROS side keeps the latest transform.

use nalgebra::{Isometry2, Vector2};
use robot_api::backend::Pose2;
use robot_api::geometry::wrap_angle;

/// Where one frame sits in another, in the plane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform2(Isometry2<f64>);

impl Transform2 {
    /// From a ROS transform's translation and rotation quaternion (x, y, z, w);
    /// only the yaw counts on a plane.
    pub fn from_ros(translation: (f64, f64), q: (f64, f64, f64, f64)) -> Self {
        let (x, y, z, w) = q;
        let yaw = (2.0 * (w * z + x * y)).atan2(1.0 - 2.0 * (y * y + z * z));
        Transform2(Isometry2::new(
            Vector2::new(translation.0, translation.1),
            yaw,
        ))
    }

    /// `pose` (in the child frame) in the parent frame.
    pub fn apply(&self, pose: Pose2) -> Pose2 {
        let p = self.0 * Isometry2::new(Vector2::new(pose.x, pose.y), pose.theta);
        Pose2::new(
            p.translation.x,
            p.translation.y,
            wrap_angle(p.rotation.angle()),
        )
    }
}

/// Whether a transform from `parent` to `child` is the one between frames
/// `a` and `b` (ROS frame ids may carry a leading slash).
pub fn is_between(parent: &str, child: &str, a: &str, b: &str) -> bool {
    let bare = |f: &str| f.trim_start_matches('/').to_owned();
    bare(parent) == bare(a) && bare(child) == bare(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::FRAC_PI_2;

    #[test]
    fn a_pose_in_odom_is_moved_and_turned_into_the_map() {
        // odom's origin at (2, 1) in the map, turned a quarter to the left.
        let t = Transform2::from_ros(
            (2.0, 1.0),
            (0.0, 0.0, (FRAC_PI_2 / 2.0).sin(), (FRAC_PI_2 / 2.0).cos()),
        );
        let p = t.apply(Pose2::new(0.5, 0.0, 0.0));
        assert!(
            (p.x - 2.0).abs() < 1e-12 && (p.y - 1.5).abs() < 1e-12,
            "{p:?}"
        );
        assert!((p.theta - FRAC_PI_2).abs() < 1e-12);
        let back = t.apply(Pose2::new(0.0, 0.0, 3.0));
        assert!((back.theta - wrap_angle(3.0 + FRAC_PI_2)).abs() < 1e-12);
        assert!(is_between("/map", "odom", "map", "odom"));
        assert!(!is_between("odom", "map", "map", "odom"));
    }
}
