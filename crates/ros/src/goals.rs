//! The goal ledger: every action goal the bridge sends (declared action
//! skills, `ros_action`, Nav2 navigation, anything later) is kept here from
//! before it is sent until it ends, so that none outlives the skill that sent
//! it. The rules, in one place:
//!
//! - while the e-stop is latched no goal is opened or sent;
//! - a goal whose skill gave up before the server accepted it is never sent
//!   afterwards, and if acceptance still arrives, it is cancelled at once;
//! - every goal still live is cancelled on e-stop, on the safe stop after an
//!   action ended badly (interrupt, timeout, error), on reset and at session end.
//!
//! Plain logic over any goal handle `H` (r2r's in the ROS backend), so it
//! is tested without ROS. Whoever holds a handle returned here sends the
//! cancel request. What had to be cancelled is noted for the observation.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// A goal's number in the ledger.
pub type GoalId = u64;

/// Where a goal is.
enum State<H> {
    /// Registered; waiting for the action server to appear.
    Waiting,
    /// The request is on its way; the server has not answered yet.
    Sending,
    /// The server accepted it and it runs.
    Live(H),
    /// Its skill gave up (or everything was cancelled) while the request
    /// was on its way: cancel it the moment it is accepted.
    Abandoned(String),
    /// A cancel request was sent; waiting for the goal to end.
    Cancelling,
}

impl<H> State<H> {
    fn word(&self) -> &'static str {
        match self {
            State::Waiting => "waiting for its server",
            State::Sending => "sent, not yet accepted",
            State::Live(_) => "running",
            State::Abandoned(_) => "abandoned, to be cancelled when accepted",
            State::Cancelling => "being cancelled",
        }
    }
}

struct Entry<H> {
    name: String,
    state: State<H>,
}

struct Inner<H> {
    next: GoalId,
    /// Why no goal may be sent now (the e-stop), if so.
    latched: Option<String>,
    goals: BTreeMap<GoalId, Entry<H>>,
    notes: Vec<String>,
}

/// The goals in flight, shared by the skills that send them, the thread that
/// talks to the servers, and the safety paths that cancel them.
pub struct GoalLedger<H> {
    inner: Mutex<Inner<H>>,
}

impl<H> Default for GoalLedger<H> {
    fn default() -> Self {
        GoalLedger {
            inner: Mutex::new(Inner {
                next: 1,
                latched: None,
                goals: BTreeMap::new(),
                notes: Vec::new(),
            }),
        }
    }
}

/// A goal in the ledger as the supervisor sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalView {
    /// The action's name.
    pub name: String,
    /// Where it is, in words.
    pub state: &'static str,
}

/// A goal refused because the e-stop is latched; says why it latched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Latched(pub String);

impl<H: Clone> GoalLedger<H> {
    fn lock(&self) -> MutexGuard<'_, Inner<H>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a goal on action `name` before anything is sent; refused
    /// (with the reason) while the e-stop is latched.
    pub fn open(&self, name: &str) -> Result<GoalId, Latched> {
        let mut inner = self.lock();
        if let Some(why) = &inner.latched {
            return Err(Latched(why.clone()));
        }
        let id = inner.next;
        inner.next += 1;
        inner.goals.insert(
            id,
            Entry {
                name: name.to_owned(),
                state: State::Waiting,
            },
        );
        Ok(id)
    }

    /// Just before the request goes out: whether it may. A goal that was
    /// given up, cancelled, or caught by the e-stop while it waited is
    /// dropped instead, and never sent.
    pub fn may_send(&self, id: GoalId) -> bool {
        let mut inner = self.lock();
        let latched = inner.latched.is_some();
        match inner.goals.get_mut(&id) {
            Some(entry) if !latched && matches!(entry.state, State::Waiting) => {
                entry.state = State::Sending;
                true
            }
            Some(_) => {
                inner.goals.remove(&id);
                false
            }
            None => false,
        }
    }

    /// The server accepted goal `id` with `handle`. `Some(reason)` when it
    /// must be cancelled at once (its skill gave up meanwhile, or the e-stop
    /// is latched): the caller sends the cancel; the ledger notes it.
    pub fn accepted(&self, id: GoalId, handle: H) -> Option<String> {
        let mut inner = self.lock();
        let latched = inner.latched.clone();
        let Some(entry) = inner.goals.get_mut(&id) else {
            return Some("its skill had already ended".into());
        };
        let why = match (&entry.state, latched) {
            (State::Abandoned(why), _) => why.clone(),
            (_, Some(why)) => why,
            _ => {
                entry.state = State::Live(handle);
                return None;
            }
        };
        entry.state = State::Cancelling;
        let note = format!(
            "the goal on {} was accepted after it was given up ({why}); it was cancelled at once",
            entry.name
        );
        inner.notes.push(note);
        Some(why)
    }

    /// Goal `id`'s skill gives up on it (interrupt, timeout, e-stop, its own
    /// time limit). Returns the handle to cancel if the goal runs; a goal
    /// not yet sent is dropped, one on its way is cancelled when accepted.
    pub fn give_up(&self, id: GoalId, why: &str) -> Option<H> {
        let mut inner = self.lock();
        let entry = inner.goals.get_mut(&id)?;
        match std::mem::replace(&mut entry.state, State::Cancelling) {
            State::Waiting => {
                inner.goals.remove(&id);
                None
            }
            State::Sending => {
                entry.state = State::Abandoned(why.to_owned());
                None
            }
            State::Live(handle) => Some(handle),
            other => {
                entry.state = other;
                None
            }
        }
    }

    /// Whether goal `id` is still in the ledger: its skill has not returned,
    /// or its request is still on its way.
    pub fn is_open(&self, id: GoalId) -> bool {
        self.lock().goals.contains_key(&id)
    }

    /// Goal `id` ended (or its skill returned): it leaves the ledger, unless
    /// its request is still on its way, in which case it stays abandoned
    /// until the server answers.
    pub fn finished(&self, id: GoalId) {
        let mut inner = self.lock();
        let Some(entry) = inner.goals.get_mut(&id) else {
            return;
        };
        match entry.state {
            State::Sending => entry.state = State::Abandoned("its skill ended".into()),
            State::Abandoned(_) => {}
            _ => {
                inner.goals.remove(&id);
            }
        }
    }

    /// The server answered goal `id` for good (rejected it, or it ended):
    /// it leaves the ledger whatever its state.
    pub fn ended(&self, id: GoalId) {
        self.lock().goals.remove(&id);
    }

    /// Cancels every goal: returns the handles of those running (to send
    /// their cancel requests), marks those on their way to be cancelled when
    /// accepted, drops those not yet sent, and notes each by name.
    pub fn cancel_all(&self, why: &str) -> Vec<H> {
        let mut inner = self.lock();
        let mut handles = Vec::new();
        let mut notes = Vec::new();
        inner.goals.retain(|_, entry| {
            let keep = match std::mem::replace(&mut entry.state, State::Cancelling) {
                State::Waiting => false,
                State::Sending | State::Abandoned(_) => {
                    entry.state = State::Abandoned(why.to_owned());
                    true
                }
                State::Live(handle) => {
                    handles.push(handle);
                    true
                }
                State::Cancelling => return true,
            };
            notes.push(format!("the goal on {} was cancelled ({why})", entry.name));
            keep
        });
        inner.notes.extend(notes);
        handles
    }

    /// The e-stop engaged: no goal may be opened or sent until [`Self::unlatch`];
    /// every goal is cancelled (see [`Self::cancel_all`]).
    pub fn latch(&self, why: &str) -> Vec<H> {
        self.lock().latched = Some(why.to_owned());
        self.cancel_all(why)
    }

    /// The e-stop was cleared: goals may be sent again.
    pub fn unlatch(&self) {
        self.lock().latched = None;
    }

    /// The goals in the ledger now, oldest first.
    pub fn goals(&self) -> Vec<GoalView> {
        self.lock()
            .goals
            .values()
            .map(|e| GoalView {
                name: e.name.clone(),
                state: e.state.word(),
            })
            .collect()
    }

    /// What was cancelled since the last call, for the observation.
    pub fn take_notes(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Ledger = GoalLedger<&'static str>;

    #[test]
    fn a_goal_runs_and_leaves_the_ledger_when_it_ends() {
        let l = Ledger::default();
        let id = l.open("/fibonacci").unwrap();
        assert!(l.may_send(id));
        assert_eq!(l.accepted(id, "h"), None);
        assert_eq!(l.goals()[0].state, "running");
        l.finished(id);
        assert!(l.goals().is_empty());
        assert!(l.take_notes().is_empty());
    }

    #[test]
    fn nothing_is_opened_or_sent_while_latched() {
        let l = Ledger::default();
        let waiting = l.open("/nav").unwrap();
        assert!(l.latch("the e-stop was engaged").is_empty());
        assert!(l.open("/nav").unwrap_err().0.contains("e-stop"));
        assert!(
            !l.may_send(waiting),
            "a goal waiting for its server is never sent"
        );
        assert!(l.goals().is_empty());
        l.unlatch();
        let id = l.open("/nav").unwrap();
        assert!(l.may_send(id));
    }

    #[test]
    fn a_goal_given_up_before_its_server_appeared_is_never_sent() {
        let l = Ledger::default();
        let id = l.open("/fibonacci").unwrap();
        assert_eq!(l.give_up(id, "timed out"), None);
        assert!(!l.may_send(id));
        assert!(l.goals().is_empty());
    }

    #[test]
    fn a_goal_given_up_on_its_way_is_cancelled_when_accepted() {
        let l = Ledger::default();
        let id = l.open("/fibonacci").unwrap();
        assert!(l.may_send(id));
        assert_eq!(l.give_up(id, "interrupted"), None);
        l.finished(id);
        assert_eq!(
            l.goals()[0].state,
            "abandoned, to be cancelled when accepted"
        );
        assert_eq!(l.accepted(id, "h").as_deref(), Some("interrupted"));
        let notes = l.take_notes();
        assert!(
            notes[0].contains("/fibonacci") && notes[0].contains("cancelled at once"),
            "{notes:?}"
        );
        l.finished(id);
        assert!(l.goals().is_empty());
    }

    #[test]
    fn a_skill_that_ends_while_its_request_is_out_leaves_it_abandoned() {
        let l = Ledger::default();
        let id = l.open("/fibonacci").unwrap();
        assert!(l.may_send(id));
        l.finished(id);
        assert_eq!(l.accepted(id, "h").as_deref(), Some("its skill ended"));
    }

    #[test]
    fn a_running_goal_given_up_hands_back_its_handle_once() {
        let l = Ledger::default();
        let id = l.open("/fibonacci").unwrap();
        assert!(l.may_send(id));
        assert_eq!(l.accepted(id, "h"), None);
        assert_eq!(l.give_up(id, "timeout"), Some("h"));
        assert_eq!(l.give_up(id, "timeout"), None);
        assert!(l.cancel_all("e-stop").is_empty(), "already being cancelled");
    }

    #[test]
    fn cancelling_all_reaches_every_state_and_names_each_goal() {
        let l = Ledger::default();
        let waiting = l.open("/a").unwrap();
        let sending = l.open("/b").unwrap();
        let live = l.open("/c").unwrap();
        assert!(l.may_send(sending) && l.may_send(live));
        assert_eq!(l.accepted(live, "hc"), None);
        assert_eq!(l.latch("the e-stop was engaged"), vec!["hc"]);
        let notes = l.take_notes();
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes.iter().all(|n| n.contains("e-stop")), "{notes:?}");
        assert!(!l.may_send(waiting));
        assert_eq!(
            l.accepted(sending, "hb").as_deref(),
            Some("the e-stop was engaged")
        );
        l.finished(live);
        l.finished(sending);
        assert!(l.goals().is_empty());
    }

    #[test]
    fn acceptance_while_latched_is_cancelled() {
        let l = Ledger::default();
        let id = l.open("/nav").unwrap();
        assert!(l.may_send(id));
        // The e-stop engages between sending and acceptance, before cancel_all saw it.
        l.lock().latched = Some("the e-stop was engaged".into());
        assert!(l.accepted(id, "h").is_some());
    }
}
