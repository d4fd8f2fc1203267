//! `codeact session`: the executor over JSON lines on stdin/stdout, so any
//! program can drive it. The protocol is documented in docs/protocol.md.

use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;
use serde_json::{json, Value as Json};

use super::ExecOpts;
use crate::executor::{Session, Stream};

/// A request line. `id` is echoed back in every reply to it.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Execute {
        #[serde(default)]
        id: Json,
        code: String,
        timeout: Option<f64>,
    },
    Interrupt {
        #[serde(default)]
        id: Json,
    },
    Reset {
        #[serde(default)]
        id: Json,
    },
    Skills {
        #[serde(default)]
        id: Json,
    },
}

type Out = Arc<Mutex<std::io::Stdout>>;

fn emit(out: &Out, value: &Json) {
    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = serde_json::to_writer(&mut *out, value);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Reads requests until stdin closes; answers each.
pub fn run(opts: &ExecOpts) -> Result<ExitCode> {
    let out: Out = Arc::new(Mutex::new(std::io::stdout()));
    let mut session = opts.start()?;
    emit(
        &out,
        &json!({
            "type": "ready",
            "python": session.python_version(),
            "workspace": session.workspace(),
            "skills": session.skills().specs().map(|s| s.name.clone()).collect::<Vec<_>>(),
            "protections": session.protections(),
        }),
    );

    // A reader thread, so an interrupt arrives while an action runs.
    let (tx, rx) = mpsc::channel::<Request>();
    let interrupter = session.interrupter();
    let reader_out = out.clone();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = Vec::new();
        let mut lock = stdin.lock();
        loop {
            line.clear();
            match lock.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = match std::str::from_utf8(&line) {
                Ok(t) => t.trim(),
                Err(e) => {
                    emit(
                        &reader_out,
                        &json!({"type": "error", "message": format!(
                        "request is not valid UTF-8 (invalid byte at offset {}); send one JSON object per line", e.valid_up_to())}),
                    );
                    continue;
                }
            };
            if text.is_empty() {
                continue;
            }
            match serde_json::from_str::<Request>(text) {
                Ok(Request::Interrupt { id }) => {
                    interrupter.interrupt();
                    emit(&reader_out, &json!({"type": "interrupt", "id": id}));
                }
                Ok(request) => {
                    if tx.send(request).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let id = serde_json::from_str::<Json>(text)
                        .ok()
                        .and_then(|v| v.get("id").cloned())
                        .unwrap_or(Json::Null);
                    emit(
                        &reader_out,
                        &json!({"type": "error", "id": id, "message": format!(
                        "bad request: {e}. Expected e.g. {{\"type\": \"execute\", \"id\": 1, \"code\": \"print(1)\"}}; types: execute, interrupt, reset, skills")}),
                    );
                }
            }
        }
    });

    for request in rx {
        handle(&mut session, request, &out);
    }
    Ok(ExitCode::SUCCESS)
}

fn handle(session: &mut Session, request: Request, out: &Out) {
    match request {
        Request::Execute { id, code, timeout } => {
            let timeout = match timeout {
                Some(t) if !(t > 0.0 && t <= 604_800.0) => {
                    emit(
                        out,
                        &json!({"type": "error", "id": id, "message": format!(
                        "timeout must be between 0 and 604800 seconds, got {t}")}),
                    );
                    return;
                }
                Some(t) => Some(Duration::from_secs_f64(t)),
                None => None,
            };
            let mut on_output = |stream: Stream, text: &str| {
                emit(
                    out,
                    &json!({"type": "output", "id": id, "stream": stream, "text": text}),
                );
            };
            match session.execute(&code, timeout, &mut on_output) {
                Ok(obs) => {
                    let mut value = serde_json::to_value(&obs).unwrap_or_default();
                    if let Json::Object(map) = &mut value {
                        map.insert("type".into(), json!("observation"));
                        map.insert("id".into(), id.clone());
                        map.insert("text".into(), json!(obs.render()));
                    }
                    emit(out, &value);
                }
                Err(e) => emit(
                    out,
                    &json!({"type": "error", "id": id, "message": e.to_string()}),
                ),
            }
        }
        Request::Reset { id } => match session.reset() {
            Ok(()) => emit(out, &json!({"type": "reset", "id": id, "ok": true})),
            Err(e) => emit(
                out,
                &json!({"type": "error", "id": id, "message": e.to_string()}),
            ),
        },
        Request::Skills { id } => {
            let skills: Vec<Json> = session
                .skills()
                .specs()
                .map(|s| json!({"name": s.name, "signature": s.python_def(), "doc": s.full_doc()}))
                .collect();
            emit(
                out,
                &json!({"type": "skills", "id": id, "skills": skills, "api_text": session.skills().api_text()}),
            );
        }
        Request::Interrupt { .. } => {}
    }
}
