//! The run folder: `transcript.jsonl` (every request, reply, action and
//! observation, with timings) and the episode's picture. API keys never get
//! here: the configuration is written without them.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{json, Value as Json};

/// A transcript being written; each record is flushed at once, so a crash
/// leaves everything up to it.
#[derive(Debug)]
pub struct Transcript {
    dir: PathBuf,
    out: BufWriter<File>,
    started: Instant,
}

impl Transcript {
    /// Creates `dir` (and its parents) and the transcript file in it.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = File::create(dir.join("transcript.jsonl"))?;
        Ok(Transcript {
            dir: dir.to_owned(),
            out: BufWriter::new(file),
            started: Instant::now(),
        })
    }

    /// The run folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one record of `kind` with `fields`, stamped with the time since the start.
    pub fn record(&mut self, kind: &str, fields: Json) {
        let mut value = json!({"type": kind, "t_ms": (self.started.elapsed().as_secs_f64() * 1e4).round() / 10.0});
        if let (Json::Object(map), Json::Object(extra)) = (&mut value, fields) {
            map.extend(extra);
        }
        // A full disk must not end the episode; the transcript is then short.
        let _ = serde_json::to_writer(&mut self.out, &value);
        let _ = self.out.write_all(b"\n");
        let _ = self.out.flush();
    }
}

/// Reads a transcript's records.
pub fn read(dir: &Path) -> std::io::Result<Vec<Json>> {
    let text = std::fs::read_to_string(dir.join("transcript.jsonl"))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
        })
        .collect()
}

/// `2026-11-23T16-20-05`: a UTC timestamp for folder names.
pub fn timestamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (the proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_json_lines_with_times() {
        let dir = tempfile::tempdir().unwrap();
        let mut t = Transcript::create(&dir.path().join("run")).unwrap();
        t.record("start", json!({"task": "x"}));
        t.record("end", json!({"success": true}));
        let records = read(t.dir()).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0]["type"], "start");
        assert_eq!(records[1]["success"], true);
        assert!(records[1]["t_ms"].as_f64().unwrap() >= 0.0);
        let ts = timestamp();
        assert_eq!(ts.len(), 19, "{ts}");
        assert!(ts.starts_with("20"), "{ts}");
    }
}
