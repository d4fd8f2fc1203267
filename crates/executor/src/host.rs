//! [`SessionHost`]: one session on a thread of its own, the only owner of
//! it (an actor). Servers that take requests from elsewhere (the MCP
//! server's calls, the ROS node's services and goals) send it jobs, which it
//! runs in turn; stopping never waits for that thread: it goes through the
//! session's interrupter and the robot's safe stop directly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use robot_api::SkillSet;

use crate::interrupter::Interrupter;
use crate::session::Session;

/// Work for the session: runs on the host's thread with the session.
pub type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// The host's thread has ended (it was closed), so the job was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the robot's session has ended")]
pub struct HostClosed;

/// One session, on its own thread, running jobs in turn.
pub struct SessionHost {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Set by [`SessionHost::close`]: queued jobs are dropped, not run.
    closing: Arc<AtomicBool>,
    interrupter: Interrupter,
    skills: Arc<SkillSet>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl SessionHost {
    /// Moves `session` onto a thread called `name` and serves it.
    pub fn start(session: Session, name: &str) -> SessionHost {
        let (jobs, queue) = mpsc::channel::<Job>();
        let interrupter = session.interrupter();
        let skills = session.shared_skills();
        let closing = Arc::new(AtomicBool::new(false));
        let closed = closing.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut session = session;
                while let Ok(job) = queue.recv() {
                    // A job dropped unrun drops its reply channel: its caller
                    // hears the session has ended.
                    if !closed.load(Ordering::SeqCst) {
                        job(&mut session);
                    }
                }
                // The session ends here, on its own thread: worker killed,
                // robot safe-stopped, workspace removed.
            })
            .expect("a thread can be started");
        SessionHost {
            jobs: Mutex::new(Some(jobs)),
            closing,
            interrupter,
            skills,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// Queues `job`; it runs after the jobs before it.
    pub fn submit(
        &self,
        job: impl FnOnce(&mut Session) + Send + 'static,
    ) -> Result<(), HostClosed> {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let sender = jobs.as_ref().ok_or(HostClosed)?;
        sender.send(Box::new(job)).map_err(|_| HostClosed)
    }

    /// Stops the running action, if any, from any thread.
    pub fn interrupter(&self) -> &Interrupter {
        &self.interrupter
    }

    /// The session's skills, for direct calls (the safe stop, the state).
    pub fn skills(&self) -> &Arc<SkillSet> {
        &self.skills
    }

    /// Ends the session: interrupts the running action, stops the robot,
    /// drops the jobs not yet started and waits until the session is gone
    /// (its worker and workspace). A robot's connection (a ROS node) goes
    /// when the last handle to the robot is dropped; close first, so that
    /// nothing runs while the process exits.
    pub fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        self.interrupter.interrupt();
        self.skills.safe_stop();
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for SessionHost {
    fn drop(&mut self) {
        self.close();
    }
}
