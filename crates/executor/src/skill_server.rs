//! The skill server: one thread per worker that runs the skill calls its
//! code makes, records them for the observation, refuses calls of an action
//! that has ended, and lets the action loop cancel the call running now.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use robot_api::registry::Claim;
use robot_api::{CallContext, CancelToken, Progress, SkillError, SkillSet};

use super::observation::{CallOutcome, SkillCall};
use super::wire::{CallMode, Receiver, Sender, SkillReply, SkillRequest, WireError};

/// How long the skill server spins for the next request before sleeping.
const SKILL_SERVER_SPIN: Duration = Duration::from_micros(100);
/// Skill calls listed in one observation at most; the rest are counted.
const MAX_CALL_RECORDS: usize = 1000;

/// What the skill server shares with the action loop.
#[derive(Default)]
pub(super) struct SkillShared {
    pub(super) action: AtomicU64,
    pub(super) cancel: Mutex<CancelToken>,
    pub(super) calls: Mutex<Vec<SkillCall>>,
    pub(super) calls_total: AtomicU64,
    pub(super) protocol_error: Mutex<Option<String>>,
    /// Held while a handler runs: the action loop takes it before returning,
    /// so no skill call of an action is still running after the action ended.
    pub(super) busy: Mutex<()>,
    /// Calls started in the background (`CallMode::Start`).
    pub(super) started: Mutex<Started>,
    /// Told whenever a started call ends.
    pub(super) started_changed: Condvar,
}

/// The calls an action started in the background.
#[derive(Default)]
pub(super) struct Started {
    /// The last handle given.
    next: u64,
    /// Started calls still running.
    running: usize,
    /// By handle: the result, once the call has ended, until waited for.
    results: HashMap<u64, Option<SkillReply>>,
    /// Robots with a started call not yet waited for, and what it is: a
    /// robot takes one skill at a time.
    robots: HashMap<String, (u64, String)>,
    /// Started calls not yet running, with their claims: they run from the
    /// code's next wait or skill call, all at once (in lockstep, time
    /// passes only in skills, so calls started together move together).
    pending: Vec<(u64, SkillRequest, Option<Claim>)>,
}

impl SkillShared {
    /// Makes `action` the one whose skill calls are served and recorded.
    pub(super) fn begin_action(&self, action: u64) {
        *self.cancel.lock().unwrap_or_else(|e| e.into_inner()) = CancelToken::new();
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.calls_total.store(0, Ordering::SeqCst);
        self.action.store(action, Ordering::SeqCst);
    }

    fn lock_started(&self) -> MutexGuard<'_, Started> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A started call has ended with `reply`.
    fn finish_started(&self, handle: u64, reply: SkillReply) {
        let mut started = self.lock_started();
        started.results.insert(handle, Some(reply));
        started.running -= 1;
        drop(started);
        self.started_changed.notify_all();
    }

    /// Serves no more calls of the action: the running ones are cancelled,
    /// and calls it started that never ran are dropped with their claims.
    pub(super) fn close_action(&self) {
        self.action.store(0, Ordering::SeqCst);
        self.cancel_running();
        let mut started = self.lock_started();
        let dropped = std::mem::take(&mut started.pending);
        started.running -= dropped.len();
    }

    /// Whether calls of `action` are served now (it is the running one).
    fn serves(&self, action: u64) -> bool {
        let current = self.action.load(Ordering::SeqCst);
        current != 0 && action == current
    }

    /// Whether no handler runs, in the foreground or started.
    pub(super) fn idle(&self) -> bool {
        let foreground = !matches!(
            self.busy.try_lock(),
            Err(std::sync::TryLockError::WouldBlock)
        );
        foreground && self.lock_started().running == 0
    }

    /// How many calls the action started and never waited for (they were
    /// cancelled with it); forgets them.
    pub(super) fn take_unwaited(&self) -> usize {
        let mut started = self.lock_started();
        let n = started.results.len();
        started.results.clear();
        started.robots.clear();
        n
    }

    /// The recorded calls of the action, and how many it made in all.
    pub(super) fn take_calls(&self) -> (Vec<SkillCall>, u64) {
        let mut calls = std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()));
        calls.shrink_to_fit();
        (calls, self.calls_total.load(Ordering::SeqCst))
    }

    /// Cancels the skill call running now, if any (its handler sees the token).
    pub(super) fn cancel_running(&self) {
        self.cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .cancel();
    }
}
/// The skill server: one thread per worker. Skill handlers run here, so a
/// long skill never stalls output streaming or the time limits; a call the
/// code starts in the background runs on a thread of its own.
pub(super) fn serve_skills(
    mut rx: Receiver,
    mut tx: Sender,
    skills: Arc<SkillSet>,
    shared: Arc<SkillShared>,
    progress: &Progress,
) {
    loop {
        let request: SkillRequest = match rx.recv(SKILL_SERVER_SPIN) {
            Ok(r) => r,
            Err(WireError::Closed) => return,
            Err(e) => {
                *shared
                    .protocol_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(format!(
                    "the worker sent a malformed skill request ({e}); it was killed"
                ));
                return;
            }
        };
        if let Some(busy) = robot_taken(&skills, &shared, &request) {
            if tx.send(&busy).is_err() {
                return;
            }
            continue;
        }
        let reply = match request.mode {
            CallMode::Now => {
                release_started(&skills, &shared, progress);
                let _busy = shared.busy.lock().unwrap_or_else(|e| e.into_inner());
                run_call(&skills, &shared, progress, request)
            }
            CallMode::Start => start_call(&skills, &shared, request),
            CallMode::Wait(handle) => {
                release_started(&skills, &shared, progress);
                wait_call(&skills, &shared, &request, handle)
            }
        };
        if tx.send(&reply).is_err() {
            return;
        }
    }
}

/// The skill's name, for messages.
fn skill_name(skills: &SkillSet, index: u32) -> String {
    skills
        .get(index as usize)
        .map_or("?".into(), |(s, _)| match &s.robot {
            Some(robot) => format!("{robot}.{}", s.name),
            None => s.name.clone(),
        })
}

/// The reply to a call of an action that has ended.
fn refused(name: &str) -> SkillReply {
    Err(SkillError::new(
        robot_api::ErrorKind::Cancelled,
        format!("{name}() refused: the action that made this call has ended"),
    ))
}

/// Runs one call (unless its action has ended) and records it.
fn run_call(
    skills: &SkillSet,
    shared: &SkillShared,
    progress: &Progress,
    request: SkillRequest,
) -> SkillReply {
    let name = skill_name(skills, request.skill);
    let current = shared.action.load(Ordering::SeqCst);
    let started = Instant::now();
    // Only the first calls of an action are listed: format only those.
    let listed =
        current != 0 && (shared.calls_total.load(Ordering::SeqCst) as usize) < MAX_CALL_RECORDS;
    let args_text = match skills.get(request.skill as usize) {
        Some((spec, _)) if listed => format_args_text(spec, &request.args),
        _ => String::new(),
    };
    let reply: SkillReply = if current == 0 || request.action != current {
        refused(&name)
    } else {
        let cancel = shared
            .cancel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        skills.call(
            request.skill as usize,
            request.args,
            &CallContext {
                cancel,
                progress: progress.clone(),
            },
        )
    };
    if current != 0 {
        let total = shared.calls_total.fetch_add(1, Ordering::SeqCst);
        if (total as usize) < MAX_CALL_RECORDS {
            let record = SkillCall {
                skill: name,
                args: args_text,
                outcome: match &reply {
                    Ok(_) => CallOutcome::Ok,
                    Err(_) if request.action != current => CallOutcome::Refused,
                    Err(_) => CallOutcome::Error,
                },
                error: reply.as_ref().err().map(|e| e.to_string()),
                duration_ms: started.elapsed().as_secs_f64() * 1e3,
            };
            shared
                .calls
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(record);
        }
    }
    reply
}

/// The refusal of a call on a robot that still has a started call not
/// waited for (two skills would drive it at once), if this is one.
fn robot_taken(
    skills: &SkillSet,
    shared: &SkillShared,
    request: &SkillRequest,
) -> Option<SkillReply> {
    if matches!(request.mode, CallMode::Wait(_)) {
        return None;
    }
    let robot = skills.robot_of(request.skill as usize)?;
    let started = shared.lock_started();
    let (_, skill) = started.robots.get(robot)?;
    let name = skill_name(skills, request.skill);
    Some(Err(SkillError::new(
        robot_api::ErrorKind::Robot,
        format!(
            "{name}() refused: {robot} is still doing the {skill} it was started on; wait for it first (.wait() or together(...)), then give {robot} its next skill"
        ),
    )))
}

/// Registers a started call (its claim taken now); replies with its
/// handle. It runs from the code's next wait or skill call.
fn start_call(skills: &SkillSet, shared: &SkillShared, request: SkillRequest) -> SkillReply {
    if !shared.serves(request.action) {
        return refused(&skill_name(skills, request.skill));
    }
    let claim = skills.claim(request.skill as usize);
    let mut started = shared.lock_started();
    started.next += 1;
    let handle = started.next;
    if let Some(robot) = skills.robot_of(request.skill as usize) {
        let skill = skills
            .get(request.skill as usize)
            .map_or("?".into(), |(s, _)| s.name.clone());
        started.robots.insert(robot.to_owned(), (handle, skill));
    }
    started.results.insert(handle, None);
    started.running += 1;
    started.pending.push((handle, request, claim));
    Ok(robot_api::Value::Int(handle as i64))
}

/// Runs every started call not yet running, each on a thread of its own.
fn release_started(skills: &Arc<SkillSet>, shared: &Arc<SkillShared>, progress: &Progress) {
    let pending = std::mem::take(&mut shared.lock_started().pending);
    for (handle, request, claim) in pending {
        let (skills, shared2, progress) = (skills.clone(), shared.clone(), progress.clone());
        let spawned = std::thread::Builder::new()
            .name("codeact-started-skill".into())
            .spawn(move || {
                let reply = run_call(&skills, &shared2, &progress, request);
                drop(claim);
                shared2.finish_started(handle, reply);
            });
        if let Err(e) = spawned {
            shared.finish_started(
                handle,
                Err(SkillError::new(
                    robot_api::ErrorKind::Robot,
                    format!("the call could not be started: {e}"),
                )),
            );
        }
    }
}

/// Waits for the started call `handle`; replies with its result.
fn wait_call(
    skills: &SkillSet,
    shared: &SkillShared,
    request: &SkillRequest,
    handle: u64,
) -> SkillReply {
    if !shared.serves(request.action) {
        return refused(&skill_name(skills, request.skill));
    }
    let mut started = shared.lock_started();
    loop {
        match started.results.get(&handle) {
            None => {
                return Err(SkillError::invalid(format!(
                    "no call with handle {handle} was started by this action, or it was waited for already"
                )))
            }
            Some(Some(_)) => {
                started.robots.retain(|_, (h, _)| *h != handle);
                return started
                    .results
                    .remove(&handle)
                    .flatten()
                    .expect("a finished call");
            }
            Some(None) => {
                started = shared
                    .started_changed
                    .wait(started)
                    .unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

/// `x=1.0, y=2.0`, shortened for the call record.
fn format_args_text(spec: &robot_api::SkillSpec, args: &[robot_api::Value]) -> String {
    const MAX: usize = 200;
    let mut text = spec
        .params
        .iter()
        .zip(args)
        .map(|(p, v)| format!("{}={}", p.name, v.python_literal()))
        .collect::<Vec<_>>()
        .join(", ");
    if text.len() > MAX {
        let cut = super::output::floor_char_boundary(&text, MAX);
        text.truncate(cut);
        text.push_str("...");
    }
    text
}
