//! What a run measured, and its renderings: the markdown table and the
//! CSV files (`bench.md` is in `markdown`).

use serde_json::Value;
use std::fmt::Write as _;

use super::options::Options;
use super::stats::{mean, median, percentile};

/// One certificate of the one-at-a-time rounds.
#[derive(Clone, Debug)]
pub struct RoundSample {
    pub wall: f64,
    pub cpu: f64,
    pub requests: usize,
    pub peak_kb: Option<u64>,
}

/// Many certificates, some at a time.
#[derive(Clone, Debug)]
pub struct Throughput {
    pub count: usize,
    pub concurrency: usize,
    pub ok: usize,
    pub failed: usize,
    pub wall: f64,
    pub requests: usize,
    pub first_error: Option<String>,
}

impl Throughput {
    /// Certificates per second.
    pub fn rate(&self) -> f64 {
        if self.wall > 0.0 {
            self.ok as f64 / self.wall
        } else {
            0.0
        }
    }
}

/// One client in the rounds (a row of the table).
#[derive(Clone, Debug)]
pub struct Row {
    pub id: String,
    pub label: String,
    /// In the main table (library experiments are not).
    pub main: bool,
    pub setup_error: Option<String>,
    pub rounds: Vec<RoundSample>,
    pub failures: Vec<String>,
    pub throughput: Option<Throughput>,
    /// The library worker's peak (the process peers' is per round).
    pub peak_kb: Option<u64>,
}

impl Row {
    pub fn new(id: &str, label: &str, main: bool) -> Row {
        Row {
            id: id.to_owned(),
            label: label.to_owned(),
            main,
            setup_error: None,
            rounds: Vec::new(),
            failures: Vec::new(),
            throughput: None,
            peak_kb: None,
        }
    }

    fn walls(&self) -> Vec<f64> {
        self.rounds.iter().map(|r| r.wall).collect()
    }

    pub fn median(&self) -> Option<f64> {
        median(&self.walls())
    }

    pub fn p99(&self) -> Option<f64> {
        percentile(&self.walls(), 99.0)
    }

    fn mean(&self) -> Option<f64> {
        mean(&self.walls())
    }

    /// Mean CPU seconds per certificate (single readings are in clock
    /// ticks; their errors average out).
    pub fn cpu(&self) -> Option<f64> {
        mean(&self.rounds.iter().map(|r| r.cpu).collect::<Vec<_>>())
    }

    pub fn peak_mb(&self) -> Option<f64> {
        self.rounds
            .iter()
            .filter_map(|r| r.peak_kb)
            .chain(self.peak_kb)
            .max()
            .map(|kb| kb as f64 / 1024.0)
    }

    pub fn requests(&self) -> Option<f64> {
        mean(
            &self
                .rounds
                .iter()
                .map(|r| r.requests as f64)
                .collect::<Vec<_>>(),
        )
    }

    /// The table's client cell, with failures noted.
    pub(super) fn name_cell(&self) -> String {
        let n = self.rounds.len() + self.failures.len();
        if self.setup_error.is_some() {
            format!("{} (set-up failed)", self.label)
        } else if self.failures.is_empty() {
            self.label.clone()
        } else {
            format!("{} ({} of {n} failed)", self.label, self.failures.len())
        }
    }
}

/// One library batch in a fresh worker process.
#[derive(Clone, Debug)]
pub struct LibRun {
    /// `throughput`, `size`, `concurrency` or `ceiling`.
    pub group: &'static str,
    pub label: String,
    pub count: usize,
    pub concurrency: usize,
    pub first_delay_ms: Option<u64>,
    pub ok: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    pub wall: f64,
    pub cpu: f64,
    /// Counted from Pebble's log.
    pub requests: usize,
    /// As the client counted them.
    pub client_requests: u64,
    pub peak_kb: Option<u64>,
    /// CPU seconds Pebble and challtestsrv spent meanwhile.
    pub server_cpu: f64,
    pub median_latency: Option<f64>,
    pub p99_latency: Option<f64>,
}

impl LibRun {
    pub fn new(
        group: &'static str,
        label: String,
        count: usize,
        concurrency: usize,
        first_delay_ms: Option<u64>,
    ) -> LibRun {
        LibRun {
            group,
            label,
            count,
            concurrency,
            first_delay_ms,
            ok: 0,
            failed: 0,
            first_error: None,
            wall: 0.0,
            cpu: 0.0,
            requests: 0,
            client_requests: 0,
            peak_kb: None,
            server_cpu: 0.0,
            median_latency: None,
            p99_latency: None,
        }
    }

    /// Takes the worker's `batch` reply.
    pub fn fill(&mut self, v: &Value) {
        let n = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
        self.ok = n("ok");
        self.failed = n("failed");
        self.first_error = v["first_error"]
            .as_str()
            .or(v["error"].as_str())
            .map(str::to_owned);
        self.wall = v["wall"].as_f64().unwrap_or(0.0);
        self.cpu = v["cpu"].as_f64().unwrap_or(0.0);
        self.client_requests = v["client_requests"].as_u64().unwrap_or(0);
        self.median_latency = v["median_latency"].as_f64();
        self.p99_latency = v["p99_latency"].as_f64();
        if self.ok + self.failed == 0 {
            self.failed = self.count;
        }
    }

    pub fn rate(&self) -> f64 {
        self.as_throughput().rate()
    }

    pub fn as_throughput(&self) -> Throughput {
        Throughput {
            count: self.count,
            concurrency: self.concurrency,
            ok: self.ok,
            failed: self.failed,
            wall: self.wall,
            requests: self.requests,
            first_error: self.first_error.clone(),
        }
    }

    pub(super) fn per_cert(&self, total: f64) -> Option<f64> {
        (self.ok > 0).then(|| total / self.ok as f64)
    }
}

/// Step-by-step certificates of one configuration.
#[derive(Clone, Debug)]
pub struct Trace {
    pub label: String,
    /// Per certificate: (step, seconds, requests).
    pub samples: Vec<Vec<(String, f64, f64)>>,
    pub errors: Vec<String>,
}

impl Trace {
    pub fn new(label: String) -> Trace {
        Trace {
            label,
            samples: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Takes the worker's `trace` steps.
    pub fn add(&mut self, steps: &Value) {
        let steps = steps
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        (
                            s["step"].as_str().unwrap_or("?").to_owned(),
                            s["seconds"].as_f64().unwrap_or(0.0),
                            s["requests"].as_f64().unwrap_or(0.0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.samples.push(steps);
    }

    /// (step, median seconds, median requests) in order.
    pub fn summary(&self) -> Vec<(String, f64, f64)> {
        let Some(first) = self.samples.first() else {
            return Vec::new();
        };
        (0..first.len())
            .map(|i| {
                let col = |f: fn(&(String, f64, f64)) -> f64| -> f64 {
                    median(
                        &self
                            .samples
                            .iter()
                            .filter_map(|s| s.get(i).map(f))
                            .collect::<Vec<_>>(),
                    )
                    .unwrap_or(0.0)
                };
                (first[i].0.clone(), col(|s| s.1), col(|s| s.2))
            })
            .collect()
    }

    /// Median total seconds.
    pub fn total(&self) -> Option<f64> {
        median(
            &self
                .samples
                .iter()
                .map(|s| s.iter().map(|x| x.1).sum())
                .collect::<Vec<_>>(),
        )
    }
}

/// Everything a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub opts: Options,
    pub rows: Vec<Row>,
    pub lib_runs: Vec<LibRun>,
    pub traces: Vec<Trace>,
    /// Median wall and mean CPU seconds of `/usr/bin/time true`.
    pub floor: Option<(f64, f64)>,
    pub started: String,
    pub load_before: String,
    pub load_after: String,
    pub machine: String,
    pub pebble_version: Option<String>,
}

impl Report {
    /// The fastest library batch of any configuration (Pebble's ceiling as
    /// measured), and the fastest with the default policy at a concurrency
    /// above the throughput phase's.
    pub fn ceiling(&self) -> Option<(&LibRun, &LibRun)> {
        let best = fastest(self.lib_runs.iter().filter(|r| r.group != "size"))?;
        let high = fastest(
            self.lib_runs
                .iter()
                .filter(|r| r.group == "concurrency" && r.first_delay_ms.is_none()),
        )?;
        Some((best, high))
    }

    /// The command that made this report.
    pub fn command(&self) -> String {
        let mut c = "cargo xtask bench".to_owned();
        for a in &self.opts.given {
            c.push(' ');
            c.push_str(a);
        }
        c
    }
}

/// The fastest of `runs` that issued anything.
fn fastest<'r>(runs: impl Iterator<Item = &'r LibRun>) -> Option<&'r LibRun> {
    runs.filter(|r| r.ok > 0)
        .max_by(|a, b| a.rate().total_cmp(&b.rate()))
}

pub(super) fn f(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

pub(super) fn requests_cell(v: Option<f64>) -> String {
    match v {
        Some(r) if (r - r.round()).abs() < 0.05 => format!("{}", r.round()),
        other => f(other, 1),
    }
}

fn throughput_cell(t: Option<&Throughput>) -> String {
    match t {
        None => "–".into(),
        Some(t) if t.ok == 0 => "failed".into(),
        Some(t) if t.failed > 0 => format!("{:.1} ({} of {} failed)", t.rate(), t.failed, t.count),
        Some(t) => format!("{:.1}", t.rate()),
    }
}

/// The main table (markdown).
pub fn table(r: &Report) -> String {
    let c = r.opts.concurrency;
    let mut s = format!(
        "| client | median s | p99 s | certs/s at {c} | CPU s/cert | peak MB | requests/cert |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    for row in r.rows.iter().filter(|row| row.main) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            row.name_cell(),
            f(row.median(), 3),
            f(row.p99(), 3),
            throughput_cell(row.throughput.as_ref()),
            f(row.cpu(), 4),
            f(row.peak_mb(), 1),
            requests_cell(row.requests()),
        );
    }
    s
}

/// `bench.csv`: one line per client (experiments included).
pub fn csv(r: &Report) -> String {
    let mut s = String::from(
        "client,id,rounds_ok,rounds_failed,median_s,p99_s,mean_s,throughput_certs_per_s,\
         throughput_concurrency,throughput_ok,throughput_failed,cpu_s_per_cert,peak_mb,\
         requests_per_cert,error\n",
    );
    for row in &r.rows {
        let t = row.throughput.as_ref();
        let error = row
            .setup_error
            .clone()
            .or_else(|| row.failures.first().cloned())
            .or_else(|| t.and_then(|t| t.first_error.clone()))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            quote(&row.label),
            row.id,
            row.rounds.len(),
            row.failures.len(),
            f(row.median(), 4),
            f(row.p99(), 4),
            f(row.mean(), 4),
            t.map_or(String::new(), |t| format!("{:.2}", t.rate())),
            t.map_or(String::new(), |t| t.concurrency.to_string()),
            t.map_or(String::new(), |t| t.ok.to_string()),
            t.map_or(String::new(), |t| t.failed.to_string()),
            f(row.cpu(), 4),
            f(row.peak_mb(), 1),
            f(row.requests(), 2),
            quote(&error),
        );
    }
    s.replace('–', "")
}

/// `bench-library.csv`: one line per library batch.
pub fn library_csv(r: &Report) -> String {
    let mut s = String::from(
        "group,certificates,concurrency,first_delay_ms,ok,failed,seconds,certs_per_s,\
         median_latency_s,p99_latency_s,cpu_s_per_cert,server_cpu_s_per_cert,peak_mb,\
         requests_per_cert,error\n",
    );
    for run in &r.lib_runs {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{:.4},{:.2},{},{},{},{},{},{},{}",
            run.group,
            run.count,
            run.concurrency,
            run.first_delay_ms.map_or(String::new(), |m| m.to_string()),
            run.ok,
            run.failed,
            run.wall,
            run.rate(),
            f(run.median_latency, 4),
            f(run.p99_latency, 4),
            f(run.per_cert(run.cpu), 5),
            f(run.per_cert(run.server_cpu), 5),
            f(run.peak_kb.map(|k| k as f64 / 1024.0), 1),
            f(run.per_cert(run.requests as f64), 2),
            quote(run.first_error.as_deref().unwrap_or("")),
        );
    }
    s.replace('–', "")
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\"").replace('\n', " "))
    } else {
        s.to_owned()
    }
}

/// The time now, RFC 3339 in UTC.
pub fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The 1-, 5- and 15-minute load averages.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Cores, CPU model and kernel.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_default();
    format!("{cores} cores, {model}, Linux {kernel}")
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Report {
        fn empty() -> Report {
            Report {
                opts: Options::default(),
                rows: Vec::new(),
                lib_runs: Vec::new(),
                traces: Vec::new(),
                floor: None,
                started: String::new(),
                load_before: String::new(),
                load_after: String::new(),
                machine: String::new(),
                pebble_version: None,
            }
        }
    }

    fn sample(wall: f64, requests: usize) -> RoundSample {
        RoundSample {
            wall,
            cpu: 0.01,
            requests,
            peak_kb: Some(2048),
        }
    }

    #[test]
    fn table_notes_failures_and_formats_cells() {
        let mut ok = Row::new("cli", "acmekit CLI", true);
        ok.rounds = vec![sample(0.05, 9), sample(0.07, 9), sample(0.06, 9)];
        ok.throughput = Some(Throughput {
            count: 40,
            concurrency: 8,
            ok: 40,
            failed: 0,
            wall: 2.0,
            requests: 360,
            first_error: None,
        });
        let mut bad = Row::new("lego", "lego", true);
        bad.setup_error = Some("no".into());
        let report = Report {
            rows: vec![ok, bad, Row::new("lib-1ms", "experiment", false)],
            ..Report::empty()
        };
        let t = table(&report);
        assert!(
            t.contains("| acmekit CLI | 0.060 | 0.070 | 20.0 | 0.0100 | 2.0 | 9 |"),
            "{t}"
        );
        assert!(t.contains("| lego (set-up failed) | – |"), "{t}");
        assert!(!t.contains("experiment"));
        let c = csv(&report);
        assert_eq!(c.lines().count(), 4);
        assert!(c.contains("lego,lego,0,0,,,,,,,,,,,no"), "{c}");
    }

    #[test]
    fn ceiling_is_the_fastest_batch_and_the_share_is_the_default_policys_best() {
        let run = |group, concurrency, first_delay_ms, ok, wall| LibRun {
            ok,
            wall,
            ..LibRun::new(group, String::new(), ok, concurrency, first_delay_ms)
        };
        let report = Report {
            lib_runs: vec![
                run("size", 8, None, 1000, 1.0),
                run("concurrency", 32, None, 400, 2.0),
                run("concurrency", 64, None, 400, 2.5),
                run("ceiling", 32, Some(1), 400, 1.6),
            ],
            ..Report::empty()
        };
        let (best, high) = report.ceiling().unwrap();
        assert_eq!((best.group, best.concurrency), ("ceiling", 32));
        assert_eq!((high.group, high.concurrency), ("concurrency", 32));
    }

    #[test]
    fn csv_fields_are_quoted() {
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(quote("plain"), "plain");
    }
}
