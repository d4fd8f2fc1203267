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
//! thread watching the clock, so two robots use two cores. They do only if
//! the two threads run on two cores: the kernel, left to itself, often
//! keeps two threads that hand work to each other on one (waking one where
//! the other runs, and not moving a busy thread off a busy core), so a
//! watching robot that finds itself on another robot's core is kept on a
//! free one until its `advance` returns (see `crate::cores`), and sleeps
//! if none is free.

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
    /// Per robot: the core its thread last ran on inside `advance`
    /// ([`NO_CORE`] when outside it or unknown).
    cores: Vec<AtomicUsize>,
}

/// No core known.
const NO_CORE: usize = usize::MAX;

/// The core this thread runs on now ([`NO_CORE`] if unknown).
fn current_core() -> usize {
    crate::cores::current().unwrap_or(NO_CORE)
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
            cores: (0..robots).map(|_| AtomicUsize::new(NO_CORE)).collect(),
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
    fn wait_for_change(
        &self,
        i: usize,
        st: MutexGuard<'_, State>,
        seen: u64,
        pinned: &mut Option<crate::cores::Pinned>,
    ) {
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
                // On another robot's core, watching only takes turns with
                // it: kept on a free core for the rest of `advance`, or
                // asleep if none is free (more robots than cores).
                None if pinned.is_none() && self.shares_core(i) => {
                    *pinned = self.pin(i);
                    if pinned.is_none() {
                        break;
                    }
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

    /// Robot `i` leaves `advance` (`st` the lock held).
    fn leave(&self, i: usize, mut st: MutexGuard<'_, State>) {
        st.wants[i] = None;
        self.cores[i].store(NO_CORE, Ordering::Relaxed);
        self.changed(st);
    }

    /// Keeps robot `i`'s thread on a core no other robot inside `advance`
    /// runs on, if one is free.
    fn pin(&self, i: usize) -> Option<crate::cores::Pinned> {
        // Under the lock: two robots coming in at once take two cores.
        let st = self.lock();
        let taken: Vec<usize> = self.taken_cores(i).collect();
        let pinned = crate::cores::Pinned::to_free(&taken)?;
        self.cores[i].store(pinned.core(), Ordering::Relaxed);
        drop(st);
        Some(pinned)
    }

    /// The cores the other robots inside `advance` last ran on.
    fn taken_cores(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let others = self.cores.iter().enumerate().filter(move |&(j, _)| j != i);
        others
            .map(|(_, c)| c.load(Ordering::Relaxed))
            .filter(|&c| c != NO_CORE)
    }

    /// Whether another robot inside `advance` last ran on the core robot
    /// `i`'s thread runs on now.
    fn shares_core(&self, i: usize) -> bool {
        let here = current_core();
        here != NO_CORE && self.taken_cores(i).any(|c| c == here)
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
        let mut pinned = None;
        loop {
            self.cores[i].store(current_core(), Ordering::Relaxed);
            let mut st = self.lock();
            if world.steps() >= target {
                self.leave(i, st);
                return Ok(());
            }
            st.wants[i] = Some(target);
            let upto = st.wants.iter().flatten().copied().min().unwrap_or(target);
            // A robot whose target is reached but who has not seen it yet
            // (upto is now) holds time until it comes back with its next.
            let ready = !st.stepping
                && upto > world.steps()
                && st
                    .busy
                    .iter()
                    .zip(&st.wants)
                    .enumerate()
                    .all(|(j, (b, w))| j == i || w.is_some() || *b == 0);
            if ready {
                st.stepping = true;
                drop(st);
                world.run(upto.saturating_sub(world.steps()).min(chunk));
                let mut st = self.lock();
                st.stepping = false;
                self.changed(st);
            } else {
                let seen = self.generation.load(Ordering::SeqCst);
                self.wait_for_change(i, st, seen, &mut pinned);
            }
            if let Err(e) = between(ready) {
                // Robot `i` stops waiting: cancelled, or it cannot go on.
                self.leave(i, self.lock());
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

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_os = "linux")]
    use crate::cores::allowed;
    use std::convert::Infallible;

    /// A world that only counts: its steps, and the runs asked for no step.
    #[derive(Default)]
    struct Counter {
        steps: AtomicU64,
        empty_runs: AtomicU64,
    }

    impl World for Counter {
        fn steps(&self) -> u64 {
            self.steps.load(Ordering::SeqCst)
        }
        fn run(&self, n: u64) {
            if n == 0 {
                self.empty_runs.fetch_add(1, Ordering::SeqCst);
            }
            self.steps.fetch_add(n, Ordering::SeqCst);
        }
    }

    fn go(clock: &Lockstep, i: usize, target: u64, world: &Counter) {
        let ok: Result<(), Infallible> = clock.advance(i, target, 5, world, |_| Ok(()));
        ok.unwrap();
    }

    /// A robot that reached its target but has not seen it yet (its cancel
    /// check is slow), then is away (its code between two skill calls),
    /// holds time until it comes back with its next target; the robot
    /// waiting for it waits rather than run the world for no step over and
    /// over; and no robot's thread stays kept on a core after `advance`.
    #[test]
    fn a_robot_between_two_motions_holds_time_and_the_other_waits_idle() {
        let clock = Lockstep::new(2);
        let world = Counter::default();
        let [busy0, busy1] = [clock.busy(0), clock.busy(1)];
        let seen_on_return = std::thread::scope(|scope| {
            let away = scope.spawn(|| {
                #[cfg(target_os = "linux")]
                let before = allowed();
                let mut slow = true;
                let ok: Result<(), Infallible> = clock.advance(1, 10, 5, &world, |_| {
                    if slow && world.steps() >= 10 {
                        slow = false;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Ok(())
                });
                ok.unwrap();
                std::thread::sleep(Duration::from_millis(20));
                let seen = world.steps();
                go(&clock, 1, 20, &world);
                drop(busy1);
                #[cfg(target_os = "linux")]
                assert_eq!(allowed(), before, "beta's thread is free again");
                seen
            });
            #[cfg(target_os = "linux")]
            let before = allowed();
            go(&clock, 0, 100, &world);
            drop(busy0);
            #[cfg(target_os = "linux")]
            assert_eq!(allowed(), before, "alpha's thread is free again");
            away.join().unwrap()
        });
        assert_eq!(seen_on_return, 10, "time waited for the robot away");
        assert_eq!(world.steps(), 100);
        assert_eq!(
            world.empty_runs.load(Ordering::SeqCst),
            0,
            "the world was run for no step"
        );
    }
}
