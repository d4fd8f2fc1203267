//! `codeact session`: the executor over JSON lines on stdin/stdout, so any
//! program can drive it. The protocol is documented in docs/protocol.md; its
//! types are [`crate::executor::protocol`].
//!
//! One thread reads requests and runs actions: while an action runs, the
//! session watches stdin (an [`InputWatch`]) for interrupts and queues other
//! requests until the action has ended.

use std::collections::VecDeque;
use std::io::Write;
use std::os::fd::RawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value as Json;

use super::shutdown::{signals, Shutdown};
use super::ExecOpts;
use crate::executor::protocol::{Ready, Reply, Request, SkillDoc};
use crate::executor::{InputWatch, Interrupter, Session, Stream};

/// How long the session polls stdin for the next request before sleeping:
/// a program driving the session in a loop sends it within this, and waking
/// a sleeping process costs tens of microseconds on a virtual machine.
const REQUEST_SPIN: Duration = Duration::from_micros(200);

fn emit(reply: &Reply) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, reply);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Requests read from stdin, parsed line by line. Interrupts take effect at
/// once; other requests wait in a queue for the main loop.
struct Requests {
    fd: RawFd,
    buf: Vec<u8>,
    queue: VecDeque<Request>,
    ended: bool,
    interrupter: Interrupter,
}

impl Requests {
    /// Whether stdin has bytes (or has ended) within `timeout`.
    fn readable(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let ms = if timeout == Duration::MAX { -1 } else { ms };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
    }

    /// Reads what stdin has (poll said it is readable, so this does not
    /// block) and handles complete lines. Returns whether an interrupt came.
    fn read_available(&mut self) -> bool {
        let mut chunk = [0u8; 64 << 10];
        // SAFETY: reads into a valid buffer of the given length.
        let n = unsafe { libc::read(self.fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if n <= 0 {
            let interrupted_read =
                n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
            if !interrupted_read {
                self.ended = true;
            }
            return false;
        }
        self.buf.extend_from_slice(&chunk[..n as usize]);
        let mut interrupted = false;
        while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            interrupted |= self.handle_line(&line);
        }
        interrupted
    }

    fn handle_line(&mut self, line: &[u8]) -> bool {
        let text = match std::str::from_utf8(line) {
            Ok(t) => t.trim(),
            Err(e) => {
                emit(&Reply::Error {
                    id: Json::Null,
                    message: format!(
                        "request is not valid UTF-8 (invalid byte at offset {}); send one JSON object per line",
                        e.valid_up_to()
                    ),
                });
                return false;
            }
        };
        if text.is_empty() {
            return false;
        }
        match serde_json::from_str::<Request>(text) {
            Ok(Request::Interrupt { id }) => {
                self.interrupter.interrupt();
                emit(&Reply::Interrupt { id });
                true
            }
            Ok(request) => {
                self.queue.push_back(request);
                false
            }
            Err(e) => {
                let (id, surrogate) = request_id(text);
                let e = if surrogate {
                    format!("{e}: the line escapes a lone UTF-16 surrogate (such as \\ud800), which is no character; drop it from the text (Python: text.encode('utf-8', 'replace').decode())")
                } else {
                    e.to_string()
                };
                emit(&Reply::Error {
                    id,
                    message: format!(
                        "bad request: {e}. Expected e.g. {{\"type\": \"execute\", \"id\": 1, \"code\": \"print(1)\"}}; types: {}",
                        Request::TYPES
                    ),
                });
                false
            }
        }
    }

    /// The next request to run; `None` once stdin has ended and all are done.
    fn next(&mut self) -> Option<Request> {
        let spin_until = Instant::now() + REQUEST_SPIN;
        loop {
            if let Some(request) = self.queue.pop_front() {
                return Some(request);
            }
            if self.ended {
                // A final line without a newline still counts.
                if !self.buf.is_empty() {
                    let line = std::mem::take(&mut self.buf);
                    self.handle_line(&line);
                    continue;
                }
                return None;
            }
            let wait = if Instant::now() < spin_until {
                Duration::ZERO
            } else {
                Duration::MAX
            };
            if self.readable(wait) {
                self.read_available();
            } else if wait.is_zero() {
                std::thread::yield_now();
            }
        }
    }
}

impl InputWatch for Requests {
    fn fd(&self) -> RawFd {
        if self.ended {
            -1
        } else {
            self.fd
        }
    }

    fn on_readable(&mut self) -> bool {
        self.read_available()
    }
}

/// Reads requests until stdin closes; answers each.
pub fn run(opts: &ExecOpts) -> Result<ExitCode> {
    let mut started = opts.start()?;
    let shutdown = Shutdown::install(&signals(true), started.ends(None))?;
    let session = &mut started.session;
    emit(&Reply::Ready(Ready {
        python: session.python_version().to_owned(),
        workspace: session.workspace().to_owned(),
        skills: session.skills().specs().map(|s| s.name.clone()).collect(),
        protections: session.protections().to_vec(),
        library: session.library().clone(),
    }));
    eprint!("{}", session.library().broken_text());
    let mut requests = Requests {
        fd: libc::STDIN_FILENO,
        buf: Vec::new(),
        queue: VecDeque::new(),
        ended: false,
        interrupter: session.interrupter(),
    };
    while let Some(request) = requests.next() {
        handle(session, request, &mut requests);
        if shutdown.requested().is_some() {
            break;
        }
    }
    started.end(&shutdown)
}

fn handle(session: &mut Session, request: Request, requests: &mut Requests) {
    match request {
        Request::Execute { id, code, timeout } => {
            let timeout = match timeout {
                Some(t) if !crate::executor::valid_time_limit(t) => {
                    emit(&Reply::Error {
                        id,
                        message: format!(
                            "timeout must be between 0 and {} seconds, got {t}",
                            crate::executor::MAX_ACTION_SECONDS
                        ),
                    });
                    return;
                }
                Some(t) => Some(Duration::from_secs_f64(t)),
                None => None,
            };
            let mut on_output = |stream: Stream, text: &str| {
                emit(&Reply::Output {
                    id: id.clone(),
                    stream,
                    text: text.to_owned(),
                });
            };
            match session.execute_watching(&code, timeout, &mut on_output, Some(requests)) {
                Ok(obs) => emit(&Reply::Observation {
                    id,
                    text: obs.render(),
                    observation: Box::new(obs),
                }),
                Err(e) => emit(&Reply::Error {
                    id,
                    message: e.to_string(),
                }),
            }
        }
        Request::Reset { id } => match session.reset() {
            Ok(()) => emit(&Reply::Reset { id, ok: true }),
            Err(e) => emit(&Reply::Error {
                id,
                message: e.to_string(),
            }),
        },
        Request::Skills { id } => {
            let skills = session
                .skills()
                .specs()
                .map(|s| SkillDoc {
                    name: s.name.clone(),
                    signature: s.python_def(),
                    doc: s.full_doc(),
                })
                .collect();
            emit(&Reply::Skills {
                id,
                skills,
                api_text: session.api_text(),
                library: session.library().clone(),
            });
        }
        Request::Interrupt { .. } => {}
    }
}

/// The `id` of a request that could not be taken, so the error reaches the
/// client waiting for it: read from the line as it is, or else with every
/// `\\uXXXX` surrogate escape made harmless (serde refuses lone surrogates,
/// which Python's `json.dumps` writes for some strings). Also says whether
/// that made the difference.
fn request_id(text: &str) -> (Json, bool) {
    let id = |t: &str| {
        serde_json::from_str::<Json>(t)
            .ok()
            .and_then(|v| v.get("id").cloned())
    };
    if let Some(found) = id(text) {
        return (found, false);
    }
    let cleaned = {
        let mut clean = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find("\\u") {
            let (head, tail) = rest.split_at(at);
            clean.push_str(head);
            let hex = tail.get(2..6).unwrap_or("");
            let surrogate =
                u16::from_str_radix(hex, 16).is_ok_and(|v| (0xD800..0xE000).contains(&v));
            clean.push_str(if surrogate { "\\uFFFD" } else { &tail[..2] });
            rest = if surrogate { &tail[6..] } else { &tail[2..] };
        }
        clean.push_str(rest);
        id(&clean)
    };
    match cleaned {
        Some(found) => (found, true),
        None => (Json::Null, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_id_is_read_even_past_a_lone_surrogate() {
        let line = r#"{"type": "execute", "id": 7, "code": "print('\ud800')"}"#;
        assert!(serde_json::from_str::<Json>(line).is_err());
        assert_eq!(request_id(line), (json!(7), true));
        let line = r#"{"type": "execute", "id": "a\\u", "code": "\ud83d\ude00 \udc00"}"#;
        assert_eq!(request_id(line), (json!("a\\u"), true));
        assert_eq!(request_id("{not json"), (Json::Null, false));
    }
}
