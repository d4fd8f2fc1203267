//! Which core a thread runs on, and keeping it on one: the robots of a
//! fleet step on two cores only if their threads run on two, and the
//! kernel, left to itself, often keeps two busy threads that hand work to
//! each other on one core (waking one where the other runs), so each
//! robot's thread is kept on a core of its own while it waits on the
//! shared clock (see `lockstep`).

/// The core this thread runs on now, if the system says.
pub fn current() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: sched_getcpu takes no arguments and touches no memory.
        let cpu = unsafe { libc::sched_getcpu() };
        if cpu >= 0 {
            return Some(cpu as usize);
        }
    }
    None
}

/// This thread kept on one core until dropped, then free again to run on
/// every core it could before.
#[derive(Debug)]
pub struct Pinned {
    core: usize,
    #[cfg(target_os = "linux")]
    allowed: libc::cpu_set_t,
}

impl Pinned {
    /// Keeps this thread on a core it may run on that is not in `taken`:
    /// the one it runs on now if it is free (no move), else the first
    /// free one; `None` if every core it may use is taken or the system
    /// cannot pin threads.
    pub fn to_free(taken: &[usize]) -> Option<Pinned> {
        #[cfg(target_os = "linux")]
        {
            let size = std::mem::size_of::<libc::cpu_set_t>();
            // SAFETY: a cpu_set_t is plain bits; the calls get its true
            // size and act on this thread only (pid 0).
            unsafe {
                let mut allowed: libc::cpu_set_t = std::mem::zeroed();
                if libc::sched_getaffinity(0, size, &mut allowed) != 0 {
                    return None;
                }
                let free = |c: usize| libc::CPU_ISSET(c, &allowed) && !taken.contains(&c);
                let core = current()
                    .filter(|&c| free(c))
                    .or_else(|| (0..libc::CPU_SETSIZE as usize).find(|&c| free(c)))?;
                let mut one: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(core, &mut one);
                if libc::sched_setaffinity(0, size, &one) != 0 {
                    return None;
                }
                return Some(Pinned { core, allowed });
            }
        }
        #[allow(unreachable_code)]
        {
            let _ = taken;
            None
        }
    }

    /// The core this thread is kept on.
    pub fn core(&self) -> usize {
        self.core
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: as in `to_free`; the set is the one read there.
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.allowed);
        }
    }
}

/// The cores this thread may run on (tests: a pin must not outlive its use).
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn allowed() -> Vec<usize> {
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: as in `Pinned::to_free`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(0, size, &mut set), 0);
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_thread_runs_on_a_free_core_and_is_freed_after() {
        let before = allowed();
        let here = current().expect("linux says which core");
        assert!(before.contains(&here));
        {
            let pin = Pinned::to_free(&[]).expect("a core is free");
            assert_eq!(pin.core(), current().expect("a core"), "stays where it ran");
            assert_eq!(allowed(), vec![pin.core()]);
        }
        assert_eq!(allowed(), before, "free to run on every core again");
        if before.len() >= 2 {
            let pin = Pinned::to_free(&[here]).expect("another core is free");
            assert_ne!(pin.core(), here);
            assert_eq!(current(), Some(pin.core()), "moved there");
        }
        assert!(Pinned::to_free(&before).is_none(), "every core taken");
        assert_eq!(allowed(), before);
    }
}
