//! The command line on worlds: `render`, `api --world`, and clear errors for
//! bad world names and files.

mod common;

use std::process::Command;

fn codeact(args: &[&str]) -> std::process::Output {
    Command::new(common::exe())
        .args(args)
        .output()
        .expect("codeact runs")
}

#[test]
fn render_writes_a_png_and_an_svg() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("room.png");
    let run = codeact(&["render", "apartment", "--out", out.to_str().unwrap()]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let png = std::fs::read(&out).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(out.with_extension("svg")).unwrap();
    assert!(
        svg.contains("<title>kitchen</title>"),
        "zones are named in the SVG"
    );
}

#[test]
fn a_bad_world_file_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(
        &file,
        "boundary: [5, 5]\nzones:\n  - name: dock\n    rectangle: [0, 0, 1, 1]\n",
    )
    .unwrap();
    let run = codeact(&["api", "--world", file.to_str().unwrap()]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("broken.yaml:4"), "{err}");
    assert!(err.contains("unknown field `rectangle`"), "{err}");

    let run = codeact(&["render", "atlantis"]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("no world named \"atlantis\"") && err.contains("warehouse"),
        "{err}"
    );
}

#[test]
fn the_api_text_lists_only_what_the_robot_has() {
    let run = codeact(&["api", "--world", "small_room"]);
    assert!(run.status.success());
    let api = String::from_utf8_lossy(&run.stdout);
    for skill in [
        "def move_to(x: float, y: float, theta: float | None = None",
        "def pick(name: str)",
        "def get_scan() -> Scan:",
        "class Pose:",
    ] {
        assert!(api.contains(skill), "{skill} missing:\n{api}");
    }
    // The world, as every prompt has it: zones with extents, furniture, size.
    assert!(
        api.contains("# The world\nWorld 'small_room': 6 m x 5 m")
            && api.contains("blue_zone (x 4.6-5.8, y 3.6-4.8)")
            && api.contains("table (x 2.5-3.5, y 2.0-2.8)"),
        "{api}"
    );
    let run = codeact(&["api", "--skills", "test"]);
    let api = String::from_utf8_lossy(&run.stdout);
    assert!(!api.contains("def move_to"), "{api}");
}

#[test]
fn commands_offer_only_the_options_they_use() {
    for (command, unused) in [
        ("api", "--picture"),
        ("api", "--realtime"),
        ("api", "--timeout"),
        ("api", "--memory-mb"),
        ("doctor", "--picture"),
        ("doctor", "--realtime"),
        ("doctor", "--timeout"),
        ("run", "--picture"),
        ("node", "--world"),
        ("node", "--realtime"),
    ] {
        let run = codeact(&[command, unused, "1"]);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(
            !run.status.success() && err.contains(&format!("unexpected argument '{unused}'")),
            "{command} {unused}: {err}"
        );
    }
    // What a command uses is still there.
    let help = String::from_utf8_lossy(&codeact(&["doctor", "--help"]).stdout).into_owned();
    assert!(
        help.contains("--memory-mb") && help.contains("--world"),
        "{help}"
    );
    let help = String::from_utf8_lossy(&codeact(&["session", "--help"]).stdout).into_owned();
    assert!(
        help.contains("--picture") && help.contains("--realtime"),
        "{help}"
    );
    assert!(
        help.contains("only the SVG when FILE ends in .svg"),
        "{help}"
    );
    let help = String::from_utf8_lossy(&codeact(&["bench", "-h"]).stdout).into_owned();
    for suite in ["executor", "sim", "agent", "eval", "mcp", "ros", "all"] {
        assert!(help.contains(suite), "bench -h names {suite}: {help}");
    }
}

#[test]
fn the_api_text_takes_its_examples_from_the_world_in_use() {
    let api = |world: &str| {
        String::from_utf8_lossy(&codeact(&["api", "--world", world]).stdout).into_owned()
    };
    let warehouse = api("warehouse");
    // small_room's places appear nowhere else.
    for other in ["blue_zone", "(0.5, 0.5)", "red_cube"] {
        assert!(
            !warehouse.contains(other),
            "{other} in the warehouse's API text"
        );
    }
    assert!(warehouse.contains("go_to(\"packing\")"), "{warehouse}");
    assert!(
        warehouse.contains("['dock', 'packing', 'aisle_1']"),
        "{warehouse}"
    );
    let apartment = api("apartment");
    assert!(
        apartment.contains("get_zone(\"living_room\")"),
        "{apartment}"
    );
    // What the model needs to know about time, the camera and place().
    assert!(apartment.contains("simulated seconds"));
    assert!(apartment.contains("The camera sees objects within 50 degrees"));
    assert!(apartment.contains("down 0.40 m in front of the robot's centre"));
}

#[test]
fn recover_copies_a_whole_recording_and_refuses_what_is_not_one() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.mcap");
    std::fs::write(&bad, "not a recording").unwrap();
    let out = codeact(&["recover", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not an MCAP file"), "{stderr}");

    // A session with no action still records the map and the first pose.
    let file = tmp.path().join("whole.mcap");
    let out = codeact(&[
        "session",
        "--world",
        "small_room",
        "--record",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = tmp.path().join("copy.mcap");
    let args = [
        "recover",
        file.to_str().unwrap(),
        "--out",
        copy.to_str().unwrap(),
    ];
    let out = codeact(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.contains("whole"), "{stderr}");
    assert!(copy.metadata().unwrap().len() > 0);
    let out = codeact(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("already exists"),
        "{stderr}"
    );
}

/// The process that runs the model's code carries as little as can be: the
/// worker binary needs only libpython and the C library (whatever features
/// codeact was built with, ROS's among them), and has no TLS, HTTP, MCP or
/// DDS code in it.
#[test]
fn the_worker_binary_links_only_python_and_the_c_library() {
    let worker = common::worker_exe();
    let ldd = std::process::Command::new("ldd")
        .arg(&worker)
        .output()
        .expect("ldd runs");
    let libs = String::from_utf8_lossy(&ldd.stdout);
    for line in libs.lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let allowed = [
            "linux-vdso",
            "ld-linux",
            "libpython",
            "libc.so",
            "libm.so",
            "libgcc_s",
            "libdl",
            "libpthread",
            "librt",
            "libutil",
        ];
        assert!(
            allowed
                .iter()
                .any(|a| name.starts_with(a) || name.contains("/ld-linux")),
            "the worker links {name}:\n{libs}"
        );
    }
    let nm = std::process::Command::new("nm")
        .args(["-C", "--defined-only"])
        .arg(&worker)
        .output()
        .expect("nm runs (binutils)");
    let symbols = String::from_utf8_lossy(&nm.stdout);
    assert!(symbols.contains("codeact_worker"), "nm read the binary");
    for crate_name in [
        "rustls::",
        "reqwest::",
        "hyper::",
        "rmcp::",
        "axum::",
        "r2r::",
        "tokio::",
    ] {
        assert!(
            !symbols.contains(crate_name),
            "the worker has {crate_name} code in it"
        );
    }
}
