//! OWASP Threat Dragon v2 interop: exports validate against the v2 schema's constraints, and a
//! Threat Dragon model imports with nothing lost (every cell comes back out with its id, place,
//! flags and recorded threats).

use std::path::{Path, PathBuf};

use aisec_threatmodel::model::RecordedStatus;
use aisec_threatmodel::threatdragon::{self, export, import};
use aisec_threatmodel::{SystemModel, evaluate, rules};
use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

const TD_EXAMPLE: &str = "examples/threat-models/threat-dragon/payments-portal.json";

/// Checks `v` against `schema`, for the keywords the Threat Dragon v2 schema uses; any other
/// keyword is a test failure (so a schema the checker does not understand cannot pass).
fn validate(schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let s = schema.as_object().expect("a schema is an object");
    for k in s.keys() {
        assert!(
            [
                "$comment",
                "type",
                "properties",
                "required",
                "items",
                "minLength",
                "maxLength",
                "minimum",
                "nullable"
            ]
            .contains(&k.as_str()),
            "schema keyword {k} not understood"
        );
    }
    if v.is_null() && s.get("nullable") == Some(&Value::Bool(true)) {
        return;
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type keyword"),
        };
        let fits = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "number" => v.is_number(),
            "integer" => v.as_i64().is_some() || v.as_u64().is_some(),
            other => panic!("type {other}"),
        });
        if !fits {
            errors.push(format!("{at}: {v} is not {types:?}"));
            return;
        }
    }
    if let (Some(min), Some(s)) = (schema.get("minLength").and_then(Value::as_u64), v.as_str())
        && (s.chars().count() as u64) < min
    {
        errors.push(format!("{at}: {s:?} shorter than {min}"));
    }
    if let (Some(max), Some(s)) = (schema.get("maxLength").and_then(Value::as_u64), v.as_str())
        && (s.chars().count() as u64) > max
    {
        errors.push(format!("{at}: {s:?} longer than {max}"));
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} below {min}"));
    }
    if let (Some(req), Some(o)) = (
        schema.get("required").and_then(Value::as_array),
        v.as_object(),
    ) {
        for r in req.iter().filter_map(Value::as_str) {
            if !o.contains_key(r) {
                errors.push(format!("{at}: `{r}` is required"));
            }
        }
    }
    if let (Some(props), Some(o)) = (
        schema.get("properties").and_then(Value::as_object),
        v.as_object(),
    ) {
        for (k, sub) in props {
            if let Some(x) = o.get(k) {
                validate(sub, x, &format!("{at}/{k}"), errors);
            }
        }
    }
    if let (Some(items), Some(a)) = (schema.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            validate(items, x, &format!("{at}/{i}"), errors);
        }
    }
}

fn schema_errors(v: &Value) -> Vec<String> {
    let schema: Value = serde_json::from_str(&read(
        "crates/aisec-threatmodel/tests/data/threat-dragon-v2.constraints.json",
    ))
    .expect("schema");
    let mut errors = Vec::new();
    validate(&schema, v, "", &mut errors);
    errors
}

fn imported() -> SystemModel {
    let got = import(&read(TD_EXAMPLE), TD_EXAMPLE).expect("imports");
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
    got.model
}

fn exported(model: &SystemModel) -> Value {
    let rules = rules::builtin().expect("rules");
    let threats = evaluate(model, &rules, &[]);
    export(model, &threats, &rules)
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let mut v: Value = serde_json::from_str(&read(TD_EXAMPLE)).unwrap();
    assert_eq!(schema_errors(&v), Vec::<String>::new());
    let cells = &mut v["detail"]["diagrams"][0]["cells"];
    cells[3]["data"]["threats"][0]
        .as_object_mut()
        .unwrap()
        .remove("title");
    cells[1]["source"]["x"] = json!(250.5);
    v["version"] = json!("2.2.0-and-more");
    let errors = schema_errors(&v);
    assert_eq!(errors.len(), 3, "{errors:#?}");
}

#[test]
fn exports_of_every_example_validate() {
    for name in [
        "rag-support-chatbot",
        "fraud-scoring-pipeline",
        "autonomous-coding-agent",
    ] {
        let file = format!("examples/threat-models/{name}.yaml");
        let model = SystemModel::from_yaml(&read(&file), &file).expect("model");
        let v = exported(&model);
        assert_eq!(schema_errors(&v), Vec::<String>::new(), "{name}");
        let cells = v["detail"]["diagrams"][0]["cells"].as_array().unwrap();
        // Every element, flow and boundary is drawn once.
        assert_eq!(
            cells.len(),
            model.elements.len() + model.flows.len() + model.boundaries.len(),
            "{name}"
        );
        // The rules' threats are on their cells, marked with the rule id.
        let threats: Vec<&Value> = cells
            .iter()
            .flat_map(|c| c["data"]["threats"].as_array().into_iter().flatten())
            .collect();
        assert!(!threats.is_empty());
        assert!(threats.iter().all(|t| {
            let r = t["ruleId"].as_str().unwrap_or("");
            r.starts_with("TM") && t["title"].as_str().unwrap().starts_with(r)
        }));
        assert_eq!(
            v["detail"]["threatTop"].as_u64().unwrap() as usize,
            threats.len()
        );
        // Flows point at the cells of their elements.
        let ids: Vec<&str> = cells.iter().map(|c| c["id"].as_str().unwrap()).collect();
        for c in cells.iter().filter(|c| c["shape"] == "flow") {
            assert!(ids.contains(&c["source"]["cell"].as_str().unwrap()));
            assert!(ids.contains(&c["target"]["cell"].as_str().unwrap()));
        }
        // The AI kinds come back from the export.
        let back = import(&v.to_string(), "x.json").expect("re-import").model;
        for (a, b) in model.elements.iter().zip(&back.elements) {
            assert_eq!(
                (&a.id, a.kind, &a.props, &a.boundary),
                (&b.id, b.kind, &b.props, &b.boundary),
                "{name}"
            );
        }
        for (a, b) in model.flows.iter().zip(&back.flows) {
            assert_eq!(
                (&a.id, &a.from, &a.to, a.encrypted, a.authenticated, &a.data),
                (&b.id, &b.from, &b.to, b.encrypted, b.authenticated, &b.data),
                "{name}"
            );
        }
        // Rule threats are not read back as recorded ones: the rules raise them again.
        assert!(back.elements.iter().all(|e| e.threats.is_empty()));
        assert_eq!(
            evaluate(&back, &rules::builtin().unwrap(), &[]).len(),
            evaluate(&model, &rules::builtin().unwrap(), &[]).len(),
            "{name}"
        );
    }
}

#[test]
fn a_threat_dragon_model_imports_into_aisec_terms() {
    let m = imported();
    assert_eq!(m.name, "Payments portal");
    assert_eq!(m.owner.as_deref(), Some("Payments platform team"));
    assert_eq!(m.reviewer.as_deref(), Some("M. Haddad"));
    assert_eq!(m.contributors, ["R. Okafor", "L. Brandt"]);
    assert_eq!(m.diagrams.len(), 2);
    let e = |id: &str| m.element(id).unwrap_or_else(|| panic!("{id}"));
    // Elements drawn inside the box belong to its boundary; the customer does not.
    assert_eq!(
        e("checkout-web-app").boundary.as_deref(),
        Some("payments-vpc")
    );
    assert_eq!(e("audit-log").boundary.as_deref(), Some("payments-vpc"));
    assert_eq!(e("customer").boundary, None);
    // Threat Dragon's flags become properties.
    assert!(e("checkout-web-app").flag("web_application"));
    assert_eq!(e("checkout-web-app").word("privilege"), Some("www-data"));
    assert!(e("payment-service").flag("handles_payment"));
    assert!(e("audit-log").flag("log") && e("audit-log").flag("signed"));
    assert_eq!(e("orders-db").words("contains"), ["credentials"]);
    assert!(e("orders-db").flag("encrypted_at_rest"));
    assert!(e("card-processor").out_of_scope);
    // The flow drawn across the boundary line crosses it; the one inside the box does not.
    let f = |name: &str| {
        m.flows
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert!(f("Browse and pay").crosses_boundary && f("Browse and pay").bidirectional);
    assert!(f("Browse and pay").public_network && f("Browse and pay").encrypted);
    assert!(!f("Charge card").crosses_boundary);
    assert!(f("Issue refund").crosses_boundary);
    assert_eq!(
        f("Audit events").layout.as_ref().unwrap().points,
        [[700.0, 260.0]]
    );
    // Recorded threats are kept with their status.
    let t = &e("checkout-web-app").threats;
    assert_eq!(t.len(), 2);
    assert_eq!(t[1].status, RecordedStatus::Mitigated);
    assert_eq!(
        e("orders-db").threats[0].status,
        RecordedStatus::NotApplicable
    );
    // The rules see the imported model: the customer's flow is exposed, the out-of-scope
    // processor is left alone.
    let rules = rules::builtin().unwrap();
    let threats = evaluate(&m, &rules, &[]);
    assert!(threats.iter().any(|t| t.target == "checkout-web-app"));
    assert!(threats.iter().all(|t| t.target != "card-processor"));
    // As YAML and back: the same model.
    let yaml = m.to_yaml();
    let mut back =
        SystemModel::from_yaml(&yaml, TD_EXAMPLE).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    back.clear_lines();
    assert_eq!(back, m);
}

/// The parts of a v2 model a person entered or drew, by cell id.
fn projection(v: &Value) -> Value {
    let mut cells = serde_json::Map::new();
    for (di, d) in v["detail"]["diagrams"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for c in d["cells"].as_array().unwrap() {
            let data = &c["data"];
            let mut keep = serde_json::Map::new();
            keep.insert("diagram".into(), json!(di));
            for k in ["shape", "position", "size", "zIndex"] {
                keep.insert(k.into(), c[k].clone());
            }
            for k in ["source", "target", "vertices"] {
                if !c[k].is_null() {
                    keep.insert(k.into(), c[k].clone());
                }
            }
            let mut d = data.as_object().unwrap().clone();
            d.remove("aisec");
            d.remove("hasOpenThreats");
            if let Some(Value::Array(threats)) = d.get_mut("threats") {
                // Only what Threat Dragon's threat form holds (its editor's `new` and `id` are
                // UI bookkeeping; `id` repeats `threatId`).
                for t in threats.iter_mut() {
                    let t = t.as_object_mut().unwrap();
                    t.remove("new");
                    t.remove("id");
                }
            }
            keep.insert("data".into(), Value::Object(d));
            cells.insert(c["id"].as_str().unwrap().to_owned(), Value::Object(keep));
        }
    }
    json!({
        "summary": {
            "title": v["summary"]["title"],
            "owner": v["summary"]["owner"],
            "description": v["summary"]["description"],
        },
        "contributors": v["detail"]["contributors"],
        "reviewer": v["detail"]["reviewer"],
        "diagrams": v["detail"]["diagrams"].as_array().unwrap().iter().map(|d| json!({
            "title": d["title"], "type": d["diagramType"], "description": d["description"],
        })).collect::<Vec<_>>(),
        "cells": cells,
    })
}

#[test]
fn a_threat_dragon_model_round_trips_with_no_loss() {
    let original: Value = serde_json::from_str(&read(TD_EXAMPLE)).unwrap();
    let m = imported();
    // Through aisec YAML too, as a user who imports then edits the YAML would.
    let m = SystemModel::from_yaml(&m.to_yaml(), "m.yaml").unwrap();
    // Only the recorded threats: with no rule threats the export is the drawing itself.
    let out = export(&m, &[], &rules::builtin().unwrap());
    assert_eq!(schema_errors(&out), Vec::<String>::new());
    let (a, b) = (projection(&original), projection(&out));
    for (id, cell) in a["cells"].as_object().unwrap() {
        assert_eq!(Some(cell), b["cells"].get(id), "cell {id}");
    }
    assert_eq!(a, b);
    // Whole cells too: styling, ports, and data keys aisec does not interpret come back as they
    // were (only aisec's own `data.aisec` is added).
    let cells = |v: &Value| -> Vec<Value> {
        let mut all: Vec<Value> = v["detail"]["diagrams"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["cells"].as_array().unwrap().clone())
            .map(|mut c| {
                let data = c["data"].as_object_mut().unwrap();
                data.remove("aisec");
                if let Some(Value::Array(ts)) = data.get_mut("threats") {
                    for t in ts {
                        t.as_object_mut().unwrap().remove("new");
                    }
                }
                c
            })
            .collect();
        all.sort_by_key(|c| c["id"].as_str().unwrap().to_owned());
        all
    };
    let (before, after) = (cells(&original), cells(&out));
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(x, y);
    }
    assert_eq!(before.len(), after.len());
    // With the rules' threats added, the recorded ones are still there, and the numbering goes on
    // after them.
    let full = exported(&m);
    assert_eq!(schema_errors(&full), Vec::<String>::new());
    let numbers: Vec<u64> = full["detail"]["diagrams"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["cells"].as_array().unwrap())
        .flat_map(|c| c["data"]["threats"].as_array().into_iter().flatten())
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), numbers.len(), "threat numbers are unique");
    assert!(numbers.len() > 4);
}

#[test]
fn bad_threat_dragon_input_is_a_clear_error() {
    let err = |text: &str| import(text, "td.json").expect_err(text).to_string();
    assert!(err("[]").contains("JSON object"));
    assert!(err("{\"version\": \"1.6.1\", \"detail\": {\"diagrams\": []}}").contains("only v2"));
    assert!(err("{\"version\": \"2.2.0\"}").contains("detail"));
    assert!(err("{\"version\":\"2.2.0\",\"summary\":{\"title\":\"t\"},\"detail\":{\"diagrams\":[{\"cells\":[{\"id\":\"x1\",\"shape\":\"cloud\",\"data\":{\"type\":\"tm.Cloud\"}}]}]}}")
        .contains("unknown cell type"));
    assert!(err("{\"version\":\"2.2.0\",\"summary\":{\"title\":\"t\"},\"detail\":{\"diagrams\":[{\"cells\":[]}]}}")
        .contains("no actor, process or store"));
    // A wrong aisec property in the cell's data names the cell.
    let mut v: Value = serde_json::from_str(&read(TD_EXAMPLE)).unwrap();
    v["detail"]["diagrams"][0]["cells"][2]["data"]["aisec"] =
        json!({"kind": "llm", "properties": {"hosting": "moon"}});
    assert!(err(&v.to_string()).contains("cells[2]"));
    // Bounds.
    assert!(err(&" ".repeat(threatdragon::MAX_BYTES + 1)).contains("larger than"));
    let many = json!({"version": "2.2.0", "summary": {"title": "t"}, "detail": {"diagrams":
        [{"cells": vec![json!({}); threatdragon::MAX_CELLS + 1]}]}});
    assert!(err(&many.to_string()).contains("cells"));
    // A flow left dangling in the drawing is reported, not silently dropped.
    let mut v: Value = serde_json::from_str(&read(TD_EXAMPLE)).unwrap();
    v["detail"]["diagrams"][0]["cells"][8]["target"] = json!({"x": 10, "y": 10});
    let got = import(&v.to_string(), "td.json").unwrap();
    assert_eq!(got.warnings.len(), 1, "{:?}", got.warnings);
    assert!(got.warnings[0].contains("Browse and pay"));
}

#[test]
fn detection_of_threat_dragon_files() {
    assert!(threatdragon::looks_like(&read(TD_EXAMPLE)));
    assert!(!threatdragon::looks_like(&read(
        "examples/threat-models/rag-support-chatbot.yaml"
    )));
}
