//! The two databases behind [`crate::Store`]: the same tables, each statement in SQLite's and
//! PostgreSQL's words, and the versioned migrations.

use std::path::Path;
use std::time::Duration;

use crate::{FindingRow, Result, RunInfo, StoreError, Suppression};

/// The schema version this aisec writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Migrations: (version, SQLite statements, PostgreSQL statements). Append only: a released
/// migration never changes.
const MIGRATIONS: &[(i64, &str, &str)] = &[(
    1,
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        command TEXT NOT NULL,
        project TEXT NOT NULL,
        title TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        findings INTEGER NOT NULL,
        suppressed INTEGER NOT NULL,
        report TEXT NOT NULL
    );
    CREATE INDEX runs_command ON runs (command, id);
    CREATE TABLE findings (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        rule TEXT NOT NULL,
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        location TEXT NOT NULL,
        suppressed INTEGER NOT NULL,
        PRIMARY KEY (run_id, fingerprint)
    );
    CREATE INDEX findings_fingerprint ON findings (fingerprint);
    CREATE TABLE suppressions (
        fingerprint TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        expires_at TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    );",
    "CREATE TABLE runs (
        id BIGSERIAL PRIMARY KEY,
        created_at TEXT NOT NULL,
        command TEXT NOT NULL,
        project TEXT NOT NULL,
        title TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        duration_ms BIGINT NOT NULL,
        findings BIGINT NOT NULL,
        suppressed BIGINT NOT NULL,
        report TEXT NOT NULL
    );
    CREATE INDEX runs_command ON runs (command, id);
    CREATE TABLE findings (
        run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        fingerprint TEXT NOT NULL,
        rule TEXT NOT NULL,
        severity TEXT NOT NULL,
        title TEXT NOT NULL,
        location TEXT NOT NULL,
        suppressed BOOLEAN NOT NULL,
        PRIMARY KEY (run_id, fingerprint)
    );
    CREATE INDEX findings_fingerprint ON findings (fingerprint);
    CREATE TABLE suppressions (
        fingerprint TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        expires_at TEXT,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL
    );",
)];

/// The key of the PostgreSQL advisory lock held while migrating.
const MIGRATION_LOCK: i64 = 0x6169_7365_6301;

/// A run to write.
pub(crate) struct RunRow {
    pub(crate) created_at: String,
    pub(crate) command: String,
    pub(crate) project: String,
    pub(crate) title: String,
    pub(crate) tool_version: String,
    pub(crate) duration_ms: u64,
    pub(crate) report: String,
    pub(crate) rows: Vec<FindingRow>,
}

pub(crate) enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

const RUN_COLUMNS: &str =
    "id, created_at, command, project, title, tool_version, duration_ms, findings, suppressed";

fn run_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunInfo> {
    Ok(RunInfo {
        id: r.get(0)?,
        created_at: r.get(1)?,
        command: r.get(2)?,
        project: r.get(3)?,
        title: r.get(4)?,
        tool_version: r.get(5)?,
        duration_ms: r.get::<_, i64>(6)?.max(0) as u64,
        findings: r.get::<_, i64>(7)?.max(0) as u64,
        suppressed: r.get::<_, i64>(8)?.max(0) as u64,
    })
}

fn run_pg(r: &postgres::Row) -> RunInfo {
    RunInfo {
        id: r.get(0),
        created_at: r.get(1),
        command: r.get(2),
        project: r.get(3),
        title: r.get(4),
        tool_version: r.get(5),
        duration_ms: r.get::<_, i64>(6).max(0) as u64,
        findings: r.get::<_, i64>(7).max(0) as u64,
        suppressed: r.get::<_, i64>(8).max(0) as u64,
    }
}

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

impl Db {
    pub(crate) fn sqlite(path: &Path) -> Result<Self> {
        let c = rusqlite::Connection::open(path)?;
        // Several writers (CI jobs) wait for each other instead of failing.
        c.busy_timeout(Duration::from_secs(60))?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Db::Sqlite(c))
    }

    pub(crate) fn postgres(url: &str) -> Result<Self> {
        let c = postgres::Client::connect(url, postgres::NoTls)?;
        Ok(Db::Postgres(Box::new(c)))
    }

    pub(crate) fn migrate(&mut self) -> Result<()> {
        match self {
            Db::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.execute_batch(
                    "CREATE TABLE IF NOT EXISTS aisec_schema (version INTEGER NOT NULL)",
                )?;
                let found: i64 = tx.query_row(
                    "SELECT COALESCE(MAX(version), 0) FROM aisec_schema",
                    [],
                    |r| r.get(0),
                )?;
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found,
                        known: SCHEMA_VERSION,
                    });
                }
                for (v, lite, _) in MIGRATIONS.iter().filter(|(v, ..)| *v > found) {
                    tx.execute_batch(lite)?;
                    tx.execute("INSERT INTO aisec_schema (version) VALUES (?1)", [v])?;
                }
                tx.commit()?;
            }
            Db::Postgres(c) => {
                let mut tx = c.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
                tx.batch_execute(
                    "CREATE TABLE IF NOT EXISTS aisec_schema (version BIGINT NOT NULL)",
                )?;
                let found: i64 = tx
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0)::BIGINT FROM aisec_schema",
                        &[],
                    )?
                    .get(0);
                if found > SCHEMA_VERSION {
                    return Err(StoreError::NewerSchema {
                        found,
                        known: SCHEMA_VERSION,
                    });
                }
                for (v, _, pg) in MIGRATIONS.iter().filter(|(v, ..)| *v > found) {
                    tx.batch_execute(pg)?;
                    tx.execute("INSERT INTO aisec_schema (version) VALUES ($1)", &[v])?;
                }
                tx.commit()?;
            }
        }
        Ok(())
    }

    pub(crate) fn record(&mut self, run: &RunRow) -> Result<i64> {
        let findings = run.rows.len() as i64;
        let suppressed = run.rows.iter().filter(|r| r.suppressed).count() as i64;
        let duration = i64::try_from(run.duration_ms).unwrap_or(i64::MAX);
        match self {
            Db::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.execute(
                    "INSERT INTO runs (created_at, command, project, title, tool_version, duration_ms, findings, suppressed, report)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    rusqlite::params![
                        run.created_at,
                        run.command,
                        run.project,
                        run.title,
                        run.tool_version,
                        duration,
                        findings,
                        suppressed,
                        run.report
                    ],
                )?;
                let id = tx.last_insert_rowid();
                {
                    let mut st = tx.prepare(
                        "INSERT OR IGNORE INTO findings (run_id, fingerprint, rule, severity, title, location, suppressed)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    )?;
                    for r in &run.rows {
                        st.execute(rusqlite::params![
                            id,
                            r.fingerprint,
                            r.rule,
                            r.severity,
                            r.title,
                            r.location,
                            i64::from(r.suppressed)
                        ])?;
                    }
                }
                tx.commit()?;
                Ok(id)
            }
            Db::Postgres(c) => {
                let mut tx = c.transaction()?;
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO runs (created_at, command, project, title, tool_version, duration_ms, findings, suppressed, report)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                        &[
                            &run.created_at,
                            &run.command,
                            &run.project,
                            &run.title,
                            &run.tool_version,
                            &duration,
                            &findings,
                            &suppressed,
                            &run.report,
                        ],
                    )?
                    .get(0);
                let st = tx.prepare(
                    "INSERT INTO findings (run_id, fingerprint, rule, severity, title, location, suppressed)
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                )?;
                for r in &run.rows {
                    tx.execute(
                        &st,
                        &[
                            &id,
                            &r.fingerprint,
                            &r.rule,
                            &r.severity,
                            &r.title,
                            &r.location,
                            &r.suppressed,
                        ],
                    )?;
                }
                tx.commit()?;
                Ok(id)
            }
        }
    }

    pub(crate) fn runs(&mut self, limit: usize, command: Option<&str>) -> Result<Vec<RunInfo>> {
        let limit = limit_of(limit);
        match self {
            Db::Sqlite(c) => {
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE (?1 IS NULL OR command = ?1) ORDER BY id DESC LIMIT ?2"
                );
                let mut st = c.prepare(&sql)?;
                let rows = st.query_map(rusqlite::params![command, limit], run_sqlite)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Db::Postgres(c) => {
                let sql = format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE ($1::TEXT IS NULL OR command = $1) ORDER BY id DESC LIMIT $2"
                );
                Ok(c.query(&sql, &[&command, &limit])?
                    .iter()
                    .map(run_pg)
                    .collect())
            }
        }
    }

    pub(crate) fn latest_per_command(&mut self) -> Result<Vec<RunInfo>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY command) ORDER BY id DESC"
        );
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare(&sql)?;
                let rows = st.query_map([], run_sqlite)?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Db::Postgres(c) => Ok(c.query(&sql, &[])?.iter().map(run_pg).collect()),
        }
    }

    pub(crate) fn run_exists(&mut self, id: i64) -> Result<bool> {
        match self {
            Db::Sqlite(c) => Ok(c.query_row(
                "SELECT COUNT(*) FROM runs WHERE id = ?1",
                [id],
                |r| r.get::<_, i64>(0),
            )? > 0),
            Db::Postgres(c) => Ok(c
                .query_one("SELECT COUNT(*)::BIGINT FROM runs WHERE id = $1", &[&id])?
                .get::<_, i64>(0)
                > 0),
        }
    }

    pub(crate) fn report(&mut self, id: i64) -> Result<String> {
        let found = match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare("SELECT report FROM runs WHERE id = ?1")?;
                let mut rows = st.query([id])?;
                match rows.next()? {
                    Some(r) => Some(r.get::<_, String>(0)?),
                    None => None,
                }
            }
            Db::Postgres(c) => c
                .query_opt("SELECT report FROM runs WHERE id = $1", &[&id])?
                .map(|r| r.get::<_, String>(0)),
        };
        found.ok_or_else(|| StoreError::NoRun(id.to_string()))
    }

    pub(crate) fn finding_rows(&mut self, id: i64) -> Result<Vec<FindingRow>> {
        const SQL_LITE: &str = "SELECT fingerprint, rule, severity, title, location, suppressed FROM findings WHERE run_id = ?1 ORDER BY fingerprint";
        const SQL_PG: &str = "SELECT fingerprint, rule, severity, title, location, suppressed FROM findings WHERE run_id = $1 ORDER BY fingerprint";
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare(SQL_LITE)?;
                let rows = st.query_map([id], |r| {
                    Ok(FindingRow {
                        fingerprint: r.get(0)?,
                        rule: r.get(1)?,
                        severity: r.get(2)?,
                        title: r.get(3)?,
                        location: r.get(4)?,
                        suppressed: r.get::<_, i64>(5)? != 0,
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Db::Postgres(c) => Ok(c
                .query(SQL_PG, &[&id])?
                .iter()
                .map(|r| FindingRow {
                    fingerprint: r.get(0),
                    rule: r.get(1),
                    severity: r.get(2),
                    title: r.get(3),
                    location: r.get(4),
                    suppressed: r.get(5),
                })
                .collect()),
        }
    }

    pub(crate) fn suppressions(&mut self) -> Result<Vec<Suppression>> {
        const SQL: &str = "SELECT fingerprint, reason, expires_at, created_at, created_by FROM suppressions ORDER BY created_at, fingerprint";
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare(SQL)?;
                let rows = st.query_map([], |r| {
                    Ok(Suppression {
                        fingerprint: r.get(0)?,
                        reason: r.get(1)?,
                        expires_at: r.get(2)?,
                        created_at: r.get(3)?,
                        created_by: r.get(4)?,
                    })
                })?;
                Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
            }
            Db::Postgres(c) => Ok(c
                .query(SQL, &[])?
                .iter()
                .map(|r| Suppression {
                    fingerprint: r.get(0),
                    reason: r.get(1),
                    expires_at: r.get(2),
                    created_at: r.get(3),
                    created_by: r.get(4),
                })
                .collect()),
        }
    }

    pub(crate) fn suppress(&mut self, list: &[Suppression]) -> Result<()> {
        match self {
            Db::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                {
                    let mut st = tx.prepare(
                        "INSERT INTO suppressions (fingerprint, reason, expires_at, created_at, created_by)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (fingerprint) DO UPDATE SET reason = excluded.reason,
                           expires_at = excluded.expires_at, created_at = excluded.created_at,
                           created_by = excluded.created_by",
                    )?;
                    for s in list {
                        st.execute(rusqlite::params![
                            s.fingerprint,
                            s.reason,
                            s.expires_at,
                            s.created_at,
                            s.created_by
                        ])?;
                    }
                }
                tx.commit()?;
            }
            Db::Postgres(c) => {
                let mut tx = c.transaction()?;
                let st = tx.prepare(
                    "INSERT INTO suppressions (fingerprint, reason, expires_at, created_at, created_by)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (fingerprint) DO UPDATE SET reason = EXCLUDED.reason,
                       expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at,
                       created_by = EXCLUDED.created_by",
                )?;
                for s in list {
                    tx.execute(
                        &st,
                        &[
                            &s.fingerprint,
                            &s.reason,
                            &s.expires_at,
                            &s.created_at,
                            &s.created_by,
                        ],
                    )?;
                }
                tx.commit()?;
            }
        }
        Ok(())
    }

    pub(crate) fn unsuppress(&mut self, fingerprint: &str) -> Result<bool> {
        Ok(match self {
            Db::Sqlite(c) => {
                c.execute(
                    "DELETE FROM suppressions WHERE fingerprint = ?1",
                    [fingerprint],
                )? > 0
            }
            Db::Postgres(c) => {
                c.execute(
                    "DELETE FROM suppressions WHERE fingerprint = $1",
                    &[&fingerprint],
                )? > 0
            }
        })
    }
}
