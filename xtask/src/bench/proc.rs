//! Running and measuring client processes: wall time, CPU of the process
//! and every child it waited for (hooks), peak memory, timeouts that kill
//! the whole process tree, and `/proc` readings.

use anyhow::{bail, Context, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// GNU time, for the peak memory (maximum resident set size) of a process.
pub const TIME: &str = "/usr/bin/time";

/// One command to run: program, arguments, extra environment, directory.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The program (a path or a name on `PATH`).
    pub program: OsString,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Extra environment variables.
    pub env: Vec<(OsString, OsString)>,
}

impl Spec {
    /// `program args…` with no extra environment.
    pub fn new<I, S>(program: impl Into<OsString>, args: I) -> Spec
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Spec {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: Vec::new(),
        }
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Spec {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The command as is.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).envs(self.env.iter().cloned());
        cmd
    }

    /// The command under GNU time, which writes the peak RSS (KiB) to
    /// `time_file`.
    pub fn timed_command(&self, time_file: &Path) -> Command {
        let mut cmd = Command::new(TIME);
        cmd.arg("-f")
            .arg("%M")
            .arg("-o")
            .arg(time_file)
            .arg("--")
            .arg(&self.program)
            .args(&self.args)
            .envs(self.env.iter().cloned());
        cmd
    }

    /// `program args…` for messages.
    pub fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What one measured process did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Exited with status 0 within the timeout.
    pub ok: bool,
    /// Seconds from spawn to exit.
    pub wall: f64,
    /// User + system CPU seconds of the process and the children it waited
    /// for (GNU time's own small share included).
    pub cpu: f64,
    /// Peak resident set size in KiB (GNU time's `%M`).
    pub peak_kb: Option<u64>,
    /// Why it failed: exit status and the last lines of its output.
    pub detail: String,
}

/// Runs `spec` under GNU time with output to `log` and returns what it
/// did. CPU comes from this process's `cutime + cstime` before and after
/// reaping it, so no other child may be reaped meanwhile.
pub fn measure(spec: &Spec, scratch: &Path, timeout: Duration) -> Outcome {
    let time_file = scratch.join("time.out");
    let log = scratch.join("output.log");
    let _ = std::fs::remove_file(&time_file);
    let before = children_cpu();
    let start = Instant::now();
    let spawned = output_to(&mut spec.timed_command(&time_file), &log).and_then(|c| {
        c.spawn()
            .with_context(|| format!("cannot start {}", spec.display()))
    });
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                ok: false,
                wall: 0.0,
                cpu: 0.0,
                peak_kb: None,
                detail: format!("{e:#}"),
            }
        }
    };
    let (status, end) = wait_timeout(child, timeout);
    let cpu = children_cpu() - before;
    let wall = end.duration_since(start).as_secs_f64();
    let peak_kb = std::fs::read_to_string(&time_file)
        .ok()
        .and_then(|s| s.lines().rev().find_map(|l| l.trim().parse().ok()));
    let ok = status.is_some_and(|s| s.success());
    let detail = if ok {
        String::new()
    } else {
        failure_detail(status, timeout, &log)
    };
    Outcome {
        ok,
        wall,
        cpu,
        peak_kb,
        detail,
    }
}

/// Runs `spec` (unmeasured) with output to `log`; an error names the exit
/// status and the output's last lines.
pub fn run_checked(spec: &Spec, log: &Path, timeout: Duration) -> Result<()> {
    let child = output_to(&mut spec.command(), log)?
        .spawn()
        .with_context(|| format!("cannot start {}", spec.display()))?;
    let (status, _) = wait_timeout(child, timeout);
    if status.is_some_and(|s| s.success()) {
        return Ok(());
    }
    bail!(
        "`{}` failed: {}",
        spec.display(),
        failure_detail(status, timeout, log)
    )
}

/// Runs `spec` without GNU time (throughput phases): `Ok` or why not.
pub fn run_quiet(spec: &Spec, log: &Path, timeout: Duration) -> Result<(), String> {
    let child = output_to(&mut spec.command(), log)
        .and_then(|c| Ok(c.spawn()?))
        .map_err(|e| format!("cannot start {}: {e:#}", spec.display()))?;
    let (status, _) = wait_timeout(child, timeout);
    if status.is_some_and(|s| s.success()) {
        Ok(())
    } else {
        Err(failure_detail(status, timeout, log))
    }
}

fn output_to<'c>(cmd: &'c mut Command, log: &Path) -> Result<&'c mut Command> {
    let out = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    Ok(cmd.stdin(Stdio::null()).stdout(out).stderr(err))
}

fn failure_detail(status: Option<ExitStatus>, timeout: Duration, log: &Path) -> String {
    let status = match status {
        Some(s) => s.to_string(),
        None => format!("killed after the {}s timeout", timeout.as_secs()),
    };
    let tail = std::fs::read_to_string(log)
        .map(|s| last_lines(&s, 3))
        .unwrap_or_default();
    if tail.is_empty() {
        status
    } else {
        format!("{status}: {tail}")
    }
}

/// The last `n` non-empty lines of `text`, joined with " | ".
pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Waits for `child` (reaping it) for at most `timeout`, then kills its
/// whole process tree. Returns the exit status (`None` when killed) and
/// the moment it exited, taken by the waiting thread.
pub fn wait_timeout(child: Child, timeout: Duration) -> (Option<ExitStatus>, Instant) {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let mut child = child;
        let status = child.wait().ok();
        let _ = tx.send((status, Instant::now()));
    });
    let result = match rx.recv_timeout(timeout) {
        Ok(r) => r,
        Err(_) => {
            kill_tree(pid);
            let (_, at) = rx.recv().unwrap_or((None, Instant::now()));
            (None, at)
        }
    };
    let _ = waiter.join();
    result
}

/// SIGKILLs `pid` and every descendant of it.
pub fn kill_tree(pid: u32) {
    let mut pids = descendants(pid);
    pids.push(pid);
    let _ = Command::new("kill")
        .arg("-KILL")
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// One `/proc/PID/stat` line, split after the command name.
#[derive(Debug)]
struct Stat {
    comm: String,
    /// Fields from the 3rd (`state`) on.
    fields: Vec<String>,
}

impl Stat {
    fn read(pid: &str) -> Option<Stat> {
        parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
    }

    /// Field `n` as numbered in proc(5) (1-based; `n >= 3`).
    fn field(&self, n: usize) -> u64 {
        self.fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .unwrap_or(0)
    }
}

fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    Some(Stat {
        comm: text[open + 1..close].to_owned(),
        fields: text[close + 1..]
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    })
}

/// Every process as `(pid, parent pid, command name)`.
fn processes() -> Vec<(u32, u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let name = e.ok()?.file_name().into_string().ok()?;
        let pid: u32 = name.parse().ok()?;
        let stat = Stat::read(&name)?;
        Some((pid, stat.field(4) as u32, stat.comm))
    })
    .collect()
}

/// Every descendant of `pid`, deepest first.
pub fn descendants(pid: u32) -> Vec<u32> {
    let all = processes();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, pp, _) in &all {
            if *pp == parent && !found.contains(p) {
                found.push(*p);
                frontier.push(*p);
            }
        }
    }
    found.reverse();
    found
}

/// Descendants of this process whose command name starts with `comm`.
pub fn find_descendants(comm: &str) -> Vec<u32> {
    let all = processes();
    descendants(std::process::id())
        .into_iter()
        .filter(|pid| all.iter().any(|(p, _, c)| p == pid && c.starts_with(comm)))
        .collect()
}

/// Clock ticks per second of `/proc` CPU times.
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user + system) of the children this process has reaped.
pub fn children_cpu() -> f64 {
    // First, so that the first call's `getconf` is reaped before reading.
    let ticks = ticks_per_second();
    Stat::read("self").map_or(0.0, |s| (s.field(16) + s.field(17)) as f64 / ticks)
}

/// CPU seconds (user + system, all threads) of this process.
pub fn self_cpu() -> f64 {
    process_cpu_of("self")
}

/// A CPU clock for this process: nanosecond-precise from the live threads'
/// `/proc/self/task/*/schedstat`, falling back to the tick-precise
/// `/proc/self/stat` when a thread ended in between (its time would be
/// missing from the sum).
#[derive(Debug)]
pub struct CpuClock {
    ticks: f64,
    threads: Vec<(String, u64)>,
}

impl CpuClock {
    /// Starts measuring.
    pub fn start() -> CpuClock {
        CpuClock {
            threads: thread_times(),
            ticks: self_cpu(),
        }
    }

    /// CPU seconds used since `start`.
    pub fn elapsed(&self) -> f64 {
        let ticks = self_cpu() - self.ticks;
        let now = thread_times();
        let mut ns = 0u64;
        for (tid, before) in &self.threads {
            match now.iter().find(|(t, _)| t == tid) {
                Some((_, after)) => ns += after.saturating_sub(*before),
                None => return ticks,
            }
        }
        ns += now
            .iter()
            .filter(|(t, _)| !self.threads.iter().any(|(s, _)| s == t))
            .map(|(_, v)| v)
            .sum::<u64>();
        ns as f64 / 1e9
    }
}

/// `(thread id, nanoseconds on a CPU)` of this process's threads.
fn thread_times() -> Vec<(String, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let tid = e.ok()?.file_name().into_string().ok()?;
        let text = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).ok()?;
        let ns = text.split_whitespace().next()?.parse().ok()?;
        Some((tid, ns))
    })
    .collect()
}

/// CPU seconds (user + system, all threads) of process `pid`.
pub fn process_cpu(pid: u32) -> f64 {
    process_cpu_of(&pid.to_string())
}

fn process_cpu_of(pid: &str) -> f64 {
    let ticks = ticks_per_second();
    Stat::read(pid).map_or(0.0, |s| (s.field(14) + s.field(15)) as f64 / ticks)
}

/// A directory removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh directory `PREFIX-PID` under the system temp dir. Those of
    /// earlier runs that were killed before they could clean up (their
    /// process is gone) are removed first.
    pub fn new(prefix: &str) -> Result<TempDir> {
        remove_stale(prefix);
        let path = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir(path))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

/// Removes `PREFIX-PID` directories whose process no longer exists.
fn remove_stale(prefix: &str) {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let s = parse_stat("42 (a) b (c)) S 7 42 42 0 -1 0 0 0 0 0 11 12 13 14 20 0").unwrap();
        assert_eq!(s.comm, "a) b (c)");
        assert_eq!(s.field(4), 7);
        assert_eq!(s.field(14), 11);
        assert_eq!(s.field(17), 14);
    }

    #[test]
    fn last_lines_skips_blanks() {
        assert_eq!(last_lines("a\n\nb\n c \n\n", 2), "b | c");
        assert_eq!(last_lines("", 2), "");
    }
}
