//! `aisec defend backdoor`: is there a backdoor in a model we were given? Neural Cleanse looks
//! for a class reachable through an abnormally small trigger (white-box), STRIP for inputs whose
//! prediction no superimposed image can shake (predictions only). The report gives the verdict,
//! the statistic behind it, the suspected target and the reversed triggers as pictures.

use std::path::Path;
use std::time::Instant;

use aisec_attack::backdoor::{
    NeuralCleanse, NeuralCleanseReport, Strip, StripReport, neural_cleanse_findings, strip_finding,
};
use aisec_attack::visual::{TriggerRow, trigger_grid};
use aisec_core::{Chart, Report, Series, Table, Target, TargetStatus};
use aisec_ml::{Device, ModelInfo, Tensor};
use anyhow::Context;

use super::data;
use super::report_out::{self, Artifacts, fmt3};
use crate::ExitStatus;
use crate::cli::{BackdoorArgs, BackdoorMethodArg, SplitArg};
use crate::settings::GlobalSettings;

/// Bins of the STRIP entropy histogram.
const HISTOGRAM_BINS: usize = 30;
/// Flagged inputs listed in the STRIP table (all of them are in the JSON metrics).
const FLAGGED_ROWS_SHOWN: usize = 20;

pub(crate) fn backdoor(args: &BackdoorArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    let pool = super::pool(args.threads)?;
    pool.install(|| backdoor_command(args, global))
}

/// Which methods run: `(neural cleanse, strip)`.
fn methods(args: &BackdoorArgs) -> anyhow::Result<(bool, bool)> {
    if args.method.is_empty() {
        return Ok((true, args.inputs.is_some()));
    }
    let nc = args.method.contains(&BackdoorMethodArg::Nc);
    let strip = args.method.contains(&BackdoorMethodArg::Strip);
    anyhow::ensure!(
        !strip || args.inputs.is_some(),
        "STRIP checks the inputs you give: add --inputs FILE.npy"
    );
    anyhow::ensure!(
        strip || args.inputs.is_none(),
        "--inputs is only read by STRIP: add `strip` to --method"
    );
    Ok((nc, strip))
}

/// The rows of an `.npy` file as a batch of the model's inputs.
fn load_inputs(path: &Path, info: &ModelInfo) -> anyhow::Result<Tensor> {
    let array = aisec_data::read_npy(path, &aisec_data::Limits::default())
        .with_context(|| format!("cannot read the inputs `{}`", path.display()))?;
    let sample = info.sample_len();
    let total: usize = array.shape.iter().product();
    let rows = if array.shape == info.input_shape {
        1
    } else {
        match array.shape.first() {
            Some(&n) if n > 0 && total == n * sample => n,
            _ => anyhow::bail!(
                "`{}` holds an array of shape {:?}; STRIP needs rows of the model's input shape {:?}",
                path.display(),
                array.shape,
                info.input_shape
            ),
        }
    };
    Ok(Tensor::from_vec(
        array.to_f32(),
        info.batch_shape(rows).as_slice(),
        &Device::Cpu,
    )?)
}

fn backdoor_command(args: &BackdoorArgs, global: &GlobalSettings) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let (run_nc, run_strip) = methods(args)?;
    let model = data::load_model(
        &args.model.path,
        args.model.arch.as_deref(),
        args.model.remote_config.as_deref(),
        None,
    )?;
    let info = model.info().clone();
    let white = if run_nc {
        Some(model.white_box().ok_or_else(|| {
            anyhow::anyhow!(
                "Neural Cleanse optimises triggers through the model's gradients, and `{}` gives predictions only (a remote endpoint, or an ONNX graph with an op we cannot differentiate)\n\nhint: run STRIP alone, which needs predictions only: --method strip --inputs FILE.npy",
                args.model.path
            )
        })?)
    } else {
        None
    };
    let clean = data::load(&args.data, SplitArg::Test, Some(&info))?;
    let inputs = match (&args.inputs, run_strip) {
        (Some(p), true) => Some((p.display().to_string(), load_inputs(p, &info)?)),
        _ => None,
    };

    let cleanse = match white {
        Some(white) => {
            let nc = NeuralCleanse {
                steps: args.steps,
                batch_size: args.batch_size,
                anomaly_threshold: args.anomaly_threshold,
                seed: args.seed,
                ..NeuralCleanse::default()
            };
            super::progress::note(
                global,
                &format!(
                    "Neural Cleanse on {}: reversing a trigger for {} classes from {} rows of {}",
                    info.name,
                    if args.classes.is_empty() {
                        info.num_classes
                    } else {
                        args.classes.len()
                    },
                    clean.labels.len(),
                    clean.name
                ),
            );
            let classes = (!args.classes.is_empty()).then_some(args.classes.as_slice());
            Some(
                nc.run(white, &clean.x, Some(&clean.labels), classes)
                    .context("Neural Cleanse failed")?,
            )
        }
        None => None,
    };
    let strip = match &inputs {
        Some((name, x)) => {
            let strip = Strip {
                overlays: args.overlays,
                false_rejection_rate: args.frr,
                seed: args.seed,
            };
            super::progress::note(
                global,
                &format!(
                    "STRIP on {} inputs of {name}, {} overlays each",
                    x.dim(0)?,
                    args.overlays
                ),
            );
            Some(
                strip
                    .run(model.as_ref(), &clean.x, x)
                    .context("STRIP failed")?,
            )
        }
        None => None,
    };

    let mut report = report_out::new_report();
    report.targets.push(Target {
        path: info.name.clone(),
        member: None,
        format: data::model_format(&args.model.path).to_owned(),
        size: 0,
        status: TargetStatus::Analysed,
    });
    if let Some(nc) = &cleanse {
        report
            .findings
            .extend(neural_cleanse_findings(nc, &info.name));
    }
    if let (Some(s), Some((name, _))) = (&strip, &inputs) {
        report.findings.extend(strip_finding(s, &info.name, name));
    }
    let verdict = Verdict::of(cleanse.as_ref(), strip.as_ref());
    report.metrics.insert(
        "backdoor".into(),
        serde_json::json!({
            "verdict": verdict.label,
            "suspected_target": verdict.suspected_target,
            "statistic": verdict.statistic,
            "data": clean.name,
            "inputs": inputs.as_ref().map(|(name, _)| name),
            "seed": args.seed,
            "neural_cleanse": cleanse,
            "strip": strip,
        }),
    );
    report.tables.push(verdict.table());
    if let Some(nc) = &cleanse {
        report.tables.push(cleanse_table(nc));
        report.charts.extend(cleanse_charts(nc));
    }
    if let Some(s) = &strip {
        report.tables.extend(strip_tables(s));
        report.charts.push(strip_chart(s));
    }

    let mut artifacts = Artifacts::new(&args.report)?;
    artifacts.put_charts(&mut report)?;
    if let Some(nc) = &cleanse {
        write_triggers(&mut artifacts, &mut report, nc, &info)?;
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    report_out::finish(
        &args.report,
        global,
        "aisec defend backdoor",
        &report,
        artifacts,
    )
}

/// The verdict and what it rests on.
struct Verdict {
    label: &'static str,
    suspected_target: Option<u32>,
    statistic: String,
}

impl Verdict {
    fn of(nc: Option<&NeuralCleanseReport>, strip: Option<&StripReport>) -> Self {
        let mut statistic = Vec::new();
        let mut backdoored = false;
        let mut suspected_target = None;
        if let Some(nc) = nc {
            match nc.suspected_target.and_then(|c| nc.trigger(c)) {
                Some(c) => {
                    backdoored = true;
                    suspected_target = Some(c.class);
                    statistic.push(format!(
                        "Neural Cleanse: class {} has anomaly index {:.2} > {} (trigger L1 norm {:.2}, median {:.2})",
                        c.class, c.anomaly_index, nc.anomaly_threshold, c.l1_norm, nc.median_norm
                    ));
                }
                None => statistic.push(format!(
                    "Neural Cleanse: largest anomaly index below the median {:.2} <= {}",
                    nc.max_anomaly_index, nc.anomaly_threshold
                )),
            }
        }
        if let Some(s) = strip {
            let frr = s.settings.false_rejection_rate;
            let significant = s.flagged_share > 2.0 * frr;
            backdoored |= significant;
            statistic.push(format!(
                "STRIP: {} of {} inputs ({:.1}%) below the entropy threshold {:.3} set at a {:.1}% false-rejection rate{}",
                s.flagged.len(),
                s.entropies.len(),
                s.flagged_share * 100.0,
                s.threshold,
                frr * 100.0,
                if significant {
                    ""
                } else {
                    " (no more than false rejections explain)"
                }
            ));
        }
        Self {
            label: if backdoored {
                "backdoored"
            } else {
                "no backdoor found"
            },
            suspected_target,
            statistic: statistic.join("; "),
        }
    }

    fn table(&self) -> Table {
        Table {
            id: "backdoor-verdict".into(),
            title: "Verdict".into(),
            columns: vec!["item".to_owned(), "result".to_owned()],
            rows: vec![
                vec!["verdict".into(), self.label.into()],
                vec![
                    "suspected target".into(),
                    self.suspected_target
                        .map_or_else(|| "none".into(), |c| c.to_string()),
                ],
                vec!["statistic".into(), self.statistic.clone()],
            ],
        }
    }
}

fn cleanse_table(nc: &NeuralCleanseReport) -> Table {
    Table {
        id: "neural-cleanse".into(),
        title: format!(
            "Neural Cleanse: reversed trigger per class (median L1 norm {:.3}, 1.4826 x MAD {:.3})",
            nc.median_norm, nc.scaled_mad
        ),
        columns: [
            "class",
            "L1 norm",
            "attack success",
            "anomaly index",
            "below median",
            "flagged",
            "rounds",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: nc
            .classes
            .iter()
            .map(|c| {
                vec![
                    c.class.to_string(),
                    fmt3(c.l1_norm),
                    fmt3(c.attack_success),
                    format!("{:.2}", c.anomaly_index),
                    if c.below_median { "yes" } else { "no" }.into(),
                    if c.flagged {
                        "yes".into()
                    } else if c.reached_threshold {
                        "no".into()
                    } else {
                        "no (trigger under the success threshold)".into()
                    },
                    c.steps_run.to_string(),
                ]
            })
            .collect(),
    }
}

fn cleanse_charts(nc: &NeuralCleanseReport) -> Vec<Chart> {
    let class_x = |c: u32| f64::from(c);
    let (first, last) = (
        nc.classes.first().map_or(0.0, |c| class_x(c.class)),
        nc.classes.last().map_or(1.0, |c| class_x(c.class)),
    );
    // Signed: positive for triggers smaller than the median, the side a backdoor is on.
    let signed = |c: &aisec_attack::backdoor::ClassTrigger| {
        if c.below_median {
            c.anomaly_index
        } else {
            -c.anomaly_index
        }
    };
    vec![
        Chart {
            id: "anomaly-index".into(),
            title: "Neural Cleanse anomaly index per class".into(),
            x_label: "class".into(),
            y_label: "anomaly index (positive: smaller trigger than the median)".into(),
            x_log: false,
            y_log: false,
            y_range: None,
            categories: Vec::new(),
            series: vec![
                Series {
                    name: "anomaly index".into(),
                    points: nc
                        .classes
                        .iter()
                        .map(|c| [class_x(c.class), signed(c)])
                        .collect(),
                },
                Series {
                    name: "threshold".into(),
                    points: vec![[first, nc.anomaly_threshold], [last, nc.anomaly_threshold]],
                },
            ],
        },
        Chart {
            id: "trigger-norms".into(),
            title: "Neural Cleanse trigger L1 norm per class".into(),
            x_label: "class".into(),
            y_label: "L1 norm of the mask".into(),
            x_log: false,
            y_log: false,
            y_range: None,
            categories: Vec::new(),
            series: vec![
                Series {
                    name: "trigger norm".into(),
                    points: nc
                        .classes
                        .iter()
                        .map(|c| [class_x(c.class), c.l1_norm])
                        .collect(),
                },
                Series {
                    name: "median".into(),
                    points: vec![[first, nc.median_norm], [last, nc.median_norm]],
                },
            ],
        },
    ]
}

fn strip_tables(s: &StripReport) -> Vec<Table> {
    let summary = Table {
        id: "strip".into(),
        title: "STRIP: prediction entropy under superimposition".into(),
        columns: [
            "inputs",
            "flagged",
            "flagged share",
            "threshold (bits)",
            "false-rejection rate",
            "clean rejected",
            "overlays",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: vec![vec![
            s.entropies.len().to_string(),
            s.flagged.len().to_string(),
            fmt3(s.flagged_share),
            fmt3(s.threshold),
            fmt3(s.settings.false_rejection_rate),
            fmt3(s.clean_rejected),
            s.settings.overlays.to_string(),
        ]],
    };
    let mut out = vec![summary];
    if !s.flagged.is_empty() {
        let mut flagged = s.flagged.clone();
        flagged.sort_by(|&a, &b| s.entropies[a].total_cmp(&s.entropies[b]));
        out.push(Table {
            id: "strip-flagged".into(),
            title: format!(
                "STRIP: flagged inputs, lowest entropy first ({} of {} shown)",
                flagged.len().min(FLAGGED_ROWS_SHOWN),
                flagged.len()
            ),
            columns: vec!["input".into(), "entropy (bits)".into()],
            rows: flagged
                .iter()
                .take(FLAGGED_ROWS_SHOWN)
                .map(|&i| vec![i.to_string(), fmt3(s.entropies[i])])
                .collect(),
        });
    }
    out
}

fn strip_chart(s: &StripReport) -> Chart {
    let h = s.histogram(HISTOGRAM_BINS);
    let centres: Vec<f64> = h
        .edges
        .windows(2)
        .map(|w| f64::midpoint(w[0], w[1]))
        .collect();
    let share = |counts: &[usize], total: usize| -> Vec<[f64; 2]> {
        centres
            .iter()
            .zip(counts)
            .map(|(&x, &c)| [x, c as f64 / total.max(1) as f64])
            .collect()
    };
    let top = share(&h.first, s.clean_entropies.len())
        .iter()
        .chain(&share(&h.second, s.entropies.len()))
        .fold(0f64, |m, p| m.max(p[1]));
    Chart {
        id: "strip-entropy".into(),
        title: "STRIP entropy distributions".into(),
        x_label: "mean prediction entropy (bits)".into(),
        y_label: "share of inputs".into(),
        x_log: false,
        y_log: false,
        y_range: None,
        categories: Vec::new(),
        series: vec![
            Series {
                name: "clean".into(),
                points: share(&h.first, s.clean_entropies.len()),
            },
            Series {
                name: "checked inputs".into(),
                points: share(&h.second, s.entropies.len()),
            },
            Series {
                name: "threshold".into(),
                points: vec![[s.threshold, 0.0], [s.threshold, top]],
            },
        ],
    }
}

fn write_triggers(
    artifacts: &mut Artifacts,
    report: &mut Report,
    nc: &NeuralCleanseReport,
    info: &ModelInfo,
) -> anyhow::Result<()> {
    let rows: Vec<TriggerRow> = nc
        .classes
        .iter()
        .map(|c| TriggerRow {
            mask: c.mask.clone(),
            pattern: c.pattern.clone(),
            highlight: c.flagged,
        })
        .collect();
    if let Some(png) = trigger_grid(&rows, &info.input_shape, info.input_range) {
        let classes: Vec<String> = nc.classes.iter().map(|c| c.class.to_string()).collect();
        artifacts.put(
            report,
            "triggers.png",
            "image/png",
            format!(
                "reversed triggers, one row per class ({}): mask | pattern | mask x pattern; flagged classes framed in red",
                classes.join(", ")
            ),
            png,
        )?;
        for c in nc.classes.iter().filter(|c| c.flagged) {
            let row = [TriggerRow {
                mask: c.mask.clone(),
                pattern: c.pattern.clone(),
                highlight: false,
            }];
            if let Some(png) = trigger_grid(&row, &info.input_shape, info.input_range) {
                artifacts.put(
                    report,
                    &format!("trigger-class-{}.png", c.class),
                    "image/png",
                    format!(
                        "the reversed trigger of suspected target class {}: mask | pattern | mask x pattern",
                        c.class
                    ),
                    png,
                )?;
            }
        }
    }
    let k = nc.classes.len();
    let mut mask_shape = vec![k];
    mask_shape.extend(&nc.mask_shape);
    let masks: Vec<f32> = nc.classes.iter().flat_map(|c| c.mask.clone()).collect();
    artifacts.put(
        report,
        "trigger-masks.npy",
        "application/x-npy",
        format!("the reversed masks, one per class examined, {mask_shape:?}"),
        data::npy_f32(&mask_shape, &masks)?,
    )?;
    let mut pattern_shape = vec![k];
    pattern_shape.extend(&nc.input_shape);
    let patterns: Vec<f32> = nc.classes.iter().flat_map(|c| c.pattern.clone()).collect();
    artifacts.put(
        report,
        "trigger-patterns.npy",
        "application/x-npy",
        format!("the reversed patterns, one per class examined, {pattern_shape:?}"),
        data::npy_f32(&pattern_shape, &patterns)?,
    )?;
    Ok(())
}
