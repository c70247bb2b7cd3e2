//! One snapshot of the findings per fixture: rule, severity, member, offset and title.

use std::fmt::Write;

use crate::{manifest, scan};

#[test]
fn findings_per_fixture() {
    for case in manifest() {
        let (findings, targets) = scan(&case.path);
        let mut s = String::new();
        for f in &findings {
            let _ = writeln!(
                s,
                "{} {} {} @{} {}",
                f.severity,
                f.rule,
                f.location.member.as_deref().unwrap_or("-"),
                f.location.offset.map_or("-".into(), |o| o.to_string()),
                f.title
            );
        }
        for t in &targets {
            let _ = writeln!(
                s,
                "target {} [{}] {:?}",
                t.member.as_deref().unwrap_or("-"),
                t.format,
                t.status
            );
        }
        let name = case
            .path
            .strip_prefix("fixtures/")
            .unwrap_or(&case.path)
            .replace('/', "__");
        insta::with_settings!({ snapshot_path => "../snapshots/fixtures", prepend_module_to_snapshot => false, description => case.path.clone() }, {
            insta::assert_snapshot!(name, s);
        });
    }
}
