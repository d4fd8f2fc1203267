//! `codeact run`: an LLM works on a task in the simulator (or any skill set),
//! with live progress in the terminal and a run folder left behind.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::json;

use super::shutdown::{signals, Shutdown};
use super::{ActionOpts, ClockOpts, ImageOpts, RecordOpts, SandboxOpts, TargetOpts};
use crate::agent::actions::ActionFormat;
use crate::agent::episode::{Agent, Approver, Budget, Reporter, Review};
use crate::agent::images::ImageMode;
use crate::agent::llm::{Completion, Llm, LlmConfig, Model, Usage};
use crate::agent::transcript::{self, timestamp, Record, Start, Transcript};
use crate::executor::{Observation, Stream};

/// Options of `codeact run`. Each setting comes from its flag, else its
/// environment variable, else the config file, else the default.
#[derive(clap::Args, Debug)]
pub struct RunOpts {
    #[command(flatten)]
    target: TargetOpts,
    #[command(flatten)]
    sandbox: SandboxOpts,
    #[command(flatten)]
    actions: ActionOpts,
    #[command(flatten)]
    clock: ClockOpts,
    #[command(flatten)]
    images: ImageOpts,
    #[command(flatten)]
    record: RecordOpts,
    /// The task, in words ("bring the red box to the packing zone").
    #[arg(long)]
    task: String,
    /// A YAML file with any of: llm, base_url, max_turns, max_tokens,
    /// max_seconds, request_timeout, retries, action_format, runs_dir,
    /// temperature, max_reply_tokens, images, image_max_side, max_images,
    /// max_images_in_request.
    /// (Keys stay in the environment.)
    #[arg(long, env = "CODEACT_CONFIG")]
    config: Option<PathBuf>,
    /// The model: openai:MODEL (any OpenAI-compatible server) or anthropic:MODEL.
    #[arg(long, env = "CODEACT_LLM")]
    llm: Option<String>,
    /// The endpoint's base URL (default: the provider's, or OPENAI_BASE_URL / ANTHROPIC_BASE_URL).
    #[arg(long)]
    base_url: Option<String>,
    /// Model replies at most [default: 10].
    #[arg(long)]
    max_turns: Option<usize>,
    /// Tokens (all turns, input and output) at most.
    #[arg(long)]
    max_tokens: Option<u64>,
    /// Wall-clock seconds for the whole run at most.
    #[arg(long)]
    max_seconds: Option<f64>,
    /// Seconds each network operation with the endpoint may take [default: 60].
    #[arg(long)]
    request_timeout: Option<f64>,
    /// Retries of a failed request (429, 5xx, connection errors) [default: 4].
    #[arg(long)]
    retries: Option<u32>,
    /// Where run folders go [default: runs].
    #[arg(long)]
    runs_dir: Option<PathBuf>,
    /// Show each action and wait for yes, no (with a reason for the model) or
    /// edit before it runs: for physical robots.
    #[arg(long)]
    approve: bool,
    /// After each turn, ask for a message to the model (empty: none).
    #[arg(long)]
    interactive: bool,
    /// How the model acts: Python code blocks (code), native tool calls
    /// (json) or one Action line per turn (text), for comparing them [default: code].
    #[arg(long, value_enum)]
    action_format: Option<ActionFormat>,
    /// Sampling temperature [default: 0.2].
    #[arg(long)]
    temperature: Option<f64>,
    /// Length limit of one reply, tokens [default: 2048].
    #[arg(long)]
    max_reply_tokens: Option<u32>,
    /// First wait before a retry, seconds (doubles per retry, with jitter).
    #[arg(long, default_value_t = 1.0)]
    retry_backoff: f64,
}

/// The config file: the same settings as the flags, all optional.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    llm: Option<String>,
    base_url: Option<String>,
    max_turns: Option<usize>,
    max_tokens: Option<u64>,
    max_seconds: Option<f64>,
    request_timeout: Option<f64>,
    retries: Option<u32>,
    runs_dir: Option<PathBuf>,
    action_format: Option<ActionFormat>,
    temperature: Option<f64>,
    max_reply_tokens: Option<u32>,
    images: Option<ImageMode>,
    image_max_side: Option<u32>,
    max_images: Option<usize>,
    max_images_in_request: Option<usize>,
}

fn load_config(path: &std::path::Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    serde_norway::from_str(&text).map_err(|e| {
        let line = e.location().map_or(1, |l| l.line());
        anyhow::anyhow!("{}:{line}: {e}", path.display())
    })
}

pub(crate) const NO_LLM: &str = "no LLM configured. Pass --llm openai:MODEL (with OPENAI_API_KEY set, or --base-url http://localhost:11434/v1 for a local server such as Ollama, vLLM or llama.cpp) or --llm anthropic:MODEL (with ANTHROPIC_API_KEY). To try the robot's skills by hand instead, run: codeact repl --world warehouse";

/// Runs `codeact run`.
pub fn run(opts: &RunOpts) -> Result<ExitCode> {
    let file = match &opts.config {
        Some(path) => load_config(path)?,
        None => FileConfig::default(),
    };
    let Some(spec) = opts.llm.clone().or(file.llm) else {
        eprintln!("codeact run: {NO_LLM}");
        return Ok(ExitCode::from(2));
    };
    let base_url = opts.base_url.clone().or(file.base_url);
    let mut config = LlmConfig::from_spec(&spec, base_url.as_deref())?;
    config.timeout = Duration::from_secs_f64(
        opts.request_timeout
            .or(file.request_timeout)
            .unwrap_or(60.0)
            .clamp(0.1, 3600.0),
    );
    config.max_retries = opts.retries.or(file.retries).unwrap_or(4);
    if let Some(t) = opts.temperature.or(file.temperature) {
        config.temperature = t;
    }
    if let Some(n) = opts.max_reply_tokens.or(file.max_reply_tokens) {
        config.max_tokens = n;
    }
    let action_format = opts
        .action_format
        .or(file.action_format)
        .unwrap_or(ActionFormat::Code);
    let runs_dir = opts
        .runs_dir
        .clone()
        .or(file.runs_dir)
        .unwrap_or_else(|| PathBuf::from("runs"));
    let max_seconds = opts.max_seconds.or(file.max_seconds);
    config.backoff = Duration::from_secs_f64(opts.retry_backoff.clamp(0.0, 60.0));
    let llm = Llm::new(config)?;

    let mut target = opts
        .target
        .target(opts.clock.realtime, Some(&opts.record))?;
    let robot = target.robot.clone();
    let world = robot.as_ref().map(|r| r.sim().world().clone());
    if action_format != ActionFormat::Code {
        // Tool calls and Action lines cannot pass a function.
        target.skills.retain(|s| s.name != "save_skill");
    }
    let library = target.library.clone();
    let mut agent = Agent::new(
        &mut target.skills,
        action_format,
        world.as_ref().map(|w| w.summary()).as_deref(),
    );
    agent.images = opts.images.policy(&ImageOpts {
        images: file.images,
        image_max_side: file.image_max_side,
        max_images: file.max_images,
        max_images_in_request: file.max_images_in_request,
    })?;
    let started = target.session(&opts.sandbox, Some(&opts.actions))?;
    // SIGINT and SIGTERM: the action interrupted, the episode cancelled
    // before the next turn, the recording finished.
    let cancel = robot_api::CancelToken::new();
    let shutdown = Shutdown::install(&signals(true), started.ends(Some(cancel.clone())))?;
    let (mut session, recorder) = (started.session, started.recorder);
    agent.add_library(session.library());

    let label = world
        .as_ref()
        .map_or("skills".to_owned(), |w| w.name.clone());
    let dir = runs_dir.join(format!("{}-{label}", timestamp()));
    let mut transcript = Transcript::create(&dir)
        .with_context(|| format!("creating the run folder {}", dir.display()))?;
    if let Some(library) = &library {
        // The library as the run started, for its replay.
        crate::executor::library::snapshot(library, &dir.join("library")).with_context(|| {
            format!(
                "copying the skill library {} into the run folder",
                library.display()
            )
        })?;
    }
    let budget = Budget {
        max_turns: opts.max_turns.or(file.max_turns).unwrap_or(10),
        wall: max_seconds.map(Duration::from_secs_f64),
        tokens: opts.max_tokens.or(file.max_tokens),
        cancel: Some(cancel),
        ..Budget::default()
    };
    transcript.record(&Record::Start(Box::new(Start {
        version: transcript::VERSION,
        task: opts.task.clone(),
        llm: llm.name(),
        base_url: Some(llm.config().base_url.clone()),
        world: label.clone(),
        world_spec: opts.target.world_spec(),
        skills: opts.target.skills_spec().map(str::to_owned),
        max_turns: budget.max_turns,
        action_format: json!(action_format),
        max_tokens: budget.tokens,
        max_seconds,
        system_prompt: agent.system.clone(),
        images: json!(agent.images),
        library: library.as_ref().map(|l| json!(l)),
        ..Start::default()
    })));
    if let Some(r) = &recorder {
        let model = llm.name();
        let entries = [
            ("task", opts.task.as_str()),
            ("world", label.as_str()),
            ("model", model.as_str()),
        ];
        r.metadata("codeact.task", &entries);
    }
    println!(
        "codeact run: {} on {label}; run folder {}",
        llm.name(),
        dir.display()
    );
    println!("task: {}", opts.task);

    let mut progress = Terminal {
        color: std::io::stdout().is_terminal(),
    };
    let mut person = Person {
        approve: opts.approve,
        interactive: opts.interactive,
    };
    let approver: Option<&mut dyn Approver> =
        (opts.approve || opts.interactive).then_some(&mut person as &mut dyn Approver);
    let outcome = {
        let mut episode = agent.episode(&llm, &mut session, budget);
        episode.transcript = Some(&mut transcript);
        episode.approver = approver;
        episode.run(&opts.task, &mut progress)
    };
    if shutdown.requested().is_some() {
        shutdown.ending();
    }
    if let Some(robot) = &robot {
        let sim = robot.sim();
        transcript.record(&Record::WorldState {
            state: json!(sim.snapshot()),
        });
        super::render::write(sim.world(), Some(&sim), &dir.join("picture.png"))?;
    }
    drop(transcript);
    if let Some(r) = &recorder {
        r.close()?;
        if let Some(path) = r.path() {
            println!("recording: {}", path.display());
        }
    }
    println!();
    match (&outcome.claimed_done, &outcome.summary) {
        (true, Some(summary)) => println!("done: {summary}"),
        _ => println!("stopped: {}", outcome.reason.describe()),
    }
    println!(
        "{} turns, {} tokens ({} in, {} out), {:.1} s; transcript and picture in {}",
        outcome.turns,
        outcome.usage.total(),
        outcome.usage.input_tokens,
        outcome.usage.output_tokens,
        outcome.seconds,
        dir.display()
    );
    drop(session);
    Ok(shutdown.ended(if outcome.claimed_done {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }))
}

/// Live progress on the terminal.
struct Terminal {
    color: bool,
}

impl Terminal {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

impl Reporter for Terminal {
    fn turn(&mut self, turn: usize, max: usize) {
        println!("\n{}", self.paint("1", &format!("── turn {turn}/{max} ──")));
    }
    fn text(&mut self, delta: &str) {
        print!("{}", self.paint("2", delta));
        let _ = std::io::stdout().flush();
    }
    fn retry(&mut self, why: &str, wait: Duration) {
        println!(
            "\n{}",
            self.paint(
                "33",
                &format!(
                    "[request failed ({why}); retrying in {:.1} s]",
                    wait.as_secs_f64()
                )
            )
        );
    }
    fn reply(&mut self, c: &Completion, total: &Usage) {
        println!(
            "\n{}",
            self.paint(
                "2",
                &format!(
                    "[{} + {} tokens, {:.1} s; {} so far]",
                    c.usage.input_tokens,
                    c.usage.output_tokens,
                    c.latency_ms / 1e3,
                    total.total()
                )
            )
        );
    }
    fn action(&mut self, index: usize, _code: &str) {
        println!(
            "{}",
            self.paint("36", &format!("▶ running block {}", index + 1))
        );
    }
    fn preview(&mut self, index: usize, previewed: &crate::executor::Previewed) {
        let verdict = if previewed.refused() { "31" } else { "35" };
        println!(
            "{}\n{}",
            self.paint(
                verdict,
                &format!("◆ rehearsed block {} on a twin:", index + 1)
            ),
            previewed.text()
        );
    }
    fn output(&mut self, stream: Stream, text: &str) {
        match stream {
            Stream::Stdout => print!("{text}"),
            Stream::Stderr => eprint!("{text}"),
        }
        let _ = std::io::stdout().flush();
    }
    fn observation(&mut self, _obs: &Observation, shown: &str) {
        println!("{}", self.paint("36", "◀ observation:"));
        print!("{shown}");
    }
    fn note(&mut self, text: &str) {
        println!("{}", self.paint("33", &format!("[{text}]")));
    }
}

/// The person at the terminal, approving actions and adding messages.
struct Person {
    approve: bool,
    interactive: bool,
}

/// One line from stdin, trimmed; `None` at end of input.
fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_owned()),
    }
}

impl Approver for Person {
    fn review(
        &mut self,
        _turn: usize,
        index: usize,
        code: &str,
        _previewed: Option<&crate::executor::Previewed>,
    ) -> Review {
        if !self.approve {
            return Review::Run(code.to_owned());
        }
        println!("\n── block {} ──\n{code}\n──", index + 1);
        loop {
            print!("run it? [y]es / [n]o <reason> / [e]dit: ");
            let _ = std::io::stdout().flush();
            let Some(answer) = read_line() else {
                return Review::Reject("no one is there to approve it (end of input)".into());
            };
            let (word, rest) = answer.trim().split_once(' ').unwrap_or((answer.trim(), ""));
            match word {
                "y" | "yes" => return Review::Run(code.to_owned()),
                "n" | "no" => {
                    let reason = if rest.trim().is_empty() {
                        "no reason given"
                    } else {
                        rest.trim()
                    };
                    return Review::Reject(reason.to_owned());
                }
                "e" | "edit" => {
                    println!("type the code to run instead; end with a line holding only '.':");
                    let mut edited = Vec::new();
                    while let Some(line) = read_line() {
                        if line == "." {
                            break;
                        }
                        edited.push(line);
                    }
                    return Review::Run(edited.join("\n"));
                }
                _ => println!("answer y, n (with a reason) or e"),
            }
        }
    }

    fn message(&mut self, _turn: usize) -> Option<String> {
        if !self.interactive {
            return None;
        }
        print!("\nmessage to the model (empty to go on): ");
        let _ = std::io::stdout().flush();
        read_line().filter(|l| !l.trim().is_empty())
    }
}
