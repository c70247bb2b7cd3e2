//! `aisec taxonomy update` against a real HTTP server on loopback serving MITRE's ATLAS.yaml
//! (the copy in ../shared/data/atlas), then `aisec threat-model` using what it cached.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use common::{root, run};

/// Serves `routes` (path -> (status, body)) over HTTP/1.1 on loopback, one connection at a
/// time, until the test ends; returns the base URL.
fn serve(routes: Vec<(&'static str, u16, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            let (status, body) = routes
                .iter()
                .find(|(p, ..)| *p == path)
                .map_or((404, b"not found".to_vec()), |(_, s, b)| (*s, b.clone()));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
    });
    format!("http://{addr}")
}

fn aisec(cache: &Path, args: &[&str]) -> (i32, String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_aisec"))
        .args(args)
        .env("AISEC_CACHE_DIR", cache)
        .env_remove("AISEC_OFFLINE"))
}

fn atlas_version_in_report(cache: &Path, dir: &Path) -> String {
    let out = dir.join("tm.json");
    let model = root().join("examples/threat-models/rag-support-chatbot.yaml");
    let (code, _, err) = aisec(
        cache,
        &[
            "threat-model",
            model.to_str().unwrap(),
            "--format",
            "json",
            "-o",
            out.to_str().unwrap(),
            "--exit-zero",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    r["metrics"]["threat_model"]["atlas_version"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn update_downloads_checks_and_caches_the_atlas_data() {
    let official = std::fs::read_to_string(root().join("../shared/data/atlas/ATLAS.yaml"))
        .expect("../shared/data/atlas/ATLAS.yaml");
    assert!(official.contains("\nversion: 5.6.0\n"));
    // A later release, as MITRE would publish it.
    let next = official.replacen("\nversion: 5.6.0\n", "\nversion: 5.99.0\n", 1);
    // Valid ATLAS data that lacks the techniques the rules use.
    let thin = "id: ATLAS\nname: thin\nversion: 6.0.0\nmatrices:\n- id: ATLAS\n  name: ATLAS\n  tactics:\n  - id: AML.TA0000\n    name: Recon\n  techniques: []\n  mitigations: []\n";
    let base = serve(vec![
        ("/ATLAS.yaml", 200, next.into_bytes()),
        ("/thin.yaml", 200, thin.as_bytes().to_vec()),
        ("/html", 200, b"<html>rate limited</html>".to_vec()),
        ("/gone", 503, b"down".to_vec()),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Before any update: the built-in index.
    assert_eq!(atlas_version_in_report(cache.path(), dir.path()), "5.6.0");
    let (code, out, err) = aisec(cache.path(), &["taxonomy", "show"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("built-in index"), "{out}");

    let url = format!("{base}/ATLAS.yaml");
    let (code, out, err) = aisec(cache.path(), &["taxonomy", "update", "--url", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ATLAS 5.99.0: 16 tactics, 170 techniques, 35 mitigations, 57 case studies"),
        "{out}"
    );
    let cached = cache.path().join("taxonomy/ATLAS.yaml");
    assert!(cached.is_file());
    assert_eq!(atlas_version_in_report(cache.path(), dir.path()), "5.99.0");
    let (_, out, _) = aisec(cache.path(), &["taxonomy", "show"]);
    assert!(out.contains("ATLAS 5.99.0 (cached"), "{out}");

    // Bad data never replaces good data.
    for (path, want) in [
        ("/thin.yaml", "lacks ids the threat rules use"),
        ("/html", "not MITRE ATLAS data"),
        ("/gone", "HTTP 503"),
    ] {
        let (code, _, err) = aisec(
            cache.path(),
            &["taxonomy", "update", "--url", &format!("{base}{path}")],
        );
        assert_eq!(code, 2, "{path}: {err}");
        assert!(err.contains(want), "{path}: {err}");
        assert_eq!(atlas_version_in_report(cache.path(), dir.path()), "5.99.0");
    }
    // Offline users give the file.
    let out = Command::new(env!("CARGO_BIN_EXE_aisec"))
        .args(["taxonomy", "update"])
        .env("AISEC_CACHE_DIR", cache.path())
        .env("AISEC_OFFLINE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--from"));
    let shared = root().join("../shared/data/atlas/ATLAS.yaml");
    let (code, out, err) = aisec(
        cache.path(),
        &["taxonomy", "update", "--from", shared.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ATLAS 5.6.0"), "{out}");
    assert_eq!(atlas_version_in_report(cache.path(), dir.path()), "5.6.0");
}
