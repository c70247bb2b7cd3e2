//! Engine behaviour on streams assembled here, where exact opcodes matter.

use aisec_core::Severity;
use aisec_modelscan::Scanner;

fn findings(bytes: &[u8]) -> Vec<aisec_core::Finding> {
    Scanner::default().scan_bytes("t.pkl", bytes).0
}

#[test]
fn reports_payload_before_corruption_with_offset() {
    // GLOBAL os system, MARK, SHORT_BINUNICODE 'true', TUPLE, REDUCE, then garbage.
    let mut p = b"cos\nsystem\n(X\x04\x00\x00\x00truetR".to_vec();
    p.push(0xff);
    let f = findings(&p);
    assert!(
        f.iter()
            .any(|f| f.severity == Severity::Critical && f.rule.as_str() == "MS102")
    );
    let broken = f
        .iter()
        .find(|f| f.rule.as_str() == "MS120")
        .expect("malformed finding");
    assert_eq!(broken.location.offset, Some(p.len() as u64 - 1));
}

#[test]
fn tensor_bytes_that_look_like_opcodes_are_not_parsed() {
    // A BINBYTES payload holding a pickle-looking string is data, not code.
    let inner = b"cos\nsystem\n(S'x'\ntR.";
    let mut p = vec![0x80, 0x04, b'B'];
    p.extend((inner.len() as u32).to_le_bytes());
    p.extend(inner);
    p.push(b'.');
    assert!(findings(&p).is_empty());
}

#[test]
fn text_int_forms_follow_the_c_unpickler() {
    // INT 0x10 and octal 010 parse (strtol base 0); the memo key PUT 010 is decimal 10 in GET.
    let p = b"I0x10\nI010\n(lp0\n.";
    let f = findings(p);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn stack_global_from_memo_is_resolved() {
    // 'os' and 'system' memoized, fetched back with BINGET, then STACK_GLOBAL + REDUCE.
    let p = b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94h\x00h\x01\x93\x8c\x04true\x85R.";
    let f = findings(p);
    assert!(
        f.iter()
            .any(|f| f.severity == Severity::Critical && f.title.contains("os.system")),
        "{f:?}"
    );
}

#[test]
fn budgets_bound_adversarial_streams() {
    // A million nested MARKs: the stack budget stops it, no panic, no unbounded allocation.
    let mut p = vec![0x80, 0x02];
    p.extend(std::iter::repeat_n(b'(', 1_000_000));
    let (_, targets) = Scanner::default().scan_bytes("deep.pkl", &p);
    assert!(
        targets
            .iter()
            .any(|t| matches!(t.status, aisec_core::TargetStatus::NotAnalysed { .. }))
    );
}

#[test]
fn a_memoized_nested_payload_is_scanned_once() {
    // pickle.loads(payload) called 10,000 times on the same memoized bytes.
    let inner = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R.";
    let mut p = b"\x80\x04cpickle\nloads\nq\x00B".to_vec();
    p.extend((inner.len() as u32).to_le_bytes());
    p.extend(inner);
    p.extend(b"q\x010");
    for _ in 0..10_000 {
        p.extend(b"h\x00h\x01\x85R0");
    }
    p.extend(b"N.");
    let (findings, targets) = Scanner::default().scan_bytes("many.pkl", &p);
    let nested: Vec<_> = findings
        .iter()
        .filter(|f| f.location.member.is_some())
        .collect();
    assert_eq!(nested.len(), 1, "{nested:?}");
    assert!(nested[0].title.contains("os.system"));
    assert!(targets.len() < 10, "one target per distinct payload");
}

/// Inputs the fuzzers found slow or crashing (`fuzz/regressions`, first byte picks the file name as
/// the `scan` target does) finish with a report.
#[test]
fn fuzz_regressions_finish() {
    const NAMES: &[&str] = &[
        "m.pkl", "m.pt", "m.joblib", "m.npy", "m.npz", "m.tar", "m.7z", "m.bin", "m.gz", "noext",
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut ran = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/regressions") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let data = std::fs::read(&path).unwrap();
            let Some((&sel, rest)) = data.split_first() else {
                continue;
            };
            let (_, targets) =
                Scanner::default().scan_bytes(NAMES[usize::from(sel) % NAMES.len()], rest);
            assert!(!targets.is_empty(), "{}", path.display());
            ran += 1;
        }
    }
    assert!(ran > 0);
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A stored (uncompressed) zip of `(name, data)` members.
fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = u32::try_from(out.len()).unwrap();
        let (crc, len, name_len) = (
            crc32(data),
            u32::try_from(data.len()).unwrap(),
            u16::try_from(name.len()).unwrap(),
        );
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend(crc.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(len.to_le_bytes());
        out.extend(name_len.to_le_bytes());
        out.extend([0, 0]);
        out.extend(name.as_bytes());
        out.extend(*data);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        central.extend(crc.to_le_bytes());
        central.extend(len.to_le_bytes());
        central.extend(len.to_le_bytes());
        central.extend(name_len.to_le_bytes());
        central.extend([0; 12]);
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let cd_offset = u32::try_from(out.len()).unwrap();
    let count = u16::try_from(members.len()).unwrap();
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0, 0, 0, 0]);
    out.extend(count.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend(u32::try_from(central.len()).unwrap().to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend([0, 0]);
    out
}

#[test]
fn an_archive_repeated_inside_a_file_is_opened_once() {
    // The same inner archive under two names: opened once, its finding reported once. Without the
    // de-duplication, N copies nested D deep cost N^D.
    let payload = b"cos\nsystem\n(S'true'\ntR.";
    let inner = stored_zip(&[("p.pkl", payload)]);
    let outer = stored_zip(&[("a.zip", &inner), ("b.zip", &inner)]);
    let (findings, targets) = Scanner::default().scan_bytes("outer.zip", &outer);
    let calls: Vec<_> = findings
        .iter()
        .filter(|f| f.rule.as_str() == "MS102")
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        targets.iter().any(|t| t.format == "duplicate"),
        "{targets:?}"
    );
}

#[test]
fn bound_methods_of_library_objects_are_values_not_calls() {
    // torch 1.x pickles OneCycleLR.anneal_func as getattr(scheduler, '_annealing_cos').
    let benign = b"\x80\x02cbuiltins\ngetattr\nq\x00ctorch.optim.lr_scheduler\nOneCycleLR\nq\x01)\x81q\x02}q\x03bX\x0e\x00\x00\x00_annealing_cos\x86R.";
    assert!(
        findings(benign)
            .iter()
            .all(|f| f.severity < Severity::Medium),
        "{:?}",
        findings(benign)
    );
    // The same shape on an object of an unknown class, or fetching a dunder, is still getattr.
    let unknown = b"\x80\x02cbuiltins\ngetattr\nq\x00cevil\nThing\nq\x01)\x81q\x02}q\x03bX\x06\x00\x00\x00methodq\x04\x86R.";
    assert!(
        findings(unknown)
            .iter()
            .any(|f| f.severity == Severity::Critical)
    );
    let dunder = b"\x80\x02cbuiltins\ngetattr\nq\x00ctorch.optim.lr_scheduler\nOneCycleLR\nq\x01)\x81q\x02}q\x03bX\x09\x00\x00\x00__class__\x86R.";
    assert!(
        findings(dunder)
            .iter()
            .any(|f| f.severity == Severity::Critical)
    );
}
