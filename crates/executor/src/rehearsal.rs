//! Rehearsals: an action run first in a copy of the worker — a fork, its
//! Python namespace copied on write — against other skills (a twin of the
//! robot), on channels of its own. The copy never holds the worker's
//! channels (they are closed in it at the fork), so nothing it calls reaches
//! the session's skills, and nothing it sets, imports or starts is in the
//! session afterwards: the copy ends with its rehearsal.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use robot_api::SkillSet;

use super::action::{run_on, ActionIo, Channels};
use super::observation::{Observation, Status};
use super::session::{ExecutorError, Session};
use super::skill_server::{serve_skills, SkillShared};
use super::wire::{
    send_fds, socket_pair, wait_fd, ExecuteRequest, FromWorker, Receiver, Sender, ToWorker,
    REHEARSAL_DIR,
};

/// The most a workspace may hold to be copied for a rehearsal; a larger one
/// is not copied, and the rehearsal cannot write files.
const COPY_BUDGET: u64 = 64 << 20;

/// How long the worker has to say its rehearsal's process has ended after
/// the rehearsal was stopped; past it the worker is restarted.
const END_WAIT: Duration = Duration::from_secs(5);

/// What a rehearsal gave.
#[derive(Debug, Clone)]
pub struct Rehearsed {
    /// What the code printed, returned or raised, and the twin's skill
    /// calls (the twin's own report is the caller's to add).
    pub observation: Observation,
    /// The worker did not confirm the rehearsal's end and was restarted
    /// (the session's variables are gone); why.
    pub worker_restart: Option<String>,
}

impl Session {
    /// Rehearses `code` against `twin` (skills with the same declarations as
    /// the session's, in the same order) within `limit`: in a fork of the
    /// worker, so the session's namespace is as it was afterwards. The real
    /// skills are never called. The action number is the one the next
    /// action will have.
    pub fn rehearse(
        &mut self,
        code: &str,
        twin: Arc<SkillSet>,
        limit: Duration,
    ) -> Result<Rehearsed, ExecutorError> {
        let same = twin.len() == self.skills().len()
            && twin
                .specs()
                .zip(self.skills().specs())
                .all(|(a, b)| a.name == b.name);
        if !same {
            return Err(ExecutorError::InvalidRequest(
                "a rehearsal's skills must be declared as the session's, in the same order".into(),
            ));
        }
        if !super::valid_time_limit(limit.as_secs_f64()) {
            return Err(ExecutorError::InvalidRequest(format!(
                "a rehearsal's time limit must be between 0 and {} seconds",
                super::MAX_ACTION_SECONDS
            )));
        }
        let action = self.next_action();
        let config = self.config().clone();
        let copy = self.workspace().join(REHEARSAL_DIR);
        let copied = copy_workspace(self.workspace(), &copy);
        let interrupter = self.interrupter();
        let worker = self.worker_mut()?;

        // The rehearsal's own channels; the worker's ends are passed to it.
        let (control, control_w) = socket_pair()?;
        let (skill, skill_w) = socket_pair()?;
        let (interrupt, interrupt_w) = socket_pair()?;
        send_fds(
            &worker.rehearsal,
            &[
                control_w.as_raw_fd(),
                skill_w.as_raw_fd(),
                interrupt_w.as_raw_fd(),
            ],
        )?;
        drop((control_w, skill_w, interrupt_w));

        // The twin's skill server, with a progress pipe of its own.
        let shared = Arc::new(SkillShared::default());
        let (progress, progress_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(std::io::Error::from)?;
        let progress_w = File::from(progress_w);
        let sink = robot_api::Progress::new(move |text| {
            let _ = (&progress_w).write(text.as_bytes());
        });
        let (skill_rx, skill_tx) = (Receiver::new(skill.try_clone()?), Sender::new(skill));
        let server_shared = shared.clone();
        let server = std::thread::Builder::new()
            .name("codeact-twin-skills".into())
            .spawn(move || serve_skills(skill_rx, skill_tx, twin, server_shared, &sink))?;

        let mut control_rx = Receiver::new(control);
        let mut interrupt_tx = Sender::new(interrupt);
        let mut progress = File::from(progress);
        let mut describe = |what: &str| format!("{what} (the rehearsal's process)");
        let request = ToWorker::Rehearse(Box::new(ExecuteRequest {
            action,
            code: code.to_owned(),
            limits: config.output,
        }));
        let channels = Channels {
            control_tx: &mut worker.control_tx,
            control_rx: &mut control_rx,
            interrupt_tx: &mut interrupt_tx,
            stdout: &mut worker.stdout,
            stderr: &mut worker.stderr,
            progress: &mut progress,
            pidfd: -1,
            shared: &shared,
            describe_exit: &mut describe,
        };
        let mut quiet = |_: super::Stream, _: &str| {};
        let io = ActionIo {
            on_output: &mut quiet,
            input: None,
        };
        let run = run_on(
            channels,
            &config,
            &interrupter,
            (action, request),
            limit,
            io,
        );
        let mut observation = run.observation;
        match copied {
            Ok(None) => {}
            Ok(Some(note)) => observation.notes.push(note),
            Err(e) => observation.notes.push(format!(
                "the workspace could not be copied for the rehearsal: {e}"
            )),
        }
        if run.outcome.worker_lost.is_some() || observation.status != Status::Ok {
            // Stopped, hung or gone: the worker ends its process now.
            let _ = worker.interrupt_tx.send(&ToWorker::EndRehearsal);
        }
        if let Some(why) = &run.outcome.worker_lost {
            observation
                .notes
                .push(format!("the rehearsal was ended: {why}"));
        }
        // Its channels close; a process still alive sees its interrupt
        // channel close and exits.
        drop((control_rx, interrupt_tx));
        let ended = wait_for_end(&mut worker.control_rx);
        let _ = std::fs::remove_dir_all(&copy);
        // The server ends when the process's end of its channel closes; a
        // twin's handler ignoring its cancel token is not waited for.
        shared.cancel_running();
        drop(server);
        let worker_restart = match ended {
            Ok(()) => None,
            Err(why) => {
                self.restart_worker()?;
                Some(why)
            }
        };
        Ok(Rehearsed {
            observation,
            worker_restart,
        })
    }
}

/// Waits for the worker to say its rehearsal's process has ended.
fn wait_for_end(control: &mut Receiver) -> Result<(), String> {
    let deadline = Instant::now() + END_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "the worker did not end its rehearsal within {} s",
                END_WAIT.as_secs()
            ));
        }
        match control.try_recv::<FromWorker>() {
            Ok(Some(FromWorker::RehearsalEnded { .. })) => return Ok(()),
            Ok(Some(_)) => {}
            Ok(None) => {
                let _ = wait_fd(control.raw_fd(), nix::poll::PollFlags::POLLIN, Some(left));
            }
            Err(e) => return Err(format!("the worker was lost after a rehearsal ({e})")),
        }
    }
}

/// Makes `copy` a copy of `workspace` (without its `.tmp`): the rehearsal's
/// own files. `Some(note)` when the workspace is too large to copy.
fn copy_workspace(workspace: &Path, copy: &Path) -> std::io::Result<Option<String>> {
    let _ = std::fs::remove_dir_all(copy);
    std::fs::create_dir_all(copy)?;
    let mut budget = COPY_BUDGET;
    if copy_tree(workspace, copy, &mut budget, true)? {
        return Ok(None);
    }
    std::fs::remove_dir_all(copy)?;
    Ok(Some(format!(
        "the workspace holds more than {} MiB, so it was not copied for the rehearsal: the rehearsal could not write files",
        COPY_BUDGET >> 20
    )))
}

/// Copies the tree `from` into `to` (files, folders, symbolic links as
/// links) while `budget` bytes last; whether it all fit.
fn copy_tree(from: &Path, to: &Path, budget: &mut u64, top: bool) -> std::io::Result<bool> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if top && entry.file_name() == ".tmp" {
            continue;
        }
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
        } else if kind.is_dir() {
            std::fs::create_dir(&target)?;
            if !copy_tree(&source, &target, budget, false)? {
                return Ok(false);
            }
        } else if kind.is_file() {
            let size = entry.metadata()?.len();
            if size > *budget {
                return Ok(false);
            }
            *budget -= size;
            std::fs::copy(&source, &target)?;
        }
    }
    Ok(true)
}
