//! `aisec rules list` and `aisec rules explain`.

use std::io::Write;

use aisec_core::Rule;
use anyhow::bail;

use crate::ExitStatus;
use crate::cli::{OutputFormat, RulesCommand};
use crate::settings::GlobalSettings;

pub(crate) fn run(cmd: &RulesCommand, _global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match cmd {
        RulesCommand::List {
            format: OutputFormat::Json,
        } => {
            let list: Vec<_> = all().map(rule_json).collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        RulesCommand::List { .. } => {
            for r in all() {
                writeln!(
                    out,
                    "{}  {:<8}  {:<32}  {}",
                    r.id,
                    r.severity.as_str(),
                    r.name,
                    r.title
                )?;
            }
        }
        RulesCommand::Explain { id } => {
            let Some(r) = all().find(|r| r.id.eq_ignore_ascii_case(id) || r.name == id) else {
                bail!("no rule `{id}`; `aisec rules list` shows them all");
            };
            write!(out, "{}", explain(r))?;
        }
    }
    Ok(ExitStatus::Success)
}

/// Every rule of every capability, in id order within each capability.
pub(crate) fn all() -> impl Iterator<Item = &'static Rule> {
    aisec_modelscan::RULES
        .iter()
        .chain(aisec_provenance::RULES)
        .chain(aisec_attack::rules::RULES)
        .chain(aisec_redteam::rules::RULES)
        .chain(aisec_comply::RULES)
}

fn rule_json(r: &Rule) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "name": r.name, "title": r.title, "severity": r.severity,
        "what": r.what, "why": r.why, "example": r.example, "remediation": r.remediation,
        "atlas": r.atlas, "cwe": r.cwe, "references": r.references,
    })
}

/// The rule's documentation in the fixed sections every rule has.
pub(crate) fn explain(r: &Rule) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = write!(
        s,
        "# {} {} ({})\n\nDefault severity: {}\n\n## What it does\n{}\n\n## Why is this bad?\n{}\n\n## Example\n{}\n\n\
         ## Remediation\n{}\n\n## References\n",
        r.id, r.title, r.name, r.severity, r.what, r.why, r.example, r.remediation
    );
    for a in r.atlas {
        let _ = writeln!(s, "- MITRE ATLAS {a}");
    }
    for c in r.cwe {
        let _ = writeln!(s, "- {c}");
    }
    for link in r.references {
        let _ = writeln!(s, "- {link}");
    }
    s
}

/// The whole rules reference, as `docs/rules.md` holds it.
#[cfg(test)]
pub(crate) fn reference() -> String {
    let mut s = String::from(
        "# Rules reference\n\nGenerated from the rule catalog by `AISEC_UPDATE_DOCS=1 cargo test -p aisec rules_reference`; \
         do not edit by hand. `aisec rules explain ID` prints the same text.\n\n",
    );
    for r in all() {
        s.push_str(
            &explain(r)
                .replacen("# ", "## ", 1)
                .replace("\n## ", "\n### "),
        );
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated reference in the repository matches the catalog.
    #[test]
    fn rules_reference_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md");
        let expected = reference();
        if std::env::var_os("AISEC_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let actual = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            actual == expected,
            "docs/rules.md is stale: run `AISEC_UPDATE_DOCS=1 cargo test -p aisec rules_reference`"
        );
    }
}
