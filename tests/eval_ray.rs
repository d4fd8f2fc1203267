//! The task suite's shards as Ray tasks (scripts/eval_ray.py) on a local Ray
//! with two CPUs, merged into the same summary as one process running the
//! same trials. Needs Ray: `scripts/eval-setup.sh`, then
//! `CODEACT_RAY_PYTHON=.eval/venv/bin/python cargo test --test eval_ray -- --ignored`
//! (scripts/test.sh does both). Ray runs in a network namespace of its own
//! with only loopback, so nothing it sends can leave the machine.

mod common;

use std::process::Command;

#[test]
#[ignore = "needs Ray: scripts/eval-setup.sh and CODEACT_RAY_PYTHON (scripts/test.sh runs it)"]
fn ray_shards_merge_into_the_summary_of_one_process() {
    let python = std::env::var("CODEACT_RAY_PYTHON")
        .expect("CODEACT_RAY_PYTHON names the Python that has ray");
    let tmp = tempfile::tempdir().unwrap();
    let (whole, sharded) = (tmp.path().join("whole"), tmp.path().join("ray"));
    let exe = common::exe();
    let trials = ["--oracle", "--tier", "navigation", "--seeds", "2"];
    let out = Command::new(&exe)
        .arg("eval")
        .args(trials)
        .args(["--out", whole.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/eval_ray.py");
    let driver = format!(
        "ip link set lo up && RAY_USAGE_STATS_ENABLED=0 {python} {} --num-cpus 2 --shards 3 --codeact {} --out {} -- {}",
        script.display(),
        exe.display(),
        sharded.display(),
        trials.join(" ")
    );
    let out = Command::new("unshare")
        .args(["--net", "sh", "-c", &driver])
        .output()
        .expect("unshare runs");
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("10 trials merged"), "{said}");
    let shards: Vec<usize> = (1..=3)
        .map(|i| {
            std::fs::read_to_string(sharded.join(format!("shard-{i}/results.jsonl")))
                .unwrap()
                .lines()
                .count()
        })
        .collect();
    assert_eq!(shards, [4, 3, 3]);
    let summary = |d: &std::path::Path| std::fs::read_to_string(d.join("summary.md")).unwrap();
    assert_eq!(summary(&sharded), summary(&whole));
}
