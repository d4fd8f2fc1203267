//! [`McpSession`]: the one executor session an MCP server serves, hosted
//! on its own thread ([`SessionHost`]). One action runs at a time: a call
//! while another really runs is refused at once as busy; a call after the
//! running one was cancelled or stopped waits for it to finish stopping (at
//! most the stop grace and a worker's restart). Stopping never waits for
//! the session's thread: it interrupts the action through the session's
//! interrupter and calls the robot's safe stop directly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use robot_api::{CallContext, SkillSet, Value};
use tokio::sync::{mpsc as live, oneshot};

use codeact_executor::{ExecutorError, Observation, Session, SessionHost, Stream};

/// Why the robot could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum RobotError {
    /// An action is running.
    #[error("the robot is busy with another action; wait for it to finish, or call stop_robot to stop it")]
    Busy,
    /// The executor could not run the action (no worker could be started).
    #[error("{0}")]
    Executor(#[from] ExecutorError),
    /// The session's thread has ended.
    #[error("the robot's session has ended; restart the server")]
    Gone,
    /// The robot cannot draw its map.
    #[error("{0}")]
    NoPicture(String),
}

/// Output of a running action, as it is printed.
pub type Output = live::UnboundedSender<(Stream, String)>;

/// The robot behind an MCP server: its session (on its own thread), its
/// skills, and whether an action is running.
pub struct McpSession {
    host: SessionHost,
    busy: AtomicBool,
    /// The running action was asked to stop (a cancel, stop_robot): the
    /// next call waits for it instead of being refused.
    stopping: AtomicBool,
    /// Told when the running action has ended or was asked to stop.
    changed: Notify,
    /// The longest a call waits for a stopping action.
    stop_wait: Duration,
    /// The API text, the skill library's functions included (as loaded at start).
    api_text: String,
}

/// Clears the busy flag when the job that set it ends, however it ends,
/// and wakes the calls waiting for it.
struct BusyGuard<'a>(&'a McpSession);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.stopping.store(false, Ordering::SeqCst);
        self.0.busy.store(false, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// How long a call to a busy robot waits for a cancel of the running call
/// that may still be on its way before it is refused as busy.
const CANCEL_LAG: Duration = Duration::from_millis(250);

impl McpSession {
    /// Moves `session` onto a thread of its own and serves it.
    pub fn start(session: Session) -> Arc<McpSession> {
        Self::start_in(session, None)
    }

    /// [`McpSession::start`], with the world's summary (a simulated world's)
    /// after the API text.
    pub fn start_in(session: Session, world_summary: Option<&str>) -> Arc<McpSession> {
        let world = world_summary.map(robot_api::registry::world_section);
        let api_text = session.api_text() + &world.unwrap_or_default();
        let stop_wait = session.config().stop_wait();
        Arc::new(McpSession {
            host: SessionHost::start(session, "codeact-mcp-session"),
            busy: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            changed: Notify::new(),
            stop_wait,
            api_text,
        })
    }

    /// Ends the session: stops the running action, if any, and waits until
    /// its worker is gone. A robot's connection (a ROS node) goes when the
    /// last handle to the robot is dropped; call this first, so that nothing
    /// runs while the process exits.
    pub fn close(&self) {
        self.host.close();
    }

    /// The API text a model reads: the skills, the skill library's
    /// functions, and the world when it is a simulated one.
    pub fn api_text(&self) -> &str {
        &self.api_text
    }

    /// The skills, for direct calls.
    pub fn skills(&self) -> &SkillSet {
        self.host.skills()
    }

    /// Marks the robot busy for one job: at once when idle; after the
    /// running action ends when it was asked to stop (bounded by
    /// `stop_wait`); refused as busy while another action really runs.
    /// A client's cancel reaches the running call a moment after the next
    /// request may arrive, so a busy robot is watched for [`CANCEL_LAG`]
    /// before the call is refused.
    async fn claim(&self) -> Result<BusyGuard<'_>, RobotError> {
        let now = tokio::time::Instant::now();
        let (stopped_by, refused_by) = (now + self.stop_wait, now + CANCEL_LAG);
        loop {
            // Registered before the check, so a change in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !self.busy.swap(true, Ordering::SeqCst) {
                return Ok(BusyGuard(self));
            }
            let until = if self.stopping.load(Ordering::SeqCst) {
                stopped_by
            } else {
                refused_by
            };
            if tokio::time::timeout_at(until, changed).await.is_err() {
                return Err(RobotError::Busy);
            }
        }
    }

    /// Whether an action is running now.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }

    /// Runs one code action; its output goes to `output` as it is printed.
    pub async fn execute(
        &self,
        code: String,
        timeout: Option<Duration>,
        output: Output,
    ) -> Result<Observation, RobotError> {
        let _busy = self.claim().await?;
        let (done, result) = oneshot::channel();
        self.host
            .submit(move |session| {
                let mut on_output = |stream: Stream, text: &str| {
                    let _ = output.send((stream, text.to_owned()));
                };
                let _ = done.send(session.execute(&code, timeout, &mut on_output));
            })
            .map_err(|_| RobotError::Gone)?;
        Ok(result.await.map_err(|_| RobotError::Gone)??)
    }

    /// Asks the running action, if any, to stop (its exception, then the
    /// hard stop after the grace period).
    pub fn interrupt(&self) {
        if self.is_busy() {
            self.stopping.store(true, Ordering::SeqCst);
            self.changed.notify_waiters();
        }
        self.host.interrupter().interrupt();
    }

    /// Stops the robot now: interrupts the running action and calls the
    /// safe stop. Returns whether an action was running.
    pub fn stop(&self) -> bool {
        let running = self.is_busy();
        if running {
            self.interrupt();
        }
        self.skills().safe_stop();
        running
    }

    /// Replaces the worker: every variable is gone.
    pub async fn reset(&self) -> Result<(), RobotError> {
        let _busy = self.claim().await?;
        let (done, result) = oneshot::channel();
        self.host
            .submit(move |session| {
                let _ = done.send(session.reset());
            })
            .map_err(|_| RobotError::Gone)?;
        Ok(result.await.map_err(|_| RobotError::Gone)??)
    }

    /// The robot's state in one line (`None` without a robot).
    pub fn state_line(&self) -> Option<String> {
        self.skills().state_line()
    }

    /// A PNG picture of the map within `radius` metres of the robot, made
    /// by the robot's own `get_map_image` skill.
    pub fn picture(&self, radius: f64) -> Result<Vec<u8>, RobotError> {
        let index = self
            .skills()
            .specs()
            .position(|s| s.name == "get_map_image")
            .ok_or_else(|| RobotError::NoPicture("this robot cannot draw its map".into()))?;
        let ctx = CallContext::default();
        match self.skills().call(index, vec![Value::Float(radius)], &ctx) {
            Ok(Value::Bytes(png)) => Ok(png),
            Ok(other) => Err(RobotError::NoPicture(format!(
                "the map skill returned {} instead of a picture",
                other.type_name()
            ))),
            Err(e) => Err(RobotError::NoPicture(e.to_string())),
        }
    }
}
