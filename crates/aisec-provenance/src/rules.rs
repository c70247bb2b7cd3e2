//! The provenance rules (`PV`): what `aisec verify` reports.

use aisec_core::{Rule, Severity};

const ATLAS_TAMPER: &[&str] = &["AML.T0010.003", "AML.T0018"];
const ATLAS_MASQUERADE: &[&str] = &["AML.T0010.003", "AML.T0074"];
const REFS: &[&str] = &[
    "https://github.com/sigstore/model-transparency",
    "https://atlas.mitre.org/mitigations/AML.M0014",
];
const CWE_SIG: &[&str] = &["CWE-347"];
const CWE_INTEGRITY: &[&str] = &["CWE-345", "CWE-494"];

/// Every provenance rule, sorted by id.
pub static RULES: &[Rule] = &[
    Rule {
        id: "PV100",
        name: "model-signature-verified",
        title: "Model signature verified",
        severity: Severity::Info,
        what: "The model's signature verified against the trust given, and every signed file matches its digest.",
        why: "A record of who signed the model, with what, and how it was serialized: the evidence an audit asks for.",
        example: "`aisec verify model/ --public-key signer.pub` on an untouched model.",
        remediation: "Nothing to do.",
        atlas: &[],
        cwe: &[],
        references: REFS,
    },
    Rule {
        id: "PV101",
        name: "signature-invalid",
        title: "The signature does not match the signed statement",
        severity: Severity::High,
        what: "The DSSE signature does not verify over the statement with the key that signed it: the statement (the list of files and digests) or the signature bytes were edited after signing.",
        why: "An edited statement can vouch for files the signer never saw, such as a swapped weights file.",
        example: "A digest inside the bundle's base64 payload replaced with the digest of a backdoored file.",
        remediation: "Do not use the model. Get the model and its signature again from the publisher and verify them.",
        atlas: ATLAS_TAMPER,
        cwe: CWE_SIG,
        references: REFS,
    },
    Rule {
        id: "PV102",
        name: "wrong-key",
        title: "Signed with another key than the one trusted",
        severity: Severity::High,
        what: "The bundle names (by its public-key hint) or was signed with a key other than the public key given to verify it.",
        why: "Anyone can sign a model with their own key; only a signature by the expected key says the expected publisher released it.",
        example: "A re-signed copy of a model uploaded under a look-alike organisation name.",
        remediation: "Check that you hold the publisher's real public key; if so, treat the model as not from them.",
        atlas: ATLAS_MASQUERADE,
        cwe: CWE_SIG,
        references: REFS,
    },
    Rule {
        id: "PV103",
        name: "untrusted-certificate",
        title: "The signing certificate is not trusted",
        severity: Severity::High,
        what: "The signing certificate does not chain to a trusted root, a certificate on the path was not valid at the signing time, an issuer is not a CA, or the leaf may not sign (neither key usage digitalSignature nor extended key usage codeSigning).",
        why: "A certificate only vouches for a signer when a CA you trust issued it for signing.",
        example: "A self-issued certificate claiming the publisher's name.",
        remediation: "Give the right root certificates (`--certificate-chain`), or obtain a properly issued signing certificate.",
        atlas: ATLAS_MASQUERADE,
        cwe: &["CWE-295"],
        references: REFS,
    },
    Rule {
        id: "PV104",
        name: "wrong-identity",
        title: "Signed by another identity than the expected one",
        severity: Severity::High,
        what: "A keyless (Sigstore) signature's certificate names a different signer identity or OIDC issuer than the ones required.",
        why: "Keyless signatures are only as meaningful as the identity check: any account can obtain a certificate.",
        example: "A model signed by `attacker@example.com` verified against `--identity release@example.org`.",
        remediation: "Treat the model as not from the expected publisher.",
        atlas: ATLAS_MASQUERADE,
        cwe: CWE_SIG,
        references: REFS,
    },
    Rule {
        id: "PV105",
        name: "transparency-log-invalid",
        title: "The transparency-log entry does not check out",
        severity: Severity::High,
        what: "A keyless signature's transparency-log entry is missing, signed by an unknown log, does not describe this signature, or was not integrated while the certificate was valid.",
        why: "Keyless certificates live for minutes; the log entry is what proves the signature was made while the certificate was valid.",
        example: "A bundle whose log entry was copied from another signature.",
        remediation: "Do not use the model; get a fresh signature from the publisher.",
        atlas: ATLAS_TAMPER,
        cwe: CWE_SIG,
        references: REFS,
    },
    Rule {
        id: "PV106",
        name: "malformed-signature",
        title: "The signature file is not a valid model signature",
        severity: Severity::High,
        what: "The signature file is not a Sigstore v0.3 bundle with a DSSE envelope of an in-toto statement in the model-signing format, or the statement contradicts itself (its subject digest does not match its resources, a resource escapes the model directory, a name appears twice).",
        why: "A model whose signature cannot be read is an unsigned model.",
        example: "A bundle whose payload type is not `application/vnd.in-toto+json`.",
        remediation: "Sign the model again, or get the signature again from the publisher.",
        atlas: ATLAS_TAMPER,
        cwe: CWE_SIG,
        references: REFS,
    },
    Rule {
        id: "PV110",
        name: "file-changed",
        title: "A signed file was modified",
        severity: Severity::High,
        what: "A file's content no longer matches the digest the signature records (for shard signatures: which byte ranges differ, or how the size changed).",
        why: "A modified weights or code file is exactly what a supply-chain attack on a model looks like.",
        example: "One byte of `model.safetensors` changed after signing.",
        remediation: "Restore the file from the publisher, or re-sign if the change is yours and intended.",
        atlas: ATLAS_TAMPER,
        cwe: CWE_INTEGRITY,
        references: REFS,
    },
    Rule {
        id: "PV111",
        name: "file-missing",
        title: "A signed file is missing",
        severity: Severity::High,
        what: "A file the signature lists is not in the model directory.",
        why: "A loader may fall back to another, unsigned file in its place (`pytorch_model.bin` when `model.safetensors` is gone).",
        example: "`model.safetensors` deleted after signing.",
        remediation: "Restore the file from the publisher.",
        atlas: ATLAS_TAMPER,
        cwe: CWE_INTEGRITY,
        references: REFS,
    },
    Rule {
        id: "PV112",
        name: "file-unsigned",
        title: "A file was not signed",
        severity: Severity::Medium,
        what: "The model directory holds a file the signature does not list.",
        why: "Loaders pick up files by name: an added `pytorch_model.bin`, custom code `.py` or tokenizer file changes what runs, unsigned.",
        example: "A pickle added next to a signed safetensors model.",
        remediation: "Remove the file, or re-sign the model with it; `--ignore-unsigned-files` checks only the signed files.",
        atlas: ATLAS_TAMPER,
        cwe: CWE_INTEGRITY,
        references: REFS,
    },
    Rule {
        id: "PV113",
        name: "symlink-not-signed",
        title: "A symbolic link in a model signed without links",
        severity: Severity::Medium,
        what: "The model holds a symbolic link, but it was signed with links disallowed.",
        why: "A link can point outside the model to content the signature never covered.",
        example: "`config.json -> /tmp/attacker.json`.",
        remediation: "Replace the link with the file, or re-sign with `--allow-symlinks` if links are intended.",
        atlas: ATLAS_TAMPER,
        cwe: &["CWE-59"],
        references: REFS,
    },
];

/// The rule with this id.
#[must_use]
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_sorted_and_unique() {
        assert!(super::RULES.windows(2).all(|w| w[0].id < w[1].id));
    }
}
