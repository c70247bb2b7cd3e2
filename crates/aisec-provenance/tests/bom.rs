//! The AI-BOM end to end on model directories built here: every BOM is checked by the reference
//! validators from the pinned venv (cyclonedx-python-lib's strict CycloneDX 1.6 schema validator;
//! SPDX's own Python model bindings for SPDX 3.0.1), and the completeness score is checked both ways.

mod support;

use support::pyenv;

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use aisec_core::{Confidence, Finding, Location, RuleId, Severity, Taxonomy};
use aisec_provenance::bom::{self, BomMeta, InspectOptions, Tier};
use serde_json::Value;

const CARD: &str = r"---
language:
- en
license: apache-2.0
library_name: transformers
pipeline_tag: text-classification
tags:
- sentiment
datasets:
- stanfordnlp/imdb
- sst2
base_model: distilbert/distilbert-base-uncased
base_model_relation: finetune
model-index:
- name: tiny-sentiment
  results:
  - task:
      type: text-classification
      name: Text Classification
    dataset:
      name: IMDB
      type: stanfordnlp/imdb
      split: test
    metrics:
    - type: accuracy
      value: 0.9312
      name: Accuracy
    - type: f1
      value: 0.9307
  - task:
      type: text-classification
    dataset:
      name: SST-2
      type: sst2
      split: validation
    metrics:
    - type: accuracy
      value: 0.887
---

# tiny-sentiment

This model is a fine-tuned version of [distilbert-base-uncased](https://example.invalid) on the IMDB
dataset. It labels English movie reviews as positive or negative.

## Model Details

### Model Description

<!-- Provide a longer summary of what this model is. -->

A two-layer DistilBERT classifier distilled for CPU inference.

## Uses

### Direct Use

Sentiment of English product and movie reviews, one review at a time.

### Out-of-Scope Use

Clinical, legal or financial decisions; languages other than English.

## Bias, Risks, and Limitations

Reviews in dialects under-represented in IMDB are misclassified more often. Sarcasm is read
literally.

### Recommendations

Keep a person in the loop where a label affects someone; measure error rates per dialect first.

## Training Details

### Training Procedure

#### Training Hyperparameters

- learning_rate: 5e-05
- train_batch_size: 32
- num_epochs: 3

## Evaluation

See the model-index above.

## Environmental Impact

- Hardware Type: 1x A10G
- Hours used: 0.6
- Carbon Emitted: 0.08 kg CO2eq

## Limitations

Inputs are truncated to 256 tokens.
";

const CONFIG: &str = r#"{
  "_name_or_path": "distilbert/distilbert-base-uncased",
  "activation": "gelu",
  "architectures": ["DistilBertForSequenceClassification"],
  "dim": 64,
  "id2label": {"0": "NEGATIVE", "1": "POSITIVE"},
  "model_type": "distilbert",
  "n_layers": 2,
  "transformers_version": "4.44.2",
  "vocab_size": 30522
}"#;

/// A tiny but well-formed safetensors file: one f32 tensor of shape [2, 2].
fn safetensors() -> Vec<u8> {
    let header = br#"{"classifier.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}}"#;
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header);
    for v in [0.5f32, -0.25, 1.0, 0.125] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

fn write(dir: &Path, rel: &str, bytes: &[u8]) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// A Hugging Face style repository with a full card, a config, weights, requirements, a signature.
fn rich_repo(dir: &Path) {
    write(dir, "README.md", CARD.as_bytes());
    write(dir, "config.json", CONFIG.as_bytes());
    write(dir, "model.safetensors", &safetensors());
    write(
        dir,
        "tokenizer_config.json",
        br#"{"do_lower_case": true, "model_max_length": 256}"#,
    );
    write(
        dir,
        "requirements.txt",
        b"torch==2.4.1\ntransformers==4.44.2\nsafetensors>=0.4\n",
    );
    write(
        dir,
        "model.sig",
        br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#,
    );
    write(dir, ".git/HEAD", b"ref: refs/heads/main\n");
}

fn meta() -> BomMeta {
    BomMeta {
        serial: [7; 16],
        timestamp: UNIX_EPOCH + Duration::from_secs(1_764_115_200),
        tool_version: "0.1.0".into(),
    }
}

fn finding(path: &str) -> Finding {
    let location = Location::file(path);
    let rule = RuleId::new("MS101");
    Finding {
        fingerprint: Finding::fingerprint_of(&rule, &location, "posix.system"),
        rule,
        title: "Pickle calls a function that runs commands".into(),
        severity: Severity::Critical,
        confidence: Confidence::Certain,
        message: "the pickle imports posix.system and calls it on load".into(),
        location,
        evidence: serde_json::json!({"callable": "posix.system"}),
        taxonomy: Taxonomy {
            atlas: vec!["AML.T0011.000".into()],
            owasp_llm: vec!["LLM03".into()],
            cwe: vec!["CWE-502".into()],
            stride: vec![],
        },
        remediation: "Do not load it; use safetensors.".into(),
    }
}

/// Runs a Python snippet in the reference venv with the JSON file as argv[1]; fails the test with
/// the validator's message when the snippet exits non-zero.
fn python_check(script: &str, json: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bom.json");
    std::fs::write(&file, serde_json::to_vec_pretty(json).unwrap()).unwrap();
    let out = Command::new(pyenv::python())
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("run the venv python");
    assert!(
        out.status.success(),
        "validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

const CDX_VALIDATE: &str = r"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read(), all_errors=True)
errors = list(errors or [])
for e in errors:
    print(e)
sys.exit(1 if errors else 0)
";

fn validate_cdx(bom: &Value) {
    python_check(CDX_VALIDATE, bom);
}

/// SPDX 3.0.1 through SPDX's Python model bindings (generated from the SPDX SHACL model): read
/// (types, enums, datetimes), link (every reference resolves), write (required and cardinality).
const SPDX_VALIDATE: &str = r#"
import io, sys
from spdx_python_model import v3_0_1 as spdx
objset = spdx.SHACLObjectSet()
with open(sys.argv[1]) as f:
    spdx.JSONLDDeserializer().read(f, objset)
missing = objset.link()
if missing:
    print("unresolved references:", sorted(missing)); sys.exit(1)
spdx.JSONLDSerializer().write(objset, io.BytesIO())
types = {type(o).__name__ for o in objset.objects}
for want in ["SpdxDocument", "ai_AIPackage", "software_File", "Relationship"]:
    if want not in types:
        print("missing", want, "in", sorted(types)); sys.exit(1)
"#;

fn validate_spdx(doc: &Value) {
    python_check(SPDX_VALIDATE, doc);
}

fn model<'a>(bom: &'a Value, name: &str) -> &'a Value {
    bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "machine-learning-model" && c["name"] == name)
        .unwrap_or_else(|| panic!("no model {name}"))
}

#[test]
fn rich_repository_maps_every_field_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tiny-sentiment");
    rich_repo(&root);
    let opts = InspectOptions {
        model_id: Some("acme-ai/tiny-sentiment".into()),
        ..InspectOptions::default()
    };
    let inv = bom::inspect(&root, &opts).unwrap();
    assert_eq!(inv.models.len(), 1);
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    let bom = bom::cyclonedx(&inv, Some(&[]), &meta());
    validate_cdx(&bom);

    assert_eq!(
        bom["serialNumber"],
        "urn:uuid:07070707-0707-4707-8707-070707070707"
    );
    assert_eq!(bom["metadata"]["timestamp"], "2025-11-26T00:00:00Z");
    assert_eq!(bom["metadata"]["tools"]["components"][0]["name"], "aisec");
    let m = model(&bom, "tiny-sentiment");
    assert_eq!(m["purl"], "pkg:huggingface/acme-ai/tiny-sentiment");
    assert_eq!(m["supplier"]["name"], "acme-ai");
    assert_eq!(m["licenses"][0]["license"]["id"], "Apache-2.0");
    // The `### Model Description` section wins over the prose under the title.
    assert_eq!(
        m["description"],
        "A two-layer DistilBERT classifier distilled for CPU inference."
    );

    // Every file but the signature and .git, with three hashes each; sha256 checked independently.
    let files: Vec<&str> = m["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "README.md",
            "config.json",
            "model.safetensors",
            "requirements.txt",
            "tokenizer_config.json"
        ]
    );
    let st = &m["components"][2];
    let algs: Vec<&str> = st["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["alg"].as_str().unwrap())
        .collect();
    assert_eq!(algs, ["SHA-256", "SHA-512", "BLAKE3"]);
    let want = <sha2::Sha256 as sha2::Digest>::digest(safetensors());
    let want: String = want.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    assert_eq!(st["hashes"][0]["content"], want.as_str());

    let params = &m["modelCard"]["modelParameters"];
    assert_eq!(params["task"], "text-classification");
    assert_eq!(params["architectureFamily"], "distilbert");
    assert_eq!(
        params["modelArchitecture"],
        "DistilBertForSequenceClassification"
    );
    assert_eq!(
        params["datasets"],
        serde_json::json!([{"ref": "dataset:stanfordnlp/imdb"}, {"ref": "dataset:sst2"}])
    );
    for d in ["dataset:stanfordnlp/imdb", "dataset:sst2"] {
        assert!(
            bom["components"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["bom-ref"] == d && c["type"] == "data"),
            "{d} is a data component"
        );
    }
    let metrics = m["modelCard"]["quantitativeAnalysis"]["performanceMetrics"]
        .as_array()
        .unwrap();
    assert_eq!(metrics.len(), 3);
    assert_eq!(metrics[0]["type"], "accuracy");
    assert_eq!(metrics[0]["value"], "0.9312");
    assert_eq!(
        metrics[0]["slice"],
        "dataset: IMDB (test split); task: text-classification"
    );
    let cons = &m["modelCard"]["considerations"];
    assert_eq!(
        cons["useCases"][0],
        "Sentiment of English product and movie reviews, one review at a time."
    );
    let limits = cons["technicalLimitations"].as_array().unwrap();
    assert!(
        limits
            .iter()
            .any(|l| l == "Inputs are truncated to 256 tokens.")
    );
    assert!(limits.iter().any(|l| {
        l.as_str()
            .unwrap()
            .starts_with("Out-of-scope use: Clinical")
    }));
    assert!(
        cons["ethicalConsiderations"][0]["name"]
            .as_str()
            .unwrap()
            .contains("Sarcasm")
    );
    assert!(
        cons["ethicalConsiderations"][0]["mitigationStrategy"]
            .as_str()
            .unwrap()
            .starts_with("Keep a person")
    );
    assert!(
        cons["environmentalConsiderations"]["properties"][0]["value"]
            .as_str()
            .unwrap()
            .contains("A10G")
    );

    assert_eq!(
        m["pedigree"]["ancestors"][0]["purl"],
        "pkg:huggingface/distilbert/distilbert-base-uncased"
    );
    assert_eq!(m["pedigree"]["notes"], "base_model_relation: finetune");
    let refs = m["externalReferences"].as_array().unwrap();
    assert!(
        refs.iter()
            .any(|r| r["type"] == "model-card" && r["url"] == "README.md")
    );
    assert!(
        refs.iter()
            .any(|r| r["type"] == "digital-signature" && r["url"] == "model.sig")
    );

    let libs: Vec<&str> = bom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == "library")
        .map(|c| c["purl"].as_str().unwrap())
        .collect();
    assert_eq!(
        libs,
        [
            "pkg:pypi/safetensors",
            "pkg:pypi/torch@2.4.1",
            "pkg:pypi/transformers@4.44.2"
        ]
    );
    assert_eq!(bom["vulnerabilities"], serde_json::json!([]));

    // Deterministic apart from serial and time.
    let again = bom::cyclonedx(&bom::inspect(&root, &opts).unwrap(), Some(&[]), &meta());
    assert_eq!(bom, again);

    let score = bom::completeness(&inv, true);
    let m = &score.models[0];
    assert!(m.score >= 95, "rich card scores {}", m.score);
    assert!(
        m.missing().all(|f| f.tier != Tier::Critical),
        "{:?}",
        m.missing().collect::<Vec<_>>()
    );
    assert_eq!(
        m.missing().count(),
        0,
        "{:?}",
        m.missing().collect::<Vec<_>>()
    );

    validate_spdx(&bom::spdx3(&inv, Some(&[]), &meta()));
}

#[test]
fn findings_become_vulnerabilities_on_the_right_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    write(&root, "config.json", br#"{"model_type": "bert"}"#);
    write(
        &root,
        "pytorch_model.bin",
        b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.",
    );
    let inv = bom::inspect(&root, &InspectOptions::default()).unwrap();
    let path = root.join("pytorch_model.bin").display().to_string();
    let findings = [finding(&path)];
    let bom = bom::cyclonedx(&inv, Some(&findings), &meta());
    validate_cdx(&bom);
    let v = &bom["vulnerabilities"][0];
    assert_eq!(v["id"], "MS101");
    assert_eq!(v["ratings"][0]["severity"], "critical");
    assert_eq!(v["cwes"], serde_json::json!([502]));
    assert_eq!(v["references"][0]["id"], "AML.T0011.000");
    assert_eq!(v["affects"][0]["ref"], "file:pytorch_model.bin");
    assert!(
        model(&bom, "repo")["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["bom-ref"] == "file:pytorch_model.bin")
    );
    validate_spdx(&bom::spdx3(&inv, Some(&findings), &meta()));

    let unscanned = bom::cyclonedx(&inv, None, &meta());
    assert!(unscanned.get("vulnerabilities").is_none());
    validate_cdx(&unscanned);
}

#[test]
fn bare_directory_scores_low_and_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "weights.safetensors", &safetensors());
    write(root, "sub/other.onnx", b"\x08\x07");
    write(root, "notes.txt", b"trained on my laptop\n");
    let inv = bom::inspect(root, &InspectOptions::default()).unwrap();
    // Loose weight files are one model each; other files are listed as files.
    let names: Vec<&str> = inv.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["other.onnx", "weights.safetensors"]);
    assert_eq!(inv.other_files.len(), 1);
    let bom = bom::cyclonedx(&inv, None, &meta());
    validate_cdx(&bom);
    validate_spdx(&bom::spdx3(&inv, None, &meta()));
    assert_eq!(
        model(&bom, "weights.safetensors")["hashes"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let score = bom::completeness(&inv, false);
    assert!(score.score <= 15, "bare directory scores {}", score.score);
    let missing: Vec<&str> = score.models[0]
        .missing()
        .map(|f| f.field.as_str())
        .collect();
    for field in [
        "licence",
        "task",
        "identifier (purl)",
        "security scan",
        "training datasets",
    ] {
        assert!(
            missing.contains(&field),
            "{field} not reported missing: {missing:?}"
        );
    }
    let licence = score.models[0]
        .fields
        .iter()
        .find(|f| f.field == "licence")
        .unwrap();
    assert!(licence.source.contains("license:"));
    assert_eq!(licence.tier, Tier::Critical);
}

#[test]
fn hostile_card_is_refused_but_the_bom_is_still_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut card = String::from("---\nlicense: mit\na0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
    for i in 1..12 {
        let p = i - 1;
        let _ = writeln!(
            card,
            "a{i}: &a{i} [*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p},*a{p}]"
        );
    }
    card.push_str("---\n# laughs\n");
    write(root, "README.md", card.as_bytes());
    write(root, "model.safetensors", &safetensors());
    let start = std::time::Instant::now();
    let inv = bom::inspect(root, &InspectOptions::default()).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        inv.warnings
            .iter()
            .any(|w| w.contains("expands to more than")),
        "{:?}",
        inv.warnings
    );
    assert!(inv.models[0].card.is_none());
    let bom = bom::cyclonedx(&inv, None, &meta());
    validate_cdx(&bom);
    assert_eq!(bom["metadata"]["properties"][0]["name"], "aisec:warning");

    // Oversized card and config: warnings, not errors.
    write(root, "README.md", &vec![b'a'; (1 << 20) + 1]);
    write(root, "config.json", b"{\"model_type\": ");
    let inv = bom::inspect(root, &InspectOptions::default()).unwrap();
    assert_eq!(inv.warnings.len(), 2, "{:?}", inv.warnings);
}

#[test]
fn nested_model_directories_and_loose_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    rich_repo(&root.join("org/sentiment"));
    write(
        root,
        "org/sentiment/1_Pooling/config.json",
        br#"{"pooling_mode_mean_tokens": true}"#,
    );
    write(
        root,
        "embedder/config.json",
        br#"{"model_type": "bert", "architectures": ["BertModel"]}"#,
    );
    write(root, "embedder/model.safetensors", &safetensors());
    write(root, "loose.gguf", b"GGUF\x03\x00\x00\x00");
    let inv = bom::inspect(root, &InspectOptions::default()).unwrap();
    let locs: Vec<&str> = inv.models.iter().map(|m| m.location.as_str()).collect();
    assert_eq!(locs, ["embedder", "loose.gguf", "org/sentiment"]);
    assert!(
        inv.models[2]
            .files
            .iter()
            .any(|f| f.path == "org/sentiment/1_Pooling/config.json")
    );
    assert!(inv.models[2].signature.is_some());
    let bom = bom::cyclonedx(&inv, Some(&[]), &meta());
    validate_cdx(&bom);
    validate_spdx(&bom::spdx3(&inv, Some(&[]), &meta()));
    let deps = bom["dependencies"][0]["dependsOn"].as_array().unwrap();
    assert_eq!(deps.len(), 3);
}

#[test]
fn licence_table_ids_are_spdx_ids_the_schema_knows() {
    let ids: Vec<&str> = bom::SPDX_LICENSES.iter().map(|(_, id)| *id).collect();
    let script = r#"
import json, sys, os
import cyclonedx.schema._res as res
enum = set(json.load(open(os.path.join(os.path.dirname(res.__file__), "spdx.SNAPSHOT.schema.json")))["enum"])
bad = [i for i in json.load(open(sys.argv[1])) if i not in enum]
print(bad); sys.exit(1 if bad else 0)
"#;
    python_check(script, &serde_json::json!(ids));
}

#[test]
fn other_licence_uses_name_and_link() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(
        root,
        "README.md",
        b"---\nlicense: other\nlicense_name: acme-research-license\nlicense_link: https://example.invalid/LICENSE\n---\n",
    );
    write(root, "model.gguf", b"GGUF");
    let inv = bom::inspect(root, &InspectOptions::default()).unwrap();
    let bom = bom::cyclonedx(&inv, None, &meta());
    validate_cdx(&bom);
    let lic = &bom["components"][0]["licenses"][0]["license"];
    assert_eq!(lic["name"], "acme-research-license");
    assert_eq!(lic["url"], "https://example.invalid/LICENSE");
}
