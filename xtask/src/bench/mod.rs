//! `cargo xtask bench`: acmekit (library and CLI), uacme, certbot and lego
//! side by side against one loopback Pebble, every challenge answered as
//! dns-01 through pebble-challtestsrv's management API.
//!
//! Phases, all in one run against one Pebble:
//!
//! 1. set-up: one account per client (not measured);
//! 2. rounds: one certificate at a time for a fresh name, clients
//!    interleaved (the order rotates every round): wall time, CPU, peak
//!    memory, and requests counted from Pebble's log between marks;
//! 3. throughput: N certificates per client, C at a time;
//! 4. library only: 1…1000 certificates in one process, higher
//!    concurrency, Pebble's ceiling, and a step-by-step trace of one
//!    certificate;
//!
//! then the table on stdout and `bench.{md,csv,svg}` under `--out`.

pub mod hook;
pub mod library;
mod markdown;
mod options;
mod peers;
mod proc;
mod report;
mod stats;
mod svg;

use acmekit_testkit::Pebble;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use library::{Poll, Worker, WorkerConfig};
use options::Options;
use peers::{Ctx, Peer};
use proc::{Spec, TempDir};
use report::{LibRun, Report, RoundSample, Row, Throughput, Trace};

/// `cargo xtask bench [OPTIONS]`.
pub fn run(args: &[String]) -> Result<()> {
    let Some(opts) = Options::parse(args)? else {
        print!("{}", options::USAGE);
        return Ok(());
    };
    if opts.install {
        crate::install_missing(&[
            ("pebble", "pebble"),
            ("openssl", "openssl"),
            ("lego", "lego"),
            ("certbot", "certbot"),
            ("uacme", "uacme"),
            (proc::TIME, "time"),
        ])?;
    }
    let (xtask, acmekit) = build(&opts)?;
    let scratch = TempDir::new("acmekit-bench")?;
    let hooks = scratch.path().join("bin");
    std::fs::create_dir_all(&hooks)?;
    for name in hook::ALL {
        std::os::unix::fs::symlink(&xtask, hooks.join(name))?;
    }

    eprintln!("bench: starting Pebble and pebble-challtestsrv on loopback");
    let pebble = Pebble::builder()
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .start();
    let ca = scratch.path().join("pebble-listener-ca.pem");
    std::fs::write(&ca, pebble.listener_ca_pem())?;
    let challtestsrv = pebble
        .challtestsrv_url()
        .trim_start_matches("http://")
        .to_owned();
    let ctx = Ctx {
        directory: pebble.directory_url(),
        ca: ca.clone(),
        dns_port: pebble.dns_port(),
        challtestsrv: challtestsrv.clone(),
        hooks,
        work: scratch.path().to_owned(),
        acmekit,
        timeout: opts.timeout,
    };
    let worker = WorkerConfig {
        exe: xtask,
        directory: pebble.directory_url(),
        ca,
        challtestsrv,
    };
    let bench = Bench {
        opts: &opts,
        pebble: &pebble,
        ctx: &ctx,
        worker: &worker,
        servers: ServerPids::find(),
    };
    let report = bench.run()?;

    let table = report::table(&report);
    println!("{table}");
    let out = workspace_root().join(&opts.out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    std::fs::write(out.join("bench.csv"), report::csv(&report))?;
    std::fs::write(out.join("bench-library.csv"), report::library_csv(&report))?;
    std::fs::write(out.join("bench.svg"), svg::chart(&report))?;
    std::fs::write(out.join("bench.md"), markdown::markdown(&report))?;
    eprintln!(
        "bench: wrote {}/bench.md, bench.csv, bench-library.csv and bench.svg",
        out.display()
    );
    if opts.updates_readme() {
        markdown::update_readme(&workspace_root().join("README.md"), &report, &opts.out)?;
    }
    Ok(())
}

/// The workspace root (xtask's parent directory).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Builds the `acmekit` CLI and this binary with the chosen profile and
/// returns their paths (xtask, acmekit).
fn build(opts: &Options) -> Result<(PathBuf, PathBuf)> {
    let profile = if opts.release { "release" } else { "dev" };
    eprintln!("bench: building acmekit and the bench worker ({profile} profile)");
    let mut cmd = crate::cargo();
    cmd.args(["build", "--quiet", "-p", "acmekit-cli", "-p", "xtask"]);
    if opts.release {
        cmd.arg("--release");
    }
    crate::run(cmd.current_dir(workspace_root()))?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join(if opts.release { "release" } else { "debug" });
    let (xtask, acmekit) = (target.join("xtask"), target.join("acmekit"));
    peers::require(&xtask, "the xtask binary")?;
    peers::require(&acmekit, "the acmekit binary")?;
    Ok((xtask, acmekit))
}

/// Pebble's and challtestsrv's process IDs, for their CPU time.
struct ServerPids {
    pebble: Option<u32>,
    challtestsrv: Option<u32>,
}

impl ServerPids {
    fn find() -> ServerPids {
        let pebble = proc::find_descendants("pebble")
            .into_iter()
            .find(|p| proc_comm(*p).as_deref() == Some("pebble"));
        let challtestsrv = proc::find_descendants("pebble-chall").into_iter().next();
        ServerPids {
            pebble,
            challtestsrv,
        }
    }

    /// CPU seconds both servers used so far.
    fn cpu(&self) -> f64 {
        [self.pebble, self.challtestsrv]
            .into_iter()
            .flatten()
            .map(proc::process_cpu)
            .sum()
    }
}

fn proc_comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_owned())
}

/// Everything one run needs.
struct Bench<'a> {
    opts: &'a Options,
    pebble: &'a Pebble,
    ctx: &'a Ctx,
    worker: &'a WorkerConfig,
    servers: ServerPids,
}

/// A client in the rounds: the library worker or a process peer.
enum Contender {
    Library { worker: Worker },
    Process(Box<dyn Peer>),
}

impl Bench<'_> {
    fn run(&self) -> Result<Report> {
        let started = report::now_utc();
        let load_before = report::loadavg();
        let floor = self.launch_floor();
        let (mut contenders, mut rows) = self.setup();
        if contenders.iter().all(Option::is_none) {
            let why: Vec<String> = rows
                .iter()
                .filter_map(|r| Some(format!("{}: {}", r.label, r.setup_error.as_ref()?)))
                .collect();
            bail!("no client could be set up:\n{}", why.join("\n"));
        }
        self.rounds(&mut contenders, &mut rows);

        let mut peers: Vec<(usize, Box<dyn Peer>)> = Vec::new();
        for (i, c) in contenders.into_iter().enumerate() {
            match c {
                Some(Contender::Library { worker }) => rows[i].peak_kb = worker.finish(),
                Some(Contender::Process(p)) => peers.push((i, p)),
                None => {}
            }
        }

        let (count, conc) = (self.opts.throughput_count, self.opts.concurrency);
        let mut lib_runs = Vec::new();
        if count > 0 {
            if let Some(row) = rows
                .iter_mut()
                .find(|r| r.id == "lib" && r.setup_error.is_none())
            {
                let run = self.lib_batch("throughput", count, conc, None);
                row.throughput = Some(run.as_throughput());
                lib_runs.push(run);
            }
            for (i, peer) in &mut peers {
                rows[*i].throughput = Some(self.peer_throughput(peer.as_mut(), count, conc));
            }
        }
        drop(peers);
        if self.opts.wants("lib") {
            lib_runs.extend(self.library_extras());
        }
        let traces = if self.opts.wants("lib") && self.opts.trace > 0 {
            self.traces()
        } else {
            Vec::new()
        };
        Ok(Report {
            opts: self.opts.clone(),
            rows,
            lib_runs,
            traces,
            floor,
            started,
            load_before,
            load_after: report::loadavg(),
            machine: report::machine(),
            pebble_version: peers::package_version("pebble"),
        })
    }

    /// Requests Pebble has logged, once its log has caught up (the log is
    /// read by a thread: wait until two readings agree).
    fn requests(&self) -> usize {
        let mut last = self.pebble.request_count();
        loop {
            std::thread::sleep(Duration::from_millis(3));
            let now = self.pebble.request_count();
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// What starting a process under GNU time costs at least (`true`).
    fn launch_floor(&self) -> Option<(f64, f64)> {
        let dir = self.ctx.dir("floor");
        std::fs::create_dir_all(&dir).ok()?;
        let samples: Vec<proc::Outcome> = (0..20)
            .map(|_| proc::measure(&Spec::new("true", [""; 0]), &dir, self.opts.timeout))
            .filter(|o| o.ok)
            .collect();
        let wall: Vec<f64> = samples.iter().map(|o| o.wall).collect();
        let cpu: Vec<f64> = samples.iter().map(|o| o.cpu).collect();
        Some((stats::median(&wall)?, stats::mean(&cpu)?))
    }

    /// One row per client, with its contender (`None` when set-up failed).
    fn setup(&self) -> (Vec<Option<Contender>>, Vec<Row>) {
        let mut contenders = Vec::new();
        let mut rows = Vec::new();
        if self.opts.wants("lib") {
            let mut libs = vec![None];
            libs.extend(self.opts.experiments.iter().map(|ms| Some(*ms)));
            for first_delay_ms in libs {
                let (id, label) = match first_delay_ms {
                    None => (
                        "lib".to_owned(),
                        format!(
                            "acmekit {} library (one process)",
                            env!("CARGO_PKG_VERSION")
                        ),
                    ),
                    Some(ms) => (
                        format!("lib-{ms}ms"),
                        format!("acmekit library, PollPolicy first_delay {ms} ms"),
                    ),
                };
                eprintln!("bench: setting up {label}");
                let mut row = Row::new(&id, &label, first_delay_ms.is_none());
                let poll = first_delay_ms.map(|ms| Poll { first_delay_ms: ms });
                match Worker::start(self.worker, poll, &self.ctx.dir(&id)) {
                    Ok(worker) => contenders.push(Some(Contender::Library { worker })),
                    Err(e) => {
                        eprintln!("bench: {label}: set-up failed: {e:#}");
                        row.setup_error = Some(format!("{e:#}"));
                        contenders.push(None);
                    }
                }
                rows.push(row);
            }
        }
        for mut peer in peers::by_ids(&self.opts.clients) {
            let label = peer.label();
            eprintln!("bench: setting up {label} (account)");
            let mut row = Row::new(peer.id(), &label, true);
            match peer.setup(self.ctx) {
                Ok(()) => contenders.push(Some(Contender::Process(peer))),
                Err(e) => {
                    eprintln!("bench: {label}: set-up failed, skipped: {e:#}");
                    row.setup_error = Some(format!("{e:#}"));
                    contenders.push(None);
                }
            }
            rows.push(row);
        }
        (contenders, rows)
    }

    /// One certificate at a time per client, interleaved, the order
    /// rotating every round; the first `--warmup` rounds are not kept.
    fn rounds(&self, contenders: &mut [Option<Contender>], rows: &mut [Row]) {
        let active: Vec<usize> = (0..contenders.len())
            .filter(|i| contenders[*i].is_some())
            .collect();
        let total = self.opts.warmup + self.opts.rounds;
        for round in 0..total {
            let warm = round < self.opts.warmup;
            let mut order = active.clone();
            let shift = round % order.len().max(1);
            order.rotate_left(shift);
            let mut line = if warm {
                format!("bench: warm-up {}/{}:", round + 1, self.opts.warmup)
            } else {
                format!(
                    "bench: round {}/{}:",
                    round + 1 - self.opts.warmup,
                    self.opts.rounds
                )
            };
            for i in order {
                let Some(contender) = contenders[i].as_mut() else {
                    continue;
                };
                let before = self.requests();
                let sample = self.one(contender);
                let requests = self.requests() - before;
                let row = &mut rows[i];
                match sample {
                    Ok(mut s) => {
                        s.requests = requests;
                        line.push_str(&format!(" {} {:.3}s/{}req", row.id, s.wall, requests));
                        if !warm {
                            row.rounds.push(s);
                        }
                    }
                    Err(e) => {
                        line.push_str(&format!(" {} FAILED", row.id));
                        eprintln!("bench: {}: {e}", row.label);
                        if !warm {
                            row.failures.push(e);
                        }
                    }
                }
            }
            eprintln!("{line}");
        }
    }

    /// One measured certificate.
    fn one(&self, contender: &mut Contender) -> Result<RoundSample, String> {
        match contender {
            Contender::Library { worker } => {
                let reply = worker.command("issue").map_err(|e| format!("{e:#}"))?;
                if reply["ok"].as_bool() != Some(true) {
                    return Err(reply["error"].as_str().unwrap_or("failed").to_owned());
                }
                Ok(RoundSample {
                    wall: reply["wall"].as_f64().unwrap_or(0.0),
                    cpu: reply["cpu"].as_f64().unwrap_or(0.0),
                    requests: 0,
                    peak_kb: None,
                })
            }
            Contender::Process(peer) => {
                let name = acmekit_testkit::unique_name();
                let spec = peer.issue(self.ctx, &name, 0);
                let o = proc::measure(&spec, &self.ctx.dir(peer.id()), self.opts.timeout);
                if !o.ok {
                    return Err(o.detail);
                }
                Ok(RoundSample {
                    wall: o.wall,
                    cpu: o.cpu,
                    requests: 0,
                    peak_kb: o.peak_kb,
                })
            }
        }
    }

    /// `count` certificates, `concurrency` processes at a time.
    fn peer_throughput(&self, peer: &mut dyn Peer, count: usize, concurrency: usize) -> Throughput {
        let label = peer.label();
        eprintln!("bench: {label}: {count} certificates, {concurrency} at a time");
        let mut result = Throughput {
            count,
            concurrency,
            ok: 0,
            failed: 0,
            wall: 0.0,
            requests: 0,
            first_error: None,
        };
        if let Err(e) = peer.prepare_slots(self.ctx, concurrency) {
            result.failed = count;
            result.first_error = Some(format!("{e:#}"));
            return result;
        }
        let peer: &dyn Peer = peer;
        let names: Vec<String> = (0..count).map(|_| acmekit_testkit::unique_name()).collect();
        let next = AtomicUsize::new(0);
        let ok = AtomicUsize::new(0);
        let errors = Mutex::new(Vec::new());
        let dir = self.ctx.dir(peer.id());
        let before = self.requests();
        let started = Instant::now();
        std::thread::scope(|s| {
            for slot in 0..concurrency.min(count) {
                let (names, next, ok, errors, dir) = (&names, &next, &ok, &errors, &dir);
                s.spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= names.len() {
                        break;
                    }
                    let spec = peer.issue(self.ctx, &names[i], slot);
                    let log = dir.join(format!("throughput-{slot}.log"));
                    match proc::run_quiet(&spec, &log, self.opts.timeout) {
                        Ok(()) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => errors.lock().unwrap_or_else(|p| p.into_inner()).push(e),
                    }
                });
            }
        });
        result.wall = started.elapsed().as_secs_f64();
        result.requests = self.requests() - before;
        result.ok = ok.load(Ordering::Relaxed);
        let errors = errors.into_inner().unwrap_or_else(|p| p.into_inner());
        result.failed = errors.len();
        result.first_error = errors.into_iter().next();
        eprintln!(
            "bench: {label}: {:.2} certificates/s ({} failed)",
            result.rate(),
            result.failed
        );
        result
    }

    /// `count` certificates with `concurrency` at a time in a fresh
    /// library worker.
    fn lib_batch(
        &self,
        group: &'static str,
        count: usize,
        concurrency: usize,
        first_delay_ms: Option<u64>,
    ) -> LibRun {
        let poll = first_delay_ms.map(|ms| format!(", first poll after {ms} ms"));
        let label = format!(
            "{count} certificates, {concurrency} at a time{}",
            poll.unwrap_or_default()
        );
        eprintln!("bench: library: {label}");
        let mut run = LibRun::new(group, label, count, concurrency, first_delay_ms);
        let dir = self.ctx.dir(&format!(
            "lib-{group}-{count}-{concurrency}-{}",
            first_delay_ms.map_or("default".into(), |ms| ms.to_string())
        ));
        let poll = first_delay_ms.map(|ms| Poll { first_delay_ms: ms });
        let mut worker = match Worker::start(self.worker, poll, &dir) {
            Ok(w) => w,
            Err(e) => {
                run.first_error = Some(format!("{e:#}"));
                run.failed = count;
                return run;
            }
        };
        let before = self.requests();
        let server_cpu = self.servers.cpu();
        let reply = worker.command(&format!("batch {count} {concurrency}"));
        run.requests = self.requests() - before;
        run.server_cpu = self.servers.cpu() - server_cpu;
        run.peak_kb = worker.finish();
        match reply {
            Ok(v) => run.fill(&v),
            Err(e) => {
                run.failed = count;
                run.first_error = Some(format!("{e:#}"));
            }
        }
        eprintln!(
            "bench: library: {:.1} certificates/s, {} failed",
            run.rate(),
            run.failed
        );
        run
    }

    /// The library beyond the main table: sizes, higher concurrency, and
    /// Pebble's ceiling (the same batches with the first poll after 1 ms).
    fn library_extras(&self) -> Vec<LibRun> {
        let o = self.opts;
        let mut runs = Vec::new();
        // Higher concurrency first: Pebble 2.4's store slows down with every
        // certificate it holds and, past ~1,000, deadlocks even at 16 at a
        // time; the 1,000-certificate size run comes after.
        if o.high_count > 0 {
            for &c in &o.high {
                runs.push(self.lib_batch("concurrency", o.high_count, c, None));
            }
            // The 1 ms first poll only at the throughput level: with it,
            // Pebble 2.4 deadlocks already at 16 at a time.
            runs.push(self.lib_batch("ceiling", o.high_count, o.concurrency, Some(1)));
        }
        for &n in &o.sizes {
            runs.push(self.lib_batch("size", n, o.size_concurrency.min(n.max(1)), None));
        }
        runs
    }

    /// One certificate at a time, step by step, with the default policy
    /// and with the first poll after 1 ms.
    fn traces(&self) -> Vec<Trace> {
        let mut traces = Vec::new();
        for first_delay_ms in [None, Some(1)] {
            let label = match first_delay_ms {
                None => "default PollPolicy".to_owned(),
                Some(ms) => format!("PollPolicy first_delay {ms} ms"),
            };
            eprintln!(
                "bench: library: {} step-by-step certificates, {label}",
                self.opts.trace
            );
            let mut trace = Trace::new(label);
            let dir = self
                .ctx
                .dir(&format!("lib-trace-{}", first_delay_ms.unwrap_or(0)));
            let poll = first_delay_ms.map(|ms| Poll { first_delay_ms: ms });
            match Worker::start(self.worker, poll, &dir) {
                Ok(mut worker) => {
                    for _ in 0..self.opts.trace {
                        match worker.command("trace") {
                            Ok(v) if v["ok"].as_bool() == Some(true) => trace.add(&v["steps"]),
                            Ok(v) => trace.errors.push(v["error"].to_string()),
                            Err(e) => trace.errors.push(format!("{e:#}")),
                        }
                    }
                    let _ = worker.finish();
                }
                Err(e) => trace.errors.push(format!("{e:#}")),
            }
            traces.push(trace);
        }
        traces
    }
}
