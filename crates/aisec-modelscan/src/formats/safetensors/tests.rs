//! Hand-built headers for every check. Expectations about what the reference loader accepts were
//! taken from the `safetensors` 0.8 Python package on the same bytes.

use std::fmt::Write;

use super::*;

fn file(header: &str, body: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend(header.as_bytes());
    v.extend(body);
    v
}

fn run(data: &[u8]) -> Outcome<'static> {
    let data: &'static [u8] = Box::leak(data.to_vec().into_boxed_slice());
    let env = Env {
        disk_path: None,
        name: "t.safetensors",
    };
    analyse(data, &env)
}

fn rules(out: &Outcome<'_>) -> Vec<&'static str> {
    let mut r: Vec<_> = out.issues.iter().map(|i| i.rule).collect();
    r.sort_unstable();
    r.dedup();
    r
}

fn max_severity(out: &Outcome<'_>) -> Option<Severity> {
    out.issues
        .iter()
        .map(|i| {
            i.severity.unwrap_or_else(|| {
                RULES
                    .iter()
                    .find(|r| r.id == i.rule)
                    .map_or(Severity::Critical, |r| r.severity)
            })
        })
        .max()
}

const A: &str = r#""a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}"#;
const B: &str = r#""b":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}"#;

fn two() -> Vec<u8> {
    file(&format!("{{{A},{B}}}"), &[0; 8])
}

#[test]
fn benign_files_are_clean() {
    let good = two();
    assert!(detect(&good));
    let out = run(&good);
    assert!(out.issues.is_empty(), "{:?}", out.issues);
    assert!(out.not_analysed.is_none() && out.nested.is_empty());
    // Metadata, padding, every dtype family, scalars, empty tensors, sub-byte types.
    let h = r#"{"__metadata__":{"format":"pt"},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"e":{"dtype":"F16","shape":[0,3],"data_offsets":[4,4]},"f4":{"dtype":"F4","shape":[2,3],"data_offsets":[4,7]},"f6":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[7,10]},"c":{"dtype":"C64","shape":[1],"data_offsets":[10,18]},"z":{"dtype":"F8_E8M0","shape":[2],"data_offsets":[18,20]}}   "#;
    let f = file(h, &[0; 20]);
    assert!(detect(&f));
    let out = run(&f);
    assert!(out.issues.is_empty(), "{:?}", out.issues);
    // No tensors at all.
    let f = file("{}      ", &[]);
    assert!(detect(&f));
    assert!(run(&f).issues.is_empty());
}

#[test]
fn detection_is_strict() {
    assert!(!detect(b""));
    assert!(!detect(b"\x02\0\0\0\0\0\0\0{"));
    // JSON text whose ninth byte is a brace.
    assert!(!detect(br#"{"aaa": {"b": 1}}"#));
    // A length prefix that fits but no object.
    assert!(!detect(&file("[1, 2]", &[])));
    assert!(!detect(&file("{1: 2}", &[])));
    // Leading whitespace is what the loader skips too.
    assert!(detect(&file(&format!("  \n{{{A}}}"), &[0; 4])));
    // Implausible prefixes count when the rest looks like a header...
    let mut big = u64::MAX.to_le_bytes().to_vec();
    big.extend(br#"{"a":{}}"#);
    assert!(detect(&big));
    // ...unless the file is a pickle.
    let mut p = b"\x80\x04\x95\x10\0\0\0\0".to_vec();
    p.extend(br#"{"a":1}"#);
    assert!(!detect(&p));
}

#[test]
fn header_size_and_bounds() {
    let mut f = 200_000_000u64.to_le_bytes().to_vec();
    f.extend(br#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#);
    let out = run(&f);
    assert_eq!(rules(&out), ["MS700"]);
    assert!(out.not_analysed.is_some());
    let mut f = 100u64.to_le_bytes().to_vec();
    f.extend(br#"{"a":{"dtype":"U8"}}"#);
    let out = run(&f);
    assert_eq!(rules(&out), ["MS701"]);
    assert!(out.not_analysed.is_some());
}

#[test]
fn header_not_json() {
    for h in [
        format!("{{{A}}}\0\0"),
        format!("{{{A}}}xx"),
        r#"{"a":{"dtype":"U8",}}"#.to_owned(),
    ] {
        assert_eq!(rules(&run(&file(&h, &[0; 4]))), ["MS702"], "{h}");
    }
    let mut bad = file(&format!("{{{A}}}"), &[0; 4]);
    bad[10] = 0xff;
    assert_eq!(rules(&run(&bad)), ["MS702"]);
}

#[test]
fn nesting_limit_matches_serde_json() {
    // The loader accepts 127 levels in total and refuses 128.
    let deep = |k: usize| {
        format!(
            r#"{{"a":{{"dtype":"U8","shape":[4],"data_offsets":[0,4],"z":{}{}}}}}"#,
            "[".repeat(k),
            "]".repeat(k)
        )
    };
    let ok = run(&file(&deep(125), &[0; 4]));
    assert_eq!(rules(&ok), ["MS715"]);
    assert_eq!(rules(&run(&file(&deep(126), &[0; 4]))), ["MS702"]);
}

#[test]
fn metadata_must_be_strings() {
    for m in [
        r#"{"x":1}"#,
        r#"{"x":{"y":"z"}}"#,
        r#"{"x":null}"#,
        r#"["x"]"#,
        r#""x""#,
        "7",
    ] {
        let h = format!(r#"{{"__metadata__":{m},{A}}}"#);
        let out = run(&file(&h, &[0; 4]));
        assert_eq!(rules(&out), ["MS703"], "{m}");
        assert_eq!(max_severity(&out), Some(Severity::High));
    }
    // null metadata is accepted: low only.
    let out = run(&file(&format!(r#"{{"__metadata__":null,{A}}}"#), &[0; 4]));
    assert_eq!(rules(&out), ["MS716"]);
    assert_eq!(max_severity(&out), Some(Severity::Low));
}

#[test]
fn tensor_entries_are_checked() {
    let cases = [
        (r#""a":{"shape":[4],"data_offsets":[0,4]}"#, "MS704"),
        (
            r#""a":{"dtype":"U8","dtype":"I8","shape":[4],"data_offsets":[0,4]}"#,
            "MS704",
        ),
        (
            r#""a":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}"#,
            "MS704",
        ),
        (
            r#""a":{"dtype":"U8","shape":[4.0],"data_offsets":[0,4]}"#,
            "MS704",
        ),
        (
            r#""a":{"dtype":"U8","shape":["4"],"data_offsets":[0,4]}"#,
            "MS704",
        ),
        (
            r#""a":{"dtype":"U8","shape":[4],"data_offsets":[0,4,4]}"#,
            "MS704",
        ),
        (
            r#""a":{"dtype":"U8","shape":[4],"data_offsets":[0,18446744073709551616]}"#,
            "MS704",
        ),
        (r#""a":true"#, "MS704"),
        (r#""a":["U8",[4]]"#, "MS704"),
        (
            r#""a":{"dtype":"f32","shape":[4],"data_offsets":[0,4]}"#,
            "MS705",
        ),
        (
            r#""a":{"dtype":"F8_E4M3FN","shape":[4],"data_offsets":[0,4]}"#,
            "MS705",
        ),
        (
            r#""a":{"dtype":{"U8":[]},"shape":[4],"data_offsets":[0,4]}"#,
            "MS704",
        ),
    ];
    for (entry, rule) in cases {
        let out = run(&file(&format!("{{{entry}}}"), &[0; 4]));
        assert!(rules(&out).contains(&rule), "{entry}: {:?}", out.issues);
        assert_eq!(max_severity(&out), Some(Severity::High), "{entry}");
    }
}

#[test]
fn accepted_quirks_are_followed_and_reported() {
    // An array entry and a dtype as a map are what the loader accepts; their layout is still checked.
    let h = r#"{"a":["U8",[4],[0,4]],"b":{"dtype":{"U8":null},"shape":[4],"data_offsets":[2,6]}}"#;
    let out = run(&file(h, &[0; 6]));
    let r = rules(&out);
    assert!(r.contains(&"MS716") && r.contains(&"MS708"), "{r:?}");
    // Escaped keys decode before comparison: this is metadata, and a duplicate name.
    let h = r#"{"__metadata\u005f_":{"format":"pt"},"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"\u0061":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#;
    let out = run(&file(h, &[0; 4]));
    assert_eq!(rules(&out), ["MS712", "MS716"]);
    assert!(out.issues.iter().all(|i| i.rule != "MS703"));
}

#[test]
fn sizes_follow_the_loader() {
    let f = |dtype: &str, shape: &str, end: u64| {
        let h =
            format!(r#"{{"a":{{"dtype":"{dtype}","shape":{shape},"data_offsets":[0,{end}]}}}}"#);
        rules(&run(&file(&h, &vec![0; usize::try_from(end).unwrap()])))
    };
    assert!(f("F4", "[2]", 1).is_empty());
    assert_eq!(f("F4", "[3]", 2), ["MS707"]);
    assert_eq!(f("F6_E3M2", "[2]", 2), ["MS707"]);
    assert!(f("F6_E3M2", "[8]", 6).is_empty());
    assert_eq!(f("F32", "[4]", 4), ["MS707"]);
    assert_eq!(f("U8", "[4294967296,4294967296]", 4), ["MS706"]);
    assert_eq!(f("C64", "[2305843009213693952]", 0), ["MS706"]);
    // The loader multiplies left to right: a zero first keeps the product at zero...
    assert_eq!(
        f("U8", "[0,4294967296,4294967296,4294967296]", 0),
        ["MS717"]
    );
    // ...a zero last does not.
    assert_eq!(f("U8", "[4294967296,4294967296,0]", 0), ["MS706"]);
    let rank65 = format!("[{}]", vec!["1"; 65].join(","));
    assert_eq!(f("U8", &rank65, 1), ["MS717"]);
}

#[test]
fn layout_overlaps_gaps_and_bounds() {
    let lay = |a: (u64, u64), b: (u64, u64), body: usize| {
        let h = format!(
            r#"{{"a":{{"dtype":"U8","shape":[{}],"data_offsets":[{},{}]}},"b":{{"dtype":"U8","shape":[{}],"data_offsets":[{},{}]}}}}"#,
            a.1.saturating_sub(a.0),
            a.0,
            a.1,
            b.1.saturating_sub(b.0),
            b.0,
            b.1
        );
        run(&file(&h, &vec![7; body]))
    };
    assert_eq!(rules(&lay((0, 4), (3, 7), 7)), ["MS708"]);
    assert_eq!(rules(&lay((0, 4), (0, 4), 4)), ["MS708"]);
    let gap = lay((0, 4), (6, 8), 8);
    assert_eq!(rules(&gap), ["MS709"]);
    assert_eq!(gap.nested.len(), 1);
    assert_eq!(&*gap.nested[0].data, &[7, 7]);
    assert_eq!(rules(&lay((0, 4), (4, 8), 6)), ["MS710"]);
    let trailing = lay((0, 4), (4, 8), 12);
    assert_eq!(rules(&trailing), ["MS711"]);
    assert_eq!(trailing.nested[0].name, "<trailing bytes>");
    // Reversed range: reported, no panic on the subtraction.
    let h = r#"{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#;
    assert!(rules(&run(&file(h, &[0; 4]))).contains(&"MS708"));
    // A huge offset does not overflow the arithmetic.
    let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[18446744073709551615,4]}}"#;
    let r = rules(&run(&file(h, &[0; 4])));
    assert!(r.contains(&"MS708"), "{r:?}");
}

#[test]
fn duplicates_are_high() {
    let h = format!("{{{A},{A},{B}}}");
    let out = run(&file(&h, &[0; 8]));
    assert_eq!(rules(&out), ["MS712"]);
    assert_eq!(max_severity(&out), Some(Severity::High));
    // Last definition wins for the layout, as in the loader.
    let h = format!(r#"{{"a":{{"dtype":"U8","shape":[2],"data_offsets":[0,2]}},{A}}}"#);
    assert_eq!(rules(&run(&file(&h, &[0; 4]))), ["MS712"]);
    let h = format!(r#"{{"__metadata__":{{"x":"1","x":"2"}},{A}}}"#);
    assert_eq!(rules(&run(&file(&h, &[0; 4]))), ["MS712"]);
    let h = format!(r#"{{"__metadata__":{{}},"__metadata__":{{}},{A}}}"#);
    assert_eq!(rules(&run(&file(&h, &[0; 4]))), ["MS712"]);
}

#[test]
fn unknown_fields_are_medium() {
    let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4],"note":"hi"}}"#;
    let out = run(&file(h, &[0; 4]));
    assert_eq!(rules(&out), ["MS715"]);
    assert_eq!(max_severity(&out), Some(Severity::Medium));
}

#[test]
fn payloads_in_strings_and_tensors_are_handed_over() {
    // base64 of a protocol-4 pickle (`None`), in metadata and in an unknown field.
    let h = r#"{"__metadata__":{"cfg":"gASVBQAAAAAAAABOLg=="},"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4],"x":"cposix\nsystem\n(S'echo aisec-fixture'\ntR."}}"#;
    let out = run(&file(h, &[0; 4]));
    assert_eq!(rules(&out), ["MS714", "MS715"]);
    assert_eq!(out.nested.len(), 2);
    // A tensor whose bytes are a pickle.
    let pkl = b"\x80\x02cposix\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03.";
    let h = format!(
        r#"{{"a":{{"dtype":"U8","shape":[4],"data_offsets":[0,4]}},"p":{{"dtype":"U8","shape":[{}],"data_offsets":[4,{}]}}}}"#,
        pkl.len(),
        4 + pkl.len()
    );
    let mut body = vec![0; 4];
    body.extend(pkl);
    let out = run(&file(&h, &body));
    assert_eq!(rules(&out), ["MS714"]);
    assert_eq!(out.nested[0].ext.as_deref(), Some("pkl"));
}

#[test]
fn polyglots_are_handed_over() {
    // A body that is a zip (stored, one member), readable from the end of the file.
    let zip: &[u8] = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0\xe2\x1e\x97\x83\x01\0\0\0\x01\0\0\0\x01\0\0\0ax\
PK\x01\x02\x14\0\x14\0\0\0\0\0\0\0\0\0\xe2\x1e\x97\x83\x01\0\0\0\x01\0\0\0\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0a\
PK\x05\x06\0\0\0\0\x01\0\x01\0\x2f\0\0\0\x20\0\0\0\0\0";
    let h = format!(
        r#"{{"z":{{"dtype":"U8","shape":[{}],"data_offsets":[0,{}]}}}}"#,
        zip.len(),
        zip.len()
    );
    let out = run(&file(&h, zip));
    assert_eq!(rules(&out), ["MS713"]);
    assert_eq!(out.nested[0].name, "<body>");
    // A zip appended after the tensors is trailing data, handed over once.
    let mut f = two();
    f.extend(zip);
    let out = run(&f);
    assert_eq!(rules(&out), ["MS711"]);
    assert_eq!(out.nested.len(), 1);
}

#[test]
fn random_weights_are_not_payloads() {
    // Bytes that start like pickle opcodes (`N.`) or a two-byte magic are ordinary weights.
    for start in [&b"N.\0\0"[..], b"\x1f\x8b\x08\0", b"\x80\x02\0\0", b"BZh9"] {
        let mut body = start.to_vec();
        body.extend([0u8; 4]);
        let f = file(&format!("{{{A},{B}}}"), &body);
        let out = run(&f);
        assert!(out.issues.is_empty() && out.nested.is_empty(), "{start:?}");
    }
}

#[test]
fn too_many_tensors_is_bounded() {
    let mut h = String::from("{");
    for i in 0..header::MAX_TENSORS + 3 {
        if i > 0 {
            h.push(',');
        }
        let _ = write!(h, r#""{i}":["U8",[0],[0,0]]"#);
    }
    h.push('}');
    let out = run(&file(&h, &[]));
    assert!(rules(&out).contains(&"MS718"));
    assert!(out.not_analysed.is_some());
}

#[test]
fn arbitrary_bytes_do_not_panic() {
    let seeds = [two(), file(&format!("{{{A}}}"), &[0; 4])];
    for s in &seeds {
        for cut in 0..s.len() {
            let _ = fuzz(&s[..cut]);
        }
        for i in 0..s.len() {
            let mut m = s.clone();
            m[i] ^= 0xa5;
            let _ = fuzz(&m);
        }
    }
}
