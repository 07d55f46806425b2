//! The library, measured in its own process (`xtask bench-lib`), so that its
//! peak memory is measured like the other clients'.
//!
//! The worker builds one client and one account (not measured), prints
//! `ready`, then answers one JSON line per command read from stdin:
//!
//! - `issue`: one certificate for a fresh name;
//! - `batch COUNT CONCURRENCY`: COUNT certificates, at most CONCURRENCY at a
//!   time, on the one account;
//! - `trace`: one certificate step by step, timing each step.
//!
//! It exits at end of input. Challenges are answered in-process: the
//! solver POSTs to challtestsrv's management API, as the hook does.

use acmekit::http::BoxFuture;
use acmekit::{
    Account, AccountKey, CertificateKey, ChallengeTask, ChallengeType, Client, Identifier, KeyType,
    NewAccount, PollPolicy, Proof, Solver, SolverError,
};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::hook;
use super::proc::{self, Spec};
use super::stats;

/// How the worker's client polls (`None`: the library's default policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Poll {
    /// `PollPolicy::first_delay` in milliseconds.
    pub first_delay_ms: u64,
}

/// What the parent needs to start a worker.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// This binary (`xtask`).
    pub exe: PathBuf,
    /// Pebble's directory URL.
    pub directory: String,
    /// The listener CA (PEM file).
    pub ca: PathBuf,
    /// challtestsrv's management address.
    pub challtestsrv: String,
}

/// A running worker.
pub struct Worker {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    time_file: PathBuf,
    log: PathBuf,
}

impl Worker {
    /// Starts a worker under GNU time and waits until its account exists.
    pub fn start(config: &WorkerConfig, poll: Option<Poll>, scratch: &Path) -> Result<Worker> {
        std::fs::create_dir_all(scratch)?;
        let mut args: Vec<String> = vec![
            "bench-lib".into(),
            "--directory".into(),
            config.directory.clone(),
            "--ca".into(),
            config.ca.display().to_string(),
            "--challtestsrv".into(),
            config.challtestsrv.clone(),
        ];
        if let Some(p) = poll {
            args.extend(["--first-delay-ms".into(), p.first_delay_ms.to_string()]);
        }
        let time_file = scratch.join("time.out");
        let log = scratch.join("worker.log");
        let mut child = Spec::new(&config.exe, args)
            .timed_command(&time_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("cannot start the library worker")?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("worker stdout")?);
        let mut worker = Worker {
            child: Some(child),
            stdin,
            stdout,
            time_file,
            log,
        };
        let ready = worker.reply()?;
        if ready.get("ready").and_then(Value::as_bool) != Some(true) {
            bail!("the library worker did not start: {ready}");
        }
        Ok(worker)
    }

    /// Sends one command and reads its JSON reply.
    pub fn command(&mut self, line: &str) -> Result<Value> {
        let stdin = self.stdin.as_mut().context("worker already finished")?;
        writeln!(stdin, "{line}")?;
        stdin.flush()?;
        self.reply()
    }

    fn reply(&mut self) -> Result<Value> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            bail!("the library worker exited: {}", proc::last_lines(&log, 3));
        }
        serde_json::from_str(&line).with_context(|| format!("worker said {line:?}"))
    }

    /// Ends the worker (end of input) and returns its peak RSS in KiB.
    pub fn finish(mut self) -> Option<u64> {
        drop(self.stdin.take());
        let child = self.child.take()?;
        let (status, _) = proc::wait_timeout(child, Duration::from_secs(30));
        status?;
        std::fs::read_to_string(&self.time_file)
            .ok()?
            .lines()
            .rev()
            .find_map(|l| l.trim().parse().ok())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Some(child) = self.child.take() {
            let (status, _) = proc::wait_timeout(child, Duration::from_secs(10));
            let _ = status;
        }
    }
}

/// `xtask bench-lib --directory URL --ca PEM --challtestsrv ADDR
/// [--first-delay-ms N]`: the worker.
pub fn child_main(args: &[String]) -> Result<()> {
    let mut directory = None;
    let mut ca = None;
    let mut challtestsrv = None;
    let mut first_delay = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--directory" => directory = Some(value()?.clone()),
            "--ca" => ca = Some(value()?.clone()),
            "--challtestsrv" => challtestsrv = Some(value()?.clone()),
            "--first-delay-ms" => first_delay = Some(value()?.parse::<u64>()?),
            other => bail!("bench-lib: unknown argument {other}"),
        }
    }
    let (Some(directory), Some(ca), Some(challtestsrv)) = (directory, ca, challtestsrv) else {
        bail!("usage: xtask bench-lib --directory URL --ca PEM --challtestsrv ADDR [--first-delay-ms N]");
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let ca_pem = std::fs::read(&ca).with_context(|| format!("reading {ca}"))?;
    let mut builder = Client::builder(directory)
        .add_root_pem(&ca_pem)
        .only_added_roots();
    if let Some(ms) = first_delay {
        let mut policy = PollPolicy::default();
        policy.first_delay = Duration::from_millis(ms);
        builder = builder.poll_policy(policy);
    }
    let solver = Arc::new(ChalltestSolver {
        addr: challtestsrv,
        preferences: [ChallengeType::Dns01],
    });
    let account = rt.block_on(async {
        let client = builder.build().await?;
        let (account, _) = Account::create(
            &client,
            AccountKey::generate(KeyType::Es256)?,
            &NewAccount::agreeing_to_terms(["mailto:bench@example.com"]),
        )
        .await?;
        anyhow::Ok(account)
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", json!({ "ready": true }))?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["issue"] => rt.block_on(issue_one(&account, &solver)),
            ["batch", count, concurrency] => rt.block_on(batch(
                &account,
                &solver,
                count.parse()?,
                concurrency.parse()?,
            )),
            ["trace"] => rt.block_on(trace(&account, &solver)),
            _ => json!({ "error": format!("unknown command {line:?}") }),
        };
        writeln!(out, "{reply}")?;
        out.flush()?;
    }
    Ok(())
}

/// A deadline for one certificate, well past the library's own timeouts'
/// usual reach but short enough that a stuck run ends.
const CERT_TIMEOUT: Duration = Duration::from_secs(120);

async fn issue_one(account: &Account, solver: &Arc<ChalltestSolver>) -> Value {
    let requests = account.client().stats().requests;
    let cpu = proc::CpuClock::start();
    let started = Instant::now();
    let name = acmekit_testkit::unique_name();
    let result = tokio::time::timeout(
        CERT_TIMEOUT,
        account.issue(&[Identifier::dns(&name)], solver.as_ref()),
    )
    .await;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu.elapsed();
    let requests = account.client().stats().requests - requests;
    match result {
        Ok(Ok(issued)) if !issued.chain.certificates().is_empty() => {
            json!({ "ok": true, "wall": wall, "cpu": cpu, "client_requests": requests })
        }
        Ok(Ok(_)) => json!({ "ok": false, "error": "empty chain" }),
        Ok(Err(e)) => json!({ "ok": false, "error": e.to_string() }),
        Err(_) => json!({ "ok": false, "error": "timed out" }),
    }
}

async fn batch(
    account: &Account,
    solver: &Arc<ChalltestSolver>,
    count: usize,
    concurrency: usize,
) -> Value {
    let requests = account.client().stats().requests;
    let cpu = proc::CpuClock::start();
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.clamp(1, count.max(1)) {
        let (account, solver) = (account.clone(), solver.clone());
        let (next, latencies, errors) = (next.clone(), latencies.clone(), errors.clone());
        workers.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let t = Instant::now();
                let name = acmekit_testkit::unique_name();
                let r = tokio::time::timeout(
                    CERT_TIMEOUT,
                    account.issue(&[Identifier::dns(&name)], solver.as_ref()),
                )
                .await;
                match r {
                    Ok(Ok(_)) => lock(&latencies).push(t.elapsed().as_secs_f64()),
                    Ok(Err(e)) => lock(&errors).push(e.to_string()),
                    Err(_) => lock(&errors).push("timed out".to_owned()),
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu.elapsed();
    let requests = account.client().stats().requests - requests;
    let latencies = lock(&latencies).clone();
    let errors = lock(&errors).clone();
    json!({
        "ok": latencies.len(),
        "failed": errors.len(),
        "first_error": errors.first(),
        "wall": wall,
        "cpu": cpu,
        "client_requests": requests,
        "median_latency": stats::median(&latencies),
        "p99_latency": stats::percentile(&latencies, 99.0),
    })
}

/// One certificate step by step: seconds and requests of each step.
async fn trace(account: &Account, solver: &Arc<ChalltestSolver>) -> Value {
    match tokio::time::timeout(CERT_TIMEOUT, trace_steps(account, solver.as_ref())).await {
        Ok(Ok(steps)) => json!({ "ok": true, "steps": steps }),
        Ok(Err(e)) => json!({ "ok": false, "error": format!("{e:#}") }),
        Err(_) => json!({ "ok": false, "error": "timed out" }),
    }
}

async fn trace_steps(account: &Account, solver: &ChalltestSolver) -> Result<Vec<Value>> {
    let mut steps = Vec::new();
    let mut clock = StepClock::new(account);
    let name = acmekit_testkit::unique_name();
    let order = account
        .new_order(&acmekit::NewOrder::new([Identifier::dns(&name)]))
        .await?;
    steps.push(clock.step("newOrder"));
    let url = order.authorizations.first().context("no authorization")?;
    let authz = account.authorization(url).await?;
    steps.push(clock.step("fetch authorization"));
    let challenge = authz
        .challenge(&ChallengeType::Dns01)
        .context("no dns-01 challenge")?
        .clone();
    let Proof::Dns01(record) =
        Proof::new(&challenge, &authz.certificate_identifier(), account.key())?
    else {
        bail!("dns-01 gave no TXT record");
    };
    solver
        .post("/set-txt", hook::set_txt_body(&record.name, &record.value))
        .await
        .map_err(anyhow::Error::msg)?;
    steps.push(clock.step("publish TXT (challtestsrv)"));
    account.respond(&challenge).await?;
    steps.push(clock.step("answer challenge"));
    account.poll_authorization(url).await?;
    steps.push(clock.step("poll authorization (first delay + polls)"));
    solver
        .post("/clear-txt", hook::clear_txt_body(&record.name))
        .await
        .map_err(anyhow::Error::msg)?;
    steps.push(clock.step("remove TXT (challtestsrv)"));
    let key = CertificateKey::generate(KeyType::Es256)?;
    let csr = key.csr_der(&order.identifiers)?;
    steps.push(clock.step("key + CSR"));
    let finalized = account.finalize(&order, &csr).await?;
    steps.push(clock.step("finalize"));
    let valid = account.poll_until_valid(finalized).await?;
    steps.push(clock.step("poll order (first delay + polls)"));
    let cert = valid.certificate.context("no certificate URL")?;
    account.download_certificate(&cert).await?;
    steps.push(clock.step("download certificate"));
    Ok(steps)
}

/// Times consecutive steps and counts their requests.
struct StepClock<'a> {
    account: &'a Account,
    at: Instant,
    requests: u64,
}

impl<'a> StepClock<'a> {
    fn new(account: &'a Account) -> Self {
        StepClock {
            account,
            at: Instant::now(),
            requests: account.client().stats().requests,
        }
    }

    fn step(&mut self, name: &str) -> Value {
        let now = Instant::now();
        let requests = self.account.client().stats().requests;
        let step = json!({
            "step": name,
            "seconds": now.duration_since(self.at).as_secs_f64(),
            "requests": requests - self.requests,
        });
        self.at = now;
        self.requests = requests;
        step
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// dns-01 through challtestsrv's management API, in-process.
struct ChalltestSolver {
    addr: String,
    preferences: [ChallengeType; 1],
}

impl ChalltestSolver {
    async fn post(&self, path: &str, body: String) -> Result<(), SolverError> {
        let mut stream = tokio::net::TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        stream
            .write_all(&hook::request(&self.addr, path, &body))
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        hook::check_response(path, &response).map_err(Into::into)
    }
}

impl Solver for ChalltestSolver {
    fn preferences(&self) -> &[ChallengeType] {
        &self.preferences
    }

    fn present<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async move {
            match &task.proof {
                Proof::Dns01(d) => {
                    self.post("/set-txt", hook::set_txt_body(&d.name, &d.value))
                        .await
                }
                other => Err(format!("the bench solver cannot publish {other:?}").into()),
            }
        })
    }

    fn cleanup<'a>(&'a self, task: &'a ChallengeTask) -> BoxFuture<'a, Result<(), SolverError>> {
        Box::pin(async move {
            match &task.proof {
                Proof::Dns01(d) => self.post("/clear-txt", hook::clear_txt_body(&d.name)).await,
                _ => Ok(()),
            }
        })
    }
}
