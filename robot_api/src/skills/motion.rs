//! Motion skills: `move_to`, `go_to`, `drive`, `rotate`, `stop` and `wait`.
//! Each returns once the measured velocities say the robot is at rest.

use std::sync::Arc;
use std::time::Duration;

use super::control::{
    navigate, stand_points, surface_goals, turn_speed, whereabouts, zone_goals, Mover, CONTROL_DT,
};
use super::values::pose_value;
use super::{positive, Examples, Robot};
use crate::backend::Pose2;
use crate::error::{ErrorKind, SkillError};
use crate::geometry::{wrap_angle, P2};
use crate::registry::{CallContext, SkillSet};
use crate::spec::SkillSpec;
use crate::value::Value;
use crate::CancelToken;

crate::skill_params! {
    /// `move_to`'s parameters.
    pub struct MoveTo { x: f64, y: f64, theta: Option<f64> = None, timeout: f64 = 120.0 }
}

crate::skill_params! {
    /// `go_to`'s parameters.
    pub struct GoTo { name: String, timeout: f64 = 120.0 }
}

crate::skill_params! {
    /// `drive`'s parameters.
    pub struct Drive { linear: f64, angular: f64, duration: f64 }
}

crate::skill_params! {
    /// `rotate`'s parameters.
    pub struct Rotate { angle: f64, timeout: f64 = 30.0 }
}

crate::skill_params! {
    /// `wait`'s parameters.
    pub struct Wait { seconds: f64 }
}

/// Adds the motion skills.
pub(super) fn add(set: &mut SkillSet, robot: &Arc<Robot>, ex: &Examples) {
    let limits = robot.backend.limits();
    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "move_to",
            "Drive to (x, y) in metres, planning a path around known obstacles and re-planning around new ones the lidar sees. If theta (radians) is given, turn to that heading at the end. Returns the pose once the robot has stopped. Gives up after timeout seconds.\n\nExample: move_to(2.0, 1.0, theta=math.pi / 2)  # ends facing +y",
        )
        .returns("Pose")
        .raises(ErrorKind::Unreachable)
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::SkillTimeout)
        .raises(ErrorKind::BatteryEmpty),
        move |p: MoveTo, ctx| {
            let timeout = positive(p.timeout, "move_to", "timeout")?;
            if let Some(t) = p.theta {
                r.check_radians(&format!("move_to(theta={t})"), t);
            }
            let what = format!("move_to({:.2}, {:.2})", p.x, p.y);
            navigate(&*r.backend, ctx, P2::new(p.x, p.y), p.theta, timeout, what).map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "go_to",
            &*format!("Drive to a named zone (its free point nearest the centre), to furniture objects can be put on (stopping beside it, facing it: then place() puts the held object on it), or to an object the camera has seen (stopping within gripper reach, facing it). Zone names come from list_zones(); objects must have been seen with detect_objects() first (ObjectNotSeen otherwise). Returns the pose once the robot has stopped.\n\nExample: go_to(\"{}\")  # zone centre ({:.1}, {:.1})", ex.zone, ex.zone_centre.x, ex.zone_centre.y),
        )
        .returns("Pose")
        .raises(ErrorKind::Unreachable)
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::SkillTimeout)
        .raises(ErrorKind::BatteryEmpty)
        .raises(ErrorKind::ObjectNotSeen),
        move |p: GoTo, ctx| {
            let timeout = positive(p.timeout, "go_to", "timeout")?;
            go_to(&r, &p.name, timeout, ctx).map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "drive",
            &*format!("Drive with linear speed (m/s, negative backwards) and angular speed (rad/s, left positive) for duration seconds, then brake to a stop; returns the pose at rest (braking from top speed adds about {:.2} m). Speeds are limited to {:.2} m/s and {:.2} rad/s. No path planning: stops with Blocked when it touches something.\n\nExample: drive(0.2, 0.0, 2.0)  # about 0.4 m straight ahead", limits.max_linear.powi(2) / (2.0 * limits.max_linear_accel), limits.max_linear, limits.max_angular),
        )
        .returns("Pose")
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::BatteryEmpty),
        move |p: Drive, ctx| {
            let duration = positive(p.duration, "drive", "duration")?;
            let b = &*r.backend;
            let mover = Mover {
                robot: b,
                cancel: &ctx.cancel,
                deadline: f64::INFINITY,
                what: format!("drive({}, {}, {duration})", p.linear, p.angular),
            };
            let end = b.time() + duration;
            while b.time() < end - 1e-9 {
                mover.step_for(p.linear, p.angular, (end - b.time()).min(CONTROL_DT))?;
            }
            mover.come_to_rest().map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "rotate",
            "Turn in place by angle radians (positive = counter-clockwise / left); returns the pose once the robot has stopped.\n\nExample: rotate(math.pi / 2)  # quarter turn left",
        )
        .returns("Pose")
        .raises(ErrorKind::Blocked)
        .raises(ErrorKind::SkillTimeout)
        .raises(ErrorKind::BatteryEmpty),
        move |p: Rotate, ctx| {
            let timeout = positive(p.timeout, "rotate", "timeout")?;
            r.check_radians(&format!("rotate({})", p.angle), p.angle);
            rotate(&r, p.angle, timeout, &ctx.cancel).map(pose_value)
        },
    );

    let r = robot.clone();
    set.add(
        SkillSpec::new(
            "stop",
            "Stop all motion now; returns once the robot is at rest.\n\nExample: stop()",
        ),
        move |(), ctx| {
            r.backend.stop();
            let mover = Mover {
                robot: &*r.backend,
                cancel: &ctx.cancel,
                deadline: f64::INFINITY,
                what: "stop()".into(),
            };
            mover.come_to_rest()?;
            Ok(Value::None)
        },
    );
}

/// Adds `wait` (after the other groups, where the API text lists it).
pub(super) fn add_wait(set: &mut SkillSet, robot: &Arc<Robot>) {
    let r = robot.clone();
    set.add(
        SkillSpec::new("wait", "Let seconds of robot time pass, standing still (the battery charges on a dock).\n\nExample: wait(5.0)"),
        move |p: Wait, ctx| {
            if !(0.0..=86_400.0).contains(&p.seconds) {
                return Err(SkillError::invalid(format!(
                    "wait(): seconds must be between 0 and 86400, got {}",
                    p.seconds
                )));
            }
            r.backend.command(0.0, 0.0)?;
            r.backend
                .advance(Duration::from_secs_f64(p.seconds), &ctx.cancel)?;
            Ok(Value::None)
        },
    );
}

/// `rotate(angle)`: turns by tracking the turn so far, so angles beyond pi
/// turn the long way as asked.
fn rotate(r: &Robot, angle: f64, timeout: f64, cancel: &CancelToken) -> Result<Pose2, SkillError> {
    let b = &*r.backend;
    let start = b.pose()?.theta;
    let mover = Mover {
        robot: b,
        cancel,
        deadline: b.time() + timeout,
        what: format!("rotate({angle:.2})"),
    };
    let mut turned = 0.0;
    let mut last = start;
    let max_w = b.limits().max_angular;
    let tolerance = b.tolerances().heading;
    while (angle - turned).abs() > tolerance {
        mover.step(0.0, turn_speed(angle - turned, max_w))?;
        let now = b.pose()?.theta;
        turned += wrap_angle(now - last);
        last = now;
    }
    mover.come_to_rest()
}

/// `go_to(name)`: a zone by its free point nearest the centre, or a seen
/// object by a place to stand within reach of it.
fn go_to(r: &Robot, name: &str, timeout: f64, ctx: &CallContext) -> Result<Pose2, SkillError> {
    let b = &*r.backend;
    let what = format!("go_to({name:?})");
    let zones = b.zones();
    let surfaces = b.surfaces();
    let goals: Vec<(P2, Option<f64>)> = if let Some(zone) = zones.iter().find(|z| z.name == name) {
        zone_goals(b, &zone.polygon, zone.centre)
            .into_iter()
            .map(|g| (g, None))
            .collect()
    } else if let Some(surface) = surfaces.iter().find(|s| s.name == name) {
        surface_goals(b, &surface.polygon)?
            .into_iter()
            .map(|(g, h)| (g, Some(h)))
            .collect()
    } else {
        let at = {
            let memory = r.memory();
            let seen = memory.get(name, "go_to").map_err(|mut e| {
                let names: Vec<&str> = zones
                    .iter()
                    .map(|z| z.name.as_str())
                    .chain(surfaces.iter().map(|s| s.name.as_str()))
                    .collect();
                e.message = format!("{}; zones and furniture: {}", e.message, names.join(", "));
                e
            })?;
            if seen.held {
                return Err(SkillError::new(
                    ErrorKind::GripperError,
                    format!("{what}: the robot is holding {name}"),
                ));
            }
            P2::new(seen.last.x, seen.last.y)
        };
        stand_points(b, at)?
            .into_iter()
            .map(|g| (g, Some((at.y - g.y).atan2(at.x - g.x))))
            .collect()
    };
    let mut last_err = None;
    for (goal, heading) in goals {
        match navigate(b, ctx, goal, heading, timeout, what.clone()) {
            Err(e) if e.kind == ErrorKind::Unreachable => last_err = Some(e),
            done => return done,
        }
    }
    Err(last_err.unwrap_or_else(|| {
        SkillError::new(
            ErrorKind::Unreachable,
            format!(
                "{what}: there is no free place for the robot there; {}",
                whereabouts(b)
            ),
        )
    }))
}
