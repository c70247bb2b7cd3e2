//! SPDX 3.0.1 JSON-LD with the Core, Software, AI and Dataset profiles (and Security when findings
//! are given).
//!
//! Each model is an `ai_AIPackage` that `contains` its `software_File`s (each `verifiedUsing`
//! SHA-256, SHA-512 and BLAKE3), is `trainedOn` `dataset_DatasetPackage`s, `dependsOn` library
//! `software_Package`s, has a base model that is its `ancestorOf`, a `hasDeclaredLicense`
//! licence expression and `hasDocumentation` to the card. Findings are `security_Vulnerability`
//! elements linked from the affected file by `hasAssociatedVulnerability`. Ids are
//! `urn:aisec:bom:<serial>#<kind>-<n>`, deterministic for one inventory and serial.

use std::collections::BTreeMap;

use aisec_core::Finding;
use serde_json::{Value, json};

use super::BomMeta;
use super::cyclonedx::{finding_path, libraries_of};
use super::ids::{huggingface_purl, rfc3339, spdx_id, uuid_v4};
use super::inventory::{FileEntry, Inventory, Model};

const CI: &str = "_:creationinfo";

struct Doc {
    base: String,
    graph: Vec<Value>,
    elements: Vec<String>,
    next: usize,
}

impl Doc {
    fn id(&mut self, kind: &str) -> String {
        self.next += 1;
        format!("{}{kind}-{}", self.base, self.next)
    }

    fn push(&mut self, mut v: Value) -> String {
        let id = v["spdxId"].as_str().unwrap_or_default().to_owned();
        v["creationInfo"] = json!(CI);
        self.elements.push(id.clone());
        self.graph.push(v);
        id
    }

    #[allow(clippy::needless_pass_by_value)] // callers build the list for this call
    fn relate(&mut self, from: &str, kind: &str, to: Vec<String>, comment: Option<&str>) {
        if to.is_empty() {
            return;
        }
        let id = self.id("relationship");
        let mut r = json!({"type": "Relationship", "spdxId": id, "from": from,
            "relationshipType": kind, "to": to});
        if let Some(c) = comment {
            r["comment"] = json!(c);
        }
        self.push(r);
    }

    fn file(&mut self, f: &FileEntry, purpose: &str) -> String {
        let id = self.id("file");
        self.push(json!({
            "type": "software_File",
            "spdxId": id,
            "name": f.path,
            "software_primaryPurpose": purpose,
            "verifiedUsing": hashes(f),
        }))
    }
}

fn hashes(f: &FileEntry) -> Value {
    json!([
        {"type": "Hash", "algorithm": "sha256", "hashValue": f.sha256},
        {"type": "Hash", "algorithm": "sha512", "hashValue": f.sha512},
        {"type": "Hash", "algorithm": "blake3", "hashValue": f.blake3},
    ])
}

fn purpose(path: &str, single_model: bool) -> &'static str {
    if single_model {
        return "model";
    }
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        _ if name == "requirements.txt" => "requirement",
        "md" | "txt" => "documentation",
        "json" | "yaml" | "yml" => "configuration",
        _ if super::inventory::is_weight(&name) => "model",
        _ => "file",
    }
}

/// A licence expression for a card licence: the SPDX id, or a `LicenseRef-` for other names.
fn license_expression(card: &super::card::ModelCard) -> Option<String> {
    let l = card.license.as_deref()?;
    if let Some(id) = spdx_id(l) {
        return Some(id.to_owned());
    }
    let name = if l.eq_ignore_ascii_case("other") {
        card.license_name.as_deref().unwrap_or(l)
    } else {
        l
    };
    let r: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    Some(format!("LicenseRef-{r}"))
}

pub(crate) fn render(inv: &Inventory, findings: Option<&[Finding]>, meta: &BomMeta) -> Value {
    let serial = uuid_v4(meta.serial);
    let mut doc = Doc {
        base: format!("urn:aisec:bom:{serial}#"),
        graph: Vec::new(),
        elements: Vec::new(),
        next: 0,
    };
    let created = rfc3339(meta.timestamp);
    let agent = format!("{}agent-aisec", doc.base);
    let tool = format!("{}tool-aisec", doc.base);
    doc.graph.push(json!({
        "type": "CreationInfo",
        "@id": CI,
        "specVersion": "3.0.1",
        "created": created,
        "createdBy": [agent],
        "createdUsing": [tool],
    }));
    doc.push(json!({"type": "SoftwareAgent", "spdxId": agent, "name": "aisec"}));
    doc.push(
        json!({"type": "Tool", "spdxId": tool, "name": format!("aisec {}", meta.tool_version)}),
    );

    let mut file_ids: BTreeMap<String, String> = BTreeMap::new();
    let mut datasets: BTreeMap<String, String> = BTreeMap::new();
    let mut libraries: BTreeMap<String, String> = BTreeMap::new();
    let mut suppliers: BTreeMap<String, String> = BTreeMap::new();
    let mut model_ids = Vec::new();

    for m in &inv.models {
        let model_id = model_package(&mut doc, m, &mut suppliers);
        model_ids.push(model_id.clone());
        let files: Vec<String> = m
            .files
            .iter()
            .map(|f| {
                let id = doc.file(f, purpose(&f.path, m.single_file));
                file_ids.insert(f.path.clone(), id.clone());
                id
            })
            .collect();
        doc.relate(&model_id, "contains", files, None);
        if let Some(card_id) = m.card_file.as_ref().and_then(|c| file_ids.get(c)).cloned() {
            doc.relate(&model_id, "hasDocumentation", vec![card_id], None);
        }
        if let Some(sig) = &m.signature {
            let id = doc.file(sig, "evidence");
            doc.relate(
                &model_id,
                "other",
                vec![id],
                Some("digital signature: OpenSSF model-signing bundle over the model's files"),
            );
        }
        let Some(card) = &m.card else { continue };
        let mut trained = Vec::new();
        for d in &card.datasets {
            let id = if let Some(id) = datasets.get(d) {
                id.clone()
            } else {
                let id = doc.id("dataset");
                doc.push(json!({
                    "type": "dataset_DatasetPackage",
                    "spdxId": id,
                    "name": d,
                    "software_primaryPurpose": "data",
                    "dataset_datasetType": ["noAssertion"],
                }));
                datasets.insert(d.clone(), id.clone());
                id
            };
            trained.push(id);
        }
        doc.relate(&model_id, "trainedOn", trained, None);
        for b in &card.base_models {
            let id = doc.id("base-model");
            let mut p = json!({"type": "ai_AIPackage", "spdxId": id, "name": b,
                "software_primaryPurpose": "model"});
            if let Some(purl) = huggingface_purl(b) {
                p["software_packageUrl"] = json!(purl);
            }
            doc.push(p);
            doc.relate(
                &id,
                "ancestorOf",
                vec![model_id.clone()],
                card.base_model_relation.as_deref(),
            );
        }
        if let Some(expr) = license_expression(card) {
            let id = doc.id("license");
            doc.push(
                json!({"type": "simplelicensing_LicenseExpression", "spdxId": id,
                "simplelicensing_licenseExpression": expr}),
            );
            doc.relate(&model_id, "hasDeclaredLicense", vec![id], None);
        }
    }
    // Libraries after all models, so each is one element however many models use it.
    for (m, model_id) in inv.models.iter().zip(&model_ids) {
        let mut deps = Vec::new();
        for (purl, c) in libraries_of(m) {
            let id = if let Some(id) = libraries.get(&purl) {
                id.clone()
            } else {
                let id = doc.id("library");
                let mut p = json!({"type": "software_Package", "spdxId": id, "name": c["name"],
                    "software_primaryPurpose": "library", "software_packageUrl": purl});
                if let Some(v) = c["version"].as_str() {
                    p["software_packageVersion"] = json!(v);
                }
                doc.push(p);
                libraries.insert(purl, id.clone());
                id
            };
            deps.push(id);
        }
        doc.relate(model_id, "dependsOn", deps, None);
    }
    for f in &inv.other_files {
        let id = doc.file(f, purpose(&f.path, false));
        file_ids.insert(f.path.clone(), id);
    }
    if let Some(findings) = findings {
        vulnerabilities(&mut doc, inv, findings, &file_ids);
    }

    let sbom = doc.id("sbom");
    let mut elements = doc.elements.clone();
    doc.graph.push(json!({
        "type": "software_Sbom",
        "spdxId": sbom,
        "creationInfo": CI,
        "name": format!("AI-BOM of {}", inv.root_name),
        "software_sbomType": ["analyzed"],
        "rootElement": model_ids,
        "element": elements,
    }));
    elements.push(sbom.clone());
    let mut profiles = vec!["core", "software", "ai", "dataset"];
    if findings.is_some() {
        profiles.push("security");
    }
    doc.graph.push(json!({
        "type": "SpdxDocument",
        "spdxId": format!("{}document", doc.base),
        "creationInfo": CI,
        "name": format!("AI-BOM of {}", inv.root_name),
        "profileConformance": profiles,
        "rootElement": [sbom],
        "element": elements,
    }));
    json!({
        "@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
        "@graph": doc.graph,
    })
}

fn model_package(doc: &mut Doc, m: &Model, suppliers: &mut BTreeMap<String, String>) -> String {
    let id = doc.id("model");
    let mut p = json!({
        "type": "ai_AIPackage",
        "spdxId": id,
        "name": m.name,
        "software_primaryPurpose": "model",
    });
    if let Some(mid) = &m.id {
        if let Some(purl) = huggingface_purl(mid) {
            p["software_packageUrl"] = json!(purl);
        }
        if let Some((org, _)) = mid.split_once('/') {
            let sid = if let Some(s) = suppliers.get(org) {
                s.clone()
            } else {
                let s = doc.id("organization");
                doc.push(json!({"type": "Organization", "spdxId": s, "name": org}));
                suppliers.insert(org.to_owned(), s.clone());
                s
            };
            p["suppliedBy"] = json!(sid);
        }
    }
    if let Some(f) = m.files.first().filter(|_| m.single_file) {
        p["verifiedUsing"] = hashes(f);
    }
    let mut types = Vec::new();
    if let Some(cfg) = &m.config {
        types.extend(cfg.model_type.clone());
        types.extend(cfg.architecture.clone());
    }
    if !types.is_empty() {
        p["ai_typeOfModel"] = json!(types);
    }
    if let Some(card) = &m.card {
        if let Some(d) = &card.description {
            p["summary"] = json!(d);
        }
        if let Some(t) = &card.pipeline_tag {
            p["ai_domain"] = json!([t]);
        }
        let k = &card.considerations;
        let limits = k.technical_limitations();
        if !limits.is_empty() {
            p["ai_limitation"] = json!(limits.join("\n\n"));
        }
        if !k.use_cases.is_empty() {
            p["ai_informationAboutApplication"] = json!(k.use_cases.join("\n\n"));
        }
        if !k.training.is_empty() {
            p["ai_informationAboutTraining"] = json!(k.training.join("\n\n"));
        }
        if !card.metrics.is_empty() {
            let metrics: Vec<Value> = card
                .metrics
                .iter()
                .map(|mt| {
                    let key = match &mt.slice {
                        Some(s) => format!("{} ({s})", mt.kind),
                        None => mt.kind.clone(),
                    };
                    json!({"type": "DictionaryEntry", "key": key, "value": mt.value})
                })
                .collect();
            p["ai_metric"] = json!(metrics);
        }
        let mut notes = Vec::new();
        for r in &k.risks {
            notes.push(format!("Risk: {}", r.name));
            if let Some(m) = &r.mitigation {
                notes.push(format!("Mitigation: {m}"));
            }
        }
        notes.extend(
            k.environmental
                .iter()
                .map(|e| format!("Environmental impact: {e}")),
        );
        if !notes.is_empty() {
            p["comment"] = json!(notes.join("\n\n"));
        }
    }
    doc.push(p)
}

fn vulnerabilities(
    doc: &mut Doc,
    inv: &Inventory,
    findings: &[Finding],
    file_ids: &BTreeMap<String, String>,
) {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| (&a.location, a.rule.as_str()).cmp(&(&b.location, b.rule.as_str())));
    for f in sorted {
        let id = doc.id("vulnerability");
        let mut ids: Vec<Value> = f
            .taxonomy
            .cwe
            .iter()
            .chain(&f.taxonomy.atlas)
            .chain(&f.taxonomy.owasp_llm)
            .map(|i| json!({"type": "ExternalIdentifier", "externalIdentifierType": "securityOther", "identifier": i}))
            .collect();
        ids.insert(
            0,
            json!({"type": "ExternalIdentifier", "externalIdentifierType": "securityOther",
                "identifier": f.rule.as_str(), "comment": "aisec rule"}),
        );
        doc.push(json!({
            "type": "security_Vulnerability",
            "spdxId": id,
            "name": f.rule.as_str(),
            "summary": f.title,
            "description": f.message,
            "comment": format!("severity: {}; confidence: {}; location: {}", f.severity, f.confidence.as_str(), f.location),
            "externalIdentifier": ids,
        }));
        if let Some(file) = finding_path(inv, f).and_then(|p| file_ids.get(&p)).cloned() {
            doc.relate(&file, "hasAssociatedVulnerability", vec![id], None);
        }
    }
}
