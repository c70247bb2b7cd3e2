//! From a model spec on the command line to a [`Classifier`]: a model directory, a safetensors
//! file with its architecture file, an ONNX file, or an `http(s)://` URL with a remote config.

use std::path::{Path, PathBuf};

use crate::error::{MlError, Result};
use crate::model::{Classifier, LocalModel};
use crate::network::{ARCH_FILE, Network, WEIGHTS_FILE};
use crate::remote::{RemoteConfig, RemoteModel};

/// What a model spec names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// A directory with `architecture.json` and `model.safetensors`.
    Dir(PathBuf),
    /// A safetensors file and the architecture file that describes it.
    Safetensors {
        /// The weights.
        weights: PathBuf,
        /// The architecture file.
        arch: PathBuf,
    },
    /// An ONNX file.
    Onnx(PathBuf),
    /// A model behind HTTP.
    Remote(String),
}

/// What the spec alone does not say.
#[derive(Debug, Clone, Default)]
pub struct TargetOptions {
    /// The architecture file for a bare `.safetensors` (default: `architecture.json` beside it).
    pub arch: Option<PathBuf>,
    /// The remote config for a URL (its `url` is replaced by the spec).
    pub remote: Option<RemoteConfig>,
    /// How to read an ONNX file.
    #[cfg(feature = "onnx")]
    pub onnx: crate::onnx::OnnxOptions,
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(ext))
}

impl TargetSpec {
    /// Decides what `spec` names (checking that the files are there).
    pub fn parse(spec: &str, options: &TargetOptions) -> Result<Self> {
        let lower = spec.get(..8).unwrap_or(spec).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return Ok(Self::Remote(spec.to_owned()));
        }
        let path = PathBuf::from(spec);
        let meta = std::fs::metadata(&path).map_err(|e| MlError::io(&path, e))?;
        if meta.is_dir() {
            let (arch, weights) = (path.join(ARCH_FILE), path.join(WEIGHTS_FILE));
            if arch.is_file() && weights.is_file() {
                return Ok(Self::Dir(path));
            }
            let onnx = path.join("model.onnx");
            if onnx.is_file() {
                return Ok(Self::Onnx(onnx));
            }
            return Err(MlError::Input(format!(
                "{} holds neither {ARCH_FILE} with {WEIGHTS_FILE} nor model.onnx",
                path.display()
            )));
        }
        if has_ext(&path, "safetensors") {
            let arch = match &options.arch {
                Some(a) => a.clone(),
                None => path.with_file_name(ARCH_FILE),
            };
            if !arch.is_file() {
                return Err(MlError::Input(format!(
                    "{} needs an architecture file: give --arch FILE (no {} beside it)",
                    path.display(),
                    arch.display()
                )));
            }
            return Ok(Self::Safetensors {
                weights: path,
                arch,
            });
        }
        if has_ext(&path, "onnx") {
            return Ok(Self::Onnx(path));
        }
        Err(MlError::Input(format!(
            "cannot tell what {spec} is: give a model directory ({ARCH_FILE} + {WEIGHTS_FILE}), \
             a .safetensors file with --arch, a .onnx file, or an http(s):// URL"
        )))
    }
}

/// Loads the target `spec` names.
pub fn load_target(spec: &str, options: &TargetOptions) -> Result<Box<dyn Classifier>> {
    match TargetSpec::parse(spec, options)? {
        TargetSpec::Dir(dir) => Ok(Box::new(LocalModel::new(
            Network::load_dir(&dir)?,
            dir.display().to_string(),
        ))),
        TargetSpec::Safetensors { weights, arch } => Ok(Box::new(LocalModel::new(
            Network::load(&arch, &weights)?,
            weights.display().to_string(),
        ))),
        TargetSpec::Onnx(path) => load_onnx(&path, options),
        TargetSpec::Remote(url) => {
            let mut config = options.remote.clone().ok_or_else(|| {
                MlError::Input(format!(
                    "{url} is a remote model: give its config (protocol, shapes, classes)"
                ))
            })?;
            config.url = Some(url);
            Ok(Box::new(RemoteModel::connect(config)?))
        }
    }
}

#[cfg(feature = "onnx")]
fn load_onnx(path: &Path, options: &TargetOptions) -> Result<Box<dyn Classifier>> {
    Ok(Box::new(crate::onnx::OnnxModel::load(path, &options.onnx)?))
}

#[cfg(not(feature = "onnx"))]
fn load_onnx(path: &Path, _options: &TargetOptions) -> Result<Box<dyn Classifier>> {
    Err(MlError::Unsupported(format!(
        "{}: this build has no ONNX support (cargo feature `onnx` of aisec-ml)",
        path.display()
    )))
}
