//! The findings store: every run of an aisec command kept, so the next run shows what changed.
//!
//! One schema on two databases: SQLite (the default, a file in the user's data directory) and
//! PostgreSQL (for teams and CI fleets). A run is the command's whole report (JSON) plus one row
//! per finding (fingerprint, rule, severity, title, location), written in one transaction, so
//! concurrent writers (several CI jobs) lose nothing: SQLite serialises them with a busy timeout,
//! PostgreSQL with its own transactions. The schema is versioned; [`Store::open`] applies the
//! migrations a database lacks, under a lock, so two processes opening a new store at once do not
//! race.
//!
//! Suppressions silence an accepted finding (by fingerprint) in later runs, with a reason and an
//! optional expiry; a baseline suppresses every finding of one run at once. [`diff`] compares two
//! runs by fingerprint: new, fixed, unchanged, and suppressed.
//!
//! No printing here: the binary renders what these functions return.

mod sql;

use std::path::{Path, PathBuf};

use aisec_core::{Finding, Report, Severity};
use serde::Serialize;

pub use sql::SCHEMA_VERSION;

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL is not one this store understands.
    #[error("store {url:?}: {reason} (use sqlite:PATH or postgres://USER@HOST/DB)")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// SQLite refused.
    #[error("SQLite store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused.
    #[error("PostgreSQL store: {0}")]
    Postgres(#[from] postgres::Error),
    /// The store's directory could not be made.
    #[error("store directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A stored report does not read back.
    #[error("run {run}: the stored report does not read: {source}")]
    Corrupt {
        /// The run.
        run: i64,
        /// Why.
        source: serde_json::Error,
    },
    /// The database was written by a newer aisec.
    #[error("the store's schema is version {found}; this aisec knows up to {known}: upgrade aisec")]
    NewerSchema {
        /// The database's version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// No such run.
    #[error("no run {0:?} in the store (`aisec history` lists them)")]
    NoRun(String),
    /// A suppression without a reason, or with a bad expiry.
    #[error("suppression: {0}")]
    BadSuppression(String),
}

/// Results of the store.
pub type Result<T> = std::result::Result<T, StoreError>;

/// One kept run, as `aisec history` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunInfo {
    /// Its number in the store.
    pub id: i64,
    /// When it was kept (RFC 3339, UTC).
    pub created_at: String,
    /// The command (`scan`, `threat-model`, `assess`, ...).
    pub command: String,
    /// The project or target it ran on.
    pub project: String,
    /// The report's title.
    pub title: String,
    /// aisec's version.
    pub tool_version: String,
    /// How long the command took.
    pub duration_ms: u64,
    /// Findings in the run, suppressed ones included.
    pub findings: u64,
    /// Of those, the ones a suppression silenced when the run was kept.
    pub suppressed: u64,
}

/// What a finding of a run is, for diffs: its fingerprint and the fields a person reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FindingRow {
    /// The fingerprint (stable across runs).
    pub fingerprint: String,
    /// The rule id.
    pub rule: String,
    /// Its severity.
    pub severity: String,
    /// Its title.
    pub title: String,
    /// Where (path, and member when inside a container).
    pub location: String,
    /// Whether a suppression silenced it in that run.
    pub suppressed: bool,
}

/// An accepted finding, silenced in later runs until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// The finding's fingerprint.
    pub fingerprint: String,
    /// Why it is accepted (required).
    pub reason: String,
    /// When the acceptance ends (RFC 3339, UTC); never when absent.
    pub expires_at: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// Who made it (free text: a name, a CI job).
    pub created_by: String,
}

impl Suppression {
    /// Whether it silences its finding at `now` (RFC 3339, UTC).
    #[must_use]
    pub fn active_at(&self, now: &str) -> bool {
        self.expires_at.as_deref().is_none_or(|e| now < e)
    }
}

/// Two runs compared by fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// In the second run and not the first (and not suppressed).
    pub new: Vec<FindingRow>,
    /// In the first run and not the second.
    pub fixed: Vec<FindingRow>,
    /// In both.
    pub unchanged: Vec<FindingRow>,
    /// In the second run, silenced by a suppression.
    pub suppressed: Vec<FindingRow>,
}

/// Compares run `a` (before) with run `b` (after) by fingerprint.
#[must_use]
pub fn diff(a: &[FindingRow], b: &[FindingRow]) -> Diff {
    use std::collections::HashSet;
    let before: HashSet<&str> = a.iter().map(|f| f.fingerprint.as_str()).collect();
    let after: HashSet<&str> = b.iter().map(|f| f.fingerprint.as_str()).collect();
    let mut d = Diff::default();
    for f in b {
        if f.suppressed {
            d.suppressed.push(f.clone());
        } else if before.contains(f.fingerprint.as_str()) {
            d.unchanged.push(f.clone());
        } else {
            d.new.push(f.clone());
        }
    }
    d.fixed = a
        .iter()
        .filter(|f| !after.contains(f.fingerprint.as_str()))
        .cloned()
        .collect();
    d
}

/// Where a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`postgres://...` or `host=... dbname=...`).
    Postgres(String),
}

impl Location {
    /// Reads a store URL: `sqlite:PATH`, `sqlite://PATH`, a path ending in `.db`, `.sqlite` or
    /// `.sqlite3`, or `postgres://` / `postgresql://`.
    ///
    /// # Errors
    /// [`StoreError::BadUrl`] for anything else.
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason: &str| StoreError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(bad("no file after sqlite:"));
            }
            return Ok(Location::Sqlite(PathBuf::from(rest)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_owned()));
        }
        let p = Path::new(url);
        if p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "db" | "sqlite" | "sqlite3"))
        {
            return Ok(Location::Sqlite(p.to_path_buf()));
        }
        Err(bad("not a store URL"))
    }

    /// The default store: `findings.db` in `$AISEC_DATA_DIR`, else `$XDG_DATA_HOME/aisec`, else
    /// `~/.local/share/aisec`; None when none of those is set.
    #[must_use]
    pub fn default_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<Self> {
        let set = |k: &str| var(k).filter(|v| !v.is_empty());
        let dir = if let Some(d) = set("AISEC_DATA_DIR") {
            PathBuf::from(d)
        } else if let Some(d) = set("XDG_DATA_HOME").filter(|d| Path::new(d).is_absolute()) {
            PathBuf::from(d).join("aisec")
        } else {
            PathBuf::from(set("HOME")?).join(".local/share/aisec")
        };
        Some(Location::Sqlite(dir.join("findings.db")))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            // The password, if the URL holds one, is not shown.
            Location::Postgres(url) => match url.split_once('@') {
                Some((creds, host)) if creds.contains(':') && creds.matches(':').count() > 1 => {
                    let user_end = creds.rfind(':').unwrap_or(creds.len());
                    write!(f, "{}:***@{host}", &creds[..user_end])
                }
                _ => f.write_str(url),
            },
        }
    }
}

/// What a run was, besides its report.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// The command.
    pub command: &'a str,
    /// The project or target.
    pub project: &'a str,
    /// The report's title.
    pub title: &'a str,
}

/// An open store.
pub struct Store {
    db: sql::Db,
    location: Location,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location.to_string())
            .finish_non_exhaustive()
    }
}

/// Now, RFC 3339 UTC with milliseconds.
fn now() -> String {
    aisec_core::time::rfc3339(std::time::SystemTime::now(), true)
}

fn row_of(f: &Finding, suppressed: bool) -> FindingRow {
    let mut location = f.location.path.clone();
    if let Some(m) = &f.location.member {
        location.push_str(" :: ");
        location.push_str(m);
    }
    FindingRow {
        fingerprint: f.fingerprint.clone(),
        rule: f.rule.as_str().to_owned(),
        severity: f.severity.as_str().to_owned(),
        title: f.title.clone(),
        location,
        suppressed,
    }
}

/// An expiry as given (`2027-03-31` or an RFC 3339 time) as the RFC 3339 UTC instant it ends
/// at: a date ends at the end of that day.
///
/// # Errors
/// [`StoreError::BadSuppression`] for anything else.
pub fn parse_expiry(text: &str) -> Result<String> {
    let t = text.trim();
    let b = t.as_bytes();
    let date_ok = b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !date_ok {
        return Err(StoreError::BadSuppression(format!(
            "expiry {text:?}: give a date (2027-03-31) or an RFC 3339 UTC time"
        )));
    }
    let month: u32 = t[5..7].parse().unwrap_or(0);
    let day: u32 = t[8..10].parse().unwrap_or(0);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(StoreError::BadSuppression(format!(
            "expiry {text:?}: no such date"
        )));
    }
    if t.len() == 10 {
        return Ok(format!("{t}T23:59:59.999Z"));
    }
    if t.ends_with('Z') && t.as_bytes()[10] == b'T' {
        return Ok(t.to_owned());
    }
    Err(StoreError::BadSuppression(format!(
        "expiry {text:?}: times are UTC, ending in Z"
    )))
}

impl Store {
    /// Opens (and creates, and migrates) the store at `location`.
    ///
    /// # Errors
    /// The database's error, or [`StoreError::NewerSchema`].
    pub fn open(location: &Location) -> Result<Self> {
        let db = match location {
            Location::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
                sql::Db::sqlite(path)?
            }
            Location::Postgres(url) => sql::Db::postgres(url)?,
        };
        let mut store = Store {
            db,
            location: location.clone(),
        };
        store.db.migrate()?;
        Ok(store)
    }

    /// Where it is.
    #[must_use]
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The suppressions in force now.
    ///
    /// # Errors
    /// The database's error.
    pub fn active_suppressions(&mut self) -> Result<Vec<Suppression>> {
        let now = now();
        Ok(self
            .db
            .suppressions()?
            .into_iter()
            .filter(|s| s.active_at(&now))
            .collect())
    }

    /// Every suppression, expired ones included.
    ///
    /// # Errors
    /// The database's error.
    pub fn suppressions(&mut self) -> Result<Vec<Suppression>> {
        self.db.suppressions()
    }

    /// Keeps `report` as a run, marking the findings an active suppression silences; returns the
    /// run's id and the fingerprints silenced.
    ///
    /// # Errors
    /// The database's error.
    pub fn record(&mut self, run: &NewRun<'_>, report: &Report) -> Result<(i64, Vec<String>)> {
        let active = self.active_suppressions()?;
        let active: std::collections::HashSet<&str> =
            active.iter().map(|s| s.fingerprint.as_str()).collect();
        let rows: Vec<FindingRow> = report
            .findings
            .iter()
            .map(|f| row_of(f, active.contains(f.fingerprint.as_str())))
            .collect();
        let silenced: Vec<String> = rows
            .iter()
            .filter(|r| r.suppressed)
            .map(|r| r.fingerprint.clone())
            .collect();
        let json = serde_json::to_string(report)
            .map_err(|source| StoreError::Corrupt { run: 0, source })?;
        let id = self.db.record(&sql::RunRow {
            created_at: now(),
            command: run.command.to_owned(),
            project: run.project.to_owned(),
            title: run.title.to_owned(),
            tool_version: report.tool.version.clone(),
            duration_ms: report.duration_ms,
            report: json,
            rows,
        })?;
        Ok((id, silenced))
    }

    /// The latest runs first, at most `limit`, of `command` when given.
    ///
    /// # Errors
    /// The database's error.
    pub fn runs(&mut self, limit: usize, command: Option<&str>) -> Result<Vec<RunInfo>> {
        self.db.runs(limit, command)
    }

    /// A run's id from what a person types: a number, `latest`, `previous`, or `latest~N` (N
    /// runs before the latest), among runs of `command` when given.
    ///
    /// # Errors
    /// [`StoreError::NoRun`] when there is no such run.
    pub fn resolve(&mut self, spec: &str, command: Option<&str>) -> Result<i64> {
        let back = match spec {
            "latest" => Some(0),
            "previous" => Some(1),
            s => s
                .strip_prefix("latest~")
                .and_then(|n| n.parse::<usize>().ok()),
        };
        if let Some(back) = back {
            let runs = self.db.runs(back + 1, command)?;
            return runs
                .get(back)
                .map(|r| r.id)
                .ok_or_else(|| StoreError::NoRun(spec.to_owned()));
        }
        let id: i64 = spec
            .trim_start_matches('#')
            .parse()
            .map_err(|_| StoreError::NoRun(spec.to_owned()))?;
        if self.db.run_exists(id)? {
            Ok(id)
        } else {
            Err(StoreError::NoRun(spec.to_owned()))
        }
    }

    /// The findings rows of run `id`.
    ///
    /// # Errors
    /// The database's error.
    pub fn finding_rows(&mut self, id: i64) -> Result<Vec<FindingRow>> {
        self.db.finding_rows(id)
    }

    /// The report kept for run `id`.
    ///
    /// # Errors
    /// The database's error, or [`StoreError::Corrupt`].
    pub fn report(&mut self, id: i64) -> Result<Report> {
        let text = self.db.report(id)?;
        serde_json::from_str(&text).map_err(|source| StoreError::Corrupt { run: id, source })
    }

    /// The latest run of each command, newest first (for evidence: the newest scan, verify,
    /// attack, red team, guard run).
    ///
    /// # Errors
    /// The database's error.
    pub fn latest_per_command(&mut self) -> Result<Vec<RunInfo>> {
        self.db.latest_per_command()
    }

    /// Compares run `a` with run `b`.
    ///
    /// # Errors
    /// The database's error.
    pub fn diff(&mut self, a: i64, b: i64) -> Result<Diff> {
        Ok(diff(&self.finding_rows(a)?, &self.finding_rows(b)?))
    }

    /// Accepts the finding `fingerprint` until `expires` (see [`parse_expiry`]), for `reason`.
    ///
    /// # Errors
    /// [`StoreError::BadSuppression`] without a reason or with a bad expiry; the database's error.
    pub fn suppress(
        &mut self,
        fingerprint: &str,
        reason: &str,
        expires: Option<&str>,
        by: &str,
    ) -> Result<Suppression> {
        if fingerprint.trim().is_empty() || fingerprint.len() > 256 {
            return Err(StoreError::BadSuppression("no fingerprint".into()));
        }
        let s = Acceptance::new(reason, expires, by)?.of(fingerprint.trim(), reason.trim());
        self.db.suppress(std::slice::from_ref(&s))?;
        Ok(s)
    }

    /// Accepts every unsuppressed finding of run `id` (a baseline); returns how many.
    ///
    /// # Errors
    /// As [`Store::suppress`].
    pub fn baseline(
        &mut self,
        id: i64,
        reason: &str,
        expires: Option<&str>,
        by: &str,
    ) -> Result<usize> {
        let acceptance = Acceptance::new(reason, expires, by)?;
        let reason = format!("{} (baseline of run {id})", reason.trim());
        let list: Vec<Suppression> = self
            .finding_rows(id)?
            .into_iter()
            .filter(|r| !r.suppressed)
            .map(|r| acceptance.of(&r.fingerprint, &reason))
            .collect();
        self.db.suppress(&list)?;
        Ok(list.len())
    }

    /// Removes the suppression of `fingerprint`; whether there was one.
    ///
    /// # Errors
    /// The database's error.
    pub fn unsuppress(&mut self, fingerprint: &str) -> Result<bool> {
        self.db.unsuppress(fingerprint)
    }
}

/// What every suppression made at once shares: checked once, stamped once.
struct Acceptance {
    expires_at: Option<String>,
    created_at: String,
    created_by: String,
}

impl Acceptance {
    /// Checks the reason and the expiry.
    fn new(reason: &str, expires: Option<&str>, by: &str) -> Result<Self> {
        if reason.trim().is_empty() {
            return Err(StoreError::BadSuppression("a reason is required".into()));
        }
        Ok(Acceptance {
            expires_at: expires.map(parse_expiry).transpose()?,
            created_at: now(),
            created_by: by.to_owned(),
        })
    }

    /// The suppression of `fingerprint` for `reason`.
    fn of(&self, fingerprint: &str, reason: &str) -> Suppression {
        Suppression {
            fingerprint: fingerprint.to_owned(),
            reason: reason.to_owned(),
            expires_at: self.expires_at.clone(),
            created_at: self.created_at.clone(),
            created_by: self.created_by.clone(),
        }
    }
}

/// The severity words rows carry, highest first (for sorting in listings).
#[must_use]
pub fn severity_rank(word: &str) -> u8 {
    [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .iter()
    .position(|s| s.as_str() == word)
    .map_or(9, |p| p as u8)
}
