//! Lockstep for a fleet: several robots' skills, each on its own thread,
//! share one simulated clock. Time passes only when every robot with a
//! skill running wants it to: each [`Lockstep::advance`] says how far its
//! robot wants to go, and once all busy robots are waiting, the one that
//! sees it last steps the world to the nearest of their targets. Two
//! motions at once therefore take the simulated time of the longer one,
//! not the sum, and the run does not depend on which thread runs first.
//!
//! A robot counts as busy while a [`Busy`] guard of it lives (a skill call
//! on it) or while it is inside `advance`. An idle robot does not hold time
//! back: the world moves on around it.
//!
//! The clock is also a [`crate::simulator::Helper`]: while robots far apart
//! are stepped, the stepping robot hands the others' steps to a robot's
//! thread watching the clock, so two robots use two cores.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a waiting robot sleeps before it looks at its cancel token again.
const CANCEL_POLL: Duration = Duration::from_millis(5);

/// How long a waiting robot watches for the clock to move before it
/// sleeps (running, meanwhile, the robots far apart the stepping robot
/// hands it): longer than another robot's stepping of a control period
/// takes, so the robots of a fleet go on at once instead of each waking
/// the other from sleep at every period (on a two-vCPU machine a wake-up
/// costs more than the steps).
const SPIN: Duration = Duration::from_millis(2);

/// The shared clock's bookkeeping.
#[derive(Debug, Default)]
struct State {
    /// Per robot: skills running on it (busy guards held).
    busy: Vec<u32>,
    /// Per robot: the step it waits to reach, while inside `advance`.
    wants: Vec<Option<u64>>,
    /// A thread is stepping the world now.
    stepping: bool,
}

/// The shared clock of a fleet's robots.
#[derive(Default)]
pub struct Lockstep {
    state: Mutex<State>,
    moved: Condvar,
    /// Counts the changes waiters care about (steps run, robots done or
    /// idle); changed only under `state`'s lock, read without it by a
    /// waiter spinning.
    generation: AtomicU64,
    /// Robots watching the clock now (awake, on a core), who can take a job.
    watching: AtomicUsize,
    /// Robots far apart, offered by the robot stepping to one watching.
    job: Mutex<Option<Job>>,
}

/// A job of robots far apart offered to the watching robots' threads.
type Job = crate::simulator::Job;

impl std::fmt::Debug for Lockstep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lockstep")
            .field("state", &self.state)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// What a step of the world needs: to run `n` steps now.
pub trait World {
    /// The world's step count.
    fn steps(&self) -> u64;
    /// Runs `n` steps.
    fn run(&self, n: u64);
}

impl Lockstep {
    /// A clock for `robots` robots.
    pub fn new(robots: usize) -> Arc<Self> {
        Arc::new(Lockstep {
            state: Mutex::new(State {
                busy: vec![0; robots],
                wants: vec![None; robots],
                stepping: false,
            }),
            moved: Condvar::new(),
            generation: AtomicU64::new(0),
            watching: AtomicUsize::new(0),
            job: Mutex::new(None),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the waiters something changed (called with the lock held,
    /// `st`, which is then released).
    fn changed(&self, st: MutexGuard<'_, State>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        drop(st);
        self.moved.notify_all();
    }

    /// Waits for a change after `seen` (the generation read under the lock
    /// `st`): watching for up to [`SPIN`], then asleep for up to
    /// [`CANCEL_POLL`].
    fn wait_for_change(&self, st: MutexGuard<'_, State>, seen: u64) {
        // Counted as watching before the lock goes: the robot that steps
        // next takes the lock after this, and sees it.
        self.watching.fetch_add(1, Ordering::SeqCst);
        drop(st);
        let mut start = Instant::now();
        while self.generation.load(Ordering::SeqCst) == seen && start.elapsed() < SPIN {
            // The stepping robot may hand this thread robots far apart.
            let job = self.job.try_lock().ok().and_then(|mut j| j.take());
            match job {
                Some(job) => {
                    job();
                    // The stepping robot finishes about now: watch for it.
                    start = Instant::now();
                }
                None => {
                    std::hint::spin_loop();
                    std::thread::yield_now();
                }
            }
        }
        self.watching.fetch_sub(1, Ordering::SeqCst);
        let st = self.lock();
        if self.generation.load(Ordering::SeqCst) == seen {
            drop(
                self.moved
                    .wait_timeout(st, CANCEL_POLL)
                    .unwrap_or_else(|e| e.into_inner()),
            );
        }
    }

    /// Marks robot `i` busy until the guard is dropped: time waits for it.
    pub fn busy(self: &Arc<Self>, i: usize) -> Busy {
        self.lock().busy[i] += 1;
        Busy {
            clock: self.clone(),
            robot: i,
        }
    }

    /// Lets robot `i`'s world reach step `target`, stepping it with the
    /// other busy robots' wishes: at most `chunk` steps at a time, then
    /// `between` runs (a cancel and battery check, a real-time pause), and
    /// its error ends the wait.
    pub fn advance<E>(
        &self,
        i: usize,
        target: u64,
        chunk: u64,
        world: &dyn World,
        mut between: impl FnMut(bool) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            let mut st = self.lock();
            if world.steps() >= target {
                st.wants[i] = None;
                self.changed(st);
                return Ok(());
            }
            st.wants[i] = Some(target);
            let ready = !st.stepping
                && st
                    .busy
                    .iter()
                    .zip(&st.wants)
                    .enumerate()
                    .all(|(j, (b, w))| j == i || w.is_some() || *b == 0);
            if ready {
                let upto = st.wants.iter().flatten().copied().min().unwrap_or(target);
                st.stepping = true;
                drop(st);
                world.run(upto.saturating_sub(world.steps()).min(chunk));
                let mut st = self.lock();
                st.stepping = false;
                self.changed(st);
            } else {
                let seen = self.generation.load(Ordering::SeqCst);
                self.wait_for_change(st, seen);
            }
            if let Err(e) = between(ready) {
                // Robot `i` stops waiting: cancelled, or it cannot go on.
                let mut st = self.lock();
                st.wants[i] = None;
                self.changed(st);
                return Err(e);
            }
        }
    }
}

/// Robot `robot` is busy while this lives.
#[derive(Debug)]
pub struct Busy {
    clock: Arc<Lockstep>,
    robot: usize,
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut st = self.clock.lock();
        st.busy[self.robot] -= 1;
        self.clock.changed(st);
    }
}

impl crate::simulator::Helper for Lockstep {
    /// Leaves the job for a robot's thread watching the clock, if one is.
    fn offer(&self, job: Job) -> Result<(), Job> {
        let mut slot = self.job.lock().unwrap_or_else(|e| e.into_inner());
        if self.watching.load(Ordering::SeqCst) == 0 || slot.is_some() {
            return Err(job);
        }
        *slot = Some(job);
        Ok(())
    }

    fn take_back(&self) -> Option<Job> {
        self.job.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}
