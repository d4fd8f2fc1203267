//! `codeact tasks` (list, show, check) and `codeact eval` (run a policy on
//! every chosen task and seed, in parallel, and say how each trial went).

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{bail, Result};

use super::SandboxOpts;
use crate::eval::task::{self, Task, Tier};
use crate::eval::trial::{self, Policy, TrialReport};

/// Which tasks: by id pattern, tier, or task files.
#[derive(clap::Args, Debug, Clone)]
pub struct TaskChoice {
    /// Only tasks whose id matches (`*` is any run of characters: "nav-*").
    #[arg(long, value_name = "PATTERN")]
    tasks: Option<String>,
    /// Only tasks of this tier.
    #[arg(long, value_enum)]
    tier: Option<TierArg>,
    /// Task files instead of the built-in tasks (schema: tasks/README.md).
    #[arg(long = "task-file", value_name = "FILE")]
    files: Vec<String>,
}

/// A tier on the command line.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
#[value(rename_all = "snake_case")]
enum TierArg {
    Navigation,
    Search,
    PickPlace,
    Loops,
    Conditions,
    Recovery,
    LongHorizon,
    Questions,
}

impl TierArg {
    fn tier(self) -> Tier {
        match self {
            TierArg::Navigation => Tier::Navigation,
            TierArg::Search => Tier::Search,
            TierArg::PickPlace => Tier::PickPlace,
            TierArg::Loops => Tier::Loops,
            TierArg::Conditions => Tier::Conditions,
            TierArg::Recovery => Tier::Recovery,
            TierArg::LongHorizon => Tier::LongHorizon,
            TierArg::Questions => Tier::Questions,
        }
    }
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
            .filter(|t| self.tier.is_none_or(|tier| tier.tier() == t.tier))
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
pub struct EvalOpts {
    /// Run each task's oracle solution (no LLM): every trial must succeed.
    #[arg(long, conflicts_with = "nothing")]
    oracle: bool,
    /// Run a policy that calls done() at once (no LLM): every trial must fail.
    #[arg(long)]
    nothing: bool,
    #[command(flatten)]
    choice: TaskChoice,
    /// Seeds (variations) per task: 0, 1, ...
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Trials run at once, each with its own simulator and sandboxed worker.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    #[command(flatten)]
    sandbox: SandboxOpts,
}

/// Runs `codeact eval`.
pub fn eval(opts: &EvalOpts) -> Result<ExitCode> {
    let policy = match (opts.oracle, opts.nothing) {
        (true, _) => Policy::Oracle,
        (_, true) => Policy::Nothing,
        _ => bail!("say who acts: --oracle (each task's solution) or --nothing (calls done at once); model runs come next"),
    };
    if opts.workers == 0 || opts.seeds == 0 {
        bail!("--workers and --seeds must be at least 1");
    }
    let chosen = opts.choice.load()?;
    let config = opts.sandbox.config(None)?;
    let trials: Vec<(&Task, u64)> = chosen
        .iter()
        .flat_map(|t| (0..opts.seeds).map(move |s| (t, s)))
        .collect();
    let next = AtomicUsize::new(0);
    let reports: Mutex<Vec<TrialReport>> = Mutex::new(Vec::new());
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..opts.workers.min(trials.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(&(task, seed)) = trials.get(i) else {
                    break;
                };
                match trial::run(task, seed, policy, &config) {
                    Ok(report) => {
                        print_trial(&report, policy);
                        reports
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(report);
                    }
                    Err(e) => {
                        println!("ERROR {} seed {seed}: {e}", task.id);
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(e.to_string());
                    }
                }
            });
        }
    });
    let reports = reports.into_inner().unwrap_or_default();
    let errors = failures.into_inner().unwrap_or_default();
    let passed = reports.iter().filter(|r| r.success).count();
    let expected = match policy {
        Policy::Oracle => reports.len(),
        Policy::Nothing => 0,
    };
    println!(
        "{} trials ({} tasks x {} seeds) in {:.1} s: {passed} passed, {} failed{}",
        trials.len(),
        chosen.len(),
        opts.seeds,
        started.elapsed().as_secs_f64(),
        reports.len() - passed,
        if errors.is_empty() {
            String::new()
        } else {
            format!(", {} could not run", errors.len())
        }
    );
    Ok(if passed == expected && errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One line per trial; for an unexpected outcome, why.
fn print_trial(r: &TrialReport, policy: Policy) {
    let expected = match policy {
        Policy::Oracle => r.success,
        Policy::Nothing => !r.success,
    };
    let mark = if r.success { "pass" } else { "fail" };
    let flag = if expected { "" } else { "  <- unexpected" };
    println!(
        "{mark} {:<28} seed {}  {:>6.1} s simulated, {:>5.2} s{flag}",
        r.task, r.seed, r.sim_seconds, r.wall_seconds
    );
    if !expected || (policy == Policy::Oracle && !r.success) {
        if let Some(why) = &r.failed {
            println!("     failed: {why}");
        }
        if let Some(e) = &r.error {
            println!("     error: {e}");
        }
        if policy == Policy::Oracle {
            println!("     observation:");
            for line in r.observation_tail.lines() {
                println!("       {line}");
            }
        }
    }
}
