//! The `_codeact` Python module, written in Rust: skill calls across the
//! process boundary, the output streams that replace `sys.stdout`/`sys.stderr`,
//! and interrupt delivery. Also converts between Python objects and [`Value`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use robot_api::{ErrorKind, Record, SkillSpec, Value};

use codeact_protocol::observation::{Chunk, Stream};
use codeact_protocol::output::OutputBuffer;
use codeact_protocol::wire::{
    CallMode, FromWorker, InterruptReason, OutputLimits, Receiver, Sender, SkillReply, SkillRequest,
};

/// How long a skill caller spins before sleeping on the socket: most skill
/// replies arrive within this, and a sleep/wake-up costs more than the spin.
const SKILL_SPIN: Duration = Duration::from_micros(100);
/// Pending output above this is sent at once instead of by the flusher thread.
const FLUSH_AT: usize = 32 << 10;

/// Everything the worker's threads share.
pub struct WorkerState {
    /// Control channel to the supervisor (output, reports).
    pub control: Mutex<Sender>,
    skill: Mutex<(Sender, Receiver)>,
    skills: Vec<SkillSpec>,
    output: Mutex<OutputState>,
    flush_wanted: Condvar,
    /// The running action, 0 between actions.
    pub action: AtomicU64,
    interrupt: AtomicU8,
    /// An interrupt for an action that has not started yet (it overtook the
    /// action on its own channel); also serialises starting an action with
    /// recording an interrupt, so none is lost in between.
    early_interrupt: Mutex<(u64, u8)>,
    in_user_code: std::sync::atomic::AtomicBool,
    /// This process's id: another one is a child forked by the code (or,
    /// once it has taken its channels, a rehearsal).
    pid: std::sync::atomic::AtomicU32,
    /// The rehearsal's process while one runs (0 otherwise).
    pub rehearsal_pid: std::sync::atomic::AtomicI32,
    main_tid: std::sync::atomic::AtomicI32,
    /// Threads alive when the running action started; they may not call skills.
    preexisting: Mutex<HashSet<i32>>,
    refused: Mutex<Vec<String>>,
    classes: OnceLock<Classes>,
}

/// The worker's locks, held across a fork ([`WorkerState::hold_for_fork`]).
pub struct ForkHold<'a> {
    _control: std::sync::MutexGuard<'a, Sender>,
    _output: std::sync::MutexGuard<'a, OutputState>,
    _early: std::sync::MutexGuard<'a, (u64, u8)>,
}

struct Classes {
    errors: Py<PyDict>,
    /// Each record class with its field names in `__init__` order, so records
    /// whose fields come in that order are built with positional arguments
    /// (no keyword dict: a `get_pose()` is a few hundred ns cheaper).
    record_fields: std::collections::HashMap<String, (Py<PyAny>, Vec<String>)>,
    /// `numpy.array`, imported on first use (importing numpy costs ~100 ms of start-up).
    numpy_array: OnceLock<Option<Py<PyAny>>>,
}

struct OutputState {
    action: u64,
    buffer: OutputBuffer,
    pending: Vec<Chunk>,
    pending_bytes: usize,
    limits: OutputLimits,
}

static STATE: OnceLock<WorkerState> = OnceLock::new();

/// The worker state; set once by [`install`].
pub fn state() -> &'static WorkerState {
    STATE
        .get()
        .expect("worker state is installed before Python runs")
}

/// Sets up the shared state. Called once, on the main thread, before Python starts.
pub fn install(control: Sender, skill: (Sender, Receiver), skills: Vec<SkillSpec>) {
    let limits = OutputLimits {
        head: 64 << 10,
        tail: 16 << 10,
        max_total: 16 << 20,
    };
    let state = WorkerState {
        control: Mutex::new(control),
        skill: Mutex::new(skill),
        skills,
        output: Mutex::new(OutputState {
            action: 0,
            buffer: OutputBuffer::new(limits.head, limits.tail),
            pending: Vec::new(),
            pending_bytes: 0,
            limits,
        }),
        flush_wanted: Condvar::new(),
        action: AtomicU64::new(0),
        interrupt: AtomicU8::new(0),
        early_interrupt: Mutex::new((0, 0)),
        in_user_code: std::sync::atomic::AtomicBool::new(false),
        pid: std::sync::atomic::AtomicU32::new(std::process::id()),
        rehearsal_pid: std::sync::atomic::AtomicI32::new(0),
        main_tid: std::sync::atomic::AtomicI32::new(nix::unistd::gettid().as_raw()),
        preexisting: Mutex::new(HashSet::new()),
        refused: Mutex::new(Vec::new()),
        classes: OnceLock::new(),
    };
    if STATE.set(state).is_err() {
        panic!("worker state installed twice");
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WorkerState {
    /// Prepares for an action: output limits, no pending interrupt, and the
    /// threads alive now (which may not call skills).
    pub fn begin_action(&self, action: u64, limits: OutputLimits, threads: &HashSet<i32>) {
        {
            let mut out = lock(&self.output);
            out.limits = limits;
            out.buffer = OutputBuffer::new(limits.head, limits.tail);
            out.action = action;
        }
        lock(&self.preexisting).clone_from(threads);
        lock(&self.refused).clear();
        let early = lock(&self.early_interrupt);
        let pending = if early.0 == action { early.1 } else { 0 };
        self.interrupt.store(pending, Ordering::SeqCst);
        self.action.store(action, Ordering::SeqCst);
    }

    /// Ends the action: no more skill calls for it. Returns notes on refused calls.
    pub fn end_action(&self) -> Vec<String> {
        self.action.store(0, Ordering::SeqCst);
        self.interrupt.store(0, Ordering::SeqCst);
        let refused = std::mem::take(&mut *lock(&self.refused));
        if refused.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "{} skill call(s) were refused because they came from a thread or process that outlived its action (first: {})",
            refused.len(),
            refused[0]
        )]
    }

    /// Records an interrupt for `action`. Returns whether that action is
    /// running now (then the caller signals the main thread); an interrupt
    /// for a later action is kept until it starts.
    pub fn request_interrupt(&self, action: u64, reason: InterruptReason) -> bool {
        let code = reason.code();
        let mut early = lock(&self.early_interrupt);
        let running = self.action.load(Ordering::SeqCst);
        if running == action {
            self.interrupt.store(code, Ordering::SeqCst);
            return true;
        }
        if action > running {
            *early = (action, code);
        }
        false
    }

    /// True in a process forked by the action's code: it must not speak on
    /// the worker's channels (its frames would corrupt them).
    pub fn is_forked(&self) -> bool {
        std::process::id() != self.pid.load(Ordering::SeqCst)
    }

    /// Held across a fork: the locks another thread (the flusher, the
    /// interrupt reader) could hold at that moment, so the child never
    /// starts with one locked forever. Dropped in both processes.
    pub fn hold_for_fork(&self) -> ForkHold<'_> {
        ForkHold {
            _control: lock(&self.control),
            _output: lock(&self.output),
            _early: lock(&self.early_interrupt),
        }
    }

    /// In a rehearsal's process (a fork of the worker): speaks on the
    /// rehearsal's own channels from now on. The worker's were closed at
    /// the fork; their old handles are forgotten, not closed again.
    pub fn become_rehearsal(&self, control: Sender, skill: (Sender, Receiver)) {
        std::mem::forget(std::mem::replace(&mut *lock(&self.control), control));
        std::mem::forget(std::mem::replace(&mut *lock(&self.skill), skill));
        self.pid.store(std::process::id(), Ordering::SeqCst);
        self.rehearsal_pid.store(0, Ordering::SeqCst);
        let tid = nix::unistd::gettid().as_raw();
        self.main_tid.store(tid, Ordering::SeqCst);
        TID.with(|t| t.set(tid));
    }

    fn write(&self, stream: Stream, text: &str) -> Result<(), u64> {
        if self.is_forked() {
            // A forked child writes to its raw fds, which the supervisor also reads.
            let fd = if stream == Stream::Stderr { 2 } else { 1 };
            // SAFETY: writes a valid buffer to fd 1 or 2.
            unsafe { libc::write(fd, text.as_ptr().cast(), text.len()) };
            return Ok(());
        }
        let (over, send_now) = {
            let mut out = lock(&self.output);
            let kept = out.buffer.push(stream, text);
            let mut notify = false;
            if !kept.is_empty() {
                notify = out.pending.is_empty();
                codeact_protocol::output::append(&mut out.pending, stream, kept);
                out.pending_bytes += kept.len();
            }
            if notify {
                self.flush_wanted.notify_one();
            }
            let over = (out.buffer.total() > out.limits.max_total).then_some(out.limits.max_total);
            (over, out.pending_bytes >= FLUSH_AT)
        };
        if send_now {
            self.flush();
        }
        over.map_or(Ok(()), Err)
    }

    /// Sends pending output now. The control lock is taken first so output
    /// frames leave in the order written, and before the action's report.
    pub fn flush(&self) {
        if self.is_forked() || lock(&self.output).pending.is_empty() {
            return;
        }
        let mut control = lock(&self.control);
        let (action, chunks) = {
            let mut out = lock(&self.output);
            if out.pending.is_empty() {
                return;
            }
            out.pending_bytes = 0;
            (out.action, std::mem::take(&mut out.pending))
        };
        let _ = control.send(&FromWorker::Output { action, chunks });
    }

    /// Flushes and takes the kept tail and cut size; the caller holds no locks.
    pub fn finish_output(&self) -> (u64, Vec<Chunk>) {
        self.flush();
        let kept = lock(&self.output).buffer.take();
        (kept.cut_bytes, kept.tail)
    }

    /// The flusher thread: sends pending output a few milliseconds after it appears,
    /// so printed text streams live without a syscall per `print`.
    pub fn flusher_loop(&self) {
        loop {
            {
                let out = lock(&self.output);
                let _unused = self
                    .flush_wanted
                    .wait_while(out, |o| o.pending.is_empty())
                    .unwrap_or_else(|e| e.into_inner());
            }
            std::thread::sleep(Duration::from_millis(5));
            self.flush();
        }
    }
}

/// `sys.stdout` / `sys.stderr` of the worker: text goes to the supervisor.
#[pyclass(name = "Stream", module = "_codeact")]
struct Stream_ {
    stream: Stream,
}

#[pymethods]
impl Stream_ {
    #[new]
    fn new(fd: u8) -> Self {
        Stream_ {
            stream: if fd == 2 {
                Stream::Stderr
            } else {
                Stream::Stdout
            },
        }
    }

    fn write(&self, py: Python<'_>, text: &Bound<'_, PyAny>) -> PyResult<usize> {
        let text = text.cast::<PyString>().map_err(|_| {
            PyTypeError::new_err(format!(
                "write() argument must be str, not {}",
                text.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })?;
        let n = text.len()?;
        let s = text.to_cow()?;
        if let Err(limit) = state().write(self.stream, &s) {
            let class = error_class(py, "OutputLimitExceeded")?;
            return Err(PyErr::from_type(
                class.cast_into()?,
                format!(
                    "this action wrote more than {} of output, the limit; print summaries instead of whole data",
                    codeact_protocol::observation::human_bytes(limit)
                ),
            ));
        }
        Ok(n)
    }

    fn flush(&self) {
        state().flush();
    }

    fn isatty(&self) -> bool {
        false
    }

    fn writable(&self) -> bool {
        true
    }

    fn readable(&self) -> bool {
        false
    }

    #[getter]
    fn encoding(&self) -> &'static str {
        "utf-8"
    }

    #[getter]
    fn errors(&self) -> &'static str {
        "strict"
    }
}

/// The runner registers the exception and record classes it built.
#[pyfunction]
fn register(errors: Bound<'_, PyDict>, records: Bound<'_, PyDict>) -> PyResult<()> {
    // Every error kind must have its class: a missing one would be a broken contract.
    for kind in ErrorKind::ALL {
        if errors.get_item(kind.python_name())?.is_none() {
            return Err(PyRuntimeError::new_err(format!(
                "internal error: the runner made no exception class {}",
                kind.python_name()
            )));
        }
    }
    let mut record_fields = std::collections::HashMap::new();
    for (name, class) in records.iter() {
        let fields: Vec<String> = class.getattr("_codeact_fields")?.extract()?;
        record_fields.insert(name.extract::<String>()?, (class.unbind(), fields));
    }
    let _ = state().classes.set(Classes {
        errors: errors.unbind(),
        record_fields,
        numpy_array: OnceLock::new(),
    });
    Ok(())
}

/// Registered with `os.register_at_fork`: a forked child closes the worker's
/// channels, so it can neither corrupt them nor keep them open.
#[pyfunction]
fn after_fork_in_child() {
    // SAFETY: closing our own channel fds in a child that never uses them.
    unsafe {
        libc::close(codeact_protocol::wire::CONTROL_FD);
        libc::close(codeact_protocol::wire::SKILL_FD);
        libc::close(codeact_protocol::wire::INTERRUPT_FD);
        libc::close(codeact_protocol::wire::REHEARSAL_FD);
    }
}

/// Called by the SIGUSR1 handler: an [`InterruptReason`] code, or 0 for
/// nothing (a stale signal, or one that arrives after the user's code has
/// finished: it must not hit the runner's own reporting).
#[pyfunction]
fn take_interrupt() -> u8 {
    let st = state();
    if !st.in_user_code.load(Ordering::SeqCst) {
        return 0;
    }
    st.interrupt.swap(0, Ordering::SeqCst)
}

/// The runner marks when the user's code starts and stops running. An
/// interrupt that came before the code started is delivered now.
#[pyfunction]
fn set_in_user_code(running: bool) {
    let st = state();
    st.in_user_code.store(running, Ordering::SeqCst);
    if running && st.interrupt.load(Ordering::SeqCst) != 0 {
        // SAFETY: raise() signals the calling (main) thread; the handler is Python's.
        unsafe { libc::raise(libc::SIGUSR1) };
    }
}

thread_local! {
    /// This thread's id, read once (gettid is a system call); read again in
    /// a rehearsal's process, where the forking thread has another.
    static TID: std::cell::Cell<i32> = std::cell::Cell::new(nix::unistd::gettid().as_raw());
}

fn current_tid() -> i32 {
    TID.with(|t| t.get())
}

fn error_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let classes = state()
        .classes
        .get()
        .ok_or_else(|| PyRuntimeError::new_err("skills are not initialised"))?;
    classes.errors.bind(py).get_item(name)?.ok_or_else(|| {
        PyRuntimeError::new_err(format!(
            "internal error: the runner made no exception class {name}"
        ))
    })
}

fn refuse(py: Python<'_>, skill: &str, why: &str) -> PyErr {
    lock(&state().refused).push(format!("{skill}(): {why}"));
    match error_class(py, "SkillCallRefused").and_then(|c| Ok(c.cast_into()?)) {
        Ok(class) => PyErr::from_type(class, format!("{skill}() refused: {why}")),
        Err(e) => e,
    }
}

/// Calls skill `index` with positional `args` (all parameters, defaults applied).
#[pyfunction]
fn call_skill(py: Python<'_>, index: u32, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    request_skill(py, index, args, CallMode::Now)
}

/// Starts skill `index` with `args` in the background (a fleet's robots
/// move at once); returns its handle for [`wait_skill`].
#[pyfunction]
fn start_skill(py: Python<'_>, index: u32, args: &Bound<'_, PyTuple>) -> PyResult<Py<PyAny>> {
    request_skill(py, index, args, CallMode::Start)
}

/// Waits for the call of skill `index` started with `handle`; returns its
/// result or raises its error.
#[pyfunction]
fn wait_skill(py: Python<'_>, index: u32, handle: u64) -> PyResult<Py<PyAny>> {
    request_skill(py, index, &PyTuple::empty(py), CallMode::Wait(handle))
}

/// Sends one skill request and turns its reply into a value or an exception.
fn request_skill(
    py: Python<'_>,
    index: u32,
    args: &Bound<'_, PyTuple>,
    mode: CallMode,
) -> PyResult<Py<PyAny>> {
    let st = state();
    let spec = st
        .skills
        .get(index as usize)
        .ok_or_else(|| PyValueError::new_err(format!("no skill number {index}")))?;
    if st.is_forked() {
        return Err(refuse(
            py,
            &spec.name,
            "skills cannot be called from a child process",
        ));
    }
    let action = st.action.load(Ordering::SeqCst);
    if action == 0 {
        return Err(refuse(
            py,
            &spec.name,
            "no action is running: this thread was started by an earlier action, which has ended",
        ));
    }
    let tid = current_tid();
    if tid != st.main_tid.load(Ordering::SeqCst) && lock(&st.preexisting).contains(&tid) {
        return Err(refuse(
            py,
            &spec.name,
            "this thread was started by an earlier action, which has ended; threads may call skills only during the action that started them",
        ));
    }
    let expected = if matches!(mode, CallMode::Wait(_)) {
        0
    } else {
        spec.params.len()
    };
    if args.len() != expected {
        return Err(PyTypeError::new_err(format!(
            "{}() takes {} arguments, got {}",
            spec.name,
            spec.params.len(),
            args.len()
        )));
    }
    let mut values = Vec::with_capacity(args.len());
    for (param, arg) in spec.params.iter().zip(args.iter()) {
        let value = to_value(&arg)
            .map_err(|e| e.to_string())
            .and_then(|v| param.ty.check(v).map_err(|e| e.to_string()))
            .map_err(|e| {
                PyTypeError::new_err(format!("{}(): argument '{}': {e}", spec.name, param.name))
            })?;
        values.push(value);
    }
    st.flush();
    let request = SkillRequest {
        action,
        skill: index,
        args: values,
        mode,
    };
    let reply: Result<SkillReply, codeact_protocol::wire::WireError> = py.detach(|| {
        let mut channel = lock(&st.skill);
        let (tx, rx) = &mut *channel;
        tx.send(&request)?;
        rx.recv::<SkillReply>(SKILL_SPIN)
    });
    match reply {
        Ok(Ok(value)) => to_python(py, &value),
        Ok(Err(err)) => {
            if err.kind == ErrorKind::Cancelled && st.action.load(Ordering::SeqCst) != action {
                // The action ended while this call was on its way (a stray thread).
                return Err(refuse(
                    py,
                    &spec.name,
                    "the action that made this call has ended",
                ));
            }
            if err.kind == ErrorKind::Cancelled {
                // The supervisor cancelled the call to stop the action: raise
                // the interrupt itself rather than wait for the signal. Its
                // reason travels on the control channel and may arrive a
                // moment after this reply.
                let mut reason = take_interrupt();
                for _ in 0..200 {
                    if reason != 0 {
                        break;
                    }
                    py.detach(|| std::thread::sleep(Duration::from_millis(1)));
                    reason = take_interrupt();
                }
                if let Some(reason) = InterruptReason::from_code(reason) {
                    let (class, message) = reason.exception();
                    return Err(match reason {
                        InterruptReason::Request => {
                            pyo3::exceptions::PyKeyboardInterrupt::new_err(message)
                        }
                        InterruptReason::Timeout => {
                            PyErr::from_type(error_class(py, class)?.cast_into()?, message)
                        }
                    });
                }
            }
            let class = error_class(py, err.kind.python_name())?;
            Err(PyErr::from_type(class.cast_into()?, err.message))
        }
        Err(e) => Err(PyRuntimeError::new_err(format!(
            "{}(): lost the connection to the robot supervisor ({e})",
            spec.name
        ))),
    }
}

/// A Python value that cannot be passed to a skill.
#[derive(Debug, thiserror::Error)]
pub enum NotAValue {
    /// An int beyond 64 bits.
    #[error("int too large for 64 bits")]
    BigInt,
    /// A dict with a key that is not a str.
    #[error("dict keys must be str")]
    DictKey,
    /// A type skills do not take.
    #[error("values of type {0} cannot be passed to a skill")]
    Type(String),
    /// Python raised while it was read (a str that is not UTF-8, a record's field).
    #[error("{0}")]
    Python(#[from] PyErr),
}

/// Converts a Python object to a [`Value`]; the error names the unsupported type.
pub fn to_value(obj: &Bound<'_, PyAny>) -> Result<Value, NotAValue> {
    if obj.is_none() {
        return Ok(Value::None);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        return obj
            .extract::<i64>()
            .map(Value::Int)
            .map_err(|_| NotAValue::BigInt);
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return s
            .to_str()
            .map(|s| Value::Str(s.to_owned()))
            .map_err(NotAValue::from);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|v| to_value(&v))
            .collect::<Result<_, _>>()
            .map(Value::List);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|v| to_value(&v))
            .collect::<Result<_, _>>()
            .map(Value::List);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut items = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| NotAValue::DictKey)?
                .to_string();
            items.push((key, to_value(&v)?));
        }
        return Ok(Value::Dict(items));
    }
    if let Ok(fields) = obj.getattr("_codeact_fields") {
        let type_name = obj.get_type().name()?.to_string();
        let mut out = Vec::new();
        for f in fields.try_iter()? {
            let name: String = f?.extract()?;
            let v = obj.getattr(name.as_str())?;
            out.push((name, to_value(&v)?));
        }
        return Ok(Value::Record(Record {
            type_name,
            fields: out,
        }));
    }
    // numpy arrays and scalars (without depending on numpy here).
    if let Ok(tolist) = obj.getattr("tolist") {
        if let Ok(list) = tolist.call0() {
            if !list.is(obj) {
                return to_value(&list);
            }
        }
    }
    let name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default();
    Err(NotAValue::Type(name))
}

/// Converts a [`Value`] to a Python object.
pub fn to_python(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::None => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Int(i) => i.into_pyobject(py)?.into_any().unbind(),
        Value::Float(f) => PyFloat::new(py, *f).into_any().unbind(),
        Value::Str(s) => PyString::new(py, s).into_any().unbind(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any().unbind(),
        Value::List(items) => {
            let list = PyList::empty(py);
            for v in items {
                list.append(to_python(py, v)?)?;
            }
            list.into_any().unbind()
        }
        Value::FloatArray(items) => {
            let list = PyList::new(py, items)?;
            let numpy_array = state().classes.get().and_then(|c| {
                c.numpy_array
                    .get_or_init(|| {
                        py.import("numpy")
                            .and_then(|np| np.getattr("array"))
                            .ok()
                            .map(Bound::unbind)
                    })
                    .as_ref()
            });
            match numpy_array {
                Some(array) => array.bind(py).call1((list,))?.unbind(),
                None => list.into_any().unbind(),
            }
        }
        Value::Dict(items) => {
            let dict = PyDict::new(py);
            for (k, v) in items {
                dict.set_item(k, to_python(py, v)?)?;
            }
            dict.into_any().unbind()
        }
        Value::Record(r) => {
            let (class, fields) = state()
                .classes
                .get()
                .and_then(|c| c.record_fields.get(&r.type_name))
                .ok_or_else(|| {
                    PyRuntimeError::new_err(format!("unknown record type {}", r.type_name))
                })?;
            let class = class.bind(py);
            if fields.len() == r.fields.len()
                && fields.iter().zip(&r.fields).all(|(a, (b, _))| a == b)
            {
                let args = r
                    .fields
                    .iter()
                    .map(|(_, v)| to_python(py, v))
                    .collect::<PyResult<Vec<_>>>()?;
                return Ok(class.call1(PyTuple::new(py, args)?)?.unbind());
            }
            let kwargs = PyDict::new(py);
            for (k, v) in &r.fields {
                kwargs.set_item(k, to_python(py, v)?)?;
            }
            class.call((), Some(&kwargs))?.unbind()
        }
    })
}

/// PNG bytes of raw 8-bit pixels, `channels` per pixel (1 grey, 3 RGB,
/// 4 RGBA), row by row: what `show()` makes of a numpy array.
#[pyfunction]
fn encode_png(
    py: Python<'_>,
    pixels: &[u8],
    width: u32,
    height: u32,
    channels: u8,
) -> PyResult<Py<pyo3::types::PyBytes>> {
    let png = py
        .detach(|| png_of(pixels, width, height, channels))
        .map_err(pyo3::exceptions::PyValueError::new_err)?;
    Ok(pyo3::types::PyBytes::new(py, &png).unbind())
}

/// PNG bytes of raw 8-bit pixels (see [`encode_png`]); fast compression.
fn png_of(pixels: &[u8], width: u32, height: u32, channels: u8) -> Result<Vec<u8>, String> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::{ExtendedColorType, ImageEncoder};
    let colour = match channels {
        1 => ExtendedColorType::L8,
        3 => ExtendedColorType::Rgb8,
        4 => ExtendedColorType::Rgba8,
        n => return Err(format!("an image has 1, 3 or 4 channels, not {n}")),
    };
    if width == 0
        || height == 0
        || pixels.len() as u64 != width as u64 * height as u64 * channels as u64
    {
        return Err(format!(
            "{} bytes are not {width} x {height} pixels of {channels} channels",
            pixels.len()
        ));
    }
    let mut out = Vec::with_capacity(pixels.len() / 4);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(pixels, width, height, colour)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The size of a PNG or JPEG picture, decoding all of it: a picture cut
/// short or corrupt is a `ValueError` saying why, before `show()` takes it.
#[pyfunction]
fn check_picture(py: Python<'_>, data: &[u8]) -> PyResult<(u32, u32)> {
    py.detach(|| image::load_from_memory(data).map(|i| (i.width(), i.height())))
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// Builds the `_codeact` module and puts it in `sys.modules`.
pub fn add_module(py: Python<'_>) -> PyResult<()> {
    let m = PyModule::new(py, "_codeact")?;
    m.add_function(wrap_pyfunction!(call_skill, &m)?)?;
    m.add_function(wrap_pyfunction!(start_skill, &m)?)?;
    m.add_function(wrap_pyfunction!(wait_skill, &m)?)?;
    m.add_function(wrap_pyfunction!(register, &m)?)?;
    m.add_function(wrap_pyfunction!(take_interrupt, &m)?)?;
    for reason in InterruptReason::ALL {
        let (class, message) = reason.exception();
        let name = match reason {
            InterruptReason::Timeout => "INTERRUPT_TIMEOUT",
            InterruptReason::Request => "INTERRUPT_REQUEST",
        };
        m.add(name, (reason.code(), class, message))?;
    }
    m.add_function(wrap_pyfunction!(after_fork_in_child, &m)?)?;
    m.add_function(wrap_pyfunction!(set_in_user_code, &m)?)?;
    m.add_function(wrap_pyfunction!(encode_png, &m)?)?;
    m.add_function(wrap_pyfunction!(check_picture, &m)?)?;
    m.add("Stream", py.get_type::<Stream_>())?;
    py.import("sys")?
        .getattr("modules")?
        .set_item("_codeact", m)?;
    Ok(())
}

/// Generated Python source of the skill functions: real signatures and
/// docstrings (what `help()` shows), each calling `__codeact_call`. A
/// fleet's robots become objects with their skills as methods, named by
/// robot and gathered in `robots`.
pub fn skills_source(skills: &[SkillSpec]) -> String {
    let mut src = String::new();
    let mut fleet: Vec<(&str, String)> = Vec::new();
    for (i, spec) in skills.iter().enumerate() {
        let names: Vec<&str> = spec.params.iter().map(|p| p.name.as_str()).collect();
        let tuple = match names.len() {
            0 => "()".to_owned(),
            1 => format!("({},)", names[0]),
            _ => format!("({})", names.join(", ")),
        };
        let doc = robot_api::registry::indent_doc(&spec.full_doc());
        let Some(robot) = spec.robot.as_deref() else {
            src.push_str(&format!(
                "\n{}\n{doc}\n    return __codeact_call({i}, {tuple})\n",
                spec.python_def()
            ));
            continue;
        };
        // A method: `self` first, and the call under a name a class body
        // does not mangle (as it would `__codeact_call`).
        let params = spec.python_params();
        let method = format!(
            "def {}(self{}{params}) -> {}:\n{doc}\n    return _codeact_robot_call({i}, {tuple})\n",
            spec.name,
            if params.is_empty() { "" } else { ", " },
            spec.returns
        );
        let body = match fleet.iter_mut().find(|(r, _)| *r == robot) {
            Some((_, body)) => body,
            None => {
                fleet.push((robot, String::new()));
                &mut fleet.last_mut().expect("just pushed").1
            }
        };
        for line in method.lines() {
            body.push_str(&format!("    {line}\n"));
        }
        body.push_str(&format!("    {}._codeact_index = {i}\n", spec.name));
    }
    if fleet.is_empty() {
        return src;
    }
    src.push_str("\n_codeact_robot_call = __codeact_call\n");
    for (robot, methods) in &fleet {
        src.push_str(&format!(
            "\nclass Robot_{robot}:\n    \"\"\"The robot {robot} of the fleet: its skills as methods.\"\"\"\n    name = {robot:?}\n    def __repr__(self):\n        return \"Robot('{robot}')\"\n    def start(self, skill, *args, **kwargs):\n        \"\"\"Starts skill `skill` (its name) on this robot without waiting, so other robots move meanwhile: returns the started call; get its result with .wait() or together(...). Example: a = {robot}.start('move_to', 3, 4)\"\"\"\n        return _codeact_start(self, skill, args, kwargs)\n{methods}{robot} = Robot_{robot}()\n"
        ));
    }
    let entries: Vec<String> = fleet.iter().map(|(r, _)| format!("{r:?}: {r}")).collect();
    src.push_str(&format!("\nrobots = {{{}}}\n", entries.join(", ")));
    src
}

/// Sends one message on the control channel (under its lock).
pub fn lock_send(msg: &FromWorker) -> Result<(), codeact_protocol::wire::WireError> {
    lock(&state().control).send(msg)
}
