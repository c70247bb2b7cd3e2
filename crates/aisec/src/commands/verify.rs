//! `aisec verify`: verify a model against its OpenSSF model-signing signature.

use std::io::Write;

use aisec_provenance::signing::{self, Cert, PublicKey, SignerInfo, Trust, keyless, keys};
use aisec_report::{Format, Json, Sarif};
use anyhow::Context;

use crate::ExitStatus;
use crate::settings::{GlobalSettings, TrustSpec, VerifySettings};

pub(crate) fn run(s: &VerifySettings, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    if std::fs::symlink_metadata(&s.model).is_err() {
        anyhow::bail!("the model `{}` does not exist", s.model.display());
    }
    let trust = match &s.trust {
        TrustSpec::Key(p) => Trust::Key(
            PublicKey::from_pem(&keys::read_pem(p)?)
                .with_context(|| format!("cannot use the public key `{}`", p.display()))?,
        ),
        TrustSpec::Certificates(paths) => {
            let mut all = Vec::new();
            for p in paths {
                all.extend(
                    Cert::from_pem_file(&keys::read_pem(p)?)
                        .with_context(|| format!("cannot read `{}`", p.display()))?,
                );
            }
            if all.is_empty() {
                anyhow::bail!("no certificate in the --certificate-chain files");
            }
            Trust::Certificates(all)
        }
        TrustSpec::Keyless {
            trust_root,
            identity,
            issuer,
        } => Trust::Keyless(Box::new(
            keyless::KeylessPolicy::from_trust_root_file(trust_root, identity, issuer)
                .with_context(|| format!("cannot use the trust root `{}`", trust_root.display()))?,
        )),
    };
    let pool = super::pool(s.threads)?;
    let started = std::time::Instant::now();
    let v = super::progress::with_progress(global.progress, "hashing", |progress| {
        let check = signing::CheckOptions {
            progress,
            ..s.check.clone()
        };
        pool.install(|| signing::verify(&s.model, &s.signature, &trust, &check))
    })
    .with_context(|| format!("cannot verify `{}`", s.model.display()))?;

    let mut sink = super::output(s.output.as_deref(), "the report")?;
    if global.store.is_some() {
        let mut kept = v.report(started.elapsed().as_millis() as u64);
        super::store_out::keep(global, "aisec verify", &mut kept)?;
    }
    match s.format {
        Format::Human => human(&mut sink, &v, global.color && s.output.is_none())?,
        Format::Json | Format::Sarif | Format::Markdown | Format::Html => {
            let report = v.report(started.elapsed().as_millis() as u64);
            let title = Some("aisec verify".to_owned());
            let mut emitter: Box<dyn aisec_report::Emitter> = match s.format {
                Format::Json => Box::new(Json),
                Format::Markdown => Box::new(aisec_report::Markdown { title }),
                Format::Html => Box::new(aisec_report::Html {
                    title,
                    embedded: std::collections::BTreeMap::new(),
                }),
                _ => Box::new(Sarif {
                    rules: super::scan::rule_docs(),
                }),
            };
            emitter.emit(&mut sink, &report)?;
        }
    }
    sink.flush()?;
    Ok(if v.verified() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn human(out: &mut dyn Write, v: &signing::Verification, color: bool) -> std::io::Result<()> {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    let model = v.model.display();
    if let Some(e) = &v.failure {
        writeln!(out, "{} `{model}`: {e}", paint("1;31", "FAILED"))?;
        writeln!(
            out,
            "  signature: {}  [{}]",
            v.signature.display(),
            e.rule_id()
        )?;
        return Ok(());
    }
    let (Some(check), Some(m)) = (&v.check, &v.manifest) else {
        return Ok(());
    };
    let signer = match &v.signer {
        Some(SignerInfo::Key {
            hint,
            curve,
            hint_absent,
        }) => format!(
            "key {curve} sha256:{hint}{}",
            if *hint_absent {
                " (the bundle names no key)"
            } else {
                ""
            }
        ),
        Some(SignerInfo::Certificate(c)) => {
            let san = if c.san.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.san.join(", "))
            };
            format!("certificate `{}`{san}, issued by `{}`", c.subject, c.issuer)
        }
        Some(SignerInfo::Keyless(k)) => format!(
            "{} via {} (certificate from {}, logged in {} as entry {} at {})",
            k.identity, k.issuer, k.certificate_authority, k.log, k.log_index, k.integrated_at
        ),
        None => String::new(),
    };
    if check.problems.is_empty() {
        writeln!(
            out,
            "{} `{model}`: {} resources match ({})",
            paint("1;32", "VERIFIED"),
            check.resources_checked,
            m.serialization.resource_algorithm()
        )?;
        writeln!(out, "  signed by {signer}")?;
        return Ok(());
    }
    writeln!(
        out,
        "{} `{model}`: the signature is valid but {} file(s) differ from it",
        paint("1;31", "FAILED"),
        check.problems.len()
    )?;
    writeln!(out, "  signed by {signer}")?;
    for p in &check.problems {
        let line = match p {
            signing::Problem::Changed { path, detail } => format!("changed   {path}: {detail}"),
            signing::Problem::Missing { path } => format!("missing   {path}"),
            signing::Problem::Extra { path } => format!("unsigned  {path}"),
            signing::Problem::Symlink { path } => {
                format!("symlink   {path} (links were not allowed when signing)")
            }
        };
        writeln!(out, "  {line}")?;
    }
    Ok(())
}
