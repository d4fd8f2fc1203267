//! The MCP figures, seen by the official MCP Python SDK as a client would
//! see them (tests/mcp/client.py, blocking on each answer): a trivial
//! `execute` round trip over stdio, and how long a freshly spawned
//! `codeact mcp` takes to answer `tools/list`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value as Json;

use super::bench::{report, stats};

/// The client script, in this source tree.
const CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/client.py");

/// The Python with the MCP SDK: `CODEACT_MCP_PYTHON`, else `.mcp/venv`.
fn python() -> Result<PathBuf> {
    let path = std::env::var_os("CODEACT_MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".mcp/venv/bin/python"));
    if !path.exists() {
        bail!(
            "the MCP benchmark needs the MCP Python SDK as its client: run scripts/mcp-setup.sh (or set CODEACT_MCP_PYTHON); {} does not exist",
            path.display()
        );
    }
    Ok(path)
}

/// One client run over stdio against this binary; the JSON it printed.
fn client(python: &PathBuf, scenario: &str, extra: &[&str]) -> Result<Json> {
    let exe = std::env::current_exe()?;
    let out = Command::new(python)
        .arg(CLIENT)
        .arg(scenario)
        .arg("stdio")
        .arg(&exe)
        .args(["--skills", "test"])
        .args(extra)
        .output()
        .context("running the MCP Python client")?;
    if !out.status.success() {
        bail!(
            "the MCP client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last().unwrap_or("")).context("reading the client's figures")
}

/// Runs the MCP benchmarks and prints the figures.
pub fn run(reps: &dyn Fn(usize) -> usize) -> Result<()> {
    println!("codeact MCP benchmarks (the MCP Python SDK over stdio, as a client sees them)");
    let python = python()?;
    let mut ready = Vec::new();
    for _ in 0..reps(20) {
        let out = client(&python, "ready", &[])?;
        ready.push(out["spawn_to_ready_ms"].as_f64().unwrap_or(f64::NAN));
    }
    report(
        "server spawned to tools/list answered",
        "ms",
        &stats(ready),
        "<= 150 ms",
    );
    let out = client(&python, "bench", &[])?;
    let trips: Vec<f64> = out["round_trips_ms"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_f64).collect())
        .unwrap_or_default();
    if trips.is_empty() {
        bail!("the MCP client measured no round trips");
    }
    report(
        "trivial execute round trip (x = 1 + 1)",
        "ms",
        &stats(trips),
        "<= 1 ms",
    );
    Ok(())
}
