//! What every CLI test binary shares: running the built `aisec`.
#![allow(dead_code, unreachable_pub)]

use std::io::Write as _;
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

/// Headless Chromium, as Debian installs it, when it is there; `.ci/run` installs it and sets
/// AISEC_REQUIRE_BROWSER so that CI cannot skip the browser tests.
pub fn chromium() -> Option<std::path::PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("AISEC_REQUIRE_BROWSER").is_none(),
            "AISEC_REQUIRE_BROWSER is set but Chromium is not installed"
        );
        let _ = writeln!(
            std::io::stderr(),
            "Chromium not installed: browser check not run (install Debian's chromium)"
        );
    }
    found
}

/// Decodes a PNG into (width, height, RGBA pixels).
pub fn rgba(path: &std::path::Path) -> (u32, u32, Vec<[u8; 4]>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = match info.color_type {
        png::ColorType::Rgba => buf[..info.buffer_size()]
            .chunks(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect(),
        png::ColorType::Rgb => buf[..info.buffer_size()]
            .chunks(3)
            .map(|c| [c[0], c[1], c[2], 255])
            .collect(),
        other => panic!("{other:?}"),
    };
    (info.width, info.height, px)
}

/// Headless `browser` with its own profile in `profile`, nothing fetched in the background, no
/// scrollbars, and the window `width` x `height`; the caller adds what it asks for.
pub fn headless(browser: &Path, profile: &Path, width: u32, height: u32) -> Command {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--window-size={width},{height}"))
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}
