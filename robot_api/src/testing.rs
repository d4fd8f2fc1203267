//! A small skill set for testing the executor without a robot (`--skills test`).
//!
//! Test-only: these skills touch no robot. They exist so the executor's
//! behaviour (argument passing, errors, blocking, cancellation, records) can
//! be exercised and benchmarked on its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{ErrorKind, SkillError};
use crate::registry::SkillSet;
use crate::spec::{RecordType, SkillSpec};
use crate::value::{Record, Value};

/// Counters a test reads to see what the skills really did in the supervisor.
#[derive(Debug, Default)]
pub struct TestProbe {
    /// Skill calls that reached a handler.
    pub calls: AtomicU64,
    /// Times the safe stop ran.
    pub safe_stops: AtomicU64,
}

impl TestProbe {
    /// Handler calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
    /// Safe stops so far.
    pub fn safe_stops(&self) -> u64 {
        self.safe_stops.load(Ordering::SeqCst)
    }
}

crate::skill_params! {
    /// `echo`'s parameters.
    pub struct Echo { value: Value }
}
crate::skill_params! {
    /// `add`'s parameters.
    pub struct Add { a: f64, b: f64 }
}
crate::skill_params! {
    /// `sleep`'s parameters.
    pub struct Sleep { seconds: f64 }
}
crate::skill_params! {
    /// `fail`'s parameters.
    pub struct Fail { message: String, kind: String = "RobotError".to_owned() }
}
crate::skill_params! {
    /// `pose`'s parameters.
    pub struct TestPose { x: f64 = 0.0, y: f64 = 0.0, theta: f64 = 0.0 }
}

/// The test skill set and the probe that watches it.
pub fn test_skills() -> (SkillSet, Arc<TestProbe>) {
    let probe = Arc::new(TestProbe::default());
    let mut set = SkillSet::new("test skills (no robot; for testing the executor)");
    set.add_record(
        RecordType::new(
            "TestPose",
            &["x", "y", "theta"],
            "A pose-like record: x, y in metres, theta in radians.",
        )
        .with_methods(
            "    def distance_to(self, other):\n        \"\"\"Straight-line distance in metres.\"\"\"\n        return ((self.x - other.x) ** 2 + (self.y - other.y) ** 2) ** 0.5\n",
        ),
    );

    let p = probe.clone();
    set.add(
        SkillSpec::new(
            "echo",
            "Return `value` unchanged.\n\nExample: echo([1, 2]) -> [1, 2]",
        )
        .returns("object"),
        move |e: Echo, _| {
            p.calls.fetch_add(1, Ordering::SeqCst);
            Ok(e.value)
        },
    );
    let p = probe.clone();
    set.add(
        SkillSpec::new("add", "Return a + b.\n\nExample: add(2, 3.5) -> 5.5").returns("float"),
        move |sum: Add, _| {
            p.calls.fetch_add(1, Ordering::SeqCst);
            Ok(Value::Float(sum.a + sum.b))
        },
    );
    let p = probe.clone();
    set.add(
        SkillSpec::new(
            "sleep",
            "Block in Rust for `seconds` (wall clock), then return the seconds slept.\n\nExample: sleep(0.1)",
        )
        .returns("float")
        .raises(ErrorKind::Robot),
        move |Sleep { seconds }, ctx| {
            p.calls.fetch_add(1, Ordering::SeqCst);
            if !(0.0..=86_400.0).contains(&seconds) {
                return Err(SkillError::invalid(format!(
                    "sleep(): seconds must be between 0 and 86400, got {seconds}"
                )));
            }
            if ctx.cancel.sleep(Duration::from_secs_f64(seconds)) {
                return Err(SkillError::new(ErrorKind::Cancelled, "sleep() was cancelled"));
            }
            Ok(Value::Float(seconds))
        },
    );
    let p = probe.clone();
    let kinds = ErrorKind::ALL
        .iter()
        .filter(|k| k.python_base() == "RobotError" || **k == ErrorKind::Robot)
        .map(|k| k.python_name())
        .collect::<Vec<_>>()
        .join(", ");
    set.add(
        SkillSpec::new(
            "fail",
            format!(
                "Raise a robot error of class `kind` ({kinds}) with `message`.\n\nExample: fail('wall ahead', 'Blocked')"
            ),
        )
        .raises(ErrorKind::Robot),
        move |Fail { message, kind }, _| {
            p.calls.fetch_add(1, Ordering::SeqCst);
            let class = ErrorKind::ALL
                .into_iter()
                .find(|k| k.python_name() == kind)
                .ok_or_else(|| SkillError::invalid(format!("fail(): unknown kind {kind:?}")))?;
            Err(SkillError::new(class, message))
        },
    );
    let p = probe.clone();
    set.add(
        SkillSpec::new(
            "block",
            "Block in Rust until the action is cancelled (timeout or interrupt).\n\nExample: block()",
        ),
        move |(), ctx| {
            p.calls.fetch_add(1, Ordering::SeqCst);
            while !ctx.cancel.sleep(Duration::from_secs(3600)) {}
            Err(SkillError::new(ErrorKind::Cancelled, "block() was cancelled"))
        },
    );
    let p = probe.clone();
    set.add(
        SkillSpec::new(
            "pose",
            "Return a TestPose record.\n\nExample: pose(1, 2).distance_to(pose()) -> 2.236...",
        )
        .returns("TestPose"),
        move |TestPose { x, y, theta }, _| {
            p.calls.fetch_add(1, Ordering::SeqCst);
            let field = |n: &str, v: f64| (n.to_owned(), Value::Float(v));
            Ok(Value::Record(Record {
                type_name: "TestPose".into(),
                fields: vec![field("x", x), field("y", y), field("theta", theta)],
            }))
        },
    );
    let p = probe.clone();
    set.set_safe_stop(move || {
        p.safe_stops.fetch_add(1, Ordering::SeqCst);
    });
    (set, probe)
}
