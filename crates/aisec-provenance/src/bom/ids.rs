//! Small identifiers a BOM needs: v4 UUIDs, RFC 3339 timestamps, package URLs, licence ids.

use std::fmt::Write as _;
use std::time::SystemTime;

/// A random (version 4) UUID as 16 bytes from the operating system's random source.
pub(crate) fn random_uuid() -> Result<[u8; 16], getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b)?;
    Ok(b)
}

/// Formats 16 bytes as a v4 UUID (`xxxxxxxx-xxxx-4xxx-Nxxx-xxxxxxxxxxxx`), setting the version and
/// variant bits.
#[must_use]
pub(crate) fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = super::inventory::hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC, whole seconds).
#[must_use]
pub(crate) fn rfc3339(t: SystemTime) -> String {
    aisec_core::time::rfc3339(t, false)
}

/// Percent-encodes one purl segment (everything but `A-Za-z0-9.-_~`).
#[must_use]
pub(crate) fn purl_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `pkg:pypi/name@version` (the name normalized: lower case, `_` as `-`).
#[must_use]
pub(crate) fn pypi_purl(name: &str, version: Option<&str>) -> String {
    let name = super::card::normalize_name(name);
    let mut p = format!("pkg:pypi/{}", purl_segment(&name));
    if let Some(v) = version {
        p.push('@');
        p.push_str(&purl_segment(v));
    }
    p
}

/// `pkg:huggingface/namespace/name` for a hub id `namespace/name` (or `name`); `None` for ids that
/// are not hub ids (URLs, local paths, more than two segments).
#[must_use]
pub(crate) fn huggingface_purl(id: &str) -> Option<String> {
    let id = id.trim();
    let ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    };
    let segs: Vec<&str> = id.split('/').collect();
    match segs.as_slice() {
        [name] if ok(name) => Some(format!("pkg:huggingface/{}", purl_segment(name))),
        [ns, name] if ok(ns) && ok(name) => Some(format!(
            "pkg:huggingface/{}/{}",
            purl_segment(ns),
            purl_segment(name)
        )),
        _ => None,
    }
}

/// Percent-encodes a relative path for use as an IRI reference (keeps `/`).
#[must_use]
pub(crate) fn path_iri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Hugging Face licence ids that are SPDX licence ids, with the SPDX spelling. Ids not here
/// (`openrail`, `llama3`, `other`, …) are licence names, not SPDX ids.
pub const SPDX_LICENSES: &[(&str, &str)] = &[
    ("afl-3.0", "AFL-3.0"),
    ("agpl-3.0", "AGPL-3.0"),
    ("apache-2.0", "Apache-2.0"),
    ("artistic-2.0", "Artistic-2.0"),
    ("bsd-2-clause", "BSD-2-Clause"),
    ("bsd-3-clause", "BSD-3-Clause"),
    ("bsd-3-clause-clear", "BSD-3-Clause-Clear"),
    ("bsl-1.0", "BSL-1.0"),
    ("cc-by-2.0", "CC-BY-2.0"),
    ("cc-by-2.5", "CC-BY-2.5"),
    ("cc-by-3.0", "CC-BY-3.0"),
    ("cc-by-4.0", "CC-BY-4.0"),
    ("cc-by-nc-2.0", "CC-BY-NC-2.0"),
    ("cc-by-nc-3.0", "CC-BY-NC-3.0"),
    ("cc-by-nc-4.0", "CC-BY-NC-4.0"),
    ("cc-by-nc-nd-3.0", "CC-BY-NC-ND-3.0"),
    ("cc-by-nc-nd-4.0", "CC-BY-NC-ND-4.0"),
    ("cc-by-nc-sa-2.0", "CC-BY-NC-SA-2.0"),
    ("cc-by-nc-sa-3.0", "CC-BY-NC-SA-3.0"),
    ("cc-by-nc-sa-4.0", "CC-BY-NC-SA-4.0"),
    ("cc-by-nd-4.0", "CC-BY-ND-4.0"),
    ("cc-by-sa-3.0", "CC-BY-SA-3.0"),
    ("cc-by-sa-4.0", "CC-BY-SA-4.0"),
    ("cc0-1.0", "CC0-1.0"),
    ("cdla-permissive-1.0", "CDLA-Permissive-1.0"),
    ("cdla-permissive-2.0", "CDLA-Permissive-2.0"),
    ("cdla-sharing-1.0", "CDLA-Sharing-1.0"),
    ("ecl-2.0", "ECL-2.0"),
    ("epl-1.0", "EPL-1.0"),
    ("epl-2.0", "EPL-2.0"),
    ("etalab-2.0", "etalab-2.0"),
    ("eupl-1.1", "EUPL-1.1"),
    ("eupl-1.2", "EUPL-1.2"),
    ("gpl-2.0", "GPL-2.0"),
    ("gpl-3.0", "GPL-3.0"),
    ("isc", "ISC"),
    ("lgpl-2.1", "LGPL-2.1"),
    ("lgpl-3.0", "LGPL-3.0"),
    ("lppl-1.3c", "LPPL-1.3c"),
    ("mit", "MIT"),
    ("mpl-2.0", "MPL-2.0"),
    ("ms-pl", "MS-PL"),
    ("ncsa", "NCSA"),
    ("odbl", "ODbL-1.0"),
    ("odc-by", "ODC-By-1.0"),
    ("ofl-1.1", "OFL-1.1"),
    ("osl-3.0", "OSL-3.0"),
    ("pddl", "PDDL-1.0"),
    ("postgresql", "PostgreSQL"),
    ("unlicense", "Unlicense"),
    ("wtfpl", "WTFPL"),
    ("zlib", "Zlib"),
];

/// The SPDX id for a card's `license:` value (either spelling), if it is one.
#[must_use]
pub(crate) fn spdx_id(license: &str) -> Option<&'static str> {
    let l = license.trim();
    SPDX_LICENSES
        .iter()
        .find(|(hf, spdx)| hf.eq_ignore_ascii_case(l) || spdx.eq_ignore_ascii_case(l))
        .map(|(_, spdx)| *spdx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn uuid_bits() {
        let u = uuid_v4([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_ne!(random_uuid().unwrap(), random_uuid().unwrap());
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_709_251_199)),
            "2024-02-29T23:59:59Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
    }

    #[test]
    fn purls_and_licences() {
        assert_eq!(
            pypi_purl("Sentence_Transformers", Some("3.0.1")),
            "pkg:pypi/sentence-transformers@3.0.1"
        );
        assert_eq!(
            huggingface_purl("distilbert/distilbert-base-uncased").as_deref(),
            Some("pkg:huggingface/distilbert/distilbert-base-uncased")
        );
        assert_eq!(huggingface_purl("../x/y/z"), None);
        assert_eq!(huggingface_purl("https://x"), None);
        assert_eq!(spdx_id("apache-2.0"), Some("Apache-2.0"));
        assert_eq!(spdx_id("MIT"), Some("MIT"));
        assert_eq!(spdx_id("llama3"), None);
        assert_eq!(path_iri("a b/c.txt"), "a%20b/c.txt");
    }
}
