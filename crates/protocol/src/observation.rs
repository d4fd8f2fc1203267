//! [`Observation`]: what one code action produced, as data (JSON) and as text for an LLM.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

/// Which output stream a chunk was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// `sys.stdout` or the worker's fd 1.
    Stdout,
    /// `sys.stderr` or the worker's fd 2.
    Stderr,
}

/// A piece of output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// The stream it was written to.
    pub stream: Stream,
    /// The text.
    pub text: String,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The code ran to its end.
    Ok,
    /// The code raised an exception (including a syntax error).
    Error,
    /// The code ran past its time limit.
    Timeout,
    /// Someone interrupted it.
    Interrupted,
    /// The worker process died during the action and a fresh one was started.
    WorkerRestarted,
}

impl Status {
    /// The name used in JSON and text.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Timeout => "timeout",
            Status::Interrupted => "interrupted",
            Status::WorkerRestarted => "worker_restarted",
        }
    }
}

/// The exception that ended an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The exception class name (`ZeroDivisionError`, `Blocked`).
    #[serde(rename = "type")]
    pub type_name: String,
    /// `str()` of the exception.
    pub message: String,
    /// The formatted traceback: the action's own frames and source lines, no executor frames.
    pub traceback: String,
    /// The action line the error points at, when it is in the action's own code.
    pub line: Option<u32>,
}

/// One skill call the action made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillCall {
    /// Skill name.
    pub skill: String,
    /// Arguments as Python source, `x=1.0, y=2.0`.
    pub args: String,
    /// How it ended.
    pub outcome: CallOutcome,
    /// The error (`Blocked: ...`) when the outcome is not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Time in the skill, milliseconds.
    pub duration_ms: f64,
}

/// How a skill call ended. In JSON and text: `ok`, `error`, `refused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallOutcome {
    /// It returned.
    Ok,
    /// It raised.
    Error,
    /// It was called when it was not allowed to (its action had ended).
    Refused,
}

impl CallOutcome {
    /// The outcome's name: `ok`, `error` or `refused`.
    pub fn name(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Error => "error",
            CallOutcome::Refused => "refused",
        }
    }
}

impl std::fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A picture's encoding: what `show()` takes. In JSON, its MIME type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImageType {
    /// `image/png`.
    #[serde(rename = "image/png")]
    Png,
    /// `image/jpeg`.
    #[serde(rename = "image/jpeg")]
    Jpeg,
}

impl ImageType {
    /// The type of a MIME type, if it is one of these.
    pub fn from_mime(mime: &str) -> Option<Self> {
        match mime {
            "image/png" => Some(ImageType::Png),
            "image/jpeg" => Some(ImageType::Jpeg),
            _ => None,
        }
    }

    /// `image/png` or `image/jpeg`.
    pub fn mime(self) -> &'static str {
        match self {
            ImageType::Png => "image/png",
            ImageType::Jpeg => "image/jpeg",
        }
    }

    /// `png` or `jpeg`: the format name Foxglove's and ROS's CompressedImage use.
    pub fn format(self) -> &'static str {
        match self {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpeg",
        }
    }

    /// `png` or `jpg`: the file extension.
    pub fn extension(self) -> &'static str {
        match self {
            ImageType::Png => "png",
            ImageType::Jpeg => "jpg",
        }
    }

    /// `PNG` or `JPEG`, for people.
    pub fn name(self) -> &'static str {
        match self {
            ImageType::Png => "PNG",
            ImageType::Jpeg => "JPEG",
        }
    }
}

impl std::fmt::Display for ImageType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.mime())
    }
}

/// A picture an action attached with `show()`: PNG or JPEG bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Picture {
    /// Its encoding (its MIME type in JSON: `"mime": "image/png"`).
    pub mime: ImageType,
    /// What the code said it shows. (Never skipped when empty: the worker's
    /// wire format has no field names to skip by.)
    #[serde(default)]
    pub caption: Option<String>,
    /// The image file's bytes (base64 in JSON).
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

impl Picture {
    /// Width and height, read from a PNG's header (`None` for other kinds).
    pub fn size(&self) -> Option<(u32, u32)> {
        let d = &self.data;
        (self.mime == ImageType::Png && d.len() >= 24).then(|| {
            let be = |i: usize| u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
            (be(16), be(20))
        })
    }

    /// One line for the text of an observation: kind, size, caption.
    pub fn describe(&self, index: usize) -> String {
        let kind = self.mime.name();
        let size = self
            .size()
            .map_or(String::new(), |(w, h)| format!(" {w}x{h}"));
        let bytes = human_bytes(self.data.len() as u64);
        match &self.caption {
            Some(c) => format!("[picture {index}: {kind}{size}, {bytes}: {c}]"),
            None => format!("[picture {index}: {kind}{size}, {bytes}]"),
        }
    }
}

/// Bytes as a base64 string in JSON.
mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(data))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// Everything one code action produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The action number in this session.
    pub action: u64,
    /// How it ended.
    pub status: Status,
    /// stdout and stderr in the order written (the kept head).
    pub output: Vec<Chunk>,
    /// Bytes of output cut between `output` and `output_tail`.
    pub output_cut_bytes: u64,
    /// The kept end of the output, after the cut.
    pub output_tail: Vec<Chunk>,
    /// `repr()` of the value of the last expression, if the code ended in one.
    pub result: Option<String>,
    /// The exception, if the action raised one.
    pub error: Option<ErrorReport>,
    /// Skill calls in the order made.
    pub skill_calls: Vec<SkillCall>,
    /// Wall-clock duration, milliseconds.
    pub duration_ms: f64,
    /// Why the worker was restarted during this action; variables from earlier actions are gone.
    pub worker_restart: Option<String>,
    /// Whether the robot's safe stop was called because the action ended badly.
    pub safe_stop: bool,
    /// Other things worth knowing (restored skills, threads left running, ...).
    pub notes: Vec<String>,
    /// What happened to the robot during the action (collision, picked X, battery low).
    #[serde(default)]
    pub robot_events: Vec<String>,
    /// The robot after the action, one line (pose, battery, holding).
    #[serde(default)]
    pub robot_state: Option<String>,
    /// The robot's clock after the action, seconds (simulated seconds in
    /// the simulator, ROS time on a ROS robot).
    #[serde(default)]
    pub robot_time: Option<f64>,
    /// Pictures the action attached with `show()`.
    #[serde(default)]
    pub images: Vec<Picture>,
}

/// Keeps the start and end of a long text, with a marker saying how much was cut.
pub fn trim_middle(text: &str, max_chars: usize) -> String {
    let count = text.chars().count();
    if count <= max_chars {
        return text.to_owned();
    }
    let head: String = text.chars().take(max_chars * 2 / 3).collect();
    let tail_len = max_chars / 3;
    let tail: String = text.chars().skip(count - tail_len).collect();
    format!(
        "{head}\n[... {} characters of this observation cut ...]\n{tail}",
        count - head.chars().count() - tail_len
    )
}

impl Observation {
    /// All kept output as one string, with a marker where output was cut.
    pub fn output_text(&self) -> String {
        let mut out: String = self.output.iter().map(|c| c.text.as_str()).collect();
        if self.output_cut_bytes > 0 {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            let _ = writeln!(
                out,
                "[... {} of output cut ...]",
                human_bytes(self.output_cut_bytes)
            );
        }
        out.extend(self.output_tail.iter().map(|c| c.text.as_str()));
        out
    }

    /// The observation as text for an LLM: output, result or traceback, skill
    /// calls, and a status line. Short, complete and stable (snapshot-tested).
    pub fn render(&self) -> String {
        let mut out = self.output_text();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if let Some(result) = &self.result {
            let _ = writeln!(out, "Out: {result}");
        }
        if let Some(err) = &self.error {
            out.push_str(&err.traceback);
            if !err.traceback.ends_with('\n') {
                out.push('\n');
            }
        }
        if !self.skill_calls.is_empty() {
            out.push_str(&self.render_skill_calls());
        }
        for (i, picture) in self.images.iter().enumerate() {
            let _ = writeln!(out, "{}", picture.describe(i + 1));
        }
        for note in &self.notes {
            let _ = writeln!(out, "Note: {note}");
        }
        for event in &self.robot_events {
            let _ = writeln!(out, "Robot event: {event}");
        }
        if let Some(state) = &self.robot_state {
            let _ = match self.robot_time {
                Some(t) => writeln!(out, "Robot: {state}, t={t:.1}s"),
                None => writeln!(out, "Robot: {state}"),
            };
        }
        if let Some(why) = &self.worker_restart {
            let _ = writeln!(
                out,
                "The Python worker was restarted ({why}). Variables, imports and functions from earlier actions are gone; define them again."
            );
        }
        let _ = write!(
            out,
            "[{} in {:.1} ms",
            self.status.as_str(),
            self.duration_ms
        );
        if self.safe_stop {
            out.push_str("; robot safe-stopped");
        }
        out.push_str("]\n");
        out
    }

    fn render_skill_calls(&self) -> String {
        const SHOWN: usize = 10;
        let mut out = String::new();
        let n = self.skill_calls.len();
        let _ = writeln!(out, "Skill calls ({n}):");
        let show = |out: &mut String, c: &SkillCall| {
            let _ = write!(out, "  {}({}) -> {}", c.skill, c.args, c.outcome);
            if let Some(e) = &c.error {
                let _ = write!(out, " ({e})");
            }
            let _ = writeln!(out, " [{:.1} ms]", c.duration_ms);
        };
        if n <= SHOWN {
            self.skill_calls.iter().for_each(|c| show(&mut out, c));
        } else {
            self.skill_calls[..SHOWN / 2]
                .iter()
                .for_each(|c| show(&mut out, c));
            let _ = writeln!(out, "  ... {} more calls ...", n - SHOWN);
            self.skill_calls[n - SHOWN / 2..]
                .iter()
                .for_each(|c| show(&mut out, c));
        }
        out
    }
}

/// `1.5 KiB`, `3.2 MiB`: sizes for people.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picture_types_are_their_mime_types_in_json_and_nothing_else_is_one() {
        let picture = Picture {
            mime: ImageType::Jpeg,
            caption: None,
            data: vec![1, 2],
        };
        let json = serde_json::to_value(&picture).unwrap();
        assert_eq!(json["mime"], "image/jpeg");
        let back: Picture = serde_json::from_value(json).unwrap();
        assert_eq!(back, picture);
        let gif = serde_json::json!({"mime": "image/gif", "caption": null, "data": ""});
        assert!(serde_json::from_value::<Picture>(gif).is_err());
        for t in [ImageType::Png, ImageType::Jpeg] {
            assert_eq!(ImageType::from_mime(t.mime()), Some(t));
        }
        assert_eq!(ImageType::from_mime("image/gif"), None);
        assert_eq!(
            (ImageType::Jpeg.format(), ImageType::Jpeg.extension()),
            ("jpeg", "jpg")
        );
    }
}
