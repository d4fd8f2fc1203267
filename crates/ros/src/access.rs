//! Generic ROS access from code actions: list topics, read a topic's latest
//! message as a dict, publish a dict, call a service with a dict. Messages
//! go through r2r's untyped (JSON) interface, so any message type the node
//! was built with works without Rust code per type. Every name passes the
//! profile's [`AccessPolicy`]; velocity commands go through the governor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::task::LocalSpawnExt;
use futures::StreamExt;
use r2r::QosProfile;
use robot_api::{
    CallContext, ErrorKind, InRehearsal, RobotBackend, SkillError, SkillSet, SkillSpec, Value,
};

use super::actions::{action_type, run_goal, FeedbackLines, Goal};
use super::graph::Graph;
use super::json::{from_json, to_json};
use super::policy::{Access, AccessPolicy};
use super::robot::RosRobot;
use super::services;
use super::spin::RosThread;

type Latest = Arc<Mutex<Option<(serde_json::Value, Instant)>>>;

/// The generic-access state shared by the four skills.
struct GenericAccess {
    ros: Arc<RosThread>,
    robot: Arc<RosRobot>,
    policy: AccessPolicy,
    subscriptions: Mutex<HashMap<String, Latest>>,
    publishers: Mutex<HashMap<String, r2r::PublisherUntyped>>,
    /// Topics published with a type r2r was not built with, and that type:
    /// they go through the graph node and the type support loaded at run time.
    dynamic_topics: Mutex<HashMap<String, String>>,
    /// For `ros_services()`, made at start so discovery has run by then.
    graph: Graph,
}

fn refused(message: String) -> SkillError {
    SkillError::new(ErrorKind::Robot, message)
}

impl GenericAccess {
    fn check(&self, name: &str) -> Result<Access, SkillError> {
        match self.policy.check(name) {
            Access::Denied(why) => Err(refused(format!("refused: {why}"))),
            other => Ok(other),
        }
    }

    /// The topics visible now, with their types.
    fn topic_map(&self) -> Result<HashMap<String, Vec<String>>, SkillError> {
        self.ros
            .run(|node, _| node.get_topic_names_and_types())
            .map_err(|e| refused(e.to_string()))?
            .map_err(|e| refused(format!("listing topics failed: {e}")))
    }

    fn topic_type(&self, topic: &str) -> Result<String, SkillError> {
        self.topic_map()?
            .get(topic)
            .and_then(|types| types.first().cloned())
            .ok_or_else(|| refused(format!("no publisher or subscriber of {topic} is visible: pass its type, e.g. type='std_msgs/msg/String', or check the name with ros_topics()")))
    }

    /// The topic's type, waiting up to `timeout` for it to appear (discovery takes a moment).
    fn wait_for_type(&self, topic: &str, timeout: f64) -> Result<String, SkillError> {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout);
        loop {
            match self.topic_type(topic) {
                Ok(t) => return Ok(t),
                Err(e) if Instant::now() >= deadline => return Err(e),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn topics(&self) -> Result<Value, SkillError> {
        Ok(self.listed(self.topic_map()?))
    }

    /// Names with their types and whether the profile lets code reach them,
    /// in name order, as `ros_topics()` and `ros_services()` return them.
    fn listed(&self, names: impl IntoIterator<Item = (String, Vec<String>)>) -> Value {
        let mut names: Vec<(String, Vec<String>)> = names.into_iter().collect();
        names.sort();
        Value::List(
            names
                .into_iter()
                .map(|(name, types)| {
                    let allowed = !matches!(self.policy.check(&name), Access::Denied(_));
                    Value::Dict(vec![
                        ("name".into(), Value::Str(name)),
                        ("type".into(), Value::Str(types.join(", "))),
                        ("allowed".into(), Value::Bool(allowed)),
                    ])
                })
                .collect(),
        )
    }

    fn services(&self) -> Result<Value, SkillError> {
        let services = self
            .graph
            .services()
            .map_err(|e| refused(format!("cannot look at the ROS graph: {e}")))?;
        Ok(self.listed(services))
    }

    fn read(
        &self,
        topic: &str,
        type_name: Option<&str>,
        timeout: f64,
    ) -> Result<Value, SkillError> {
        self.check(topic)?;
        let dynamic = self.dynamic_topics.lock().unwrap().get(topic).cloned();
        if let Some(type_name) = dynamic {
            return self.read_dynamic(topic, &type_name, timeout);
        }
        let existing = self.subscriptions.lock().unwrap().get(topic).cloned();
        let latest = match existing {
            Some(l) => l,
            None => {
                let type_name = match type_name {
                    Some(t) => t.to_owned(),
                    None => self.wait_for_type(topic, timeout)?,
                };
                let latest: Latest = Arc::new(Mutex::new(None));
                let slot = latest.clone();
                let (name, ty) = (topic.to_owned(), type_name.clone());
                let made = self
                    .ros
                    .run(move |node, spawner| -> r2r::Result<()> {
                        // Best effort reaches both kinds of publisher.
                        let stream =
                            node.subscribe_untyped(&name, &ty, QosProfile::sensor_data())?;
                        let _ = spawner.spawn_local(stream.for_each(move |m| {
                            if let Ok(m) = m {
                                *slot.lock().unwrap() = Some((m, Instant::now()));
                            }
                            futures::future::ready(())
                        }));
                        Ok(())
                    })
                    .map_err(|e| refused(e.to_string()))?;
                match made {
                    Ok(()) => {}
                    // A type r2r was not built with: its type support, loaded now.
                    Err(r2r::Error::InvalidMessageType { .. }) => {
                        self.dynamic_topics
                            .lock()
                            .unwrap()
                            .insert(topic.to_owned(), type_name.clone());
                        return self.read_dynamic(topic, &type_name, timeout);
                    }
                    Err(e) => {
                        return Err(refused(format!(
                            "cannot subscribe to {topic}: {e} (is the type right? see docs/ros.md)"
                        )))
                    }
                }
                self.subscriptions
                    .lock()
                    .unwrap()
                    .insert(topic.to_owned(), latest.clone());
                latest
            }
        };
        first_message(topic, timeout, || {
            Ok(latest.lock().unwrap().as_ref().map(|(m, _)| m.clone()))
        })
    }

    fn publish(
        &self,
        topic: &str,
        message: &Value,
        type_name: Option<&str>,
    ) -> Result<Value, SkillError> {
        let access = self.check(topic)?;
        let json = to_json(message);
        if access == Access::ThroughSafety {
            let get = |part: &str, axis: &str| {
                json.get(part)
                    .and_then(|p| p.get(axis))
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0)
            };
            self.robot
                .command(get("linear", "x"), get("angular", "z"))?;
            return Ok(Value::None);
        }
        // Whatever the topic, it may move the robot: nothing goes out while latched.
        self.robot.refuse_while_latched(topic)?;
        let dynamic = self.dynamic_topics.lock().unwrap().get(topic).cloned();
        if let Some(type_name) = dynamic {
            return self.publish_dynamic(topic, &type_name, &json);
        }
        let mut publishers = self.publishers.lock().unwrap();
        if !publishers.contains_key(topic) {
            let type_name = match type_name {
                Some(t) => t.to_owned(),
                None => self.topic_type(topic)?,
            };
            let (name, ty) = (topic.to_owned(), type_name.clone());
            let made = self
                .ros
                .run(move |node, _| {
                    node.create_publisher_untyped(&name, &ty, QosProfile::default())
                })
                .map_err(|e| refused(e.to_string()))?;
            match made {
                Ok(publisher) => {
                    publishers.insert(topic.to_owned(), publisher);
                }
                // A type r2r was not built with: its type support, loaded now.
                Err(r2r::Error::InvalidMessageType { .. }) => {
                    drop(publishers);
                    self.publish_dynamic(topic, &type_name, &json)?;
                    self.dynamic_topics
                        .lock()
                        .unwrap()
                        .insert(topic.to_owned(), type_name);
                    return Ok(Value::None);
                }
                Err(e) => return Err(refused(format!("cannot publish on {topic}: {e}"))),
            }
        }
        publishers[topic].publish(json).map_err(|e| {
            SkillError::new(
                ErrorKind::InvalidArgument,
                format!("the message does not fit {topic}'s type: {e}"),
            )
        })?;
        Ok(Value::None)
    }

    /// The latest message on `topic` of a type loaded at run time, waiting
    /// for one up to `timeout` seconds.
    fn read_dynamic(
        &self,
        topic: &str,
        type_name: &str,
        timeout: f64,
    ) -> Result<Value, SkillError> {
        first_message(topic, timeout, || {
            self.graph
                .latest(topic, type_name)
                .map_err(|e| refused(format!("cannot subscribe to {topic}: {e}")))
        })
    }

    /// Publishes on `topic` a message of a type loaded at run time.
    fn publish_dynamic(
        &self,
        topic: &str,
        type_name: &str,
        json: &serde_json::Value,
    ) -> Result<Value, SkillError> {
        publish_run_time(&self.graph, topic, type_name, json)?;
        Ok(Value::None)
    }

    fn call(&self, p: &RosCall, cancel: &robot_api::CancelToken) -> Result<Value, SkillError> {
        self.check(&p.service)?;
        let timeout = positive_timeout(p.timeout, "ros_call")?;
        self.robot.refuse_while_latched(&p.service)?;
        if !services::built_in(&self.ros, &p.service, &p.r#type)? {
            return self.call_dynamic(p, timeout, cancel);
        }
        services::call(
            &self.ros,
            &p.service,
            &p.r#type,
            to_json(&p.request),
            Duration::from_secs_f64(timeout),
            cancel,
        )
        .map(|r| from_json(&r))
    }
}

impl GenericAccess {
    /// Calls a service of a type loaded at run time.
    fn call_dynamic(
        &self,
        p: &RosCall,
        timeout: f64,
        cancel: &robot_api::CancelToken,
    ) -> Result<Value, SkillError> {
        let timeout = Duration::from_secs_f64(timeout);
        let request = to_json(&p.request);
        services::call_run_time(
            &self.graph,
            &p.service,
            &p.r#type,
            &request,
            timeout,
            cancel,
        )
        .map(|r| from_json(&r))
    }

    /// Runs a goal on the action server `name`, its feedback printed live.
    fn action(&self, p: &RosAction, ctx: &CallContext) -> Result<Value, SkillError> {
        self.check(&p.name)?;
        let timeout = positive_timeout(p.timeout, "ros_action")?;
        let type_name = match &p.r#type {
            Some(t) => t.clone(),
            None => self.wait_for_action_type(&p.name, timeout.min(5.0))?,
        };
        let mut lines = FeedbackLines::new(&p.name, &ctx.progress, &self.robot);
        let goal = Goal {
            name: &p.name,
            type_name: &type_name,
            goal: to_json(&p.goal),
            timeout: Duration::from_secs_f64(timeout),
        };
        let result = run_goal(&self.robot, goal, &ctx.cancel, &mut lines);
        lines.flush();
        result.map(|r| from_json(&r))
    }

    /// The type of the action server `name`, waiting up to `timeout` for discovery.
    fn wait_for_action_type(&self, name: &str, timeout: f64) -> Result<String, SkillError> {
        let deadline = Instant::now() + Duration::from_secs_f64(timeout);
        loop {
            if let Some(t) = action_type(&self.topic_map()?, name) {
                return Ok(t);
            }
            if Instant::now() >= deadline {
                return Err(refused(format!("no action server {name} is visible: pass its type, e.g. type='example_interfaces/action/Fibonacci', or check the name (its topics {name}/_action/... show in ros_topics())")));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Publishes on `topic` a message of a type loaded at run time, through
/// the graph node.
pub(crate) fn publish_run_time(
    graph: &Graph,
    topic: &str,
    type_name: &str,
    json: &serde_json::Value,
) -> Result<(), SkillError> {
    use super::graph::PublishError;
    graph.publish(topic, type_name, json).map_err(|e| match e {
        PublishError::Type(crate::dynamic::DynamicError::Value { .. }) => SkillError::new(
            ErrorKind::InvalidArgument,
            format!("the message does not fit {topic}'s type {type_name}: {e}"),
        ),
        e => refused(format!("cannot publish on {topic}: {e}")),
    })
}

/// The latest message on `topic` as `latest` finds it, waiting for one up to
/// `timeout` seconds.
fn first_message(
    topic: &str,
    timeout: f64,
    mut latest: impl FnMut() -> Result<Option<serde_json::Value>, SkillError>,
) -> Result<Value, SkillError> {
    let deadline = Instant::now() + Duration::from_secs_f64(timeout);
    loop {
        if let Some(msg) = latest()? {
            return Ok(from_json(&msg));
        }
        if Instant::now() >= deadline {
            return Err(SkillError::new(
                ErrorKind::SkillTimeout,
                format!("no message arrived on {topic} within {timeout} s: is anything publishing it? (ros_topics() lists the topics)"),
            ));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn positive_timeout(t: f64, skill: &str) -> Result<f64, SkillError> {
    if t > 0.0 && t <= 3600.0 {
        Ok(t)
    } else {
        Err(SkillError::new(
            ErrorKind::InvalidArgument,
            format!("{skill}: timeout must be between 0 and 3600 seconds, got {t}"),
        ))
    }
}

robot_api::skill_params! {
    /// `ros_read`'s parameters.
    pub struct RosRead { topic: String, r#type: Option<String> = None, timeout: f64 = 5.0 }
}

robot_api::skill_params! {
    /// `ros_publish`'s parameters.
    pub struct RosPublish { topic: String, message: Value, r#type: Option<String> = None }
}

robot_api::skill_params! {
    /// `ros_action`'s parameters.
    pub struct RosAction { name: String, goal: Value, r#type: Option<String> = None, timeout: f64 = 60.0 }
}

robot_api::skill_params! {
    /// `ros_call`'s parameters.
    pub struct RosCall { service: String, r#type: String, request: Value = Value::Dict(Vec::new()), timeout: f64 = 5.0 }
}

/// Adds `ros_topics`, `ros_services`, `ros_read`, `ros_publish`, `ros_call` and
/// `ros_action` to `skills`.
pub fn add_ros_access(
    skills: &mut SkillSet,
    ros: Arc<RosThread>,
    robot: Arc<RosRobot>,
    policy: AccessPolicy,
) {
    let access = Arc::new(GenericAccess {
        ros,
        policy,
        subscriptions: Mutex::default(),
        publishers: Mutex::default(),
        dynamic_topics: Mutex::default(),
        graph: {
            let graph = robot.graph().clone();
            graph.start_in_background();
            graph
        },
        robot,
    });
    let a = access.clone();
    skills.add(
        SkillSpec::new(
            "ros_topics",
            "List the ROS 2 topics visible now: a list of dicts with name, type and allowed (whether code may read or publish it; the robot profile decides).\n\nExample: [t['name'] for t in ros_topics() if t['allowed']]",
        )
        .returns("list")
        // A read: a rehearsal may ask the real graph.
        .in_rehearsal(InRehearsal::Call),
        move |(), _| a.topics(),
    );
    let a = access.clone();
    skills.add(
        SkillSpec::new(
            "ros_services",
            "List the ROS 2 services visible now: a list of dicts with name, type and allowed (whether ros_call may call it; the robot profile decides). Within 3 s of the start it waits for the graph to be discovered.\n\nExample: [s['name'] for s in ros_services() if s['type'] == 'std_srvs/srv/Trigger']",
        )
        .returns("list")
        .in_rehearsal(InRehearsal::Call),
        move |(), _| a.services(),
    );
    let a = access.clone();
    skills.add(
        SkillSpec::new(
            "ros_read",
            "The latest message on a ROS 2 topic, as a dict (nested fields as dicts and lists). The first read of a topic subscribes and waits up to timeout seconds for a message (a new subscription can take a few seconds to be matched); later reads return the newest one at once. type ('sensor_msgs/msg/Imu') is needed only when nothing publishes the topic yet.\n\nExample: ros_read('/imu')['angular_velocity']['z']",
        )
        .returns("dict")
        .in_rehearsal(InRehearsal::Call),
        move |p: RosRead, _| {
            let timeout = positive_timeout(p.timeout, "ros_read")?;
            a.read(&p.topic, p.r#type.as_deref(), timeout)
        },
    );
    let a = access.clone();
    skills.add(
        SkillSpec::new(
            "ros_publish",
            "Publish a dict as a message on a ROS 2 topic (fields left out keep their defaults). type ('std_msgs/msg/String') is needed when no one uses the topic yet. Move the robot with the motion skills, not by publishing velocities. While the e-stop is latched nothing is published (EStopped).\n\nExample: ros_publish('/led', {'data': 'green'}, type='std_msgs/msg/String')",
        ),
        move |p: RosPublish, _| a.publish(&p.topic, &p.message, p.r#type.as_deref()),
    );
    let a = access.clone();
    skills.add(
        SkillSpec::new(
            "ros_action",
            "Send a goal to a ROS 2 action server and wait for its result, a dict. Its feedback is printed as it comes. The goal is cancelled on the server when the action is interrupted or times out, on an e-stop, or after timeout seconds (SkillTimeout). A goal the server rejects or aborts raises GoalFailed with what it reported. type ('example_interfaces/action/Fibonacci') is needed only when the server is not visible yet.\n\nExample: ros_action('/fibonacci', {'order': 5})['sequence']",
        )
        .returns("dict")
        .raises(ErrorKind::GoalFailed)
        .raises(ErrorKind::SkillTimeout),
        move |p: RosAction, ctx| a.action(&p, ctx),
    );
    let a = access;
    skills.add(
        SkillSpec::new(
            "ros_call",
            "Call a ROS 2 service with a request dict and return the response as a dict. Raises SkillTimeout when no answer comes within timeout seconds; while the e-stop is latched nothing is sent (EStopped).\n\nExample: ros_call('/reset_odometry', 'std_srvs/srv/Trigger', {})['success']",
        )
        .returns("dict"),
        move |p: RosCall, ctx| a.call(&p, &ctx.cancel),
    );
}
