//! A fleet of ROS 2 robots (feature `ros`; run by scripts/test.sh after
//! scripts/ros-setup.sh): two rclpy robots under namespaces driven from one
//! `codeact session --robot FLEET`. Each check reads what the robots
//! received, not what codeact says.
#![cfg(feature = "ros")]

mod common;

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use common::ros::*;
use serde_json::Value as Json;

/// The robot each namespace runs: relative names, so the namespace applies.
const ROBOT: &str = "name: fake
topics: {odom: odom, cmd_vel: cmd_vel, scan: scan}
limits: {radius: 0.15, max_linear: 0.3, max_angular: 1.0, max_linear_accel: 0.5, max_angular_accel: 2.0}
safety: {watchdog: 0.5, rate: 20}
";

/// Two of them; beta slower by the fleet's setting.
const FLEET: &str = "name: duo
robots:
  - name: alpha
    namespace: /alpha
    profile: robot.yaml
  - name: beta
    namespace: /beta
    profile: robot.yaml
    limits: {max_linear: 0.15}
";

/// The fleet profile, written to a folder of this test's own.
fn fleet_file(test: &str) -> PathBuf {
    fleet_file_of(test, FLEET)
}

/// The fleet profile `fleet` over [`ROBOT`], written to a folder of this
/// test's own.
fn fleet_file_of(test: &str, fleet: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("codeact-ros-fleet-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("robot.yaml"), ROBOT).unwrap();
    std::fs::write(dir.join("fleet.yaml"), fleet).unwrap();
    dir.join("fleet.yaml")
}

/// A fake robot under `namespace` for `seconds`.
fn robot_in(namespace: &str, domain: u32, seconds: u32) -> Child {
    fake_robot_with(domain, seconds, &[("FAKE_NS", namespace)])
}

/// What a fake robot recorded (printed when its time is up).
fn report(robot: Child) -> Json {
    let out = robot.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
        panic!(
            "the fake robot printed {text:?} ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn moving(cmds: &[(f64, f64, f64)]) -> Vec<(f64, f64, f64)> {
    cmds.iter()
        .copied()
        .filter(|c| c.1 != 0.0 || c.2 != 0.0)
        .collect()
}

/// Seconds since the epoch, as the rclpy peers stamp what they receive.
fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// A person who presses `topic` after `after`, from a thread; when they pressed.
fn press_later(domain: u32, topic: &'static str, after: Duration) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        person(domain, &["press", "0.5", topic]).unwrap()["pressed"]
            .as_f64()
            .unwrap()
    })
}

#[test]
fn commands_go_to_each_robots_namespace_within_its_limits_at_once() {
    let domain = domain(0);
    let (alpha, beta) = (
        robot_in("/alpha", domain, 25),
        robot_in("/beta", domain, 25),
    );
    let mut session = RosSession::start(&fleet_file("limits").to_string_lossy(), domain);
    let obs = session.execute(
        "print(sorted(robots))
a = alpha.start('drive', 1.0, 0.0, 3.0)
b = beta.start('drive', 1.0, 0.0, 3.0)
together(a, b)
print('alpha', round(alpha.get_pose().x, 2), 'beta', round(beta.get_pose().x, 2))",
        60.0,
    );
    let text = obs["text"].as_str().unwrap().to_owned();
    assert!(text.contains("['alpha', 'beta']"), "{text}");
    drop(session);
    let (alpha, beta) = (report(alpha), report(beta));
    let (a, b) = (moving(&commands_of(&alpha)), moving(&commands_of(&beta)));
    assert!(
        !a.is_empty() && !b.is_empty(),
        "both robots were driven: {text}"
    );
    let top = |c: &[(f64, f64, f64)]| c.iter().map(|c| c.1).fold(0.0, f64::max);
    // Each robot's own limit holds, and each got only its own commands.
    assert!(
        top(&a) <= 0.3 + 1e-9 && top(&a) > 0.29,
        "alpha's top speed {}",
        top(&a)
    );
    assert!(
        top(&b) <= 0.15 + 1e-9 && top(&b) > 0.14,
        "beta's top speed {}",
        top(&b)
    );
    let (ax, bx) = (alpha["x"].as_f64().unwrap(), beta["x"].as_f64().unwrap());
    assert!((0.7..1.1).contains(&ax), "alpha drove 3 s at 0.3 m/s: {ax}");
    assert!((0.3..0.6).contains(&bx), "beta drove 3 s at 0.15 m/s: {bx}");
    // At once: each robot moved while the other did.
    let span = |c: &[(f64, f64, f64)]| (c[0].0, c[c.len() - 1].0);
    let ((a0, a1), (b0, b1)) = (span(&a), span(&b));
    assert!(
        a0 < b1 && b0 < a1,
        "alpha {a0}..{a1}, beta {b0}..{b1}: one after the other"
    );
    assert!(
        a1.max(b1) - a0.min(b0) < 5.5,
        "two 3 s drives took {} s",
        a1.max(b1) - a0.min(b0)
    );
}

#[test]
fn one_robots_e_stop_stops_only_it_and_the_fleets_stops_both() {
    let domain = domain(1);
    let (alpha, beta) = (
        robot_in("/alpha", domain, 45),
        robot_in("/beta", domain, 45),
    );
    let mut session = RosSession::start(&fleet_file("e_stop").to_string_lossy(), domain);
    let drive_both = "a = alpha.start('drive', 1.0, 0.0, 6.0)
b = beta.start('drive', 1.0, 0.0, 6.0)
try:
    together(a, b)
except Exception as e:
    print('failed:', type(e).__name__, e)
print('done')";
    // alpha's own e-stop.
    let press = press_later(domain, "/alpha/e_stop", Duration::from_secs(2));
    let first = session.execute(drive_both, 60.0)["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let alpha_pressed = press.join().unwrap();
    assert!(
        first.contains("failed: EStopped") && first.contains("alpha"),
        "{first}"
    );
    let cleared = person(domain, &["clear", "/codeact/alpha"]).unwrap();
    assert_eq!(cleared["message"], "e-stop cleared", "{cleared}");
    // The fleet's.
    let second_started = now();
    let press = press_later(domain, "/e_stop", Duration::from_secs(2));
    let second = session.execute(drive_both, 60.0)["text"]
        .as_str()
        .unwrap()
        .to_owned();
    let fleet_pressed = press.join().unwrap();
    assert!(second.contains("failed: EStopped"), "{second}");
    let latched = error_of(&mut session, "beta.drive(0.1, 0.0, 0.5)");
    assert_eq!(
        latched.type_name, "EStopped",
        "beta is latched too: {latched:?}"
    );
    let cleared = person(domain, &["clear", "/codeact"]).unwrap();
    assert_eq!(cleared["message"], "e-stop cleared", "{cleared}");
    let cleared_at = now();
    let again = session.execute("beta.drive(0.1, 0.0, 0.5)\nprint('moved')", 30.0);
    assert!(
        again["text"].as_str().unwrap().contains("moved"),
        "cleared for all: {again}"
    );
    drop(session);
    let (alpha, beta) = (commands_of(&report(alpha)), commands_of(&report(beta)));
    let moving_between = |c: &[(f64, f64, f64)], from: f64, to: f64| {
        moving(c).iter().filter(|c| c.0 > from && c.0 < to).count()
    };
    // One robot's e-stop: alpha still from 0.3 s after it until it was
    // cleared, beta driving on.
    let settle = 0.3;
    assert_eq!(
        moving_between(&alpha, alpha_pressed + settle, second_started),
        0,
        "alpha moved after its e-stop"
    );
    assert!(
        moving_between(&beta, alpha_pressed + 1.0, alpha_pressed + 3.0) > 10,
        "beta stopped with alpha's e-stop"
    );
    // The fleet's: neither moves from then until the person cleared it
    // (alpha never again), and beta's last drive came after that.
    assert!(
        moving(&beta).last().unwrap().0 > cleared_at,
        "beta drove once cleared"
    );
    for (name, c, until) in [
        ("alpha", &alpha, f64::INFINITY),
        ("beta", &beta, cleared_at),
    ] {
        assert_eq!(
            moving_between(c, fleet_pressed + settle, until),
            0,
            "{name} moved after the fleet's e-stop"
        );
    }
}

#[test]
fn the_fleets_e_stop_ends_the_nodes_action_and_stops_both_robots() {
    let domain = domain(2);
    let (alpha, beta) = (
        robot_in("/alpha", domain, 30),
        robot_in("/beta", domain, 30),
    );
    let mut node = ros_command(common::exe(), domain)
        .args(["node", "--ros", "--robot"])
        .arg(fleet_file("node"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("codeact node starts");
    let press = press_later(domain, "/e_stop", Duration::from_secs(6));
    let started = now();
    let answer = person(
        domain,
        &[
            "execute",
            "together(alpha.start('drive', 1.0, 0.0, 20.0), beta.start('drive', 1.0, 0.0, 20.0))",
        ],
    )
    .unwrap();
    let pressed = press.join().unwrap();
    let _ = node.kill();
    let _ = node.wait();
    // The action ended at the press, not after its 20 s drives.
    assert_eq!(answer["status"], "interrupted", "{answer}");
    let done = answer["done"].as_f64().unwrap();
    assert!(
        done < pressed + 5.0,
        "answered {} s after the press",
        done - pressed
    );
    assert!(done - started < 15.0, "{answer}");
    for (name, robot) in [("alpha", alpha), ("beta", beta)] {
        let cmds = commands_of(&report(robot));
        let before = moving(&cmds).iter().filter(|c| c.0 < pressed).count();
        let after = moving(&cmds).iter().filter(|c| c.0 > pressed + 0.3).count();
        assert!(before > 10, "{name} was driven before the press");
        assert_eq!(after, 0, "{name} moved after the fleet's e-stop");
    }
}

/// Two robots that localize, each with its own `map → odom`: alpha's on
/// its own tf topic (/alpha/tf, as Nav2's multi-robot bringup publishes
/// it), beta's on the shared /tf under its own odometry frame.
const LOCALIZING: &str = "name: localizing
robots:
  - name: alpha
    namespace: /alpha
    profile: robot.yaml
    frames: {map: map}
    topics: {tf: tf, tf_static: tf_static}
  - name: beta
    namespace: /beta
    profile: robot.yaml
    frames: {map: map, odom: beta/odom}
";

#[test]
fn each_robot_of_a_localizing_fleet_is_in_the_map_through_its_own_transform() {
    let domain = domain(3);
    let alpha = fake_robot_with(
        domain,
        20,
        &[
            ("FAKE_NS", "/alpha"),
            ("FAKE_TF", "2,0,0"),
            ("FAKE_TF_TOPIC", "tf"),
        ],
    );
    // beta's odometry frame turned a quarter turn in the map: its +x is +y.
    let beta = fake_robot_with(
        domain,
        20,
        &[
            ("FAKE_NS", "/beta"),
            ("FAKE_TF", "0,5,1.5707963"),
            ("FAKE_TF_FRAMES", "map,beta/odom"),
        ],
    );
    let mut session = RosSession::start(
        &fleet_file_of("localizing", LOCALIZING).to_string_lossy(),
        domain,
    );
    let obs = session.execute(
        "def at(r):
    p = r.get_pose()
    return [round(p.x, 2), round(p.y, 2), round(p.theta, 2)]
print('before', at(alpha), at(beta))
together(alpha.start('drive', 0.5, 0.0, 1.0), beta.start('drive', 0.5, 0.0, 1.0))
print('after', at(alpha), at(beta))",
        60.0,
    );
    let text = obs["text"].as_str().unwrap().to_owned();
    drop(session);
    let (alpha, beta) = (report(alpha), report(beta));
    assert!(
        text.contains("before [2.0, 0.0, 0.0] [0.0, 5.0, 1.57]"),
        "each robot's pose in the map is its own transform's: {text}"
    );
    // Each drove straight ahead in its odometry frame (about 0.25 m at
    // its 0.3 m/s limit): alpha along the map's x, beta along its y.
    let after = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("after "))
        .unwrap_or_else(|| panic!("no poses after the drives: {text}"));
    let poses: Vec<Vec<f64>> = serde_json::from_str(&format!("[{}]", after.replace("] [", "], [")))
        .unwrap_or_else(|e| panic!("{after}: {e}"));
    let (a, b) = (&poses[0], &poses[1]);
    assert!(
        a[0] > 2.15 && a[1].abs() < 0.05,
        "alpha drove along the map's x: {a:?}"
    );
    assert!(
        b[1] > 5.15 && b[0].abs() < 0.05,
        "beta drove along the map's y: {b:?}"
    );
    assert!(!moving(&commands_of(&alpha)).is_empty() && !moving(&commands_of(&beta)).is_empty());
}
