//! [`SessionClient`]: drives a `codeact session` child process over its
//! JSON-lines protocol ([`super::protocol`]), reading replies with blocking
//! reads as any client program would. Used by `codeact bench` and the tests.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value as Json;

use super::observation::{Observation, Stream};
use super::protocol::{Ready, Reply, Request};

/// What went wrong talking to a session.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The process could not be started.
    #[error("could not start the session process: {0}")]
    Start(#[source] std::io::Error),
    /// Writing or reading failed.
    #[error("talking to the session failed: {0}")]
    Io(#[from] std::io::Error),
    /// Its stdout closed.
    #[error("the session ended before answering")]
    Ended,
    /// A line that is not a reply.
    #[error("the session sent a line that is not a reply ({error}): {line}")]
    Malformed {
        /// The line.
        line: String,
        /// Why it is not a reply.
        error: serde_json::Error,
    },
    /// The session answered with an `error` reply.
    #[error("the session refused the request: {0}")]
    Refused(String),
    /// A reply of another type than the one awaited.
    #[error("expected {expected} from the session, got {got:?}")]
    Unexpected {
        /// What was awaited.
        expected: &'static str,
        /// What came.
        got: Box<Reply>,
    },
}

/// An action's end as the session reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// Everything the action produced.
    pub observation: Observation,
    /// The observation rendered for an LLM.
    pub text: String,
}

/// A running `codeact session` and the client's ends of its stdin and stdout.
pub struct SessionClient {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    line: String,
    next_id: u64,
    ready: Ready,
}

impl SessionClient {
    /// Starts `command` (a `codeact session ...` invocation; its stdin and
    /// stdout are taken over) and waits for its ready message.
    pub fn start(mut command: Command) -> Result<Self, ClientError> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(ClientError::Start)?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut client = SessionClient {
            child,
            stdin: Some(stdin),
            stdout,
            line: String::new(),
            next_id: 0,
            ready: Ready::default(),
        };
        match client.recv()? {
            Reply::Ready(ready) => client.ready = ready,
            other => return Err(unexpected("a ready message", other)),
        }
        Ok(client)
    }

    /// What the session said when it became ready.
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    /// The session's process id (to send it a signal).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A fresh request id (1, 2, ...).
    pub fn next_id(&mut self) -> Json {
        self.next_id += 1;
        Json::from(self.next_id)
    }

    /// Sends one request.
    pub fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        let mut line = serde_json::to_vec(request).expect("requests serialise");
        line.push(b'\n');
        self.send_raw(&line)
    }

    /// Sends bytes as they are (a test of what the session does with bad input).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        let stdin = self.stdin.as_mut().ok_or(ClientError::Ended)?;
        stdin.write_all(bytes)?;
        stdin.flush()?;
        Ok(())
    }

    /// Waits for the next reply.
    pub fn recv(&mut self) -> Result<Reply, ClientError> {
        self.line.clear();
        if self.stdout.read_line(&mut self.line)? == 0 {
            return Err(ClientError::Ended);
        }
        serde_json::from_str(&self.line).map_err(|error| ClientError::Malformed {
            line: self.line.trim_end().to_owned(),
            error,
        })
    }

    /// Runs one action and waits for its observation; `on_output` sees its
    /// output as it arrives.
    pub fn execute(
        &mut self,
        code: &str,
        timeout: Option<f64>,
        on_output: &mut dyn FnMut(Stream, &str),
    ) -> Result<Executed, ClientError> {
        let id = self.next_id();
        self.send(&Request::Execute {
            id: id.clone(),
            code: code.to_owned(),
            timeout,
        })?;
        loop {
            match self.recv()? {
                Reply::Output {
                    id: of,
                    stream,
                    text,
                } if of == id => on_output(stream, &text),
                Reply::Observation {
                    id: of,
                    text,
                    observation,
                } if of == id => {
                    return Ok(Executed {
                        observation: *observation,
                        text,
                    })
                }
                Reply::Error { id: of, message } if of == id => {
                    return Err(ClientError::Refused(message))
                }
                // Replies to earlier requests (an interrupt's receipt).
                _ => {}
            }
        }
    }

    /// Closes stdin (the session ends after the current action) and waits.
    pub fn close(mut self) -> Result<ExitStatus, ClientError> {
        drop(self.stdin.take());
        Ok(self.child.wait()?)
    }
}

fn unexpected(expected: &'static str, got: Reply) -> ClientError {
    match got {
        Reply::Error { message, .. } => ClientError::Refused(message),
        got => ClientError::Unexpected {
            expected,
            got: Box::new(got),
        },
    }
}

impl Drop for SessionClient {
    fn drop(&mut self) {
        // Closing stdin ends the session cleanly (its worker and cgroup go
        // with it); a kill is the fallback.
        drop(self.stdin.take());
        for _ in 0..500 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
