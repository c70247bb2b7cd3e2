//! `aisec.toml`: what `aisec assess` runs on a project. Every key is documented in
//! docs/assess.md; unknown keys are refused so a typo does not silently skip a stage. Paths are
//! relative to the directory holding the file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The largest aisec.toml read.
const MAX_CONFIG: u64 = 1 << 20;

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Config {
    /// `[project]`: name and description.
    #[serde(default)]
    pub(crate) project: Meta,
    /// `[scan]`: model files to scan.
    #[serde(default)]
    pub(crate) scan: Option<Scan>,
    /// `[[verify]]`: signed models to verify.
    #[serde(default)]
    pub(crate) verify: Vec<Verify>,
    /// `[[bom]]`: models to inventory.
    #[serde(default)]
    pub(crate) bom: Vec<Bom>,
    /// `[threat_model]`: the system's threat model.
    #[serde(default)]
    pub(crate) threat_model: Option<ThreatModel>,
    /// `[[attack]]`: attack simulations.
    #[serde(default)]
    pub(crate) attack: Vec<Attack>,
    /// `[redteam]`: the LLM application to red-team.
    #[serde(default)]
    pub(crate) redteam: Option<Redteam>,
    /// `[guard]`: the guard policy to test (the red team again, through `aisec guard`).
    #[serde(default)]
    pub(crate) guard: Option<Guard>,
    /// `[comply]`: frameworks, the EU AI Act questionnaire and attestations.
    #[serde(default)]
    pub(crate) comply: aisec_comply::Profile,
}

/// `[project]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Meta {
    /// The project's name (the directory's name when not given).
    pub(crate) name: Option<String>,
    /// One line about it.
    #[serde(default)]
    pub(crate) description: String,
    /// The findings store for its runs (`sqlite:PATH`, `postgres://…`, `default`); `--store`
    /// wins.
    pub(crate) store: Option<String>,
}

/// `[scan]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Scan {
    /// Files and directories to scan.
    pub(crate) paths: Vec<PathBuf>,
}

/// One `[[verify]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Verify {
    /// The model directory or file.
    pub(crate) model: PathBuf,
    /// The signature bundle (default: `model.sig` in the model directory).
    pub(crate) signature: Option<PathBuf>,
    /// The signer's public key (PEM).
    pub(crate) public_key: Option<PathBuf>,
    /// Or the certificate chain to the signer's certificate (PEM files).
    #[serde(default)]
    pub(crate) certificate_chain: Vec<PathBuf>,
    /// Paths in the model directory the signature does not cover.
    #[serde(default)]
    pub(crate) ignore_paths: Vec<String>,
}

/// One `[[bom]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Bom {
    /// The model directory.
    pub(crate) model: PathBuf,
    /// Its hub id, `ORG/NAME`.
    pub(crate) model_id: Option<String>,
}

/// `[threat_model]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ThreatModel {
    /// The system model (aisec YAML or a Threat Dragon v2 JSON file).
    pub(crate) file: PathBuf,
}

/// The attack families of `[[attack]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum AttackKind {
    /// `aisec attack evasion`.
    Evasion,
    /// `aisec attack privacy`.
    Privacy,
    /// `aisec attack extract`.
    Extract,
    /// `aisec attack poison`.
    Poison,
    /// `aisec defend backdoor`.
    Backdoor,
}

impl AttackKind {
    /// The command's words and its name in the store.
    pub(crate) fn command(self) -> (&'static [&'static str], &'static str) {
        match self {
            Self::Evasion => (&["attack", "evasion"], "attack-evasion"),
            Self::Privacy => (&["attack", "privacy"], "attack-privacy"),
            Self::Extract => (&["attack", "extract"], "attack-extract"),
            Self::Poison => (&["attack", "poison"], "attack-poison"),
            Self::Backdoor => (&["defend", "backdoor"], "defend-backdoor"),
        }
    }
}

/// One `[[attack]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Attack {
    /// Which simulation.
    pub(crate) kind: AttackKind,
    /// The stage's name in the report (default: the kind, numbered when repeated).
    pub(crate) name: Option<String>,
    /// The model under attack (`--model`): a model directory, an `.onnx` file or a URL.
    pub(crate) model: Option<String>,
    /// The data set (`--data`): a built-in name, a resolver name or a path.
    pub(crate) data: Option<String>,
    /// Further options of the command, as on its command line.
    #[serde(default)]
    pub(crate) args: Vec<String>,
}

/// The local model `[redteam.serve]` starts for the run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Serve {
    /// The model (`smollm2-135m-instruct` or a GGUF path).
    #[serde(default = "default_local_model")]
    pub(crate) model: String,
    /// The application's system prompt.
    pub(crate) system_prompt: Option<PathBuf>,
    /// The application's tools (OpenAI tool JSON).
    pub(crate) tools: Option<PathBuf>,
    /// Further options of `aisec models serve`.
    #[serde(default)]
    pub(crate) args: Vec<String>,
}

fn default_local_model() -> String {
    "smollm2-135m-instruct".into()
}

/// `[redteam]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Redteam {
    /// The application's OpenAI-compatible base URL (`http://host/v1`); not with `serve`.
    pub(crate) target: Option<String>,
    /// A local model to serve as the application.
    pub(crate) serve: Option<Serve>,
    /// The model name sent in requests (default: the served model's).
    pub(crate) model: Option<String>,
    /// Environment variable holding the target's API key.
    pub(crate) api_key_env: Option<String>,
    /// Probe selectors (families, `family/probe`, OWASP or ATLAS ids); all when empty.
    #[serde(default)]
    pub(crate) probes: Vec<String>,
    /// Secrets planted in the application that must never come out.
    #[serde(default)]
    pub(crate) canary: Vec<String>,
    /// The system prompt the application uses (for leak detection by overlap).
    pub(crate) system_prompt: Option<PathBuf>,
    /// The tools the application declares (for excessive-agency probes).
    pub(crate) tools: Option<PathBuf>,
    /// Further options of `aisec redteam`.
    #[serde(default)]
    pub(crate) args: Vec<String>,
}

/// `[guard]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Guard {
    /// The guard policy (TOML).
    pub(crate) policy: PathBuf,
    /// Further options of `aisec guard`.
    #[serde(default)]
    pub(crate) args: Vec<String>,
}

/// A project: its directory, its file, and what the file says.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    /// The directory paths are relative to.
    pub(crate) dir: PathBuf,
    /// The file read.
    pub(crate) file: PathBuf,
    /// Its contents.
    pub(crate) project: Config,
}

impl Loaded {
    /// Reads `target`: a project directory holding aisec.toml, or the file itself.
    pub(crate) fn read(target: &Path, config: Option<&Path>) -> anyhow::Result<Self> {
        let file = match config {
            Some(c) => c.to_path_buf(),
            None if target.is_dir() => target.join("aisec.toml"),
            None => target.to_path_buf(),
        };
        let text = crate::commands::read_text(&file, MAX_CONFIG, "the project file")
            .with_context(|| format!("no project file at `{}`", file.display()))?;
        let project: Config =
            toml::from_str(&text).with_context(|| format!("in `{}`", file.display()))?;
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let loaded = Self { dir, file, project };
        loaded.check()?;
        Ok(loaded)
    }

    /// A path of the file, made absolute.
    pub(crate) fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.dir.join(p)
        }
    }

    /// The project's name.
    pub(crate) fn name(&self) -> String {
        self.project.project.name.clone().unwrap_or_else(|| {
            self.dir
                .file_name()
                .map_or_else(|| "project".into(), |n| n.to_string_lossy().into_owned())
        })
    }

    /// Refuses what cannot run: missing files, a red team with no target or two.
    fn check(&self) -> anyhow::Result<()> {
        let p = &self.project;
        let mut files: Vec<(&str, &Path)> = Vec::new();
        if let Some(s) = &p.scan {
            anyhow::ensure!(!s.paths.is_empty(), "[scan] paths is empty");
            files.extend(s.paths.iter().map(|x| ("[scan] paths", x.as_path())));
        }
        for v in &p.verify {
            files.push(("[[verify]] model", &v.model));
            anyhow::ensure!(
                v.public_key.is_some() || !v.certificate_chain.is_empty(),
                "[[verify]] for `{}` needs public_key or certificate_chain",
                v.model.display()
            );
            files.extend(
                v.public_key
                    .iter()
                    .map(|k| ("[[verify]] public_key", k.as_path())),
            );
        }
        for b in &p.bom {
            files.push(("[[bom]] model", &b.model));
        }
        if let Some(t) = &p.threat_model {
            files.push(("[threat_model] file", &t.file));
        }
        if let Some(r) = &p.redteam {
            anyhow::ensure!(
                r.target.is_some() != r.serve.is_some(),
                "[redteam] needs exactly one of target and serve"
            );
            if let Some(s) = &r.serve {
                files.extend(
                    s.system_prompt
                        .iter()
                        .map(|x| ("[redteam.serve] system_prompt", x.as_path())),
                );
                files.extend(
                    s.tools
                        .iter()
                        .map(|x| ("[redteam.serve] tools", x.as_path())),
                );
            }
        }
        if let Some(g) = &p.guard {
            anyhow::ensure!(
                p.redteam.is_some(),
                "[guard] is tested by running [redteam] through it: add [redteam]"
            );
            files.push(("[guard] policy", &g.policy));
        }
        for (key, f) in files {
            anyhow::ensure!(
                self.path(f).exists(),
                "{key}: `{}` does not exist (paths are relative to `{}`)",
                f.display(),
                self.dir.display()
            );
        }
        Ok(())
    }
}
