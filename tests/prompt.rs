//! Snapshot tests of what the model reads: the system prompt and the API
//! text. A change shows up as a diff here; after checking it, refresh the
//! files with `UPDATE_SNAPSHOTS=1 cargo test --test prompt`.

use std::path::PathBuf;
use std::sync::Arc;

use codeact::agent::episode::add_done;
use codeact::agent::prompt::system_prompt;

fn check(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}; run with UPDATE_SNAPSHOTS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} changed at line {}:\n  snapshot: {:?}\n  now:      {:?}\n(if intended: UPDATE_SNAPSHOTS=1 cargo test --test prompt)",
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn the_system_prompt_for_the_small_room() {
    let world = Arc::new(sim::load("small_room").unwrap());
    let robot = Arc::new(sim::SimRobot::new(world.clone()));
    let mut skills = robot_api::skills::robot_skills(robot);
    add_done(&mut skills);
    let prompt = system_prompt(&skills, Some(&world.summary()));
    check("system_prompt_small_room.txt", &prompt);
    // Short enough to send every turn: about 2,000 tokens at most (the
    // zones' and furniture's extents take a few dozen bytes).
    assert!(prompt.len() < 9_300, "{} bytes", prompt.len());
}

#[test]
fn the_api_text_of_the_test_skills() {
    check(
        "api_test_skills.txt",
        &robot_api::testing::test_skills().0.api_text(),
    );
}
