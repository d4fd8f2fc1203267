//! [`SkillSet`]: the skills one robot offers, with their handlers and its safe stop.

use std::fmt::Write;
use std::sync::Arc;

use crate::cancel::CancelToken;
use crate::error::{ErrorKind, SkillError};
use crate::params::FromArgs;
use crate::spec::{RecordType, SkillSpec};
use crate::value::Value;

/// Checked arguments of one call, in declaration order; handlers get them
/// decoded into their parameter struct ([`crate::params::FromArgs`]).
#[derive(Debug, Clone)]
pub struct Args<'a> {
    spec: &'a SkillSpec,
    values: Vec<Value>,
}

impl<'a> Args<'a> {
    /// Checks raw values against the declaration: count and types.
    ///
    /// The supervisor calls this on every request, so a forged or corrupted
    /// request from the worker never reaches a handler unchecked.
    pub fn check(spec: &'a SkillSpec, values: Vec<Value>) -> Result<Self, SkillError> {
        if values.len() != spec.params.len() {
            return Err(SkillError::invalid(format!(
                "{}() takes {} arguments, got {}",
                spec.name,
                spec.params.len(),
                values.len()
            )));
        }
        let values = spec
            .params
            .iter()
            .zip(values)
            .map(|(p, v)| {
                p.ty.check(v).map_err(|e| {
                    SkillError::invalid(format!("{}(): argument '{}': {e}", spec.name, p.name))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Args { spec, values })
    }

    /// The argument values in declaration order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// `(name, value)` pairs, for call records.
    pub fn named(&self) -> Vec<(String, Value)> {
        self.spec
            .params
            .iter()
            .map(|p| p.name.clone())
            .zip(self.values.iter().cloned())
            .collect()
    }

    /// The skill's declaration.
    pub fn spec(&self) -> &SkillSpec {
        self.spec
    }

    /// The value of the parameter `name`, if the skill declares one.
    pub fn value(&self, name: &str) -> Option<&Value> {
        let index = self.spec.params.iter().position(|p| p.name == name)?;
        self.values.get(index)
    }
}

/// What a running skill can see besides its arguments.
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// Cancelled when the action times out or is interrupted; long skills must watch it.
    pub cancel: CancelToken,
    /// Where a long skill reports how it is going (a ROS action's feedback).
    pub progress: Progress,
}

/// Where a running skill reports progress: each line shows in the action's
/// live output and in its observation, as if the code had printed it. A
/// call made outside an action reports nowhere.
#[derive(Clone, Default)]
pub struct Progress(Option<ProgressSink>);

type ProgressSink = Arc<dyn Fn(&str) + Send + Sync>;

impl Progress {
    /// Progress that goes to `sink`.
    pub fn new(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Progress(Some(Arc::new(sink)))
    }

    /// Reports one line (a newline is added).
    pub fn report(&self, line: &str) {
        if let Some(sink) = &self.0 {
            sink(&format!("{}\n", line.trim_end_matches('\n')));
        }
    }
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(live)"
        } else {
            "Progress(none)"
        })
    }
}

/// The code that runs a skill. Handlers run in the supervisor, never in the worker.
pub type SkillHandler =
    Arc<dyn Fn(&Args<'_>, &CallContext) -> Result<Value, SkillError> + Send + Sync>;

pub(crate) type SafeStop = Arc<dyn Fn() + Send + Sync>;
pub(crate) type Reporter = Arc<dyn Fn() -> RobotReport + Send + Sync>;
pub(crate) type StateLine = Arc<dyn Fn() -> String + Send + Sync>;

/// What the robot reports after each action, for the observation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RobotReport {
    /// Events during the action ("collision at (1.0, 2.0)", "picked red_cube").
    pub events: Vec<String>,
    /// One line: pose, battery, what it holds (not the time: see `time`).
    pub state: String,
    /// The robot's clock, seconds: simulated seconds in the simulator, ROS
    /// time on a ROS robot.
    pub time: f64,
    /// Warnings about how skills were called ("theta=90 is beyond 2π radians").
    pub notes: Vec<String>,
}

/// The skills of one robot: declarations, handlers, record types and the safe stop.
#[derive(Clone, Default)]
pub struct SkillSet {
    /// What this skill set drives, shown in the API text ("test skills", "simulated robot").
    pub title: String,
    /// Facts about the robot shown under the title (units of time, the camera's view).
    pub notes: Vec<String>,
    pub(crate) skills: Vec<(SkillSpec, SkillHandler)>,
    pub(crate) records: Vec<RecordType>,
    pub(crate) safe_stop: Option<SafeStop>,
    pub(crate) reporter: Option<Reporter>,
    pub(crate) state: Option<StateLine>,
    pub(crate) memory: Option<MemoryView>,
    /// In a fleet, each robot's memory, in the robots' order.
    pub(crate) memories: Vec<MemoryView>,
    pub(crate) claim: Option<ClaimFn>,
    /// In a fleet, the robot each skill (by index) acts on; skills added
    /// later, and those of no robot, have none.
    pub(crate) robot_of: Vec<Option<String>>,
}

/// What a started call holds from the moment it is started until its
/// handler returns (a fleet simulator's clock waits for its robot).
pub type Claim = Box<dyn std::any::Any + Send>;
pub(crate) type ClaimFn = Arc<dyn Fn(usize) -> Option<Claim> + Send + Sync>;

/// What the robot remembers of objects now (a copy).
pub(crate) type MemoryView = Arc<dyn Fn() -> crate::memory::ObjectMemory + Send + Sync>;

impl std::fmt::Debug for SkillSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SkillSet")
            .field("title", &self.title)
            .field(
                "skills",
                &self.skills.iter().map(|s| &s.0.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SkillSet {
    /// An empty skill set.
    pub fn new(title: impl Into<String>) -> Self {
        SkillSet {
            title: title.into(),
            ..Default::default()
        }
    }

    /// Adds a skill whose handler takes its parameters as the struct `P`
    /// (`()` for none; see [`crate::skill_params!`]), which declares them:
    /// its fields, in order, with their types and defaults, join `spec`.
    ///
    /// # Panics
    /// On a duplicate name (of a skill or a parameter), a parameter without
    /// default after one with a default, or a parameter struct that does not
    /// match the declaration: declarations are static, so these are
    /// programming errors, found by any test that builds the skill set.
    pub fn add<P: FromArgs + 'static>(
        &mut self,
        spec: SkillSpec,
        handler: impl Fn(P, &CallContext) -> Result<Value, SkillError> + Send + Sync + 'static,
    ) -> &mut Self {
        let spec = P::declare(spec);
        for (i, p) in spec.params.iter().enumerate() {
            assert!(
                spec.params[..i].iter().all(|q| q.name != p.name),
                "skill {}: parameter {} declared twice (a skill_params! struct declares its fields)",
                spec.name,
                p.name
            );
        }
        if let Err(why) = P::check_spec(&spec) {
            panic!("{}(): {why}", spec.name);
        }
        assert!(
            self.skills.iter().all(|(s, _)| s.name != spec.name),
            "skill {} declared twice",
            spec.name
        );
        let mut seen_default = false;
        for p in &spec.params {
            seen_default |= p.default.is_some();
            assert!(
                p.default.is_some() || !seen_default,
                "skill {}: parameter {} without default follows one with a default",
                spec.name,
                p.name
            );
        }
        let handler = move |args: &Args<'_>, ctx: &CallContext| handler(P::from_args(args)?, ctx);
        self.skills.push((spec, Arc::new(handler)));
        self
    }

    /// Keeps only the skills `keep` accepts (a robot profile's skill list).
    /// Returns the names removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&SkillSpec) -> bool) -> Vec<String> {
        let mut removed = Vec::new();
        self.skills.retain(|(spec, _)| {
            let kept = keep(spec);
            if !kept {
                removed.push(spec.name.clone());
            }
            kept
        });
        removed
    }

    /// Declares a record type that skills return.
    pub fn add_record(&mut self, record: RecordType) -> &mut Self {
        self.records.push(record);
        self
    }

    /// Registers the safe stop: called by the executor whenever an action ends
    /// other than normally. For a robot: stop all motion.
    pub fn set_safe_stop(&mut self, stop: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.safe_stop = Some(Arc::new(stop));
        self
    }

    /// Registers what reports the robot's events and state after each action.
    pub fn set_reporter(
        &mut self,
        report: impl Fn() -> RobotReport + Send + Sync + 'static,
    ) -> &mut Self {
        self.reporter = Some(Arc::new(report));
        self
    }

    /// The robot's events since the last report and its state, if a reporter is registered.
    pub fn report(&self) -> Option<RobotReport> {
        self.reporter.as_ref().map(|r| r())
    }

    /// Registers what says the robot's state in one line, at any time
    /// (without taking its events, which belong to the next observation).
    pub fn set_state_line(
        &mut self,
        state: impl Fn() -> String + Send + Sync + 'static,
    ) -> &mut Self {
        self.state = Some(Arc::new(state));
        self
    }

    /// Registers what tells which objects the robot remembers now (for a
    /// twin to rehearse on: it knows those and no others).
    pub fn set_memory(
        &mut self,
        view: impl Fn() -> crate::memory::ObjectMemory + Send + Sync + 'static,
    ) -> &mut Self {
        self.memory = Some(Arc::new(view));
        self
    }

    /// Registers what a call of skill `index` started in the background
    /// claims at once, before it runs (see [`Claim`]).
    pub fn set_claim(&mut self, claim: impl Fn(usize) -> Option<Claim> + Send + Sync + 'static) {
        self.claim = Some(Arc::new(claim));
    }

    /// The claim of a started call of skill `index`, if the set makes one.
    pub fn claim(&self, index: usize) -> Option<Claim> {
        self.claim.as_ref().and_then(|c| c(index))
    }

    /// The robot of a fleet that skill `index` acts on (the plain functions:
    /// the first robot); `None` outside a fleet or for a skill of no robot.
    pub fn robot_of(&self, index: usize) -> Option<&str> {
        self.robot_of.get(index)?.as_deref()
    }

    /// The objects the robot remembers now (none for a skill set without a robot).
    pub fn memory(&self) -> crate::memory::ObjectMemory {
        self.memory.as_ref().map(|m| m()).unwrap_or_default()
    }

    /// What each robot remembers now: a fleet's robots in order, else the
    /// one robot's ([`SkillSet::memory`]).
    pub fn memories(&self) -> Vec<crate::memory::ObjectMemory> {
        if self.memories.is_empty() {
            vec![self.memory()]
        } else {
            self.memories.iter().map(|m| m()).collect()
        }
    }

    /// The robot's state in one line, if the skill set drives a robot.
    pub fn state_line(&self) -> Option<String> {
        self.state.as_ref().map(|s| s())
    }

    /// Calls the safe stop, if one is registered. Returns whether one was.
    pub fn safe_stop(&self) -> bool {
        match &self.safe_stop {
            Some(stop) => {
                stop();
                true
            }
            None => false,
        }
    }

    /// The declarations, in order.
    pub fn specs(&self) -> impl Iterator<Item = &SkillSpec> {
        self.skills.iter().map(|(s, _)| s)
    }

    /// The record types.
    pub fn records(&self) -> &[RecordType] {
        &self.records
    }

    /// The skill at `index` (the index the worker sends), with its handler.
    pub fn get(&self, index: usize) -> Option<(&SkillSpec, &SkillHandler)> {
        self.skills.get(index).map(|(s, h)| (s, h))
    }

    /// Number of skills.
    pub fn len(&self) -> usize {
        self.skills.len()
    }

    /// True when there are no skills.
    pub fn is_empty(&self) -> bool {
        self.skills.is_empty()
    }

    /// The same declarations, in the same order, for a rehearsal: each
    /// skill the twin has runs on the twin; every other one (a skill with
    /// effects outside the twin: a declared service, `ros_call`) is not
    /// called — it returns `None`, and `skipped` is told its name — unless
    /// it says it may be ([`InRehearsal::Call`](crate::InRehearsal::Call): a read).
    pub fn rehearsal(&self, twin: &SkillSet, skipped: Arc<dyn Fn(&str) + Send + Sync>) -> SkillSet {
        let mut set = SkillSet::new(format!("a twin of {}", self.title));
        set.records = self.records.clone();
        // Each skill's twin: of the same name and robot (a twin of one
        // robot has none of a fleet's other robots).
        let twin_index: Vec<Option<usize>> = self
            .skills
            .iter()
            .map(|(spec, _)| {
                twin.skills
                    .iter()
                    .position(|(s, _)| s.name == spec.name && s.robot == spec.robot)
            })
            .collect();
        for ((spec, real), twin_at) in self.skills.iter().zip(&twin_index) {
            let handler: SkillHandler = match twin_at.map(|i| &twin.skills[i]) {
                Some((_, h)) => h.clone(),
                None if spec.rehearsal == crate::InRehearsal::Call => real.clone(),
                None => {
                    let (name, told) = (spec.name.clone(), skipped.clone());
                    Arc::new(move |_, _| {
                        told(&name);
                        Ok(Value::None)
                    })
                }
            };
            set.skills.push((spec.clone(), handler));
        }
        set.safe_stop = twin.safe_stop.clone();
        set.reporter = twin.reporter.clone();
        set.state = twin.state.clone();
        set.memory = twin.memory.clone();
        set.memories = twin.memories.clone();
        set.robot_of = self.robot_of.clone();
        // A started call claims the twin robot's place on the twin's clock.
        if let Some(claim) = twin.claim.clone() {
            set.claim = Some(Arc::new(move |i| claim(twin_index.get(i).copied()??)));
        }
        set
    }

    /// Checks and runs a call: the one path every skill call takes in the supervisor.
    pub fn call(
        &self,
        index: usize,
        args: Vec<Value>,
        ctx: &CallContext,
    ) -> Result<Value, SkillError> {
        let (spec, handler) = self
            .get(index)
            .ok_or_else(|| SkillError::invalid(format!("no skill number {index}")))?;
        let args = Args::check(spec, args)?;
        if ctx.cancel.is_cancelled() {
            return Err(SkillError::new(
                ErrorKind::Cancelled,
                format!(
                    "{}() was not started: the action is being stopped",
                    spec.name
                ),
            ));
        }
        // A panicking handler is a bug in that skill: it fails this call with
        // a robot error, and the skill thread (and the session) go on.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(&args, ctx)))
            .unwrap_or_else(|panic| {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                Err(SkillError::new(
                    ErrorKind::Robot,
                    format!(
                        "{}() failed inside the skill itself ({why}); this is a bug in the skill, not in the code that called it",
                        spec.name
                    ),
                ))
            })
    }

    /// The API text an LLM reads: Python stubs with docstrings for every
    /// skill, the record types and the exception classes. Complete and short.
    pub fn api_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# Robot API: {}", self.title);
        for note in &self.notes {
            let _ = writeln!(out, "# {note}");
        }
        let _ = writeln!(
            out,
            "# These functions, classes, exceptions and the math module are defined in your namespace; helper modules import them with `from robot import ...`. show(picture, caption=None) shows you a picture (PNG bytes, array, path).\n"
        );
        for r in &self.records {
            let _ = writeln!(out, "class {}:  # fields: {}", r.name, r.fields.join(", "));
            let _ = writeln!(out, "    \"\"\"{}\"\"\"", r.doc.trim());
            for line in r
                .methods
                .lines()
                .filter(|l| l.trim_start().starts_with("def "))
            {
                let _ = writeln!(out, "{}  ...", line.trim_end());
            }
            out.push('\n');
        }
        // A fleet's robot methods are the plain functions again: the notes say so.
        for spec in self.specs().filter(|s| s.robot.is_none()) {
            let _ = writeln!(out, "{}", spec.python_def());
            let _ = writeln!(out, "{}\n", indent_doc(&spec.full_doc()));
        }
        let declared = |k: &ErrorKind| self.specs().any(|s| s.errors.contains(k));
        let errors: Vec<String> = ErrorKind::ALL
            .iter()
            .filter(|k| !k.is_builtin() && **k != ErrorKind::Cancelled)
            .filter(|k| !k.only_when_declared() || declared(k))
            .map(|k| format!("{}({})", k.python_name(), k.python_base()))
            .collect();
        let _ = writeln!(out, "# Exceptions you can catch: {}", errors.join(", "));
        out
    }
}

/// A docstring as a Python block indented under a `def`.
pub fn indent_doc(doc: &str) -> String {
    let mut out = String::from("    \"\"\"");
    for (i, line) in doc.lines().enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.trim().is_empty() {
                out.push_str("    ");
            }
        }
        out.push_str(&line.replace("\"\"\"", "\\\"\\\"\\\""));
    }
    out.push_str("\"\"\"");
    out
}

/// The heading of the world's summary in the system prompt.
pub const WORLD_HEADING: &str = "\n# The world\n";

/// The world's summary as a section after the API text: in every prompt,
/// `codeact api` and the MCP server's API text alike.
pub fn world_section(summary: &str) -> String {
    format!("{WORLD_HEADING}{}\n", summary.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::skill_params! {
        struct Add { a: f64, b: f64 }
    }

    fn set() -> SkillSet {
        let mut s = SkillSet::new("test");
        s.add(SkillSpec::new("add", "Add."), |p: Add, _| {
            Ok(Value::Float(p.a + p.b))
        });
        s
    }

    #[test]
    fn call_checks_arguments_before_the_handler() {
        let s = set();
        let ctx = CallContext::default();
        assert_eq!(
            s.call(0, vec![Value::Int(1), Value::Float(2.5)], &ctx),
            Ok(Value::Float(3.5))
        );
        let err = s.call(0, vec![Value::Int(1)], &ctx).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        let err = s
            .call(0, vec![Value::Int(1), Value::None], &ctx)
            .unwrap_err();
        assert!(err.message.contains("argument 'b'"), "{}", err.message);
        assert!(s.call(7, vec![], &ctx).is_err());
        ctx.cancel.cancel();
        assert_eq!(
            s.call(0, vec![Value::Int(1), Value::Int(2)], &ctx)
                .unwrap_err()
                .kind,
            ErrorKind::Cancelled
        );
    }

    #[test]
    #[should_panic(expected = "declared twice")]
    fn duplicate_names_are_rejected() {
        let mut s = set();
        s.add(SkillSpec::new("add", "again"), |(), _| Ok(Value::None));
    }

    #[test]
    fn a_rehearsal_runs_the_twins_skills_calls_reads_and_skips_the_rest() {
        let mut real = set();
        real.add(
            SkillSpec::new("status", "A read.").in_rehearsal(crate::InRehearsal::Call),
            |(), _| Ok(Value::Str("real status".into())),
        );
        real.add(SkillSpec::new("launch", "An effect."), |(), _| {
            Ok(Value::Str("launched".into()))
        });
        let mut twin = SkillSet::new("twin");
        twin.add(SkillSpec::new("add", "Add."), |p: Add, _| {
            Ok(Value::Float(100.0 + p.a + p.b))
        });
        let skipped = Arc::new(std::sync::Mutex::new(Vec::new()));
        let told = skipped.clone();
        let r = real.rehearsal(
            &twin,
            Arc::new(move |name: &str| told.lock().unwrap().push(name.to_owned())),
        );
        let names: Vec<&str> = r.specs().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["add", "status", "launch"],
            "the same declarations, in order"
        );
        let ctx = CallContext::default();
        assert_eq!(
            r.call(0, vec![Value::Int(1), Value::Int(2)], &ctx),
            Ok(Value::Float(103.0)),
            "on the twin"
        );
        assert_eq!(
            r.call(1, vec![], &ctx),
            Ok(Value::Str("real status".into()))
        );
        assert_eq!(r.call(2, vec![], &ctx), Ok(Value::None), "not called");
        assert_eq!(*skipped.lock().unwrap(), ["launch"]);
    }
}
