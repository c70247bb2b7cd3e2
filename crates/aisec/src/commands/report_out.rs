//! What the attack and defense commands share at their edge: a report in the chosen format, an
//! artifacts directory whose files are hashed into the report (pictures also embedded in HTML),
//! and the exit status.

use std::collections::BTreeMap;
use std::path::PathBuf;

use aisec_core::{Artifact, Report, Tool};
use aisec_report::{Emitter, Html, Human, Json, Markdown, Sarif};
use sha2::Digest;

use crate::ExitStatus;
use crate::cli::{OutputFormat, ReportArgs};
use crate::settings::GlobalSettings;

/// The emitter for `format`: SARIF documents every catalog rule and `extra_rules`, HTML embeds
/// `embedded` pictures, human text is coloured when `color`.
pub(crate) fn emitter(
    format: OutputFormat,
    title: &str,
    embedded: BTreeMap<String, Vec<u8>>,
    color: bool,
    extra_rules: Vec<aisec_report::RuleDoc>,
) -> Box<dyn Emitter> {
    let title = Some(title.to_owned());
    match format {
        OutputFormat::Human => Box::new(Human {
            color,
            verbose: false,
        }),
        OutputFormat::Json => Box::new(Json),
        OutputFormat::Sarif => Box::new(Sarif {
            rules: super::scan::rule_docs()
                .into_iter()
                .chain(extra_rules)
                .collect(),
        }),
        OutputFormat::Markdown => Box::new(Markdown { title }),
        OutputFormat::Html => Box::new(Html { title, embedded }),
    }
}

/// A fresh report from this binary.
pub(crate) fn new_report() -> Report {
    Report::new(Tool {
        name: "aisec".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        policy_version: env!("CARGO_PKG_VERSION").into(),
    })
}

/// A share or accuracy as report tables show it.
pub(crate) fn fmt3(v: f64) -> String {
    format!("{v:.3}")
}

/// The lowercase hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    aisec_provenance::signing::manifest::hex(&sha2::Sha256::digest(bytes))
}

/// Files written beside the report: each is listed in the report with its hash; pictures are kept
/// for embedding in HTML.
pub(crate) struct Artifacts {
    dir: Option<PathBuf>,
    embedded: BTreeMap<String, Vec<u8>>,
}

impl Artifacts {
    /// `--artifacts`, else `<stem>-artifacts/` beside `--output`; none when writing to stdout.
    pub(crate) fn new(args: &ReportArgs) -> anyhow::Result<Self> {
        let dir = args.artifacts.clone().or_else(|| {
            args.output.as_ref().map(|o| {
                let stem = o
                    .file_stem()
                    .map_or_else(|| "report".into(), |s| s.to_string_lossy().into_owned());
                o.with_file_name(format!("{stem}-artifacts"))
            })
        });
        if let Some(d) = &dir {
            fs_err::create_dir_all(d)?;
        }
        Ok(Self {
            dir,
            embedded: BTreeMap::new(),
        })
    }

    /// The directory, when there is one.
    pub(crate) fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_deref()
    }

    /// Writes `bytes` as `name` and lists it in `report`. Does nothing without a directory.
    pub(crate) fn put(
        &mut self,
        report: &mut Report,
        name: &str,
        media_type: &str,
        description: String,
        bytes: Vec<u8>,
    ) -> anyhow::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let path = dir.join(name);
        fs_err::write(&path, &bytes)?;
        let shown = path.display().to_string();
        report.artifacts.push(Artifact {
            media_type: media_type.into(),
            path: shown.clone(),
            description,
            sha256: sha256_hex(&bytes),
        });
        if media_type == "image/png" {
            self.embedded.insert(shown, bytes);
        }
        Ok(())
    }

    /// Writes every chart of the report as an SVG file.
    pub(crate) fn put_charts(&mut self, report: &mut Report) -> anyhow::Result<()> {
        for chart in report.charts.clone() {
            self.put(
                report,
                &format!("{}.svg", chart.id),
                "image/svg+xml",
                chart.title.clone(),
                aisec_report::svg::chart(&chart).into_bytes(),
            )?;
        }
        Ok(())
    }

    /// Saves a model directory (`architecture.json` + `model.safetensors`) as `name/`.
    pub(crate) fn put_model(
        &mut self,
        report: &mut Report,
        name: &str,
        net: &aisec_ml::Network,
        description: String,
    ) -> anyhow::Result<()> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let out = dir.join(name);
        net.save_dir(&out)?;
        report.artifacts.push(Artifact {
            media_type: "application/vnd.aisec.model".into(),
            path: out.display().to_string(),
            description,
            sha256: sha256_hex(&fs_err::read(out.join(aisec_ml::network::WEIGHTS_FILE))?),
        });
        Ok(())
    }
}

/// Writes the report in the chosen format to `--output` or stdout, and returns the exit status
/// that `--fail-on` and `--exit-zero` give it.
pub(crate) fn finish(
    args: &ReportArgs,
    global: &GlobalSettings,
    title: &str,
    report: &Report,
    artifacts: Artifacts,
) -> anyhow::Result<ExitStatus> {
    finish_with_rules(args, global, title, report, artifacts, Vec::new())
}

/// [`finish`], with rule documentation for SARIF beyond the built-in catalogs (rules loaded as
/// data, as the threat model's are).
pub(crate) fn finish_with_rules(
    args: &ReportArgs,
    global: &GlobalSettings,
    title: &str,
    report: &Report,
    artifacts: Artifacts,
    extra_rules: Vec<aisec_report::RuleDoc>,
) -> anyhow::Result<ExitStatus> {
    // Only a run kept in the store can lose suppressed findings: copy the report just then.
    let kept;
    let report = if global.store.is_some() {
        let mut copy = report.clone();
        super::store_out::keep(global, title, &mut copy)?;
        kept = copy;
        &kept
    } else {
        report
    };
    let mut out = super::output(args.output.as_deref(), "the report")?;
    let mut emitter = emitter(
        args.format,
        title,
        artifacts.embedded,
        global.color && args.output.is_none(),
        extra_rules,
    );
    emitter.emit(&mut out, report)?;
    out.flush()?;
    let threshold = crate::settings::severity_of(args.fail_on);
    Ok(if !args.exit_zero && report.fails(threshold) {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}
