//! The launch files and robot profiles for users with a full ROS install.
//! `ros2 launch` cannot be installed here, so this checks what can be: the
//! files are valid Python, every `codeact` subcommand and flag they use
//! exists, and every profile they name (and every profile shipped) loads.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn launch_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("launch")
}

fn launch_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(launch_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".launch.py"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "{files:?}");
    files
}

/// The string literals of `text` ("..." only), in order.
fn literals(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn launch_files_are_valid_python_with_a_launch_description() {
    for file in launch_files() {
        let out = Command::new("python3")
            .args(["-c", "import ast, sys; t = ast.parse(open(sys.argv[1]).read()); print([f.name for f in t.body if isinstance(f, ast.FunctionDef)])"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("generate_launch_description"),
            "{}",
            file.display()
        );
    }
}

#[test]
fn launched_commands_and_flags_exist() {
    for file in launch_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for cmd in text.split("cmd=[").skip(1) {
            let cmd = &cmd[..cmd.find(']').unwrap()];
            let mut words = literals(cmd);
            // LaunchConfiguration("codeact") names the binary itself.
            if words[0] == "codeact" {
                words.remove(0);
            }
            let sub = &words[0];
            let help = Command::new(common::exe())
                .args([sub, "--help"])
                .output()
                .unwrap();
            assert!(
                help.status.success(),
                "{}: codeact {sub} does not exist",
                file.display()
            );
            let help = String::from_utf8_lossy(&help.stdout);
            for flag in words.iter().filter(|w| w.starts_with("--")) {
                assert!(
                    help.contains(flag.as_str()),
                    "{}: codeact {sub} has no {flag}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn every_profile_loads_and_launch_defaults_name_real_profiles() {
    let mut profiles = 0;
    for entry in std::fs::read_dir(launch_dir().join("profiles")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            codeact::ros::fleet_profile::load(path.to_str().unwrap())
                .unwrap_or_else(|e| panic!("{e}"));
            profiles += 1;
        }
    }
    assert!(profiles >= 2);
    for file in launch_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        if let Some(rest) = text
            .split("DeclareLaunchArgument(\"profile\", default_value=")
            .nth(1)
        {
            let value = rest.split(',').next().unwrap().trim();
            let name = match value.strip_prefix('"') {
                Some(quoted) => quoted.trim_end_matches('"').to_owned(),
                // A path built in the file: profiles/<name>.yaml next to it.
                None => {
                    let quoted = literals(&text[text.find("PROFILE = ").unwrap()..]);
                    launch_dir()
                        .join(&quoted[0])
                        .join(&quoted[1])
                        .to_string_lossy()
                        .into_owned()
                }
            };
            codeact::ros::profile::load(&name)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
    }
}
