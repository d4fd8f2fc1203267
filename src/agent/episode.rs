//! One episode: the model writes code actions, the executor runs them, the
//! observations go back, until the model calls `done(summary)` or a budget
//! runs out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use robot_api::{ParamType, SkillSet, SkillSpec, Value};
use serde::Serialize;
use serde_json::json;

use super::actions::{call_code, text_action, ActionFormat, TextAction};
use super::llm::{Completion, Message, Model, ToolResult, ToolSpec, Usage};
use super::prompt;
use super::reply::code_actions;
use super::transcript::Transcript;
use crate::executor::{Observation, Session, Status, Stream};

/// Limits of an episode.
#[derive(Debug, Clone)]
pub struct Budget {
    /// Model replies at most.
    pub max_turns: usize,
    /// Wall-clock limit for the whole episode.
    pub wall: Option<Duration>,
    /// Tokens (input and output, all turns) at most.
    pub tokens: Option<u64>,
    /// Characters of one action's observation shown to the model; the middle of a longer one is cut.
    pub observation_chars: usize,
    /// Time limit of each action.
    pub action_timeout: Option<Duration>,
    /// Stops the episode between actions when cancelled (a ROS goal's cancel).
    pub cancel: Option<robot_api::CancelToken>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_turns: 10,
            wall: None,
            tokens: None,
            observation_chars: 6000,
            action_timeout: None,
            cancel: None,
        }
    }
}

/// Why an episode ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum StopReason {
    /// The model called `done(summary)`.
    Done,
    /// The turn limit was reached.
    MaxTurns,
    /// The wall-clock budget ran out.
    WallBudget,
    /// The token budget ran out.
    TokenBudget,
    /// The same action kept giving the same result, even after a nudge.
    Stuck,
    /// The model could not be reached (after retries).
    LlmFailed(String),
    /// Someone cancelled the episode.
    Cancelled,
}

impl StopReason {
    /// Its name in transcripts and results ("done", "max_turns", ...).
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::Done => "done",
            StopReason::MaxTurns => "max_turns",
            StopReason::WallBudget => "wall_budget",
            StopReason::TokenBudget => "token_budget",
            StopReason::Stuck => "stuck",
            StopReason::LlmFailed(_) => "llm_failed",
            StopReason::Cancelled => "cancelled",
        }
    }

    /// Why the episode stopped, in words for a person.
    pub fn describe(&self) -> String {
        match self {
            StopReason::Done => "the model called done()".into(),
            StopReason::MaxTurns => "the turn limit was reached (--max-turns)".into(),
            StopReason::WallBudget => "the time budget ran out (--max-seconds)".into(),
            StopReason::TokenBudget => "the token budget ran out (--max-tokens)".into(),
            StopReason::Stuck => {
                "the model repeated the same action with the same result, even after a nudge".into()
            }
            StopReason::LlmFailed(why) => format!("the model could not be asked: {why}"),
            StopReason::Cancelled => "the run was cancelled".into(),
        }
    }
}

/// How an episode ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The model declared the task done.
    pub success: bool,
    /// Its summary, when it gave one.
    pub summary: Option<String>,
    /// Why the episode ended.
    #[serde(flatten)]
    pub reason: StopReason,
    /// Model replies received.
    pub turns: usize,
    /// Tokens used, all turns.
    pub usage: Usage,
    /// Wall-clock duration, seconds.
    pub seconds: f64,
    /// Of which waiting for the model, seconds.
    pub model_seconds: f64,
    /// Actions that ended badly, so the robot's safe stop was called.
    pub safe_stops: u32,
    /// Skill calls the actions made, all turns.
    pub skill_calls: usize,
}

/// What the loop reports as it goes (the terminal shows it; tests ignore it).
pub trait Progress {
    /// A turn starts.
    fn turn(&mut self, _turn: usize, _max: usize) {}
    /// Reply text as it streams in.
    fn text(&mut self, _delta: &str) {}
    /// A request failed and is retried after `wait`.
    fn retry(&mut self, _why: &str, _wait: Duration) {}
    /// The reply is complete.
    fn reply(&mut self, _completion: &Completion, _total: &Usage) {}
    /// An action is about to run.
    fn action(&mut self, _index: usize, _code: &str) {}
    /// Output of the running action.
    fn output(&mut self, _stream: Stream, _text: &str) {}
    /// The action's observation, as the model will see it.
    fn observation(&mut self, _observation: &Observation, _shown: &str) {}
    /// Something the loop said or decided (a nudge, a stop).
    fn note(&mut self, _text: &str) {}
}

/// A person's say in the loop: approval of each action before it runs
/// (`--approve`, for physical robots) and messages between turns
/// (`--interactive`).
pub trait Supervisor {
    /// Decides whether `code` runs, as is or edited, or is refused with a
    /// reason for the model.
    fn review(&mut self, _turn: usize, _index: usize, code: &str) -> Review {
        Review::Run(code.to_owned())
    }
    /// A message to add after the turn's observations, if the person has one.
    fn message(&mut self, _turn: usize) -> Option<String> {
        None
    }
}

/// A person's decision on an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Review {
    /// Run this code (the model's, or the person's edit of it).
    Run(String),
    /// Do not run it; the reason goes back to the model.
    Reject(String),
}

/// Progress that goes nowhere.
pub struct Quiet;
impl Progress for Quiet {}

/// Set by the `done` skill; read by the loop after each action.
#[derive(Debug, Clone, Default)]
pub struct DoneSignal(Arc<Mutex<Option<String>>>);

impl DoneSignal {
    /// Forgets a `done` called outside an episode (a node's Execute request).
    pub fn clear(&self) {
        self.take();
    }

    /// The summary given to `done`, if it was called since the last take.
    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Adds `done(summary)` to a skill set; the returned signal tells the loop.
pub fn add_done(skills: &mut SkillSet) -> DoneSignal {
    let signal = DoneSignal::default();
    let cell = signal.0.clone();
    skills.add(
        SkillSpec::new(
            "done",
            "End the task: call this once it is complete (or certainly impossible), with a short summary of what was done and the final state. Ends the episode after this code block.\n\nExample: done(\"The red cube is in the blue zone.\")",
        )
        .param("summary", ParamType::Str),
        move |args, _| {
            *cell.lock().unwrap_or_else(|e| e.into_inner()) = Some(args.str("summary").unwrap_or_default().to_owned());
            Ok(Value::None)
        },
    );
    signal
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

/// What makes two turns "the same": the code and what it did, without times.
fn fingerprint(code: &str, obs: &Observation) -> String {
    let state = obs.robot_state.as_deref().unwrap_or("");
    let state = state.split(", t=").next().unwrap_or(state);
    format!(
        "{code}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{state}",
        obs.output_text(),
        obs.result,
        obs.error.as_ref().map(|e| &e.message)
    )
}

/// Everything an episode needs.
pub struct Episode<'a> {
    /// The model.
    pub llm: &'a dyn Model,
    /// The executor, with the robot's skills and `done`.
    pub session: &'a mut Session,
    /// Set when the model calls `done`.
    pub done: DoneSignal,
    /// The system prompt.
    pub system: String,
    /// Limits.
    pub budget: Budget,
    /// Where the record goes.
    pub transcript: Option<&'a mut Transcript>,
    /// A person approving actions or adding messages, if any.
    pub supervisor: Option<&'a mut dyn Supervisor>,
    /// How the model acts.
    pub format: ActionFormat,
    /// The tools offered (JSON tool calls only; empty otherwise).
    pub tools: Vec<ToolSpec>,
}

impl Episode<'_> {
    fn record(&mut self, kind: &str, fields: serde_json::Value) {
        if let Some(t) = self.transcript.as_deref_mut() {
            t.record(kind, fields);
        }
    }

    /// Runs the episode for `task`.
    pub fn run(&mut self, task: &str, progress: &mut dyn Progress) -> Outcome {
        let started = Instant::now();
        let mut messages = vec![Message::user(prompt::task_message(task))];
        let mut usage = Usage::default();
        let mut turns = 0;
        let mut sent = 0; // messages already recorded with an earlier request
        let mut last_fingerprint: Option<String> = None;
        let mut repeats = 0;
        let model_seconds = std::cell::Cell::new(0.0);
        let safe_stops = std::cell::Cell::new(0);
        let skill_calls = std::cell::Cell::new(0);
        let end =
            |reason: StopReason, summary: Option<String>, turns: usize, usage: Usage| Outcome {
                success: reason == StopReason::Done,
                summary,
                reason,
                turns,
                usage,
                seconds: started.elapsed().as_secs_f64(),
                model_seconds: model_seconds.get(),
                safe_stops: safe_stops.get(),
                skill_calls: skill_calls.get(),
            };
        let outcome = loop {
            if self
                .budget
                .cancel
                .as_ref()
                .is_some_and(|c| c.is_cancelled())
            {
                break end(StopReason::Cancelled, None, turns, usage);
            }
            if turns >= self.budget.max_turns {
                break end(StopReason::MaxTurns, None, turns, usage);
            }
            if self.budget.wall.is_some_and(|w| started.elapsed() >= w) {
                break end(StopReason::WallBudget, None, turns, usage);
            }
            if self.budget.tokens.is_some_and(|t| usage.total() >= t) {
                break end(StopReason::TokenBudget, None, turns, usage);
            }
            turns += 1;
            progress.turn(turns, self.budget.max_turns);
            self.record(
                "request",
                json!({"turn": turns, "messages": messages.len(), "new": &messages[sent..]}),
            );
            sent = messages.len();
            let completion = {
                let llm = self.llm;
                let system = &self.system;
                let transcript = &mut self.transcript;
                let mut attempt = 0;
                // Both callbacks report progress; they never run at the same time.
                let shared = std::cell::RefCell::new(&mut *progress);
                let result = llm.complete(
                    system,
                    &messages,
                    &self.tools,
                    &mut |d| shared.borrow_mut().text(d),
                    &mut |why, wait| {
                        attempt += 1;
                        tracing::debug!(turn = turns, attempt, wait_s = wait.as_secs_f64(), "retrying: {why}");
                        shared.borrow_mut().retry(why, wait);
                        // Recorded as it happens, so each failed attempt has its own time.
                        if let Some(t) = transcript.as_deref_mut() {
                            t.record("retry", json!({"turn": turns, "attempt": attempt, "why": why, "wait_s": wait.as_secs_f64()}));
                        }
                    },
                );
                match result {
                    Ok(c) => c,
                    Err(e) => {
                        let why = e.to_string();
                        self.record("llm_error", json!({"turn": turns, "error": why}));
                        break end(StopReason::LlmFailed(why), None, turns, usage);
                    }
                }
            };
            usage.input_tokens += completion.usage.input_tokens;
            usage.output_tokens += completion.usage.output_tokens;
            progress.reply(&completion, &usage);
            model_seconds.set(model_seconds.get() + completion.latency_ms / 1e3);
            tracing::debug!(
                turn = turns,
                ms = completion.latency_ms,
                tokens_in = completion.usage.input_tokens,
                tokens_out = completion.usage.output_tokens,
                attempts = completion.attempts,
                "reply"
            );
            self.record("reply", json!({"turn": turns, "text": completion.text, "tool_calls": completion.tool_calls, "usage": completion.usage, "latency_ms": completion.latency_ms, "attempts": completion.attempts}));
            // The turn's actions: the code to run (or why there is none) and,
            // for tool calls, the call's id.
            let mut assistant = Message::assistant(completion.text.clone());
            let skills = self.session.skills();
            let planned: Vec<(Result<String, String>, Option<String>)> = match self.format {
                ActionFormat::Code => code_actions(&completion.text)
                    .into_iter()
                    .map(|c| (Ok(c), None))
                    .collect(),
                ActionFormat::Json => {
                    assistant.tool_calls = completion.tool_calls.clone();
                    completion
                        .tool_calls
                        .iter()
                        .map(|c| (call_code(skills, &c.name, &c.arguments), Some(c.id.clone())))
                        .collect()
                }
                ActionFormat::Text => match text_action(&completion.text) {
                    TextAction::None => Vec::new(),
                    TextAction::Bad(why) => vec![(Err(why), None)],
                    TextAction::Call(name, args) => vec![(call_code(skills, &name, &args), None)],
                },
            };
            messages.push(assistant);
            if planned.is_empty() {
                let nudge = prompt::nudge(self.format);
                progress.note(nudge);
                messages.push(Message::user(nudge));
                continue;
            }
            let n = planned.len();
            let unit = if self.format == ActionFormat::Json {
                "call"
            } else {
                "block"
            };
            let mut shown: Vec<String> = Vec::new();
            let mut results: Vec<ToolResult> = Vec::new();
            let mut print = String::new();
            let mut summary = None;
            for (i, (planned_code, call_id)) in planned.iter().enumerate() {
                if self
                    .budget
                    .cancel
                    .as_ref()
                    .is_some_and(|c| c.is_cancelled())
                {
                    break;
                }
                let stop_here: bool;
                let text = match planned_code {
                    Err(why) => {
                        self.record(
                            "invalid_action",
                            json!({"turn": turns, "index": i, "error": why}),
                        );
                        print.push_str(why);
                        stop_here = true;
                        format!("Error: {why}")
                    }
                    Ok(proposed) => {
                        let review = self
                            .supervisor
                            .as_deref_mut()
                            .map(|s| s.review(turns, i, proposed));
                        match review {
                            Some(Review::Reject(reason)) => {
                                self.record(
                                    "rejected",
                                    json!({"turn": turns, "index": i, "reason": reason}),
                                );
                                print.push_str(&reason);
                                stop_here = true;
                                format!("The person supervising the robot did not allow {unit} {} to run: {reason}", i + 1)
                            }
                            review => {
                                let code = match review {
                                    Some(Review::Run(code)) => {
                                        if &code != proposed {
                                            self.record(
                                                "edited",
                                                json!({"turn": turns, "index": i, "code": code}),
                                            );
                                        }
                                        code
                                    }
                                    _ => proposed.clone(),
                                };
                                progress.action(i, &code);
                                self.record(
                                    "action",
                                    json!({"turn": turns, "index": i, "code": code}),
                                );
                                match self.session.execute(
                                    &code,
                                    self.budget.action_timeout,
                                    &mut |s, t| progress.output(s, t),
                                ) {
                                    Ok(obs) => {
                                        let text = trim_middle(
                                            &obs.render(),
                                            self.budget.observation_chars,
                                        );
                                        progress.observation(&obs, &text);
                                        self.record("observation", json!({"turn": turns, "index": i, "observation": &obs, "shown": &text}));
                                        print.push_str(&fingerprint(&code, &obs));
                                        if obs.safe_stop {
                                            safe_stops.set(safe_stops.get() + 1);
                                        }
                                        skill_calls.set(skill_calls.get() + obs.skill_calls.len());
                                        summary = self.done.take();
                                        stop_here = summary.is_some() || obs.status != Status::Ok;
                                        text
                                    }
                                    Err(e) => {
                                        let why = format!("the executor failed: {e}");
                                        self.record(
                                            "executor_error",
                                            json!({"turn": turns, "error": why}),
                                        );
                                        progress.note(&why);
                                        stop_here = true;
                                        why
                                    }
                                }
                            }
                        }
                    }
                };
                match call_id {
                    Some(id) => results.push(ToolResult {
                        id: id.clone(),
                        content: text,
                    }),
                    None if n > 1 => shown.push(format!("[{unit} {} of {n}]\n{text}", i + 1)),
                    None => shown.push(text),
                }
                if stop_here && summary.is_none() && i + 1 < n {
                    let skipped = format!("not run: {unit} {} did not end normally", i + 1);
                    for (_, id) in &planned[i + 1..] {
                        if let Some(id) = id {
                            results.push(ToolResult {
                                id: id.clone(),
                                content: skipped.clone(),
                            });
                        }
                    }
                    if self.format != ActionFormat::Json {
                        shown.push(format!(
                            "[{unit}s {} to {n} were not run: {unit} {} did not end normally]",
                            i + 2,
                            i + 1
                        ));
                    }
                }
                if stop_here {
                    break;
                }
            }
            if let Some(summary) = summary {
                break end(StopReason::Done, Some(summary), turns, usage);
            }
            if last_fingerprint.as_deref() == Some(print.as_str()) {
                repeats += 1;
            } else {
                repeats = 0;
            }
            last_fingerprint = Some(print);
            let mut extra = String::new();
            if let Some(message) = self
                .supervisor
                .as_deref_mut()
                .and_then(|s| s.message(turns))
            {
                self.record("message", json!({"turn": turns, "text": message}));
                extra.push_str("Message from the person: ");
                extra.push_str(&message);
            }
            match repeats {
                0 | 1 => {}
                2 => {
                    progress.note(prompt::STUCK_NUDGE);
                    if !extra.is_empty() {
                        extra.push_str("\n\n");
                    }
                    extra.push_str(prompt::STUCK_NUDGE);
                }
                _ => break end(StopReason::Stuck, None, turns, usage),
            }
            let feedback = if self.format == ActionFormat::Json {
                Message {
                    tool_results: results,
                    ..Message::user(extra)
                }
            } else {
                let mut text = format!("Observation:\n{}", shown.join("\n"));
                if !extra.is_empty() {
                    text.push_str("\n\n");
                    text.push_str(&extra);
                }
                Message::user(text)
            };
            messages.push(feedback);
        };
        self.record("end", json!({"outcome": &outcome}));
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reason_names_are_the_serialized_tags() {
        for r in [
            StopReason::Done,
            StopReason::MaxTurns,
            StopReason::WallBudget,
            StopReason::TokenBudget,
            StopReason::Stuck,
            StopReason::LlmFailed("x".into()),
            StopReason::Cancelled,
        ] {
            assert_eq!(serde_json::to_value(&r).unwrap()["reason"], r.name());
        }
    }

    #[test]
    fn long_observations_keep_head_and_tail() {
        let text: String = (0..1000).map(|i| format!("{i}\n")).collect();
        let cut = trim_middle(&text, 300);
        assert!(cut.starts_with("0\n1\n"));
        assert!(cut.ends_with("998\n999\n"));
        assert!(cut.contains("characters of this observation cut"));
        assert!(cut.chars().count() < 400);
        assert_eq!(trim_middle("short", 300), "short");
    }
}
