use super::*;

pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `marshal.dumps((lambda x: x * 2).__code__)` from CPython 3.11.
pub(crate) const PY311_TIMES2: &str = "e30100000000000000000000000200000003000000f30c00000097007c0064017a050000530029024ee902000000a900a901da0178730100000020fa073c737464696e3efa083c6c616d6264613e720700000002000000730a00000080008861902189658000f300000000";
/// `lambda x: __import__('os').system('echo aisec-fixture') or x`, CPython 3.11.
pub(crate) const PY311_OS: &str = "e30100000000000000000000000300000003000000f34a00000097007401000000000000000000006401a6010000ab010000000000000000a00100000000000000000000000000000000000000006402a6010000ab01000000000000000070017c00530029034eda026f73fa126563686f2061697365632d666978747572652902da0a5f5f696d706f72745f5fda0673797374656da901da0178730100000020fa073c737464696e3efa083c6c616d6264613e720900000005000000732200000080008d6a9814d10e1ed40e1ed70e25d20e25d0263ad10e3bd40e3bd00e40b8718000f300000000";
// Hand-assembled layouts (tests/formats/keras/marshal_layouts.py), names (tf, reduce_mean).
pub(crate) const PY2_MATH: &str = "6301000000010000000300000043000000730a0000007400006401008301005328010000004e280200000074020000007466740b0000007265647563655f6d65616e28010000007401000000782800000000280000000074070000003c737464696e3e74080000003c6c616d6264613e0100000073020000000001";
pub(crate) const PY30_MATH: &str = "e30100000000000000010000000300000043000000730a0000007400006401008301005329014e29027a0274667a0b7265647563655f6d65616e29017a0178a90072010000007a073c737464696e3e7a083c6c616d6264613e0100000073020000000001";
pub(crate) const PY38_MATH: &str = "e3010000000000000000000000010000000300000043000000730a0000007400006401008301005329014e29027a0274667a0b7265647563655f6d65616e29017a0178a90072010000007a073c737464696e3e7a083c6c616d6264613e0100000073020000000001";
pub(crate) const PY312_MATH: &str = "e30100000000000000000000000300000003000000730a0000007400006401008301005329014e29027a0274667a0b7265647563655f6d65616e29017a01787301000000207a073c737464696e3e7a083c6c616d6264613e7a083c6c616d6264613e01000000730200000080007300000000";
/// 3.8 layout: a lambda calling `helper`, with a nested function `inner` using os.system.
pub(crate) const PY38_NESTED: &str = "e3010000000000000000000000010000000300000043000000730a0000007400006401008301005329024e63010000000000000000000000010000000300000043000000730a0000007400006401008301005329024e7a126563686f2061697365632d6669787475726529027a026f737a0673797374656d29017a0178290029007a073c737464696e3e7a05696e6e6572010000007302000000000129017a0668656c70657229017a0178a90072010000007a073c737464696e3e7a083c6c616d6264613e0100000073020000000001";
/// Python 2 layout with an `R` string reference: names (eval, eval), const "1+1".
pub(crate) const PY2_EVAL: &str = "6301000000010000000300000043000000730a0000007400006401008301005328020000004e7303000000312b31280200000074040000006576616c520000000028010000007401000000782800000000280000000074070000003c737464696e3e74080000003c6c616d6264613e0100000073020000000001";

#[test]
fn reads_cpython_311_code() {
    let (v, layout) = load_code(&hex(PY311_OS)).unwrap();
    assert_eq!(layout, Layout::Py311);
    let u = usage(&v);
    assert_eq!(u.names, ["__import__", "system"]);
    assert!(u.strings.contains(&"os".to_owned()));
    assert!(u.strings.contains(&"echo aisec-fixture".to_owned()));
    assert_eq!(u.functions, ["<lambda>"]);
    assert_eq!(u.filename.as_deref(), Some("<stdin>"));
    let (v, _) = load_code(&hex(PY311_TIMES2)).unwrap();
    assert!(usage(&v).names.is_empty());
}

#[test]
fn detects_each_layout() {
    for (h, want) in [
        (PY2_MATH, Layout::Py2),
        (PY30_MATH, Layout::Py30),
        (PY38_MATH, Layout::Py38),
        (PY312_MATH, Layout::Py311),
    ] {
        let (v, layout) = load_code(&hex(h)).unwrap();
        assert_eq!(layout, want, "{h}");
        assert_eq!(usage(&v).names, ["tf", "reduce_mean"]);
    }
}

#[test]
fn nested_code_and_string_refs() {
    let (v, layout) = load_code(&hex(PY38_NESTED)).unwrap();
    assert_eq!(layout, Layout::Py38);
    let u = usage(&v);
    assert_eq!(u.functions, ["<lambda>", "inner"]);
    assert_eq!(u.names, ["helper", "os", "system"]);
    let (v, _) = load_code(&hex(PY2_EVAL)).unwrap();
    let u = usage(&v);
    assert_eq!(u.names, ["eval"]);
    assert_eq!(u.strings, ["1+1"]);
}

#[test]
fn malformed_input_is_an_error() {
    let full = hex(PY311_OS);
    for cut in 0..full.len() {
        assert!(load_code(&full[..cut]).is_err(), "cut {cut}");
    }
    assert!(matches!(load_code(b"N"), Err(Error::NotCode("None"))));
    assert!(matches!(
        load_code(b"\x01"),
        Err(Error::UnknownType { code: 1, .. })
    ));
    // Negative and oversized lengths, bad references, code fields of the wrong type.
    assert!(matches!(
        loads(b"s\xff\xff\xff\xff", Layout::Py311),
        Err(Error::BadLength { .. })
    ));
    assert!(matches!(
        loads(b"(\xff\xff\xff\x7f", Layout::Py311),
        Err(Error::BadLength { .. })
    ));
    assert!(matches!(
        loads(b"l\x00\x00\x00\x80", Layout::Py311),
        Err(Error::BadLength { .. })
    ));
    assert!(matches!(
        loads(b"r\x05\x00\x00\x00", Layout::Py311),
        Err(Error::BadRef { .. })
    ));
    assert!(matches!(
        loads(b"R\x00\x00\x00\x00", Layout::Py2),
        Err(Error::BadRef { .. })
    ));
    let mut bad = hex(PY38_MATH);
    bad[25] = b'N'; // bytecode is not bytes
    assert!(load_code(&bad).is_err());
}

#[test]
fn self_reference_and_depth_are_bounded() {
    // A tuple that holds a reference to itself reads as pending, not as a cycle.
    let v = loads(b"\xa8\x01\x00\x00\x00r\x00\x00\x00\x00", Layout::Py311).unwrap();
    assert!(matches!(&*v, Value::Seq(items) if matches!(*items[0], Value::Pending)));
    let deep = [b")\x01".repeat(MAX_DEPTH + 5), b"N".to_vec()].concat();
    assert!(matches!(loads(&deep, Layout::Py311), Err(Error::TooDeep)));
    // Shared references: each tuple refers twice to the one before, 2^40 paths in all.
    let mut chain = b"[\x29\x00\x00\x00\xa9\x02NN".to_vec();
    for k in 0..40i32 {
        chain.extend_from_slice(&[0xa9, 0x02]);
        for _ in 0..2 {
            chain.push(b'r');
            chain.extend_from_slice(&k.to_le_bytes());
        }
    }
    let v = loads(&chain, Layout::Py311).unwrap();
    let u = usage(&v);
    assert!(u.truncated);
}

#[test]
fn other_types_read() {
    for data in [
        &b"\xe9\x07\x00\x00\x00"[..],
        b"I\x01\x00\x00\x00\x00\x00\x00\x00",
        b"f\x031.5",
        b"g\x00\x00\x00\x00\x00\x00\xf8\x3f",
        b"x\x011\x012",
        b"y\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        b"l\x02\x00\x00\x00\x01\x00\x02\x00",
        b"{z\x01aT0",
        b"<\x01\x00\x00\x00F",
        b">\x00\x00\x00\x00",
        b"[\x01\x00\x00\x00S",
        b"u\x02\x00\x00\x00\xc3\xa9",
        b"a\x01\x00\x00\x00a",
        b"A\x01\x00\x00\x00a",
        b"Z\x01a",
        b"t\x01\x00\x00\x00a",
        b":NN.",
    ] {
        assert!(loads(data, Layout::Py311).is_ok(), "{data:?}");
    }
}

#[test]
fn base64_like_python() {
    assert_eq!(a2b_base64(b"aGVsbG8="), Some(b"hello".to_vec()));
    assert_eq!(a2b_base64(b"aGVs\nbG8=\n"), Some(b"hello".to_vec()));
    assert_eq!(a2b_base64(b"aGVsbG8=trailing"), Some(b"hello".to_vec()));
    assert_eq!(a2b_base64(b"a*G*V*s"), Some(b"hel".to_vec()));
    assert_eq!(a2b_base64(b"aGVsbG8"), None);
    assert_eq!(a2b_base64(b"a"), None);
    assert_eq!(code_bytes_from_str("aGVsbG8="), b"hello");
    // Not base64: the raw_unicode_escape bytes of the string.
    assert_eq!(code_bytes_from_str("c\u{1}\u{3a9}"), b"c\x01\\u03a9");
    assert_eq!(code_bytes_from_str("abcde"), b"abcde");
}

#[test]
fn fuzz_entry_never_panics() {
    for data in [&hex(PY311_OS)[..], b"", b"\xe3", b"{{{{", b"\xff\xff"] {
        let _ = fuzz(data);
    }
}
