//! CycloneDX 1.6 JSON.
//!
//! Layout (docs/bom.md has the field table):
//! - `metadata.component` is the directory that was inventoried (type `file`: CycloneDX has no
//!   directory type), and `dependencies` says it holds the models;
//! - each model is a `machine-learning-model` component whose nested `components` are its files
//!   (type `file`, SHA-256, SHA-512 and BLAKE3 each); a single-file model also carries the hashes;
//! - datasets are `data` components referenced from `modelCard.modelParameters.datasets`;
//! - the library and Python requirements are `library` components with `pkg:pypi` purls, which the
//!   model depends on; base models are `pedigree.ancestors`;
//! - scan findings are `vulnerabilities` that affect the file components.

use std::collections::BTreeMap;

use aisec_core::Finding;
use serde_json::{Map, Value, json};

use super::BomMeta;
use super::card::ModelCard;
use super::ids::{huggingface_purl, path_iri, pypi_purl, rfc3339, spdx_id, uuid_v4};
use super::inventory::{FileEntry, Inventory, Model};

/// The bom-ref of the inventoried directory.
pub(crate) const SUBJECT_REF: &str = "aisec:directory";

/// Builds the BOM. `findings` is `None` when no scan ran (no `vulnerabilities` then).
#[must_use]
pub(crate) fn render(inv: &Inventory, findings: Option<&[Finding]>, meta: &BomMeta) -> Value {
    let mut components = Vec::new();
    let mut datasets: BTreeMap<String, Value> = BTreeMap::new();
    let mut libraries: BTreeMap<String, Value> = BTreeMap::new();
    let mut dependencies = Vec::new();

    for model in &inv.models {
        let libs = libraries_of(model);
        let lib_refs: Vec<Value> = libs.iter().map(|(purl, _)| json!(purl)).collect();
        for (purl, c) in libs {
            libraries.entry(purl).or_insert(c);
        }
        if let Some(card) = &model.card {
            for d in &card.datasets {
                datasets.entry(dataset_ref(d)).or_insert_with(|| {
                    json!({
                        "type": "data",
                        "bom-ref": dataset_ref(d),
                        "name": d,
                        "data": [{"type": "dataset", "name": d}],
                    })
                });
            }
        }
        dependencies.push(json!({"ref": model_ref(model), "dependsOn": lib_refs}));
        components.push(model_component(model));
    }
    let model_refs: Vec<Value> = inv.models.iter().map(|m| json!(model_ref(m))).collect();
    dependencies.insert(0, json!({"ref": SUBJECT_REF, "dependsOn": model_refs}));
    for purl in libraries.keys() {
        dependencies.push(json!({"ref": purl, "dependsOn": []}));
    }
    components.extend(datasets.into_values());
    components.extend(libraries.into_values());
    components.extend(inv.other_files.iter().map(file_component));

    let mut subject = json!({
        "type": "file",
        "bom-ref": SUBJECT_REF,
        "name": inv.root_name,
        "description": format!(
            "Model directory: {} model(s), {} other file(s)",
            inv.models.len(),
            inv.other_files.len()
        ),
    });
    if let Some(sig) = &inv.signature {
        subject["externalReferences"] = json!([signature_ref(sig)]);
    }
    let mut metadata = json!({
        "timestamp": rfc3339(meta.timestamp),
        "tools": {"components": [{
            "type": "application",
            "name": "aisec",
            "version": meta.tool_version,
        }]},
        "component": subject,
    });
    if !inv.warnings.is_empty() {
        metadata["properties"] = Value::Array(
            inv.warnings
                .iter()
                .map(|w| json!({"name": "aisec:warning", "value": w}))
                .collect(),
        );
    }

    let mut bom = json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": format!("urn:uuid:{}", uuid_v4(meta.serial)),
        "version": 1,
        "metadata": metadata,
        "components": components,
        "dependencies": dependencies,
    });
    if let Some(findings) = findings {
        bom["vulnerabilities"] = Value::Array(vulnerabilities(inv, findings));
    }
    bom
}

pub(crate) fn model_ref(m: &Model) -> String {
    if m.location.is_empty() {
        "model:.".to_owned()
    } else {
        format!("model:{}", m.location)
    }
}

pub(crate) fn file_ref(path: &str) -> String {
    format!("file:{path}")
}

pub(crate) fn dataset_ref(id: &str) -> String {
    format!("dataset:{id}")
}

fn hashes(f: &FileEntry) -> Value {
    json!([
        {"alg": "SHA-256", "content": f.sha256},
        {"alg": "SHA-512", "content": f.sha512},
        {"alg": "BLAKE3", "content": f.blake3},
    ])
}

fn file_component(f: &FileEntry) -> Value {
    json!({
        "type": "file",
        "bom-ref": file_ref(&f.path),
        "name": f.path,
        "hashes": hashes(f),
        "properties": [{"name": "aisec:file:size", "value": f.size.to_string()}],
    })
}

fn signature_ref(sig: &FileEntry) -> Value {
    json!({
        "type": "digital-signature",
        "url": path_iri(&sig.path),
        "comment": "OpenSSF model-signing bundle (Sigstore bundle over the model's files)",
        "hashes": [{"alg": "SHA-256", "content": sig.sha256}],
    })
}

/// The Python package a Hugging Face `library_name` is published as, where the names differ.
pub(crate) fn library_package(library: &str) -> Option<&str> {
    let l = library.trim();
    match l.to_ascii_lowercase().as_str() {
        "sklearn" | "scikit-learn" => Some("scikit-learn"),
        "pytorch" => Some("torch"),
        "open_clip" | "open-clip" => Some("open-clip-torch"),
        "ml-agents" => Some("mlagents"),
        // Not Python packages.
        "llama.cpp" | "mlc-llm" | "transformers.js" | "tensorflowtts" | "" => None,
        _ => Some(l),
    }
}

/// `(purl, component)` for the card's library and each requirement, merged by package.
pub(crate) fn libraries_of(m: &Model) -> Vec<(String, Value)> {
    let mut by_name: BTreeMap<String, Option<String>> = BTreeMap::new();
    for r in &m.requirements {
        by_name.insert(r.name.clone(), r.version.clone());
    }
    let library = m
        .card
        .as_ref()
        .and_then(|c| c.library_name.as_deref())
        .and_then(library_package)
        .map(super::card::normalize_name);
    if let Some(lib) = &library {
        by_name.entry(lib.clone()).or_insert(None);
    }
    by_name
        .into_iter()
        .map(|(name, version)| {
            let purl = pypi_purl(&name, version.as_deref());
            let mut c = json!({"type": "library", "bom-ref": purl, "name": name, "purl": purl});
            if let Some(v) = version {
                c["version"] = json!(v);
            }
            let from = if library.as_deref() == Some(name.as_str()) {
                "model card library_name"
            } else {
                "requirements.txt"
            };
            c["properties"] = json!([{"name": "aisec:source", "value": from}]);
            (purl, c)
        })
        .collect()
}

pub(crate) fn licenses(card: &ModelCard) -> Option<Value> {
    let license = card.license.as_deref()?;
    let link = card
        .license_link
        .as_deref()
        .filter(|l| !l.is_empty() && !l.contains(char::is_whitespace));
    let mut entry = if let Some(id) = spdx_id(license) {
        json!({"id": id})
    } else {
        let name = if license.eq_ignore_ascii_case("other") {
            card.license_name.as_deref().unwrap_or(license)
        } else {
            license
        };
        json!({"name": name})
    };
    if let Some(link) = link {
        entry["url"] = json!(link);
    }
    Some(json!([{"license": entry}]))
}

fn model_component(m: &Model) -> Value {
    let mut c = Map::new();
    c.insert("type".into(), json!("machine-learning-model"));
    c.insert("bom-ref".into(), json!(model_ref(m)));
    c.insert("name".into(), json!(m.name));
    if let Some(id) = &m.id {
        if let Some((org, _)) = id.split_once('/') {
            c.insert("supplier".into(), json!({"name": org}));
        }
        if let Some(purl) = huggingface_purl(id) {
            c.insert("purl".into(), json!(purl));
        }
    }
    let card = m.card.as_ref();
    if let Some(d) = card.and_then(|c| c.description.as_ref()) {
        c.insert("description".into(), json!(d));
    }
    if let Some(l) = card.and_then(licenses) {
        c.insert("licenses".into(), l);
    }
    if let Some(f) = m.files.first().filter(|_| m.single_file) {
        c.insert("hashes".into(), hashes(f));
    }
    let mut refs = Vec::new();
    if let Some(card_file) = &m.card_file {
        refs.push(json!({"type": "model-card", "url": path_iri(card_file)}));
    }
    if let Some(link) = card
        .and_then(|c| c.license_link.as_deref())
        .filter(|l| l.contains("://") && !l.contains(char::is_whitespace))
    {
        refs.push(json!({"type": "license", "url": link}));
    }
    if let Some(sig) = &m.signature {
        refs.push(signature_ref(sig));
    }
    if !refs.is_empty() {
        c.insert("externalReferences".into(), Value::Array(refs));
    }
    if let Some(card) = card.filter(|c| !c.base_models.is_empty()) {
        let ancestors: Vec<Value> = card
            .base_models
            .iter()
            .map(|b| {
                let mut a = json!({"type": "machine-learning-model", "name": b});
                if let Some(p) = huggingface_purl(b) {
                    a["purl"] = json!(p);
                }
                a
            })
            .collect();
        let mut pedigree = json!({"ancestors": ancestors});
        if let Some(rel) = &card.base_model_relation {
            pedigree["notes"] = json!(format!("base_model_relation: {rel}"));
        }
        c.insert("pedigree".into(), pedigree);
    }
    c.insert("modelCard".into(), model_card(m));
    c.insert(
        "components".into(),
        Value::Array(m.files.iter().map(file_component).collect()),
    );
    Value::Object(c)
}

fn model_card(m: &Model) -> Value {
    let mut params = Map::new();
    let card = m.card.as_ref();
    if let Some(t) = card.and_then(|c| c.pipeline_tag.as_ref()) {
        params.insert("task".into(), json!(t));
    }
    if let Some(cfg) = &m.config {
        if let Some(f) = &cfg.model_type {
            params.insert("architectureFamily".into(), json!(f));
        }
        if let Some(a) = &cfg.architecture {
            params.insert("modelArchitecture".into(), json!(a));
        }
    }
    let mut out = Map::new();
    let Some(card) = card else {
        if !params.is_empty() {
            out.insert("modelParameters".into(), Value::Object(params));
        }
        return Value::Object(out);
    };
    if !card.datasets.is_empty() {
        let refs: Vec<Value> = card
            .datasets
            .iter()
            .map(|d| json!({"ref": dataset_ref(d)}))
            .collect();
        params.insert("datasets".into(), Value::Array(refs));
    }
    if !params.is_empty() {
        out.insert("modelParameters".into(), Value::Object(params));
    }
    if !card.metrics.is_empty() {
        let metrics: Vec<Value> = card
            .metrics
            .iter()
            .map(|mt| {
                let mut v = json!({"type": mt.kind, "value": mt.value});
                if let Some(s) = &mt.slice {
                    v["slice"] = json!(s);
                }
                v
            })
            .collect();
        out.insert(
            "quantitativeAnalysis".into(),
            json!({"performanceMetrics": metrics}),
        );
    }
    let k = &card.considerations;
    let mut cons = Map::new();
    if !k.use_cases.is_empty() {
        cons.insert("useCases".into(), json!(k.use_cases));
    }
    let limits = k.technical_limitations();
    if !limits.is_empty() {
        cons.insert("technicalLimitations".into(), json!(limits));
    }
    if !k.tradeoffs.is_empty() {
        cons.insert("performanceTradeoffs".into(), json!(k.tradeoffs));
    }
    if !k.risks.is_empty() {
        let risks: Vec<Value> = k
            .risks
            .iter()
            .map(|r| {
                let mut v = json!({"name": r.name});
                if let Some(m) = &r.mitigation {
                    v["mitigationStrategy"] = json!(m);
                }
                v
            })
            .collect();
        cons.insert("ethicalConsiderations".into(), Value::Array(risks));
    }
    if !k.environmental.is_empty() {
        let props: Vec<Value> = k
            .environmental
            .iter()
            .map(|t| json!({"name": "aisec:environmental-impact", "value": t}))
            .collect();
        cons.insert(
            "environmentalConsiderations".into(),
            json!({"properties": props}),
        );
    }
    if !cons.is_empty() {
        out.insert("considerations".into(), Value::Object(cons));
    }
    let mut props: Vec<Value> = k
        .training
        .iter()
        .map(|t| json!({"name": "aisec:training", "value": t}))
        .collect();
    props.extend(
        card.languages
            .iter()
            .map(|l| json!({"name": "aisec:language", "value": l})),
    );
    if !props.is_empty() {
        out.insert("properties".into(), Value::Array(props));
    }
    Value::Object(out)
}

/// The root-relative path of a finding's file, if it lies under the root.
pub(crate) fn finding_path(inv: &Inventory, f: &Finding) -> Option<String> {
    let p = std::path::Path::new(&f.location.path);
    let rel = p.strip_prefix(&inv.root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// Known file bom-refs: every model file and every other file.
fn known_files(inv: &Inventory) -> std::collections::BTreeSet<&str> {
    inv.models
        .iter()
        .flat_map(|m| m.files.iter())
        .chain(inv.other_files.iter())
        .map(|f| f.path.as_str())
        .collect()
}

fn vulnerabilities(inv: &Inventory, findings: &[Finding]) -> Vec<Value> {
    let known = known_files(inv);
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.location, a.rule.as_str(), &a.fingerprint).cmp(&(
            &b.location,
            b.rule.as_str(),
            &b.fingerprint,
        ))
    });
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for f in sorted {
        let mut bom_ref = format!("vuln:{}", f.fingerprint);
        let mut n = 1;
        while !seen.insert(bom_ref.clone()) {
            n += 1;
            bom_ref = format!("vuln:{}-{n}", f.fingerprint);
        }
        let mut v = json!({
            "bom-ref": bom_ref,
            "id": f.rule.as_str(),
            "source": {"name": "aisec"},
            "ratings": [{
                "source": {"name": "aisec"},
                "severity": f.severity.as_str(),
                "method": "other",
                "justification": format!("confidence: {}", f.confidence.as_str()),
            }],
            "description": f.title,
            "detail": f.message,
            "properties": [
                {"name": "aisec:location", "value": f.location.to_string()},
                {"name": "aisec:confidence", "value": f.confidence.as_str()},
                {"name": "aisec:fingerprint", "value": f.fingerprint},
            ],
        });
        if !f.remediation.is_empty() {
            v["recommendation"] = json!(f.remediation);
        }
        let cwes: Vec<u64> = f
            .taxonomy
            .cwe
            .iter()
            .filter_map(|c| c.trim().trim_start_matches("CWE-").parse().ok())
            .collect();
        if !cwes.is_empty() {
            v["cwes"] = json!(cwes);
        }
        let mut refs: Vec<Value> = f
            .taxonomy
            .atlas
            .iter()
            .map(|a| {
                json!({"id": a, "source": {"name": "MITRE ATLAS", "url": "https://atlas.mitre.org/"}})
            })
            .collect();
        refs.extend(f.taxonomy.owasp_llm.iter().map(
            |o| json!({"id": o, "source": {"name": "OWASP Top 10 for LLM Applications 2025"}}),
        ));
        if !refs.is_empty() {
            v["references"] = Value::Array(refs);
        }
        if let Some(rel) = finding_path(inv, f).filter(|r| known.contains(r.as_str())) {
            v["affects"] = json!([{"ref": file_ref(&rel)}]);
        }
        out.push(v);
    }
    out
}
