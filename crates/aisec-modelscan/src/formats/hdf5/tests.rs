//! Unit tests of the HDF5 reader and analysis, over hand-built files and the generated fixtures.

use super::*;
use crate::limits::Limits;

const UNDEF: u64 = u64::MAX;
/// Where [`file`] places its extra bytes.
const EXTRA: u64 = 0x400;

fn env_for(_limits: &Limits) -> Env<'_> {
    Env {
        disk_path: None,
        name: "t.h5",
    }
}

/// Analyses a copy of `data` that lives as long as the test (leaked; tests are short).
fn run(data: &[u8]) -> Outcome<'static> {
    let data: &'static [u8] = Box::leak(data.to_vec().into_boxed_slice());
    let limits = Limits::default();
    analyse(data, &env_for(&limits))
}

fn rules(out: &Outcome<'_>) -> Vec<&'static str> {
    out.issues.iter().map(|i| i.rule).collect()
}

fn max_severity(out: &Outcome<'_>) -> Option<Severity> {
    out.issues
        .iter()
        .map(|i| {
            i.severity.unwrap_or_else(|| {
                RULES
                    .iter()
                    .find(|r| r.id == i.rule)
                    .map_or(Severity::Info, |r| r.severity)
            })
        })
        .max()
}

/// One message of a v2 object header: type, body.
fn msg(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u16).to_le_bytes());
    m.push(0);
    m.extend_from_slice(body);
    m
}

/// A v2 object header holding `msgs`.
fn ohdr(msgs: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = msgs.concat();
    let mut h = b"OHDR".to_vec();
    h.push(2);
    h.push(0x02); // chunk size in 4 bytes
    h.extend_from_slice(&(body.len() as u32).to_le_bytes());
    h.extend_from_slice(&body);
    h.extend_from_slice(&[0; 4]);
    h
}

/// A superblock-v2 file whose root object header holds `msgs`, with `extra` at address 0x400.
fn file(msgs: &[Vec<u8>], extra: &[u8]) -> Vec<u8> {
    let root = ohdr(msgs);
    let mut f = b"\x89HDF\r\n\x1a\n".to_vec();
    f.extend_from_slice(&[2, 8, 8, 0]);
    f.extend_from_slice(&0u64.to_le_bytes());
    f.extend_from_slice(&UNDEF.to_le_bytes());
    let eof_at = f.len();
    f.extend_from_slice(&0u64.to_le_bytes());
    f.extend_from_slice(&48u64.to_le_bytes());
    f.extend_from_slice(&[0; 4]);
    assert_eq!(f.len(), 48);
    f.extend_from_slice(&root);
    assert!(
        f.len() <= EXTRA as usize,
        "root header too large for the test layout"
    );
    if !extra.is_empty() {
        f.resize(EXTRA as usize, 0);
        f.extend_from_slice(extra);
    }
    let eof = f.len() as u64;
    f[eof_at..eof_at + 8].copy_from_slice(&eof.to_le_bytes());
    f
}

fn scalar_space() -> Vec<u8> {
    vec![2, 0, 0, 0]
}

/// An attribute message (version 3) with the given datatype, dataspace and value.
fn attr(name: &str, dtype: &[u8], space: &[u8], value: &[u8]) -> Vec<u8> {
    let mut a = vec![3, 0];
    a.extend_from_slice(&((name.len() + 1) as u16).to_le_bytes());
    a.extend_from_slice(&(dtype.len() as u16).to_le_bytes());
    a.extend_from_slice(&(space.len() as u16).to_le_bytes());
    a.push(0);
    a.extend_from_slice(name.as_bytes());
    a.push(0);
    a.extend_from_slice(dtype);
    a.extend_from_slice(space);
    a.extend_from_slice(value);
    msg(0x0C, &a)
}

fn fixed_string(size: usize, pad: u8) -> Vec<u8> {
    let mut d = vec![0x13, pad, 0, 0];
    d.extend_from_slice(&(size as u32).to_le_bytes());
    d
}

fn string_attr(name: &str, text: &[u8]) -> Vec<u8> {
    attr(name, &fixed_string(text.len(), 1), &scalar_space(), text)
}

fn local_heap(at: u64, data: &[u8]) -> Vec<u8> {
    let mut h = b"HEAP".to_vec();
    h.extend_from_slice(&[0; 4]);
    h.extend_from_slice(&(data.len() as u64).to_le_bytes());
    h.extend_from_slice(&UNDEF.to_le_bytes());
    h.extend_from_slice(&(at + 32).to_le_bytes());
    h.extend_from_slice(data);
    h
}

const PICKLE: &[u8] = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x04echo\x94\x85\x94R\x94.";

#[test]
fn detects_signature_at_power_of_two_offsets() {
    let f = file(&[], &[]);
    assert!(detect(&f));
    for ub in [512usize, 1024, 4096] {
        let mut g = vec![0u8; ub];
        g.extend_from_slice(&f);
        assert!(detect(&g), "user block of {ub}");
    }
    let mut g = vec![0u8; 100];
    g.extend_from_slice(&f);
    assert!(!detect(&g));
    assert!(!detect(b"\x89HDF"));
    assert!(!detect(b""));
}

#[test]
fn plain_file_is_clean() {
    let out = run(&file(&[string_attr("note", b"hello")], &[]));
    assert!(out.issues.is_empty(), "{:?}", out.issues);
    assert!(out.not_analysed.is_none(), "{:?}", out.not_analysed);
    assert_eq!(out.format, "hdf5");
}

#[test]
fn external_link_is_high() {
    let mut body = vec![1, 0x08, 64, 1, b'w'];
    let info = b"\x00/tmp/evil.h5\x00/model_weights\x00";
    body.extend_from_slice(&(info.len() as u16).to_le_bytes());
    body.extend_from_slice(info);
    let out = run(&file(&[msg(0x06, &body)], &[]));
    assert_eq!(rules(&out), ["MS351"]);
    assert_eq!(out.issues[0].evidence["file"], "/tmp/evil.h5");
    assert_eq!(out.issues[0].evidence["object"], "/model_weights");
    assert_eq!(max_severity(&out), Some(Severity::High));
}

#[test]
fn soft_links_with_dot_dot_are_low_and_user_defined_links_medium() {
    let mut soft = vec![1, 0x08, 1, 1, b's'];
    soft.extend_from_slice(&9u16.to_le_bytes());
    soft.extend_from_slice(b"/../etc/x");
    let mut ud = vec![1, 0x08, 99, 1, b'u'];
    ud.extend_from_slice(&2u16.to_le_bytes());
    ud.extend_from_slice(b"zz");
    let out = run(&file(&[msg(0x06, &soft), msg(0x06, &ud)], &[]));
    assert_eq!(rules(&out), ["MS353", "MS354"]);
    assert_eq!(max_severity(&out), Some(Severity::Medium));
}

#[test]
fn external_raw_storage_names_the_file() {
    let mut heap_data = vec![0u8; 8];
    heap_data.extend_from_slice(b"/etc/passwd\0\0\0\0\0");
    let heap = local_heap(EXTRA, &heap_data);
    let mut efl = vec![1, 0, 0, 0];
    efl.extend_from_slice(&1u16.to_le_bytes());
    efl.extend_from_slice(&1u16.to_le_bytes());
    efl.extend_from_slice(&EXTRA.to_le_bytes());
    for v in [8u64, 0, 4096] {
        efl.extend_from_slice(&v.to_le_bytes());
    }
    let out = run(&file(&[msg(0x07, &efl)], &heap));
    assert_eq!(rules(&out), ["MS350"]);
    assert_eq!(out.issues[0].evidence["files"][0], "/etc/passwd");
    assert_eq!(out.issues[0].evidence["escapes_directory"], true);
}

#[test]
fn continuation_loop_is_a_cycle_finding() {
    // The continuation block at 0x400 continues at itself.
    let mut cont = EXTRA.to_le_bytes().to_vec();
    let inner = msg(0x10, &[EXTRA.to_le_bytes(), 32u64.to_le_bytes()].concat());
    let mut block = b"OCHK".to_vec();
    block.extend_from_slice(&inner);
    block.extend_from_slice(&[0; 4]);
    block.resize(32, 0);
    cont.extend_from_slice(&32u64.to_le_bytes());
    let out = run(&file(&[msg(0x10, &cont)], &block));
    assert_eq!(rules(&out), ["MS391"]);
    assert!(out.not_analysed.is_some());
}

#[test]
fn continuation_past_eof_and_bad_message_size_are_corruption() {
    let cont = [0x7fff_0000u64.to_le_bytes(), 32u64.to_le_bytes()].concat();
    let out = run(&file(&[msg(0x10, &cont)], &[]));
    assert_eq!(rules(&out), ["MS390"]);
    assert_eq!(max_severity(&out), Some(Severity::High));

    let mut f = file(&[string_attr("a", b"x")], &[]);
    // The message size field of the first message of the root header (after the 10-byte prefix).
    f[48 + 10 + 1] = 0xff;
    f[48 + 10 + 2] = 0x7f;
    let out = run(&f);
    assert!(rules(&out).contains(&"MS390"), "{:?}", out.issues);
}

#[test]
fn hard_link_past_eof_is_corruption() {
    let mut body = vec![1, 0, 1, b'g'];
    body.extend_from_slice(&0xdead_beefu64.to_le_bytes());
    let out = run(&file(&[msg(0x06, &body)], &[]));
    assert_eq!(rules(&out), ["MS390"]);
}

#[test]
fn pickle_in_an_opaque_attribute_is_scanned() {
    let mut dt = vec![0x15, 0, 0, 0];
    dt.extend_from_slice(&(PICKLE.len() as u32).to_le_bytes());
    let out = run(&file(&[attr("state", &dt, &scalar_space(), PICKLE)], &[]));
    assert_eq!(rules(&out), ["MS356"]);
    assert_eq!(out.nested.len(), 1);
    assert_eq!(&*out.nested[0].data, PICKLE);
    assert_eq!(out.nested[0].ext.as_deref(), Some("pkl"));
}

#[test]
fn user_block_with_content_is_nested() {
    let f = file(&[], &[]);
    let mut g = PICKLE.to_vec();
    g.resize(512, 0);
    g.extend_from_slice(&f);
    // The recorded end of file counts the user block.
    let eof = g.len() as u64;
    g[512 + 28..512 + 36].copy_from_slice(&eof.to_le_bytes());
    let out = run(&g);
    assert_eq!(rules(&out), ["MS355"]);
    assert_eq!(out.nested[0].name, "<user block>");
    assert_eq!(&*out.nested[0].data, PICKLE);
    assert!(out.not_analysed.is_none());
}

#[test]
fn keras_config_text_reaches_the_keras_analyser() {
    let cfg = br#"{"class_name": "Sequential", "config": {"layers": []}}"#;
    let mut padded = cfg.to_vec();
    padded.extend_from_slice(&[0, 0, 0]);
    let out = run(&file(
        &[
            string_attr("model_config", &padded),
            string_attr("keras_version", b"2.13.1"),
        ],
        &[],
    ));
    assert_eq!(out.format, "keras-h5");
    assert!(out.issues.is_empty(), "{:?}", out.issues);
    // The text handed over is the attribute's value without its padding.
    assert_eq!(trim_string(&padded, 1), cfg);
    let doc = config_json(trim_string(&padded, 1)).expect("JSON");
    assert!(keras::is_config(&doc));
}

#[test]
fn malformed_keras_config_is_medium() {
    let out = run(&file(
        &[
            string_attr("keras_version", b"2.13.1"),
            string_attr("model_config", b"{\"class_name\": \"Sequ"),
        ],
        &[],
    ));
    assert_eq!(rules(&out), ["MS357"]);
    assert_eq!(max_severity(&out), Some(Severity::Medium));
    assert_eq!(out.issues[0].evidence["keras_version"], "2.13.1");
}

#[test]
fn attribute_larger_than_its_message_is_corruption() {
    // 2^40 elements of a 4-byte string in a message of 4 bytes.
    let space = [vec![2, 1, 0, 1], (1u64 << 40).to_le_bytes().to_vec()].concat();
    let out = run(&file(
        &[attr("a", &fixed_string(4, 0), &space, b"abcd")],
        &[],
    ));
    assert_eq!(rules(&out), ["MS390"]);
}

#[test]
fn configs_with_python_nonfinite_numbers_parse() {
    let doc = config_json(br#"{"a": NaN, "b": -Infinity, "c": "NaN in text", "d": [Infinity]}"#)
        .expect("parses as Python's json would");
    assert_eq!(doc["a"], serde_json::Value::Null);
    assert_eq!(doc["c"], "NaN in text");
    assert!(config_json(b"{\"a\": NaNa}").is_err());
}

#[test]
fn string_padding_follows_h5py() {
    assert_eq!(trim_string(b"ab\0cd\0\0", 0), b"ab");
    assert_eq!(trim_string(b"ab\0cd\0\0", 1), b"ab\0cd");
    assert_eq!(trim_string(b"ab  ", 2), b"ab");
}

#[test]
fn vds_mapping_lists_are_read() {
    // Version 0: one entry, file + dataset + two `all` selections.
    let all = [3u32.to_le_bytes(), 1u32.to_le_bytes(), [0; 4], [0; 4]].concat();
    let mut v0 = vec![0];
    v0.extend_from_slice(&1u64.to_le_bytes());
    v0.extend_from_slice(b"/etc/x.h5\0data\0");
    v0.extend_from_slice(&all);
    v0.extend_from_slice(&all);
    let (src, complete) = vds_sources(&v0, 8);
    assert!(complete);
    assert_eq!(src, [("/etc/x.h5".to_owned(), "data".to_owned())]);
    // Version 1: the same-file flag replaces the name.
    let mut v1 = vec![1];
    v1.extend_from_slice(&1u64.to_le_bytes());
    v1.push(4);
    v1.extend_from_slice(b"src\0");
    v1.extend_from_slice(&all);
    v1.extend_from_slice(&all);
    let (src, complete) = vds_sources(&v1, 8);
    assert!(complete);
    assert_eq!(src, [(".".to_owned(), "src".to_owned())]);
    // Garbage is incomplete, never a panic.
    assert!(!vds_sources(&[1, 255, 255], 8).1);
}

#[test]
fn every_truncation_and_byte_flip_is_handled() {
    let f = file(
        &[
            string_attr(
                "model_config",
                br#"{"class_name": "Sequential", "config": {}}"#,
            ),
            msg(0x10, &[EXTRA.to_le_bytes(), 64u64.to_le_bytes()].concat()),
        ],
        &{
            let mut block = b"OCHK".to_vec();
            block.extend_from_slice(&string_attr("x", b"y"));
            block.resize(64, 0);
            block
        },
    );
    for n in 0..f.len() {
        let _ = fuzz(&f[..n]);
    }
    for i in 0..f.len() {
        for v in [0u8, 0xff, 0x80, 1] {
            let mut g = f.clone();
            g[i] = v;
            let _ = fuzz(&g);
        }
    }
}

/// The generated fixtures: benign ones are clean, malicious ones flagged (the Lambda fixtures
/// need the Keras analyser and are only checked to be read).
#[test]
fn fixtures_behave() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/formats/hdf5");
    let Ok(manifest) = std::fs::read_to_string(dir.join("MANIFEST.tsv")) else {
        return;
    };
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let data = std::fs::read(dir.join(cols[0])).expect("fixture");
        let out = run(&data);
        let sev = max_severity(&out);
        if cols[1] == "benign" {
            assert!(
                sev < Some(Severity::Medium),
                "{}: {:?}",
                cols[0],
                out.issues
            );
            assert!(
                out.not_analysed.is_none(),
                "{}: {:?}",
                cols[0],
                out.not_analysed
            );
        } else if cols[2] == "keras-lambda" {
            assert_eq!(out.format, "keras-h5", "{}", cols[0]);
            assert!(
                out.not_analysed.is_none(),
                "{}: {:?}",
                cols[0],
                out.not_analysed
            );
        } else if !matches!(cols[2], "user-block" | "trailing-data" | "attribute-pickle") {
            // The rest are flagged by this analyser itself; pickles by the driver's nested scan.
            assert!(
                sev >= Some(Severity::Medium),
                "{}: {:?}",
                cols[0],
                out.issues
            );
        } else {
            assert!(!out.nested.is_empty(), "{}", cols[0]);
        }
    }
}

/// Inputs the `hdf5` fuzz target found crashing or slow (`tests/formats/hdf5/regressions/*.bin`)
/// finish quickly without a panic.
#[test]
fn fuzz_regressions_finish() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/formats/hdf5/regressions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "bin") {
            let data = std::fs::read(&path).expect("regression input");
            let start = std::time::Instant::now();
            let _ = fuzz(&data);
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "{} is slow",
                path.display()
            );
        }
    }
}

#[test]
fn hdf5_2_0_layout_version_5_is_read() {
    // Written by HDF5 2.0 with libver="latest" (tests/formats/redteam-a/gen_h5_2.py): filtered
    // chunked datasets carry data layout messages of version 5.
    let out = run(include_bytes!(
        "../../../tests/formats/redteam-a/benign/hdf5_2_0_filters_latest.h5"
    ));
    assert!(out.not_analysed.is_none(), "{:?}", out.not_analysed);
    assert!(out.issues.is_empty(), "{:?}", rules(&out));
}
