//! Line charts as standalone SVG: axes with ticks, a log-x option, a legend. No scripts, every
//! text escaped, so the markup is safe to inline in HTML.

use std::fmt::Write as _;

use aisec_core::Chart;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 56.0;
/// Colour-blind-safe palette (Okabe-Ito).
const PALETTE: [&str; 8] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000",
];

/// Escapes text for XML and HTML.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(f64::EPSILON);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(mag * 10.0);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 && out.len() < 12 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 || v.abs() < 0.001 {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Renders `chart` as an SVG document: grouped bars when it names categories, lines otherwise.
#[must_use]
pub fn chart(chart: &Chart) -> String {
    if chart.categories.is_empty() {
        line_chart(chart)
    } else {
        bar_chart(chart)
    }
}

/// Renders a chart with categories as grouped bars: category `i` holds each series' point
/// whose x is `i`.
#[must_use]
pub fn bar_chart(chart: &Chart) -> String {
    let n = chart.categories.len().max(1);
    let (y0, y1) = match chart.y_range {
        Some([a, b]) if b > a => (a, b),
        _ => {
            let hi = chart
                .series
                .iter()
                .flat_map(|s| s.points.iter())
                .map(|p| p[1])
                .filter(|v| v.is_finite())
                .fold(0.0f64, f64::max);
            (0.0, if hi > 0.0 { hi } else { 1.0 })
        }
    };
    let pw = WIDTH - LEFT - RIGHT;
    let ph = HEIGHT - TOP - BOTTOM - 40.0;
    let sy = |y: f64| TOP + ph - ((y.clamp(y0, y1) - y0) / (y1 - y0)) * ph;
    let group = pw / n as f64;
    let bars = chart.series.len().max(1) as f64;
    let bw = (group * 0.8 / bars).min(40.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}" font-family="sans-serif" font-size="12"><title>{t}</title><rect width="100%" height="100%" fill="#fff"/><text x="{LEFT}" y="22" font-size="15" font-weight="bold">{t}</text>"##,
        t = escape(&chart.title)
    );
    y_grid(&mut s, nice_ticks(y0, y1), sy, pw);
    for (ci, cat) in chart.categories.iter().enumerate() {
        let gx = LEFT + group * ci as f64 + (group - bw * bars) / 2.0;
        for (si, series) in chart.series.iter().enumerate() {
            let Some(p) = series
                .points
                .iter()
                .find(|p| (p[0] - ci as f64).abs() < 0.5 && p[1].is_finite())
            else {
                continue;
            };
            let top = sy(p[1]);
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{top:.1}" width="{bw:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect>"#,
                gx + bw * si as f64,
                (TOP + ph - top).max(0.0),
                PALETTE[si % PALETTE.len()],
                escape(&series.name),
                label(p[1])
            );
        }
        let cx = LEFT + group * (ci as f64 + 0.5);
        let _ = write!(
            s,
            r#"<text transform="translate({cx:.1} {:.1}) rotate(30)" text-anchor="start">{}</text>"#,
            TOP + ph + 14.0,
            escape(cat)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#333"/><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        LEFT + pw,
        TOP + ph,
        TOP + ph,
        TOP + ph / 2.0,
        escape(&chart.y_label)
    );
    for (i, series) in chart.series.iter().enumerate() {
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = LEFT + pw + 12.0;
        let _ = write!(
            s,
            r#"<rect x="{lx}" y="{:.1}" width="14" height="10" fill="{}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            ly - 5.0,
            PALETTE[i % PALETTE.len()],
            lx + 20.0,
            ly + 4.0,
            escape(&series.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// Horizontal grid lines with their labels at `ticks` (in data units, placed by `sy`).
fn y_grid(s: &mut String, ticks: Vec<f64>, sy: impl Fn(f64) -> f64, pw: f64) {
    for t in ticks {
        let y = sy(t);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            label(t)
        );
    }
}

/// Renders `chart` as lines.
#[must_use]
pub fn line_chart(chart: &Chart) -> String {
    let pts = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p[0].is_finite() && p[1].is_finite())
    };
    let tx = |x: f64| if chart.x_log { x.max(1e-12).log10() } else { x };
    let (mut x0, mut x1) = pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
        (a.min(tx(p[0])), b.max(tx(p[0])))
    });
    let ty = |y: f64| if chart.y_log { y.max(1e-12).log10() } else { y };
    let (mut y0, mut y1) = match chart.y_range {
        Some([a, b]) => (ty(a), ty(b)),
        None => pts().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(ty(p[1])), b.max(ty(p[1])))
        }),
    };
    if !x0.is_finite() {
        (x0, x1) = (0.0, 1.0);
    }
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pw = WIDTH - LEFT - RIGHT;
    let ph = HEIGHT - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (tx(x) - x0) / (x1 - x0) * pw;
    let sy = |y: f64| TOP + ph - (ty(y) - y0) / (y1 - y0) * ph;
    let log_ticks = |lo: f64, hi: f64, t: &dyn Fn(f64) -> f64| -> Vec<f64> {
        (lo.floor() as i32..=hi.ceil() as i32)
            .map(|e| 10f64.powi(e))
            .filter(|v| t(*v) >= lo - 1e-9 && t(*v) <= hi + 1e-9)
            .collect()
    };

    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}" font-family="sans-serif" font-size="12">"#,
        t = escape(&chart.title)
    );
    let _ = write!(
        s,
        r##"<title>{}</title><rect width="100%" height="100%" fill="#fff"/>"##,
        escape(&chart.title)
    );
    let _ = write!(
        s,
        r#"<text x="{}" y="22" font-size="15" font-weight="bold">{}</text>"#,
        LEFT,
        escape(&chart.title)
    );
    // Grid and ticks.
    let yticks: Vec<f64> = if chart.y_log {
        log_ticks(y0, y1, &ty)
    } else {
        nice_ticks(y0, y1)
    };
    y_grid(&mut s, yticks, sy, pw);
    let xticks: Vec<f64> = if chart.x_log {
        log_ticks(x0, x1, &tx)
    } else {
        nice_ticks(x0, x1)
    };
    for t in xticks {
        let x = sx(t);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 16.0,
            label(t)
        );
    }
    let _ = write!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"##,
        LEFT + pw / 2.0,
        HEIGHT - 14.0,
        escape(&chart.x_label),
        TOP + ph / 2.0,
        escape(&chart.y_label)
    );
    for (i, series) in chart.series.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let path: Vec<String> = series
            .points
            .iter()
            .filter(|p| p[0].is_finite() && p[1].is_finite())
            .map(|p| format!("{:.1},{:.1}", sx(p[0]), sy(p[1])))
            .collect();
        if !path.is_empty() {
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
                path.join(" ")
            );
            // Markers only where the points are few enough to read (a ROC curve has hundreds).
            for p in path.iter().filter(|_| path.len() <= 60) {
                let (x, y) = p.split_once(',').unwrap_or(("0", "0"));
                let _ = write!(s, r#"<circle cx="{x}" cy="{y}" r="3" fill="{colour}"/>"#);
            }
        }
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = LEFT + pw + 12.0;
        let _ = write!(
            s,
            r#"<line x1="{lx}" x2="{:.1}" y1="{ly:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 18.0,
            lx + 24.0,
            ly + 4.0,
            escape(&series.name)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use aisec_core::{Chart, Series};

    #[test]
    fn chart_is_well_formed_and_escaped() {
        let chart = Chart {
            id: "c".into(),
            title: "a <b> & \"c\"".into(),
            x_label: "eps".into(),
            y_label: "accuracy".into(),
            x_log: false,
            y_log: false,
            y_range: Some([0.0, 1.0]),
            categories: Vec::new(),
            series: vec![Series {
                name: "pgd<script>".into(),
                points: vec![[0.0, 0.9], [0.1, 0.5], [0.3, f64::NAN]],
            }],
        };
        let svg = super::line_chart(&chart);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(!svg.contains("<script>") && svg.contains("pgd&lt;script&gt;"));
        assert_eq!(
            svg.matches("<circle").count(),
            2,
            "the NaN point is not drawn"
        );
        assert!(!svg.contains("NaN"));
        let ticks = super::nice_ticks(0.0, 1.0);
        assert_eq!(ticks.len(), 6);
        assert!(
            ticks
                .iter()
                .zip([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
                .all(|(a, b)| (a - b).abs() < 1e-9),
            "{ticks:?}"
        );
    }

    #[test]
    fn bars_one_per_category_and_series_with_heights_in_scale() {
        let chart = Chart {
            id: "b".into(),
            title: "before/after".into(),
            x_label: "family".into(),
            y_label: "rate".into(),
            x_log: false,
            y_log: false,
            y_range: Some([0.0, 1.0]),
            categories: vec!["prompt-injection".into(), "leak<x>".into()],
            series: vec![
                Series {
                    name: "without".into(),
                    points: vec![[0.0, 1.0], [1.0, 0.5]],
                },
                Series {
                    name: "with".into(),
                    points: vec![[0.0, 0.0], [1.0, f64::NAN]],
                },
            ],
        };
        let svg = super::chart(&chart);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("leak&lt;x&gt;") && !svg.contains("leak<x>"));
        // Three finite points: three bars (plus two legend swatches).
        let bars: Vec<f64> = svg
            .match_indices("<rect x=")
            .filter_map(|(i, _)| {
                let rest = &svg[i..];
                let h = rest.find("height=\"")? + 8;
                let end = rest[h..].find('"')?;
                rest.contains("<title>")
                    .then(|| rest[h..h + end].parse().ok())?
            })
            .collect();
        let full = bars.iter().copied().fold(0.0, f64::max);
        assert!(full > 100.0, "{bars:?}");
        assert!(
            bars.iter().any(|h| (h - full / 2.0).abs() < 1.0),
            "{bars:?}"
        );
        assert!(bars.contains(&0.0), "{bars:?}");
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn log_log_roc_places_decades_evenly() {
        let points: Vec<[f64; 2]> = (0..=300)
            .map(|i| {
                let f = 10f64.powf(-3.0 + f64::from(i) / 100.0);
                [f, f.sqrt()]
            })
            .collect();
        let chart = Chart {
            id: "roc".into(),
            title: "ROC".into(),
            x_label: "FPR".into(),
            y_label: "TPR".into(),
            x_log: true,
            y_log: true,
            y_range: None,
            categories: Vec::new(),
            series: vec![Series {
                name: "loss".into(),
                points,
            }],
        };
        let svg = super::line_chart(&chart);
        for tick in [">0.001<", ">0.01<", ">0.1<", ">1<"] {
            assert!(svg.contains(tick), "x tick {tick} missing");
        }
        assert_eq!(
            svg.matches("<circle").count(),
            0,
            "no markers on 301 points"
        );
        // TPR = sqrt(FPR): on log-log axes a straight line, so the middle point sits halfway.
        let poly = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let coords: Vec<(f64, f64)> = poly
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        let (first, mid, last) = (coords[0], coords[150], coords[300]);
        assert!((mid.0 - f64::midpoint(first.0, last.0)).abs() < 0.2);
        assert!((mid.1 - f64::midpoint(first.1, last.1)).abs() < 0.2);
    }
}
