//! Markdown images and links (inline and reference-style) and HTML elements that load or link a
//! URL (`img`, `a`, `iframe`, ...), found in model output: a renderer fetches images by itself,
//! so an image URL is a request the reader never chose to make.

use std::sync::LazyLock;

use regex::{Regex, RegexBuilder};

use super::text::base64_decode;
fn re(p: &str) -> Regex {
    RegexBuilder::new(p)
        .case_insensitive(true)
        .multi_line(true)
        .build()
        .expect("a valid built-in pattern")
}

/// `![alt](url "title")` and `[text](url)`.
static INLINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(!?)\[[^\]\n]{0,500}\]\(\s*<?([^()\s<>]+(?:\([^()\s]*\)[^()\s<>]*)*)>?(?:\s+["'(][^"')\n]*["')])?\s*\)"#,
    )
});
/// `[id]: url` definitions of reference-style links and images, and where images use them.
static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[ \t]{0,3}\[([^\]\n]{1,200})\]:[ \t]*<?(\S+?)>?(?:[ \t]|$)"));
static REFERENCE_IMAGE: LazyLock<Regex> =
    LazyLock::new(|| re(r"!\[[^\]\n]{0,500}\]\[([^\]\n]{0,200})\]"));
/// HTML elements that load or link a URL.
static HTML: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"<(img|a|iframe|image|source|video|audio|link|object|embed)\b[^>]*?\b(src|href|srcset|poster|data)\s*=\s*["']?([^"'\s>]+)"#,
    )
});

/// An image or link in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Byte span of the whole markdown or HTML construct.
    pub start: usize,
    /// End of that span.
    pub end: usize,
    /// The URL as written.
    pub url: String,
    /// Loaded without a click: a markdown image, or an HTML element other than `a`.
    pub image: bool,
}

/// Every markdown (inline and reference-style) and HTML image or link in `text`, in the order of
/// the patterns (inline, reference definitions, HTML), each once.
#[must_use]
pub fn links(text: &str) -> Vec<Link> {
    let mut out = Vec::new();
    for c in INLINE.captures_iter(text) {
        let m = c.get(0).expect("whole match");
        out.push(Link {
            start: m.start(),
            end: m.end(),
            url: c[2].to_owned(),
            image: !c[1].is_empty(),
        });
    }
    let image_refs: Vec<String> = REFERENCE_IMAGE
        .captures_iter(text)
        .map(|c| c[1].to_lowercase())
        .collect();
    for c in REFERENCE.captures_iter(text) {
        let m = c.get(0).expect("whole match");
        let id = c[1].to_lowercase();
        out.push(Link {
            start: m.start(),
            end: m.end(),
            url: c[2].to_owned(),
            image: image_refs.iter().any(|r| *r == id || r.is_empty()),
        });
    }
    for c in HTML.captures_iter(text) {
        let m = c.get(0).expect("whole match");
        out.push(Link {
            start: m.start(),
            end: m.end(),
            url: c[3].to_owned(),
            image: !c[1].eq_ignore_ascii_case("a"),
        });
    }
    out
}

/// The parts of an http(s) URL that matter for exfiltration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url<'a> {
    /// Lower-case host, without user info or port.
    pub host: String,
    /// The path, from its `/`.
    pub path: &'a str,
    /// The query, without `?` and fragment.
    pub query: &'a str,
}

/// An http(s) or scheme-relative URL with a dotted host (or `localhost`); None for anything
/// else (relative paths, `data:`, `mailto:`).
#[must_use]
pub fn parse(url: &str) -> Option<Url<'_>> {
    let rest = if let Some(i) = url.find("://") {
        let scheme = &url[..i];
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return None;
        }
        &url[i + 3..]
    } else {
        url.strip_prefix("//")?
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority
        .rsplit('@')
        .next()?
        .split(':')
        .next()?
        .to_lowercase();
    if host.is_empty() || (!host.contains('.') && host != "localhost") {
        return None;
    }
    let tail = &rest[end..];
    let tail = tail.split('#').next().unwrap_or("");
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    Some(Url { host, path, query })
}

/// Whether `s` (a URL piece) is an encoded blob: 16+ characters of hex, or of base64 that
/// decodes to mostly printable text.
#[must_use]
pub fn encoded_blob(s: &str) -> bool {
    let t = s.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if t.len() < 16 {
        return false;
    }
    let hex = t.bytes().all(|b| b.is_ascii_hexdigit());
    let b64 = t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_' | b'='))
        && t.bytes()
            .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        && t.bytes().any(|b| b.is_ascii_lowercase())
        && base64_decode(t).is_some_and(|d| {
            d.iter()
                .filter(|b| b.is_ascii_graphic() || **b == b' ')
                .count()
                * 10
                >= d.len() * 9
        });
    hex || b64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_markdown_reference_and_html_links() {
        let text = "See ![chart](https://img.example.com/a.png?d=1 \"t\") and [docs](http://docs.example.org/x).\n\
                    ![logo][l]\n\n[l]: https://cdn.example.net/logo.png\n\
                    <a href='https://a.example.com/'>x</a> <img src=\"//px.example.com/p.gif\">";
        let got: Vec<(String, bool)> = links(text).into_iter().map(|l| (l.url, l.image)).collect();
        assert_eq!(
            got,
            [
                ("https://img.example.com/a.png?d=1".to_owned(), true),
                ("http://docs.example.org/x".to_owned(), false),
                ("https://cdn.example.net/logo.png".to_owned(), true),
                ("https://a.example.com/".to_owned(), false),
                ("//px.example.com/p.gif".to_owned(), true),
            ]
        );
        for l in links(text) {
            assert!(text[l.start..l.end].contains(&l.url));
        }
        assert!(links("no links [here] (or here)").is_empty());
    }

    #[test]
    fn parses_only_web_urls_with_a_host() {
        let u = parse("HTTPS://user:pw@Evil.Example.com:8443/p/q?x=1&y=2#frag").unwrap();
        assert_eq!(u.host, "evil.example.com");
        assert_eq!((u.path, u.query), ("/p/q", "x=1&y=2"));
        assert_eq!(parse("//cdn.example.net").unwrap().host, "cdn.example.net");
        assert_eq!(parse("http://localhost/x").unwrap().host, "localhost");
        for bad in [
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "/relative",
            "mailto:a@b.c",
            "http://intranet/x",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn encoded_blobs_are_long_hex_or_printable_base64() {
        assert!(encoded_blob("deadbeefcafebabe0011"));
        assert!(encoded_blob("c2VjcmV0IHBhc3N3b3JkIGlzIGh1bnRlcjI="));
        assert!(!encoded_blob("short"));
        assert!(!encoded_blob("averylongwordwithoutanydigits"));
    }
}
