//! Prometheus metrics on `/metrics` (text exposition format 0.0.4): requests by route and
//! action, rules fired by rule and action, upstream failures, and histograms of the time spent
//! scanning and upstream.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::engine::Fired;
use crate::policy::Action;

/// Histogram bucket bounds, in seconds: from 100 µs (a heuristic scan) to 60 s (a slow model).
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 10.0, 60.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    /// `labels` is empty or `name="value",` (with the trailing comma).
    fn write(&self, out: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.count);
        let plain = labels.trim_end_matches(',');
        let braces = if plain.is_empty() {
            String::new()
        } else {
            format!("{{{plain}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(String, String), u64>,
    rules: BTreeMap<(String, String), u64>,
    upstream_errors: u64,
    scan: BTreeMap<String, Histogram>,
    upstream: Histogram,
}

/// The proxy's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Allow => "allow",
        Action::Alert => "alert",
        Action::Redact => "redact",
        Action::Block => "block",
    }
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts one finished request.
    pub fn request(&self, route: &str, action: Action, fired: &[Fired]) {
        let mut m = self.lock();
        *m.requests
            .entry((route.to_owned(), action_name(action).to_owned()))
            .or_default() += 1;
        for f in fired {
            *m.rules
                .entry((f.rule.to_owned(), action_name(f.action).to_owned()))
                .or_default() += 1;
        }
    }

    /// Records the time one scan stage took (`input` or `output`).
    pub fn scan_time(&self, stage: &str, seconds: f64) {
        self.lock()
            .scan
            .entry(stage.to_owned())
            .or_default()
            .observe(seconds);
    }

    /// Records one upstream call: its time, and whether it failed.
    pub fn upstream(&self, seconds: f64, failed: bool) {
        let mut m = self.lock();
        m.upstream.observe(seconds);
        if failed {
            m.upstream_errors += 1;
        }
    }

    /// The exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let m = self.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP aisec_guard_requests_total Requests answered, by route and final action.\n",
        );
        out.push_str("# TYPE aisec_guard_requests_total counter\n");
        for ((route, action), n) in &m.requests {
            let _ = writeln!(
                out,
                "aisec_guard_requests_total{{route=\"{route}\",action=\"{action}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP aisec_guard_rules_fired_total Rules that fired, by rule id and action.\n",
        );
        out.push_str("# TYPE aisec_guard_rules_fired_total counter\n");
        for ((rule, action), n) in &m.rules {
            let _ = writeln!(
                out,
                "aisec_guard_rules_fired_total{{rule=\"{rule}\",action=\"{action}\"}} {n}"
            );
        }
        out.push_str("# HELP aisec_guard_upstream_errors_total Upstream calls that failed.\n");
        out.push_str("# TYPE aisec_guard_upstream_errors_total counter\n");
        let _ = writeln!(
            out,
            "aisec_guard_upstream_errors_total {}",
            m.upstream_errors
        );
        out.push_str("# HELP aisec_guard_scan_seconds Time spent scanning, by stage.\n");
        out.push_str("# TYPE aisec_guard_scan_seconds histogram\n");
        for (stage, h) in &m.scan {
            h.write(
                &mut out,
                "aisec_guard_scan_seconds",
                &format!("stage=\"{stage}\","),
            );
        }
        out.push_str("# HELP aisec_guard_upstream_seconds Time the upstream took.\n");
        out.push_str("# TYPE aisec_guard_upstream_seconds histogram\n");
        m.upstream
            .write(&mut out, "aisec_guard_upstream_seconds", "");
        out
    }
}
