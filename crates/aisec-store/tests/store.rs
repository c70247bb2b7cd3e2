//! The store on real databases: SQLite files, and a real PostgreSQL server when
//! `AISEC_TEST_POSTGRES` names one (`.ci/run` starts one and sets it, with
//! `AISEC_REQUIRE_POSTGRES` so that CI cannot skip those tests).

use aisec_core::{Confidence, Finding, Location as Loc, Report, RuleId, Severity, Tool};
use aisec_store::{Location, NewRun, Store, StoreError, diff};

fn finding(rule: &str, member: &str) -> Finding {
    let rule = RuleId::new(rule);
    let location = Loc {
        path: "models/m.pkl".into(),
        member: Some(member.into()),
        offset: None,
        line: None,
    };
    Finding {
        fingerprint: Finding::fingerprint_of(&rule, &location, member),
        rule,
        title: format!("{member} finding"),
        severity: Severity::High,
        confidence: Confidence::Certain,
        message: "m".into(),
        location,
        evidence: serde_json::Value::Null,
        taxonomy: aisec_core::Taxonomy::default(),
        remediation: String::new(),
    }
}

fn report(findings: Vec<Finding>) -> Report {
    let mut r = Report::new(Tool {
        name: "aisec".into(),
        version: "0.1.0".into(),
        policy_version: "1".into(),
    });
    r.findings = findings;
    r
}

const RUN: NewRun<'static> = NewRun {
    command: "scan",
    project: "models",
    title: "aisec scan",
};

/// Every behaviour, on one store.
fn exercise(location: &Location) {
    let mut s = Store::open(location).unwrap();
    // Opening again (a second process, a later run) changes nothing.
    drop(Store::open(location).unwrap());
    let (a, b, c) = (
        finding("MS101", "a"),
        finding("MS101", "b"),
        finding("MS102", "c"),
    );
    let (r1, silenced) = s.record(&RUN, &report(vec![a.clone(), b.clone()])).unwrap();
    assert!(silenced.is_empty());
    let (r2, _) = s.record(&RUN, &report(vec![b.clone(), c.clone()])).unwrap();
    assert!(r2 > r1);
    let runs = s.runs(10, None).unwrap();
    assert_eq!(runs.iter().map(|r| r.id).collect::<Vec<_>>(), [r2, r1]);
    assert_eq!(runs[0].findings, 2);
    assert_eq!(s.resolve("latest", Some("scan")).unwrap(), r2);
    assert_eq!(s.resolve("previous", None).unwrap(), r1);
    assert_eq!(s.resolve(&r1.to_string(), None).unwrap(), r1);
    assert!(matches!(
        s.resolve("latest~5", None),
        Err(StoreError::NoRun(_))
    ));
    assert!(matches!(
        s.resolve("999999", None),
        Err(StoreError::NoRun(_))
    ));
    assert!(s.runs(10, Some("redteam")).unwrap().is_empty());

    // The diff by fingerprint: a fixed, b unchanged, c new.
    let d = s.diff(r1, r2).unwrap();
    let fps = |rows: &[aisec_store::FindingRow]| -> Vec<String> {
        rows.iter().map(|r| r.fingerprint.clone()).collect()
    };
    assert_eq!(fps(&d.fixed), [a.fingerprint.as_str()]);
    assert_eq!(fps(&d.unchanged), [b.fingerprint.as_str()]);
    assert_eq!(fps(&d.new), [c.fingerprint.as_str()]);
    // The stored report reads back whole.
    assert_eq!(s.report(r2).unwrap().findings, vec![b.clone(), c.clone()]);

    // A suppression silences c in later runs, not before; an expired one silences nothing.
    let err = s.suppress(&c.fingerprint, " ", None, "test").unwrap_err();
    assert!(err.to_string().contains("reason"));
    assert!(
        s.suppress(&c.fingerprint, "r", Some("2027-13-01"), "t")
            .is_err()
    );
    s.suppress(
        &c.fingerprint,
        "test fixture, inert",
        Some("2999-01-01"),
        "test",
    )
    .unwrap();
    s.suppress(&b.fingerprint, "expired", Some("2001-01-01"), "test")
        .unwrap();
    let (r3, silenced) = s.record(&RUN, &report(vec![b.clone(), c.clone()])).unwrap();
    assert_eq!(silenced, [c.fingerprint.as_str()]);
    let d = s.diff(r2, r3).unwrap();
    assert_eq!(fps(&d.suppressed), [c.fingerprint.as_str()]);
    assert_eq!(fps(&d.unchanged), [b.fingerprint.as_str()]);
    assert!(d.new.is_empty() && d.fixed.is_empty());
    assert_eq!(s.runs(1, None).unwrap()[0].suppressed, 1);
    // A baseline accepts everything a run still shows.
    assert_eq!(
        s.baseline(r3, "accepted at go-live", None, "test").unwrap(),
        1
    );
    let (_, silenced) = s.record(&RUN, &report(vec![b.clone(), c.clone()])).unwrap();
    assert_eq!(silenced.len(), 2);
    assert!(s.unsuppress(&b.fingerprint).unwrap());
    assert!(!s.unsuppress(&b.fingerprint).unwrap());
    assert_eq!(s.active_suppressions().unwrap().len(), 1);

    // The latest run of each command, for evidence.
    let (rt, _) = s
        .record(
            &NewRun {
                command: "redteam",
                project: "bot",
                title: "aisec redteam",
            },
            &report(vec![]),
        )
        .unwrap();
    let latest = s.latest_per_command().unwrap();
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0].id, rt);
}

/// Writers in parallel, each with its own connection, as CI jobs are: nothing is lost.
fn concurrent(location: &Location) {
    let writers = 4;
    let each = 25;
    std::thread::scope(|scope| {
        for w in 0..writers {
            let location = location.clone();
            scope.spawn(move || {
                let mut s = Store::open(&location).unwrap();
                for i in 0..each {
                    let f = finding("MS101", &format!("w{w}-{i}"));
                    s.record(
                        &NewRun {
                            command: "concurrent",
                            project: "p",
                            title: "t",
                        },
                        &report(vec![f]),
                    )
                    .unwrap();
                }
            });
        }
    });
    let mut s = Store::open(location).unwrap();
    let runs = s.runs(10_000, Some("concurrent")).unwrap();
    assert_eq!(runs.len(), writers * each);
    let mut seen: Vec<String> = runs
        .iter()
        .flat_map(|r| s.finding_rows(r.id).unwrap())
        .map(|f| f.fingerprint)
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), writers * each);
}

#[test]
fn sqlite_store() {
    let dir = tempfile::tempdir().unwrap();
    let location =
        Location::parse(&format!("sqlite:{}", dir.path().join("a/b/f.db").display())).unwrap();
    exercise(&location);
    concurrent(&location);
}

#[test]
fn concurrent_processes_on_one_sqlite_file() {
    // Many connections opening a new file at once: the migration runs once.
    let dir = tempfile::tempdir().unwrap();
    let location = Location::Sqlite(dir.path().join("fresh.db"));
    std::thread::scope(|scope| {
        for _ in 0..6 {
            let location = location.clone();
            scope.spawn(move || drop(Store::open(&location).unwrap()));
        }
    });
    concurrent(&location);
}

#[test]
fn urls_and_bad_input() {
    assert_eq!(
        Location::parse("sqlite:/x/f.db").unwrap(),
        Location::Sqlite("/x/f.db".into())
    );
    assert_eq!(
        Location::parse("runs.sqlite").unwrap(),
        Location::Sqlite("runs.sqlite".into())
    );
    assert!(matches!(
        Location::parse("postgresql://u@h/db").unwrap(),
        Location::Postgres(_)
    ));
    assert!(Location::parse("mysql://h/db").is_err());
    assert!(Location::parse("sqlite:").is_err());
    assert_eq!(
        Location::Postgres("postgres://u:secret@h/db".into()).to_string(),
        "postgres://u:***@h/db"
    );
    let d = Location::default_from(|k| {
        (k == "XDG_DATA_HOME").then(|| std::ffi::OsString::from("/data"))
    });
    assert_eq!(d, Some(Location::Sqlite("/data/aisec/findings.db".into())));
    assert_eq!(
        aisec_store::parse_expiry("2027-03-31").unwrap(),
        "2027-03-31T23:59:59.999Z"
    );
    assert!(aisec_store::parse_expiry("31/03/2027").is_err());
    // A store written by a newer aisec is refused, not misread.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(Store::open(&Location::Sqlite(path.clone())).unwrap());
    let c = rusqlite_bump(&path);
    assert!(c.contains("upgrade aisec"), "{c}");
    // A pure diff needs no store.
    assert_eq!(diff(&[], &[]), aisec_store::Diff::default());
}

/// Marks the store at `path` as written by schema version 99 and opens it: the error.
fn rusqlite_bump(path: &std::path::Path) -> String {
    // Through the sqlite3 file format's own tools would need a client; the store's API is enough:
    // append a version row with a raw connection of the same library.
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute("INSERT INTO aisec_schema (version) VALUES (99)", [])
        .unwrap();
    drop(c);
    Store::open(&Location::Sqlite(path.to_path_buf()))
        .unwrap_err()
        .to_string()
}

#[test]
fn postgres_store() {
    let Some(url) = std::env::var("AISEC_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(
            std::env::var_os("AISEC_REQUIRE_POSTGRES").is_none(),
            "AISEC_REQUIRE_POSTGRES is set but AISEC_TEST_POSTGRES is not"
        );
        return;
    };
    // A fresh database per run, so the test starts from an empty store.
    let name = format!("aisec_test_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    let location = Location::Postgres(format!("{base}/{name}"));
    // Several connections migrating a new database at once.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let location = location.clone();
            scope.spawn(move || drop(Store::open(&location).unwrap()));
        }
    });
    exercise(&location);
    concurrent(&location);
    drop(admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
}
