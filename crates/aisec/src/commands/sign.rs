//! `aisec sign`: sign a model in the OpenSSF model-signing format.

use std::io::Write;

use aisec_provenance::signing::{self, Cert, PrivateKey, SignWith, keys, manifest};
use anyhow::Context;

use crate::ExitStatus;
use crate::settings::{GlobalSettings, SignSettings};

pub(crate) fn run(s: &SignSettings, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    if std::fs::symlink_metadata(&s.model).is_err() {
        anyhow::bail!("the model `{}` does not exist", s.model.display());
    }
    let key_text = keys::read_pem(&s.key)?;
    let key = PrivateKey::from_pem(&key_text, s.password.as_deref())
        .with_context(|| format!("cannot use the key `{}`", s.key.display()))?;
    let with = match &s.certificate {
        None => SignWith::Key(key),
        Some(cert) => {
            let mut chain = Cert::from_pem_file(&keys::read_pem(cert)?)
                .with_context(|| format!("cannot read `{}`", cert.display()))?;
            if chain.is_empty() {
                anyhow::bail!("no certificate in `{}`", cert.display());
            }
            chain.truncate(1);
            for p in &s.chain {
                chain.extend(
                    Cert::from_pem_file(&keys::read_pem(p)?)
                        .with_context(|| format!("cannot read `{}`", p.display()))?,
                );
            }
            SignWith::Certificate { key, chain }
        }
    };
    let pool = super::pool(s.threads)?;
    let signed = super::progress::with_progress(global.progress, "hashing", |progress| {
        let hashing = signing::HashOptions {
            progress,
            ..s.hashing.clone()
        };
        pool.install(|| signing::sign(&s.model, &s.signature, &hashing, &with))
    })
    .with_context(|| format!("cannot sign `{}`", s.model.display()))?;
    fs_err::write(&s.signature, &signed.bundle)?;

    let m = &signed.manifest;
    let files: std::collections::BTreeSet<&str> =
        m.resources.iter().map(|r| r.path.as_str()).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if s.json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({
                "signature": s.signature.display().to_string(),
                "model_name": m.model_name,
                "files": files.len(),
                "resources": m.resources.len(),
                "algorithm": m.serialization.resource_algorithm(),
                "root_digest": manifest::hex(&m.root_digest()),
                "ignore_paths": m.serialization.ignore_paths,
            }),
        )?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "signed `{}`: {} files, {} resources ({}), root digest sha256:{}\nsignature written to {}",
            m.model_name,
            files.len(),
            m.resources.len(),
            m.serialization.resource_algorithm(),
            manifest::hex(&m.root_digest()),
            s.signature.display()
        )?;
    }
    Ok(ExitStatus::Success)
}
