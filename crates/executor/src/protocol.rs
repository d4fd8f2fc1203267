//! The `codeact session` protocol (docs/protocol.md) as types: one JSON
//! object per line, [`Request`]s on stdin, [`Reply`]s on stdout. The server
//! (`src/cli/session_cmd.rs`) and the client ([`super::client`]) both use
//! these, so the two cannot drift apart.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::library::LibraryReport;
use super::observation::{Observation, Stream};
use super::wire::Protection;

/// A request line. `id` (any JSON value) is echoed back in every reply to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Run a code action.
    Execute {
        /// The request's id.
        #[serde(default)]
        id: Json,
        /// Python source.
        code: String,
        /// Seconds; the session's default when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout: Option<f64>,
    },
    /// Stop the running action (acts at once, ahead of queued requests).
    Interrupt {
        /// The request's id.
        #[serde(default)]
        id: Json,
    },
    /// Replace the worker: all variables are gone.
    Reset {
        /// The request's id.
        #[serde(default)]
        id: Json,
    },
    /// List the skills and the API text.
    Skills {
        /// The request's id.
        #[serde(default)]
        id: Json,
    },
}

impl Request {
    /// The request types, as an error message lists them.
    pub const TYPES: &'static str = "execute, interrupt, reset, skills";
}

/// What the session says once it can take actions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ready {
    /// `sys.version` of the embedded Python.
    pub python: String,
    /// The directory the code may write in.
    pub workspace: PathBuf,
    /// Skill names.
    pub skills: Vec<String>,
    /// The isolation measures and whether each is in force.
    pub protections: Vec<Protection>,
    /// The skill library: its folder, the functions it loaded and the
    /// modules that did not load.
    pub library: LibraryReport,
}

/// One skill as listed by a `skills` reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillDoc {
    /// The Python name.
    pub name: String,
    /// The `def` line with its typed parameters.
    pub signature: String,
    /// The docstring.
    pub doc: String,
}

/// A reply line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    /// Sent once, when the session can take actions.
    Ready(Ready),
    /// Output of a running action, as it is printed.
    Output {
        /// The execute request's id.
        id: Json,
        /// Which stream.
        stream: Stream,
        /// The text.
        text: String,
    },
    /// The end of an action.
    Observation {
        /// The execute request's id.
        id: Json,
        /// The observation rendered for an LLM.
        text: String,
        /// Everything the action produced.
        #[serde(flatten)]
        observation: Box<Observation>,
    },
    /// The worker was replaced.
    Reset {
        /// The request's id.
        id: Json,
        /// Always true (a failure is an `error`).
        ok: bool,
    },
    /// The skills.
    Skills {
        /// The request's id.
        id: Json,
        /// Each skill.
        skills: Vec<SkillDoc>,
        /// The API text a model reads (the skill library's functions included).
        api_text: String,
        /// The skill library as the current worker loaded it.
        library: LibraryReport,
    },
    /// An interrupt request was taken.
    Interrupt {
        /// The request's id.
        id: Json,
    },
    /// A request could not be taken; the session goes on.
    Error {
        /// The request's id, when it could be read.
        #[serde(default)]
        id: Json,
        /// What was wrong and what to do.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observation::Picture;
    use crate::Status;
    use serde_json::json;

    #[test]
    fn requests_read_as_documented_and_unknown_fields_are_refused() {
        let r: Request =
            serde_json::from_str(r#"{"type": "execute", "id": 1, "code": "1", "timeout": 5}"#)
                .unwrap();
        assert_eq!(
            r,
            Request::Execute {
                id: json!(1),
                code: "1".into(),
                timeout: Some(5.0)
            }
        );
        let r: Request = serde_json::from_str(r#"{"type": "interrupt"}"#).unwrap();
        assert_eq!(r, Request::Interrupt { id: Json::Null });
        assert!(serde_json::from_str::<Request>(r#"{"type": "reset", "idd": 1}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"type": "launch"}"#).is_err());
    }

    #[test]
    fn an_observation_reply_is_flat_and_round_trips() {
        let observation = Observation {
            action: 3,
            status: Status::Ok,
            output: Vec::new(),
            output_cut_bytes: 0,
            output_tail: Vec::new(),
            result: Some("42".into()),
            error: None,
            skill_calls: Vec::new(),
            duration_ms: 1.5,
            worker_restart: None,
            safe_stop: false,
            notes: vec!["n".into()],
            robot_events: Vec::new(),
            robot_state: None,
            robot_time: None,
            images: vec![Picture {
                mime: crate::observation::ImageType::Png,
                caption: Some("a view".into()),
                data: vec![0x89, b'P', b'N', b'G', 0, 1, 2],
            }],
        };
        let reply = Reply::Observation {
            id: json!("a"),
            text: observation.render(),
            observation: Box::new(observation),
        };
        let line = serde_json::to_value(&reply).unwrap();
        assert_eq!(
            (&line["type"], &line["id"], &line["status"], &line["result"]),
            (
                &json!("observation"),
                &json!("a"),
                &json!("ok"),
                &json!("42")
            )
        );
        let back: Reply = serde_json::from_value(line).unwrap();
        assert_eq!(back, reply);
    }
}
