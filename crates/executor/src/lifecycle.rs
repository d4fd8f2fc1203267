//! [`Lifecycle`]: one action's life as a pure state machine. The supervisor
//! (`action.rs`) feeds it what it sees (a stop request, the time, the
//! worker's report, the worker's loss, the skill handlers going idle) and
//! carries out the [`Effect`]s it returns. Nothing here does I/O or reads a
//! clock, so every path to a safe stop is a unit test with made-up times.
//!
//! ```text
//!            deadline / interrupt              grace expired
//! Running ───────────────────────► Stopping ───────────────► Settling ─► Done
//!    │  report / worker lost            │ report / worker lost   ▲  skills idle
//!    └──────────────────────────────────┴────────────────────────┘  or grace expired
//! ```
//!
//! Settling waits (at most one grace period) for a skill handler still
//! running in the robot backend, so no skill call of an action outlives it.

use std::time::{Duration, Instant};

use super::observation::Status;
use super::wire::InterruptReason;

/// What the supervisor saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Time passed (the supervisor woke up); deadlines are checked against `now`.
    Tick,
    /// Someone asked the action to stop (Ctrl-C, a protocol request, an e-stop).
    Interrupt,
    /// The worker reported the end of the action.
    Finished(Finish),
    /// The worker died, failed, or broke the protocol; the text says how.
    WorkerLost(String),
    /// No skill handler of the action is running any more.
    SkillsIdle,
}

/// The parts of the worker's end-of-action report the lifecycle decides on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Finish {
    /// The code raised an exception.
    pub raised: bool,
    /// The exception was the interrupt the supervisor sent.
    pub interrupted: bool,
    /// Something abnormal happened (a thread or process was left running).
    pub abnormal: bool,
}

/// What the supervisor must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Raise the reason's exception in the code and cancel the skill call
    /// running now (in that order, so the cancelled call finds its reason).
    Interrupt(InterruptReason),
    /// The action has ended: refuse its further skill calls and cancel the
    /// one running now.
    CloseSkills,
}

/// How an action ended, once it is [`Phase::Done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionEnd {
    /// The status the observation reports.
    pub status: Status,
    /// Why the worker must be replaced, when it must.
    pub worker_lost: Option<String>,
    /// The robot needs a safe stop even if the status is ok.
    pub abnormal: bool,
    /// A skill handler was still running when settling gave up on it.
    pub skill_stuck: bool,
}

/// Where an action is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// The code runs; it is stopped at `deadline`.
    Running {
        /// When the time limit expires.
        deadline: Instant,
    },
    /// The code was asked to stop; at `hard_at` the worker is given up.
    Stopping {
        /// Why it was asked.
        reason: InterruptReason,
        /// When the grace period ends.
        hard_at: Instant,
    },
    /// The code has ended; waiting until `until` for skill handlers to return.
    Settling {
        /// The ending, without its skill census.
        outcome: ActionEnd,
        /// When to stop waiting for them.
        until: Instant,
    },
    /// Over.
    Done(ActionEnd),
}

/// One action's lifecycle.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    phase: Phase,
    grace: Duration,
    /// The first reason the action was asked to stop, kept past Stopping.
    requested: Option<InterruptReason>,
}

impl Lifecycle {
    /// An action started at `now` with a time limit and a grace period
    /// between asking the code to stop and killing its worker.
    pub fn start(now: Instant, timeout: Duration, grace: Duration) -> Self {
        Lifecycle {
            phase: Phase::Running {
                deadline: now + timeout,
            },
            grace,
            requested: None,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// The code may still be running: the worker must be watched.
    pub fn code_may_run(&self) -> bool {
        matches!(self.phase, Phase::Running { .. } | Phase::Stopping { .. })
    }

    /// The outcome, once done.
    pub fn outcome(&self) -> Option<&ActionEnd> {
        match &self.phase {
            Phase::Done(outcome) => Some(outcome),
            _ => None,
        }
    }

    /// When the supervisor must wake up at the latest (`None` once done).
    pub fn wake_at(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Running { deadline } => Some(*deadline),
            Phase::Stopping { hard_at, .. } => Some(*hard_at),
            Phase::Settling { until, .. } => Some(*until),
            Phase::Done(_) => None,
        }
    }

    /// Takes one event seen at `now`; returns what to do about it.
    pub fn step(&mut self, event: Event, now: Instant) -> Option<Effect> {
        match (&self.phase, event) {
            (Phase::Running { deadline }, Event::Tick) if now >= *deadline => {
                Some(self.ask_to_stop(InterruptReason::Timeout, now))
            }
            (Phase::Running { .. }, Event::Interrupt) => {
                Some(self.ask_to_stop(InterruptReason::Request, now))
            }
            (Phase::Stopping { reason, hard_at }, Event::Tick) if now >= *hard_at => {
                let why = match reason {
                    InterruptReason::Timeout => "timeout",
                    InterruptReason::Request => "interrupt",
                };
                let lost = format!(
                    "the code did not stop within {:.1} s of the {why} (it caught the exception, or was stuck in C code), so the worker and everything it started were killed",
                    self.grace.as_secs_f64()
                );
                Some(self.settle(self.lost(lost), now))
            }
            (Phase::Running { .. } | Phase::Stopping { .. }, Event::Finished(finish)) => {
                Some(self.settle(self.finished(finish), now))
            }
            (Phase::Running { .. } | Phase::Stopping { .. }, Event::WorkerLost(why)) => {
                Some(self.settle(self.lost(why), now))
            }
            (Phase::Settling { outcome, .. }, Event::SkillsIdle) => {
                self.phase = Phase::Done(outcome.clone());
                None
            }
            (Phase::Settling { outcome, until }, Event::Tick) if now >= *until => {
                self.phase = Phase::Done(ActionEnd {
                    skill_stuck: true,
                    ..outcome.clone()
                });
                None
            }
            // Anything else changes nothing: a second interrupt while
            // stopping, a report after the worker was given up, a tick
            // before a deadline.
            _ => None,
        }
    }

    fn ask_to_stop(&mut self, reason: InterruptReason, now: Instant) -> Effect {
        self.requested = Some(reason);
        self.phase = Phase::Stopping {
            reason,
            hard_at: now + self.grace,
        };
        Effect::Interrupt(reason)
    }

    fn settle(&mut self, outcome: ActionEnd, now: Instant) -> Effect {
        self.phase = Phase::Settling {
            outcome,
            until: now + self.grace,
        };
        Effect::CloseSkills
    }

    /// The status of an action asked to stop for `reason` that did stop.
    fn stopped(reason: InterruptReason) -> Status {
        match reason {
            InterruptReason::Timeout => Status::Timeout,
            InterruptReason::Request => Status::Interrupted,
        }
    }

    fn finished(&self, finish: Finish) -> ActionEnd {
        let status = match (finish.raised, self.requested, finish.interrupted) {
            (false, _, _) => Status::Ok,
            (true, Some(asked), true) => Self::stopped(asked),
            (true, _, _) => Status::Error,
        };
        ActionEnd {
            status,
            worker_lost: None,
            abnormal: finish.abnormal,
            skill_stuck: false,
        }
    }

    fn lost(&self, why: String) -> ActionEnd {
        ActionEnd {
            status: self
                .requested
                .map_or(Status::WorkerRestarted, Self::stopped),
            worker_lost: Some(why),
            abnormal: true,
            skill_stuck: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);
    const GRACE: Duration = Duration::from_secs(2);

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A fake clock: times are offsets from one instant.
    struct Clock(Instant);

    impl Clock {
        fn at(&self, s: f64) -> Instant {
            self.0 + secs(s)
        }
    }

    fn started() -> (Lifecycle, Clock) {
        let clock = Clock(Instant::now());
        (Lifecycle::start(clock.at(0.0), TIMEOUT, GRACE), clock)
    }

    const RAISED_BY_INTERRUPT: Finish = Finish {
        raised: true,
        interrupted: true,
        abnormal: false,
    };

    /// Runs events at times and returns the effects in order.
    fn feed(life: &mut Lifecycle, clock: &Clock, events: &[(f64, Event)]) -> Vec<Effect> {
        events
            .iter()
            .filter_map(|(t, e)| life.step(e.clone(), clock.at(*t)))
            .collect()
    }

    fn done(life: &Lifecycle) -> ActionEnd {
        life.outcome()
            .unwrap_or_else(|| panic!("not done: {:?}", life.phase()))
            .clone()
    }

    #[test]
    fn an_action_that_ends_by_itself_closes_its_skills_then_is_done_ok() {
        let (mut life, clock) = started();
        assert_eq!(life.wake_at(), Some(clock.at(10.0)));
        let effects = feed(
            &mut life,
            &clock,
            &[
                (1.0, Event::Tick),
                (2.0, Event::Finished(Finish::default())),
            ],
        );
        assert_eq!(effects, [Effect::CloseSkills]);
        assert!(!life.code_may_run());
        assert_eq!(
            life.wake_at(),
            Some(clock.at(4.0)),
            "settling for one grace"
        );
        life.step(Event::SkillsIdle, clock.at(2.0));
        assert_eq!(
            done(&life),
            ActionEnd {
                status: Status::Ok,
                worker_lost: None,
                abnormal: false,
                skill_stuck: false
            }
        );
        assert_eq!(life.wake_at(), None);
    }

    #[test]
    fn an_exception_of_the_code_itself_is_an_error_even_after_an_interrupt_was_sent() {
        let (mut life, clock) = started();
        let finish = Finish {
            raised: true,
            interrupted: false,
            abnormal: false,
        };
        life.step(Event::Finished(finish), clock.at(1.0));
        life.step(Event::SkillsIdle, clock.at(1.0));
        assert_eq!(done(&life).status, Status::Error);

        // Asked to stop, but the exception that ended it was another one.
        let (mut life, clock) = started();
        feed(
            &mut life,
            &clock,
            &[
                (1.0, Event::Interrupt),
                (1.1, Event::Finished(finish)),
                (1.1, Event::SkillsIdle),
            ],
        );
        assert_eq!(done(&life).status, Status::Error);
    }

    #[test]
    fn the_deadline_asks_the_code_to_stop_and_a_stop_within_grace_is_a_timeout() {
        let (mut life, clock) = started();
        let effects = feed(
            &mut life,
            &clock,
            &[
                (9.99, Event::Tick),
                (10.0, Event::Tick),
                (10.5, Event::Tick),
                (11.0, Event::Finished(RAISED_BY_INTERRUPT)),
                (11.0, Event::SkillsIdle),
            ],
        );
        assert_eq!(
            effects,
            [
                Effect::Interrupt(InterruptReason::Timeout),
                Effect::CloseSkills
            ]
        );
        let outcome = done(&life);
        assert_eq!(outcome.status, Status::Timeout);
        assert_eq!(
            outcome.worker_lost, None,
            "the worker survives a clean stop"
        );
    }

    #[test]
    fn an_interrupt_asks_once_and_a_stop_within_grace_is_interrupted() {
        let (mut life, clock) = started();
        let effects = feed(
            &mut life,
            &clock,
            &[
                (3.0, Event::Interrupt),
                (3.5, Event::Interrupt),
                (4.0, Event::Finished(RAISED_BY_INTERRUPT)),
                (4.0, Event::SkillsIdle),
            ],
        );
        assert_eq!(
            effects,
            [
                Effect::Interrupt(InterruptReason::Request),
                Effect::CloseSkills
            ]
        );
        assert_eq!(done(&life).status, Status::Interrupted);
    }

    #[test]
    fn an_interrupt_after_the_deadline_keeps_the_stop_a_timeout() {
        let (mut life, clock) = started();
        let effects = feed(
            &mut life,
            &clock,
            &[
                (10.0, Event::Tick),
                (10.5, Event::Interrupt),
                (11.0, Event::Finished(RAISED_BY_INTERRUPT)),
                (11.0, Event::SkillsIdle),
            ],
        );
        assert_eq!(effects.len(), 2, "{effects:?}");
        assert_eq!(done(&life).status, Status::Timeout);
    }

    #[test]
    fn code_that_ignores_the_stop_loses_its_worker_when_the_grace_expires() {
        for (first, reason, status, word) in [
            (
                Event::Tick,
                InterruptReason::Timeout,
                Status::Timeout,
                "timeout",
            ),
            (
                Event::Interrupt,
                InterruptReason::Request,
                Status::Interrupted,
                "interrupt",
            ),
        ] {
            let (mut life, clock) = started();
            let t0 = if first == Event::Tick { 10.0 } else { 5.0 };
            let effects = feed(
                &mut life,
                &clock,
                &[
                    (t0, first),
                    (t0 + 1.99, Event::Tick),
                    (t0 + 2.0, Event::Tick),
                ],
            );
            assert_eq!(effects, [Effect::Interrupt(reason), Effect::CloseSkills]);
            // A report arriving after the worker was given up changes nothing.
            life.step(Event::Finished(Finish::default()), clock.at(t0 + 2.1));
            life.step(Event::SkillsIdle, clock.at(t0 + 2.1));
            let outcome = done(&life);
            assert_eq!(outcome.status, status);
            assert!(outcome.abnormal);
            let why = outcome.worker_lost.expect("the worker is given up");
            assert!(
                why.contains(&format!("within 2.0 s of the {word}")),
                "{why}"
            );
        }
    }

    #[test]
    fn a_worker_lost_while_running_is_a_restart_and_while_stopping_keeps_the_reason() {
        let (mut life, clock) = started();
        let effects = feed(
            &mut life,
            &clock,
            &[
                (1.0, Event::WorkerLost("killed by SIGSEGV".into())),
                (1.0, Event::SkillsIdle),
            ],
        );
        assert_eq!(effects, [Effect::CloseSkills]);
        let outcome = done(&life);
        assert_eq!(outcome.status, Status::WorkerRestarted);
        assert_eq!(outcome.worker_lost.as_deref(), Some("killed by SIGSEGV"));
        assert!(outcome.abnormal);

        for (first, status) in [
            (Event::Interrupt, Status::Interrupted),
            (Event::Tick, Status::Timeout),
        ] {
            let (mut life, clock) = started();
            feed(
                &mut life,
                &clock,
                &[
                    (10.0, first),
                    (10.1, Event::WorkerLost("died".into())),
                    (10.1, Event::SkillsIdle),
                ],
            );
            assert_eq!(done(&life).status, status);
        }
    }

    #[test]
    fn a_skill_handler_that_will_not_return_is_given_up_after_one_grace() {
        let (mut life, clock) = started();
        feed(
            &mut life,
            &clock,
            &[
                (1.0, Event::Finished(Finish::default())),
                (2.9, Event::Tick),
            ],
        );
        assert!(life.outcome().is_none(), "still settling before the grace");
        // An interrupt while settling is too late to matter.
        assert_eq!(life.step(Event::Interrupt, clock.at(2.95)), None);
        life.step(Event::Tick, clock.at(3.0));
        let outcome = done(&life);
        assert!(outcome.skill_stuck);
        assert_eq!(outcome.status, Status::Ok);
    }

    #[test]
    fn an_abnormal_end_is_kept_for_the_safe_stop() {
        let (mut life, clock) = started();
        let finish = Finish {
            abnormal: true,
            ..Finish::default()
        };
        feed(
            &mut life,
            &clock,
            &[(1.0, Event::Finished(finish)), (1.0, Event::SkillsIdle)],
        );
        let outcome = done(&life);
        assert_eq!((outcome.status, outcome.abnormal), (Status::Ok, true));
    }

    #[test]
    fn every_timeout_and_grace_combination_ends_with_a_stopped_robot_in_bounded_time() {
        // For each limit and grace, code that never cooperates: the
        // supervisor only ticks at its wake-up times, and the lifecycle must
        // be done by timeout + 2 graces, having asked to stop and closed skills.
        for timeout in [0.0, 0.001, 1.0, 30.0] {
            for grace in [0.0, 0.05, 2.0] {
                let clock = Clock(Instant::now());
                let mut life = Lifecycle::start(clock.at(0.0), secs(timeout), secs(grace));
                let mut effects = Vec::new();
                let mut steps = 0;
                while let Some(wake) = life.wake_at() {
                    effects.extend(life.step(Event::Tick, wake));
                    steps += 1;
                    assert!(steps < 10, "no progress: {:?}", life.phase());
                    assert!(wake <= clock.at(timeout + 2.0 * grace) + secs(1e-9));
                }
                assert_eq!(
                    effects,
                    [
                        Effect::Interrupt(InterruptReason::Timeout),
                        Effect::CloseSkills
                    ],
                    "timeout {timeout} grace {grace}"
                );
                let outcome = done(&life);
                assert_eq!(outcome.status, Status::Timeout);
                assert!(outcome.worker_lost.is_some() && outcome.skill_stuck);
            }
        }
    }
}
