//! Code in a reply that an application might run: HTML script, destructive or injected SQL,
//! dangerous shell commands. Structural patterns, not keywords: a statement or command has to be
//! written out (in a code block, at a command position, or as a complete statement), and prose
//! that warns against it ("never run …") does not count.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

use serde::{Deserialize, Serialize};

/// Kinds of code an application might execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CodeKind {
    /// HTML `<script>`, event handlers, `javascript:` URLs.
    Script,
    /// SQL statements that change or drop data.
    Sql,
    /// Shell commands.
    Shell,
}

fn re(p: &str) -> Regex {
    RegexBuilder::new(p)
        .case_insensitive(true)
        .multi_line(true)
        .build()
        .expect("a valid built-in pattern")
}

static SCRIPT: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // A script element with content or a source.
        r"<script\b[^>]*>[^<]*\S[^<]*</script\s*>|<script\b[^>]*\bsrc\s*=",
        // An event handler attribute inside a tag.
        r#"<[a-z][a-z0-9-]*\s[^<>]*?\bon[a-z]{3,}\s*=\s*["']?[^\s"'>]"#,
        // A javascript: URL in an attribute or a markdown link.
        r#"\b(?:href|src|action|formaction|data|xlink:href)\s*=\s*["']?\s*javascript:|\]\(\s*javascript:"#,
        // An iframe that carries its own document.
        r"<iframe\b[^>]*\bsrcdoc\s*=",
    ]
    .iter()
    .map(|p| re(p))
    .collect()
});

static SQL: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        r#"\bdrop\s+(?:table|database|schema|view|user)\s+(?:if\s+exists\s+)?[\w."`\[\]]+"#,
        r#"\btruncate\s+(?:table\s+)?[a-z_][\w."`\[\]]*\s*(?:;|$)"#,
        // DELETE without a WHERE clause, or with one that is always true.
        r#"\bdelete\s+from\s+[\w."`\[\]]+\s*(?:;|$|where\s+(?:1\s*=\s*1|true|'1'\s*=\s*'1')\b)"#,
        // UPDATE … SET … up to the end of the statement: kept when it has no WHERE.
        r#"\bupdate\s+[\w."`\[\]]+\s+set\s+[^;\n]*"#,
        r#"\balter\s+table\s+[\w."`\[\]]+\s+drop\b"#,
        // Injection shapes.
        r"'\s*(?:or|and)\s+'?\w+'?\s*=\s*'?\w+'?\s*(?:--|#|;|$)|'\s*;\s*(?:drop|delete|update|insert|shutdown)\b",
        r"\bunion\s+(?:all\s+)?select\b[^;\n]*\bfrom\b",
        r"\bxp_cmdshell\b|\bgrant\s+all\s+privileges\b",
    ]
    .iter()
    .map(|p| re(p))
    .collect()
});

static SHELL: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // rm with a recursive flag on a broad target.
        r#"\brm\s+(?:-[a-z]*r[a-z]*\s+|--recursive\s+|-[a-z]+\s+)+(?:--no-preserve-root\s+)?["']?(?:/|/\*|~/?|\$home/?|\*|\.{1,2}/?|/(?:etc|usr|var|home|bin|boot|lib|opt|root|srv)/?)["']?(?:\s|$|;|&)"#,
        // Download piped into an interpreter.
        r"\b(?:curl|wget|iwr|invoke-webrequest)\b[^|\n]*\|\s*(?:sudo\s+)?(?:(?:ba|z|da|k|fi)?sh|python[23]?|perl|ruby|node|iex)\b",
        r"\b(?:ba)?sh\s+(?:-c\s+)?[<(]*\s*\$?\(\s*(?:curl|wget)\b|\bbash\s+<\(\s*(?:curl|wget)\b",
        // Disk destruction.
        r"\bmkfs(?:\.\w+)?\s+/dev/|\bdd\s+[^\n]*\bof=/dev/(?:sd|nvme|hd|disk|xvd|mmcblk)|>\s*/dev/sd[a-z]\b|\bshred\s+[^\n]*/dev/",
        // Fork bomb.
        r":\(\)\s*\{\s*:\s*\|\s*:\s*&\s*\}\s*;\s*:",
        // World-writable or re-owned root.
        r"\bch(?:mod|own)\s+-r\s+\S+\s+/(?:\s|$)|\bchmod\s+(?:-r\s+)?0?777\s+/(?:\s|$|etc|usr|bin)",
        // Reverse shells.
        r"\bnc(?:at)?\b[^\n]*\s-[ec]\s+/bin/(?:ba)?sh\b|/dev/tcp/\d|\bbash\s+-i\s+>&",
        // Encoded or downloaded PowerShell.
        r"\bpowershell(?:\.exe)?\b[^\n]*\s-(?:enc|encodedcommand|e)\s+[a-z0-9+/=]{16,}|\biex\s*\(\s*(?:new-object\s+net\.webclient|iwr|invoke-webrequest)",
    ]
    .iter()
    .map(|p| re(p))
    .collect()
});

/// Words that make a prose line a warning about a command rather than the command.
const WARNINGS: &[&str] = &[
    "never",
    "don't",
    "do not",
    "avoid",
    "dangerous",
    "careful",
    "warning",
    "should not",
    "shouldn't",
    "must not",
    "refuse",
    "won't",
    "will not",
    "cannot",
    "can't",
    "malicious",
];

/// Fenced code blocks and inline code spans, as byte ranges.
struct Regions {
    fenced: Vec<(usize, usize)>,
    inline: Vec<(usize, usize)>,
}

impl Regions {
    fn of(text: &str) -> Self {
        let mut fenced = Vec::new();
        let mut open: Option<usize> = None;
        let mut pos = 0;
        for line in text.split_inclusive('\n') {
            let t = line.trim_start();
            if t.starts_with("```") || t.starts_with("~~~") {
                match open.take() {
                    Some(start) => fenced.push((start, pos)),
                    None => open = Some(pos + line.len()),
                }
            }
            pos += line.len();
        }
        if let Some(start) = open {
            fenced.push((start, text.len()));
        }
        let mut inline = Vec::new();
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'`'
                && !fenced.iter().any(|&(s, e)| i >= s && i < e)
                && let Some(j) = b[i + 1..].iter().position(|&c| c == b'`' || c == b'\n')
                && b[i + 1 + j] == b'`'
                && j > 0
            {
                inline.push((i + 1, i + 1 + j));
                i += j + 2;
                continue;
            }
            i += 1;
        }
        Self { fenced, inline }
    }

    fn in_fenced(&self, at: usize) -> bool {
        self.fenced.iter().any(|&(s, e)| at >= s && at < e)
    }

    fn in_inline(&self, at: usize) -> bool {
        self.inline.iter().any(|&(s, e)| at >= s && at < e)
    }
}

fn line_of(text: &str, at: usize) -> (usize, &str) {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    (start, &text[start..end])
}

fn warns(line: &str) -> bool {
    let l = line.to_lowercase().replace('’', "'");
    WARNINGS.iter().any(|w| l.contains(w))
}

/// Whether the match at `start..end` is a real statement or command, not a mention.
fn accepted(kind: CodeKind, text: &str, regions: &Regions, start: usize, end: usize) -> bool {
    if regions.in_fenced(start) {
        return true;
    }
    let (line_start, line) = line_of(text, start);
    if warns(line) {
        return false;
    }
    let matched = &text[start..end];
    match kind {
        CodeKind::Script => true,
        CodeKind::Sql => {
            if matched.contains('\'') {
                // Injection shapes are structural on their own.
                return true;
            }
            let keyword: String = matched
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            let statement_end = text[end..].chars().find(|c| !c.is_whitespace()) == Some(';')
                || matched.trim_end().ends_with(';');
            regions.in_inline(start)
                || (keyword.len() >= 4 && keyword == keyword.to_uppercase())
                || statement_end
        }
        CodeKind::Shell => {
            if regions.in_inline(start) {
                return true;
            }
            // At a command position: only a prompt, `sudo` or a separator before it on its line.
            let before = text[line_start..start].trim();
            let before = before
                .trim_start_matches(['$', '#', '>', '%'])
                .trim()
                .trim_end_matches("sudo")
                .trim();
            before.is_empty() || before.ends_with([';', '|', '&'])
        }
    }
}

/// The first piece of code of one of `kinds` in `text`: the kind and the match's byte range.
#[must_use]
pub fn find(text: &str, kinds: &[CodeKind]) -> Option<(CodeKind, usize, usize)> {
    let regions = Regions::of(text);
    for &kind in kinds {
        let patterns: &[Regex] = match kind {
            CodeKind::Script => &SCRIPT,
            CodeKind::Sql => &SQL,
            CodeKind::Shell => &SHELL,
        };
        for p in patterns {
            for m in p.find_iter(text) {
                if kind == CodeKind::Sql
                    && m.as_str()
                        .get(..6)
                        .is_some_and(|k| k.eq_ignore_ascii_case("update"))
                {
                    let upper = m.as_str().to_ascii_uppercase();
                    if let Some(w) = upper.find(" WHERE ") {
                        let cond = upper[w + 7..].trim();
                        if !(cond.starts_with("1=1")
                            || cond.starts_with("1 = 1")
                            || cond.starts_with("TRUE"))
                        {
                            continue;
                        }
                    }
                }
                if accepted(kind, text, &regions, m.start(), m.end()) {
                    return Some((kind, m.start(), m.end()));
                }
            }
        }
    }
    None
}
