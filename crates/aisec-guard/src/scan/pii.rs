//! Personal data in text: email addresses, phone numbers, payment card numbers (Luhn-checked,
//! with a known issuer prefix and length), IBANs (per-country length and the ISO 13616 mod-97
//! check), US social security numbers (with the SSA's never-issued ranges excluded) and UK
//! national insurance numbers (with the never-used prefixes excluded). Checksums and structure
//! keep look-alikes (order numbers, dates, version strings) out.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::Hit;

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PiiKind {
    /// An email address.
    Email,
    /// A phone number: international (`+` and 8-15 digits) or North American.
    Phone,
    /// A payment card number.
    Card,
    /// An international bank account number.
    Iban,
    /// A US social security number, written `AAA-GG-SSSS`.
    Ssn,
    /// A UK national insurance number.
    Nino,
}

impl PiiKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::Email,
        Self::Phone,
        Self::Card,
        Self::Iban,
        Self::Ssn,
        Self::Nino,
    ];

    /// The kebab-case name, as in the policy file.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::Card => "card",
            Self::Iban => "iban",
            Self::Ssn => "ssn",
            Self::Nino => "nino",
        }
    }
}

fn re(p: &str) -> Regex {
    Regex::new(&super::ascii_boundaries(p)).expect("a valid built-in pattern")
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b[a-z0-9][a-z0-9._%+-]{0,63}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,8}[a-z]{2,24}\b",
    )
});
/// `+` then 8-15 digits with single spaces, dots, dashes or a parenthesised group between.
static PHONE_INTL: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|[^\w+])(\+[1-9](?:[ .\-]?\(?\d{1,4}\)?){2,7})(?:$|[^\w])"));
/// North American numbers: (555) 123-4567, 555-123-4567, 555.123.4567, 1-555-123-4567.
static PHONE_NANP: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:^|[^\w])((?:1[ .\-])?(?:\(\d{3}\)\s?|\d{3}[ .\-])\d{3}[ .\-]\d{4})(?:$|[^\w\-])")
});
/// 13-19 digits, single spaces or dashes allowed between.
static CARD: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|[^\w\-])(\d(?:[ \-]?\d){12,18})(?:$|[^\w\-])"));
static IBAN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\b([a-z]{2}\d{2}(?:[ ]?[a-z0-9]){11,30})\b"));
static SSN: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?:^|[^\w\-])(\d{3})-(\d{2})-(\d{4})(?:$|[^\w\-])"));
static NINO: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b([a-ceghj-pr-tw-z][a-ceghj-npr-tw-z])\s?\d{2}\s?\d{2}\s?\d{2}\s?[a-d]\b")
});

/// Personal data of the `kinds` asked for, in text order.
#[must_use]
pub fn scan(text: &str, kinds: &[PiiKind]) -> Vec<Hit> {
    let mut hits = Vec::new();
    let want = |k: PiiKind| kinds.contains(&k);
    if want(PiiKind::Email) {
        for m in EMAIL.find_iter(text) {
            hits.push(hit(PiiKind::Email, m.start(), m.end(), 0.95));
        }
    }
    if want(PiiKind::Card) {
        for c in CARD.captures_iter(text) {
            let m = c.get(1).expect("group 1");
            let digits: Vec<u8> = digits_of(m.as_str());
            if card_brand(&digits).is_some() && luhn(&digits) {
                hits.push(hit(PiiKind::Card, m.start(), m.end(), 0.95));
            }
        }
    }
    if want(PiiKind::Iban) {
        for c in IBAN.captures_iter(text) {
            let m = c.get(1).expect("group 1");
            if iban_valid(m.as_str()) {
                hits.push(hit(PiiKind::Iban, m.start(), m.end(), 0.95));
            }
        }
    }
    if want(PiiKind::Ssn) {
        for c in SSN.captures_iter(text) {
            let (area, group, serial) = (&c[1], &c[2], &c[3]);
            let issued = area != "000" && area != "666" && !area.starts_with('9');
            if issued && group != "00" && serial != "0000" {
                let m = c.get(0).expect("whole");
                let start = c.get(1).expect("area").start();
                let end = c.get(3).expect("serial").end();
                debug_assert!(m.start() <= start);
                hits.push(hit(PiiKind::Ssn, start, end, 0.85));
            }
        }
    }
    if want(PiiKind::Nino) {
        for c in NINO.captures_iter(text) {
            let prefix = c[1].to_ascii_uppercase();
            if !["BG", "GB", "KN", "NK", "NT", "TN", "ZZ"].contains(&prefix.as_str()) {
                let m = c.get(0).expect("whole");
                hits.push(hit(PiiKind::Nino, m.start(), m.end(), 0.8));
            }
        }
    }
    if want(PiiKind::Phone) {
        let taken: Vec<(usize, usize)> = hits.iter().filter_map(|h| h.span).collect();
        let mut phones = Vec::new();
        for c in PHONE_INTL.captures_iter(text) {
            let m = c.get(1).expect("group 1");
            let n = digits_of(m.as_str()).len();
            if (8..=15).contains(&n) {
                phones.push(hit(PiiKind::Phone, m.start(), m.end(), 0.85));
            }
        }
        for c in PHONE_NANP.captures_iter(text) {
            let m = c.get(1).expect("group 1");
            let d = digits_of(m.as_str());
            let d = if d.len() == 11 { &d[1..] } else { &d[..] };
            // Area and exchange codes start with 2-9.
            if d.len() == 10 && d[0] >= 2 && d[3] >= 2 {
                phones.push(hit(PiiKind::Phone, m.start(), m.end(), 0.75));
            }
        }
        // A number already taken as a card, an IBAN or an SSN is not also a phone.
        phones.retain(|p| {
            let (s, e) = p.span.expect("span");
            !taken.iter().any(|&(ts, te)| s < te && ts < e)
        });
        hits.extend(phones);
    }
    hits.sort_by_key(|h| h.span.map_or(0, |s| s.0));
    hits.dedup_by(|a, b| a.span == b.span);
    hits
}

fn hit(kind: PiiKind, start: usize, end: usize, score: f64) -> Hit {
    Hit {
        kind: kind.name().to_owned(),
        score,
        detail: format!("{} at bytes {start}..{end}", kind.name()),
        span: Some((start, end)),
    }
}

fn digits_of(s: &str) -> Vec<u8> {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect()
}

/// The Luhn check of a card number.
#[must_use]
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// The card network a number's prefix and length belong to.
#[must_use]
pub fn card_brand(d: &[u8]) -> Option<&'static str> {
    let n = d.len();
    let prefix = |k: usize| -> u32 { d.iter().take(k).fold(0, |a, &x| a * 10 + u32::from(x)) };
    if n < 13 {
        return None;
    }
    let p2 = prefix(2);
    let p3 = prefix(3);
    let p4 = prefix(4);
    let p6 = prefix(6);
    if d[0] == 4 && matches!(n, 13 | 16 | 19) {
        Some("visa")
    } else if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16 {
        Some("mastercard")
    } else if (p2 == 34 || p2 == 37) && n == 15 {
        Some("amex")
    } else if (p4 == 6011
        || p2 == 65
        || (644..=649).contains(&p3)
        || (622_126..=622_925).contains(&p6))
        && (16..=19).contains(&n)
    {
        Some("discover")
    } else if (3528..=3589).contains(&p4) && (16..=19).contains(&n) {
        Some("jcb")
    } else if (p2 == 36 || p2 == 38 || (300..=305).contains(&p3)) && (14..=19).contains(&n) {
        Some("diners")
    } else if (p2 == 62 || p2 == 81) && (16..=19).contains(&n) {
        Some("unionpay")
    } else if matches!(
        p4,
        5018 | 5020 | 5038 | 5893 | 6304 | 6759 | 6761 | 6762 | 6763
    ) && (12..=19).contains(&n)
    {
        Some("maestro")
    } else {
        None
    }
}

/// IBAN lengths by country (ISO 13616 registry).
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

/// Whether `s` (spaces allowed) is an IBAN: a known country, its length, and mod 97 == 1.
#[must_use]
pub fn iban_valid(s: &str) -> bool {
    let compact: String = s
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let Some(&(_, len)) = IBAN_LENGTHS
        .iter()
        .find(|(cc, _)| compact.get(..2) == Some(*cc))
    else {
        return false;
    };
    if compact.len() != len || !compact.chars().all(|c| c.is_ascii_alphanumeric()) {
        return false;
    }
    let rotated = compact[4..].chars().chain(compact[..4].chars());
    let mut rem: u32 = 0;
    for c in rotated {
        let v = c.to_digit(36).expect("alphanumeric");
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<String> {
        scan(text, &PiiKind::ALL)
            .into_iter()
            .map(|h| {
                let (s, e) = h.span.unwrap();
                format!("{}={}", h.kind, &text[s..e])
            })
            .collect()
    }

    #[test]
    fn finds_each_kind_with_its_checks() {
        assert_eq!(
            kinds("write to jane.doe+x@mail.example.co.uk today"),
            ["email=jane.doe+x@mail.example.co.uk"]
        );
        assert_eq!(
            kinds("card 4111 1111 1111 1111 exp 12/29"),
            ["card=4111 1111 1111 1111"]
        );
        assert_eq!(kinds("amex 3782-822463-10005"), ["card=3782-822463-10005"]);
        // Luhn fails by one digit.
        assert!(kinds("card 4111 1111 1111 1112").is_empty());
        assert_eq!(
            kinds("IBAN GB82 WEST 1234 5698 7654 32."),
            ["iban=GB82 WEST 1234 5698 7654 32"]
        );
        assert_eq!(
            kinds("DE89370400440532013000"),
            ["iban=DE89370400440532013000"]
        );
        // Check digits wrong.
        assert!(kinds("GB83 WEST 1234 5698 7654 32").is_empty());
        assert_eq!(kinds("SSN 123-45-6789"), ["ssn=123-45-6789"]);
        assert!(kinds("SSN 666-45-6789 or 900-12-3456 or 123-00-6789").is_empty());
        assert_eq!(kinds("NI number JG 10 37 26 A"), ["nino=JG 10 37 26 A"]);
        assert!(kinds("NI number QQ 12 34 56 C").is_empty());
        assert!(kinds("NI number GB 12 34 56 C").is_empty());
        assert_eq!(
            kinds("call +44 20 7946 0958 now"),
            ["phone=+44 20 7946 0958"]
        );
        assert_eq!(kinds("call (415) 555-2671"), ["phone=(415) 555-2671"]);
        assert_eq!(kinds("or 1-800-555-0199."), ["phone=1-800-555-0199"]);
    }

    #[test]
    fn leaves_look_alikes_alone() {
        for benign in [
            "version 1.2.3-45 released 2024-05-06",
            "order #1234567890123 shipped",
            "the ratio is 123-456-789",
            "ISBN 978-3-16-148410-0",
            "see RFC 2616 and port 8080",
            "timestamp 1700000000123",
            "user@localhost is not an address",
            "a 16-digit number 1234567812345678 fails Luhn",
        ] {
            assert!(kinds(benign).is_empty(), "{benign}: {:?}", kinds(benign));
        }
    }

    #[test]
    fn luhn_and_brands() {
        assert!(luhn(&digits_of("79927398713")));
        assert!(!luhn(&digits_of("79927398710")));
        assert_eq!(
            card_brand(&digits_of("5555555555554444")),
            Some("mastercard")
        );
        assert_eq!(card_brand(&digits_of("6011111111111117")), Some("discover"));
        assert_eq!(card_brand(&digits_of("1234567812345678")), None);
    }
}
