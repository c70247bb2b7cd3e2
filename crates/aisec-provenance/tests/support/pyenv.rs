//! The reference tools (OpenSSF `model-signing`, CycloneDX's validator, an SPDX 3 validator), in a
//! Python venv the tests build once per target directory and then reuse.
//!
//! The venv is made with the machine's `python3 -m venv` and filled by pip from
//! `tests/interop/requirements.txt` (exact versions). `AISEC_INTEROP_VENV` points at a ready venv
//! instead. Concurrent test processes wait on a file lock; a half-built venv is never used.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The venv's root, building it the first time. Panics (failing the test) when it cannot be built:
/// these tests must not pass without the reference tools.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        if let Some(dir) = std::env::var_os("AISEC_INTEROP_VENV") {
            return PathBuf::from(dir);
        }
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop-venv");
        // Through the crate's parent, so that another crate's tests can include this file.
        let requirements = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../aisec-provenance/tests/interop/requirements.txt");
        let wanted = std::fs::read_to_string(&requirements).expect("read requirements.txt");
        let stamp = root.join("aisec-requirements.txt");
        std::fs::create_dir_all(root.parent().unwrap()).unwrap();
        let lock = std::fs::File::create(root.with_extension("lock")).expect("create venv lock");
        lock.lock().expect("lock the venv");
        if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
            let _ = std::fs::remove_dir_all(&root);
            run(Command::new("python3").args(["-m", "venv"]).arg(&root));
            run(Command::new(root.join("bin/python"))
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&requirements));
            std::fs::write(&stamp, &wanted).unwrap();
        }
        root
    })
}

/// The venv's Python.
pub fn python() -> PathBuf {
    venv().join("bin/python")
}

/// A console script installed in the venv (`model_signing`).
pub fn script(name: &str) -> PathBuf {
    venv().join("bin").join(name)
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
