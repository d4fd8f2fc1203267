//! Running one action on a worker: the supervisor's event loop. It polls the
//! worker's sockets and pipes, the interrupter and any watched input, turns
//! what it sees into [`Event`]s for the action's [`Lifecycle`], carries out
//! the effects, and builds the [`Observation`] from the worker's report.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use super::config::ExecutorConfig;
use super::interrupter::{InputWatch, Interrupter};
use super::lifecycle::{ActionEnd, Effect, Event, Finish, Lifecycle};
use super::observation::{Observation, Status, Stream};
use super::output::OutputBuffer;
use super::process::{describe_exit, Worker};
use super::skill_server::SkillShared;
use super::wire::{
    ActionReport, ExecuteRequest, FromWorker, Receiver, Sender, ToWorker, WireError,
};

/// How long the supervisor polls without sleeping after sending an action:
/// short actions finish within it, and a wake-up from sleep costs more than
/// the whole action on a virtual machine.
const ACTION_SPIN: Duration = Duration::from_micros(250);
/// Where an action's output goes and what else is watched while it runs.
pub(super) struct ActionIo<'a, 'b> {
    /// Sees printed text as it arrives (within the live output limit).
    pub on_output: &'a mut dyn FnMut(Stream, &str),
    /// Input read while the action runs; it may ask for an interrupt.
    pub input: Option<&'b mut dyn InputWatch>,
}

/// What running an action gave: the observation (without the robot's part)
/// and how it ended.
pub(super) struct ActionRun {
    pub observation: Observation,
    pub outcome: ActionEnd,
}

/// What running an action watches and speaks to: a worker's own channels,
/// or a rehearsal's (its control, interrupt and skill channels; the worker's
/// raw output pipes).
pub(super) struct Channels<'w> {
    /// Where the action is asked for (the worker's control channel).
    pub control_tx: &'w mut Sender,
    /// Where its output and report come.
    pub control_rx: &'w mut Receiver,
    /// Where interrupts go.
    pub interrupt_tx: &'w mut Sender,
    /// The raw fd 1 and 2 of the process.
    pub stdout: &'w mut File,
    /// See `stdout`.
    pub stderr: &'w mut File,
    /// What skills report while they run.
    pub progress: &'w mut File,
    /// Readable when the process has ended, if there is one to watch (-1).
    pub pidfd: RawFd,
    /// The skill server's state for this action.
    pub shared: &'w SkillShared,
    /// `what`, with how the process ended (for a lost worker's message).
    pub describe_exit: &'w mut dyn FnMut(&str) -> String,
}

/// The action being run: its number, lifecycle, and what it has produced.
struct Run<'w, 'o> {
    worker: Channels<'w>,
    action: u64,
    life: Lifecycle,
    report: Option<ActionReport>,
    output: LiveOutput<'o>,
}

impl Run<'_, '_> {
    /// Feeds one event to the lifecycle and carries out what it asks;
    /// returns whether it asked for anything.
    fn feed(&mut self, event: Event) -> bool {
        let Some(effect) = self.life.step(event, Instant::now()) else {
            return false;
        };
        let shared = self.worker.shared;
        match effect {
            Effect::Interrupt(reason) => {
                // The interrupt goes first: a cancelled skill call then finds its reason.
                let _ = self.worker.interrupt_tx.send(&ToWorker::Interrupt {
                    action: self.action,
                    reason,
                });
                shared.cancel_running();
            }
            Effect::CloseSkills => shared.close_action(),
        }
        true
    }

    /// Takes every message the worker has sent so far.
    fn read_control(&mut self) {
        while self.life.code_may_run() {
            match self.worker.control_rx.try_recv::<FromWorker>() {
                Ok(Some(FromWorker::Output { chunks, .. })) => {
                    for c in chunks {
                        self.output.push(c.stream, &c.text);
                    }
                }
                Ok(Some(FromWorker::Finished(r))) if r.action == self.action => {
                    let finish = Finish {
                        raised: r.error.is_some(),
                        interrupted: r.interrupted.is_some(),
                        abnormal: r.abnormal,
                    };
                    self.report = Some(*r);
                    self.feed(Event::Finished(finish));
                }
                Ok(Some(
                    FromWorker::Finished(_)
                    | FromWorker::Ready { .. }
                    | FromWorker::RehearsalEnded { .. },
                )) => {}
                Ok(Some(FromWorker::Fatal { message })) => {
                    self.feed(Event::WorkerLost(format!("the worker failed: {message}")));
                }
                Ok(None) => return,
                Err(WireError::Closed) => self.lost("the worker process died"),
                Err(e) => {
                    self.feed(Event::WorkerLost(format!(
                        "the worker sent a malformed message ({e}); it was killed"
                    )));
                }
            }
        }
    }

    fn lost(&mut self, what: &str) {
        let why = (self.worker.describe_exit)(what);
        self.feed(Event::WorkerLost(why));
    }

    /// Watches the worker while its code may run: output, messages, stop
    /// requests, time limits, the process ending.
    fn watch(&mut self, interrupter: &Interrupter, mut input: Option<&mut dyn InputWatch>) {
        let spin_until = Instant::now() + ACTION_SPIN;
        while self.life.code_may_run() {
            // Time limits first: the deadline starts the stop, the grace period ends it.
            if self.feed(Event::Tick) {
                continue;
            }
            let now = Instant::now();
            let wake_at = self.life.wake_at().unwrap_or(now);
            let spinning = now < spin_until;
            let ready = poll_fds(
                &[
                    self.worker.control_rx.raw_fd(),
                    self.worker.stdout.as_raw_fd(),
                    self.worker.stderr.as_raw_fd(),
                    interrupter.raw_fd(),
                    self.worker.pidfd,
                    input.as_ref().map_or(-1, |i| i.fd()),
                    self.worker.progress.as_raw_fd(),
                ],
                if spinning {
                    Duration::ZERO
                } else {
                    wake_at.saturating_duration_since(now)
                },
            );
            if spinning && !ready.contains(&true) {
                std::thread::yield_now();
                continue;
            }
            let asked = ready[5] && input.as_mut().is_some_and(|i| i.on_readable());
            if asked || (ready[3] && interrupter.drain()) {
                self.feed(Event::Interrupt);
            }
            if ready[1] {
                self.output.read_raw(self.worker.stdout, Stream::Stdout);
            }
            if ready[2] {
                self.output.read_raw(self.worker.stderr, Stream::Stderr);
            }
            if ready[0] {
                self.read_control();
            }
            // After the control socket: output the code printed before a
            // skill call is sent before the call, so it is there already.
            if ready[6] {
                self.output.read_progress(self.worker.progress);
            }
            if ready[4] && self.life.code_may_run() {
                self.lost("the worker process died");
            }
            let broken = self
                .worker
                .shared
                .protocol_error
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(why) = broken {
                self.feed(Event::WorkerLost(why));
            }
        }
    }

    /// Waits (at most one grace period) for a skill handler still running.
    fn settle(&mut self) {
        while self.life.outcome().is_none() {
            if self.worker.shared.idle() {
                self.feed(Event::SkillsIdle);
            } else {
                self.feed(Event::Tick);
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Runs one action to its end on `worker`.
pub(super) fn run_action(
    worker: &mut Worker,
    config: &ExecutorConfig,
    interrupter: &Interrupter,
    action: u64,
    code: &str,
    timeout: Duration,
    io: ActionIo<'_, '_>,
) -> ActionRun {
    let child = &mut worker.child;
    let mut describe = |what: &str| describe_exit(child, what);
    let request = ToWorker::Execute(Box::new(ExecuteRequest {
        action,
        code: code.to_owned(),
        limits: config.output,
    }));
    // The worker's fields are borrowed apart: the child for the exit, the rest to run.
    let channels = Channels {
        control_tx: &mut worker.control_tx,
        control_rx: &mut worker.control_rx,
        interrupt_tx: &mut worker.interrupt_tx,
        stdout: &mut worker.stdout,
        stderr: &mut worker.stderr,
        progress: &mut worker.progress,
        pidfd: worker.pidfd.as_ref().map_or(-1, |f| f.as_raw_fd()),
        shared: &worker.shared,
        describe_exit: &mut describe,
    };
    run_on(
        channels,
        config,
        interrupter,
        (action, request),
        timeout,
        io,
    )
}

/// Runs one action to its end on `channels`: sends `request` (the action
/// numbered as it says), watches, and builds the observation.
pub(super) fn run_on(
    channels: Channels<'_>,
    config: &ExecutorConfig,
    interrupter: &Interrupter,
    (action, request): (u64, ToWorker),
    timeout: Duration,
    io: ActionIo<'_, '_>,
) -> ActionRun {
    let started = Instant::now();
    channels.shared.begin_action(action);
    while interrupter.drain() {}

    let sent = channels.control_tx.send(&request);
    let mut run = Run {
        worker: channels,
        action,
        life: Lifecycle::start(started, timeout, config.grace),
        report: None,
        output: LiveOutput {
            buffer: OutputBuffer::new(config.output.head, config.output.tail),
            on_output: io.on_output,
            raw: RawOutput::default(),
            progress: RawOutput::default(),
        },
    };
    if let Err(e) = sent {
        run.lost(&format!("the worker could not take the action ({e})"));
    }
    run.watch(interrupter, io.input);
    run.settle();
    // Raw output written just before the end may still be in the pipes.
    run.output.read_raw_all(run.worker.stdout, Stream::Stdout);
    run.output.read_raw_all(run.worker.stderr, Stream::Stderr);
    while run.output.read_progress(run.worker.progress) {}

    let mut outcome = run.life.outcome().expect("settled").clone();
    let unwaited = run.worker.shared.take_unwaited();
    // A started call the code never waited for may have been stopped
    // mid-motion: the robot gets the safe stop.
    outcome.abnormal |= unwaited > 0;
    let mut observation = observe(run, &outcome, timeout, started);
    if unwaited > 0 {
        observation.notes.push(format!(
            "{unwaited} started skill call(s) were never waited for (together() or .wait()); any still running were stopped when the action ended"
        ));
    }
    ActionRun {
        observation,
        outcome,
    }
}

/// The observation of an action that has ended (its robot part comes later).
fn observe(
    run: Run<'_, '_>,
    outcome: &ActionEnd,
    timeout: Duration,
    started: Instant,
) -> Observation {
    let Run {
        worker,
        action,
        report,
        mut output,
        ..
    } = run;
    if let Some(r) = &report {
        output.buffer.push_cut(r.cut_bytes);
        for c in &r.tail {
            output.buffer.push(c.stream, &c.text);
        }
    }
    let kept = output.buffer.take();
    let (skill_calls, total_calls) = worker.shared.take_calls();
    let mut notes = Vec::new();
    if outcome.skill_stuck {
        notes.push("a skill handler did not stop when cancelled; it may still be running in the robot backend".to_owned());
    }
    if total_calls as usize > skill_calls.len() {
        notes.push(format!(
            "{} skill calls made; the first {} are listed",
            total_calls,
            skill_calls.len()
        ));
    }
    let (result, error, images) = match report {
        Some(r) => {
            notes.extend(r.notes);
            (r.result, r.error, r.images)
        }
        None => (None, None, Vec::new()),
    };
    if outcome.status == Status::Timeout {
        notes.push(format!(
            "the action was stopped after its time limit of {:.1} s",
            timeout.as_secs_f64()
        ));
    }
    Observation {
        action,
        status: outcome.status,
        output: kept.head,
        output_cut_bytes: kept.cut_bytes,
        output_tail: kept.tail,
        result,
        error,
        skill_calls,
        duration_ms: started.elapsed().as_secs_f64() * 1e3,
        worker_restart: None,
        safe_stop: false,
        notes,
        robot_events: Vec::new(),
        robot_state: None,
        robot_time: None,
        images,
    }
}

/// The action's output: kept head and tail, and the live copy to the caller
/// until the head is full.
struct LiveOutput<'a> {
    buffer: OutputBuffer,
    on_output: &'a mut dyn FnMut(Stream, &str),
    raw: RawOutput,
    progress: RawOutput,
}

impl LiveOutput<'_> {
    fn push(&mut self, stream: Stream, text: &str) {
        let was_open = !self.buffer.head_closed();
        let kept = self.buffer.push(stream, text);
        if !kept.is_empty() {
            (self.on_output)(stream, kept);
        }
        if was_open && self.buffer.head_closed() {
            (self.on_output)(
                Stream::Stderr,
                "\n[output limit reached: the rest is not shown live; its end is kept]\n",
            );
        }
    }

    /// Takes what one read of a worker's pipe gives.
    fn read_raw(&mut self, file: &mut File, stream: Stream) {
        if let Some(text) = self.raw.read(file) {
            self.push(stream, &text);
        }
    }

    /// Takes what skills reported ([`robot_api::Progress`]) as printed
    /// text; returns whether there was any.
    fn read_progress(&mut self, file: &mut File) -> bool {
        match self.progress.read(file) {
            Some(text) => {
                self.push(Stream::Stdout, &text);
                true
            }
            None => false,
        }
    }

    /// Takes everything left in a worker's pipe.
    fn read_raw_all(&mut self, file: &mut File, stream: Stream) {
        while let Some(text) = self.raw.read(file) {
            self.push(stream, &text);
        }
    }
}

/// Decodes raw fd output as UTF-8 across read boundaries.
#[derive(Default)]
struct RawOutput {
    buf: Vec<u8>,
}

impl RawOutput {
    fn read(&mut self, file: &mut File) -> Option<String> {
        let mut chunk = [0u8; 64 << 10];
        let n = match file.read(&mut chunk) {
            Ok(n) if n > 0 => n,
            _ => return None,
        };
        self.buf.extend_from_slice(&chunk[..n]);
        let valid = match std::str::from_utf8(&self.buf) {
            Ok(_) => self.buf.len(),
            Err(e) if e.error_len().is_none() => e.valid_up_to(),
            Err(_) => self.buf.len(),
        };
        let text = String::from_utf8_lossy(&self.buf[..valid]).into_owned();
        self.buf.drain(..valid);
        Some(text)
    }
}

/// Polls fds for input (a negative fd is skipped); returns which are ready.
fn poll_fds<const N: usize>(fds: &[RawFd; N], timeout: Duration) -> [bool; N] {
    let mut pfds = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    let ms = timeout.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    // SAFETY: pfds is a valid array of pollfd of the given length.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    let mut ready = [false; N];
    if n > 0 {
        for (r, p) in ready.iter_mut().zip(&pfds) {
            *r = p.revents != 0;
        }
    }
    ready
}
