//! What every CLI test binary shares: running the built `aisec`.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `aisec` with `args` (no color) in the current directory: (exit code, stdout, stderr).
pub fn aisec(args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_aisec")).args(args))
}

/// Runs `aisec` with `args` in `dir`.
pub fn aisec_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_aisec"))
        .args(args)
        .current_dir(dir))
}

/// Runs `aisec` with `args` and the model/data cache shared by every test binary of this target
/// directory, so the built-in data sets are fetched once.
pub fn aisec_cached(args: &[&str]) -> (i32, String, String) {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache");
    run(Command::new(env!("CARGO_BIN_EXE_aisec"))
        .args(args)
        .env("AISEC_CACHE_DIR", cache))
}

/// Runs `cmd` (an `aisec` command built by the caller, with its own environment) without color:
/// (exit code, stdout, stderr).
pub fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.env("NO_COLOR", "1").output().expect("run aisec");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
