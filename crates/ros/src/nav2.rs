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

/// What a Nav2 error code says about a goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meaning {
    /// Something is in the way, or the robot made no progress.
    Blocked,
    /// No way there (off the map, in an obstacle, no path).
    Unreachable,
    /// The navigation stack itself failed (its set-up, TF).
    Stack,
    /// A server's UNKNOWN: its reason's words decide.
    Unknown,
}

/// Jazzy's Nav2 error codes: NavigateToPose's own, and those its behaviour
/// tree passes on from the planner (ComputePathToPose 2xx,
/// ComputePathThroughPoses 3xx), the controller (FollowPath 1xx) and the
/// smoother (SmoothPath 5xx).
const CODES: &[(u64, &str, &str, Meaning)] = {
    use Meaning::*;
    &[
        (100, "UNKNOWN", "controller", Unknown),
        (101, "INVALID_CONTROLLER", "controller", Stack),
        (102, "TF_ERROR", "controller", Stack),
        (103, "INVALID_PATH", "controller", Unreachable),
        (104, "PATIENCE_EXCEEDED", "controller", Blocked),
        (105, "FAILED_TO_MAKE_PROGRESS", "controller", Blocked),
        (106, "NO_VALID_CONTROL", "controller", Blocked),
        (107, "CONTROLLER_TIMED_OUT", "controller", Blocked),
        (200, "UNKNOWN", "planner", Unknown),
        (201, "INVALID_PLANNER", "planner", Stack),
        (202, "TF_ERROR", "planner", Stack),
        (203, "START_OUTSIDE_MAP", "planner", Unreachable),
        (204, "GOAL_OUTSIDE_MAP", "planner", Unreachable),
        (205, "START_OCCUPIED", "planner", Blocked),
        (206, "GOAL_OCCUPIED", "planner", Unreachable),
        (207, "TIMEOUT", "planner", Unreachable),
        (208, "NO_VALID_PATH", "planner", Unreachable),
        (300, "UNKNOWN", "planner", Unknown),
        (301, "INVALID_PLANNER", "planner", Stack),
        (302, "TF_ERROR", "planner", Stack),
        (303, "START_OUTSIDE_MAP", "planner", Unreachable),
        (304, "GOAL_OUTSIDE_MAP", "planner", Unreachable),
        (305, "START_OCCUPIED", "planner", Blocked),
        (306, "GOAL_OCCUPIED", "planner", Unreachable),
        (307, "TIMEOUT", "planner", Unreachable),
        (308, "NO_VALID_PATH", "planner", Unreachable),
        (309, "NO_VIAPOINTS_GIVEN", "planner", Unreachable),
        (500, "UNKNOWN", "smoother", Unknown),
        (501, "INVALID_SMOOTHER", "smoother", Stack),
        (502, "TIMEOUT", "smoother", Stack),
        (503, "SMOOTHED_PATH_IN_COLLISION", "smoother", Blocked),
        (504, "FAILED_TO_SMOOTH_PATH", "smoother", Stack),
        (505, "INVALID_PATH", "smoother", Unreachable),
        (9000, "UNKNOWN", "navigator", Unknown),
        (9001, "FAILED_TO_LOAD_BEHAVIOR_TREE", "navigator", Stack),
        (9002, "TF_ERROR", "navigator", Stack),
    ]
};

/// Words of a reason that say something is in the way (for UNKNOWN codes).
const BLOCKED_WORDS: [&str; 5] = [
    "collision",
    "obstacle",
    "blocked",
    "progress",
    "no valid trajectories",
];

/// What a goal Nav2 aborted (or canceled itself) means for the skill, by
/// its error code: `Blocked` when something is in the way or the robot
/// made no progress, `Unreachable` when there is no way there, `Robot`
/// when the navigation stack itself failed; for a server's UNKNOWN, its
/// reason's words decide between `Blocked` and `Unreachable`. The message
/// carries the code, its name and server, and Nav2's reason.
pub fn failure(how: &str, result: &Json) -> SkillError {
    let code = result["error_code"].as_u64().unwrap_or(0);
    let reason = result["error_msg"].as_str().unwrap_or("").trim();
    let known = CODES.iter().find(|(c, ..)| *c == code);
    let meaning = known.map_or(Meaning::Unknown, |k| k.3);
    let kind = match meaning {
        Meaning::Blocked => ErrorKind::Blocked,
        Meaning::Unreachable => ErrorKind::Unreachable,
        Meaning::Stack => ErrorKind::Robot,
        Meaning::Unknown => {
            let lowered = reason.to_lowercase();
            if BLOCKED_WORDS.iter().any(|w| lowered.contains(w)) {
                ErrorKind::Blocked
            } else {
                ErrorKind::Unreachable
            }
        }
    };
    let code_text = match known {
        Some((_, name, server, _)) => format!("error {code} {name} from the {server}"),
        None if code == 0 => "no error code".to_owned(),
        None => format!("error {code}, a code this Nav2 version does not define"),
    };
    let reason = if reason.is_empty() {
        "it gave no reason".to_owned()
    } else {
        format!("\"{reason}\"")
    };
    SkillError::new(kind, format!("Nav2 {how} the goal ({code_text}): {reason}"))
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
            "Nav2 aborted the goal (error 9000 UNKNOWN from the navigator): \"No valid path found\""
        );
        let e = failure("aborted", &json!({"error_code": 9002, "error_msg": ""}));
        assert!(
            e.message.contains("TF_ERROR") && e.message.contains("no reason"),
            "{e}"
        );
    }

    #[test]
    fn the_code_decides_blocked_unreachable_or_the_stack() {
        let kind = |code: u64, why: &str| {
            failure("aborted", &json!({"error_code": code, "error_msg": why})).kind
        };
        // The words would say otherwise; the code decides.
        assert_eq!(kind(208, "collision ahead"), ErrorKind::Unreachable);
        assert_eq!(kind(206, ""), ErrorKind::Unreachable);
        assert_eq!(kind(105, "no path"), ErrorKind::Blocked);
        assert_eq!(kind(503, ""), ErrorKind::Blocked);
        assert_eq!(kind(9002, ""), ErrorKind::Robot);
        assert_eq!(kind(101, ""), ErrorKind::Robot);
        // UNKNOWN of any server: the reason's words.
        assert_eq!(kind(100, "blocked by an obstacle"), ErrorKind::Blocked);
        assert_eq!(kind(200, "planner failed"), ErrorKind::Unreachable);
        let e = failure(
            "aborted",
            &json!({"error_code": 206, "error_msg": "Goal occupied"}),
        );
        assert_eq!(
            e.message,
            "Nav2 aborted the goal (error 206 GOAL_OCCUPIED from the planner): \"Goal occupied\""
        );
        let e = failure("aborted", &json!({"error_code": 777, "error_msg": ""}));
        assert!(
            e.message
                .contains("error 777, a code this Nav2 version does not define"),
            "{e}"
        );
    }
}
