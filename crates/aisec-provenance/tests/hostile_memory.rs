//! Memory a hostile signature file can make the verifier use before any signature is checked.
//! Its own test binary, so the process's peak resident size measures this test alone.

use aisec_provenance::signing::Bundle;

/// Peak resident size of this process, in bytes (Linux `VmHWM`).
#[cfg(target_os = "linux")]
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Unsigned parts of a bundle (transparency-log entries, timestamps) are not expanded into a
/// JSON tree when the bundle is read: 10 million `0,` (20 MB) would take over 300 MB as values.
#[cfg(target_os = "linux")]
#[test]
fn unsigned_bundle_fields_are_not_expanded_when_read() {
    let n = 10_000_000;
    let mut zeros = "0,".repeat(n);
    zeros.pop();
    let bundle = format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial":{{"publicKey":{{"hint":"00"}},"tlogEntries":[[{zeros}]],
            "timestampVerificationData":[{zeros}]}},
            "dsseEnvelope":{{"payload":"e30=","payloadType":"application/vnd.in-toto+json",
            "signatures":[{{"sig":"AA==","keyid":""}}]}}}}"#
    );
    drop(zeros);
    let before = peak_rss();
    let b = Bundle::parse(bundle.as_bytes()).unwrap();
    let grew = peak_rss().saturating_sub(before);
    assert_eq!(b.verification_material.tlog_entries.len(), 1);
    assert!(
        grew < 150 << 20,
        "reading a {} MB bundle raised the peak resident size by {} MB",
        bundle.len() >> 20,
        grew >> 20
    );
}
