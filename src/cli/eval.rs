//! `codeact tasks` (list, show, check) and `codeact eval` (run a policy on
//! every chosen task and seed, in parallel, and say how each trial went).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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
    /// Only tasks whose id matches one of these (`*` is any run of
    /// characters: "nav-*"); comma-separated, or the option repeated.
    #[arg(long, value_name = "PATTERN", value_delimiter = ',', global = true)]
    tasks: Vec<String>,
    /// Only tasks of this tier.
    #[arg(long, value_enum, global = true)]
    tier: Option<Tier>,
    /// Task files instead of the built-in tasks (schema: tasks/README.md).
    #[arg(long = "task-file", value_name = "FILE", global = true)]
    files: Vec<String>,
}

impl TaskChoice {
    /// The chosen tasks; an error when none is chosen.
    fn load(&self) -> Result<Vec<Task>> {
        let all = task::load(&self.files)?;
        let chosen: Vec<Task> = all
            .into_iter()
            .filter(|t| self.tasks.is_empty() || self.tasks.iter().any(|p| task::matches(p, &t.id)))
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
            print!("{}", setup_text(&t.setup));
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
    /// Skip the trials that --out already has results for (trials that
    /// could not run are run again).
    #[arg(long, requires = "out", conflicts_with = "fresh")]
    resume: bool,
    /// Start over in an --out that has results: the old ones are moved
    /// aside into previous-<time>/ inside it.
    #[arg(long, requires = "out")]
    fresh: bool,
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
struct PlannedTrial<'a> {
    task: &'a Task,
    seed: u64,
    paraphrase: usize,
    format: Option<ActionFormat>,
}

impl PlannedTrial<'_> {
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
    check_worlds(&plan)?;
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
    let mut done_before = read_results(&results_path)?;
    if !done_before.is_empty() && !opts.resume {
        if !opts.fresh {
            bail!(
                "{} already has results ({} trials); add --resume to run only the trials it lacks, or --fresh to move them aside and start over",
                out.display(),
                done_before.len()
            );
        }
        let aside = move_aside(&out)?;
        println!(
            "codeact eval: the earlier results are in {}",
            aside.display()
        );
        done_before.clear();
    }
    // The tasks chosen (before sharding), for `eval report` to compare folders by.
    let chosen_ids: Vec<&str> = chosen.iter().map(|t| t.id.as_str()).collect();
    let plan_path = out.join("tasks.json");
    std::fs::write(&plan_path, serde_json::to_string(&chosen_ids)?)
        .with_context(|| format!("writing {}", plan_path.display()))?;
    // A trial that could not run is run again.
    done_before.retain(|r| r.not_run.is_none());
    let known: std::collections::HashSet<String> = done_before.iter().map(result_key).collect();
    let todo: Vec<&PlannedTrial> = plan.iter().filter(|p| !known.contains(&p.key())).collect();
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
    let unavailable = AtomicUsize::new(0);
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
            _ => {
                let keep = out.join("trials").join(p.folder());
                trial::run_keeping(p.task, p.seed, policy, &config, Some(&keep))
            }
        };
        match result {
            Ok(report) => {
                print_trial(&report, policy, i + 1, todo.len());
                give_up_after_outages(&report, &unavailable, &stop);
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
    let not_run = new.iter().filter(|r| r.not_run.is_some()).count();
    let mut all = done_before;
    all.extend(new.iter().cloned());
    write_summary(&all, &out)?;
    let stopped = stop.load(Ordering::SeqCst);
    println!(
        "{} trials in {:.1} s: {passed} passed, {} failed{}{}{}; summary.md and summary.png in {}",
        new.len(),
        started.elapsed().as_secs_f64(),
        new.len() - passed - not_run,
        if not_run == 0 {
            String::new()
        } else {
            format!(", {not_run} not run (no model could be asked; --resume runs them)")
        },
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
    Ok(
        if as_expected && errors.is_empty() && not_run == 0 && !stopped {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
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
fn plan<'a>(tasks: &'a [Task], opts: &EvalOpts, policy: Policy) -> Vec<PlannedTrial<'a>> {
    let mut out = Vec::new();
    for task in tasks {
        for seed in 0..opts.seeds {
            if policy != Policy::Model {
                out.push(PlannedTrial {
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
                    out.push(PlannedTrial {
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

/// A task's setup for `tasks show`: each part on its lines, each thing on
/// one line (ranges `[low, high]` and `one_of` are drawn per seed).
fn setup_text(setup: &crate::eval::setup::Setup) -> String {
    let serde_json::Value::Object(parts) = serde_json::to_value(setup).unwrap_or_default() else {
        return String::new();
    };
    let mut out = String::new();
    for (part, value) in parts {
        match value {
            serde_json::Value::Array(things) if !things.is_empty() => {
                out.push_str(&format!("  {part}:\n"));
                for thing in things {
                    out.push_str(&format!("    - {thing}\n"));
                }
            }
            serde_json::Value::Object(fields) if !fields.is_empty() => {
                out.push_str(&format!(
                    "  {part}: {}\n",
                    serde_json::Value::Object(fields)
                ));
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return out;
    }
    format!("setup (ranges [low, high] and one_of are drawn per seed):\n{out}")
}

/// Makes every planned task's world for its seeds before any trial runs,
/// so a task that cannot start is said once, with its file and line.
fn check_worlds(plan: &[PlannedTrial]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    let mut bad: Vec<String> = Vec::new();
    for p in plan {
        if !seen.insert((p.task.id.as_str(), p.seed)) {
            continue;
        }
        if let Err(e) = trial::world_of(p.task, p.seed) {
            if !bad.contains(&e) {
                bad.push(e);
            }
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    bail!(
        "{} (`codeact tasks check` checks the start of every task)",
        bad.join("\n")
    )
}

/// How many trials in a row may find no model before the run stops.
const OUTAGE_LIMIT: usize = 3;

/// Counts trials in a row that could not run (no model could be asked);
/// after [`OUTAGE_LIMIT`] stops the run, saying what to do.
fn give_up_after_outages(report: &TrialReport, in_a_row: &AtomicUsize, stop: &AtomicBool) {
    let Some(why) = &report.not_run else {
        in_a_row.store(0, Ordering::SeqCst);
        return;
    };
    if in_a_row.fetch_add(1, Ordering::SeqCst) + 1 == OUTAGE_LIMIT
        && !stop.swap(true, Ordering::SeqCst)
    {
        println!(
            "stopping: {OUTAGE_LIMIT} trials in a row could not ask the model ({why}). Fix the endpoint, the key or the model name, then run the same command with --resume: it runs these trials again."
        );
    }
}

/// The key of a result: its actor, task, seed, phrasing and format.
fn result_key(r: &TrialReport) -> String {
    key(&r.task, r.seed, r.paraphrase, r.format)
}

/// Moves the results in `out` into `out/previous-<time>/`; returns that folder.
fn move_aside(out: &Path) -> Result<PathBuf> {
    let aside = out.join(format!("previous-{}", timestamp()));
    std::fs::create_dir_all(&aside).with_context(|| format!("creating {}", aside.display()))?;
    for name in ["results.jsonl", "summary.md", "summary.png", "trials"] {
        let from = out.join(name);
        if from.exists() {
            std::fs::rename(&from, aside.join(name))
                .with_context(|| format!("moving {} aside", from.display()))?;
        }
    }
    Ok(aside)
}

/// One row per trial: a later row for the same trial (and actor) replaces
/// an earlier one (a trial run again after it could not run).
fn latest_per_trial(reports: Vec<TrialReport>) -> Vec<TrialReport> {
    let mut at: std::collections::HashMap<(String, String), usize> = Default::default();
    let mut kept: Vec<TrialReport> = Vec::new();
    for r in reports {
        let id = (summary::actor(&r), result_key(&r));
        match at.get(&id) {
            Some(&i) => kept[i] = r,
            None => {
                at.insert(id, kept.len());
                kept.push(r);
            }
        }
    }
    kept
}

/// Reads a results.jsonl (a missing file has none), one row per trial.
fn read_results(path: &Path) -> Result<Vec<TrialReport>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let rows = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{}:{}: not a trial result", path.display(), i + 1))
        })
        .collect::<Result<Vec<TrialReport>>>()?;
    Ok(latest_per_trial(rows))
}

/// `codeact eval report DIR...`: one summary of several result folders.
fn report(dirs: &[PathBuf], out: Option<&Path>) -> Result<ExitCode> {
    let mut all = Vec::new();
    let mut task_sets: Vec<(PathBuf, std::collections::BTreeSet<String>)> = Vec::new();
    for d in dirs {
        let found = read_results(&d.join("results.jsonl"))?;
        if found.is_empty() {
            bail!("{} has no results.jsonl with trials", d.display());
        }
        // The tasks the folder's run chose (its shard may hold fewer).
        let chosen: Option<std::collections::BTreeSet<String>> =
            std::fs::read_to_string(d.join("tasks.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
        task_sets.push((
            d.clone(),
            chosen.unwrap_or_else(|| found.iter().map(|r| r.task.clone()).collect()),
        ));
        all.extend(found);
    }
    let merged = all.len();
    let all = latest_per_trial(all);
    if all.len() < merged {
        eprintln!(
            "warning: {} trials appear in more than one folder; each is counted once",
            merged - all.len()
        );
    }
    if let Some((first, tasks)) = task_sets.first() {
        for (dir, other) in &task_sets[1..] {
            if other != tasks {
                eprintln!(
                    "warning: {} and {} ran different task sets; rates over the merge mix them",
                    first.display(),
                    dir.display()
                );
            }
        }
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
    let mark = match (r.success, &r.not_run) {
        (_, Some(_)) => "NOT RUN",
        (true, _) => "pass",
        (false, _) => "fail",
    };
    let flag = if expected { "" } else { "  <- unexpected" };
    let format = r
        .format
        .map(|f| format!(" {}", f.name()))
        .unwrap_or_default();
    let stopped = r
        .stop_reason
        .as_deref()
        .map(|why| format!(", stopped: {why}"))
        .unwrap_or_default()
        + &match r.retries {
            0 => String::new(),
            1 => ", 1 retry".into(),
            n => format!(", {n} retries"),
        };
    println!(
        "[{i}/{n}] {mark} {:<28} seed {} p{}{format}  {} turns{stopped}, {:>6.1} s simulated, {:>5.2} s{flag}",
        r.task, r.seed, r.paraphrase, r.turns, r.sim_seconds, r.wall_seconds
    );
    if let Some(why) = &r.not_run {
        println!("     could not run: {why}");
        return;
    }
    if !r.success && policy != Policy::Nothing {
        if let Some(why) = &r.failed {
            println!("     failed: {why}");
        }
        if let Some(e) = &r.error {
            println!("     error: {e}");
        }
    }
    if let (false, Some(dir)) = (expected, &r.dir) {
        println!("     its picture and observation: {dir}");
    }
    if !expected && policy == Policy::Oracle {
        println!("     observation:");
        for line in r.observation_tail.lines() {
            println!("       {line}");
        }
    }
}
