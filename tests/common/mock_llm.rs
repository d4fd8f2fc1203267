//! A scripted LLM server on loopback that speaks the real wire formats
//! (OpenAI Chat Completions and Anthropic Messages, streamed over SSE), for
//! tests of the agent loop.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

/// What the server does with the next request.
#[derive(Clone)]
pub enum Step {
    /// A streamed reply with this text.
    Reply(&'static str),
    /// An error status, with a Retry-After header when given.
    Status(u16, Option<u32>),
    /// A stream whose data is not JSON.
    Garbage,
    /// A stream that stops in the middle of the reply.
    Cut(&'static str),
    /// Reads the request and never answers.
    Hang,
    /// A streamed reply of native tool calls: (name, arguments).
    Tools(Vec<(&'static str, Json)>),
    /// A streamed reply with this text (made at run time).
    Text(String),
    /// Native tool calls made at run time.
    Calls(Vec<(String, Json)>),
}

/// Makes the answer to a request from its body (a model that reads the conversation).
pub type Responder = Arc<dyn Fn(&Json) -> Step + Send + Sync>;

/// A request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Json,
}

pub struct MockLlm {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl MockLlm {
    pub fn start(steps: Vec<Step>) -> Self {
        let queue = Mutex::new(VecDeque::from(steps));
        Self::answering(Arc::new(move |_| {
            queue
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Step::Status(500, None))
        }))
    }

    /// A server whose every answer `responder` makes from the request body.
    pub fn answering(responder: Responder) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, responder) = (log.clone(), responder.clone());
                std::thread::spawn(move || serve(stream, &log, &responder));
            }
        });
        MockLlm { port, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub fn serve(stream: TcpStream, log: &Mutex<Vec<Seen>>, responder: &Responder) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_owned();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').unwrap();
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
        if k == "content-length" {
            length = v.parse().unwrap();
        }
        headers.push((k, v));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: Json = serde_json::from_slice(&body).unwrap();
    let step = responder(&body);
    log.lock().unwrap().push(Seen {
        at: Instant::now(),
        path: path.clone(),
        headers,
        body,
    });
    let anthropic = path.ends_with("/v1/messages");
    let mut out = stream;
    let sse_head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
    match step {
        Step::Reply(text) => {
            let _ = out.write_all(sse_head.as_bytes());
            let _ = out.write_all(sse(text, anthropic, true).as_bytes());
        }
        Step::Cut(text) => {
            let _ = out.write_all(sse_head.as_bytes());
            let _ = out.write_all(sse(text, anthropic, false).as_bytes());
        }
        Step::Garbage => {
            let _ = out.write_all(sse_head.as_bytes());
            let _ = out.write_all(b"data: {\"choices\": [oops\n\n");
        }
        Step::Status(code, after) => {
            let body = format!("{{\"error\": {{\"message\": \"status {code} from the mock\"}}}}");
            let retry = after
                .map(|s| format!("retry-after: {s}\r\n"))
                .unwrap_or_default();
            let _ = write!(out, "HTTP/1.1 {code} Mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{retry}connection: close\r\n\r\n{body}", body.len());
        }
        Step::Hang => std::thread::sleep(Duration::from_secs(30)),
        Step::Tools(calls) => {
            let _ = out.write_all(sse_head.as_bytes());
            let _ = out.write_all(tool_sse(&calls, anthropic).as_bytes());
        }
        Step::Text(text) => {
            let _ = out.write_all(sse_head.as_bytes());
            let _ = out.write_all(sse(&text, anthropic, true).as_bytes());
        }
        Step::Calls(calls) => {
            let calls: Vec<(&str, Json)> =
                calls.iter().map(|(n, a)| (n.as_str(), a.clone())).collect();
            let _ = out.write_all(sse_head.as_bytes());
            let _ = out.write_all(tool_sse(&calls, anthropic).as_bytes());
        }
    }
}

/// The reply as a stream of events in either wire format, in three pieces.
pub fn sse(text: &str, anthropic: bool, complete: bool) -> String {
    let third = text.len() / 3;
    let cut = |i: usize| (0..=i).rev().find(|&j| text.is_char_boundary(j)).unwrap();
    let (a, b) = (cut(third), cut(2 * third));
    let pieces = [&text[..a], &text[a..b], &text[b..]];
    let mut out = String::new();
    if anthropic {
        out += &format!(
            "event: message_start\ndata: {}\n\n",
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 100, "output_tokens": 1}}})
        );
        for p in if complete { &pieces[..] } else { &pieces[..1] } {
            out += &format!(
                "event: content_block_delta\ndata: {}\n\n",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}})
            );
        }
        if complete {
            out += &format!(
                "event: message_delta\ndata: {}\n\n",
                json!({"type": "message_delta", "usage": {"output_tokens": 20}})
            );
            out += "event: message_stop\ndata: {\"type\": \"message_stop\"}\n\n";
        }
    } else {
        for p in if complete { &pieces[..] } else { &pieces[..1] } {
            out += &format!(
                "data: {}\n\n",
                json!({"choices": [{"index": 0, "delta": {"content": p}}]})
            );
        }
        if complete {
            out += &format!(
                "data: {}\n\n",
                json!({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20}})
            );
            out += "data: [DONE]\n\n";
        }
    }
    out
}

/// Tool calls as a stream, the arguments arriving in two pieces.
pub fn tool_sse(calls: &[(&str, Json)], anthropic: bool) -> String {
    let mut out = String::new();
    if anthropic {
        out += &format!(
            "event: message_start\ndata: {}\n\n",
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 100}}})
        );
        for (i, (name, args)) in calls.iter().enumerate() {
            let text = args.to_string();
            let (a, b) = text.split_at(text.len() / 2);
            out += &format!(
                "data: {}\n\n",
                json!({"type": "content_block_start", "index": i, "content_block": {"type": "tool_use", "id": format!("toolu_{i}"), "name": name, "input": {}}})
            );
            for piece in [a, b] {
                out += &format!(
                    "data: {}\n\n",
                    json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": piece}})
                );
            }
            out += &format!(
                "data: {}\n\n",
                json!({"type": "content_block_stop", "index": i})
            );
        }
        out += &format!(
            "data: {}\n\n",
            json!({"type": "message_delta", "usage": {"output_tokens": 20}})
        );
        out += "data: {\"type\": \"message_stop\"}\n\n";
    } else {
        for (i, (name, args)) in calls.iter().enumerate() {
            let text = args.to_string();
            let (a, b) = text.split_at(text.len() / 2);
            out += &format!(
                "data: {}\n\n",
                json!({"choices": [{"delta": {"tool_calls": [{"index": i, "id": format!("call_{i}"), "type": "function", "function": {"name": name, "arguments": a}}]}}]})
            );
            out += &format!(
                "data: {}\n\n",
                json!({"choices": [{"delta": {"tool_calls": [{"index": i, "function": {"arguments": b}}]}}]})
            );
        }
        out += &format!(
            "data: {}\n\n",
            json!({"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20}})
        );
        out += "data: [DONE]\n\n";
    }
    out
}
