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
