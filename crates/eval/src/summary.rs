//! What a set of trials says: success rates with 95% Wilson intervals per
//! model and action format and per tier, turns of the successful trials and
//! tokens per success, as a Markdown table a person reads at a glance.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::task::Tier;
use super::trial::TrialReport;

/// The 95% Wilson score interval of `k` successes in `n` trials, as fractions.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Who acted in a trial, for grouping: the model and format, or the policy.
pub fn actor(r: &TrialReport) -> String {
    match (&r.model, r.format) {
        (Some(m), Some(f)) => format!("{m} ({})", f.name()),
        _ => r.policy.name().to_owned(),
    }
}

/// Totals of a group of trials.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Trials.
    pub n: usize,
    /// Successful trials.
    pub ok: usize,
    /// Turns of the successful trials.
    pub ok_turns: usize,
    /// Tokens of all trials.
    pub tokens: u64,
    /// Collisions in all trials.
    pub collisions: u32,
    /// Skill calls of the successful trials.
    pub ok_calls: usize,
}

impl Tally {
    fn add(&mut self, r: &TrialReport) {
        self.n += 1;
        if r.success {
            self.ok += 1;
            self.ok_turns += r.turns;
            self.ok_calls += r.skill_calls;
        }
        self.tokens += r.tokens_in + r.tokens_out;
        self.collisions += r.collisions;
    }

    /// "62.5% [40.1, 80.9]": the rate and its 95% interval.
    pub fn rate(&self) -> String {
        if self.n == 0 {
            return "-".into();
        }
        let (lo, hi) = wilson(self.ok, self.n);
        format!(
            "{:.1}% [{:.1}, {:.1}]",
            100.0 * self.ok as f64 / self.n as f64,
            100.0 * lo,
            100.0 * hi
        )
    }
}

/// The tallies of `reports` per actor, and per actor and tier.
pub fn tally(
    reports: &[TrialReport],
) -> (BTreeMap<String, Tally>, BTreeMap<(String, Tier), Tally>) {
    let mut by_actor: BTreeMap<String, Tally> = BTreeMap::new();
    let mut by_tier: BTreeMap<(String, Tier), Tally> = BTreeMap::new();
    for r in reports {
        let a = actor(r);
        by_actor.entry(a.clone()).or_default().add(r);
        by_tier.entry((a, r.tier)).or_default().add(r);
    }
    (by_actor, by_tier)
}

/// The summary as Markdown.
pub fn markdown(reports: &[TrialReport]) -> String {
    // The same trials give the same text, whatever order they finished in.
    let mut reports: Vec<&TrialReport> = reports.iter().collect();
    reports.sort_by(|a, b| {
        (&a.task, a.seed, a.paraphrase, actor(a)).cmp(&(&b.task, b.seed, b.paraphrase, actor(b)))
    });
    // Trials that could not run say nothing about the model: apart, never in a rate.
    let (not_run, reports): (Vec<TrialReport>, Vec<TrialReport>) = reports
        .into_iter()
        .cloned()
        .partition(|r| r.not_run.is_some());
    let reports = reports.as_slice();
    let (by_actor, by_tier) = tally(reports);
    let mut out = String::from("# Task suite results\n\n");
    let tasks: std::collections::BTreeSet<&str> = reports.iter().map(|r| r.task.as_str()).collect();
    let _ = writeln!(
        out,
        "{} trials of {} tasks{}. Success: every goal and constraint of the task held at the end, judged on the simulator. Intervals are 95% Wilson intervals.\n",
        reports.len(),
        tasks.len(),
        if not_run.is_empty() {
            String::new()
        } else {
            format!(
                "; {} more could not be run and are counted in no rate (see the end; `codeact eval --resume` runs them)",
                not_run.len()
            )
        }
    );
    out.push_str("| who | trials | success | mean turns (successes) | skill calls (successes) | tokens per success | collisions |\n|---|---|---|---|---|---|---|\n");
    for (who, t) in &by_actor {
        let turns = if t.ok > 0 {
            format!("{:.1}", t.ok_turns as f64 / t.ok as f64)
        } else {
            "-".into()
        };
        let per = if t.ok > 0 && t.tokens > 0 {
            format!("{:.0}", t.tokens as f64 / t.ok as f64)
        } else {
            "-".into()
        };
        let calls = if t.ok > 0 {
            format!("{:.1}", t.ok_calls as f64 / t.ok as f64)
        } else {
            "-".into()
        };
        let _ = writeln!(
            out,
            "| {who} | {} | {} | {turns} | {calls} | {per} | {} |",
            t.n,
            t.rate(),
            t.collisions
        );
    }
    out.push_str("\n## By tier\n\n| who |");
    let tiers: Vec<Tier> = Tier::ALL
        .into_iter()
        .filter(|tier| by_tier.keys().any(|(_, t)| t == tier))
        .collect();
    for tier in &tiers {
        let _ = write!(out, " {} |", tier.name());
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(tiers.len()));
    out.push('\n');
    for who in by_actor.keys() {
        let _ = write!(out, "| {who} |");
        for tier in &tiers {
            let cell = by_tier.get(&(who.clone(), *tier)).map_or("-".into(), |t| {
                format!(
                    "{}/{} ({:.0}%)",
                    t.ok,
                    t.n,
                    100.0 * t.ok as f64 / t.n.max(1) as f64
                )
            });
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    let failed: Vec<&TrialReport> = reports.iter().filter(|r| !r.success).collect();
    if !failed.is_empty() {
        out.push_str(
            "\n## Failed trials\n\n| who | task | seed | phrasing | stopped | why |\n|---|---|---|---|---|---|\n",
        );
        for r in failed.iter().take(200) {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                actor(r),
                r.task,
                r.seed,
                r.paraphrase,
                r.stop_reason.as_deref().unwrap_or("-"),
                why_failed(r).replace('|', "/").replace('\n', " ")
            );
        }
        if failed.len() > 200 {
            let _ = writeln!(
                out,
                "\n... and {} more (results.jsonl has them all).",
                failed.len() - 200
            );
        }
    }
    if !not_run.is_empty() {
        let mut why: BTreeMap<(String, &str), usize> = BTreeMap::new();
        for r in &not_run {
            let reason = r.not_run.as_deref().unwrap_or("-");
            *why.entry((actor(r), reason)).or_default() += 1;
        }
        out.push_str(
            "\n## Trials that could not be run\n\n| who | trials | why |\n|---|---|---|\n",
        );
        for ((who, reason), n) in why {
            let _ = writeln!(out, "| {who} | {n} | {} |", reason.replace('|', "/"));
        }
    }
    out
}

/// Why a trial failed, in one cell: the first predicate that did not hold
/// and, when an action crashed, the exception it raised.
fn why_failed(r: &TrialReport) -> String {
    match (&r.failed, &r.error) {
        (Some(f), Some(e)) => format!("{f}; the action raised {e}"),
        (Some(f), None) => f.clone(),
        (None, Some(e)) => format!("the action raised {e}"),
        (None, None) => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trial of `task` that succeeded.
    fn trial(task: &str) -> TrialReport {
        TrialReport {
            task: task.into(),
            tier: Tier::ALL[0],
            seed: 0,
            paraphrase: 0,
            policy: super::super::trial::Policy::Oracle,
            success: true,
            verdicts: Vec::new(),
            failed: None,
            answer: None,
            error: None,
            observation_tail: String::new(),
            collisions: 0,
            sim_seconds: 1.0,
            wall_seconds: 1.0,
            model: None,
            format: None,
            turns: 1,
            tokens_in: 0,
            tokens_out: 0,
            model_seconds: 0.0,
            stop_reason: None,
            safe_stops: 0,
            skill_calls: 1,
            dir: None,
            not_run: None,
            retries: 0,
        }
    }

    #[test]
    fn trials_that_could_not_run_are_counted_apart_and_in_no_rate() {
        let one = trial("a");
        let mut failed = one.clone();
        failed.success = false;
        failed.task = "b".into();
        let mut not_run = one.clone();
        not_run.success = false;
        not_run.task = "c".into();
        not_run.not_run = Some("cannot reach the LLM endpoint".into());
        failed.failed = Some("red_cube in blue_zone: it is at (1.0, 2.0)".into());
        failed.error = Some("ZeroDivisionError: division by zero".into());
        failed.stop_reason = Some("max_turns".into());
        let md = markdown(&[one, failed, not_run]);
        assert!(
            md.contains("| max_turns | red_cube in blue_zone: it is at (1.0, 2.0); the action raised ZeroDivisionError"),
            "{md}"
        );
        assert!(
            md.contains("2 trials of 2 tasks; 1 more could not be run"),
            "{md}"
        );
        assert!(md.contains("50.0%"), "{md}");
        assert!(md.contains("## Trials that could not be run"), "{md}");
        assert!(md.contains("cannot reach the LLM endpoint"), "{md}");
    }

    #[test]
    fn wilson_intervals_match_known_values() {
        // 37 of 50: 74% [60.4, 84.1] (a standard worked example).
        let (lo, hi) = wilson(37, 50);
        assert!(
            (lo - 0.6041).abs() < 1e-3 && (hi - 0.8409).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson(10, 10);
        assert!(
            (hi - 1.0).abs() < 1e-9 && (lo - 0.7225).abs() < 1e-3,
            "{lo}"
        );
        let (lo, _) = wilson(0, 10);
        assert_eq!(lo, 0.0);
    }
}
