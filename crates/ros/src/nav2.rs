//! Nav2 as the navigator of `move_to` and `go_to` (a profile's `nav2:`):
//! the NavigateToPose goal for a point, the feedback line people and models
//! read, and how a failed goal becomes `Unreachable` or `Blocked` with Nav2's
//! reason. Plain logic; `RosRobot::navigate` sends the goal.

use robot_api::backend::Pose2;
use robot_api::geometry::P2;
use robot_api::{ErrorKind, SkillError};
use serde_json::{json, Value as Json};

/// The type of Nav2's action.
pub const ACTION_TYPE: &str = "nav2_msgs/action/NavigateToPose";

/// The heading to arrive with: `theta` when asked for, else the direction of
/// travel (so Nav2 does not turn at the end for nothing).
pub fn arrival_heading(from: Pose2, to: P2, theta: Option<f64>) -> f64 {
    theta.unwrap_or_else(|| {
        let (dx, dy) = (to.x - from.x, to.y - from.y);
        if dx.hypot(dy) < 1e-6 {
            from.theta
        } else {
            dy.atan2(dx)
        }
    })
}

/// The NavigateToPose goal: `to` with `heading` in `frame`.
pub fn goal(
    frame: &str,
    stamp: std::time::Duration,
    to: P2,
    heading: f64,
    behavior_tree: &str,
) -> Json {
    json!({
        "pose": {
            "header": {
                "frame_id": frame,
                "stamp": {"sec": stamp.as_secs(), "nanosec": stamp.subsec_nanos()}
            },
            "pose": {
                "position": {"x": to.x, "y": to.y, "z": 0.0},
                "orientation": {"x": 0.0, "y": 0.0, "z": (heading / 2.0).sin(), "w": (heading / 2.0).cos()}
            }
        },
        "behavior_tree": behavior_tree
    })
}

/// One feedback as a line: distance left, recoveries, time so far.
pub fn feedback_line(f: &Json) -> String {
    let distance = f["distance_remaining"].as_f64().unwrap_or(f64::NAN);
    let recoveries = f["number_of_recoveries"].as_i64().unwrap_or(0);
    let seconds = f["navigation_time"]["sec"].as_f64().unwrap_or(0.0)
        + f["navigation_time"]["nanosec"].as_f64().unwrap_or(0.0) * 1e-9;
    let recoveries = match recoveries {
        0 => String::new(),
        1 => ", 1 recovery".into(),
        n => format!(", {n} recoveries"),
    };
    format!("nav2: {distance:.2} m to go{recoveries}, {seconds:.1} s")
}

/// What a goal Nav2 aborted (or canceled itself) means for the skill:
/// `Blocked` when its reason is an obstacle or no progress, else
/// `Unreachable`; the message carries Nav2's code and reason.
pub fn failure(how: &str, result: &Json) -> SkillError {
    let code = result["error_code"].as_u64().unwrap_or(0);
    let reason = result["error_msg"].as_str().unwrap_or("").trim();
    let code_name = match code {
        0 => "NONE",
        9000 => "UNKNOWN",
        9001 => "FAILED_TO_LOAD_BEHAVIOR_TREE",
        9002 => "TF_ERROR",
        _ => "",
    };
    let lowered = reason.to_lowercase();
    let blocked = [
        "collision",
        "obstacle",
        "blocked",
        "progress",
        "no valid trajectories",
    ]
    .iter()
    .any(|w| lowered.contains(w));
    let reason = if reason.is_empty() {
        "it gave no reason".to_owned()
    } else {
        format!("\"{reason}\"")
    };
    SkillError::new(
        if blocked {
            ErrorKind::Blocked
        } else {
            ErrorKind::Unreachable
        },
        format!("Nav2 {how} the goal (error {code} {code_name}): {reason}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_goal_faces_the_way_it_asks() {
        let stamp = std::time::Duration::new(12, 500);
        let g = goal(
            "map",
            stamp,
            P2::new(1.0, 2.0),
            std::f64::consts::FRAC_PI_2,
            "",
        );
        assert_eq!(
            g["pose"]["header"]["stamp"],
            json!({"sec": 12, "nanosec": 500})
        );
        assert_eq!(g["pose"]["header"]["frame_id"], "map");
        assert_eq!(g["pose"]["pose"]["position"]["x"], 1.0);
        let w = g["pose"]["pose"]["orientation"]["w"].as_f64().unwrap();
        assert!((w - (std::f64::consts::FRAC_PI_4).cos()).abs() < 1e-12);
        let from = Pose2::new(0.0, 0.0, 0.3);
        assert!(
            (arrival_heading(from, P2::new(0.0, 1.0), None) - std::f64::consts::FRAC_PI_2).abs()
                < 1e-12
        );
        assert_eq!(arrival_heading(from, P2::new(0.0, 1.0), Some(-1.0)), -1.0);
        assert_eq!(arrival_heading(from, P2::new(0.0, 0.0), None), 0.3);
    }

    #[test]
    fn feedback_and_failures_read_as_words() {
        let f = json!({"distance_remaining": 1.234, "number_of_recoveries": 2, "navigation_time": {"sec": 3, "nanosec": 500_000_000}});
        assert_eq!(feedback_line(&f), "nav2: 1.23 m to go, 2 recoveries, 3.5 s");
        let e = failure(
            "aborted",
            &json!({"error_code": 9000, "error_msg": "Failed to compute path: goal is in collision"}),
        );
        assert_eq!(e.kind, ErrorKind::Blocked);
        let e = failure(
            "aborted",
            &json!({"error_code": 9000, "error_msg": "No valid path found"}),
        );
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert_eq!(
            e.message,
            "Nav2 aborted the goal (error 9000 UNKNOWN): \"No valid path found\""
        );
        let e = failure("aborted", &json!({"error_code": 9002, "error_msg": ""}));
        assert!(
            e.message.contains("TF_ERROR") && e.message.contains("no reason"),
            "{e}"
        );
    }
}
