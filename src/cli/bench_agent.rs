//! The agent loop's own cost per turn, model time excluded: a local
//! endpoint on loopback answers at once with a small code action, and the
//! time each turn spends outside the model request is measured (prompt and
//! message handling, reply parsing, running the action, the transcript).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::bench::{report, stats};
use crate::agent::actions::ActionFormat;
use crate::agent::episode::{Agent, Budget, Reporter};
use crate::agent::llm::{Completion, Llm, LlmConfig, Provider, Usage};
use crate::agent::transcript::Transcript;
use crate::executor::{ExecutorConfig, Session};

/// Answers every chat request with a streamed one-line action (a different
/// one each time, so the loop does not see itself stuck).
fn serve(listener: TcpListener) {
    let counter = Arc::new(AtomicU64::new(0));
    for stream in listener.incoming().flatten() {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let mut reader = BufReader::new(match stream.try_clone() {
            Ok(s) => s,
            Err(_) => continue,
        });
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let reply = format!("Step {n}.\n```python\nx = {n}\nprint(x)\n```");
        let chunk = serde_json::json!({"choices": [{"index": 0, "delta": {"content": reply}}]});
        let usage = serde_json::json!({"choices": [], "usage": {"prompt_tokens": 1000, "completion_tokens": 20}});
        let mut out = stream;
        let _ = write!(out, "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {chunk}\n\ndata: {usage}\n\ndata: [DONE]\n\n");
    }
}

/// Measures the loop overhead per turn and prints it.
pub fn run(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    println!("codeact agent-loop benchmark (a local endpoint that answers at once)");
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || serve(listener));
    let llm = Llm::new(LlmConfig {
        provider: Provider::OpenAi,
        model: "bench".into(),
        base_url: format!("http://127.0.0.1:{port}/v1"),
        api_key: None,
        timeout: Duration::from_secs(10),
        max_retries: 0,
        backoff: Duration::from_millis(10),
        max_tokens: 256,
        temperature: 0.0,
    })?;
    let world = Arc::new(sim::load("warehouse")?);
    let robot = Arc::new(sim::SimRobot::new(world.clone()));
    let mut skills = robot_api::skills::robot_skills(robot);
    let agent = Agent::new(&mut skills, ActionFormat::Code, Some(&world.summary()));
    let mut session =
        Session::start(ExecutorConfig::default(), skills).context("starting the executor")?;
    let dir = std::env::temp_dir().join(format!("codeact-bench-{}", std::process::id()));
    let mut transcript = Transcript::create(&dir)?;

    struct Timer {
        turn_started: Option<Instant>,
        model_ms: f64,
        overheads: Vec<f64>,
    }
    impl Timer {
        fn close_turn(&mut self) {
            if let Some(t) = self.turn_started.take() {
                self.overheads
                    .push(t.elapsed().as_secs_f64() * 1e3 - self.model_ms);
            }
        }
    }
    impl Reporter for Timer {
        fn turn(&mut self, _turn: usize, _max: usize) {
            self.close_turn();
            self.turn_started = Some(Instant::now());
        }
        fn reply(&mut self, c: &Completion, _total: &Usage) {
            self.model_ms = c.latency_ms;
        }
    }
    let mut timer = Timer {
        turn_started: None,
        model_ms: 0.0,
        overheads: Vec::new(),
    };
    let budget = Budget {
        max_turns: reps(200),
        ..Budget::default()
    };
    let mut episode = agent.episode(&llm, &mut session, budget);
    episode.transcript = Some(&mut transcript);
    episode.run("benchmark: keep going", &mut timer);
    timer.close_turn();
    let _ = std::fs::remove_dir_all(&dir);
    // The first turns warm caches; keep the rest.
    let overheads: Vec<f64> = timer.overheads.into_iter().skip(3).collect();
    report(
        "agent loop overhead per turn (model time excluded)",
        "ms",
        &stats(overheads),
        "<= 5 ms",
    );
    Ok(())
}
