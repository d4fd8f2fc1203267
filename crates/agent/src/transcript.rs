//! The run folder: `transcript.jsonl` (every request, reply, action and
//! observation, with timings) and the episode's picture. API keys never get
//! here: the configuration is written without them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::llm::ToolCall;

/// The transcript's file in its run folder.
const FILE: &str = "transcript.jsonl";

/// The transcript format's version, in its `start` record. Replay reads
/// this version (and transcripts from before versions were written, which
/// have the same records) and refuses others.
pub const VERSION: u32 = 1;

fn version_one() -> u32 {
    1
}

/// How a run or a trial started (`codeact run` and `codeact eval` write
/// different parts of it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Start {
    /// The transcript format ([`VERSION`]).
    #[serde(default = "version_one")]
    pub version: u32,
    /// The instruction given to the model.
    pub task: String,
    /// `provider:model`.
    pub llm: String,
    /// The world's name (or the skill set's title).
    pub world: String,
    /// The world as given (a built-in name or a file), for a simulated world.
    pub world_spec: Option<String>,
    /// The model's turn limit.
    pub max_turns: usize,
    /// How the model acts (`code`, `json`, `text`).
    pub action_format: Json,
    /// The wall-clock limit, seconds.
    pub max_seconds: Option<f64>,
    /// How pictures reach the model.
    pub images: Json,
    /// The system prompt.
    pub system_prompt: String,
    /// The endpoint (`codeact run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// The skill set without a world (`codeact run --skills`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skills: Option<String>,
    /// The token limit (`codeact run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// The skill library's folder and what it loaded (`codeact run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<Json>,
    /// The task suite's task (`codeact eval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The task's seed (`codeact eval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Which phrasing of the task (`codeact eval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paraphrase: Option<usize>,
}

/// One record of a transcript: a JSON line `{"type": ..., "t_ms": ..., fields}`.
/// Written by `run` and `eval` (through the episode), read by `replay`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// How it started.
    Start(Box<Start>),
    /// A request to the model: how many messages, and those new since the last.
    Request {
        turn: usize,
        messages: usize,
        new: Json,
    },
    /// A failed request tried again.
    Retry {
        turn: usize,
        attempt: u32,
        why: String,
        wait_s: f64,
    },
    /// The model could not be asked.
    LlmError { turn: usize, error: String },
    /// Pictures left out of the request (its limit).
    ImagesLeftOut {
        turn: usize,
        count: usize,
        limit: usize,
    },
    /// The endpoint refused the pictures; sent again without them.
    ImagesRefused { turn: usize, why: String },
    /// The model's reply.
    Reply {
        turn: usize,
        text: String,
        #[serde(default)]
        tool_calls: Vec<ToolCall>,
        usage: Json,
        latency_ms: f64,
        attempts: u32,
    },
    /// An action that could not be made from the reply.
    InvalidAction {
        turn: usize,
        index: usize,
        error: String,
    },
    /// The approver refused an action.
    Rejected {
        turn: usize,
        index: usize,
        reason: String,
    },
    /// The approver edited an action.
    Edited {
        turn: usize,
        index: usize,
        code: String,
    },
    /// An action about to run.
    Action {
        turn: usize,
        index: usize,
        code: String,
    },
    /// The executor failed (not the code).
    ExecutorError { turn: usize, error: String },
    /// What an action produced, and what the model was shown of it.
    Observation {
        turn: usize,
        index: usize,
        observation: Json,
        shown: String,
    },
    /// A person's message between turns.
    Message { turn: usize, text: String },
    /// How the episode ended.
    End { outcome: Json },
    /// The simulated world at the end.
    WorldState { state: Json },
    /// The task suite's judgement.
    Verdict { success: bool, verdicts: Json },
}

/// A record as read back: when it was written and what it is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Stamped {
    /// Milliseconds since the transcript was created.
    pub t_ms: f64,
    /// The record.
    #[serde(flatten)]
    pub record: Record,
}

/// Why a transcript cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptError {
    /// The file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not a record of this version.
    #[error("{path}:{line}: not a transcript record this codeact reads ({why}); it may come from another version")]
    Record {
        /// The file.
        path: PathBuf,
        /// Its line.
        line: usize,
        /// What the decoder said.
        why: String,
    },
    /// The transcript says it is of another version.
    #[error("{path} is transcript version {found}; this codeact reads version {VERSION}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version it says.
        found: u32,
    },
}

/// A transcript being written; each record is flushed at once, so a crash
/// leaves everything up to it.
#[derive(Debug)]
pub struct Transcript {
    dir: PathBuf,
    out: BufWriter<File>,
    started: Instant,
}

impl Transcript {
    /// Creates `dir` (and its parents) and the transcript file in it.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = File::create(dir.join(FILE))?;
        Ok(Transcript {
            dir: dir.to_owned(),
            out: BufWriter::new(file),
            started: Instant::now(),
        })
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `record`, stamped with the time since the start.
    pub fn record(&mut self, record: &Record) {
        let mut value =
            json!({"t_ms": (self.started.elapsed().as_secs_f64() * 1e4).round() / 10.0});
        if let (Json::Object(map), Ok(Json::Object(fields))) =
            (&mut value, serde_json::to_value(record))
        {
            map.extend(fields);
        }
        // A full disk must not end the episode; the transcript is then short.
        let _ = serde_json::to_writer(&mut self.out, &value);
        let _ = self.out.write_all(b"\n");
        let _ = self.out.flush();
    }
}

/// Reads a transcript's records back, typed; a record of an unknown kind or
/// shape, or a transcript of another version, is an error naming the line.
pub fn read_records(dir: &Path) -> Result<Vec<Stamped>, TranscriptError> {
    let records: Vec<Stamped> = lines(dir)?;
    for stamped in &records {
        if let Record::Start(start) = &stamped.record {
            if start.version != VERSION {
                return Err(TranscriptError::Version {
                    path: dir.join(FILE),
                    found: start.version,
                });
            }
        }
    }
    Ok(records)
}

/// Reads a transcript's lines as JSON, as written (for tools and tests
/// that look at the file itself).
pub fn read(dir: &Path) -> Result<Vec<Json>, TranscriptError> {
    lines(dir)
}

/// The transcript's non-empty lines, each decoded as a `T`; a line that is
/// not one is an error naming it.
fn lines<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<Vec<T>, TranscriptError> {
    let path = dir.join(FILE);
    let text = std::fs::read_to_string(&path).map_err(|source| TranscriptError::Read {
        path: path.clone(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| TranscriptError::Record {
                path: path.clone(),
                line: i + 1,
                why: e.to_string(),
            })
        })
        .collect()
}

/// `2026-11-23T16-20-05`: a UTC timestamp for folder names.
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_lines_with_times_and_read_back_typed() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Transcript::create(&dir.path().join("run")).unwrap();
        let start = Start {
            version: VERSION,
            task: "x".into(),
            ..Start::default()
        };
        t.record(&Record::Start(Box::new(start.clone())));
        t.record(&Record::End {
            outcome: json!({"reason": "done"}),
        });
        let records = read(t.dir()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["type"], "start");
        assert_eq!(records[0]["version"], 1);
        assert_eq!(records[1]["outcome"]["reason"], "done");
        assert!(records[1]["t_ms"].as_f64().unwrap() >= 0.0);
        let typed = read_records(t.dir()).unwrap();
        assert_eq!(typed[0].record, Record::Start(Box::new(start)));
        // A record of an unknown kind, and another version, are refused by line.
        let path = t.dir().join("transcript.jsonl");
        let good = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            format!("{good}{{\"type\": \"teleport\", \"t_ms\": 1}}\n"),
        )
        .unwrap();
        let e = read_records(t.dir()).unwrap_err().to_string();
        assert!(
            e.contains("transcript.jsonl:3:") && e.contains("teleport"),
            "{e}"
        );
        std::fs::write(&path, good.replace("\"version\":1", "\"version\":9")).unwrap();
        let e = read_records(t.dir()).unwrap_err().to_string();
        assert!(
            e.contains("version 9") && e.contains("reads version 1"),
            "{e}"
        );
        let ts = timestamp();
        assert_eq!(ts.len(), 19, "{ts}");
        assert!(ts.starts_with("20"), "{ts}");
    }
}
