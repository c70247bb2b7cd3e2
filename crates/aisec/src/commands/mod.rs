//! One module per command, and what several commands share.

pub(crate) mod assess;
pub(crate) mod attack;
pub(crate) mod bom;
pub(crate) mod data;
pub(crate) mod defend;
pub(crate) mod extract;
pub(crate) mod guard;
pub(crate) mod models;
pub(crate) mod poison;
pub(crate) mod privacy;
pub(crate) mod progress;
pub(crate) mod redteam;
pub(crate) mod report_out;
pub(crate) mod rules;
pub(crate) mod scan;
pub(crate) mod sign;
pub(crate) mod store_out;
pub(crate) mod taxonomy;
pub(crate) mod threat_model;
pub(crate) mod verify;

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// The worker pool for `--threads` (one thread per core when not given).
pub(crate) fn pool(threads: Option<usize>) -> anyhow::Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("failed to start the worker threads")
}

/// Where a command writes `what` (its report, its BOM): the `--output` file, else stdout; buffered.
/// Flush it when done so a write error is reported rather than lost on drop.
pub(crate) fn output(path: Option<&Path>, what: &str) -> anyhow::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(std::io::BufWriter::new(
            fs_err::File::create(p)
                .with_context(|| format!("cannot write {what} to `{}`", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// Reads `what` at `path` as UTF-8 text of at most `max` bytes (reading stops at `max + 1`).
pub(crate) fn read_text(path: &Path, max: u64, what: &str) -> anyhow::Result<String> {
    use std::io::Read;
    let file = fs_err::File::open(path).with_context(|| format!("cannot read {what}"))?;
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{what} `{}` is not UTF-8 text", path.display()))?;
    anyhow::ensure!(
        text.len() as u64 <= max,
        "{what} `{}` is larger than {max} bytes",
        path.display()
    );
    Ok(text)
}
