//! What a run measured, and its renderings: the markdown table, the CSV
//! files and `bench.md`.

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
    fn name_cell(&self) -> String {
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

    fn per_cert(&self, total: f64) -> Option<f64> {
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
    /// The fastest library batch, and the best the default policy reached
    /// at the highest concurrency measured.
    pub fn ceiling(&self) -> Option<(&LibRun, &LibRun)> {
        let best = self
            .lib_runs
            .iter()
            .filter(|r| r.group != "size" && r.ok > 0)
            .max_by(|a, b| a.rate().total_cmp(&b.rate()))?;
        let top = self
            .lib_runs
            .iter()
            .filter(|r| r.first_delay_ms.is_none() && r.group != "size" && r.ok > 0)
            .max_by_key(|r| r.concurrency)?;
        Some((best, top))
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

fn f(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

fn requests_cell(v: Option<f64>) -> String {
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
            f(row.cpu(), 3),
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

fn ms(v: Option<f64>) -> String {
    f(v.map(|s| s * 1000.0), 1)
}

/// `bench.md`: the table, the chart, the library's details, the method.
pub fn markdown(r: &Report) -> String {
    let o = &r.opts;
    let mut s = String::from("# acmekit benchmark\n\n");
    let _ = writeln!(
        s,
        "Made with `{}` on {} ({}; load average {} before, {} after).\n",
        r.command(),
        r.started,
        r.machine,
        r.load_before,
        r.load_after
    );
    let _ = writeln!(
        s,
        "Pebble {} on loopback with `PEBBLE_VA_NOSLEEP=1`, `PEBBLE_WFE_NONCEREJECT=0`, \
         `PEBBLE_AUTHZREUSE=0`. Every client answers dns-01 through pebble-challtestsrv's \
         management API: the process clients through one hook program (the xtask binary, \
         POSTing `/set-txt` and `/clear-txt` over a plain TCP connection) in each client's \
         calling convention, the library in-process. Each client has its account before \
         anything is measured; every certificate is for a fresh name `x<hex>.example.com`. \
         {} rounds of one certificate per client (after {} warm-up round(s)), interleaved, \
         the order rotating every round; then {} certificates per client, {} at a time.\n",
        r.pebble_version.as_deref().unwrap_or("?"),
        o.rounds,
        o.warmup,
        o.throughput_count,
        o.concurrency
    );
    s.push_str(&table(r));
    s.push_str("\n![median seconds per certificate and certificates per second](bench.svg)\n\n");
    s.push_str(COLUMNS);
    if let Some((wall, cpu)) = r.floor {
        let _ = writeln!(
            s,
            "Starting a process under GNU time here costs {:.1} ms wall and {:.1} ms CPU \
             (`/usr/bin/time true`, included in every process client's figures).\n",
            wall * 1000.0,
            cpu * 1000.0
        );
    }
    library_sections(r, &mut s);
    failures(r, &mut s);
    s
}

const COLUMNS: &str = "\
## What the columns measure

- **median s, p99 s**: wall seconds for one certificate, one at a time. For
  a process client: from spawning the process to reaping it (process start,
  directory, account look-up, the order, its hooks, writing files). For the
  library: the `Account::issue` call in a long-lived process with its
  account and connection already set up. p99 is the nearest-rank
  percentile: with fewer than 100 rounds it is the slowest round.
- **certs/s at C**: certificates issued divided by the wall time of the
  whole batch, with C at a time: C concurrent processes for the process
  clients (certbot gets its own config/work/logs directories per slot, the
  account copied in, as it locks them), C concurrent issuances on one
  account in one process for the library.
- **CPU s/cert**: user + system CPU seconds per certificate, averaged over
  the rounds. Process clients: the bench's `cutime + cstime` before and
  after reaping the process, so it includes every child the client waited
  for (the hooks, certbot's shell). Library: the worker's own
  `utime + stime` around the call. Readings are in clock ticks (10 ms);
  the mean over the rounds is unbiased.
- **peak MB**: maximum resident set size (GNU time `%M`), the largest over
  the rounds; for the library, of the worker process over all its rounds.
- **requests/cert**: lines containing `-> calling handler()` in Pebble's log
  between marks taken before and after each certificate (nonce requests
  included), averaged over the rounds.

";

fn library_sections(r: &Report, s: &mut String) {
    let sizes: Vec<&LibRun> = r.lib_runs.iter().filter(|x| x.group == "size").collect();
    if !sizes.is_empty() {
        s.push_str(
            "## The library: many certificates in one process\n\n\
             Each line is a fresh worker process with one account.\n\n\
             | certificates | at a time | seconds | ms per certificate | CPU ms/cert | peak MB | peak KB per certificate over one | requests/cert |\n\
             | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        let base = sizes.iter().find(|x| x.count == 1).and_then(|x| x.peak_kb);
        for x in &sizes {
            let growth = match (x.peak_kb, base) {
                (Some(p), Some(b)) if x.count > 1 => {
                    format!("{:.1}", (p as f64 - b as f64) / (x.count - 1) as f64)
                }
                _ => "–".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {} | {} | {} | {} | {} |",
                x.count,
                x.concurrency,
                x.wall,
                ms(x.per_cert(x.wall)),
                ms(x.per_cert(x.cpu)),
                f(x.peak_kb.map(|k| k as f64 / 1024.0), 1),
                growth,
                requests_cell(x.per_cert(x.requests as f64)),
            );
        }
        s.push('\n');
    }
    let conc: Vec<&LibRun> = r.lib_runs.iter().filter(|x| x.group != "size").collect();
    if !conc.is_empty() {
        s.push_str(
            "## The library: concurrency and Pebble's ceiling\n\n\
             | configuration | certs/s | median latency ms | p99 latency ms | client CPU ms/cert | Pebble + challtestsrv CPU ms/cert | requests/cert | failed |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        );
        for x in &conc {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {} | {} | {} | {} | {} | {} |",
                x.label,
                x.rate(),
                ms(x.median_latency),
                ms(x.p99_latency),
                ms(x.per_cert(x.cpu)),
                ms(x.per_cert(x.server_cpu)),
                requests_cell(x.per_cert(x.requests as f64)),
                x.failed,
            );
        }
        s.push('\n');
        if let Some((best, top)) = r.ceiling() {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let server = best.per_cert(best.server_cpu).unwrap_or(0.0);
            let client = best.per_cert(best.cpu).unwrap_or(0.0);
            let _ = writeln!(
                s,
                "**Pebble's ceiling** here is taken as the highest rate any configuration \
                 reached: {:.1} certificates/s ({}). The same batch cost Pebble and \
                 challtestsrv {:.1} ms CPU per certificate and the client {:.1} ms, so these \
                 {cores} cores could at best serve about {:.0} certificates/s with this client \
                 and {:.0} with a client using no CPU. acmekit with its default policy at the \
                 highest concurrency measured ({}) reached {:.1} certificates/s: **{:.0}% of \
                 the ceiling**.\n",
                best.rate(),
                best.label,
                server * 1000.0,
                client * 1000.0,
                cores as f64 / (server + client).max(1e-9),
                cores as f64 / server.max(1e-9),
                top.concurrency,
                top.rate(),
                100.0 * top.rate() / best.rate().max(1e-9),
            );
        }
    }
    let experiments: Vec<&Row> = r.rows.iter().filter(|x| !x.main).collect();
    if !experiments.is_empty() {
        s.push_str(
            "## Experiments: the library's polling policy\n\n\
             Interleaved in the same rounds as the table above.\n\n\
             | configuration | median s | p99 s | CPU s/cert | requests/cert |\n\
             | --- | ---: | ---: | ---: | ---: |\n",
        );
        for x in r.rows.iter().filter(|x| x.id == "lib").chain(experiments) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                x.name_cell(),
                f(x.median(), 4),
                f(x.p99(), 4),
                f(x.cpu(), 4),
                requests_cell(x.requests()),
            );
        }
        s.push('\n');
    }
    if r.traces.iter().any(|t| !t.samples.is_empty()) {
        s.push_str(
            "## Where one certificate's time goes (library, one at a time)\n\n\
             The issue flow run step by step in a worker (medians; requests as the client \
             counted them).\n\n",
        );
        let summaries: Vec<Vec<(String, f64, f64)>> = r.traces.iter().map(Trace::summary).collect();
        s.push_str("| step |");
        for t in &r.traces {
            let _ = write!(s, " {}: ms | requests |", t.label);
        }
        s.push_str("\n| --- |");
        for _ in &r.traces {
            s.push_str(" ---: | ---: |");
        }
        s.push('\n');
        let steps = summaries.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..steps {
            let name = summaries
                .iter()
                .find_map(|x| x.get(i).map(|x| x.0.clone()))
                .unwrap_or_default();
            let _ = write!(s, "| {name} |");
            for x in &summaries {
                match x.get(i) {
                    Some((_, secs, req)) => {
                        let _ =
                            write!(s, " {:.2} | {} |", secs * 1000.0, requests_cell(Some(*req)));
                    }
                    None => s.push_str(" – | – |"),
                }
            }
            s.push('\n');
        }
        s.push_str("| **total** |");
        for t in &r.traces {
            let _ = write!(s, " **{}** | |", ms(t.total()));
        }
        s.push_str("\n\n");
    }
}

fn failures(r: &Report, s: &mut String) {
    let mut lines = Vec::new();
    for row in &r.rows {
        if let Some(e) = &row.setup_error {
            lines.push(format!("- {}: set-up failed: {}", row.label, one_line(e)));
        }
        if let Some(e) = row.failures.first() {
            lines.push(format!(
                "- {}: {} of the rounds failed; first: {}",
                row.label,
                row.failures.len(),
                one_line(e)
            ));
        }
        if let Some(t) = &row.throughput {
            if let Some(e) = &t.first_error {
                lines.push(format!(
                    "- {}: {} of {} failed in the throughput phase; first: {}",
                    row.label,
                    t.failed,
                    t.count,
                    one_line(e)
                ));
            }
        }
    }
    for run in &r.lib_runs {
        if let Some(e) = &run.first_error {
            lines.push(format!(
                "- library, {}: {} failed; first: {}",
                run.label,
                run.failed,
                one_line(e)
            ));
        }
    }
    for t in &r.traces {
        if let Some(e) = t.errors.first() {
            lines.push(format!("- trace, {}: {}", t.label, one_line(e)));
        }
    }
    if !lines.is_empty() {
        s.push_str("## Failures\n\n");
        s.push_str(&lines.join("\n"));
        s.push('\n');
    }
}

fn one_line(e: &str) -> String {
    let e: String = e.split_whitespace().collect::<Vec<_>>().join(" ");
    if e.chars().count() > 300 {
        format!("{}…", e.chars().take(300).collect::<String>())
    } else {
        e
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
            opts: Options::default(),
            rows: vec![ok, bad, Row::new("lib-1ms", "experiment", false)],
            lib_runs: Vec::new(),
            traces: Vec::new(),
            floor: None,
            started: String::new(),
            load_before: String::new(),
            load_after: String::new(),
            machine: String::new(),
            pebble_version: None,
        };
        let t = table(&report);
        assert!(
            t.contains("| acmekit CLI | 0.060 | 0.070 | 20.0 | 0.010 | 2.0 | 9 |"),
            "{t}"
        );
        assert!(t.contains("| lego (set-up failed) | – |"), "{t}");
        assert!(!t.contains("experiment"));
        let c = csv(&report);
        assert_eq!(c.lines().count(), 4);
        assert!(c.contains("lego,lego,0,0,,,,,,,,,,,no"), "{c}");
    }

    #[test]
    fn csv_fields_are_quoted() {
        assert_eq!(quote("a,b"), "\"a,b\"");
        assert_eq!(quote("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(quote("plain"), "plain");
    }
}
