//! Unit tests over hand-built GGUF bytes.

use super::*;

/// Builds GGUF files field by field.
struct G {
    big: bool,
    version: u32,
    kvs: Vec<Vec<u8>>,
    n_kv: Option<u64>,
    tensors: Vec<Vec<u8>>,
    n_tensors: Option<u64>,
    alignment: usize,
    data: Vec<u8>,
}

impl G {
    fn new() -> Self {
        Self::with(false, 3)
    }
    fn with(big: bool, version: u32) -> Self {
        Self {
            big,
            version,
            kvs: Vec::new(),
            n_kv: None,
            tensors: Vec::new(),
            n_tensors: None,
            alignment: 32,
            data: Vec::new(),
        }
    }
    fn narrow(&self) -> bool {
        self.version == 1
    }
    fn u32(&self, v: u32) -> Vec<u8> {
        if self.big {
            v.to_be_bytes().to_vec()
        } else {
            v.to_le_bytes().to_vec()
        }
    }
    fn u64(&self, v: u64) -> Vec<u8> {
        if self.big {
            v.to_be_bytes().to_vec()
        } else {
            v.to_le_bytes().to_vec()
        }
    }
    fn count(&self, v: u64) -> Vec<u8> {
        if self.narrow() {
            self.u32(u32::try_from(v).unwrap())
        } else {
            self.u64(v)
        }
    }
    fn s(&self, s: &[u8]) -> Vec<u8> {
        let mut v = self.count(s.len() as u64);
        v.extend_from_slice(s);
        v
    }
    fn raw_kv(mut self, key: &str, ty: u32, value: Vec<u8>) -> Self {
        let mut e = self.s(key.as_bytes());
        e.extend(self.u32(ty));
        e.extend(value);
        self.kvs.push(e);
        self
    }
    fn kv_str(self, key: &str, val: &str) -> Self {
        let v = self.s(val.as_bytes());
        self.raw_kv(key, T_STRING, v)
    }
    fn kv_u32(self, key: &str, val: u32) -> Self {
        let v = self.u32(val);
        self.raw_kv(key, T_UINT32, v)
    }
    fn kv_strs(self, key: &str, vals: &[&str]) -> Self {
        let mut v = self.u32(T_STRING);
        v.extend(self.count(vals.len() as u64));
        for s in vals {
            v.extend(self.s(s.as_bytes()));
        }
        self.raw_kv(key, T_ARRAY, v)
    }
    fn kv_fixed_array(self, key: &str, elem: u32, n: u64, elem_size: usize) -> Self {
        let mut v = self.u32(elem);
        v.extend(self.count(n));
        v.extend(vec![0u8; usize::try_from(n).unwrap() * elem_size]);
        self.raw_kv(key, T_ARRAY, v)
    }
    fn tensor(mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> Self {
        let mut e = self.s(name.as_bytes());
        e.extend(self.u32(u32::try_from(dims.len()).unwrap()));
        for &d in dims {
            e.extend(self.count(d));
        }
        e.extend(self.u32(ty));
        e.extend(self.u64(offset));
        self.tensors.push(e);
        self
    }
    /// A tensor placed after the previous ones, with its data.
    fn f32_tensor(self, name: &str, dims: &[u64]) -> Self {
        let bytes = usize::try_from(dims.iter().product::<u64>()).unwrap() * 4;
        let offset = self.data.len() as u64;
        let mut g = self.tensor(name, dims, 0, offset);
        g.data.extend(vec![0u8; bytes]);
        while !g.data.len().is_multiple_of(g.alignment) {
            g.data.push(0);
        }
        g
    }
    fn build(&self) -> Vec<u8> {
        let mut f = b"GGUF".to_vec();
        f.extend(self.u32(self.version));
        f.extend(self.count(self.n_tensors.unwrap_or(self.tensors.len() as u64)));
        f.extend(self.count(self.n_kv.unwrap_or(self.kvs.len() as u64)));
        for kv in &self.kvs {
            f.extend(kv);
        }
        for t in &self.tensors {
            f.extend(t);
        }
        while !f.len().is_multiple_of(self.alignment) {
            f.push(0);
        }
        f.extend(&self.data);
        f
    }
}

/// What an analysis reported, without the borrow of the input.
struct R {
    issues: Vec<Issue>,
    not_analysed: Option<String>,
    format: String,
}

fn run(data: &[u8]) -> R {
    let env = Env {
        disk_path: None,
        name: "m.gguf",
    };
    let o = analyse(data, &env);
    R {
        issues: o.issues,
        not_analysed: o.not_analysed,
        format: o.format,
    }
}

fn rules(o: &R) -> Vec<&'static str> {
    o.issues.iter().map(|i| i.rule).collect()
}

fn severity(i: &Issue) -> Severity {
    i.severity
        .unwrap_or_else(|| RULES.iter().find(|r| r.id == i.rule).unwrap().severity)
}

fn max_severity(o: &R) -> Option<Severity> {
    o.issues.iter().map(severity).max()
}

/// The templates the parser hands to the Jinja analyser: (origin, offset, text).
fn templates(data: &[u8]) -> Vec<(String, usize, String)> {
    let mut p = Parser::new(data);
    p.run();
    p.templates
        .iter()
        .map(|t| {
            (
                t.origin.clone(),
                t.at,
                String::from_utf8_lossy(t.text).into_owned(),
            )
        })
        .collect()
}

fn benign() -> G {
    benign_in(false, 3)
}

fn benign_in(big: bool, version: u32) -> G {
    G::with(big, version)
        .kv_str("general.architecture", "llama")
        .kv_u32("general.alignment", 32)
        .kv_strs("tokenizer.ggml.tokens", &["<s>", "</s>", "{{", "{%"])
        .kv_fixed_array("tokenizer.ggml.scores", T_FLOAT32, 4, 4)
        .kv_fixed_array("tokenizer.ggml.token_type", T_INT32, 4, 4)
        .kv_u32("tokenizer.ggml.bos_token_id", 0)
        .kv_str(
            "tokenizer.chat_template",
            "{% for m in messages %}{{ m['content'] }}{% endfor %}",
        )
        .f32_tensor("token_embd.weight", &[8, 4])
        .f32_tensor("output_norm.weight", &[8])
}

#[test]
fn detects_gguf_in_both_byte_orders_only() {
    assert!(detect(&benign().build()));
    assert!(detect(&benign_in(true, 3).build()));
    assert!(detect(b"GGUF\x01\x00\x00\x00"));
    assert!(!detect(b"GGUF is a file format"));
    assert!(!detect(b"GGUF\0\0\0\0"));
    assert!(!detect(b"GGU"));
    assert!(!detect(b"\x80\x04GGUF"));
}

#[test]
fn benign_file_is_clean_and_analysed() {
    for (big, version) in [(false, 3), (true, 3), (false, 2), (true, 2)] {
        let data = benign_in(big, version).build();
        let o = run(&data);
        assert!(o.issues.is_empty(), "{big} {version}: {:?}", o.issues);
        assert!(o.not_analysed.is_none(), "{:?}", o.not_analysed);
        assert_eq!(o.format, "gguf");
    }
}

#[test]
fn version_1_uses_32_bit_counts() {
    let data = benign_in(true, 1).build();
    let o = run(&data);
    assert_eq!(rules(&o), ["MS621"], "{:?}", o.issues);
    let data = benign_in(false, 1).build();
    let o = run(&data);
    assert_eq!(rules(&o), ["MS621"], "{:?}", o.issues);
    assert!(o.not_analysed.is_none());
    assert_eq!(templates(&data).len(), 1);
}

#[test]
fn templates_reach_the_jinja_analyser_with_their_offsets() {
    let data = benign()
        .kv_str("tokenizer.chat_template.tool_use", "{{ tools }}")
        .kv_strs("tokenizer.chat_templates", &["default", "tool_use"])
        .kv_strs("custom.prompts", &["plain", "{% set x = 1 %}"])
        .kv_str("general.description", "no template here")
        .kv_str("general.note", "{{ ''.__class__ }}")
        .build();
    let t = templates(&data);
    let origins: Vec<&str> = t.iter().map(|(o, _, _)| o.as_str()).collect();
    assert_eq!(
        origins,
        [
            "tokenizer.chat_template",
            "tokenizer.chat_template.tool_use",
            "custom.prompts[1]",
            "general.note"
        ]
    );
    for (_, at, text) in &t {
        assert_eq!(&data[*at..*at + text.len()], text.as_bytes());
    }
    // Vocabulary entries that happen to contain `{{` are not templates.
    assert!(!t.iter().any(|(o, _, _)| o.starts_with("tokenizer.ggml")));
}

#[test]
fn templates_survive_broken_counts() {
    let mut g = G::new().kv_str("tokenizer.chat_template", "{{ cycler.__init__ }}");
    g.n_kv = Some(u64::MAX / 2);
    g.n_tensors = Some(u64::MAX);
    let data = g.build();
    assert_eq!(templates(&data).len(), 1);
    let o = run(&data);
    assert!(rules(&o).contains(&"MS601"));
    // Entries read past the real ones are garbage: nothing but the count (and the template,
    // which the Jinja analyser judges) is reported.
    assert!(
        rules(&o)
            .iter()
            .all(|r| *r == "MS601" || r.starts_with("MS65")),
        "{:?}",
        o.issues
    );
    assert!(rules(&o).contains(&"MS650"), "{:?}", o.issues);
    assert_eq!(max_severity(&o), Some(Severity::Critical));
    assert!(o.not_analysed.is_some());
    // An impossible tensor count does not hide problems of the (complete) metadata.
    let mut g = G::new().kv_u32("general.alignment", 0);
    g.n_tensors = Some(u64::MAX);
    let o = run(&g.build());
    assert!(rules(&o).contains(&"MS609"), "{:?}", o.issues);
}

#[test]
fn absurd_counts_and_lengths_are_high_with_the_number() {
    let header = |n_kv: u64| {
        let mut h = b"GGUF\x03\0\0\0".to_vec();
        h.extend(0u64.to_le_bytes());
        h.extend(n_kv.to_le_bytes());
        h
    };
    // Tensor count.
    let mut g = benign();
    g.n_tensors = Some(0x7fff_ffff_ffff);
    let o = run(&g.build());
    let i = o.issues.iter().find(|i| i.rule == "MS601").expect("MS601");
    assert!(i.evidence["needed_bytes"].as_u64().unwrap() > 1 << 40);
    // String length 2^63.
    let mut bad = header(1);
    bad.extend(8u64.to_le_bytes());
    bad.extend(b"some.key");
    bad.extend(T_STRING.to_le_bytes());
    bad.extend((1u64 << 63).to_le_bytes());
    bad.extend(b"abc");
    let o = run(&bad);
    assert_eq!(rules(&o), ["MS601"]);
    assert_eq!(o.issues[0].evidence["needed_bytes"], json!(1u64 << 63));
    assert!(o.not_analysed.is_some());
    // Array length whose byte size overflows.
    let mut bad = header(1);
    bad.extend(3u64.to_le_bytes());
    bad.extend(b"k.a");
    bad.extend(T_ARRAY.to_le_bytes());
    bad.extend(T_UINT32.to_le_bytes());
    bad.extend((u64::MAX / 2).to_le_bytes());
    let o = run(&bad);
    assert_eq!(rules(&o), ["MS601"]);
    assert_eq!(o.issues[0].evidence["needed_bytes"], json!(u64::MAX));
    // Key length.
    let mut bad = header(1);
    bad.extend(u64::MAX.to_le_bytes());
    let o = run(&bad);
    assert!(rules(&o).contains(&"MS601"), "{:?}", o.issues);
}

#[test]
fn plain_truncation_is_medium_and_not_analysed() {
    let data = benign().build();
    // Cut inside the chat template string.
    let cut = memchr::memmem::find(&data, b"{% for").unwrap() + 3;
    let o = run(&data[..cut]);
    assert_eq!(rules(&o), ["MS600"], "{:?}", o.issues);
    assert_eq!(max_severity(&o), Some(Severity::Medium));
    assert!(o.not_analysed.is_some());
    // Cut inside the header.
    let o = run(&data[..12]);
    assert_eq!(rules(&o), ["MS600"]);
    let o = run(b"GGUF");
    assert!(o.not_analysed.is_some());
    // Every prefix gives an outcome without panicking.
    for n in 0..data.len() {
        let _ = run(&data[..n]);
    }
}

#[test]
fn unknown_version_is_not_analysed() {
    let mut data = benign().build();
    data[4..8].copy_from_slice(&7u32.to_le_bytes());
    let o = run(&data);
    assert_eq!(rules(&o), ["MS600"]);
    assert!(o.not_analysed.is_some());
}

#[test]
fn tensor_shapes_are_checked() {
    for (dims, why) in [
        (&[][..], "0 dimensions"),
        (&[1, 1, 1, 1, 1][..], "5 dimensions"),
        (&[u64::MAX, 1][..], "negative"),
        (&[1 << 40, 1 << 40][..], "overflows"),
        (
            &[1 << 62, 1 << 62, 1 << 62, 1 << 62][..],
            "overflows 128 bits",
        ),
    ] {
        let data = G::new().tensor("t", dims, 0, 0).build();
        let o = run(&data);
        assert!(rules(&o).contains(&"MS602"), "{why}: {:?}", o.issues);
        assert_eq!(max_severity(&o), Some(Severity::High), "{why}");
    }
    // Q4_K (12) needs the first dimension to be a multiple of 256.
    let o = run(&G::new().tensor("q", &[100, 2], 12, 0).build());
    assert_eq!(rules(&o), ["MS602"]);
    // n_dims = 2^32-1: the dimensions cannot be in the file.
    let mut g = G::new();
    let mut e = g.s(b"t");
    e.extend(g.u32(u32::MAX));
    g.tensors.push(e);
    let o = run(&g.build());
    assert!(rules(&o).contains(&"MS601"), "{:?}", o.issues);
}

#[test]
fn tensor_types_are_checked() {
    let o = run(&G::new().tensor("t", &[32], 4242, 0).build());
    assert_eq!(rules(&o), ["MS603"]);
    let o = run(&G::new().tensor("t", &[32], 4, 0).build());
    assert_eq!(rules(&o), ["MS603"]);
    // A removed type is low; its data is accounted for.
    let mut g = G::new().tensor("t", &[32], 31, 0);
    g.data = vec![0; 32];
    let o = run(&g.build());
    assert_eq!(rules(&o), ["MS621"], "{:?}", o.issues);
    assert_eq!(max_severity(&o), Some(Severity::Low));
}

#[test]
fn tensor_ranges_are_checked() {
    // Past the end of the file.
    let o = run(&G::new().tensor("t", &[8], 0, 1 << 40).build());
    assert_eq!(rules(&o), ["MS604"]);
    // Offset + size overflows.
    let o = run(&G::new().tensor("t", &[8], 0, u64::MAX - 31).build());
    assert_eq!(rules(&o), ["MS604"]);
    // Misaligned.
    let mut g = G::new().tensor("t", &[8], 0, 4);
    g.data = vec![0; 64];
    let o = run(&g.build());
    assert!(rules(&o).contains(&"MS605"), "{:?}", o.issues);
    // Overlapping.
    let mut g = G::new().tensor("a", &[16], 0, 0).tensor("b", &[16], 0, 32);
    g.data = vec![0; 96];
    let o = run(&g.build());
    assert_eq!(rules(&o), ["MS606"], "{:?}", o.issues);
    // Duplicate names.
    let g = benign().f32_tensor("token_embd.weight", &[8]);
    let o = run(&g.build());
    assert_eq!(rules(&o), ["MS607"], "{:?}", o.issues);
    // Data section past the end of the file (huge alignment).
    let mut data = G::new()
        .kv_u32("general.alignment", 1 << 30)
        .tensor("t", &[8], 0, 0)
        .build();
    data.extend([0u8; 64]);
    let o = run(&data);
    assert_eq!(rules(&o), ["MS604"], "{:?}", o.issues);
}

#[test]
fn gaps_and_trailing_bytes_are_low() {
    let mut g = benign();
    g.data.extend([0x41u8; 4096]);
    let o = run(&g.build());
    assert_eq!(rules(&o), ["MS620"]);
    assert_eq!(max_severity(&o), Some(Severity::Low));
}

#[test]
fn metadata_checks() {
    // Duplicate key.
    let o = run(&benign()
        .kv_str("tokenizer.chat_template", "{{ x }}")
        .build());
    assert_eq!(rules(&o), ["MS608"]);
    // Invalid alignment: zero, not a power of two, wrong type.
    for g in [
        G::new().kv_u32("general.alignment", 0),
        G::new().kv_u32("general.alignment", 48),
        G::new().kv_str("general.alignment", "32"),
    ] {
        let o = run(&g.build());
        assert_eq!(rules(&o), ["MS609"], "{:?}", o.issues);
    }
    // Invalid value type and element type.
    let o = run(&G::new().raw_kv("k", 13, vec![0; 8]).build());
    assert_eq!(rules(&o), ["MS610"]);
    assert!(o.not_analysed.is_some());
    let g = G::new();
    let mut v = g.u32(99);
    v.extend(g.u64(1));
    let o = run(&g.raw_kv("k", T_ARRAY, v).build());
    assert_eq!(rules(&o), ["MS610"]);
}

#[test]
fn nested_arrays_are_read_and_bounded() {
    // [[1, 2], [3]] as arrays of uint8.
    let g = G::new();
    let mut v = g.u32(T_ARRAY);
    v.extend(g.u64(2));
    for n in [2u64, 1] {
        v.extend(g.u32(0));
        v.extend(g.u64(n));
        v.extend(vec![7u8; usize::try_from(n).unwrap()]);
    }
    let o = run(&g.raw_kv("k", T_ARRAY, v).kv_u32("after", 1).build());
    assert!(o.issues.is_empty(), "{:?}", o.issues);
    assert!(o.not_analysed.is_none());
    // Nesting 100 deep.
    let g = G::new();
    let mut v = Vec::new();
    for _ in 0..100 {
        v.extend(g.u32(T_ARRAY));
        v.extend(g.u64(1));
    }
    v.extend(g.u32(0));
    v.extend(g.u64(0));
    let o = run(&g.raw_kv("k", T_ARRAY, v).build());
    assert_eq!(rules(&o), ["MS610"]);
    // A nested array of strings is still searched for templates.
    let g = G::new();
    let mut v = g.u32(T_ARRAY);
    v.extend(g.u64(1));
    v.extend(g.u32(T_STRING));
    v.extend(g.u64(1));
    v.extend(g.s(b"{{ 7*7 }}"));
    let data = g.raw_kv("k", T_ARRAY, v).build();
    assert_eq!(templates(&data).len(), 1);
}

#[test]
fn vocabulary_arrays_must_agree() {
    let g = G::new()
        .kv_strs("tokenizer.ggml.tokens", &["a", "b", "c"])
        .kv_fixed_array("tokenizer.ggml.scores", T_FLOAT32, 2, 4)
        .kv_fixed_array("tokenizer.ggml.token_type", 0, 3, 1);
    let o = run(&g.build());
    assert_eq!(rules(&o), ["MS611", "MS611"], "{:?}", o.issues);
    // Special ids past the vocabulary are low.
    let g = G::new()
        .kv_strs("tokenizer.ggml.tokens", &["a", "b"])
        .kv_u32("tokenizer.ggml.padding_token_id", 2)
        .raw_kv(
            "tokenizer.ggml.unknown_token_id",
            T_INT32,
            (-1i32).to_le_bytes().to_vec(),
        );
    let o = run(&g.build());
    assert_eq!(rules(&o), ["MS622"], "{:?}", o.issues);
    assert_eq!(max_severity(&o), Some(Severity::Low));
}

#[test]
fn long_tensor_names_are_low() {
    let name = "x".repeat(80);
    let g = G::new().f32_tensor(&name, &[8]);
    let o = run(&g.build());
    assert_eq!(rules(&o), ["MS621"]);
}

#[test]
fn issues_per_rule_are_capped() {
    let mut g = G::new();
    for i in 0..100 {
        g = g.tensor(&format!("t{i}"), &[8], 9999, 0);
    }
    let o = run(&g.build());
    assert_eq!(o.issues.len(), MAX_ISSUES_PER_RULE + 1);
    assert_eq!(
        o.issues.last().unwrap().evidence["more"],
        json!(100 - MAX_ISSUES_PER_RULE)
    );
    assert_eq!(max_severity(&o), Some(Severity::High));
}

#[test]
fn fuzz_entry_handles_junk() {
    for d in [
        &b""[..],
        b"GGUF",
        b"GGUF\x03\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff",
        b"xx",
    ] {
        let _ = fuzz(d);
    }
}

#[test]
fn rules_are_in_range_sorted_and_documented() {
    for pair in RULES.windows(2) {
        assert!(pair[0].id < pair[1].id);
    }
    for r in RULES {
        assert!(("MS600"..="MS649").contains(&r.id), "{}", r.id);
        assert!(!r.what.is_empty() && !r.why.is_empty() && !r.remediation.is_empty());
    }
}

#[test]
fn appended_zip_is_reported_and_nested() {
    let mut data = benign().build();
    let zip_at = data.len();
    // A stored member `a` holding `x`, its central directory entry and the end record.
    data.extend(b"PK\x03\x04");
    data.extend([0u8; 22]);
    data.extend(1u16.to_le_bytes());
    data.extend(0u16.to_le_bytes());
    data.extend(b"ax");
    let cd_at = data.len() - zip_at;
    data.extend(b"PK\x01\x02");
    data.extend([0u8; 24]);
    data.extend(1u16.to_le_bytes());
    data.extend([0u8; 16]);
    data.extend(b"a");
    let cd_size = data.len() - zip_at - cd_at;
    data.extend(b"PK\x05\x06");
    data.extend([0u8; 4]);
    data.extend(1u16.to_le_bytes());
    data.extend(1u16.to_le_bytes());
    data.extend(u32::try_from(cd_size).unwrap().to_le_bytes());
    data.extend(u32::try_from(cd_at).unwrap().to_le_bytes());
    data.extend(0u16.to_le_bytes());
    assert_eq!(appended_zip(&data), Some(zip_at));
    let env = Env {
        disk_path: None,
        name: "m.gguf",
    };
    let o = analyse(&data, &env);
    assert!(o.issues.iter().any(|i| i.rule == "MS613"));
    assert_eq!(o.nested.len(), 1);
    assert!(o.nested[0].data.starts_with(b"PK\x03\x04"));
    // An end record without a local header where it points is not a zip.
    assert_eq!(appended_zip(&benign().build()), None);
    let mut junk = benign().build();
    junk.extend(b"PK\x05\x06");
    junk.extend([0u8; 18]);
    assert_eq!(appended_zip(&junk), None);
}

#[test]
fn precompiled_charsmap_blob_must_fit() {
    let charsmap = |bytes: Vec<u8>| {
        let g = G::new();
        let mut v = g.u32(0);
        v.extend(g.u64(bytes.len() as u64));
        v.extend(bytes);
        g.raw_kv("tokenizer.ggml.precompiled_charsmap", T_ARRAY, v)
            .build()
    };
    let mut good = 4u32.to_le_bytes().to_vec();
    good.extend([1, 2, 3, 4, 0, 0]);
    assert!(run(&charsmap(good)).issues.is_empty());
    let mut bad = 0xffff_0000u32.to_le_bytes().to_vec();
    bad.extend([1, 2, 3, 4]);
    assert_eq!(rules(&run(&charsmap(bad))), ["MS611"]);
    assert_eq!(rules(&run(&charsmap(vec![1, 2]))), ["MS611"]);
}
