//! Preview (`--preview show|gate`): every action rehearsed on a twin of the
//! robot before the robot moves ([`Session::rehearse`](super::Session::rehearse)),
//! judged, and — with `gate` — not run when the rehearsal raised, ran past
//! its limit, collided, left the geofence or found a goal unreachable. After
//! a real run the observation says where reality departed from the rehearsal.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use robot_api::preview::{Foresight, TwinMaker};
use robot_api::Pose2;

use super::observation::{CallOutcome, ErrorReport, ImageType, Observation, Picture, Status};

/// How far the real end pose may be from the rehearsal's before the
/// observation says reality departed, metres.
pub const END_POSE_TOLERANCE: f64 = 0.25;

/// Whether and how actions are previewed (`preview:` in a robot profile:
/// `off`, `show`, `gate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreviewMode {
    /// Actions run without a rehearsal.
    #[default]
    Off,
    /// Each action is rehearsed, then runs; its verdict comes with it.
    Show,
    /// An action whose rehearsal fails is not run.
    Gate,
}

impl PreviewMode {
    /// `off`, `show` or `gate`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "off" => Ok(PreviewMode::Off),
            "show" => Ok(PreviewMode::Show),
            "gate" => Ok(PreviewMode::Gate),
            other => Err(format!(
                "{other:?} is not a preview mode: use off, show (rehearse, then run) or gate (run only what the rehearsal passes)"
            )),
        }
    }
}

/// A session's preview settings.
#[derive(Clone)]
pub struct Preview {
    /// Show or gate.
    pub mode: PreviewMode,
    /// Makes the twin each rehearsal runs on.
    pub twins: Arc<dyn TwinMaker>,
    /// A rehearsal's own time limit.
    pub limit: Duration,
}

/// An action rehearsed ahead of running it, so that a person (or a client)
/// sees the verdict first ([`Session::preview`](super::Session::preview));
/// [`Session::execute_previewed`](super::Session::execute_previewed) runs it
/// without rehearsing it again.
#[derive(Debug, Clone)]
pub struct Previewed {
    pub(crate) code: String,
    pub(crate) mode: PreviewMode,
    pub(crate) verdict: Result<Verdict, String>,
}

impl Previewed {
    /// The code rehearsed.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// Show or gate.
    pub fn mode(&self) -> PreviewMode {
        self.mode
    }

    /// Whether the gate will keep it from running (a problem was found, or
    /// it could not be rehearsed).
    pub fn refused(&self) -> bool {
        self.mode == PreviewMode::Gate && self.verdict.as_ref().map_or(true, Verdict::refuses)
    }

    /// The verdict in words.
    pub fn text(&self) -> String {
        match &self.verdict {
            Ok(v) => v.text(),
            Err(why) => format!("Preview: the action could not be rehearsed: {why}"),
        }
    }

    /// The predicted path, if the rehearsal drew one.
    pub fn picture(&self) -> Option<Picture> {
        self.verdict.as_ref().ok().and_then(Verdict::picture)
    }
}

/// What a rehearsal foretold, and what in it speaks against running.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The rehearsal's own observation (output, result or exception, calls).
    pub rehearsal: Observation,
    /// What it did to the twin.
    pub foresight: Foresight,
    /// Skills not called in the rehearsal (effects outside the twin).
    pub skipped: Vec<String>,
    /// Why it should not run (empty: nothing against it).
    pub problems: Vec<String>,
}

impl Verdict {
    /// Judges a rehearsal.
    pub fn judge(rehearsal: Observation, foresight: Foresight, skipped: Vec<String>) -> Self {
        let mut problems = Vec::new();
        match (&rehearsal.status, &rehearsal.error) {
            (Status::Ok, _) => {}
            (Status::Timeout, _) => problems.push(format!(
                "it ran past the rehearsal's time limit ({:.1} s)",
                rehearsal.duration_ms / 1e3
            )),
            (_, Some(e)) => problems.push(format!("it raised {}: {}", e.type_name, e.message)),
            (status, None) => problems.push(format!("it ended {}", status.as_str())),
        }
        problems.extend(
            foresight
                .collisions
                .iter()
                .map(|c| match foresight.paths.len() {
                    0 | 1 => format!("the robot would hit something: {c}"),
                    _ => format!("a robot would hit something: {c}"),
                }),
        );
        problems.extend(foresight.geofence.iter().cloned());
        for call in &rehearsal.skill_calls {
            if call.outcome == CallOutcome::Error
                && call
                    .error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("Unreachable"))
            {
                problems.push(format!(
                    "{}({}) would not reach its goal",
                    call.skill, call.args
                ));
            }
        }
        Verdict {
            rehearsal,
            foresight,
            skipped,
            problems,
        }
    }

    /// Whether the gate keeps the action from running.
    pub fn refuses(&self) -> bool {
        !self.problems.is_empty()
    }

    /// The verdict in words, for the observation and the person approving.
    pub fn text(&self) -> String {
        let f = &self.foresight;
        let mut lines = vec![if self.refuses() {
            format!(
                "Preview: the rehearsal on a twin of the robot found: {}.",
                self.problems.join("; ")
            )
        } else {
            "Preview: the rehearsal on a twin of the robot passed.".to_owned()
        }];
        let moves: Vec<String> = f.paths.iter().filter_map(path_text).collect();
        let mut foreseen = format!("It took {:.1} s of robot time", f.duration);
        if !moves.is_empty() {
            foreseen += &format!(" and would move {}", moves.join(", and "));
        }
        lines.push(foreseen + ".");
        if !self.skipped.is_empty() {
            lines.push(format!(
                "Not called in the rehearsal (effects outside the twin): would call {}.",
                self.skipped.join(", ")
            ));
        }
        let r = &self.rehearsal;
        let out = r.output_text();
        if !out.is_empty() {
            lines.push(format!(
                "The rehearsal printed:\n{}",
                indent(out.trim_end())
            ));
        }
        if let Some(e) = &r.error {
            lines.push(format!(
                "The rehearsal's error:\n{}",
                indent(e.traceback.trim_end())
            ));
        }
        lines.join("\n")
    }

    /// The predicted path, as a picture for the observation.
    pub fn picture(&self) -> Option<Picture> {
        self.foresight.picture.clone().map(|data| Picture {
            mime: ImageType::Png,
            caption: Some("the rehearsal: the predicted path on the map".into()),
            data,
        })
    }

    /// The observation of an action the gate kept from running because no
    /// rehearsal could be made (`why`).
    pub fn unrehearsed(action: u64, why: &str) -> Observation {
        let mut o = Verdict {
            rehearsal: blank(action),
            foresight: Foresight::default(),
            skipped: Vec::new(),
            problems: vec![format!("it could not be rehearsed ({why})")],
        }
        .refusal(action);
        o.notes.clear();
        o
    }

    /// The observation of an action the gate kept from running.
    pub fn refusal(&self, action: u64) -> Observation {
        let message = format!(
            "the action was not run: its rehearsal on a twin of the robot found that {}",
            self.problems.join("; ")
        );
        Observation {
            action,
            status: Status::Error,
            error: Some(ErrorReport {
                type_name: "PreviewRefused".into(),
                traceback: format!("PreviewRefused: {message}\n"),
                message,
                line: None,
            }),
            notes: vec![self.text()],
            images: self.picture().into_iter().collect(),
            duration_ms: self.rehearsal.duration_ms,
            ..blank(action)
        }
    }

    /// Where the real run departed from the rehearsal: the end pose further
    /// than [`END_POSE_TOLERANCE`] from the foreseen one, a skill that
    /// failed for real but not in the twin.
    pub fn departures(&self, real: &Observation, ends: &[Option<Pose2>]) -> Vec<String> {
        let mut out = Vec::new();
        for (path, end) in self.foresight.paths.iter().zip(ends) {
            let (Some(real_end), Some(foreseen)) = (*end, path.end) else {
                continue;
            };
            let apart =
                ((real_end.x - foreseen.x).powi(2) + (real_end.y - foreseen.y).powi(2)).sqrt();
            if apart > END_POSE_TOLERANCE {
                out.push(format!(
                    "{} ended at ({:.2}, {:.2}), {apart:.2} m from where the rehearsal ended ({:.2}, {:.2})",
                    path.robot.as_deref().unwrap_or("the robot"),
                    real_end.x,
                    real_end.y,
                    foreseen.x,
                    foreseen.y
                ));
            }
        }
        for (real_call, rehearsed) in real.skill_calls.iter().zip(&self.rehearsal.skill_calls) {
            if real_call.skill == rehearsed.skill
                && real_call.outcome == CallOutcome::Error
                && rehearsed.outcome == CallOutcome::Ok
            {
                out.push(format!(
                    "{}({}) failed for real ({}) but not in the rehearsal",
                    real_call.skill,
                    real_call.args,
                    real_call.error.as_deref().unwrap_or("an error")
                ));
            }
        }
        out
    }
}

/// Where a rehearsal moved one robot: "the robot from (1.00, 2.00) to
/// (3.00, 2.00), using 0.4% of the battery" (a fleet's robot by name).
fn path_text(path: &robot_api::preview::RobotPath) -> Option<String> {
    let (a, b) = (path.start?, path.end?);
    let (who, whose) = match &path.robot {
        Some(name) => (name.clone(), "its"),
        None => ("the robot".to_owned(), "the"),
    };
    let mut text = format!(
        "{who} from ({:.2}, {:.2}) to ({:.2}, {:.2})",
        a.x, a.y, b.x, b.y
    );
    if let Some(used) = path.battery_used.filter(|b| *b > 0.05) {
        text += &format!(", using {used:.1}% of {whose} battery");
    }
    Some(text)
}

/// An observation of nothing yet.
fn blank(action: u64) -> Observation {
    Observation {
        action,
        status: Status::Ok,
        output: Vec::new(),
        output_cut_bytes: 0,
        output_tail: Vec::new(),
        result: None,
        error: None,
        skill_calls: Vec::new(),
        duration_ms: 0.0,
        worker_restart: None,
        safe_stop: false,
        notes: Vec::new(),
        robot_events: Vec::new(),
        robot_state: None,
        robot_time: None,
        images: Vec::new(),
    }
}

/// `text` with every line indented by two spaces.
fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collects the names of the skills a rehearsal did not call.
#[derive(Clone, Default)]
pub(super) struct Skipped(Arc<Mutex<Vec<String>>>);

impl Skipped {
    pub(super) fn note(&self, name: &str) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !list.iter().any(|n| n == name) {
            list.push(name.to_owned());
        }
    }

    pub(super) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
