//! Where an external-data `location` points: by name (always), and on disk (when the model is a file
//! on disk), following symbolic links. Nothing here opens or reads the external file.

use std::path::{Component, Path, PathBuf};

/// Why a location escapes the model directory by its name alone.
pub(super) fn name_problem(location: &str) -> Option<&'static str> {
    if location.contains('\0') {
        return Some("contains a NUL byte (loaders written in C stop reading the path there)");
    }
    if location.starts_with('/') {
        return Some("is an absolute POSIX path");
    }
    if location.starts_with("\\\\") || location.starts_with("//") {
        return Some("is a UNC or network path");
    }
    if location.starts_with('\\') {
        return Some("is rooted at the top of the current Windows drive");
    }
    let b = location.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        return Some("starts with a Windows drive letter");
    }
    if let Some((scheme, _)) = location.split_once("://")
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Some("is a URL");
    }
    if windows_device(location) {
        return Some("names a Windows device (CON, NUL, COM1, ...)");
    }
    if location.starts_with('~') {
        return Some("starts with `~` (a home directory when expanded)");
    }
    if location
        .split(['/', '\\'])
        .any(|c| c.trim_end_matches([' ', '.']).is_empty() && c.contains(".."))
    {
        return Some("has a `..` component");
    }
    None
}

/// True when the last component is a reserved Windows device name (with any extension).
fn windows_device(location: &str) -> bool {
    let last = location.rsplit(['/', '\\']).next().unwrap_or(location);
    let stem = last
        .split('.')
        .next()
        .unwrap_or(last)
        .trim_end()
        .to_ascii_uppercase();
    matches!(
        stem.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$"
    ) || ((stem.starts_with("COM") || stem.starts_with("LPT"))
        && stem.len() == 4
        && stem.as_bytes()[3].is_ascii_digit())
}

/// What the file system says about a location that passed the name checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OnDisk {
    /// A regular file inside the model directory, of this size.
    Regular(u64),
    /// Nothing there (or a dangling link).
    Missing,
    /// A device, FIFO, socket or directory.
    Special(&'static str),
    /// Resolves (through symbolic links) to this path outside the model directory.
    Outside(String),
    /// The file system would not say (permissions, I/O error).
    Unknown(String),
}

/// Resolves `location` against the directory of `model` and classifies the result.
pub(super) fn on_disk(model: &Path, location: &str) -> OnDisk {
    let dir = model.parent().unwrap_or_else(|| Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let target = dir.join(location);
    match std::fs::symlink_metadata(&target) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A missing leaf may still sit under a linked directory that points out; only the name matters then.
            return OnDisk::Missing;
        }
        Err(e) => return OnDisk::Unknown(e.to_string()),
        Ok(_) => {}
    }
    let Ok(resolved) = std::fs::canonicalize(&target) else {
        let shown = std::fs::read_link(&target).map_or_else(
            |_| target.display().to_string(),
            |t| t.display().to_string(),
        );
        // A dangling link: what it names outside the directory is still where a loader would read.
        return if lexically_outside(dir, &target) {
            OnDisk::Outside(shown)
        } else {
            OnDisk::Missing
        };
    };
    let inside = roots(model, dir).iter().any(|r| resolved.starts_with(r));
    if !inside {
        return OnDisk::Outside(resolved.display().to_string());
    }
    match std::fs::metadata(&resolved) {
        Ok(m) if m.is_file() => OnDisk::Regular(m.len()),
        Ok(m) => OnDisk::Special(kind(m.file_type())),
        Err(e) => OnDisk::Unknown(e.to_string()),
    }
}

/// The directories a location may resolve into: the model's directory as named and, when the model
/// file is itself a link (the Hugging Face cache links snapshot files into a blob store), the
/// directory its target sits in.
fn roots(model: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(d) = std::fs::canonicalize(dir) {
        out.push(d);
    }
    if let Ok(m) = std::fs::canonicalize(model)
        && let Some(p) = m.parent()
    {
        out.push(p.to_owned());
    }
    out
}

/// True when the link at `target` names a path outside `dir` (without resolving anything).
fn lexically_outside(dir: &Path, target: &Path) -> bool {
    let Ok(link) = std::fs::read_link(target) else {
        return false;
    };
    if link.is_absolute() {
        return true;
    }
    // Relative links resolve against the link's own directory, which sits inside `dir`.
    let base_depth = target
        .parent()
        .and_then(|p| p.strip_prefix(dir).ok())
        .map_or(0, |p| p.components().count());
    let mut depth = base_depth as i64;
    for c in link.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

#[cfg(unix)]
fn kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "directory"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn kind(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape() {
        for bad in [
            "/etc/passwd",
            "../../../etc/hostname",
            "weights/../../x",
            "C:\\Windows\\win.ini",
            "c:/x",
            "\\\\server\\share\\w.bin",
            "//server/share",
            "\\Windows\\win.ini",
            "a\\..\\..\\b",
            "w.bin\0.txt",
            "~/.ssh/id_rsa",
            "file:///etc/passwd",
            "http://attacker.invalid/w.bin",
            "NUL",
            "weights/com1.bin",
            "a/.. /b",
        ] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        for good in [
            "model.onnx_data",
            "weights/w.bin",
            "a..b.bin",
            "..weights",
            "w.bin..",
            "./w.bin",
            "console.bin",
            "com10.bin",
            "weights:v2.bin",
        ] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_that_point_out_and_special_files() {
        let dir = std::env::temp_dir().join(format!("aisec-onnx-ext-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let model = dir.join("m.onnx");
        std::fs::write(&model, b"x").unwrap();
        std::fs::write(dir.join("w.bin"), [0u8; 16]).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("link.bin")).unwrap();
        std::os::unix::fs::symlink("w.bin", dir.join("inner.bin")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero.bin")).unwrap();
        std::os::unix::fs::symlink("../../nowhere", dir.join("dangling.bin")).unwrap();
        std::os::unix::fs::symlink("/", dir.join("root")).unwrap();
        assert_eq!(on_disk(&model, "w.bin"), OnDisk::Regular(16));
        assert_eq!(on_disk(&model, "inner.bin"), OnDisk::Regular(16));
        assert_eq!(on_disk(&model, "nope.bin"), OnDisk::Missing);
        assert!(matches!(on_disk(&model, "link.bin"), OnDisk::Outside(_)));
        assert!(matches!(
            on_disk(&model, "root/etc/hostname"),
            OnDisk::Outside(_)
        ));
        assert!(matches!(on_disk(&model, "zero.bin"), OnDisk::Outside(_)));
        assert!(matches!(
            on_disk(&model, "dangling.bin"),
            OnDisk::Outside(_)
        ));
        assert_eq!(on_disk(&model, "sub"), OnDisk::Special("directory"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
