//! Loading what attacks and training work on: data sets (built-in through the pinned resolver, or
//! the user's files) and models (ours, ONNX, remote).

use std::path::Path;

use aisec_data::{BuiltIn, CsvOptions, Dataset, LabelColumn, Limits, NpzOptions, Standardizer};
use aisec_ml::remote::RemoteConfig;
use aisec_ml::target::{TargetOptions, load_target};
use aisec_ml::{Classifier, Device, LocalModel, ModelInfo, Network, Tensor};
use anyhow::Context;

use crate::cli::{DataArgs, SplitArg};

/// The share of rows held out as the test split.
pub(crate) const TEST_FRACTION: f64 = 0.2;

/// A data set as tensors.
#[derive(Clone)]
pub(crate) struct Loaded {
    /// `[N, ...sample_shape]`, f32.
    pub(crate) x: Tensor,
    /// One label per row.
    pub(crate) labels: Vec<u32>,
    /// The shape of one row.
    pub(crate) sample_shape: Vec<usize>,
    /// Classes.
    pub(crate) num_classes: usize,
    /// Class names, when the data has them.
    pub(crate) class_names: Option<Vec<String>>,
    /// The range the values live in.
    pub(crate) input_range: [f32; 2],
    /// What it is, for reports (`digits (test split, seed 0)`).
    pub(crate) name: String,
}

/// How a split was made, for the training record.
pub(crate) struct Split;

impl Split {
    pub(crate) fn describe(args: &DataArgs) -> serde_json::Value {
        serde_json::json!({ "test_fraction": TEST_FRACTION, "seed": args.split_seed })
    }
}

/// Reads the data set the arguments name, whole.
fn read_dataset(args: &DataArgs) -> anyhow::Result<(Dataset, bool)> {
    let limits = Limits::default();
    if let Some(set) = BuiltIn::from_name(&args.data) {
        let resolver = aisec_resolve::Resolver::from_env()?;
        let path = resolver
            .fetch(set.name())
            .with_context(|| format!("cannot fetch the `{}` data set", set.name()))?;
        return Ok((set.load(&path, &limits)?, true));
    }
    let path = Path::new(&args.data);
    anyhow::ensure!(
        path.exists(),
        "`{}` is neither a built-in data set (digits, breast-cancer, wine) nor an existing file",
        args.data
    );
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let labels_needed = || {
        args.labels.as_deref().with_context(|| {
            format!(
                "`{}` holds inputs only: give the labels with --labels",
                args.data
            )
        })
    };
    let dataset = if path.is_dir() {
        aisec_data::load_image_folder(path, &limits)?
    } else {
        match ext.as_str() {
            "npz" => aisec_data::load_npz(path, &NpzOptions::default(), &limits)?,
            "npy" => {
                let x = aisec_data::read_npy(path, &limits)?;
                let y = aisec_data::read_npy(labels_needed()?, &limits)?;
                aisec_data::dataset_from_arrays(&x, &y, &limits)?
            }
            "csv" | "tsv" | "txt" => {
                let label = match args.label_column.as_deref() {
                    None => LabelColumn::Last,
                    Some(c) => c
                        .parse::<usize>()
                        .map_or_else(|_| LabelColumn::Name(c.to_owned()), LabelColumn::Index),
                };
                let header = matches!(label, LabelColumn::Name(_)) || first_line_has_letters(path)?;
                let opts = CsvOptions {
                    delimiter: if ext == "tsv" { b'\t' } else { b',' },
                    header,
                    label,
                };
                aisec_data::load_csv(path, &opts, &limits)?
            }
            _ => aisec_data::load_idx(path, labels_needed()?, &limits).with_context(|| {
                format!("`{}`: not .npy/.npz/.csv, and not an IDX file", args.data)
            })?,
        }
    };
    Ok((dataset, false))
}

fn first_line_has_letters(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 512];
    let n = fs_err::File::open(path)?.read(&mut head)?;
    let line = head[..n].split(|&b| b == b'\n').next().unwrap_or(&[]);
    Ok(line
        .iter()
        .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E')))
}

fn to_loaded(d: &Dataset, input_range: [f32; 2], name: String) -> anyhow::Result<Loaded> {
    let mut shape = vec![d.len()];
    shape.extend(d.sample_shape());
    Ok(Loaded {
        x: Tensor::from_slice(d.x(), shape.as_slice(), &Device::Cpu)?,
        labels: d.y().to_vec(),
        sample_shape: d.sample_shape().to_vec(),
        num_classes: d.num_classes(),
        class_names: d.class_names().map(<[String]>::to_vec),
        input_range,
        name,
    })
}

/// The inputs of a data file, labels not needed (an attacker's unlabelled query pool): `.npy`
/// rows as they are, any other format the loaders read (`.npz`, `.csv`, IDX, image folders) with
/// its labels dropped.
pub(crate) fn read_inputs(path: &Path) -> anyhow::Result<Tensor> {
    let is_npy = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let (values, shape) = if is_npy {
        let array = aisec_data::read_npy(path, &Limits::default())?;
        (array.to_f32(), array.shape)
    } else {
        let args = DataArgs {
            data: path.display().to_string(),
            labels: None,
            label_column: None,
            split: Some(SplitArg::All),
            split_seed: 0,
            limit: None,
        };
        let (dataset, _) = read_dataset(&args)?;
        let mut shape = vec![dataset.len()];
        shape.extend_from_slice(dataset.sample_shape());
        (dataset.x().to_vec(), shape)
    };
    anyhow::ensure!(
        shape.first().is_some_and(|&n| n > 0),
        "`{}` holds no rows",
        path.display()
    );
    Ok(Tensor::from_vec(values, shape.as_slice(), &Device::Cpu)?)
}

/// The range of the values of a data set: [0, 1] when they already are there (images), else
/// their observed minimum and maximum.
fn range_of(d: &Dataset) -> [f32; 2] {
    let (lo, hi) = d
        .x()
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if lo >= 0.0 && hi <= 1.0 {
        [0.0, 1.0]
    } else {
        [lo, hi]
    }
}

/// Built-in tabular sets are standardised with the train split's statistics, so a model trained
/// on them and an attack on them see the same values.
fn prepare(
    full: &Dataset,
    builtin: bool,
    args: &DataArgs,
) -> anyhow::Result<(Dataset, Dataset, [f32; 2])> {
    let split = full.split(TEST_FRACTION, args.split_seed)?;
    let (mut train, mut test) = (split.train, split.test);
    if builtin && train.sample_shape().len() == 1 {
        let s = Standardizer::fit(&train)?;
        s.apply(&mut train)?;
        s.apply(&mut test)?;
    }
    let range = range_of(&train);
    Ok((train, test, range))
}

fn limited(d: Dataset, limit: Option<usize>) -> Dataset {
    match limit {
        Some(n) if n < d.len() => d.head(n),
        _ => d,
    }
}

/// The rows to attack (or evaluate): by default the test split of a built-in set, every row of a
/// file. Checks that they fit `model` when given.
pub(crate) fn load(
    args: &DataArgs,
    builtin_default: SplitArg,
    model: Option<&ModelInfo>,
) -> anyhow::Result<Loaded> {
    let (full, builtin) = read_dataset(args)?;
    let split = args.split.unwrap_or(if builtin {
        builtin_default
    } else {
        SplitArg::All
    });
    let (dataset, range, what) = if builtin || split != SplitArg::All {
        let (train, test, range) = prepare(&full, builtin, args)?;
        match split {
            SplitArg::Test => (
                test,
                range,
                format!("{} (test split, seed {})", args.data, args.split_seed),
            ),
            SplitArg::Train => (
                train,
                range,
                format!("{} (train split, seed {})", args.data, args.split_seed),
            ),
            SplitArg::All => {
                anyhow::bail!(
                    "--split all is not available for built-in sets: their rows are standardised per split"
                )
            }
        }
    } else {
        let range = range_of(&full);
        (full, range, args.data.clone())
    };
    let dataset = limited(dataset, args.limit);
    anyhow::ensure!(!dataset.is_empty(), "no rows to use in `{}`", args.data);
    let mut loaded = to_loaded(&dataset, range, what)?;
    if let Some(info) = model {
        if loaded.sample_shape != info.input_shape {
            if loaded.sample_shape.iter().product::<usize>() == info.sample_len() {
                let mut shape = vec![dataset.len()];
                shape.extend(&info.input_shape);
                loaded.x = loaded.x.reshape(shape.as_slice())?;
                loaded.sample_shape.clone_from(&info.input_shape);
            } else {
                anyhow::bail!(
                    "the data's rows have shape {:?}, the model expects {:?}",
                    loaded.sample_shape,
                    info.input_shape
                );
            }
        }
        if let Some(bad) = loaded
            .labels
            .iter()
            .find(|&&y| y as usize >= info.num_classes)
        {
            anyhow::bail!(
                "label {bad} is outside the model's {} classes",
                info.num_classes
            );
        }
        loaded.input_range = info.input_range;
    }
    Ok(loaded)
}

/// The train and test splits for training (`--split all` trains on every row, with no test).
pub(crate) fn load_train_test(args: &DataArgs) -> anyhow::Result<(Loaded, Option<Loaded>)> {
    let (full, builtin) = read_dataset(args)?;
    if args.split == Some(SplitArg::All) && !builtin {
        let range = range_of(&full);
        let full = limited(full, args.limit);
        return Ok((to_loaded(&full, range, args.data.clone())?, None));
    }
    let (train, test, range) = prepare(&full, builtin, args)?;
    let train = limited(train, args.limit);
    Ok((
        to_loaded(
            &train,
            range,
            format!("{} (train split, seed {})", args.data, args.split_seed),
        )?,
        Some(to_loaded(
            &test,
            range,
            format!("{} (test split, seed {})", args.data, args.split_seed),
        )?),
    ))
}

/// Writes `{prefix}_x.npy` (f32) and `{prefix}_y.npy` (int64) into `dir`.
pub(crate) fn write_split(dir: &Path, prefix: &str, d: &Loaded) -> anyhow::Result<()> {
    let shape = d.x.dims().to_vec();
    let flat = d.x.flatten_all()?.to_vec1::<f32>()?;
    aisec_data::write_npy_f32(&dir.join(format!("{prefix}_x.npy")), &shape, &flat)?;
    let labels: Vec<i64> = d.labels.iter().map(|&y| i64::from(y)).collect();
    aisec_data::write_npy_i64(
        &dir.join(format!("{prefix}_y.npy")),
        &[labels.len()],
        &labels,
    )?;
    Ok(())
}

/// `.npy` bytes of an f32 array.
pub(crate) fn npy_f32(shape: &[usize], data: &[f32]) -> anyhow::Result<Vec<u8>> {
    Ok(aisec_data::encode_npy_f32(shape, data)?)
}

/// `.npy` bytes of an f32 tensor, with its shape.
pub(crate) fn tensor_npy(t: &Tensor) -> anyhow::Result<Vec<u8>> {
    npy_f32(t.dims(), &t.flatten_all()?.to_vec1::<f32>()?)
}

/// What kind of model a spec names, for reports.
pub(crate) fn model_format(spec: &str) -> &'static str {
    if spec.starts_with("http://") || spec.starts_with("https://") {
        "remote-model"
    } else if spec.to_ascii_lowercase().ends_with(".onnx")
        || (!Path::new(spec).join(aisec_ml::network::ARCH_FILE).is_file()
            && Path::new(spec).join("model.onnx").is_file())
    {
        "onnx"
    } else {
        "aisec-ml"
    }
}

/// Loads the model a spec names: our model directory (or a `.safetensors` file with `--arch`), an
/// ONNX file, or an endpoint with its config.
pub(crate) fn load_model(
    spec: &str,
    arch: Option<&Path>,
    remote_config: Option<&Path>,
    budget: Option<u64>,
) -> anyhow::Result<Box<dyn Classifier>> {
    let path = Path::new(spec);
    if model_format(spec) == "aisec-ml"
        && (path.is_dir() && path.join(aisec_ml::network::ARCH_FILE).is_file() || arch.is_some())
    {
        let network = match arch {
            Some(a) => Network::load(a, path),
            None => Network::load_dir(path),
        }
        .with_context(|| format!("cannot load the model `{spec}`"))?;
        return Ok(Box::new(LocalModel::new(network, spec).with_budget(budget)));
    }
    let mut options = TargetOptions {
        arch: arch.map(Path::to_path_buf),
        ..TargetOptions::default()
    };
    if let Some(file) = remote_config {
        let mut config = RemoteConfig::load(file)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
        if budget.is_some() {
            config.budget = budget;
        }
        options.remote = Some(config);
    }
    load_target(spec, &options).with_context(|| format!("cannot load the model `{spec}`"))
}
