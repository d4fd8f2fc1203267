//! Running the skills a profile declares (`ros_skills`, see
//! [`super::declared`]) over ROS: each is added to the skill set with its
//! Python face, after its fields are checked against the installed interface
//! definitions and its client or publisher is made (so a bad declaration
//! fails the start, at its line, not the first call). A type the node was
//! built with goes through r2r; any other installed type through the type
//! support loaded at run time ([`crate::dynamic`], on the graph node).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use r2r::QosProfile;
use robot_api::{AnyArgs, CallContext, ErrorKind, SkillError, SkillSet, Value};

use super::access::publish_run_time;
use super::actions::{self, FeedbackLines, Goal};
use super::declared::{DeclarationError, DeclaredSkill, Kind};
use super::idl::Idl;
use super::profile::{ProfileError, RobotProfile};
use super::robot::RosRobot;
use super::services;
use super::spin::RosThread;

/// Checks the profile's declared skills against the installed interface
/// definitions: before connecting, so a bad declaration fails at once.
/// Returns the definitions, for [`add_declared_skills`].
pub fn check_declared_skills(profile: &RobotProfile) -> Result<Idl, ProfileError> {
    let idl = Idl::from_env();
    for declared in &profile.ros_skills {
        declared
            .check_fields(&idl)
            .map_err(|e| profile.declaration_error(&e))?;
    }
    Ok(idl)
}

/// Adds the profile's declared skills (checked with
/// [`check_declared_skills`], which gave `idl`) to `skills`.
pub fn add_declared_skills(
    skills: &mut SkillSet,
    ros: &Arc<RosThread>,
    robot: &Arc<RosRobot>,
    profile: &RobotProfile,
    idl: &Idl,
) -> Result<(), ProfileError> {
    for declared in &profile.ros_skills {
        let taken: Vec<String> = skills.specs().map(|s| s.name.clone()).collect();
        declared
            .check_shape(&taken)
            .map_err(|e| profile.declaration_error(&e))?;
        let runner = Runner::start(declared, ros, robot).map_err(|e| {
            profile.declaration_error(&DeclarationError::new(declared, "type:", e.message))
        })?;
        if let Some(record) = declared.record() {
            skills.add_record(record);
        }
        let spec = declared.spec(&declared.returns_annotation(idl));
        skills.add(spec, move |AnyArgs(args), ctx| runner.call(&args, ctx));
    }
    Ok(())
}

/// One declared skill, ready to run.
struct Runner {
    skill: DeclaredSkill,
    ros: Arc<RosThread>,
    robot: Arc<RosRobot>,
    /// A topic skill's publisher: r2r's, or `None` for a type loaded at run time.
    publisher: Option<Mutex<r2r::PublisherUntyped>>,
    /// Whether the service's or topic's type is built into the node.
    built_in: bool,
}

impl Runner {
    /// Makes the client or publisher now: a type this node was not built
    /// with fails here.
    fn start(
        skill: &DeclaredSkill,
        ros: &Arc<RosThread>,
        robot: &Arc<RosRobot>,
    ) -> Result<Self, SkillError> {
        let name = skill.ros_name();
        let graph = robot.graph();
        let (publisher, built_in) = match skill.kind() {
            Kind::Action => {
                actions::prepare(ros, graph, name, &skill.type_name)?;
                (None, true)
            }
            Kind::Service => (None, services::prepare(ros, graph, name, &skill.type_name)?),
            Kind::Topic => {
                let (topic, ty) = (name.to_owned(), skill.type_name.clone());
                let made = ros
                    .run(move |node, _| {
                        node.create_publisher_untyped(&topic, &ty, QosProfile::default())
                    })
                    .map_err(|e| SkillError::new(ErrorKind::Robot, e.to_string()))?;
                match made {
                    Ok(publisher) => (Some(Mutex::new(publisher)), true),
                    Err(r2r::Error::InvalidMessageType { .. }) => {
                        crate::dynamic::DynamicType::load(&skill.type_name).map_err(|e| {
                            SkillError::new(
                                ErrorKind::InvalidArgument,
                                format!("cannot publish {} on {name}: {e}", skill.type_name),
                            )
                        })?;
                        (None, false)
                    }
                    Err(e) => {
                        return Err(SkillError::new(
                            ErrorKind::InvalidArgument,
                            format!("cannot publish {} on {name}: {e}", skill.type_name),
                        ))
                    }
                }
            }
        };
        Ok(Runner {
            skill: skill.clone(),
            ros: ros.clone(),
            robot: robot.clone(),
            publisher,
            built_in,
        })
    }

    fn call(&self, args: &[Value], ctx: &CallContext) -> Result<Value, SkillError> {
        let skill = &self.skill;
        let input = skill.input(args);
        let timeout = Duration::from_secs_f64(skill.timeout());
        let name = skill.ros_name();
        if skill.kind() != Kind::Action && skill.moves() {
            // Goals are refused by the goal ledger, with the same check.
            self.robot.refuse_while_latched(name)?;
        }
        let result = match skill.kind() {
            Kind::Action => {
                let mut lines = FeedbackLines::new(&skill.name, &ctx.progress, &self.robot);
                let goal = Goal {
                    name,
                    type_name: &skill.type_name,
                    goal: input,
                    timeout,
                };
                let result = actions::run_goal(&self.robot, goal, &ctx.cancel, &mut lines);
                lines.flush();
                result?
            }
            Kind::Service if !self.built_in => services::call_run_time(
                self.robot.graph(),
                name,
                &skill.type_name,
                &input,
                timeout,
                &ctx.cancel,
            )?,
            Kind::Service => services::call(
                &self.ros,
                name,
                &skill.type_name,
                input,
                timeout,
                &ctx.cancel,
            )?,
            Kind::Topic => {
                let Some(publisher) = &self.publisher else {
                    publish_run_time(self.robot.graph(), name, &skill.type_name, &input)?;
                    return Ok(Value::None);
                };
                publisher
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .publish(input)
                    .map_err(|e| {
                        SkillError::new(
                            ErrorKind::InvalidArgument,
                            format!(
                                "{}(): the message does not fit {}: {e}",
                                skill.name, skill.type_name
                            ),
                        )
                    })?;
                return Ok(Value::None);
            }
        };
        Ok(skill.output(&result))
    }
}
