//! `bench.svg`, written by hand: median seconds per certificate (log
//! scale, with the p99 as a whisker) and certificates per second at the
//! throughput concurrency, one bar per client.

use std::fmt::Write as _;

use super::report::{Report, Row};

const WIDTH: f64 = 980.0;
const LABEL_RIGHT: f64 = 270.0;
const A_LEFT: f64 = 285.0;
const A_WIDTH: f64 = 330.0;
const B_LEFT: f64 = 680.0;
const B_WIDTH: f64 = 260.0;
const TOP: f64 = 78.0;
const ROW: f64 = 32.0;
const BAR: f64 = 18.0;

/// The chart of the main table's rows.
pub fn chart(r: &Report) -> String {
    let rows: Vec<&Row> = r.rows.iter().filter(|x| x.main).collect();
    let height = TOP + ROW * rows.len() as f64 + 46.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" font-size="13">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{}" y="24" font-size="16" font-weight="bold" text-anchor="middle">One certificate from a loopback Pebble (dns-01), {} rounds</text>"##,
        WIDTH / 2.0,
        r.opts.rounds
    );
    let bottom = TOP + ROW * rows.len() as f64;
    seconds_panel(&mut s, &rows, bottom);
    rate_panel(&mut s, &rows, bottom, r.opts.concurrency);
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64 + ROW / 2.0 + 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{LABEL_RIGHT}" y="{y:.1}" text-anchor="end">{}</text>"#,
            escape(&row.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn color(row: &Row) -> &'static str {
    if row.id == "lib" || row.id == "cli" {
        "#2b6cb0"
    } else {
        "#8a8f98"
    }
}

fn seconds_panel(s: &mut String, rows: &[&Row], bottom: f64) {
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| [r.median(), r.p99()])
        .flatten()
        .filter(|v| *v > 0.0)
        .collect();
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(0.0, f64::max);
    let (lo, hi) = if values.is_empty() {
        (-2.0, 1.0)
    } else {
        let lo = lo.log10().floor();
        (lo, hi.log10().ceil().max(lo + 1.0))
    };
    let x = |v: f64| A_LEFT + (v.max(1e-9).log10() - lo) / (hi - lo) * A_WIDTH;
    let _ = writeln!(
        s,
        r#"<text x="{}" y="52" text-anchor="middle" font-weight="bold">median seconds per certificate (log scale; whisker: p99)</text>"#,
        A_LEFT + A_WIDTH / 2.0
    );
    let mut e = lo;
    while e <= hi + 1e-9 {
        let v = 10f64.powf(e);
        let gx = x(v);
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="{bottom}" stroke="#e2e4e8"/>
<text x="{gx:.1}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
            TOP - 6.0,
            bottom + 18.0,
            trim_number(v)
        );
        e += 1.0;
    }
    for (i, row) in rows.iter().enumerate() {
        let y = TOP + ROW * i as f64 + (ROW - BAR) / 2.0;
        let mid = y + BAR / 2.0;
        match (row.median(), row.p99()) {
            (Some(m), Some(p)) => {
                let _ = writeln!(
                    s,
                    r##"<rect x="{A_LEFT}" y="{y:.1}" width="{:.1}" height="{BAR}" fill="{}"/>
<line x1="{:.1}" y1="{mid:.1}" x2="{:.1}" y2="{mid:.1}" stroke="#333"/>
<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>
<text x="{:.1}" y="{:.1}" fill="#222">{}</text>"##,
                    (x(m) - A_LEFT).max(1.0),
                    color(row),
                    x(m),
                    x(p),
                    x(p),
                    y + 3.0,
                    x(p),
                    y + BAR - 3.0,
                    x(p).max(x(m)) + 5.0,
                    mid + 4.5,
                    seconds(m)
                );
            }
            _ => failed(s, A_LEFT, mid),
        }
    }
}

fn rate_panel(s: &mut String, rows: &[&Row], bottom: f64, concurrency: usize) {
    let rates: Vec<Option<f64>> = rows
        .iter()
        .map(|r| r.throughput.as_ref().filter(|t| t.ok > 0).map(|t| t.rate()))
        .collect();
    let max = rates.iter().flatten().copied().fold(0.0, f64::max);
    let step = nice_step(max.max(1.0) / 4.0);
    let top = (max / step).ceil().max(1.0) * step;
    let x = |v: f64| B_LEFT + v / top * B_WIDTH;
    let _ = writeln!(
        s,
        r#"<text x="{}" y="52" text-anchor="middle" font-weight="bold">certificates per second, {concurrency} at a time</text>"#,
        B_LEFT + B_WIDTH / 2.0
    );
    let mut v = 0.0;
    while v <= top + 1e-9 {
        let gx = x(v);
        let _ = writeln!(
            s,
            r##"<line x1="{gx:.1}" y1="{}" x2="{gx:.1}" y2="{bottom}" stroke="#e2e4e8"/>
<text x="{gx:.1}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
            TOP - 6.0,
            bottom + 18.0,
            trim_number(v)
        );
        v += step;
    }
    for (i, (row, rate)) in rows.iter().zip(&rates).enumerate() {
        let y = TOP + ROW * i as f64 + (ROW - BAR) / 2.0;
        let mid = y + BAR / 2.0;
        match rate {
            Some(rate) => {
                let _ = writeln!(
                    s,
                    r##"<rect x="{B_LEFT}" y="{y:.1}" width="{:.1}" height="{BAR}" fill="{}"/>
<text x="{:.1}" y="{:.1}" fill="#222">{rate:.1}</text>"##,
                    (x(*rate) - B_LEFT).max(1.0),
                    color(row),
                    x(*rate) + 5.0,
                    mid + 4.5,
                );
            }
            None => failed(s, B_LEFT, mid),
        }
    }
}

fn failed(s: &mut String, x: f64, mid: f64) {
    let _ = writeln!(
        s,
        r##"<text x="{:.1}" y="{:.1}" fill="#b00020">failed / not measured</text>"##,
        x + 4.0,
        mid + 4.5
    );
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

fn trim_number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn seconds(v: f64) -> String {
    if v < 0.1 {
        format!("{:.0} ms", v * 1000.0)
    } else {
        format!("{v:.2} s")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(12.0), 20.0);
        assert_eq!(nice_step(0.4), 0.5);
        assert_eq!(trim_number(0.01), "0.01");
        assert_eq!(trim_number(10.0), "10");
        assert_eq!(seconds(0.0456), "46 ms");
        assert_eq!(escape("a<b>&\""), "a&lt;b&gt;&amp;&quot;");
    }
}
