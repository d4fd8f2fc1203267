//! `codeact recover CUT.mcap`: a recording whose writer was killed (SIGKILL,
//! a power cut) has every finished chunk but no summary, so readers that
//! seek to the index fail. This reads it front to back, up to where it was
//! cut, and writes what it holds as a whole MCAP file with an index.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use mcap::read::{MessageStream, Options};

/// Options of `codeact recover`.
#[derive(clap::Args, Debug)]
pub struct RecoverOpts {
    /// The cut recording.
    file: PathBuf,
    /// Where to write the whole one (default: FILE with `.recovered.mcap`);
    /// never overwritten.
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// What recovering found.
#[derive(Debug, PartialEq, Eq)]
pub struct Recovered {
    /// Messages written.
    pub messages: u64,
    /// Where the input ended early, and why; `None` for a whole file.
    pub cut: Option<String>,
}

/// Runs `codeact recover`.
pub fn run(opts: &RecoverOpts) -> Result<ExitCode> {
    let out = opts
        .out
        .clone()
        .unwrap_or_else(|| opts.file.with_extension("recovered.mcap"));
    let recovered = recover(&opts.file, &out)?;
    match &recovered.cut {
        Some(why) => eprintln!(
            "{}: cut short ({why}); {} messages before the cut written to {}",
            opts.file.display(),
            recovered.messages,
            out.display()
        ),
        None => eprintln!(
            "{}: whole; its {} messages copied to {}",
            opts.file.display(),
            recovered.messages,
            out.display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Copies every message of `cut` that can be read, in file order, into a
/// new file `out`.
pub fn recover(cut: &Path, out: &Path) -> Result<Recovered> {
    let bytes =
        std::fs::read(cut).with_context(|| format!("reading the recording {}", cut.display()))?;
    let not_mcap = || {
        format!(
            "{} is not an MCAP file (it does not start as one)",
            cut.display()
        )
    };
    if !bytes.starts_with(mcap::MAGIC) {
        bail!(not_mcap());
    }
    let stream = MessageStream::new_with_options(&bytes, Options::IgnoreEndMagic.into())
        .with_context(not_mcap)?;
    let file = match File::create_new(out) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} already exists; give --out a new file name",
                out.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("creating {}", out.display())),
    };
    let options = mcap::WriteOptions::new()
        .compression(None)
        .profile("")
        .library(format!("codeact {} (recover)", env!("CARGO_PKG_VERSION")));
    let mut writer = options
        .create(BufWriter::new(file))
        .with_context(|| format!("writing {}", out.display()))?;
    let mut recovered = Recovered {
        messages: 0,
        cut: None,
    };
    for message in stream {
        match message {
            Ok(message) => {
                writer.write(&message)?;
                recovered.messages += 1;
            }
            Err(e) => {
                recovered.cut = Some(e.to_string());
                break;
            }
        }
    }
    if recovered.cut.is_none() && !bytes.ends_with(mcap::MAGIC) {
        recovered.cut = Some("it ends after its last whole chunk, without the index".into());
    }
    writer
        .finish()
        .with_context(|| format!("finishing {}", out.display()))?;
    Ok(recovered)
}
