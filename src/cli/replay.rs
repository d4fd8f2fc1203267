//! `codeact replay <run folder>`: the recorded replies run again against a
//! fresh simulator, without any LLM; says where the outcome differs.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

use crate::agent::actions::ActionFormat;
use crate::agent::episode::{add_done, Agent, Budget, Reporter};
use crate::agent::llm::scripted::Scripted;
use crate::agent::llm::{Completion, LlmError, ToolCall};
use crate::agent::transcript::{self, Record};
use crate::executor::{ExecutorConfig, Observation, Session};
use crate::record;

/// Options of `codeact replay`.
#[derive(clap::Args, Debug)]
pub struct ReplayOpts {
    /// A run folder written by `codeact run`, or a trial folder written by `codeact eval`.
    run: PathBuf,
    /// For a trial of a task from a task file: that file (built-in tasks are found by id).
    #[arg(long = "task-file", value_name = "FILE")]
    task_files: Vec<String>,
    /// Record the replay as MCAP into FILE (a new file), for Foxglove: the
    /// recorded run's actions, made again in a fresh simulator.
    #[arg(long, value_name = "FILE.mcap")]
    record: Option<PathBuf>,
}

/// Collects the observations of the replay.
#[derive(Default)]
struct Collect {
    observations: Vec<Observation>,
}

impl Reporter for Collect {
    fn observation(&mut self, obs: &Observation, _shown: &str) {
        self.observations.push(obs.clone());
    }
}

/// What two observations must share to count as the same.
fn essence(obs: &Json) -> Json {
    let text = |key: &str| -> String {
        obs[key]
            .as_array()
            .map(|chunks| chunks.iter().filter_map(|c| c["text"].as_str()).collect())
            .unwrap_or_default()
    };
    serde_json::json!({
        "status": obs["status"],
        "output": text("output") + &text("output_tail"),
        "result": obs["result"],
        "error": obs["error"]["type"],
        "error_message": obs["error"]["message"],
        "robot_events": obs["robot_events"],
        // The pictures themselves are made again; which were shown must match.
        "images": obs["images"].as_array().map_or(Vec::new(), |images| {
            images.iter().map(|i| i["caption"].clone()).collect()
        }),
    })
}

/// A copy of a run's skill library, deleted when dropped.
struct ReplayLibrary {
    path: PathBuf,
}

impl Drop for ReplayLibrary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Copies `<run>/library` (as the run started) into a fresh temporary folder.
fn replay_library(run: &Path) -> Result<ReplayLibrary> {
    let path = std::env::temp_dir().join(format!("codeact-replay-library-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path)?;
    let library = ReplayLibrary { path };
    crate::executor::library::snapshot(&run.join("library"), &library.path).with_context(|| {
        format!(
            "copying the run's skill library from {}",
            run.join("library").display()
        )
    })?;
    Ok(library)
}

/// Runs `codeact replay`.
pub fn run(opts: &ReplayOpts) -> Result<ExitCode> {
    let records: Vec<Record> = transcript::read_records(&opts.run)?
        .into_iter()
        .map(|s| s.record)
        .collect();
    let start = records
        .iter()
        .find_map(|r| match r {
            Record::Start(start) => Some(start),
            _ => None,
        })
        .context("the transcript has no start record")?;
    let Some(world_spec) = start.world_spec.as_deref() else {
        bail!(
            "this run used --skills {}, not a simulated world: there is no world to replay it in",
            start.skills.as_deref().unwrap_or("?")
        );
    };
    let replies: VecDeque<(String, Vec<ToolCall>)> = records
        .iter()
        .filter_map(|r| match r {
            Record::Reply {
                text, tool_calls, ..
            } => Some((text.clone(), tool_calls.clone())),
            _ => None,
        })
        .collect();
    let format: ActionFormat = serde_json::from_value(start.action_format.clone())
        .context("the start record's action_format")?;
    let recorded: Vec<Json> = records
        .iter()
        .filter_map(|r| match r {
            Record::Observation { observation, .. } => Some(essence(observation)),
            _ => None,
        })
        .collect();
    let instruction = start.task.as_str();

    // A trial of the task suite replays in its task's world for its seed.
    let task = match start.task_id.as_deref() {
        Some(id) => {
            let tasks = crate::eval::task::load(&opts.task_files)?;
            Some(tasks.into_iter().find(|t| t.id == id).with_context(|| {
                format!("task {id:?} is not among the tasks given; pass its file with --task-file")
            })?)
        }
        None => None,
    };
    let record_to = opts
        .record
        .as_deref()
        .map_or_else(record::RecordTo::default, |p| {
            record::RecordTo::file(p, record::Format::Foxglove)
        });
    let (robot, skills, done, recorder) = match &task {
        Some(t) => {
            let seed = start.seed.unwrap_or(0);
            let p = crate::eval::trial::prepare(t, seed, &record_to)?;
            (p.robot, p.skills, p.done, p.recorder)
        }
        None => {
            let world = sim::load(world_spec)?;
            let fleet: Vec<Arc<sim::SimRobot>> = sim::SimRobot::fleet(Arc::new(world));
            let robot = fleet[0].clone();
            let record::RecordedFleet {
                backends: through,
                recorder,
            } = record::recorded_fleet(sim::backend::named(&fleet), &record_to)?;
            let mut skills = sim::backend::fleet_skills(&fleet, through);
            let done = add_done(&mut skills);
            (robot, skills, done, recorder)
        }
    };
    let mut skills = skills;
    // A run with a skill library kept a copy of it as it started; the replay
    // loads that copy, in a folder of its own, since the replay saves again.
    let library = match start.library.as_ref().is_some_and(Json::is_string) {
        true => Some(replay_library(&opts.run)?),
        false => None,
    };
    if let Some(dir) = &library {
        crate::executor::library::add_save_skill(&mut skills, dir.path.clone());
    }
    let mut agent = Agent::with_done(&skills, done, format, None);
    // The replay shows the model the prompt it was shown.
    agent.system = start.system_prompt.clone();
    let config = ExecutorConfig {
        library: library.as_ref().map(|d| d.path.clone()),
        ..ExecutorConfig::default()
    };
    let mut session = Session::start(config, skills).context("starting the executor")?;
    if let Some(r) = &recorder {
        session.watch(r.clone());
    }
    // The recording's replies, in order.
    let replies = replies.into_iter().map(|(text, tool_calls)| {
        Ok(Completion {
            tool_calls,
            ..Completion::text(&text)
        })
    });
    let model = Scripted::new("replay", replies.collect::<Vec<_>>()).when_ended(|| {
        LlmError::Exhausted {
            attempts: 0,
            last: "the recording has no more replies: the replayed run went on longer than the recorded one".into(),
        }
    });
    let budget = Budget {
        max_turns: start.max_turns,
        ..Budget::default()
    };
    let mut collect = Collect::default();
    let outcome = agent
        .episode(&model, &mut session, budget)
        .run(instruction, &mut collect);
    if let Some(t) = &task {
        let (success, verdicts) = crate::eval::trial::judge(t, &robot, outcome.summary.as_deref());
        let recorded = records.iter().find_map(|r| match r {
            Record::Verdict { success, .. } => Some(*success),
            _ => None,
        });
        println!(
            "task {}: {} in the replay{}",
            t.id,
            if success { "succeeded" } else { "failed" },
            match recorded {
                Some(r) if r == success => " as recorded".to_owned(),
                Some(r) => format!(" (recorded: success {r})"),
                None => String::new(),
            }
        );
        for v in verdicts.iter().filter(|v| !v.ok) {
            println!("  {}: {}", v.what, v.detail);
        }
    }

    drop(session);
    if let Some(r) = &recorder {
        r.close()?;
        if let Some(path) = r.path() {
            println!("recording: {}", path.display());
        }
    }
    let mut differences = Vec::new();
    let now: Vec<Json> = collect
        .observations
        .iter()
        .map(|o| essence(&serde_json::to_value(o).unwrap_or_default()))
        .collect();
    for (i, (a, b)) in recorded.iter().zip(&now).enumerate() {
        for key in [
            "status",
            "output",
            "result",
            "error",
            "error_message",
            "robot_events",
            "images",
        ] {
            if a[key] != b[key] {
                differences.push(format!(
                    "action {}: {key} differs\n  recorded: {}\n  replayed: {}",
                    i + 1,
                    a[key],
                    b[key]
                ));
            }
        }
    }
    if recorded.len() != now.len() {
        differences.push(format!(
            "{} actions were recorded, {} ran in the replay",
            recorded.len(),
            now.len()
        ));
    }
    let recorded_end = records.iter().find_map(|r| match r {
        Record::End { outcome } => Some(outcome),
        _ => None,
    });
    if let Some(end) = recorded_end {
        if end["reason"] != serde_json::to_value(&outcome).unwrap_or_default()["reason"] {
            differences.push(format!(
                "the run ended differently: recorded {}, replayed {:?}",
                end["reason"], outcome.reason
            ));
        }
    }
    let state_now = serde_json::to_value(robot.sim().snapshot())?;
    let recorded_state = records.iter().find_map(|r| match r {
        Record::WorldState { state } => Some(state),
        _ => None,
    });
    match recorded_state {
        Some(state) if *state == state_now => {}
        Some(state) => differences.push(format!(
            "the final world state differs\n  recorded: {}\n  replayed: {}",
            state, state_now
        )),
        None => differences.push("the recording has no final world state to compare".into()),
    }
    if differences.is_empty() {
        println!(
            "replay matches the recording: {} actions, same outcome, same final world state",
            now.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("replay differs from the recording:");
        for d in &differences {
            println!("- {d}");
        }
        Ok(ExitCode::FAILURE)
    }
}
