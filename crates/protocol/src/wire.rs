//! The supervisor ⇄ worker wire: messages and their framing.
//!
//! Three socketpairs connect the processes: the *control* channel (actions
//! in; output and reports out), the *skill* channel (one request, one reply,
//! in order) and the *interrupt* channel (read by its own thread in the
//! worker), on the worker's fds [`CONTROL_FD`], [`SKILL_FD`] and
//! [`INTERRUPT_FD`]. Frames are a little-endian `u32` length followed by a
//! postcard-encoded message. The worker is untrusted: code in it can write
//! anything to its end, so every frame the supervisor reads is size-checked
//! and decoded, and a bad frame ends the worker.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use robot_api::{RecordType, SkillError, SkillSpec, Value};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::library::LibraryReport;
use crate::observation::{Chunk, ErrorReport, Picture};

/// The fd of the control socket in the worker: actions in, output and
/// reports out.
pub const CONTROL_FD: i32 = 3;
/// The fd of the skill socket in the worker: one request, one reply.
pub const SKILL_FD: i32 = 4;
/// The fd of the interrupt socket in the worker: interrupts have their own
/// channel and thread, so the main thread can read actions straight off the
/// control socket (one wake-up per action instead of two).
pub const INTERRUPT_FD: i32 = 5;

/// The fd of the rehearsal socket in the worker: on it the supervisor passes
/// a rehearsal's own control, skill and interrupt channels (SCM_RIGHTS),
/// so the process that rehearses an action never holds the real ones.
pub const REHEARSAL_FD: i32 = 6;

/// Where, in the workspace, a rehearsal's copy of it is made: the
/// rehearsal's working directory and HOME, the only place it may write.
pub const REHEARSAL_DIR: &str = ".tmp/rehearsal";

/// Frames larger than this are refused: no legitimate message comes close.
pub const MAX_FRAME: usize = 64 << 20;

/// Messages from the supervisor to the worker (control channel).
#[derive(Debug, Serialize, Deserialize)]
pub enum ToWorker {
    /// The skill declarations and record types; the first message.
    Init(Box<WorkerInit>),
    /// Run one code action.
    Execute(Box<ExecuteRequest>),
    /// Rehearse one code action in a copy of the worker (a fork: the
    /// namespace copied on write), on the channels passed on
    /// [`REHEARSAL_FD`] just before; the worker answers
    /// [`FromWorker::RehearsalEnded`] when the copy has ended.
    Rehearse(Box<ExecuteRequest>),
    /// On the interrupt channel: end the running rehearsal's process now.
    EndRehearsal,
    /// Stop the running action with an exception in its code.
    Interrupt {
        /// The action to stop; ignored if another one runs by then.
        action: u64,
        /// Why: decides the exception class.
        reason: InterruptReason,
    },
}

/// What the worker needs to build the Python face of the skills.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerInit {
    /// Skill declarations, indexed by position in skill requests.
    pub skills: Vec<SkillSpec>,
    /// Record types skills return.
    pub records: Vec<RecordType>,
    /// The skill library folder whose modules to load, if the session has one.
    pub library: Option<PathBuf>,
}

/// One code action to run.
#[derive(Debug, Serialize, Deserialize)]
pub struct ExecuteRequest {
    /// Action number, unique in the session.
    pub action: u64,
    /// The Python source.
    pub code: String,
    /// How much output to keep.
    pub limits: OutputLimits,
}

/// How much of an action's output is kept, streamed and allowed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct OutputLimits {
    /// Bytes kept (and streamed live) from the start of the output.
    pub head: usize,
    /// Bytes kept from the end of the output.
    pub tail: usize,
    /// Total bytes an action may write; past it the writing code gets `OutputLimitExceeded`.
    pub max_total: u64,
}

/// Why an action is being interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InterruptReason {
    /// Its time limit passed: the code gets `ActionTimeout`.
    Timeout,
    /// Someone asked (Ctrl-C, an interrupt request, an e-stop): `KeyboardInterrupt`.
    Request,
}

impl InterruptReason {
    /// Both reasons.
    pub const ALL: [InterruptReason; 2] = [InterruptReason::Timeout, InterruptReason::Request];

    /// The number the worker's signal handler reads (0 means none); the
    /// runner gets the same numbers from `_codeact.INTERRUPT_*`.
    pub fn code(self) -> u8 {
        match self {
            InterruptReason::Timeout => 1,
            InterruptReason::Request => 2,
        }
    }

    /// The reason a code stands for.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The Python exception the code gets, and its message.
    pub fn exception(self) -> (&'static str, &'static str) {
        match self {
            InterruptReason::Timeout => (
                "ActionTimeout",
                "the action ran past its time limit and was stopped",
            ),
            InterruptReason::Request => {
                ("KeyboardInterrupt", "the action was interrupted on request")
            }
        }
    }
}

/// Messages from the worker to the supervisor (control channel).
#[derive(Debug, Serialize, Deserialize)]
pub enum FromWorker {
    /// Python is up and the skills are defined.
    Ready {
        /// The isolation measures the worker applied to itself.
        protections: Vec<Protection>,
        /// `sys.version` of the embedded interpreter.
        python: String,
        /// What the skill library gave the namespace, and what failed.
        library: LibraryReport,
    },
    /// Output written by the action (the kept head part, in order).
    Output {
        /// The action that was running when it was written (0: between actions).
        action: u64,
        /// Chunks in the order written.
        chunks: Vec<Chunk>,
    },
    /// The action ended; the last message for it.
    Finished(Box<ActionReport>),
    /// The rehearsal's process has ended (its report came on its own channel).
    RehearsalEnded {
        /// Its exit status (128 + signal when killed).
        status: i32,
    },
    /// The worker cannot start; it exits after sending this.
    Fatal {
        /// What went wrong.
        message: String,
    },
}

/// How an action ended, as the worker saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActionReport {
    /// The action number.
    pub action: u64,
    /// `repr()` of the last expression's value, if the code ended in one that was not None.
    pub result: Option<String>,
    /// The exception that ended the action, if any.
    pub error: Option<ErrorReport>,
    /// The exception was the timeout or interrupt the supervisor asked for.
    pub interrupted: Option<InterruptReason>,
    /// Bytes of output dropped between the head and the tail.
    pub cut_bytes: u64,
    /// The kept tail of the output, after the cut.
    pub tail: Vec<Chunk>,
    /// Things that went wrong beside the code's own result (restored skills, threads left running).
    pub notes: Vec<String>,
    /// Something the action did calls for the safe stop even if it ended without an error.
    pub abnormal: bool,
    /// Pictures attached with `show()`.
    pub images: Vec<Picture>,
}

/// One isolation measure and whether it is in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    /// Short name: "network", "filesystem", "processes", ...
    pub name: String,
    /// Whether it is in force.
    pub active: bool,
    /// What it does, or why it is not available.
    pub detail: String,
}

/// A skill call from the worker (skill channel).
#[derive(Debug, Serialize, Deserialize)]
pub struct SkillRequest {
    /// The action the calling code belongs to.
    pub action: u64,
    /// Index of the skill in [`WorkerInit::skills`].
    pub skill: u32,
    /// Positional arguments, all parameters filled (defaults applied by Python).
    pub args: Vec<Value>,
    /// Run it now, start it in the background, or wait for one started.
    pub mode: CallMode,
}

/// How a [`SkillRequest`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallMode {
    /// Run it and reply with its result.
    Now,
    /// Start it on a thread of its own and reply at once with its handle (an
    /// int): a fleet's robots move at once. It is cancelled with its action.
    Start,
    /// Wait for the call with this handle (started by the same action) and
    /// reply with its result.
    Wait(u64),
}

/// The reply to a [`SkillRequest`].
pub type SkillReply = Result<Value, SkillError>;

/// Sends `fds` over `stream` (SCM_RIGHTS) with one byte of data.
pub fn send_fds(stream: &UnixStream, fds: &[RawFd]) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let data = [0u8];
    let iov = [io::IoSlice::new(&data)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    loop {
        match sendmsg::<()>(stream.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                wait_fd(stream.as_raw_fd(), PollFlags::POLLOUT, None)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Receives the fds [`send_fds`] sent (waiting for them); they are
/// close-on-exec.
pub fn recv_fds(stream: &UnixStream) -> io::Result<Vec<std::os::fd::OwnedFd>> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut data = [0u8];
    let mut space = nix::cmsg_space!([RawFd; 8]);
    loop {
        let mut iov = [io::IoSliceMut::new(&mut data)];
        match recvmsg::<()>(
            stream.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) if msg.bytes == 0 => {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"))
            }
            Ok(msg) => {
                let mut fds = Vec::new();
                for c in msg.cmsgs().map_err(io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(received) = c {
                        // SAFETY: the kernel just gave us these fds.
                        fds.extend(
                            received
                                .into_iter()
                                .map(|fd| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                return Ok(fds);
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(nix::errno::Errno::EAGAIN) => {
                wait_fd(stream.as_raw_fd(), PollFlags::POLLIN, None)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Errors reading or writing frames.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The other end closed its socket (for the worker: it died).
    #[error("the other end closed the connection")]
    Closed,
    /// An OS error on the socket.
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    /// A frame that is too large or does not decode: the peer is broken or hostile.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// The sending half of a channel. Frames are written whole, so several
/// threads may send through one `Sender` behind a mutex.
#[derive(Debug)]
pub struct Sender {
    stream: UnixStream,
    buf: Vec<u8>,
}

impl Sender {
    /// Wraps a (non-blocking) stream.
    pub fn new(stream: UnixStream) -> Self {
        Sender {
            stream,
            buf: Vec::with_capacity(256),
        }
    }

    /// Encodes and sends one message, waiting while the socket is full.
    pub fn send<T: Serialize>(&mut self, msg: &T) -> Result<(), WireError> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 4]);
        let mut buf = std::mem::take(&mut self.buf);
        buf = postcard::to_extend(msg, buf).map_err(|e| WireError::Malformed(e.to_string()))?;
        let len = (buf.len() - 4) as u32;
        buf[..4].copy_from_slice(&len.to_le_bytes());
        let result = write_all(&mut self.stream, &buf);
        self.buf = buf;
        result
    }
}

fn write_all(stream: &mut UnixStream, mut data: &[u8]) -> Result<(), WireError> {
    while !data.is_empty() {
        match stream.write(data) {
            Ok(0) => return Err(WireError::Closed),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                wait_fd(stream.as_raw_fd(), PollFlags::POLLOUT, None)?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(WireError::Closed),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Waits until `fd` is ready for `flags` or `timeout` passes. Returns false on timeout.
pub fn wait_fd(fd: RawFd, flags: PollFlags, timeout: Option<Duration>) -> io::Result<bool> {
    // SAFETY: the fd is owned by the caller and stays open for this call.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let mut fds = [PollFd::new(borrowed.as_fd(), flags)];
    let timeout = match timeout {
        None => PollTimeout::NONE,
        Some(d) => PollTimeout::try_from(d.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(PollTimeout::MAX),
    };
    match poll(&mut fds, timeout) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The receiving half of a channel, with its own buffer.
#[derive(Debug)]
pub struct Receiver {
    stream: UnixStream,
    /// Always initialised to its full length; bytes `start..filled` are unread.
    /// (Resizing it around every read zero-filled 64 KiB per poll, which was
    /// most of a skill call's cost.)
    buf: Vec<u8>,
    start: usize,
    filled: usize,
}

impl Receiver {
    /// Wraps a (non-blocking) stream.
    pub fn new(stream: UnixStream) -> Self {
        Receiver {
            stream,
            buf: vec![0; 64 << 10],
            start: 0,
            filled: 0,
        }
    }

    /// The socket's fd, for polling together with other fds.
    pub fn raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }

    /// Returns the next message if a whole frame has arrived, reading what the socket has.
    /// `Ok(None)`: nothing complete yet.
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, WireError> {
        loop {
            if let Some(msg) = self.decode_buffered()? {
                return Ok(Some(msg));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Waits for the next message. Spins for up to `spin` first, which saves
    /// the cost of a sleep and wake-up when the answer is microseconds away
    /// (a skill reply).
    pub fn recv<T: DeserializeOwned>(&mut self, spin: Duration) -> Result<T, WireError> {
        self.recv_spinning(spin, std::hint::spin_loop)
    }

    /// Like [`Receiver::recv`], but yields the CPU between polls: for waits
    /// that may last a while (the next action), where other threads of the
    /// round trip need the core more than this one.
    pub fn recv_yielding<T: DeserializeOwned>(&mut self, spin: Duration) -> Result<T, WireError> {
        self.recv_spinning(spin, std::thread::yield_now)
    }

    fn recv_spinning<T: DeserializeOwned>(
        &mut self,
        spin: Duration,
        pause: fn(),
    ) -> Result<T, WireError> {
        let spin_until = Instant::now() + spin;
        loop {
            if let Some(msg) = self.try_recv()? {
                return Ok(msg);
            }
            if Instant::now() < spin_until {
                pause();
            } else {
                wait_fd(self.raw_fd(), PollFlags::POLLIN, None)?;
            }
        }
    }

    /// Reads what is available. Returns false when nothing was.
    fn fill(&mut self) -> Result<bool, WireError> {
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
        } else if self.start > (1 << 20) || self.buf.len() - self.filled < self.needed() {
            // Move the unread bytes to the front before growing.
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        let room = self.buf.len() - self.filled;
        let want = self.needed().max(4 << 10);
        if room < want {
            self.buf.resize(self.filled + want.max(64 << 10), 0);
        }
        match self.stream.read(&mut self.buf[self.filled..]) {
            Ok(0) => Err(WireError::Closed),
            Ok(n) => {
                self.filled += n;
                Ok(true)
            }
            Err(e) => match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(false),
                io::ErrorKind::ConnectionReset => Err(WireError::Closed),
                _ => Err(e.into()),
            },
        }
    }

    fn needed(&self) -> usize {
        let avail = &self.buf[self.start..self.filled];
        if avail.len() < 4 {
            return 4;
        }
        let len = u32::from_le_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        (len + 4).saturating_sub(avail.len())
    }

    fn decode_buffered<T: DeserializeOwned>(&mut self) -> Result<Option<T>, WireError> {
        let avail = &self.buf[self.start..self.filled];
        if avail.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len > MAX_FRAME {
            return Err(WireError::Malformed(format!(
                "frame of {len} bytes is over the {MAX_FRAME}-byte limit"
            )));
        }
        if avail.len() < 4 + len {
            return Ok(None);
        }
        let msg = postcard::from_bytes(&avail[4..4 + len])
            .map_err(|e| WireError::Malformed(e.to_string()))?;
        self.start += 4 + len;
        Ok(Some(msg))
    }
}

/// A connected pair of non-blocking sockets; the second end goes to the worker.
pub fn socket_pair() -> io::Result<(UnixStream, UnixStream)> {
    let (a, b) = UnixStream::pair()?;
    a.set_nonblocking(true)?;
    b.set_nonblocking(true)?;
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interrupt_reasons_round_trip_through_their_codes() {
        for r in InterruptReason::ALL {
            assert_eq!(InterruptReason::from_code(r.code()), Some(r));
            assert_ne!(r.code(), 0, "0 means no interrupt");
        }
        assert_eq!(InterruptReason::from_code(0), None);
        assert_eq!(InterruptReason::Timeout.exception().0, "ActionTimeout");
    }

    #[test]
    fn frames_round_trip_and_garbage_is_rejected() {
        let (a, b) = socket_pair().unwrap();
        let mut tx = Sender::new(a.try_clone().unwrap());
        let mut rx = Receiver::new(b);
        let req = SkillRequest {
            action: 7,
            skill: 2,
            args: vec![Value::Float(1.5), Value::Str("x".into())],
            mode: CallMode::Now,
        };
        tx.send(&req).unwrap();
        tx.send(&req).unwrap();
        for _ in 0..2 {
            let got: SkillRequest = rx.recv(Duration::ZERO).unwrap();
            assert_eq!(got.action, 7);
            assert_eq!(got.args, req.args);
        }
        assert!(rx.try_recv::<SkillRequest>().unwrap().is_none());
        // A hostile worker writing a huge length prefix is refused, not trusted.
        (&a).write_all(&u32::MAX.to_le_bytes()).unwrap();
        assert!(matches!(
            rx.try_recv::<SkillRequest>(),
            Err(WireError::Malformed(_))
        ));
        drop(tx);
        drop(a);
        let (quiet, peer) = socket_pair().unwrap();
        let mut rx2 = Receiver::new(quiet);
        assert!(rx2.try_recv::<SkillRequest>().unwrap().is_none());
        drop(peer);
        assert!(matches!(
            rx2.try_recv::<SkillRequest>(),
            Err(WireError::Closed)
        ));
    }

    #[test]
    fn frames_larger_than_the_buffer_arrive_whole_between_small_ones() {
        let (a, b) = socket_pair().unwrap();
        let mut rx = Receiver::new(b);
        let small = SkillRequest {
            action: 1,
            skill: 0,
            args: vec![Value::Int(1)],
            mode: CallMode::Start,
        };
        let big = SkillRequest {
            action: 2,
            skill: 0,
            args: vec![Value::FloatArray((0..100_000).map(f64::from).collect())],
            mode: CallMode::Wait(3),
        };
        // A writer thread, since the socket buffer holds less than the big frame.
        let writer = std::thread::spawn(move || {
            let mut tx = Sender::new(a);
            for _ in 0..3 {
                tx.send(&small).unwrap();
                tx.send(&big).unwrap();
            }
        });
        for _ in 0..3 {
            let got: SkillRequest = rx.recv(Duration::ZERO).unwrap();
            assert_eq!(got.action, 1);
            let got: SkillRequest = rx.recv(Duration::ZERO).unwrap();
            assert_eq!(
                got.args,
                vec![Value::FloatArray((0..100_000).map(f64::from).collect())]
            );
        }
        writer.join().unwrap();
    }
}
