//! The data-flow diagram: Mermaid (renders in GitHub, GitLab and most wikis as it is) and
//! Graphviz DOT (which `dot -Tsvg` turns into SVG). Trust boundaries are clusters, untrusted
//! ones drawn dashed and red; element shapes follow the DFD conventions (external entities as
//! boxes, processes rounded, stores as cylinders) with the AI kinds as hexagons; a flow is
//! labelled with its protocol and data, drawn red when it crosses a boundary in clear text.
//! Node names are generated (`n0`, `n1`...) and every label is escaped, so nothing in the model
//! can break out of the diagram's syntax.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::model::{Element, Kind, SystemModel};

fn node_ids(model: &SystemModel) -> HashMap<&str, String> {
    model
        .elements
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.as_str(), format!("n{i}")))
        .collect()
}

fn mermaid_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => "#quot;".to_owned(),
            '<' => "#lt;".to_owned(),
            '>' => "#gt;".to_owned(),
            '#' => "#35;".to_owned(),
            '|' => "#124;".to_owned(),
            '`' => "#96;".to_owned(),
            c if c.is_control() => " ".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn dot_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => "\\\"".to_owned(),
            '\\' => "\\\\".to_owned(),
            c if c.is_control() => " ".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn label(e: &Element) -> String {
    if e.kind.is_ai() {
        format!("{}\n«{}»", e.name, e.kind.name())
    } else {
        e.name.clone()
    }
}

fn flow_label(f: &crate::model::Flow) -> String {
    let mut parts = Vec::new();
    if let Some(n) = &f.name {
        parts.push(n.clone());
    }
    if let Some(p) = &f.protocol {
        parts.push(p.clone());
    }
    if !f.data.is_empty() {
        parts.push(f.data.join(", "));
    }
    parts.join(": ")
}

/// The diagram in Mermaid's flowchart syntax.
#[must_use]
pub fn mermaid(model: &SystemModel) -> String {
    let ids = node_ids(model);
    let mut out = String::from("flowchart LR\n");
    let node = |out: &mut String, e: &Element, indent: &str| {
        let id = &ids[e.id.as_str()];
        let text = mermaid_text(&label(e)).replace('\n', "<br/>");
        let shape = match e.kind {
            Kind::Actor => format!("{id}[\"{text}\"]"),
            Kind::Process => format!("{id}(\"{text}\")"),
            k if k.is_store() => format!("{id}[(\"{text}\")]"),
            _ => format!("{id}{{{{\"{text}\"}}}}"),
        };
        let _ = writeln!(out, "{indent}{shape}");
    };
    for (i, b) in model.boundaries.iter().enumerate() {
        let trust = if b.trusted { "" } else { " (untrusted)" };
        let _ = writeln!(out, "  subgraph b{i}[\"{}{trust}\"]", mermaid_text(&b.name));
        for e in model
            .elements
            .iter()
            .filter(|e| e.boundary.as_ref() == Some(&b.id))
        {
            node(&mut out, e, "    ");
        }
        out.push_str("  end\n");
    }
    for e in model.elements.iter().filter(|e| e.boundary.is_none()) {
        node(&mut out, e, "  ");
    }
    let mut red = Vec::new();
    for (i, f) in model.flows.iter().enumerate() {
        let text = flow_label(f);
        let (a, b) = (&ids[f.from.as_str()], &ids[f.to.as_str()]);
        if text.is_empty() {
            let _ = writeln!(out, "  {a} --> {b}");
        } else {
            let _ = writeln!(out, "  {a} -->|\"{}\"| {b}", mermaid_text(&text));
        }
        if model.crosses(f) && !f.encrypted {
            red.push(i.to_string());
        }
    }
    for (i, b) in model.boundaries.iter().enumerate() {
        if !b.trusted {
            let _ = writeln!(out, "  style b{i} stroke:#c0392b,stroke-dasharray: 5 5");
        }
    }
    if !red.is_empty() {
        let _ = writeln!(out, "  linkStyle {} stroke:#c0392b", red.join(","));
    }
    out
}

/// The diagram in Graphviz DOT.
#[must_use]
pub fn dot(model: &SystemModel) -> String {
    let ids = node_ids(model);
    let mut out = format!(
        "digraph dfd {{\n  graph [rankdir=LR, fontname=\"Helvetica\", label=\"{}\", labelloc=t];\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
        dot_text(&model.name)
    );
    let node = |out: &mut String, e: &Element, indent: &str| {
        let (shape, style) = match e.kind {
            Kind::Actor => ("box", "solid"),
            Kind::Process => ("box", "rounded"),
            k if k.is_store() => ("cylinder", "solid"),
            _ => ("hexagon", "filled"),
        };
        let fill = if e.kind.is_ai() {
            ", fillcolor=\"#eaf2fb\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{indent}{} [label=\"{}\", shape={shape}, style=\"{style}\"{fill}];",
            ids[e.id.as_str()],
            dot_text(&label(e)).replace('\n', "\\n")
        );
    };
    for (i, b) in model.boundaries.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_{i} {{");
        let _ = writeln!(
            out,
            "    label=\"{}{}\"; style={}; color=\"{}\";",
            dot_text(&b.name),
            if b.trusted { "" } else { " (untrusted)" },
            if b.trusted { "solid" } else { "dashed" },
            if b.trusted { "#7f8c8d" } else { "#c0392b" }
        );
        for e in model
            .elements
            .iter()
            .filter(|e| e.boundary.as_ref() == Some(&b.id))
        {
            node(&mut out, e, "    ");
        }
        out.push_str("  }\n");
    }
    for e in model.elements.iter().filter(|e| e.boundary.is_none()) {
        node(&mut out, e, "  ");
    }
    for f in &model.flows {
        let color = if model.crosses(f) && !f.encrypted {
            ", color=\"#c0392b\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {} -> {} [label=\"{}\"{color}];",
            ids[f.from.as_str()],
            ids[f.to.as_str()],
            dot_text(&flow_label(f))
        );
    }
    out.push_str("}\n");
    out
}
