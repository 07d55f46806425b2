//! `bench.md`: the command, the setting, the table, the chart, what the
//! columns measure, the library's details and the failures; and the
//! README's Performance section.

use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

use super::report::{f, requests_cell, table, LibRun, Report, Row, Trace};

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
        s.push_str(
            "Higher concurrency is not measured by default because Pebble 2.4 \
             itself stops answering: at 24 or more concurrent issuances on one \
             Pebble (32 in another run), within a few hundred certificates every \
             request waits forever. A goroutine dump (SIGQUIT) taken then shows \
             `MemoryStore.FindValidAuthorization` (called by newOrder) holding the \
             store's read lock while it waits for one authorization's lock that no \
             goroutine will release, `AddOrder` queued for the write lock behind it, \
             and every other request queued behind that. A fresh Pebble serves \
             again; 16 at a time ran 400 certificates cleanly.\n\n",
        );
        if let Some((best, high)) = r.ceiling() {
            ceiling(s, best, high);
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

/// The ceiling paragraph: the fastest batch, how busy the cores were,
/// the CPU bound, and the default policy's share.
fn ceiling(s: &mut String, best: &LibRun, high: &LibRun) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let server = best.per_cert(best.server_cpu).unwrap_or(0.0);
    let client = best.per_cert(best.cpu).unwrap_or(0.0);
    let busy = |cpu: f64| {
        if best.wall > 0.0 {
            cpu / best.wall
        } else {
            0.0
        }
    };
    let (server_busy, client_busy) = (busy(best.server_cpu), busy(best.cpu));
    let cpu_bound = cores / (server + client).max(1e-9);
    let _ = write!(
        s,
        "**Pebble's ceiling** is taken as the highest rate any configuration reached: \
         {:.1} certificates/s ({}). Meanwhile Pebble and challtestsrv kept {server_busy:.2} \
         of the {cores} cores busy ({:.1} ms CPU per certificate) and the client \
         {client_busy:.2} ({:.1} ms); ",
        best.rate(),
        best.label,
        server * 1000.0,
        client * 1000.0,
    );
    if server_busy + client_busy < 0.9 * cores {
        s.push_str(
            "these processes alone did not saturate the cores, so (on a quiet machine: see \
             the load average above) what limits Pebble there is its own serialization and \
             latency rather than CPU; ",
        );
    }
    let _ = writeln!(
        s,
        "bound by CPU alone, these cores would serve at most {cpu_bound:.0} certificates/s \
         with this client ({:.0} with a client using no CPU). acmekit with its default \
         policy at higher concurrency reached {:.1} certificates/s ({}): **{:.0}% of the \
         measured ceiling** and {:.0}% of the CPU bound.\n",
        cores / server.max(1e-9),
        high.rate(),
        high.label,
        100.0 * high.rate() / best.rate().max(1e-9),
        100.0 * high.rate() / cpu_bound,
    );
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

const README_START: &str = "<!-- bench:start";
const README_END: &str = "<!-- bench:end -->";

/// Replaces the README's section between the bench markers with this
/// run's table, chart and command.
pub fn update_readme(path: &Path, report: &Report, out: &Path) -> Result<()> {
    let readme = std::fs::read_to_string(path)?;
    let out = out.display();
    let section = format!(
        "Measured with `{}` on {} ({}); method, library scaling and where the time goes \
         in [{out}/bench.md]({out}/bench.md), data in [{out}/bench.csv]({out}/bench.csv).\n\n{}\n\
         ![median seconds per certificate and certificates per second]({out}/bench.svg)\n",
        report.command(),
        report.started,
        report.machine,
        table(report),
    );
    let Some(updated) = replace_section(&readme, &section) else {
        eprintln!("bench: README.md has no bench markers; not updated");
        return Ok(());
    };
    std::fs::write(path, updated)?;
    eprintln!("bench: updated the Performance section of README.md");
    Ok(())
}

/// `readme` with the lines between the start marker's line and the end
/// marker replaced by `section`.
fn replace_section(readme: &str, section: &str) -> Option<String> {
    let start = readme.find(README_START)?;
    let body = start + readme[start..].find('\n')? + 1;
    let end = body + readme[body..].find(README_END)?;
    Some(format!("{}{section}{}", &readme[..body], &readme[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_section_is_replaced_between_the_markers() {
        let readme = "a\n<!-- bench:start (x) -->\nold\n<!-- bench:end -->\nb\n";
        assert_eq!(
            replace_section(readme, "new\n").as_deref(),
            Some("a\n<!-- bench:start (x) -->\nnew\n<!-- bench:end -->\nb\n")
        );
        assert_eq!(replace_section("no markers", "x"), None);
        assert_eq!(
            replace_section("<!-- bench:end -->\n<!-- bench:start -->\n", "x"),
            None
        );
    }
}
