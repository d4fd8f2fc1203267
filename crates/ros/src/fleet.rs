//! A fleet of ROS 2 robots on one node: each robot a [`RosRobot`] under
//! its namespace with its own governor, watchdog and e-stop (cleared by
//! `~/NAME/clear_e_stop`), and one e-stop for all (the fleet profile's
//! `e_stop`, cleared by `~/clear_e_stop`).
//!
//! A robot's own e-stop stops that robot only: its running skill fails
//! with `EStopped` and the others go on. The fleet's e-stop latches every
//! robot and ends the running action, as a single robot's e-stop does.

use std::sync::{Arc, Mutex, Weak};

use r2r::QosProfile;
use robot_api::RobotBackend;

use super::declared_calls::check_declared_skills;
use super::fleet_profile::FleetProfile;
use super::node::{lock, skills_of, NodeError, RosSkills};
use super::robot::{r2r_name, serve_trigger, RosRobot};
use super::spin::{RosError, RosThread};
use codeact_record::{recorded_fleet, RecordTo, RecordedFleet};

type Hook = Box<dyn Fn() + Send>;

/// The e-stops of what a session drives: one robot's, or each robot's of
/// a fleet and the fleet's one for all.
#[derive(Clone)]
pub struct EStops {
    robots: Vec<Arc<RosRobot>>,
    fleet: Option<Arc<FleetEStop>>,
}

/// The fleet's e-stop: its topic and who hears it.
struct FleetEStop {
    topic: String,
    hooks: Mutex<Vec<Hook>>,
}

impl EStops {
    /// A single robot's.
    pub fn of_one(robot: Arc<RosRobot>) -> Self {
        EStops {
            robots: vec![robot],
            fleet: None,
        }
    }

    /// Calls `stop` whenever the e-stop for all engages (a single robot's
    /// own; a fleet's e-stop, not one robot's): the node ends the action.
    pub fn on_e_stop(&self, stop: impl Fn() + Send + 'static) {
        match &self.fleet {
            Some(fleet) => lock(&fleet.hooks).push(Box::new(stop)),
            None => self.robots[0].on_e_stop(stop),
        }
    }

    /// Clears every robot's e-stop (a person's decision); whether any was latched.
    pub fn clear(&self) -> bool {
        clear_all(&self.robots)
    }

    /// Where they are, for the node's start message.
    pub fn describe(&self) -> String {
        let each: Vec<String> = self
            .robots
            .iter()
            .map(|r| {
                format!(
                    "e-stop on {}, cleared by {}",
                    r.profile().topics.e_stop,
                    r.clear_service()
                )
            })
            .collect();
        match &self.fleet {
            Some(fleet) => format!("the fleet's e-stop on {}; {}", fleet.topic, each.join("; ")),
            None => each.join("; "),
        }
    }
}

fn alive(robots: &[Weak<RosRobot>]) -> impl Iterator<Item = Arc<RosRobot>> + '_ {
    robots.iter().filter_map(Weak::upgrade)
}

fn clear_all(robots: &[Arc<RosRobot>]) -> bool {
    // Every robot is cleared, so no short-circuit.
    let cleared: Vec<bool> = robots.iter().map(|r| r.clear_e_stop()).collect();
    cleared.contains(&true)
}

/// Starts node `node_name` and connects to every robot of `fleet`, all
/// recorded into one file as `record` says (the others' channels under
/// their names); its skills are one set, each robot's as the methods of
/// its robot object.
pub fn connect(
    fleet: FleetProfile,
    node_name: &str,
    record: &RecordTo,
) -> Result<RosSkills, NodeError> {
    let idls = fleet
        .robots
        .iter()
        .map(check_declared_skills)
        .collect::<Result<Vec<_>, _>>()?;
    let first = &fleet.robots[0];
    let ros = Arc::new(RosThread::start_with(node_name, first.use_sim_time)?);
    let robots = fleet
        .robots
        .iter()
        .map(|p| RosRobot::connect(ros.clone(), p.clone()).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let e_stops = serve_fleet_e_stop(&ros, &fleet.e_stop, &robots)?;
    // No robot's code may reach any e-stop or its clearing.
    let mut guarded = vec![
        fleet.e_stop.clone(),
        r2r_name(&ros.node_name, "~/clear_e_stop"),
    ];
    for r in &robots {
        guarded.push(r.profile().topics.e_stop.clone());
        guarded.push(r.clear_service());
    }
    let name = |r: &RosRobot| r.profile().member.clone().unwrap_or_default();
    let named = robots
        .iter()
        .map(|r| (name(r), r.clone() as Arc<dyn RobotBackend>))
        .collect();
    let RecordedFleet { backends, recorder } = recorded_fleet(named, record)?;
    let mut sets = Vec::new();
    for ((robot, idl), through) in robots.iter().zip(&idls).zip(backends) {
        sets.push((name(robot), skills_of(&ros, robot, through, idl, &guarded)?));
    }
    Ok(RosSkills {
        skills: robot_api::fleet::fleet_skills(sets),
        ros,
        robot: robots[0].clone(),
        robots,
        e_stops,
        recorder,
        profile_name: fleet.name,
        skill_library: first.skill_library.clone(),
        preview: None,
    })
}

/// Subscribes to the fleet's e-stop (std_msgs/Bool, true: every robot
/// latched, then the hooks) and serves `~/clear_e_stop` for all.
fn serve_fleet_e_stop(
    ros: &RosThread,
    topic: &str,
    robots: &[Arc<RosRobot>],
) -> Result<EStops, RosError> {
    let fleet = Arc::new(FleetEStop {
        topic: topic.to_owned(),
        hooks: Mutex::default(),
    });
    // Weak: the ROS thread's tasks must not keep the robots (which keep
    // the ROS thread) alive, or the node outlives the session and DDS is
    // torn down under it at exit.
    let weak: Vec<Weak<RosRobot>> = robots.iter().map(Arc::downgrade).collect();
    let f = fleet.clone();
    ros.run(move |node, spawner| -> r2r::Result<()> {
        use futures::task::LocalSpawnExt;
        use futures::StreamExt;
        let presses =
            node.subscribe::<r2r::std_msgs::msg::Bool>(&f.topic, QosProfile::default())?;
        let (hear, robots) = (f.clone(), weak.clone());
        let _ = spawner.spawn_local(presses.for_each(move |m| {
            if m.data {
                let source = format!("the fleet's e-stop, {}", hear.topic);
                alive(&robots).for_each(|r| r.engage_e_stop(&source));
                lock(&hear.hooks).iter().for_each(|stop| stop());
            }
            futures::future::ready(())
        }));
        serve_trigger(node, spawner, "~/clear_e_stop", move || {
            clear_all(&alive(&weak).collect::<Vec<_>>())
        })
    })?
    .map_err(|e| RosError::R2r(format!("cannot serve the fleet's e-stop {topic}: {e}")))?;
    Ok(EStops {
        robots: robots.to_vec(),
        fleet: Some(fleet),
    })
}
