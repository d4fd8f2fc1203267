//! `codeact render <world>`: a picture of a world, PNG and SVG.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

/// Options of `codeact render`.
#[derive(clap::Args, Debug)]
pub struct RenderOpts {
    /// A built-in world (small_room, warehouse, apartment, lab, warehouse_duo) or a world file.
    world: String,
    /// Output PNG (default: <world name>.png); an SVG is written next to it.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Writes `path` as PNG, or as SVG when it ends in `.svg`; for a PNG, an
/// SVG of the same picture goes next to it.
pub fn write(
    world: &sim::World,
    run: Option<&sim::Simulator>,
    path: &Path,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let svg_path = if path.extension().is_some_and(|e| e == "svg") {
        path.to_owned()
    } else {
        sim::render::write_png(world, run, path)?;
        written.push(path.to_owned());
        path.with_extension("svg")
    };
    std::fs::write(&svg_path, sim::render::svg(world, run))
        .with_context(|| format!("writing {}", svg_path.display()))?;
    written.push(svg_path);
    Ok(written)
}

/// Runs `codeact render`.
pub fn run(opts: &RenderOpts) -> Result<ExitCode> {
    let world = sim::load(&opts.world)?;
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.png", world.name)));
    for written in write(&world, None, &out)? {
        println!("{}", written.display());
    }
    Ok(ExitCode::SUCCESS)
}
