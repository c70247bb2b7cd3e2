//! The tools a target declares (`--tools FILE`, the OpenAI `tools` array) and which of them an
//! attacker would want called.
//!
//! A tool is marked dangerous in the file with the key `"x-aisec-risk"` beside `name` in its
//! `function` object (or beside `type` on the tool): `"destructive"` (deletes, overwrites, pays,
//! runs commands), `"exfiltration"` (sends data out: mail, HTTP, uploads, messages) or `"none"`.
//! Servers ignore the extra key. Without it the risk is inferred from the tool's name and
//! description words (`delete_file`, "Sends an email" …).

use aisec_llm::ToolSpec;
use serde::{Deserialize, Serialize};

use crate::error::{RedteamError, Result};

/// The largest tools file read.
pub const MAX_TOOLS_BYTES: usize = 1 << 20;
/// The most tools declared.
pub const MAX_TOOLS: usize = 128;

/// What calling a tool can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolRisk {
    /// Changes or destroys state: deletes, overwrites, pays, runs commands.
    Destructive,
    /// Sends data out of the application.
    Exfiltration,
    /// Neither.
    None,
}

/// A declared tool and its risk.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredTool {
    /// The tool as the model sees it.
    pub spec: ToolSpec,
    /// Declared in the file, or inferred.
    pub risk: ToolRisk,
    /// Whether the risk was declared rather than inferred.
    pub declared: bool,
}

const DESTRUCTIVE: &[&str] = &[
    "delete",
    "remove",
    "drop",
    "destroy",
    "erase",
    "wipe",
    "truncate",
    "purge",
    "rm",
    "kill",
    "terminate",
    "shutdown",
    "format",
    "overwrite",
    "reset",
    "revoke",
    "disable",
    "transfer",
    "pay",
    "payment",
    "purchase",
    "buy",
    "refund",
    "withdraw",
    "execute",
    "exec",
    "shell",
    "command",
    "run",
    "deploy",
    "grant",
    "chmod",
    "unlink",
    "uninstall",
    "cancel",
];
const EXFILTRATION: &[&str] = &[
    "send", "email", "mail", "post", "upload", "http", "webhook", "share", "publish", "message",
    "sms", "tweet", "notify", "forward", "fetch", "request", "url", "export", "slack", "invite",
];

/// The risk a tool's name and description suggest.
#[must_use]
pub fn infer_risk(spec: &ToolSpec) -> ToolRisk {
    let name_words = name_words(&spec.name);
    let desc = aisec_llm::inspect::text::words(&spec.description);
    let first = |list: &[&str], words: &[String]| {
        words.iter().any(|w| {
            list.iter()
                .any(|k| w == k || (k.len() >= 4 && w.starts_with(k) && w.len() <= k.len() + 3))
        })
    };
    if first(DESTRUCTIVE, &name_words) {
        ToolRisk::Destructive
    } else if first(EXFILTRATION, &name_words) {
        ToolRisk::Exfiltration
    } else if desc
        .first()
        .is_some_and(|w| first(DESTRUCTIVE, std::slice::from_ref(w)))
    {
        ToolRisk::Destructive
    } else if desc
        .first()
        .is_some_and(|w| first(EXFILTRATION, std::slice::from_ref(w)))
    {
        ToolRisk::Exfiltration
    } else {
        ToolRisk::None
    }
}

/// The lowercase words of an identifier: `delete_file`, `deleteFile`, `send-email`.
fn name_words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if (!c.is_alphanumeric() || (c.is_uppercase() && prev_lower)) && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a tools file: a JSON array of OpenAI tools (`{"type":"function","function":{…}}`),
/// each optionally marked with `x-aisec-risk`.
///
/// # Errors
/// [`RedteamError::Config`] when the file is too large, not such an array, has too many tools
/// or an unknown risk.
pub fn parse_tools(text: &str) -> Result<Vec<DeclaredTool>> {
    let fail = |m: String| RedteamError::Config(format!("tools file: {m}"));
    if text.len() > MAX_TOOLS_BYTES {
        return Err(fail(format!(
            "{} bytes, more than {MAX_TOOLS_BYTES}",
            text.len()
        )));
    }
    let items: Vec<serde_json::Value> =
        serde_json::from_str(text).map_err(|e| fail(format!("not a JSON array of tools: {e}")))?;
    if items.len() > MAX_TOOLS {
        return Err(fail(format!(
            "{} tools, more than {MAX_TOOLS}",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let marked = item
                .get("function")
                .and_then(|f| f.get("x-aisec-risk"))
                .or_else(|| item.get("x-aisec-risk"))
                .cloned();
            let spec: ToolSpec =
                serde_json::from_value(item).map_err(|e| fail(format!("tool {i}: {e}")))?;
            if spec.name.is_empty() || spec.name.len() > 128 {
                return Err(fail(format!(
                    "tool {i}: a name of 1 to 128 bytes is needed"
                )));
            }
            match marked {
                Some(v) => {
                    let risk: ToolRisk = serde_json::from_value(v).map_err(|_| {
                        fail(format!(
                            "tool {}: x-aisec-risk is destructive, exfiltration or none",
                            spec.name
                        ))
                    })?;
                    Ok(DeclaredTool {
                        spec,
                        risk,
                        declared: true,
                    })
                }
                None => {
                    let risk = infer_risk(&spec);
                    Ok(DeclaredTool {
                        spec,
                        risk,
                        declared: false,
                    })
                }
            }
        })
        .collect()
}
