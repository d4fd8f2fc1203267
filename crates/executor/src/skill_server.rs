//! The skill server: one thread per worker that runs the skill calls its
//! code makes, records them for the observation, refuses calls of an action
//! that has ended, and lets the action loop cancel the call running now.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use robot_api::{CallContext, CancelToken, Progress, SkillError, SkillSet};

use super::observation::{CallOutcome, SkillCall};
use super::wire::{Receiver, Sender, SkillReply, SkillRequest, WireError};

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
}

impl SkillShared {
    /// Makes `action` the one whose skill calls are served and recorded.
    pub(super) fn begin_action(&self, action: u64) {
        *self.cancel.lock().unwrap_or_else(|e| e.into_inner()) = CancelToken::new();
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.calls_total.store(0, Ordering::SeqCst);
        self.action.store(action, Ordering::SeqCst);
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
/// long skill never stalls output streaming or the time limits.
pub(super) fn serve_skills(
    mut rx: Receiver,
    mut tx: Sender,
    skills: &SkillSet,
    shared: &SkillShared,
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
        let name = skills
            .get(request.skill as usize)
            .map_or("?", |(s, _)| s.name.as_str());
        let _busy = shared.busy.lock().unwrap_or_else(|e| e.into_inner());
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
            Err(SkillError::new(
                robot_api::ErrorKind::Cancelled,
                format!("{name}() refused: the action that made this call has ended"),
            ))
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
                    skill: name.to_owned(),
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
        if tx.send(&reply).is_err() {
            return;
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
