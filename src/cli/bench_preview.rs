//! Preview figures (part of `codeact bench --suite sim`), through `codeact
//! session` as a client sees them: what a rehearsal adds to a trivial
//! action (the fork, the twin, the verdict), and a rehearsed `move_to`
//! across the warehouse against the time the robot takes to drive it.

use anyhow::{bail, Result};

use super::bench::{micros, report, stats, Driver};

/// Far corners of the warehouse, driven between.
const ACROSS: [&str; 2] = ["move_to(17.5, 18.5)", "move_to(1.0, 1.0)"];

/// Runs the preview figures.
pub fn run(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    println!("preview (a rehearsal on a twin before each action, through `codeact session`)");
    let mut trivial = [Vec::new(), Vec::new()];
    for (i, args) in [
        &["--world", "small_room"][..],
        &["--world", "small_room", "--preview", "gate"],
    ]
    .iter()
    .enumerate()
    {
        let (mut driver, _) = Driver::start(args)?;
        driver.execute("x = 1")?;
        for _ in 0..reps(100) {
            trivial[i].push(micros(driver.execute("x = 1")?.0) / 1e3);
        }
    }
    let (plain, gated) = (stats(trivial[0].clone()), stats(trivial[1].clone()));
    report("trivial action (x = 1)", "ms", &plain, "-");
    report("trivial action, --preview gate", "ms", &gated, "-");
    println!(
        "rehearsal overhead, trivial action: {:.1} ms (target <= 30 ms)",
        gated.median - plain.median
    );

    // Across the warehouse and back: real runs alone, then rehearsed ones.
    let mut wall = [Vec::new(), Vec::new()];
    let mut robot_seconds = Vec::new();
    for (i, args) in [
        &["--world", "warehouse"][..],
        &["--world", "warehouse", "--preview", "gate"],
    ]
    .iter()
    .enumerate()
    {
        let (mut driver, _) = Driver::start(args)?;
        let mut clock = driver.execute("0")?.1.observation.robot_time;
        for n in 0..reps(20) {
            let (took, done) = driver.execute(ACROSS[n % 2])?;
            if done.observation.status != crate::executor::Status::Ok {
                bail!("{} failed: {}", ACROSS[n % 2], done.text);
            }
            wall[i].push(micros(took) / 1e3);
            let now = done.observation.robot_time;
            if let (0, Some(a), Some(b)) = (i, clock, now) {
                robot_seconds.push(b - a);
            }
            clock = now;
        }
    }
    let (alone, rehearsed) = (stats(wall[0].clone()), stats(wall[1].clone()));
    let drive = stats(robot_seconds);
    report("move_to across the warehouse (lockstep)", "ms", &alone, "-");
    report("  the same, --preview gate", "ms", &rehearsed, "-");
    report("  robot time of the drive", "s", &drive, "-");
    let rehearsal_ms = rehearsed.median - alone.median;
    println!(
        "rehearsal of a move_to across the warehouse: {rehearsal_ms:.1} ms of wall time, {:.2}% of the {:.1} s the robot drives (target <= 5%)",
        rehearsal_ms / (drive.median * 1e3) * 100.0,
        drive.median
    );
    Ok(())
}
