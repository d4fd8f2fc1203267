//! The task suite through the command line: every task is undone where it
//! starts, every oracle solves every variation, and a policy that only
//! claims success fails every one.

mod common;

use std::process::Command;

fn codeact(args: &[&str]) -> (bool, String) {
    let out = Command::new(common::exe())
        .args(args)
        .output()
        .expect("codeact runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn every_goal_is_false_where_each_variation_starts() {
    let (ok, text) = codeact(&["tasks", "check", "--seeds", "3"]);
    assert!(ok, "{text}");
    assert!(text.contains("every goal is false at the start"), "{text}");
}

#[test]
fn every_oracle_solves_every_variation() {
    let (ok, text) = codeact(&["eval", "--oracle", "--seeds", "3", "--workers", "2"]);
    assert!(ok, "{text}");
    let summary = text.lines().last().unwrap_or_default();
    assert!(summary.contains(" 0 failed"), "{text}");
}

#[test]
fn claiming_success_without_doing_the_work_fails_every_task() {
    let (ok, text) = codeact(&["eval", "--nothing", "--seeds", "3", "--workers", "2"]);
    assert!(ok, "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap_or_default()
            .contains(": 0 passed"),
        "{text}"
    );
    assert!(!text.contains("unexpected"), "{text}");
}

#[test]
fn tasks_are_listed_shown_and_chosen() {
    let (ok, text) = codeact(&["tasks"]);
    assert!(ok, "{text}");
    for tier in [
        "navigation",
        "search",
        "pick_place",
        "loops",
        "conditions",
        "recovery",
        "long_horizon",
        "questions",
    ] {
        assert!(text.contains(tier), "{tier} listed: {text}");
    }
    let (ok, text) = codeact(&["tasks", "show", "pp-mug-on-table"]);
    assert!(
        ok && text.contains("red_mug on kitchen_table") && text.contains("oracle:"),
        "{text}"
    );
    let (ok, text) = codeact(&["eval", "--oracle", "--tasks", "nav-*", "--seeds", "1"]);
    assert!(
        ok && text.contains("5 trials (5 tasks x 1 seeds)"),
        "{text}"
    );
    let (ok, text) = codeact(&["eval", "--oracle", "--tasks", "no-such-*"]);
    assert!(!ok && text.contains("no task matches"), "{text}");
}

#[test]
fn a_bad_task_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.yaml");
    std::fs::write(
        &file,
        "- id: mine\n  tier: navigation\n  world: small_room\n  instructions: [Go to the dock., Drive to the dock.]\n  success:\n    - robot_in_zone: garage\n  oracle: done('x')\n",
    )
    .unwrap();
    let (ok, text) = codeact(&["eval", "--oracle", "--task-file", file.to_str().unwrap()]);
    assert!(!ok && text.contains("no zone \"garage\""), "{text}");
    std::fs::write(
        &file,
        "- id: mine\n  tier: navigation\n  wrld: small_room\n",
    )
    .unwrap();
    let (ok, text) = codeact(&["tasks", "--task-file", file.to_str().unwrap()]);
    assert!(
        !ok && text.contains("mine.yaml:3") && text.contains("wrld"),
        "{text}"
    );
}
