//! Which topics and services code actions may reach with the generic ROS
//! functions (`ros_read`, `ros_publish`, `ros_call`), from a profile's allow
//! and deny lists. Entries are exact names or prefixes ending in `*`.
//!
//! Two things no list can change: the e-stop (and clearing it) is never
//! reachable from code, and velocity commands, if a profile allows their
//! topic at all, still pass through the safety governor.

use super::profile::RobotProfile;

/// What a request for a name gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// Go ahead.
    Allowed,
    /// Velocity commands: allowed, but sent through the safety governor.
    ThroughSafety,
    /// Refused, and why (said to the code action).
    Denied(String),
}

/// The lists, with the names that are guarded whatever the lists say.
#[derive(Debug, Clone)]
pub struct AccessPolicy {
    allow: Vec<String>,
    deny: Vec<String>,
    cmd_vel: String,
    guarded: Vec<String>,
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl AccessPolicy {
    /// The policy of a profile; `guarded` adds the node's own safety names
    /// (its e-stop clearing service).
    pub fn new(profile: &RobotProfile, guarded: &[String]) -> Self {
        let mut all_guarded = vec![profile.topics.e_stop.clone()];
        all_guarded.extend(guarded.iter().cloned());
        AccessPolicy {
            allow: profile.ros_access.allow.clone(),
            deny: profile.ros_access.deny.clone(),
            cmd_vel: profile.topics.cmd_vel.clone(),
            guarded: all_guarded,
        }
    }

    /// Whether code may reach `name` (a topic or service).
    pub fn check(&self, name: &str) -> Access {
        if self.guarded.iter().any(|g| g == name) {
            return Access::Denied(format!(
                "{name} is safety-relevant: only a person (or the node) may use it, never a code action"
            ));
        }
        if self.deny.iter().any(|p| matches(p, name)) {
            let hint = if name == self.cmd_vel {
                " Move the robot with the motion skills (drive, rotate, move_to)."
            } else {
                ""
            };
            return Access::Denied(format!(
                "{name} is on this robot profile's deny list.{hint}"
            ));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| matches(p, name)) {
            return Access::Denied(format!(
                "{name} is not on this robot profile's allow list ({})",
                self.allow.join(", ")
            ));
        }
        if name == self.cmd_vel {
            Access::ThroughSafety
        } else {
            Access::Allowed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &[&str], deny: &[&str]) -> AccessPolicy {
        let mut p = super::super::profile::load("sim").unwrap();
        p.ros_access.allow = allow.iter().map(|s| s.to_string()).collect();
        p.ros_access.deny = deny.iter().map(|s| s.to_string()).collect();
        AccessPolicy::new(&p, &["/codeact/clear_e_stop".into()])
    }

    #[test]
    fn deny_wins_and_prefixes_match() {
        let p = policy(&["/arm/*", "/odom"], &["/arm/secret*"]);
        assert_eq!(p.check("/odom"), Access::Allowed);
        assert_eq!(p.check("/arm/joint_states"), Access::Allowed);
        assert!(matches!(p.check("/arm/secret_key"), Access::Denied(m) if m.contains("deny list")));
        assert!(
            matches!(p.check("/scan"), Access::Denied(m) if m.contains("allow list (/arm/*, /odom)"))
        );
    }

    #[test]
    fn the_e_stop_is_never_reachable_and_cmd_vel_goes_through_safety() {
        let open = policy(&[], &[]);
        assert_eq!(open.check("/anything"), Access::Allowed);
        assert!(
            matches!(open.check("/e_stop"), Access::Denied(m) if m.contains("safety-relevant"))
        );
        assert!(matches!(
            open.check("/codeact/clear_e_stop"),
            Access::Denied(_)
        ));
        assert_eq!(open.check("/cmd_vel"), Access::ThroughSafety);
        let default = policy(&[], &["/cmd_vel"]);
        assert!(
            matches!(default.check("/cmd_vel"), Access::Denied(m) if m.contains("motion skills"))
        );
    }
}
