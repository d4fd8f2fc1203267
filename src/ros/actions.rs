//! Running a ROS 2 action goal from a skill: send it, stream its feedback,
//! cancel it when the code's action is stopped, and turn how it ended into a
//! value or a typed error. Through r2r's untyped (JSON) action client, so any
//! action type the node was built with works. Used by `ros_action`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::task::LocalSpawnExt;
use futures::{FutureExt, StreamExt};
use r2r::{ActionClientGoalUntyped, ActionClientUntyped, GoalStatus};
use robot_api::{CancelToken, ErrorKind, SkillError};
use serde_json::Value as Json;

use super::robot::RosRobot;
use super::spin::RosThread;

/// How long a cancelled goal's server has to confirm before the skill returns anyway.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

thread_local! {
    // One client per action name and type, on the ROS thread that owns them
    // (r2r's handles are not `Send`); the node keeps them alive.
    static CLIENTS: RefCell<HashMap<(String, String), ActionClientUntyped>> = RefCell::default();
}

/// What the ROS thread tells the waiting skill about its goal.
enum Event {
    Accepted(ActionClientGoalUntyped),
    Feedback(Json),
    Done(GoalStatus, Result<Json, String>),
    Failed(SkillError),
}

/// One goal to run.
pub struct Goal<'a> {
    /// The action's name (`/fibonacci`).
    pub name: &'a str,
    /// Its type (`example_interfaces/action/Fibonacci`).
    pub type_name: &'a str,
    /// The goal, as JSON fields.
    pub goal: Json,
    /// The longest it may take, from sending to the result.
    pub timeout: Duration,
}

/// Why a goal's waiting ended early, besides its own end.
pub trait GoalWatch {
    /// Called every few milliseconds: `Some(error)` stops the goal (it is
    /// cancelled) and the skill fails with that error (an e-stop, say).
    fn halt(&self) -> Option<SkillError> {
        None
    }
    /// Each feedback message, as it comes.
    fn feedback(&mut self, feedback: &Json);
}

/// Runs `goal` to its end on the node of `ros`: the result's fields when it
/// succeeded; `GoalFailed` when the server rejected or aborted it (with what
/// it reported), `SkillTimeout` past the timeout, `Cancelled` when `cancel`
/// fires. A goal stopped by any of these is cancelled on the server.
pub fn run_goal(
    ros: &RosThread,
    goal: Goal<'_>,
    cancel: &CancelToken,
    watch: &mut dyn GoalWatch,
) -> Result<Json, SkillError> {
    let name = goal.name.to_owned();
    let (status, result) = run_goal_to_end(ros, goal, cancel, watch)?;
    ended(&name, status, result)
}

/// [`run_goal`], returning how the goal ended (succeeded, aborted,
/// canceled by the server) and its result, for callers that read the
/// result of a failed goal themselves (Nav2's error code). A rejected goal
/// and the stops of [`run_goal`] are still errors.
pub fn run_goal_to_end(
    ros: &RosThread,
    goal: Goal<'_>,
    cancel: &CancelToken,
    watch: &mut dyn GoalWatch,
) -> Result<(GoalStatus, Result<Json, String>), SkillError> {
    let (tx, rx) = mpsc::channel();
    send(ros, &goal, tx)?;
    let deadline = Instant::now() + goal.timeout;
    let mut handle = None;
    loop {
        let stop = if cancel.is_cancelled() {
            Some(SkillError::new(
                ErrorKind::Cancelled,
                format!("{}: the goal was cancelled with the action", goal.name),
            ))
        } else if Instant::now() >= deadline {
            Some(SkillError::new(
                ErrorKind::SkillTimeout,
                match handle {
                    Some(_) => format!(
                        "{}: the goal did not finish within {:.1} s; it was cancelled",
                        goal.name,
                        goal.timeout.as_secs_f64()
                    ),
                    None => format!(
                        "{}: no action server answered within {:.1} s: is it running? (check the name and type, e.g. with ros_topics(), which lists /name/_action/feedback)",
                        goal.name,
                        goal.timeout.as_secs_f64()
                    ),
                },
            ))
        } else {
            watch.halt()
        };
        if let Some(error) = stop {
            if let Some(h) = handle.take() {
                cancel_goal(ros, h, &rx);
            }
            return Err(error);
        }
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(Event::Accepted(h)) => handle = Some(h),
            Ok(Event::Feedback(f)) => watch.feedback(&f),
            Ok(Event::Done(status, result)) => return Ok((status, result)),
            Ok(Event::Failed(e)) => return Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(SkillError::new(
                    ErrorKind::Robot,
                    format!("{}: the ROS node shut down during the goal", goal.name),
                ))
            }
        }
    }
}

/// The result of a goal that ended, or the error saying how it failed.
fn ended(name: &str, status: GoalStatus, result: Result<Json, String>) -> Result<Json, SkillError> {
    let result = result.map_err(|e| {
        SkillError::new(
            ErrorKind::Robot,
            format!("{name}: the result could not be read ({e})"),
        )
    })?;
    match status {
        GoalStatus::Succeeded => Ok(result),
        GoalStatus::Aborted => Err(SkillError::new(
            ErrorKind::GoalFailed,
            format!("{name}: the action server aborted the goal; it reported {result}"),
        )),
        GoalStatus::Canceled => Err(SkillError::new(
            ErrorKind::GoalFailed,
            format!("{name}: the action server canceled the goal; it reported {result}"),
        )),
        other => Err(SkillError::new(
            ErrorKind::GoalFailed,
            format!("{name}: the goal ended in state {other:?}; the server reported {result}"),
        )),
    }
}

/// The client of action `name` with `type_name`, made on first use (on the ROS thread).
fn client(node: &mut r2r::Node, name: &str, type_name: &str) -> r2r::Result<ActionClientUntyped> {
    CLIENTS.with(|clients| {
        let key = (name.to_owned(), type_name.to_owned());
        if let Some(c) = clients.borrow().get(&key) {
            return Ok(c.clone());
        }
        let c = node.create_action_client_untyped(name, type_name)?;
        clients.borrow_mut().insert(key, c.clone());
        Ok(c)
    })
}

fn unusable(name: &str, type_name: &str, e: impl std::fmt::Display) -> SkillError {
    SkillError::new(
        ErrorKind::InvalidArgument,
        format!("{name}: cannot make a client for {type_name}: {e} (is the type right, e.g. 'example_interfaces/action/Fibonacci', and built into this node? see docs/ros.md)"),
    )
}

/// Sends the goal from the ROS thread; events come back on `tx`.
fn send(ros: &RosThread, goal: &Goal<'_>, tx: mpsc::Sender<Event>) -> Result<(), SkillError> {
    let (name, type_name, body) = (
        goal.name.to_owned(),
        goal.type_name.to_owned(),
        goal.goal.clone(),
    );
    let shown = goal.name.to_owned();
    ros.run(move |node, spawner| -> Result<(), SkillError> {
        let client = client(node, &name, &type_name).map_err(|e| unusable(&name, &type_name, e))?;
        let available = r2r::Node::is_available(&client)
            .map_err(|e| SkillError::new(ErrorKind::Robot, format!("{name}: {e}")))?;
        let future = async move {
            if available.await.is_err() {
                return;
            }
            let sent = match client.send_goal_request(body) {
                Ok(sent) => sent.await,
                Err(e) => Err(e),
            };
            let (handle, result, feedback) = match sent {
                Ok(accepted) => accepted,
                Err(r2r::Error::RCL_RET_ACTION_GOAL_REJECTED) => {
                    let _ = tx.send(Event::Failed(SkillError::new(
                        ErrorKind::GoalFailed,
                        format!("{name}: the action server rejected the goal"),
                    )));
                    return;
                }
                Err(e) => {
                    let _ = tx.send(Event::Failed(SkillError::new(
                        ErrorKind::InvalidArgument,
                        format!("{name}: the goal could not be sent: {e} (do its fields fit {type_name}?)"),
                    )));
                    return;
                }
            };
            let _ = tx.send(Event::Accepted(handle));
            let mut result = result.fuse();
            let mut feedback = feedback.fuse();
            loop {
                futures::select! {
                    f = feedback.next() => if let Some(Ok(f)) = f {
                        let _ = tx.send(Event::Feedback(f));
                    },
                    r = result => {
                        let event = match r {
                            Ok((status, value)) => Event::Done(status, value.map_err(|e| e.to_string())),
                            Err(e) => Event::Failed(SkillError::new(ErrorKind::Robot, format!("{name}: {e}"))),
                        };
                        let _ = tx.send(event);
                        return;
                    }
                }
            }
        };
        spawner
            .spawn_local(future)
            .map_err(|e| SkillError::new(ErrorKind::Robot, format!("the ROS thread cannot run the goal: {e}")))
    })
    .map_err(|e| SkillError::new(ErrorKind::Robot, format!("{shown}: {e}")))?
}

/// Asks the server to cancel the goal and waits (briefly) until it has.
fn cancel_goal(ros: &RosThread, handle: ActionClientGoalUntyped, events: &mpsc::Receiver<Event>) {
    let sent = ros.run(move |_, spawner| {
        if let Ok(request) = handle.cancel() {
            let _ = spawner.spawn_local(request.map(|_| ()));
        }
    });
    if sent.is_err() {
        return;
    }
    let deadline = Instant::now() + CANCEL_WAIT;
    while Instant::now() < deadline {
        match events.recv_timeout(Duration::from_millis(10)) {
            Ok(Event::Done(..) | Event::Failed(_)) => return,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
            _ => {}
        }
    }
}

/// Prints a goal's feedback into the action's output (at most
/// [`FEEDBACK_EVERY`] apart; the latest is never lost) and stops the goal on an e-stop.
pub struct FeedbackLines<'a> {
    name: &'a str,
    progress: &'a robot_api::Progress,
    robot: &'a RosRobot,
    last_shown: Option<Instant>,
    pending: Option<serde_json::Value>,
    format: Option<fn(&serde_json::Value) -> String>,
}

/// The shortest time between two feedback lines of one goal.
const FEEDBACK_EVERY: Duration = Duration::from_millis(100);

impl<'a> FeedbackLines<'a> {
    /// Feedback of the goal on `name`, reported to `progress`; `robot`'s e-stop stops it.
    pub fn new(name: &'a str, progress: &'a robot_api::Progress, robot: &'a RosRobot) -> Self {
        FeedbackLines {
            name,
            progress,
            robot,
            last_shown: None,
            pending: None,
            format: None,
        }
    }

    /// Shows each feedback as `format` writes it, instead of as JSON.
    pub fn formatted(mut self, format: fn(&serde_json::Value) -> String) -> Self {
        self.format = Some(format);
        self
    }

    fn show(&mut self, feedback: &serde_json::Value) {
        let text = match self.format {
            Some(format) => format(feedback),
            None => format!("{} feedback: {feedback}", self.name),
        };
        self.progress.report(&text);
        self.last_shown = Some(Instant::now());
        self.pending = None;
    }

    /// Shows the feedback held back by the rate limit.
    pub fn flush(&mut self) {
        if let Some(f) = self.pending.take() {
            self.show(&f);
        }
    }
}

impl GoalWatch for FeedbackLines<'_> {
    fn halt(&self) -> Option<SkillError> {
        self.robot.e_stopped().then(|| {
            SkillError::new(
                ErrorKind::EStopped,
                format!(
                    "{}: the e-stop was engaged; the goal was cancelled",
                    self.name
                ),
            )
        })
    }

    fn feedback(&mut self, feedback: &serde_json::Value) {
        match self.last_shown {
            Some(t) if t.elapsed() < FEEDBACK_EVERY => self.pending = Some(feedback.clone()),
            _ => self.show(feedback),
        }
    }
}

/// Makes the client of action `name` with `type_name` now, so a type this
/// node cannot handle is found at start.
pub fn prepare(ros: &RosThread, name: &str, type_name: &str) -> Result<(), SkillError> {
    let (n, t) = (name.to_owned(), type_name.to_owned());
    ros.run(move |node, _| client(node, &n, &t).map(|_| ()))
        .map_err(|e| SkillError::new(ErrorKind::Robot, e.to_string()))?
        .map_err(|e| unusable(name, type_name, e))
}

/// The action type of the server `name` as the graph shows it (its feedback
/// topic's type, `pkg/action/X_FeedbackMessage`), if visible.
pub fn action_type(topics: &HashMap<String, Vec<String>>, name: &str) -> Option<String> {
    let feedback = format!("{}/_action/feedback", name.trim_end_matches('/'));
    topics
        .get(&feedback)?
        .first()?
        .strip_suffix("_FeedbackMessage")
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_type_comes_from_the_feedback_topic() {
        let topics = HashMap::from([(
            "/fibonacci/_action/feedback".to_owned(),
            vec!["example_interfaces/action/Fibonacci_FeedbackMessage".to_owned()],
        )]);
        assert_eq!(
            action_type(&topics, "/fibonacci").as_deref(),
            Some("example_interfaces/action/Fibonacci")
        );
        assert_eq!(action_type(&topics, "/other"), None);
    }

    #[test]
    fn how_a_goal_ended_becomes_a_value_or_a_typed_error() {
        let r = serde_json::json!({"error_code": 9000, "error_msg": "no path"});
        assert_eq!(
            ended("/nav", GoalStatus::Succeeded, Ok(r.clone())).unwrap(),
            r
        );
        let e = ended("/nav", GoalStatus::Aborted, Ok(r.clone())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::GoalFailed);
        assert!(
            e.message.contains("aborted the goal") && e.message.contains("no path"),
            "{e}"
        );
        let e = ended("/nav", GoalStatus::Succeeded, Err("bad".into())).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Robot);
    }
}
