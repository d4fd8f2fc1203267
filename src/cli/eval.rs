//! `codeact tasks` (list, show, check) and `codeact eval` (run a policy on
//! every chosen task and seed, in parallel, and say how each trial went).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{ImageOpts, SandboxOpts};
use crate::agent::actions::ActionFormat;
use crate::agent::llm::{Llm, LlmConfig, Model};
use crate::agent::transcript::timestamp;
use crate::eval::summary;
use crate::eval::task::{self, Task, Tier};
use crate::eval::trial::{self, ModelSetup, Policy, TrialReport};

/// Which tasks: by id pattern, tier, or task files.
#[derive(clap::Args, Debug, Clone)]
pub struct TaskChoice {
    /// Only tasks whose id matches (`*` is any run of characters: "nav-*").
    #[arg(long, value_name = "PATTERN")]
    tasks: Option<String>,
    /// Only tasks of this tier.
    #[arg(long, value_enum)]
    tier: Option<Tier>,
    /// Task files instead of the built-in tasks (schema: tasks/README.md).
    #[arg(long = "task-file", value_name = "FILE")]
    files: Vec<String>,
}

impl TaskChoice {
    /// The chosen tasks; an error when none is chosen.
    fn load(&self) -> Result<Vec<Task>> {
        let all = task::load(&self.files)?;
        let chosen: Vec<Task> = all
            .into_iter()
            .filter(|t| {
                self.tasks
                    .as_deref()
                    .is_none_or(|p| task::matches(p, &t.id))
            })
            .filter(|t| self.tier.is_none_or(|tier| tier == t.tier))
            .collect();
        if chosen.is_empty() {
            bail!("no task matches; `codeact tasks` lists them");
        }
        Ok(chosen)
    }
}

/// Options of `codeact tasks`.
#[derive(clap::Args, Debug)]
pub struct TasksOpts {
    #[command(subcommand)]
    what: Option<TasksCommand>,
    #[command(flatten)]
    choice: TaskChoice,
}

#[derive(clap::Subcommand, Debug)]
enum TasksCommand {
    /// Everything about one task: instructions, setup, predicates, oracle.
    Show {
        /// The task's id.
        id: String,
    },
    /// Checks that no task is done before anything happens: for every seed,
    /// every goal is false where the task starts.
    Check {
        /// Seeds per task.
        #[arg(long, default_value_t = 3)]
        seeds: u64,
    },
}

/// Runs `codeact tasks`.
pub fn tasks(opts: &TasksOpts) -> Result<ExitCode> {
    let chosen = opts.choice.load()?;
    match &opts.what {
        None => {
            for tier in Tier::ALL {
                let of_tier: Vec<&Task> = chosen.iter().filter(|t| t.tier == tier).collect();
                if of_tier.is_empty() {
                    continue;
                }
                println!("{} ({})", tier.name(), of_tier.len());
                for t in of_tier {
                    let checks: Vec<String> = t.success.iter().map(|p| p.describe()).collect();
                    println!(
                        "  {:<28} {:<11} {}  [{}]",
                        t.id,
                        t.world,
                        t.instructions[0],
                        checks.join("; ")
                    );
                }
            }
            println!("{} tasks", chosen.len());
            Ok(ExitCode::SUCCESS)
        }
        Some(TasksCommand::Show { id }) => {
            let Some(t) = chosen.iter().find(|t| &t.id == id) else {
                bail!("no task {id:?}; `codeact tasks` lists them");
            };
            println!("{} ({}, world {})", t.id, t.tier.name(), t.world);
            println!("instructions:");
            t.instructions.iter().for_each(|i| println!("  - {i}"));
            println!("goals (false at the start, true at the end):");
            t.success
                .iter()
                .for_each(|p| println!("  - {}", p.describe()));
            if !t.constraints.is_empty() {
                println!("constraints (true throughout):");
                t.constraints
                    .iter()
                    .for_each(|p| println!("  - {}", p.describe()));
            }
            println!("budget: {} turns, {} s", t.turns, t.seconds);
            println!("oracle:\n{}", t.oracle.trim_end());
            Ok(ExitCode::SUCCESS)
        }
        Some(TasksCommand::Check { seeds }) => {
            let mut bad = 0;
            for t in &chosen {
                for seed in 0..*seeds {
                    let already = trial::true_at_start(t, seed)?;
                    if !already.is_empty() {
                        bad += 1;
                        println!(
                            "FAIL {} seed {seed}: true at the start: {}",
                            t.id,
                            already.join("; ")
                        );
                    }
                }
            }
            println!(
                "{} tasks x {seeds} seeds: {}",
                chosen.len(),
                if bad == 0 {
                    "every goal is false at the start".to_owned()
                } else {
                    format!("{bad} variations start done")
                }
            );
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Options of `codeact eval`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalOpts {
    #[command(subcommand)]
    report: Option<ReportCommand>,
    /// Run each task's oracle solution (no LLM): every trial must succeed.
    #[arg(long, conflicts_with_all = ["nothing", "llm"])]
    oracle: bool,
    /// Run a policy that calls done() at once (no LLM): every trial must fail.
    #[arg(long, conflicts_with = "llm")]
    nothing: bool,
    /// The model: openai:MODEL (any OpenAI-compatible server) or anthropic:MODEL.
    #[arg(long, env = "CODEACT_LLM")]
    llm: Option<String>,
    /// The endpoint's base URL (default: the provider's, or OPENAI_BASE_URL / ANTHROPIC_BASE_URL).
    #[arg(long)]
    base_url: Option<String>,
    /// How the model acts, one or more of code, json, text (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "code")]
    action_format: Vec<ActionFormat>,
    /// Which phrasings of each instruction: the first, or all of them.
    #[arg(long, value_enum, default_value = "first")]
    paraphrase: Paraphrase,
    #[command(flatten)]
    choice: TaskChoice,
    /// Seeds (variations) per task: 0, 1, ...
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Trials run at once, each with its own simulator and sandboxed worker.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Run only shard I of N (1-based, "2/4"): trial k of the full list
    /// goes to shard k mod N, so shards on any machines cover the list
    /// once; `codeact eval report` merges their folders.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Where results go [default: evals/<time>-<who>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip the trials that --out already has results for.
    #[arg(long, requires = "out")]
    resume: bool,
    /// Seconds one network operation may take before the request is retried.
    #[arg(long, default_value_t = 120.0)]
    request_timeout: f64,
    /// Retries of a failed request (429s back off as the server says).
    #[arg(long, default_value_t = 6)]
    retries: u32,
    #[command(flatten)]
    sandbox: SandboxOpts,
    #[command(flatten)]
    images: ImageOpts,
    /// Record each model trial as MCAP (episode.mcap in its trial folder) for Foxglove.
    #[arg(long)]
    record: bool,
}

#[derive(clap::Subcommand, Debug)]
enum ReportCommand {
    /// Merge result folders (models, shards) into one summary.
    Report {
        /// Folders written by `codeact eval`.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where the merged summary goes [default: print it].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Which phrasings of each task's instruction to run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq)]
enum Paraphrase {
    First,
    All,
}

/// One trial to run.
#[derive(Debug, Clone)]
struct Planned<'a> {
    task: &'a Task,
    seed: u64,
    paraphrase: usize,
    format: Option<ActionFormat>,
}

impl Planned<'_> {
    /// The key a result is known by, for --resume.
    fn key(&self) -> String {
        key(&self.task.id, self.seed, self.paraphrase, self.format)
    }

    /// The trial's folder name.
    fn folder(&self) -> String {
        let format = self.format.map(ActionFormat::name).unwrap_or("policy");
        format!(
            "{}-s{}-p{}-{format}",
            self.task.id, self.seed, self.paraphrase
        )
    }
}

fn key(task: &str, seed: u64, paraphrase: usize, format: Option<ActionFormat>) -> String {
    format!(
        "{task}/{seed}/{paraphrase}/{}",
        format.map(ActionFormat::name).unwrap_or("-")
    )
}

/// Runs `codeact eval`.
pub fn eval(opts: &EvalOpts) -> Result<ExitCode> {
    if let Some(ReportCommand::Report { dirs, out }) = &opts.report {
        return report(dirs, out.as_deref());
    }
    let policy = match (opts.oracle, opts.nothing, &opts.llm) {
        (true, _, _) => Policy::Oracle,
        (_, true, _) => Policy::Nothing,
        (_, _, Some(_)) => Policy::Model,
        _ => bail!("say who acts: --llm openai:MODEL or anthropic:MODEL (a model), --oracle (each task's solution) or --nothing (calls done at once)"),
    };
    if opts.workers == 0 || opts.seeds == 0 || opts.action_format.is_empty() {
        bail!("--workers, --seeds and --action-format need at least one each");
    }
    let llm = match &opts.llm {
        Some(spec) if policy == Policy::Model => {
            let mut config = LlmConfig::from_spec(spec, opts.base_url.as_deref())?;
            config.timeout = Duration::from_secs_f64(opts.request_timeout.clamp(0.1, 3600.0));
            config.max_retries = opts.retries;
            Some(Llm::new(config)?)
        }
        _ => None,
    };
    let chosen = opts.choice.load()?;
    let mut plan = plan(&chosen, opts, policy);
    if let Some((i, n)) = opts.shard {
        plan = plan
            .into_iter()
            .enumerate()
            .filter(|(k, _)| k % n == i - 1)
            .map(|(_, p)| p)
            .collect();
    }
    let who = llm.as_ref().map_or_else(
        || policy.name().to_owned(),
        |l| l.name().replace([':', '/'], "_"),
    );
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("evals").join(format!("{}-{who}", timestamp())));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let results_path = out.join("results.jsonl");
    let mut done_before = Vec::new();
    if opts.resume {
        done_before = read_results(&results_path)?;
    }
    let known: std::collections::HashSet<String> = done_before
        .iter()
        .map(|r| key(&r.task, r.seed, r.paraphrase, r.format))
        .collect();
    let todo: Vec<&Planned> = plan.iter().filter(|p| !known.contains(&p.key())).collect();
    println!(
        "codeact eval: {} trials ({} tasks{}); {} to run, results in {}",
        plan.len(),
        chosen.len(),
        if opts.resume {
            format!(", {} done before", plan.len() - todo.len())
        } else {
            String::new()
        },
        todo.len(),
        out.display()
    );
    let stop = stop_on_ctrl_c()?;
    let config = opts.sandbox.config(None)?;
    let images = opts.images.policy(&ImageOpts::default())?;
    let results = Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&results_path)
            .with_context(|| format!("opening {}", results_path.display()))?,
    );
    let reports: Mutex<Vec<TrialReport>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    crate::eval::run_parallel(&todo, opts.workers, &stop, |i, p| {
        let result = match (&llm, p.format) {
            (Some(llm), Some(format)) => {
                let dir = out.join("trials").join(p.folder());
                let setup = ModelSetup {
                    llm,
                    format,
                    paraphrase: p.paraphrase,
                    dir: Some(&dir),
                    images,
                    record: opts.record,
                };
                trial::run_model(p.task, p.seed, &setup, &config)
            }
            _ => trial::run(p.task, p.seed, policy, &config),
        };
        match result {
            Ok(report) => {
                print_trial(&report, policy, i + 1, todo.len());
                if let Ok(line) = serde_json::to_string(&report) {
                    let mut f = results.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = writeln!(f, "{line}");
                    let _ = f.flush();
                }
                reports
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(report);
            }
            Err(e) => {
                println!("ERROR {} seed {}: {e}", p.task.id, p.seed);
                errors
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(e.to_string());
            }
        }
    });
    let new = reports.into_inner().unwrap_or_default();
    let errors = errors.into_inner().unwrap_or_default();
    let passed = new.iter().filter(|r| r.success).count();
    let mut all = done_before;
    all.extend(new.iter().cloned());
    write_summary(&all, &out)?;
    let stopped = stop.load(Ordering::SeqCst);
    println!(
        "{} trials in {:.1} s: {passed} passed, {} failed{}{}; summary.md and summary.png in {}",
        new.len(),
        started.elapsed().as_secs_f64(),
        new.len() - passed,
        if errors.is_empty() {
            String::new()
        } else {
            format!(", {} could not run", errors.len())
        },
        if stopped {
            format!(
                "; stopped early, {} not run (--resume runs them)",
                todo.len() - new.len() - errors.len()
            )
        } else {
            String::new()
        },
        out.display()
    );
    let as_expected = match policy {
        Policy::Oracle => passed == new.len(),
        Policy::Nothing => passed == 0,
        Policy::Model => true,
    };
    Ok(if as_expected && errors.is_empty() && !stopped {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// "2/4" as (2, 4), with 1 <= I <= N.
fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard takes I/N with 1 <= I <= N, such as 2/4; got {text:?}");
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Every trial of the chosen tasks: seeds, phrasings and formats.
fn plan<'a>(tasks: &'a [Task], opts: &EvalOpts, policy: Policy) -> Vec<Planned<'a>> {
    let mut out = Vec::new();
    for task in tasks {
        for seed in 0..opts.seeds {
            if policy != Policy::Model {
                out.push(Planned {
                    task,
                    seed,
                    paraphrase: 0,
                    format: None,
                });
                continue;
            }
            let phrasings = if opts.paraphrase == Paraphrase::All {
                task.instructions.len()
            } else {
                1
            };
            for paraphrase in 0..phrasings {
                for &format in &opts.action_format {
                    out.push(Planned {
                        task,
                        seed,
                        paraphrase,
                        format: Some(format),
                    });
                }
            }
        }
    }
    out
}

/// Reads a results.jsonl (a missing file has none).
fn read_results(path: &Path) -> Result<Vec<TrialReport>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a trial result", path.display(), i + 1))
        })
        .collect()
}

/// `codeact eval report DIR...`: one summary of several result folders.
fn report(dirs: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    let mut all = Vec::new();
    for d in dirs {
        let found = read_results(&d.join("results.jsonl"))?;
        if found.is_empty() {
            bail!("{} has no results.jsonl with trials", d.display());
        }
        all.extend(found);
    }
    match out {
        Some(path) => {
            std::fs::create_dir_all(path)?;
            write_summary(&all, path)?;
            println!(
                "{} trials merged; summary.md and summary.png in {}",
                all.len(),
                path.display()
            );
        }
        None => print!("{}", summary::markdown(&all)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes summary.md and summary.png of `reports` into `dir`.
fn write_summary(reports: &[TrialReport], dir: &Path) -> Result<()> {
    let md = dir.join("summary.md");
    std::fs::write(&md, summary::markdown(reports))
        .with_context(|| format!("writing {}", md.display()))?;
    let png = dir.join("summary.png");
    crate::eval::chart::write(reports, &png).with_context(|| format!("writing {}", png.display()))
}

/// A flag set by Ctrl-C: workers take no new trial and the results so far
/// are kept. A second Ctrl-C ends the program at once.
fn stop_on_ctrl_c() -> Result<std::sync::Arc<AtomicBool>> {
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    // SAFETY: the handler only touches atomics and calls _exit, both async-signal-safe.
    unsafe {
        signal_hook::low_level::register(signal_hook::consts::SIGINT, move || {
            if flag.swap(true, Ordering::SeqCst) {
                signal_hook::low_level::exit(130);
            }
        })?;
    }
    Ok(stop)
}

/// One line per trial; for an unexpected outcome, why.
fn print_trial(r: &TrialReport, policy: Policy, i: usize, n: usize) {
    let expected = match policy {
        Policy::Oracle => r.success,
        Policy::Nothing => !r.success,
        Policy::Model => true,
    };
    let mark = if r.success { "pass" } else { "fail" };
    let flag = if expected { "" } else { "  <- unexpected" };
    let format = r
        .format
        .map(|f| format!(" {}", f.name()))
        .unwrap_or_default();
    println!(
        "[{i}/{n}] {mark} {:<28} seed {} p{}{format}  {} turns, {:>6.1} s simulated, {:>5.2} s{flag}",
        r.task, r.seed, r.paraphrase, r.turns, r.sim_seconds, r.wall_seconds
    );
    if !r.success && policy != Policy::Nothing {
        if let Some(why) = &r.failed {
            println!("     failed: {why}");
        }
        if let Some(e) = &r.error {
            println!("     error: {e}");
        }
    }
    if !expected && policy == Policy::Oracle {
        println!("     observation:");
        for line in r.observation_tail.lines() {
            println!("       {line}");
        }
    }
}
