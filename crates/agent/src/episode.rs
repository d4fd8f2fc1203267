//! One episode: the model writes code actions, the executor runs them, the
//! observations go back, until the model calls `done(summary)` or a budget
//! runs out.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use robot_api::{SkillSet, SkillSpec, Value};
use serde::Serialize;
use serde_json::json;

use super::actions::{call_code, text_action, tool_specs, ActionFormat, BadAction, TextAction};
use super::images::{self, Image, ImageMode, ImagePolicy};
use super::llm::{Completion, LlmError, Message, Model, ToolResult, ToolSpec, Usage};
use super::prompt;
use super::reply::code_actions;
use super::transcript::{Record, Transcript};
use codeact_executor::library::LibraryReport;
use codeact_executor::observation::trim_middle;
use codeact_executor::{Executor, Observation, Previewed, Status, Stream};

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
    /// The model's endpoint failed in a way that says something about it
    /// (a reply that could not be read, an error status).
    LlmFailed(String),
    /// No model could be asked at all (unreachable, credentials, quota, no
    /// such model): the episode says nothing about the model.
    LlmUnavailable(String),
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
            StopReason::LlmUnavailable(_) => "llm_unavailable",
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
            StopReason::LlmUnavailable(why) => format!("no model could be asked: {why}"),
            StopReason::Cancelled => "the run was cancelled".into(),
        }
    }
}

/// How an episode ended.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The model declared the task done (`done()` was called): its claim,
    /// which only a judge of the world (the task suite's predicates) can
    /// confirm; transcripts keep it apart from any verdict.
    pub claimed_done: bool,
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
    /// Requests to the model that were retried.
    #[serde(default)]
    pub retries: u32,
}

/// What the loop reports as it goes (the terminal shows it; tests ignore it).
pub trait Reporter {
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
    /// Action `index` was rehearsed on a twin (--preview): its verdict,
    /// before it runs (or is refused).
    fn preview(&mut self, _index: usize, _previewed: &Previewed) {}
}

/// A person's say in the loop: approval of each action before it runs
/// (`--approve`, for physical robots) and messages between turns
/// (`--interactive`).
pub trait Approver {
    /// Decides whether `code` runs, as is or edited, or is refused with a
    /// reason for the model; `previewed` is its rehearsal's verdict, when
    /// actions are previewed (--preview).
    fn review(
        &mut self,
        _turn: usize,
        _index: usize,
        code: &str,
        _previewed: Option<&Previewed>,
    ) -> Review {
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

/// A reporter that tells no one.
pub struct Quiet;
impl Reporter for Quiet {}

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

robot_api::skill_params! {
    /// `done`'s parameters.
    struct Done { summary: String }
}

/// Adds `done(summary)` to a skill set; the returned signal tells the loop.
pub fn add_done(skills: &mut SkillSet) -> DoneSignal {
    let signal = DoneSignal::default();
    let cell = signal.0.clone();
    skills.add(
        SkillSpec::new(
            "done",
            "End the task: call this once it is complete (or certainly impossible), with a short summary of what was done and the final state. Ends the episode after this code block.\n\nExample: done(\"The red cube is in the blue zone.\")",
        ),
        move |Done { summary }, _| {
            *cell.lock().unwrap_or_else(|e| e.into_inner()) = Some(summary);
            Ok(Value::None)
        },
    );
    signal
}

/// What makes two turns "the same": the code and what it did, without times
/// (the robot's state line has no time; the time is `robot_time`).
fn fingerprint(code: &str, obs: &Observation) -> String {
    let state = obs.robot_state.as_deref().unwrap_or("");
    format!(
        "{code}\u{0}{}\u{0}{:?}\u{0}{:?}\u{0}{state}",
        obs.output_text(),
        obs.result,
        obs.error.as_ref().map(|e| &e.message)
    )
}

/// How the model is set up to act: the system prompt, the tools offered, the
/// action format and the `done` signal. One builder for every place that
/// runs an episode (run, replay, eval, bench, the ROS node).
#[derive(Clone)]
pub struct Agent {
    /// How the model acts.
    pub format: ActionFormat,
    /// The system prompt.
    pub system: String,
    /// The tools offered (JSON tool calls only; empty otherwise).
    pub tools: Vec<ToolSpec>,
    /// Set when the model calls `done`.
    pub done: DoneSignal,
    /// Whether and how pictures reach the model.
    pub images: ImagePolicy,
}

impl Agent {
    /// Adds `done(summary)` to `skills` and sets the model up for `format`,
    /// with the world's summary in the prompt when there is a world.
    pub fn new(skills: &mut SkillSet, format: ActionFormat, world: Option<&str>) -> Self {
        let done = add_done(skills);
        Agent::with_done(skills, done, format, world)
    }

    /// The same for skills that already have `done` (its signal given).
    pub fn with_done(
        skills: &SkillSet,
        done: DoneSignal,
        format: ActionFormat,
        world: Option<&str>,
    ) -> Self {
        Agent {
            format,
            system: prompt::system_prompt_for(format, skills, world),
            tools: if format == ActionFormat::Json {
                tool_specs(skills)
            } else {
                Vec::new()
            },
            done,
            images: ImagePolicy::default(),
        }
    }

    /// Adds the skill library's functions (loaded by `session`) to the
    /// prompt's API text; only code actions can call them.
    pub fn add_library(&mut self, library: &LibraryReport) {
        if self.format != ActionFormat::Code {
            return;
        }
        // After the skills, before the world (see `prompt::system_prompt_for`).
        let at = self
            .system
            .find(robot_api::registry::WORLD_HEADING)
            .unwrap_or(self.system.len());
        self.system.insert_str(at, &library.api_text());
    }

    /// An episode of this agent with `llm` acting through `session` (a
    /// [`codeact_executor::Session`], or any [`Executor`]).
    pub fn episode<'a>(
        &self,
        llm: &'a dyn Model,
        session: &'a mut dyn Executor,
        budget: Budget,
    ) -> Episode<'a> {
        Episode {
            llm,
            session,
            done: self.done.clone(),
            system: self.system.clone(),
            budget,
            transcript: None,
            approver: None,
            format: self.format,
            tools: self.tools.clone(),
            images: self.images,
            retries: 0,
        }
    }
}

/// Everything an episode needs.
pub struct Episode<'a> {
    /// The model.
    pub llm: &'a dyn Model,
    /// The executor, with the robot's skills and `done`.
    pub session: &'a mut dyn Executor,
    /// Set when the model calls `done`.
    pub done: DoneSignal,
    /// The system prompt.
    pub system: String,
    /// Limits.
    pub budget: Budget,
    /// Where the record goes.
    pub transcript: Option<&'a mut Transcript>,
    /// A person approving actions or adding messages, if any.
    pub approver: Option<&'a mut dyn Approver>,
    /// How the model acts.
    pub format: ActionFormat,
    /// The tools offered (JSON tool calls only; empty otherwise).
    pub tools: Vec<ToolSpec>,
    /// Whether and how pictures reach the model.
    pub images: ImagePolicy,
    /// Requests retried so far (timeouts, 429s, 5xx).
    pub retries: u32,
}

/// One action a reply asked for: the code to run (or why there is none)
/// and, for a tool call, the call's id.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The code, or why the reply's action cannot run.
    pub code: Result<String, BadAction>,
    /// The tool call's id (JSON tool calls only).
    pub call_id: Option<String>,
}

/// What one action gave the turn.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Acted {
    /// What the model is shown for it.
    pub text: String,
    /// What it did, for telling a repeated turn (code and result, no times).
    pub fingerprint: String,
    /// The rest of the turn's actions must not run (an error, a refusal, `done`).
    pub stop_turn: bool,
    /// The summary, when the action called `done`.
    pub done: Option<String>,
    /// The robot's safe stop was called.
    pub safe_stop: bool,
    /// Skill calls the action made.
    pub skill_calls: usize,
    /// The pictures it attached, ready to send.
    pub images: Vec<Image>,
}

/// Whether the model keeps doing the same thing: a nudge at the second
/// repeat, a stop at the third.
#[derive(Debug, Default)]
pub struct StuckWatch {
    last: Option<String>,
    repeats: u32,
}

/// What [`StuckWatch::see`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stuckness {
    /// Carry on.
    Fine,
    /// Tell the model it is repeating itself.
    Nudge,
    /// End the episode.
    Stuck,
}

impl StuckWatch {
    /// Takes one turn's fingerprint.
    pub fn see(&mut self, fingerprint: String) -> Stuckness {
        if self.last.as_deref() == Some(fingerprint.as_str()) {
            self.repeats += 1;
        } else {
            self.repeats = 0;
        }
        self.last = Some(fingerprint);
        match self.repeats {
            0 | 1 => Stuckness::Fine,
            2 => Stuckness::Nudge,
            _ => Stuckness::Stuck,
        }
    }
}

/// The running totals of an episode.
struct Tally {
    started: Instant,
    turns: usize,
    usage: Usage,
    model_seconds: f64,
    safe_stops: u32,
    skill_calls: usize,
}

impl Tally {
    fn outcome(&self, reason: StopReason, summary: Option<String>) -> Outcome {
        Outcome {
            claimed_done: reason == StopReason::Done,
            summary,
            reason,
            turns: self.turns,
            usage: self.usage,
            seconds: self.started.elapsed().as_secs_f64(),
            model_seconds: self.model_seconds,
            safe_stops: self.safe_stops,
            skill_calls: self.skill_calls,
            retries: 0,
        }
    }
}

/// The budget that is spent, if one is, before a turn `turns + 1`.
pub fn spent(
    budget: &Budget,
    elapsed: Duration,
    turns: usize,
    usage: &Usage,
) -> Option<StopReason> {
    if budget.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
        Some(StopReason::Cancelled)
    } else if turns >= budget.max_turns {
        Some(StopReason::MaxTurns)
    } else if budget.wall.is_some_and(|w| elapsed >= w) {
        Some(StopReason::WallBudget)
    } else if budget.tokens.is_some_and(|t| usage.total() >= t) {
        Some(StopReason::TokenBudget)
    } else {
        None
    }
}

/// The actions a reply asks for in `format`, and the assistant message that
/// records the reply in the conversation.
pub fn parse(
    format: ActionFormat,
    skills: &SkillSet,
    completion: &Completion,
) -> (Message, Vec<Planned>) {
    let mut assistant = Message::assistant(completion.text.clone());
    let plain = |code| Planned {
        code,
        call_id: None,
    };
    let planned = match format {
        ActionFormat::Code => code_actions(&completion.text)
            .into_iter()
            .map(|c| plain(Ok(c)))
            .collect(),
        ActionFormat::Json => {
            assistant.tool_calls = completion.tool_calls.clone();
            completion
                .tool_calls
                .iter()
                .map(|c| Planned {
                    code: call_code(skills, &c.name, &c.arguments),
                    call_id: Some(c.id.clone()),
                })
                .collect()
        }
        ActionFormat::Text => match text_action(&completion.text) {
            TextAction::None => Vec::new(),
            TextAction::Bad(why) => vec![plain(Err(BadAction::Unreadable(why)))],
            TextAction::Call(name, args) => vec![plain(call_code(skills, &name, &args))],
        },
    };
    (assistant, planned)
}

/// What a turn's actions gave, gathered into the message that answers the reply.
#[derive(Debug, Default)]
pub struct Feedback {
    shown: Vec<String>,
    results: Vec<ToolResult>,
    images: Vec<Image>,
}

impl Feedback {
    /// Adds the result of action `index` of `planned`; when it stopped the
    /// turn early, says which actions did not run.
    pub fn add(&mut self, format: ActionFormat, planned: &[Planned], index: usize, acted: &Acted) {
        let n = planned.len();
        let unit = unit(format);
        self.images.extend(acted.images.iter().cloned());
        match &planned[index].call_id {
            Some(id) => self.results.push(ToolResult {
                id: id.clone(),
                content: acted.text.clone(),
            }),
            None if n > 1 => {
                self.shown
                    .push(format!("[{unit} {} of {n}]\n{}", index + 1, acted.text))
            }
            None => self.shown.push(acted.text.clone()),
        }
        if !acted.stop_turn || acted.done.is_some() || index + 1 >= n {
            return;
        }
        let skipped = format!("not run: {unit} {} did not end normally", index + 1);
        for id in planned[index + 1..]
            .iter()
            .filter_map(|p| p.call_id.as_ref())
        {
            self.results.push(ToolResult {
                id: id.clone(),
                content: skipped.clone(),
            });
        }
        if format != ActionFormat::Json {
            self.shown.push(format!(
                "[{unit}s {} to {n} were not run: {unit} {} did not end normally]",
                index + 2,
                index + 1
            ));
        }
    }

    /// The user message for the model, with `extra` (a person's message, a
    /// nudge) and the turn's pictures as `policy` allows: the latest
    /// `per_turn` of them, and a line saying which were left out.
    pub fn message(mut self, format: ActionFormat, extra: String, policy: &ImagePolicy) -> Message {
        let mut extra = extra;
        if policy.mode == ImageMode::Off {
            self.images.clear();
        }
        let dropped = self.images.len().saturating_sub(policy.per_turn);
        if dropped > 0 {
            self.images.drain(..dropped);
            let note = format!(
                "[the first {dropped} pictures of this turn are not shown: at most {} per turn]",
                policy.per_turn
            );
            extra = if extra.is_empty() {
                note
            } else {
                format!("{note}\n\n{extra}")
            };
        }
        if format == ActionFormat::Json {
            return Message {
                tool_results: self.results,
                images: self.images,
                ..Message::user(extra)
            };
        }
        let mut text = format!("Observation:\n{}", self.shown.join("\n"));
        if !extra.is_empty() {
            text.push_str("\n\n");
            text.push_str(&extra);
        }
        Message {
            images: self.images,
            ..Message::user(text)
        }
    }
}

/// What one action is called in the format ("block" of code, tool "call").
fn unit(format: ActionFormat) -> &'static str {
    if format == ActionFormat::Json {
        "call"
    } else {
        "block"
    }
}

impl Episode<'_> {
    /// Records into the transcript, if there is one.
    pub fn record(&mut self, record: Record) {
        if let Some(t) = self.transcript.as_deref_mut() {
            t.record(&record);
        }
    }

    /// Asks the model for turn `turn`'s reply to `messages`, reporting the
    /// stream and retries (a failure is recorded).
    pub fn ask(
        &mut self,
        turn: usize,
        messages: &[Message],
        progress: &mut dyn Reporter,
    ) -> Result<Completion, LlmError> {
        let llm = self.llm;
        let transcript = &mut self.transcript;
        let retries = &mut self.retries;
        let mut attempt = 0;
        // Both callbacks report progress; they never run at the same time.
        let shared = std::cell::RefCell::new(&mut *progress);
        let result = llm.complete(
            &self.system,
            messages,
            &self.tools,
            &mut |d| shared.borrow_mut().text(d),
            &mut |why, wait| {
                attempt += 1;
                *retries += 1;
                tracing::debug!(
                    turn,
                    attempt,
                    wait_s = wait.as_secs_f64(),
                    "retrying: {why}"
                );
                shared.borrow_mut().retry(why, wait);
                // Recorded as it happens, so each failed attempt has its own time.
                if let Some(t) = transcript.as_deref_mut() {
                    t.record(&Record::Retry {
                        turn,
                        attempt,
                        why: why.to_owned(),
                        wait_s: wait.as_secs_f64(),
                    });
                }
            },
        );
        if let Err(e) = &result {
            self.record(Record::LlmError {
                turn,
                error: e.to_string(),
            });
        }
        result
    }

    /// [`ask`](Self::ask), and in [`ImageMode::Auto`], when the endpoint
    /// refuses a request that carries pictures (a model without vision), the
    /// same request again without them; the rest of the episode is text only.
    pub fn ask_seeing(
        &mut self,
        turn: usize,
        messages: &mut [Message],
        progress: &mut dyn Reporter,
    ) -> Result<Completion, LlmError> {
        let dropped = super::images::keep_latest(messages, self.images.in_request);
        if dropped > 0 {
            self.record(Record::ImagesLeftOut {
                turn,
                count: dropped,
                limit: self.images.in_request,
            });
        }
        let result = self.ask(turn, messages, progress);
        let refused = match &result {
            Err(LlmError::Status { status, .. }) => matches!(status, 400 | 413 | 415 | 422),
            _ => false,
        };
        if !refused
            || self.images.mode != ImageMode::Auto
            || messages.iter().all(|m| m.images.is_empty())
        {
            return result;
        }
        let why = format!(
            "{}; asking again without pictures (the model reads only the line describing each from now on; --images on makes this an error)",
            result.as_ref().err().map(ToString::to_string).unwrap_or_default()
        );
        progress.note(&why);
        self.record(Record::ImagesRefused {
            turn,
            why: why.to_string(),
        });
        self.images.mode = ImageMode::Off;
        for m in messages.iter_mut() {
            m.images.clear();
        }
        self.ask(turn, messages, progress)
    }

    /// Runs action `index` of turn `turn`: its rehearsal (with --preview),
    /// the person's review, the code, its observation as the model will see it.
    pub fn act(
        &mut self,
        turn: usize,
        index: usize,
        planned: &Planned,
        progress: &mut dyn Reporter,
    ) -> Acted {
        let proposed = match &planned.code {
            Err(why) => {
                let why = why.to_string();
                self.record(Record::InvalidAction {
                    turn,
                    index,
                    error: why.clone(),
                });
                return Acted {
                    text: format!("Error: {why}"),
                    fingerprint: why,
                    stop_turn: true,
                    ..Acted::default()
                };
            }
            Ok(code) => code,
        };
        // Rehearsed before the review, so the person sees the verdict first.
        let previewed = self.session.preview(proposed);
        if let Some(p) = &previewed {
            progress.preview(index, p);
        }
        // An action the gate refuses is not the person's to allow.
        let refused = previewed.as_ref().is_some_and(|p| p.refused());
        let code = match self.approver.as_deref_mut() {
            Some(a) if !refused => a.review(turn, index, proposed, previewed.as_ref()),
            _ => Review::Run(proposed.clone()),
        };
        let code = match self.reviewed(turn, index, proposed, code) {
            Ok(code) => code,
            Err(rejected) => return rejected,
        };
        progress.action(index, &code);
        self.record(Record::Action {
            turn,
            index,
            code: code.clone(),
        });
        let timeout = self.budget.action_timeout;
        let on_output = &mut |s: Stream, t: &str| progress.output(s, t);
        let executed = match previewed {
            // An edited action is rehearsed anew.
            Some(p) if p.code() == code => self.session.execute_previewed(p, timeout, on_output),
            _ => self.session.execute(&code, timeout, on_output),
        };
        match executed {
            Ok(obs) => self.observe(turn, index, &code, &obs, progress),
            Err(e) => {
                let why = format!("the executor failed: {e}");
                self.record(Record::ExecutorError {
                    turn,
                    error: why.clone(),
                });
                progress.note(&why);
                Acted {
                    text: why,
                    stop_turn: true,
                    ..Acted::default()
                }
            }
        }
    }

    /// Records the person's review of `proposed`: the code to run, or what
    /// the model hears when it was rejected.
    fn reviewed(
        &mut self,
        turn: usize,
        index: usize,
        proposed: &str,
        review: Review,
    ) -> Result<String, Acted> {
        match review {
            Review::Reject(reason) => {
                self.record(Record::Rejected {
                    turn,
                    index,
                    reason: reason.clone(),
                });
                Err(Acted {
                    text: format!(
                        "The person supervising the robot did not allow {} {} to run: {reason}",
                        unit(self.format),
                        index + 1
                    ),
                    fingerprint: reason,
                    stop_turn: true,
                    ..Acted::default()
                })
            }
            Review::Run(code) => {
                if code != proposed {
                    self.record(Record::Edited {
                        turn,
                        index,
                        code: code.clone(),
                    });
                }
                Ok(code)
            }
        }
    }

    /// What the model is shown of an observation, and what it means for the turn.
    fn observe(
        &mut self,
        turn: usize,
        index: usize,
        code: &str,
        obs: &Observation,
        progress: &mut dyn Reporter,
    ) -> Acted {
        let mut text = trim_middle(&obs.render(), self.budget.observation_chars);
        let (images, refs) = self.pictures(turn, index, obs, &mut text);
        progress.observation(obs, &text);
        let mut recorded = serde_json::to_value(obs).unwrap_or_default();
        // The transcript refers to the picture files instead of holding their bytes.
        recorded["images"] = serde_json::Value::Array(refs);
        self.record(Record::Observation {
            turn,
            index,
            observation: recorded,
            shown: text.clone(),
        });
        let done = self.done.take();
        Acted {
            images,
            text,
            fingerprint: fingerprint(code, obs),
            stop_turn: done.is_some() || obs.status != Status::Ok,
            done,
            safe_stop: obs.safe_stop,
            skill_calls: obs.skill_calls.len(),
        }
    }

    /// The observation's pictures, scaled for the model and saved in the run
    /// folder, and for the transcript one record of each (its file, or why it
    /// cannot be shown); a picture that cannot be sent gets a line in `text`.
    fn pictures(
        &mut self,
        turn: usize,
        index: usize,
        obs: &Observation,
        text: &mut String,
    ) -> (Vec<Image>, Vec<serde_json::Value>) {
        let mut ready = Vec::new();
        let mut refs = Vec::new();
        for (k, picture) in obs.images.iter().enumerate() {
            let mut image = match images::prepare(picture, self.images.max_side) {
                Ok(image) => image,
                Err(why) => {
                    text.push_str(&format!("\n[picture {} cannot be shown: {why}]", k + 1));
                    refs.push(
                        json!({"mime": picture.mime.mime(), "caption": picture.caption, "error": why.to_string()}),
                    );
                    continue;
                }
            };
            if let Some(t) = self.transcript.as_deref_mut() {
                let name = format!("turn{turn}-{}{}-{}", unit(self.format), index + 1, k + 1);
                if let Err(e) = images::save(&mut image, t.dir(), &name) {
                    tracing::warn!("saving picture {name} in the run folder: {e}");
                }
            }
            refs.push(serde_json::to_value(&image).unwrap_or_default());
            ready.push(image);
        }
        (ready, refs)
    }

    fn cancelled(&self) -> bool {
        self.budget
            .cancel
            .as_ref()
            .is_some_and(|c| c.is_cancelled())
    }

    /// Runs a turn's actions in order until one stops the turn; returns the
    /// feedback, the turn's fingerprint and `done`'s summary if it was called.
    fn act_all(
        &mut self,
        turn: usize,
        planned: &[Planned],
        tally: &mut Tally,
        progress: &mut dyn Reporter,
    ) -> (Feedback, String, Option<String>) {
        let mut feedback = Feedback::default();
        let mut fingerprint = String::new();
        for index in 0..planned.len() {
            if self.cancelled() {
                break;
            }
            let acted = self.act(turn, index, &planned[index], progress);
            fingerprint.push_str(&acted.fingerprint);
            tally.safe_stops += u32::from(acted.safe_stop);
            tally.skill_calls += acted.skill_calls;
            feedback.add(self.format, planned, index, &acted);
            if acted.stop_turn {
                return (feedback, fingerprint, acted.done);
            }
        }
        (feedback, fingerprint, None)
    }

    /// The person's message after turn `turn`, if any, as text for the model.
    fn person_says(&mut self, turn: usize) -> String {
        let Some(message) = self.approver.as_deref_mut().and_then(|s| s.message(turn)) else {
            return String::new();
        };
        self.record(Record::Message {
            turn,
            text: message.clone(),
        });
        format!("Message from the person: {message}")
    }

    /// Runs the episode for `task`: ask, parse, act, observe, judge, until
    /// `done` or a budget ends it.
    pub fn run(&mut self, task: &str, progress: &mut dyn Reporter) -> Outcome {
        let mut tally = Tally {
            started: Instant::now(),
            turns: 0,
            usage: Usage::default(),
            model_seconds: 0.0,
            safe_stops: 0,
            skill_calls: 0,
        };
        let mut messages = vec![Message::user(prompt::task_message(task))];
        let mut sent = 0; // messages already recorded with an earlier request
        let mut stuck = StuckWatch::default();
        let outcome = loop {
            let elapsed = tally.started.elapsed();
            if let Some(reason) = spent(&self.budget, elapsed, tally.turns, &tally.usage) {
                break tally.outcome(reason, None);
            }
            tally.turns += 1;
            let turn = tally.turns;
            let _turn = tracing::debug_span!("turn", n = turn).entered();
            progress.turn(turn, self.budget.max_turns);
            self.record(Record::Request {
                turn,
                messages: messages.len(),
                new: json!(&messages[sent..]),
            });
            sent = messages.len();
            let completion = match self.ask_seeing(turn, &mut messages, progress) {
                Ok(c) => c,
                Err(e) => {
                    let reason = match e.unavailable() {
                        Some(why) => StopReason::LlmUnavailable(why),
                        None => StopReason::LlmFailed(e.to_string()),
                    };
                    break tally.outcome(reason, None);
                }
            };
            self.took_reply(&completion, &mut tally, progress);
            let (assistant, planned) = parse(self.format, self.session.skills(), &completion);
            messages.push(assistant);
            if planned.is_empty() {
                let nudge = prompt::nudge(self.format);
                progress.note(nudge);
                messages.push(Message::user(nudge));
                continue;
            }
            let (feedback, fingerprint, done) = self.act_all(turn, &planned, &mut tally, progress);
            if let Some(summary) = done {
                break tally.outcome(StopReason::Done, Some(summary));
            }
            let mut extra = self.person_says(turn);
            match stuck.see(fingerprint) {
                Stuckness::Fine => {}
                Stuckness::Nudge => {
                    progress.note(prompt::STUCK_NUDGE);
                    if !extra.is_empty() {
                        extra.push_str("\n\n");
                    }
                    extra.push_str(prompt::STUCK_NUDGE);
                }
                Stuckness::Stuck => break tally.outcome(StopReason::Stuck, None),
            }
            messages.push(feedback.message(self.format, extra, &self.images));
        };
        let outcome = Outcome {
            retries: self.retries,
            ..outcome
        };
        self.record(Record::End {
            outcome: json!(&outcome),
        });
        outcome
    }

    /// Counts a reply's tokens and time, and records it.
    fn took_reply(
        &mut self,
        completion: &Completion,
        tally: &mut Tally,
        progress: &mut dyn Reporter,
    ) {
        tally.usage.input_tokens += completion.usage.input_tokens;
        tally.usage.output_tokens += completion.usage.output_tokens;
        progress.reply(completion, &tally.usage);
        tally.model_seconds += completion.latency_ms / 1e3;
        tracing::debug!(
            turn = tally.turns,
            ms = completion.latency_ms,
            tokens_in = completion.usage.input_tokens,
            tokens_out = completion.usage.output_tokens,
            attempts = completion.attempts,
            "reply"
        );
        self.record(Record::Reply {
            turn: tally.turns,
            text: completion.text.clone(),
            tool_calls: completion.tool_calls.clone(),
            usage: json!(completion.usage),
            latency_ms: completion.latency_ms,
            attempts: completion.attempts,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::scripted::Scripted;

    #[test]
    fn stop_reason_names_are_the_serialized_tags() {
        for r in [
            StopReason::Done,
            StopReason::MaxTurns,
            StopReason::WallBudget,
            StopReason::TokenBudget,
            StopReason::Stuck,
            StopReason::LlmFailed("x".into()),
            StopReason::LlmUnavailable("x".into()),
            StopReason::Cancelled,
        ] {
            assert_eq!(serde_json::to_value(&r).unwrap()["reason"], r.name());
        }
    }

    fn skills() -> SkillSet {
        robot_api::testing::test_skills().0
    }

    #[test]
    fn a_reply_is_parsed_into_the_actions_of_its_format() {
        let skills = skills();
        let text = "Look:\n```python\nx = 1\n```\nthen\n```python\necho(x)\n```";
        let (assistant, planned) = parse(ActionFormat::Code, &skills, &Completion::text(text));
        assert_eq!(assistant.content, text);
        let codes: Vec<_> = planned.iter().map(|p| p.code.clone()).collect();
        assert_eq!(codes, [Ok("x = 1".to_owned()), Ok("echo(x)".to_owned())]);

        let mut calls = Completion::text("");
        calls.tool_calls = vec![
            super::super::llm::ToolCall {
                id: "c1".into(),
                name: "add".into(),
                arguments: json!({"a": 1, "b": 2}),
            },
            super::super::llm::ToolCall {
                id: "c2".into(),
                name: "fly".into(),
                arguments: json!({}),
            },
        ];
        let (assistant, planned) = parse(ActionFormat::Json, &skills, &calls);
        assert_eq!(assistant.tool_calls.len(), 2);
        assert_eq!(planned[0].call_id.as_deref(), Some("c1"));
        assert!(planned[0].code.as_ref().unwrap().contains("add("));
        assert!(planned[1]
            .code
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("fly"));

        let (_, planned) = parse(
            ActionFormat::Text,
            &skills,
            &Completion::text("Thought: add.\nAction: add {\"a\": 1, \"b\": 2}"),
        );
        assert_eq!(planned.len(), 1);
        assert!(planned[0].code.is_ok(), "{planned:?}");
        let (_, planned) = parse(
            ActionFormat::Text,
            &skills,
            &Completion::text("no action here"),
        );
        assert!(planned.is_empty());
    }

    #[test]
    fn the_same_turn_three_times_is_nudged_then_four_times_stuck() {
        let mut watch = StuckWatch::default();
        assert_eq!(watch.see("a".into()), Stuckness::Fine);
        assert_eq!(watch.see("a".into()), Stuckness::Fine);
        assert_eq!(watch.see("a".into()), Stuckness::Nudge);
        assert_eq!(watch.see("b".into()), Stuckness::Fine, "a change resets");
        for _ in 0..2 {
            watch.see("b".into());
        }
        assert_eq!(watch.see("b".into()), Stuckness::Stuck);
    }

    #[test]
    fn budgets_are_checked_cancel_first() {
        let cancel = robot_api::CancelToken::new();
        let budget = Budget {
            max_turns: 3,
            wall: Some(Duration::from_secs(10)),
            tokens: Some(100),
            cancel: Some(cancel.clone()),
            ..Budget::default()
        };
        let used = |n| Usage {
            input_tokens: n,
            output_tokens: 0,
        };
        let second = Duration::from_secs(1);
        assert_eq!(spent(&budget, second, 2, &used(99)), None);
        assert_eq!(
            spent(&budget, second, 3, &used(0)),
            Some(StopReason::MaxTurns)
        );
        assert_eq!(
            spent(&budget, 10 * second, 0, &used(0)),
            Some(StopReason::WallBudget)
        );
        assert_eq!(
            spent(&budget, second, 0, &used(100)),
            Some(StopReason::TokenBudget)
        );
        cancel.cancel();
        assert_eq!(
            spent(&budget, second, 3, &used(0)),
            Some(StopReason::Cancelled)
        );
    }

    #[test]
    fn feedback_numbers_blocks_and_says_which_did_not_run() {
        let blocks: Vec<Planned> = (0..3)
            .map(|i| Planned {
                code: Ok(format!("step{i}()")),
                call_id: None,
            })
            .collect();
        let ok = Acted {
            text: "fine".into(),
            ..Acted::default()
        };
        let failed = Acted {
            text: "Blocked".into(),
            stop_turn: true,
            ..Acted::default()
        };
        let mut feedback = Feedback::default();
        feedback.add(ActionFormat::Code, &blocks, 0, &ok);
        feedback.add(ActionFormat::Code, &blocks, 1, &failed);
        let message = feedback.message(
            ActionFormat::Code,
            "Message from the person: hi".into(),
            &ImagePolicy::default(),
        );
        assert_eq!(
            message.content,
            "Observation:\n[block 1 of 3]\nfine\n[block 2 of 3]\nBlocked\n[blocks 3 to 3 were not run: block 2 did not end normally]\n\nMessage from the person: hi"
        );

        // Tool calls: every call gets a result, those not run say so.
        let calls: Vec<Planned> = (0..3)
            .map(|i| Planned {
                code: Ok(String::new()),
                call_id: Some(format!("c{i}")),
            })
            .collect();
        let mut feedback = Feedback::default();
        feedback.add(ActionFormat::Json, &calls, 0, &failed);
        let message = feedback.message(ActionFormat::Json, String::new(), &ImagePolicy::default());
        let results: Vec<_> = message
            .tool_results
            .iter()
            .map(|r| (r.id.as_str(), r.content.as_str()))
            .collect();
        assert_eq!(
            results,
            [
                ("c0", "Blocked"),
                ("c1", "not run: call 1 did not end normally"),
                ("c2", "not run: call 1 did not end normally")
            ]
        );
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

    /// Runs code actions without a process: `done(...)` calls the real
    /// `done` skill; everything else is recorded and answered with its
    /// action number as the result.
    struct FakeExecutor {
        skills: SkillSet,
        ran: Vec<String>,
    }

    impl codeact_executor::Executor for FakeExecutor {
        fn skills(&self) -> &SkillSet {
            &self.skills
        }

        fn execute(
            &mut self,
            code: &str,
            _timeout: Option<Duration>,
            on_output: &mut dyn FnMut(Stream, &str),
        ) -> Result<Observation, codeact_executor::ExecutorError> {
            self.ran.push(code.to_owned());
            let action = self.ran.len() as u64;
            if let Some(summary) = code
                .strip_prefix("done('")
                .and_then(|c| c.strip_suffix("')"))
            {
                let index = self.skills.specs().position(|s| s.name == "done").unwrap();
                let ctx = robot_api::CallContext::default();
                self.skills
                    .call(index, vec![robot_api::Value::Str(summary.into())], &ctx)
                    .unwrap();
            }
            on_output(Stream::Stdout, "printed\n");
            Ok(Observation {
                action,
                status: Status::Ok,
                output: vec![codeact_executor::Chunk {
                    stream: Stream::Stdout,
                    text: "printed\n".into(),
                }],
                output_cut_bytes: 0,
                output_tail: Vec::new(),
                result: Some(format!("'result {action}'")),
                error: None,
                skill_calls: Vec::new(),
                duration_ms: 1.0,
                worker_restart: None,
                safe_stop: false,
                notes: Vec::new(),
                robot_events: Vec::new(),
                robot_state: None,
                robot_time: None,
                images: Vec::new(),
            })
        }
    }

    #[test]
    fn an_episode_runs_each_block_shows_the_model_what_came_back_and_ends_on_done() {
        let mut skills = skills();
        let agent = Agent::new(&mut skills, ActionFormat::Code, None);
        let mut executor = FakeExecutor {
            skills,
            ran: Vec::new(),
        };
        let model = Scripted::texts(
            "script:test",
            [
                "First:\n```python\nx = 1\n```\n```python\ny = 2\n```",
                "```python\ndone('all set')\n```",
                "never asked",
            ],
        );
        struct Quiet;
        impl Reporter for Quiet {}
        let outcome = agent
            .episode(&model, &mut executor, Budget::default())
            .run("Set x and y.", &mut Quiet);
        assert_eq!(executor.ran, ["x = 1", "y = 2", "done('all set')"]);
        assert_eq!(outcome.reason, StopReason::Done);
        assert!(outcome.claimed_done);
        assert_eq!(outcome.summary.as_deref(), Some("all set"));
        assert_eq!(outcome.turns, 2);
        let asked = model.asked();
        assert_eq!(asked.len(), 2, "no third request after done");
        assert!(asked[0][0].content.contains("Set x and y."));
        // The second request carries the reply and both observations.
        let second = &asked[1];
        assert_eq!(second[1].role, crate::llm::Role::Assistant);
        let shown: String = second[2..].iter().map(|m| m.content.clone()).collect();
        assert!(
            shown.contains("'result 1'")
                && shown.contains("'result 2'")
                && shown.contains("printed"),
            "{shown}"
        );
    }
}
