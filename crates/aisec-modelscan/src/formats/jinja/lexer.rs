//! A bounded Jinja lexer: splits a template into text and tags (`{{ }}`, `{% %}`), drops comments,
//! keeps `raw` blocks as text, applies `-` whitespace control, and tokenizes each tag's inside.
//!
//! It follows the default Jinja delimiters only (custom delimiters are an application setting,
//! never part of a template). Errors never stop it: a bad character or an unterminated string is
//! recorded on its tag and lexing goes on, so one broken tag does not hide the rest of the template.

/// Most tokens kept for one template; the rest of the template is left unlexed (and reported).
pub(crate) const MAX_TOKENS: usize = 400_000;

/// A byte range of the template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub(crate) fn new(start: usize, end: usize) -> Self {
        Self {
            start: u32::try_from(start).unwrap_or(u32::MAX),
            end: u32::try_from(end).unwrap_or(u32::MAX),
        }
    }

    /// The smallest span covering both.
    pub(crate) fn join(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One token inside a tag.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An identifier (keywords included: the parser tells them apart).
    Name(String),
    /// A string literal, decoded the way Jinja decodes it (Python `unicode-escape`).
    Str {
        value: String,
        /// An escape (`\x5f`, `\u005f`, octal, `\N{…}`) spelled a letter, digit, `_` or `.`.
        obfuscated: bool,
    },
    /// An integer literal; `None` when it does not fit an `i64`.
    Int(Option<i64>),
    /// A float literal.
    Float,
    /// An operator or punctuation.
    Op(&'static str),
}

/// A token with its place in the template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Which delimiters a tag uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// `{{ … }}`
    Var,
    /// `{% … %}`
    Block,
}

/// A piece of the template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    /// Literal output (after whitespace control).
    Text { text: String, span: Span },
    /// A tag and its tokens.
    Tag {
        kind: TagKind,
        span: Span,
        tokens: Vec<Token>,
        /// The first lexing error inside the tag.
        error: Option<String>,
    },
}

/// The lexed template.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    pub pieces: Vec<Piece>,
    /// Errors outside tags (unterminated comment, raw block or tag), with offsets.
    pub errors: Vec<(usize, String)>,
    /// The token budget ran out: the template was not lexed to its end.
    pub truncated: bool,
}

const OPS: &[&str] = &[
    "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
    ">", "<", "=", ".", ":", "|", ",", ";",
];

/// Lexes `src`.
pub(crate) fn lex(src: &str) -> Lexed {
    let mut lx = Lexer {
        src,
        b: src.as_bytes(),
        pos: 0,
        out: Lexed::default(),
        tokens: 0,
        strip_next: false,
    };
    lx.run();
    lx.out
}

struct Lexer<'s> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    out: Lexed,
    tokens: usize,
    /// The previous tag ended with `-`: strip leading whitespace of the next text.
    strip_next: bool,
}

impl Lexer<'_> {
    fn run(&mut self) {
        while self.pos < self.b.len() {
            let Some(open) = find_open(self.b, self.pos) else {
                self.text(self.pos, self.b.len(), false);
                self.pos = self.b.len();
                break;
            };
            let strip_before = matches!(self.b.get(open + 2), Some(b'-'));
            self.text(self.pos, open, strip_before);
            match self.b[open + 1] {
                b'#' => {
                    let Some(close) = find(self.b, open + 2, b"#}") else {
                        self.out.errors.push((open, "unterminated comment".into()));
                        self.pos = self.b.len();
                        break;
                    };
                    self.strip_next = close > open + 2 && self.b[close - 1] == b'-';
                    self.pos = close + 2;
                }
                b'%' if self.raw_open(open).is_some() => {
                    let (body, strip_body) = self.raw_open(open).unwrap_or((open + 2, false));
                    match self.raw_close(body) {
                        Some((end, after, strip_before_end, strip_after)) => {
                            self.strip_next = strip_body;
                            self.text(body, end, strip_before_end);
                            self.strip_next = strip_after;
                            self.pos = after;
                        }
                        None => {
                            self.out
                                .errors
                                .push((open, "unterminated raw block".into()));
                            self.strip_next = strip_body;
                            self.text(body, self.b.len(), false);
                            self.pos = self.b.len();
                        }
                    }
                }
                kind => {
                    let kind = if kind == b'{' {
                        TagKind::Var
                    } else {
                        TagKind::Block
                    };
                    if !self.tag(open, kind) {
                        self.out.truncated = true;
                        return;
                    }
                }
            }
        }
    }

    /// Emits text `[from, to)`, applying pending and requested whitespace stripping.
    fn text(&mut self, from: usize, to: usize, strip_end: bool) {
        let mut t = self.src.get(from..to).unwrap_or("");
        if std::mem::take(&mut self.strip_next) {
            t = t.trim_start();
        }
        if strip_end {
            t = t.trim_end();
        }
        if !t.is_empty() {
            self.out.pieces.push(Piece::Text {
                text: t.to_owned(),
                span: Span::new(from, to),
            });
        }
    }

    /// `{% raw %}` at `open`: the body start and whether the tag ends with `-`.
    fn raw_open(&self, open: usize) -> Option<(usize, bool)> {
        let mut p = open + 2;
        if matches!(self.b.get(p), Some(b'-' | b'+')) {
            p += 1;
        }
        p = skip_ws(self.b, p);
        if !self.b.get(p..)?.starts_with(b"raw") {
            return None;
        }
        p = skip_ws(self.b, p + 3);
        let strip = matches!(self.b.get(p), Some(b'-'));
        if matches!(self.b.get(p), Some(b'-' | b'+')) {
            p += 1;
        }
        self.b
            .get(p..)?
            .starts_with(b"%}")
            .then_some((p + 2, strip))
    }

    /// The `{% endraw %}` after `from`: (body end, after the tag, strip before, strip after).
    fn raw_close(&self, from: usize) -> Option<(usize, usize, bool, bool)> {
        let mut at = from;
        while let Some(open) = find(self.b, at, b"{%") {
            let mut p = open + 2;
            let strip_before = matches!(self.b.get(p), Some(b'-'));
            if matches!(self.b.get(p), Some(b'-' | b'+')) {
                p += 1;
            }
            p = skip_ws(self.b, p);
            if self.b.get(p..).is_some_and(|r| r.starts_with(b"endraw")) {
                p = skip_ws(self.b, p + 6);
                let strip_after = matches!(self.b.get(p), Some(b'-'));
                if matches!(self.b.get(p), Some(b'-' | b'+')) {
                    p += 1;
                }
                if self.b.get(p..).is_some_and(|r| r.starts_with(b"%}")) {
                    return Some((open, p + 2, strip_before, strip_after));
                }
            }
            at = open + 2;
        }
        None
    }

    /// Lexes one tag opened at `open`; false when the token budget ran out.
    fn tag(&mut self, open: usize, kind: TagKind) -> bool {
        let close: &[u8] = if kind == TagKind::Var { b"}}" } else { b"%}" };
        let mut p = open + 2;
        if matches!(self.b.get(p), Some(b'-' | b'+')) {
            p += 1;
        }
        let mut tokens = Vec::new();
        let mut error: Option<String> = None;
        let mut depth = 0usize;
        loop {
            p = skip_ws(self.b, p);
            let rest = self.b.get(p..).unwrap_or(&[]);
            if rest.is_empty() {
                self.out.errors.push((open, "unterminated tag".into()));
                self.push_tag(kind, open, self.b.len(), tokens, error);
                self.pos = self.b.len();
                return true;
            }
            if depth == 0 {
                if rest.starts_with(close) {
                    self.push_tag(kind, open, p + 2, tokens, error);
                    self.pos = p + 2;
                    return true;
                }
                if (rest[0] == b'-' || rest[0] == b'+') && rest[1..].starts_with(close) {
                    self.push_tag(kind, open, p + 3, tokens, error);
                    self.strip_next = rest[0] == b'-';
                    self.pos = p + 3;
                    return true;
                }
            }
            if self.tokens >= MAX_TOKENS {
                self.push_tag(kind, open, p, tokens, error);
                return false;
            }
            self.tokens += 1;
            let start = p;
            let c = rest[0];
            let tok = if c == b'\'' || c == b'"' {
                let (tok, end, err) = string(self.src, p);
                p = end;
                if let Some(e) = err {
                    error.get_or_insert(e);
                }
                tok
            } else if c.is_ascii_digit() {
                let (tok, end) = number(self.b, p);
                p = end;
                tok
            } else if c == b'_' || c.is_ascii_alphabetic() || c >= 0x80 {
                let end = ident_end(self.src, p);
                if end == p {
                    // A non-ASCII character that cannot start a name.
                    let w = self
                        .src
                        .get(p..)
                        .and_then(|s| s.chars().next())
                        .map_or(1, char::len_utf8);
                    error.get_or_insert_with(|| format!("unexpected character at offset {p}"));
                    p += w;
                    continue;
                }
                let name = self.src.get(p..end).unwrap_or("").to_owned();
                p = end;
                Tok::Name(name)
            } else if let Some(op) = OPS.iter().find(|op| rest.starts_with(op.as_bytes())) {
                p += op.len();
                match *op {
                    "(" | "[" | "{" => depth += 1,
                    ")" | "]" | "}" => depth = depth.saturating_sub(1),
                    _ => {}
                }
                Tok::Op(op)
            } else {
                error.get_or_insert_with(|| format!("unexpected character at offset {p}"));
                p += 1;
                continue;
            };
            tokens.push(Token {
                tok,
                span: Span::new(start, p),
            });
        }
    }

    fn push_tag(
        &mut self,
        kind: TagKind,
        start: usize,
        end: usize,
        tokens: Vec<Token>,
        error: Option<String>,
    ) {
        self.out.pieces.push(Piece::Tag {
            kind,
            span: Span::new(start, end),
            tokens,
            error,
        });
    }
}

/// The next `{{`, `{%` or `{#` at or after `from`.
fn find_open(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(i) = memchr::memchr(b'{', b.get(at..)?) {
        let p = at + i;
        if matches!(b.get(p + 1), Some(b'{' | b'%' | b'#')) {
            return Some(p);
        }
        at = p + 1;
    }
    None
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(b.get(from..)?, needle).map(|i| from + i)
}

fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while matches!(b.get(p), Some(c) if c.is_ascii_whitespace()) {
        p += 1;
    }
    p
}

fn ident_end(src: &str, from: usize) -> usize {
    let Some(rest) = src.get(from..) else {
        return from;
    };
    let mut end = from;
    for (i, ch) in rest.char_indices() {
        let ok = if i == 0 {
            ch == '_' || ch.is_alphabetic()
        } else {
            ch == '_' || ch.is_alphanumeric()
        };
        if !ok {
            break;
        }
        end = from + i + ch.len_utf8();
    }
    end
}

fn number(b: &[u8], from: usize) -> (Tok, usize) {
    let mut p = from;
    if b.get(p) == Some(&b'0')
        && matches!(b.get(p + 1), Some(b'x' | b'X' | b'o' | b'O' | b'b' | b'B'))
    {
        let radix = match b[p + 1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            _ => 2,
        };
        p += 2;
        let s = p;
        while matches!(b.get(p), Some(c) if c.is_ascii_hexdigit() || *c == b'_') {
            p += 1;
        }
        let digits: String = b[s..p]
            .iter()
            .filter(|c| **c != b'_')
            .map(|c| char::from(*c))
            .collect();
        return (Tok::Int(i64::from_str_radix(&digits, radix).ok()), p);
    }
    while matches!(b.get(p), Some(c) if c.is_ascii_digit() || *c == b'_') {
        p += 1;
    }
    let int_end = p;
    let mut float = false;
    if b.get(p) == Some(&b'.') && matches!(b.get(p + 1), Some(c) if c.is_ascii_digit()) {
        float = true;
        p += 1;
        while matches!(b.get(p), Some(c) if c.is_ascii_digit() || *c == b'_') {
            p += 1;
        }
    }
    if matches!(b.get(p), Some(b'e' | b'E')) {
        let mut q = p + 1;
        if matches!(b.get(q), Some(b'+' | b'-')) {
            q += 1;
        }
        if matches!(b.get(q), Some(c) if c.is_ascii_digit()) {
            float = true;
            p = q;
            while matches!(b.get(p), Some(c) if c.is_ascii_digit()) {
                p += 1;
            }
        }
    }
    if float {
        return (Tok::Float, p);
    }
    let digits: String = b[from..int_end]
        .iter()
        .filter(|c| **c != b'_')
        .map(|c| char::from(*c))
        .collect();
    (Tok::Int(digits.parse().ok()), p)
}

/// Lexes a string literal at `from`: the token, the offset after it and an error, if any.
fn string(src: &str, from: usize) -> (Tok, usize, Option<String>) {
    let b = src.as_bytes();
    let quote = b[from];
    let mut p = from + 1;
    loop {
        match b.get(p) {
            None => {
                let (value, obfuscated) = decode(src.get(from + 1..).unwrap_or(""));
                return (
                    Tok::Str { value, obfuscated },
                    b.len(),
                    Some(format!("unterminated string at offset {from}")),
                );
            }
            Some(b'\\') => p += 2,
            Some(c) if *c == quote => break,
            Some(_) => p += 1,
        }
    }
    let (value, obfuscated) = decode(src.get(from + 1..p).unwrap_or(""));
    (Tok::Str { value, obfuscated }, p + 1, None)
}

/// True for characters an escape has no honest reason to spell.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Decodes a string body the way Python's `unicode-escape` codec does (what Jinja applies).
pub(crate) fn decode(body: &str) -> (String, bool) {
    let mut out = String::new();
    let mut obfuscated = false;
    let mut it = body.char_indices().peekable();
    while let Some((_, c)) = it.next() {
        if c != '\\' {
            out.push(if c == '\r' { '\n' } else { c });
            continue;
        }
        let Some((i, e)) = it.next() else {
            out.push('\\');
            break;
        };
        let simple = match e {
            '\n' => Some(None),
            '\\' => Some(Some('\\')),
            '\'' => Some(Some('\'')),
            '"' => Some(Some('"')),
            'a' => Some(Some('\x07')),
            'b' => Some(Some('\x08')),
            'f' => Some(Some('\x0c')),
            'n' => Some(Some('\n')),
            'r' => Some(Some('\r')),
            't' => Some(Some('\t')),
            'v' => Some(Some('\x0b')),
            _ => None,
        };
        if let Some(s) = simple {
            out.extend(s);
            continue;
        }
        let rest = body.get(i + e.len_utf8()..).unwrap_or("");
        let decoded: Option<(char, usize)> = match e {
            '0'..='7' => {
                let mut n = e.to_digit(8).unwrap_or(0);
                let mut used = 0;
                for d in rest.chars().take(2) {
                    match d.to_digit(8) {
                        Some(v) => {
                            n = n * 8 + v;
                            used += 1;
                        }
                        None => break,
                    }
                }
                char::from_u32(n).map(|c| (c, used))
            }
            'x' => hex(rest, 2),
            'u' => hex(rest, 4),
            'U' => hex(rest, 8),
            'N' => named(rest),
            _ => None,
        };
        match decoded {
            Some((ch, used)) => {
                obfuscated |= plain(ch);
                out.push(ch);
                for _ in 0..used {
                    it.next();
                }
            }
            None => {
                out.push('\\');
                out.push(e);
            }
        }
    }
    (out, obfuscated)
}

fn hex(rest: &str, n: usize) -> Option<(char, usize)> {
    let digits = rest.get(..n)?;
    if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    char::from_u32(u32::from_str_radix(digits, 16).ok()?).map(|c| (c, n))
}

/// `\N{NAME}`: the names an attacker would use to spell identifiers.
fn named(rest: &str) -> Option<(char, usize)> {
    let inner = rest.strip_prefix('{')?;
    let close = inner.find('}')?;
    let name = inner.get(..close)?.trim().to_ascii_uppercase();
    let used = rest.get(..close + 2)?.chars().count();
    let ch = if let Some(l) = name.strip_prefix("LATIN SMALL LETTER ") {
        single(l)?.to_ascii_lowercase()
    } else if let Some(l) = name.strip_prefix("LATIN CAPITAL LETTER ") {
        single(l)?
    } else if let Some(d) = name.strip_prefix("DIGIT ") {
        let idx = [
            "ZERO", "ONE", "TWO", "THREE", "FOUR", "FIVE", "SIX", "SEVEN", "EIGHT", "NINE",
        ]
        .iter()
        .position(|x| *x == d)?;
        char::from_digit(u32::try_from(idx).ok()?, 10)?
    } else {
        match name.as_str() {
            "LOW LINE" | "SPACING UNDERSCORE" => '_',
            "FULL STOP" | "PERIOD" => '.',
            "SPACE" => ' ',
            "SOLIDUS" | "SLASH" => '/',
            "HYPHEN-MINUS" => '-',
            "COMMA" => ',',
            "APOSTROPHE" => '\'',
            "QUOTATION MARK" => '"',
            "LEFT PARENTHESIS" => '(',
            "RIGHT PARENTHESIS" => ')',
            "LINE FEED" | "LF" | "NEW LINE" => '\n',
            _ => return None,
        }
    };
    Some((ch, used))
}

fn single(s: &str) -> Option<char> {
    let mut it = s.chars();
    let c = it.next()?;
    (it.next().is_none() && c.is_ascii_alphabetic()).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(src: &str) -> Vec<Vec<Tok>> {
        lex(src)
            .pieces
            .into_iter()
            .filter_map(|p| match p {
                Piece::Tag { tokens, .. } => Some(tokens.into_iter().map(|t| t.tok).collect()),
                Piece::Text { .. } => None,
            })
            .collect()
    }

    fn texts(src: &str) -> Vec<String> {
        lex(src)
            .pieces
            .into_iter()
            .filter_map(|p| match p {
                Piece::Text { text, .. } => Some(text),
                Piece::Tag { .. } => None,
            })
            .collect()
    }

    #[test]
    fn splits_text_tags_and_comments() {
        let l = lex("a{{ x }}b{% if y %}c{# {{ z }} #}d");
        assert_eq!(l.pieces.len(), 6);
        assert_eq!(texts("a{{ x }}b{# c #}d"), ["a", "b", "d"]);
        assert!(l.errors.is_empty());
    }

    #[test]
    fn whitespace_control() {
        assert_eq!(texts("a  \n{{- x -}}\n  b"), ["a", "b"]);
        assert_eq!(texts("a \n{%- if x +%} b {%+ endif %}"), ["a", " b "]);
        assert_eq!(texts("x {#- c -#} y"), ["x", "y"]);
    }

    #[test]
    fn nested_braces_do_not_end_a_tag() {
        let t = tags("{{ {'a': {'b': 1}}}}");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].last(), Some(&Tok::Op("}")));
    }

    #[test]
    fn raw_blocks_are_text() {
        assert_eq!(
            texts("{% raw %}{{ x.__class__ }}{% endraw %}"),
            ["{{ x.__class__ }}"]
        );
        assert_eq!(texts("{%- raw -%} {{ y }} {%- endraw -%}"), ["{{ y }}"]);
        assert!(tags("{% raw %}{{ x }}{% endraw %}").is_empty());
    }

    #[test]
    fn string_escapes_decode_like_python() {
        assert_eq!(decode(r"\x5f\x5fclass\x5f\x5f"), ("__class__".into(), true));
        assert_eq!(decode(r"\u005f\U0000005f"), ("__".into(), true));
        assert_eq!(decode(r"\137\137"), ("__".into(), true));
        assert_eq!(
            decode(r"\N{LOW LINE}\N{latin small letter a}"),
            ("_a".into(), true)
        );
        assert_eq!(decode(r"a\nb\t\'\\"), ("a\nb\t'\\".into(), false));
        assert_eq!(decode(r"\q\x4"), ("\\q\\x4".into(), false));
        assert_eq!(decode(r"\u2581"), ("\u{2581}".into(), false));
        assert!(!decode(r"\N{BULLET}").1);
    }

    #[test]
    fn numbers_names_and_operators() {
        let t = tags("{{ a.b_1 // 2 ** 0x1f ~ 1_000 ~ 1.5e3 }}");
        assert_eq!(
            t[0],
            vec![
                Tok::Name("a".into()),
                Tok::Op("."),
                Tok::Name("b_1".into()),
                Tok::Op("//"),
                Tok::Int(Some(2)),
                Tok::Op("**"),
                Tok::Int(Some(31)),
                Tok::Op("~"),
                Tok::Int(Some(1000)),
                Tok::Op("~"),
                Tok::Float,
            ]
        );
        assert_eq!(tags("{{ 99999999999999999999 }}")[0], vec![Tok::Int(None)]);
    }

    #[test]
    fn minus_before_end_is_whitespace_control() {
        let t = tags("{{ a - b -}}");
        assert_eq!(t[0].len(), 3);
    }

    #[test]
    fn errors_are_recorded_not_fatal() {
        let l = lex("{{ a $ b }} ok {{ 'unterminated }}");
        assert!(matches!(&l.pieces[0], Piece::Tag { error: Some(_), .. }));
        assert!(!l.errors.is_empty());
        let l = lex("{# never closed");
        assert_eq!(l.errors.len(), 1);
        let l = lex("{% raw %} never closed");
        assert_eq!(l.errors.len(), 1);
        let l = lex("{{ a");
        assert_eq!(l.errors.len(), 1);
    }

    #[test]
    fn strings_span_lines_and_keep_braces() {
        let t = tags("{{ 'a }}\nb' }}");
        assert_eq!(
            t[0],
            vec![Tok::Str {
                value: "a }}\nb".into(),
                obfuscated: false
            }]
        );
    }
}
