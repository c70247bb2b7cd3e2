//! Credentials in text: the token formats of the big providers (each with its fixed prefix and
//! length, so a match is rarely anything else), private-key blocks, JSON web tokens, connection
//! strings with a password, and `key = value` assignments whose value looks random (Shannon
//! entropy), which catches the formats no list knows.

use std::sync::LazyLock;

use regex::Regex;

use super::Hit;

struct Format {
    kind: &'static str,
    pattern: Regex,
    /// The capture group that holds the secret (0: the whole match).
    group: usize,
    score: f64,
}

fn f(kind: &'static str, pattern: &str, group: usize, score: f64) -> Format {
    Format {
        kind,
        pattern: Regex::new(&super::ascii_boundaries(pattern)).expect("a valid built-in pattern"),
        group,
        score,
    }
}

/// Token formats with a distinctive prefix (public facts about each provider's format).
static FORMATS: LazyLock<Vec<Format>> = LazyLock::new(|| {
    vec![
        f(
            "aws-access-key-id",
            r"\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\b",
            1,
            0.95,
        ),
        f(
            "aws-secret-access-key",
            r#"(?i)aws.{0,24}?(?:secret|sk).{0,24}?[=:"'\s]\s*"?([A-Za-z0-9/+]{40})\b"#,
            1,
            0.9,
        ),
        f(
            "github-token",
            r"\b(gh[pousr]_[A-Za-z0-9]{36,255})\b",
            1,
            0.97,
        ),
        f(
            "github-fine-grained-token",
            r"\b(github_pat_[A-Za-z0-9_]{60,255})\b",
            1,
            0.97,
        ),
        f("gitlab-token", r"\b(glpat-[A-Za-z0-9_\-]{20,})\b", 1, 0.95),
        f(
            "slack-token",
            r"\b(xox[abposr]-[A-Za-z0-9\-]{10,})\b",
            1,
            0.95,
        ),
        f(
            "slack-webhook",
            r"(https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,})",
            1,
            0.95,
        ),
        f(
            "stripe-key",
            r"\b((?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,})\b",
            1,
            0.95,
        ),
        f("google-api-key", r"\b(AIza[0-9A-Za-z_\-]{35})\b", 1, 0.95),
        f(
            "anthropic-key",
            r"\b(sk-ant-[a-z]{3,6}\d{2}-[A-Za-z0-9_\-]{80,})",
            1,
            0.97,
        ),
        f(
            "openai-key",
            r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,})",
            1,
            0.97,
        ),
        f(
            "openai-key",
            r"\b(sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,})",
            1,
            0.9,
        ),
        f("huggingface-token", r"\b(hf_[A-Za-z]{34})\b", 1, 0.9),
        f("npm-token", r"\b(npm_[A-Za-z0-9]{36})\b", 1, 0.9),
        f("pypi-token", r"\b(pypi-AgE[A-Za-z0-9_\-]{50,})", 1, 0.95),
        f(
            "sendgrid-key",
            r"\b(SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})\b",
            1,
            0.95,
        ),
        f("twilio-key", r"\b(SK[0-9a-fA-F]{32})\b", 1, 0.6),
        f(
            "private-key",
            r"(-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----)",
            1,
            0.99,
        ),
        f(
            "jwt",
            r"\b(eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,})",
            1,
            0.85,
        ),
        f(
            "connection-string",
            r"(?i)\b((?:postgres(?:ql)?|mysql|mongodb(?:\+srv)?|redis|amqps?|mssql)://[^\s:/@]{1,64}:[^\s@/]{3,128}@[^\s/]{1,255})",
            1,
            0.9,
        ),
    ]
});

/// `name = value`, `"name": "value"`, `name: value` where the name says secret.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&super::ascii_boundaries(
        r#"(?i)\b(?:api[_\-]?key|apikey|secret(?:[_\-]?key)?|client[_\-]?secret|access[_\-]?token|auth[_\-]?token|bearer|token|password|passwd|pwd|private[_\-]?key)\b["']?\s*(?:[:=]|=>)\s*["']?([^\s"',;]{8,200})"#,
    ))
    .expect("a valid built-in pattern")
});

/// `Authorization: Bearer <token>` and `Basic <base64>` headers.
static AUTH_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&super::ascii_boundaries(
        r"(?i)\bauthorization\s*:\s*(?:bearer|basic|token)\s+([A-Za-z0-9._~+/=\-]{16,})",
    ))
    .expect("a valid built-in pattern")
});

/// Shannon entropy of `s` in bits per character.
#[must_use]
pub fn entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = f64::from(n);
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether an assigned value looks like a random credential rather than a word, a placeholder
/// or a variable: long enough, letters and digits mixed, and high entropy for its length.
fn random_looking(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    let placeholder = [
        "xxxx",
        "****",
        "<",
        "your",
        "example",
        "changeme",
        "placeholder",
        "redacted",
        "${",
        "{{",
        "env(",
    ]
    .iter()
    .any(|p| lower.contains(p));
    let letters = v.chars().any(|c| c.is_ascii_alphabetic());
    let digits = v.chars().any(|c| c.is_ascii_digit());
    let min_entropy = if v.len() >= 20 { 3.5 } else { 3.0 };
    !placeholder && letters && digits && v.len() >= 8 && entropy(v) >= min_entropy
}

/// The credentials in `text`, in text order, overlapping matches merged (the strongest kept).
#[must_use]
pub fn scan(text: &str) -> Vec<Hit> {
    let mut hits = Vec::new();
    for fmt in FORMATS.iter() {
        for c in fmt.pattern.captures_iter(text) {
            let m = c.get(fmt.group).expect("format group");
            hits.push(secret(fmt.kind, m.start(), m.end(), fmt.score));
        }
    }
    for (kind, pattern, score) in [
        ("assigned-secret", &*ASSIGNMENT, 0.8),
        ("authorization-header", &*AUTH_HEADER, 0.9),
    ] {
        for c in pattern.captures_iter(text) {
            let m = c.get(1).expect("value group");
            if random_looking(m.as_str()) {
                hits.push(secret(kind, m.start(), m.end(), score));
            }
        }
    }
    hits.sort_by(|a, b| {
        let (sa, sb) = (a.span.map_or(0, |s| s.0), b.span.map_or(0, |s| s.0));
        sa.cmp(&sb).then(b.score.total_cmp(&a.score))
    });
    let mut out: Vec<Hit> = Vec::new();
    for h in hits {
        let (s, e) = h.span.expect("span");
        if let Some(last) = out.last_mut() {
            let (ls, le) = last.span.expect("span");
            if s < le {
                if h.score > last.score {
                    *last = h;
                } else if e > le {
                    last.span = Some((ls, e));
                }
                continue;
            }
        }
        out.push(h);
    }
    out
}

fn secret(kind: &str, start: usize, end: usize, score: f64) -> Hit {
    Hit {
        kind: kind.to_owned(),
        score,
        detail: format!("{kind} at bytes {start}..{end}"),
        span: Some((start, end)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, String)> {
        scan(text)
            .into_iter()
            .map(|h| {
                let (s, e) = h.span.unwrap();
                (h.kind, text[s..e].to_owned())
            })
            .collect()
    }

    #[test]
    fn finds_provider_formats() {
        // Each a made-up value in the provider's public format.
        let cases = [
            ("AKIAZ7Q3XW2PLM4KD9RT", "aws-access-key-id"),
            ("ghp_Q9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4J3k2", "github-token"),
            ("xoxb-2048-4096-Zq8Wx7Ec6Rv5Tb4Yn3", "slack-token"),
            ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
            ("AIzaSyQ9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4J", "google-api-key"),
            ("glpat-Zx8Cv7Bn6Mq5Wr4Et3Yu", "gitlab-token"),
            ("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", "huggingface-token"),
            (
                "sk-proj-Q9w8E7r6T5y4U3i2O1p0A9s8D7f6G5h4J3k2L1zXcVbNm0987",
                "openai-key",
            ),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "jwt",
            ),
            ("-----BEGIN OPENSSH PRIVATE KEY-----", "private-key"),
            (
                "postgres://app:S3cr3tPw@db.internal:5432/prod",
                "connection-string",
            ),
        ];
        for (value, kind) in cases {
            let text = format!("here it is: {value} ok");
            let got = found(&text);
            assert_eq!(got.len(), 1, "{value}: {got:?}");
            assert_eq!(got[0].0, kind, "{value}");
            assert!(
                value.starts_with(&got[0].1) || got[0].1.starts_with(value),
                "{got:?}"
            );
        }
    }

    #[test]
    fn assigned_values_need_to_look_random() {
        assert_eq!(
            found("api_key = \"f3Kq9Zx72LmPw0RtY8vB\"")[0].0,
            "assigned-secret"
        );
        assert_eq!(found("password: Tr0ub4dor&3xyz")[0].0, "assigned-secret");
        assert_eq!(
            found("Authorization: Bearer abcDEF123ghiJKL456mnoPQR789")[0].0,
            "authorization-header"
        );
        for benign in [
            "api_key = YOUR_API_KEY_HERE",
            "password: changeme123",
            "token = ${GITHUB_TOKEN}",
            "the password field must be 8 characters",
            "secret = process.env.SECRET",
            "set api_key to the value from the dashboard",
            "commit 3f2c1a9b8e7d6c5b4a39281706f5e4d3c2b1a098",
            "sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ] {
            assert!(found(benign).is_empty(), "{benign}: {:?}", found(benign));
        }
    }

    #[test]
    fn entropy_is_bits_per_character() {
        assert!((entropy("aaaa") - 0.0).abs() < 1e-12);
        assert!((entropy("abcd") - 2.0).abs() < 1e-12);
        assert!(entropy("").abs() < 1e-12);
    }
}
