//! Stopping a running action from elsewhere: [`Interrupter`] (another thread)
//! and [`InputWatch`] (input the supervisor's own thread reads while the
//! action runs).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// Interrupts the running action from another thread (Ctrl-C, a protocol
/// request, an e-stop). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Interrupter {
    fd: Arc<OwnedFd>,
}

impl Interrupter {
    pub(super) fn new() -> std::io::Result<Self> {
        // SAFETY: plain syscall; the fd is owned below.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor.
        Ok(Interrupter {
            fd: Arc::new(unsafe { OwnedFd::from_raw_fd(fd) }),
        })
    }

    /// Asks the running action to stop (`KeyboardInterrupt` in its code; a
    /// hard stop after the grace period). Does nothing between actions.
    pub fn interrupt(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to our eventfd.
        unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// The eventfd that is readable while an interrupt is pending.
    pub(super) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Takes a pending interrupt; returns whether there was one.
    pub(super) fn drain(&self) -> bool {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64 from our non-blocking eventfd.
        unsafe { libc::read(self.fd.as_raw_fd(), (&mut value as *mut u64).cast(), 8) == 8 }
    }
}

/// Input the supervisor watches while an action runs, so one thread can both
/// run actions and read requests (the session protocol's stdin): a request
/// to interrupt arrives without a reader thread and its wake-up per request.
pub trait InputWatch {
    /// The fd to poll for readability; negative once it has ended.
    fn fd(&self) -> RawFd;
    /// Called when the fd is readable (or closed). Returns true to interrupt
    /// the running action.
    fn on_readable(&mut self) -> bool;
}
