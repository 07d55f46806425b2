//! `cargo xtask bench` flags.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: cargo xtask bench [OPTIONS]

Issues certificates from a loopback Pebble with acmekit (library and CLI),
uacme, certbot and lego, interleaved in one run, every challenge answered
as dns-01 through pebble-challtestsrv's management API. Prints the table
and writes docs/bench.md, docs/bench.csv and docs/bench.svg.

  --quick                 small sizes for a smoke test: --rounds 3
                          --throughput-count 16 --sizes 1,10 --high 32
                          --high-count 64 --trace 3
  --rounds N              one-at-a-time certificates per client [20]
  --warmup N              unmeasured rounds first [1]
  --throughput-count N    certificates per client in the throughput
                          phase [40]
  --concurrency N         at a time in the throughput phase [8]
  --sizes A,B,..          library: certificates in one process [1,10,100,1000]
  --size-concurrency N    library: at a time for --sizes [8]
  --high A,B,..           library: higher concurrency levels [16]; Pebble's
                          ceiling is also probed at --concurrency with the
                          first poll after 1 ms. Pebble 2.4 deadlocks at
                          24+ (16 with 1 ms polls): see docs/bench.md
  --high-count N          library: certificates per higher level [400]
  --trace N               library: step-by-step certificates [20]
  --experiment-ms A,B,..  library: extra interleaved rows with
                          PollPolicy::first_delay = A ms (not in the main
                          table; empty to skip) [1,5]
  --clients A,B,..        among lib,cli,uacme,certbot,lego [all]
  --timeout SECS          per certificate (process) before it is killed [120]
  --profile dev|release   how acmekit and the worker are built [release]
  --out DIR               where bench.{md,csv,svg} go [docs]; with the
                          default, a run at the default sizes (no --quick,
                          no size flags) also rewrites the README's
                          Performance section
  --no-install            do not apt-get install missing peers
";

/// Every client, in table order.
pub const CLIENTS: [&str; 5] = ["lib", "cli", "uacme", "certbot", "lego"];

/// The parsed flags.
#[derive(Clone, Debug)]
pub struct Options {
    pub rounds: usize,
    pub warmup: usize,
    pub throughput_count: usize,
    pub concurrency: usize,
    pub sizes: Vec<usize>,
    pub size_concurrency: usize,
    pub high: Vec<usize>,
    pub high_count: usize,
    pub trace: usize,
    pub experiments: Vec<u64>,
    pub clients: Vec<String>,
    pub timeout: Duration,
    pub release: bool,
    pub out: PathBuf,
    pub install: bool,
    /// The flags as given, for the report's command line.
    pub given: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rounds: 20,
            warmup: 1,
            throughput_count: 40,
            concurrency: 8,
            sizes: vec![1, 10, 100, 1000],
            size_concurrency: 8,
            // Pebble 2.4 deadlocks at 24 or more concurrent issuances
            // (docs/bench.md): every later configuration would fail.
            high: vec![16],
            high_count: 400,
            trace: 20,
            experiments: vec![1, 5],
            clients: CLIENTS.iter().map(|c| (*c).to_owned()).collect(),
            timeout: Duration::from_secs(120),
            release: true,
            out: PathBuf::from("docs"),
            install: true,
            given: Vec::new(),
        }
    }
}

impl Options {
    /// Parses the flags; `None` when `--help` was asked for.
    pub fn parse(args: &[String]) -> Result<Option<Options>> {
        let mut o = Options {
            given: args.to_vec(),
            ..Options::default()
        };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .map(String::as_str)
                    .with_context(|| format!("{flag} needs a value (see --help)"))
            };
            match flag.as_str() {
                "-h" | "--help" => return Ok(None),
                "--quick" => {
                    o.rounds = 3;
                    o.throughput_count = 16;
                    o.sizes = vec![1, 10];
                    o.high = vec![16];
                    o.high_count = 64;
                    o.trace = 3;
                }
                "--rounds" => o.rounds = number(flag, value()?)?,
                "--warmup" => o.warmup = number(flag, value()?)?,
                "--throughput-count" => o.throughput_count = number(flag, value()?)?,
                "--concurrency" => o.concurrency = positive(flag, value()?)?,
                "--sizes" => o.sizes = list(flag, value()?)?,
                "--size-concurrency" => o.size_concurrency = positive(flag, value()?)?,
                "--high" => o.high = list(flag, value()?)?,
                "--high-count" => o.high_count = number(flag, value()?)?,
                "--trace" => o.trace = number(flag, value()?)?,
                "--experiment-ms" => o.experiments = list(flag, value()?)?,
                "--clients" => {
                    o.clients = value()?
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned)
                        .collect();
                    if let Some(bad) = o.clients.iter().find(|c| !CLIENTS.contains(&c.as_str())) {
                        bail!(
                            "--clients: unknown client {bad:?} (known: {})",
                            CLIENTS.join(",")
                        );
                    }
                }
                "--timeout" => o.timeout = Duration::from_secs(positive(flag, value()?)? as u64),
                "--profile" => {
                    o.release = match value()? {
                        "release" => true,
                        "dev" => false,
                        other => bail!("--profile: {other:?} is neither dev nor release"),
                    }
                }
                "--out" => o.out = PathBuf::from(value()?),
                "--no-install" => o.install = false,
                other => bail!("unknown flag {other:?}\n\n{USAGE}"),
            }
        }
        if o.rounds == 0 {
            bail!("--rounds must be at least 1");
        }
        Ok(Some(o))
    }

    /// Whether this run rewrites the README's table: a full run (default
    /// sizes and clients) written to the default place.
    pub fn updates_readme(&self) -> bool {
        let d = Options::default();
        self.out == d.out
            && self.clients == d.clients
            && self.rounds >= d.rounds
            && self.throughput_count == d.throughput_count
            && self.concurrency == d.concurrency
            && self.sizes == d.sizes
            && self.high == d.high
            && self.high_count == d.high_count
            && self.release
    }

    /// Whether `client` takes part.
    pub fn wants(&self, client: &str) -> bool {
        self.clients.iter().any(|c| c == client)
    }
}

fn number(flag: &str, v: &str) -> Result<usize> {
    v.parse()
        .with_context(|| format!("{flag}: {v:?} is not a number"))
}

fn positive(flag: &str, v: &str) -> Result<usize> {
    match number(flag, v)? {
        0 => bail!("{flag} must be at least 1"),
        n => Ok(n),
    }
}

fn list<T: std::str::FromStr>(flag: &str, v: &str) -> Result<Vec<T>> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| anyhow::anyhow!("{flag}: {s:?} is not a number"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Options>> {
        Options::parse(&args.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_override_quick_in_order() {
        let o = parse(&["--quick", "--rounds", "5", "--clients", "lib,cli"])
            .unwrap()
            .unwrap();
        assert_eq!(o.rounds, 5);
        assert_eq!(o.sizes, vec![1, 10]);
        assert!(o.wants("cli") && !o.wants("lego"));
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--clients", "curl"]).is_err());
        assert!(parse(&["--rounds"]).is_err());
        assert!(parse(&["--experiment-ms", ""])
            .unwrap()
            .unwrap()
            .experiments
            .is_empty());
    }
}
