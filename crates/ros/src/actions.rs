//! Running a ROS 2 action goal from a skill: send it, stream its feedback,
//! cancel it when the code's action is stopped, and turn how it ended into a
//! value or a typed error. Through r2r's untyped (JSON) action client for the
//! types the node was built with, and through the graph node's rcl_action
//! client for any other installed type ([`crate::graph`]); one ledger for
//! both. Used by `ros_action`, declared action skills and Nav2.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures::task::LocalSpawnExt;
use futures::{FutureExt, StreamExt};
use r2r::{ActionClientGoalUntyped, ActionClientUntyped, GoalStatus};
use robot_api::{CancelToken, ErrorKind, SkillError};
use serde_json::Value as Json;

use super::dynamic::DynamicError;
use super::goals::{GoalId, GoalLedger};
use super::graph::{DynGoal, Graph, PublishError};
use super::robot::RosRobot;
use super::spin::RosThread;

/// A goal the server accepted, as its client holds it: what cancels it.
#[derive(Clone)]
pub enum GoalHandle {
    /// Through r2r (a type the node was built with).
    Compiled(ActionClientGoalUntyped),
    /// Through the graph node (a type loaded at run time).
    RunTime(DynGoal),
}

/// The ledger of every goal, of either kind.
pub type Ledger = GoalLedger<GoalHandle>;

/// The longest a goal of a run-time type goes unlooked at: its thread
/// waits on the client this long at most (and wakes when anything arrives).
const RUN_TIME_POLL: Duration = Duration::from_millis(2);

/// How long a cancelled goal's server has to confirm before the skill returns anyway.
const CANCEL_WAIT: Duration = Duration::from_secs(2);

thread_local! {
    // One client per action name and type, on the ROS thread that owns them
    // (r2r's handles are not `Send`); the node keeps them alive.
    static CLIENTS: RefCell<HashMap<(String, String), ActionClientUntyped>> = RefCell::default();
}

/// What the ROS thread tells the waiting skill about its goal.
enum Event {
    Accepted,
    Feedback(Json),
    Done(GoalStatus, Result<Json, r2r::Error>),
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

/// Runs `goal` to its end through `robot`'s node: the result's fields when
/// it succeeded; `GoalFailed` when the server rejected or aborted it (with
/// what it reported), `SkillTimeout` past the timeout, `Cancelled` when
/// `cancel` fires, `EStopped` while the e-stop is latched (nothing is sent).
/// The goal lives in the robot's [`GoalLedger`](super::goals::GoalLedger)
/// from before it is sent: a goal stopped by any of these is cancelled on
/// the server, or never sent if it was not yet.
pub fn run_goal(
    robot: &RosRobot,
    goal: Goal<'_>,
    cancel: &CancelToken,
    watch: &mut dyn GoalWatch,
) -> Result<Json, SkillError> {
    let name = goal.name.to_owned();
    let (status, result) = run_goal_to_end(robot, goal, cancel, watch)?;
    ended(&name, status, result)
}

/// Keeps a goal in the ledger while its skill waits, and tells the ledger
/// when the skill returns, however it returns.
struct Entry<'a> {
    ledger: &'a Ledger,
    id: GoalId,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        self.ledger.finished(self.id);
    }
}

/// [`run_goal`], returning how the goal ended (succeeded, aborted,
/// canceled by the server) and its result, for callers that read the
/// result of a failed goal themselves (Nav2's error code). A rejected goal
/// and the stops of [`run_goal`] are still errors.
pub fn run_goal_to_end(
    robot: &RosRobot,
    goal: Goal<'_>,
    cancel: &CancelToken,
    watch: &mut dyn GoalWatch,
) -> Result<(GoalStatus, Result<Json, r2r::Error>), SkillError> {
    // The e-stop is checked before anything is sent, and the ledger refuses
    // a goal while it is latched (the same check, without a race).
    let nothing_sent = |e: SkillError| super::robot::nothing_sent(goal.name, e);
    if let Some(error) = watch.halt() {
        return Err(nothing_sent(error));
    }
    let ledger = robot.goals();
    let id = ledger
        .open(goal.name)
        .map_err(|_| nothing_sent(robot.e_stop_error()))?;
    let entry = Entry { ledger, id };
    let (tx, rx) = mpsc::channel();
    if !send(robot.ros(), &goal, tx.clone(), ledger.clone(), id)? {
        send_run_time(robot.graph().clone(), &goal, tx, ledger.clone(), id)?;
    }
    let deadline = Instant::now() + goal.timeout;
    let mut accepted = false;
    loop {
        if let Some(error) = stop_reason(&goal, cancel, deadline, accepted, watch) {
            if let Some(h) = entry.ledger.give_up(entry.id, &error.message) {
                robot.cancel_goal(h);
                wait_for_end(&rx);
            }
            if error.kind == ErrorKind::EStopped {
                let what = if accepted {
                    "the goal was cancelled"
                } else {
                    "the goal was withdrawn before the server accepted it"
                };
                let message = format!("{}: {what}; {}", goal.name, error.message);
                return Err(SkillError::new(error.kind, message));
            }
            return Err(error);
        }
        match rx.recv_timeout(Duration::from_millis(5)) {
            Ok(Event::Accepted) => accepted = true,
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

/// Why the skill must stop waiting for its goal now, if it must.
fn stop_reason(
    goal: &Goal<'_>,
    cancel: &CancelToken,
    deadline: Instant,
    accepted: bool,
    watch: &dyn GoalWatch,
) -> Option<SkillError> {
    if cancel.is_cancelled() {
        return Some(SkillError::new(
            ErrorKind::Cancelled,
            format!("{}: the goal was cancelled with the action", goal.name),
        ));
    }
    if Instant::now() < deadline {
        return watch.halt();
    }
    let seconds = goal.timeout.as_secs_f64();
    Some(SkillError::new(
        ErrorKind::SkillTimeout,
        if accepted {
            format!(
                "{}: the goal did not finish within {seconds:.1} s; it was cancelled",
                goal.name
            )
        } else {
            format!(
                "{}: no action server answered within {seconds:.1} s, and the goal will not be sent later: is the server running? (check the name and type, e.g. with ros_topics(), which lists /name/_action/feedback)",
                goal.name
            )
        },
    ))
}

/// The result of a goal that ended, or the error saying how it failed.
fn ended(
    name: &str,
    status: GoalStatus,
    result: Result<Json, r2r::Error>,
) -> Result<Json, SkillError> {
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
        format!("{name}: cannot make a client for {type_name}: {e} (is the type right, e.g. 'example_interfaces/action/Fibonacci', and its package installed and sourced? see docs/ros.md)"),
    )
}

/// Sends the goal from the ROS thread once its server is there, if the
/// ledger still allows it then; events come back on `tx`. `false` when the
/// node was not built with the type (nothing was done).
fn send(
    ros: &RosThread,
    goal: &Goal<'_>,
    tx: mpsc::Sender<Event>,
    ledger: Arc<Ledger>,
    id: GoalId,
) -> Result<bool, SkillError> {
    let (name, type_name, body) = (
        goal.name.to_owned(),
        goal.type_name.to_owned(),
        goal.goal.clone(),
    );
    let shown = goal.name.to_owned();
    ros.run(move |node, spawner| -> Result<bool, SkillError> {
        let client = match client(node, &name, &type_name) {
            Ok(client) => client,
            Err(r2r::Error::InvalidMessageType { .. }) => return Ok(false),
            Err(e) => return Err(unusable(&name, &type_name, e)),
        };
        let available = r2r::Node::is_available(&client)
            .map_err(|e| SkillError::new(ErrorKind::Robot, format!("{name}: {e}")))?;
        let future = async move {
            if available.await.is_err() || !ledger.may_send(id) {
                return;
            }
            let sent = match client.send_goal_request(body) {
                Ok(sent) => sent.await,
                Err(e) => Err(e),
            };
            let (handle, result, feedback) = match sent {
                Ok(accepted) => accepted,
                Err(e) => {
                    ledger.ended(id);
                    let _ = tx.send(Event::Failed(not_sent(&name, &type_name, e)));
                    return;
                }
            };
            if ledger
                .accepted(id, GoalHandle::Compiled(handle.clone()))
                .is_some()
            {
                // Given up while the request was on its way: it stops now.
                if let Ok(cancelled) = handle.cancel() {
                    let _ = cancelled.await;
                }
            } else {
                let _ = tx.send(Event::Accepted);
            }
            let event = follow(&name, result, feedback, &tx).await;
            ledger.ended(id);
            let _ = tx.send(event);
        };
        spawner.spawn_local(future).map_err(|e| {
            SkillError::new(
                ErrorKind::Robot,
                format!("the ROS thread cannot run the goal: {e}"),
            )
        })?;
        Ok(true)
    })
    .map_err(|e| SkillError::new(ErrorKind::Robot, format!("{shown}: {e}")))?
}

/// Why a goal request failed, as the skill reports it.
fn not_sent(name: &str, type_name: &str, e: r2r::Error) -> SkillError {
    match e {
        r2r::Error::RCL_RET_ACTION_GOAL_REJECTED => SkillError::new(
            ErrorKind::GoalFailed,
            format!("{name}: the action server rejected the goal"),
        ),
        e => SkillError::new(
            ErrorKind::InvalidArgument,
            format!("{name}: the goal could not be sent: {e} (do its fields fit {type_name}?)"),
        ),
    }
}

/// Sends the goal of a type loaded at run time, on a thread of its own,
/// under the same rules as [`send`]: once its server is there and if the
/// ledger still allows it then; a goal accepted after its skill gave up is
/// cancelled at once. Events come back on `tx`.
fn send_run_time(
    graph: Graph,
    goal: &Goal<'_>,
    tx: mpsc::Sender<Event>,
    ledger: Arc<Ledger>,
    id: GoalId,
) -> Result<(), SkillError> {
    graph
        .prepare_action(goal.name, goal.type_name)
        .map_err(|e| unusable(goal.name, goal.type_name, e))?;
    let body = goal.goal.clone();
    let goal = DynGoal {
        action: goal.name.to_owned(),
        type_name: goal.type_name.to_owned(),
        uuid: *uuid::Uuid::new_v4().as_bytes(),
    };
    let thread = move || {
        let event = run_time_goal(&graph, &goal, &body, &ledger, id, &tx)
            .unwrap_or_else(|e| Some(Event::Failed(e)));
        graph.forget_goal(&goal.action, &goal.uuid);
        ledger.ended(id);
        if let Some(event) = event {
            let _ = tx.send(event);
        }
    };
    std::thread::Builder::new()
        .name("ros-goal".into())
        .spawn(thread)
        .map(|_| ())
        .map_err(|e| {
            SkillError::new(
                ErrorKind::Robot,
                format!("cannot start a goal's thread: {e}"),
            )
        })
}

/// One goal of a run-time type, from waiting for its server to its end:
/// the event that ends it; `None` when it was never sent (its skill gave up
/// first) or its skill has returned and its result did not follow.
fn run_time_goal(
    graph: &Graph,
    goal: &DynGoal,
    body: &Json,
    ledger: &Ledger,
    id: GoalId,
    tx: &mpsc::Sender<Event>,
) -> Result<Option<Event>, SkillError> {
    let (name, ty) = (goal.action.as_str(), goal.type_name.as_str());
    let fail = |e: PublishError| SkillError::new(ErrorKind::Robot, format!("{name}: {e}"));
    while !graph.action_available(name, ty).map_err(fail)? {
        if !ledger.is_open(id) {
            return Ok(None);
        }
        std::thread::sleep(RUN_TIME_POLL * 5);
    }
    if !ledger.may_send(id) {
        return Ok(None);
    }
    let sequence = graph
        .send_goal(name, ty, goal.uuid, body)
        .map_err(|e| match e {
            PublishError::Type(DynamicError::Value { .. }) => SkillError::new(
                ErrorKind::InvalidArgument,
                format!("{name}: the goal does not fit {ty}: {e}"),
            ),
            e => fail(e),
        })?;
    let accepted = loop {
        if let Some(accepted) = graph.goal_answer(name, sequence).map_err(fail)? {
            break accepted;
        }
        graph.wait_for_goal(name, RUN_TIME_POLL).map_err(fail)?;
    };
    if !accepted {
        return Ok(Some(Event::Failed(not_sent(
            name,
            ty,
            r2r::Error::RCL_RET_ACTION_GOAL_REJECTED,
        ))));
    }
    if ledger
        .accepted(id, GoalHandle::RunTime(goal.clone()))
        .is_some()
    {
        let _ = graph.cancel_goal(goal);
    } else {
        let _ = tx.send(Event::Accepted);
    }
    let sequence = graph.request_result(name, ty, goal.uuid).map_err(fail)?;
    let mut skill_gone = None;
    loop {
        let (feedback, result) = graph
            .goal_progress(name, &goal.uuid, sequence)
            .map_err(fail)?;
        for f in feedback {
            let _ = tx.send(Event::Feedback(f));
        }
        if let Some(end) = result {
            let status = GoalStatus::from_rcl(end.status);
            return Ok(Some(Event::Done(status, Ok(end.result))));
        }
        // Its skill has returned (and cancelled it if it had to): the
        // result is awaited as long as a cancelled goal's is.
        if !ledger.is_open(id)
            && skill_gone.get_or_insert_with(Instant::now).elapsed() > CANCEL_WAIT
        {
            return Ok(None);
        }
        graph.wait_for_goal(name, RUN_TIME_POLL).map_err(fail)?;
    }
}

/// Passes an accepted goal's feedback on until its result comes; returns
/// the event saying how it ended.
async fn follow(
    name: &str,
    result: impl std::future::Future<Output = r2r::Result<(GoalStatus, r2r::Result<Json>)>>,
    feedback: impl futures::Stream<Item = r2r::Result<Json>> + Unpin,
    tx: &mpsc::Sender<Event>,
) -> Event {
    let mut result = std::pin::pin!(result.fuse());
    let mut feedback = feedback.fuse();
    loop {
        futures::select! {
            f = feedback.next() => if let Some(Ok(f)) = f {
                let _ = tx.send(Event::Feedback(f));
            },
            r = result => return match r {
                Ok((status, value)) => Event::Done(status, value),
                Err(e) => Event::Failed(SkillError::new(ErrorKind::Robot, format!("{name}: {e}"))),
            },
        }
    }
}

/// Waits (briefly) until a goal whose cancel was sent has ended.
fn wait_for_end(events: &mpsc::Receiver<Event>) {
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
        self.robot.e_stopped().then(|| self.robot.e_stop_error())
    }

    fn feedback(&mut self, feedback: &serde_json::Value) {
        match self.last_shown {
            Some(t) if t.elapsed() < FEEDBACK_EVERY => self.pending = Some(feedback.clone()),
            _ => self.show(feedback),
        }
    }
}

/// Makes the client of action `name` with `type_name` now (r2r's, or the
/// graph node's for a type the node was not built with), so a type that
/// cannot be used is found at start.
pub fn prepare(
    ros: &RosThread,
    graph: &Graph,
    name: &str,
    type_name: &str,
) -> Result<(), SkillError> {
    let (n, t) = (name.to_owned(), type_name.to_owned());
    let made = ros
        .run(move |node, _| client(node, &n, &t).map(|_| ()))
        .map_err(|e| SkillError::new(ErrorKind::Robot, e.to_string()))?;
    match made {
        Ok(()) => Ok(()),
        Err(r2r::Error::InvalidMessageType { .. }) => graph
            .prepare_action(name, type_name)
            .map_err(|e| unusable(name, type_name, e)),
        Err(e) => Err(unusable(name, type_name, e)),
    }
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
        let e = ended(
            "/nav",
            GoalStatus::Succeeded,
            Err(r2r::Error::RCL_RET_ERROR),
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Robot);
    }
}
