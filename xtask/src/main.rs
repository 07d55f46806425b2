//! Project automation. `cargo xtask <command>`:
//!
//! - `test`: install Pebble if missing, then run every test of the workspace.
//! - `demo`: install Pebble if missing, start it, issue one certificate
//!   through the library and print what was issued.
//! - `ci`:   what `.ci/run` does: fmt check, clippy, then `test`.
//! - `bench`: the side-by-side benchmark of acmekit (library and CLI), lego,
//!   certbot and uacme against a loopback Pebble (`cargo xtask bench
//!   --help`); writes `docs/bench.{md,csv,svg}`.
//!
//! The same binary is also the benchmark's challenge hook (chosen by the
//! name it is run under) and its library worker (`bench-lib`).

mod bench;

use anyhow::{bail, Context, Result};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    if let Some(code) = bench::hook::dispatch() {
        return code;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("demo") => demo(),
        Some("ci") => ci(),
        Some("bench") => bench::run(&args[1..]),
        Some("bench-lib") => bench::library::child_main(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <test [cargo test args]|demo|ci|bench [--help]>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs the Debian packages the tests need when they are missing.
fn ensure_packages() -> Result<()> {
    // named lives in /usr/sbin, which a user's $PATH may lack.
    install_missing(&[
        ("pebble", "pebble"),
        ("openssl", "openssl"),
        ("/usr/sbin/named", "bind9"),
    ])
}

/// Installs, with apt-get, the packages of the `(program, package)` pairs
/// whose program is not on `PATH`.
fn install_missing(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|(bin, _)| !have(bin))
        .map(|(_, pkg)| pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {} (apt-get)", missing.join(" "));
    let sudo = if is_root() { "" } else { "sudo " };
    let script = format!(
        "{sudo}apt-get update -q && DEBIAN_FRONTEND=noninteractive {sudo}apt-get install -y -q {}",
        missing.join(" ")
    );
    run(Command::new("sh").args(["-c", &script])).with_context(|| {
        format!(
            "could not install {}; install the Debian packages by hand",
            missing.join(" ")
        )
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn test(extra: &[String]) -> Result<()> {
    ensure_packages()?;
    run(cargo()
        .args(["test", "--workspace", "--all-targets"])
        .args(extra))?;
    // Doc tests (the README's library example among them).
    run(cargo().args(["test", "--workspace", "--doc"]))
}

fn ci() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    test(&[])
}

fn demo() -> Result<()> {
    ensure_packages()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(demo_async())
}

async fn demo_async() -> Result<()> {
    use acmekit::{Account, AccountKey, Client, Identifier, KeyType, NewAccount};
    use acmekit_testkit::{Pebble, PebbleSolver};

    eprintln!("starting Pebble and pebble-challtestsrv on loopback…");
    let pebble = Pebble::start();
    let client = Client::builder(pebble.directory_url())
        .add_root_pem(pebble.listener_ca_pem().as_bytes())
        .only_added_roots()
        .build()
        .await?;
    let (account, _) = Account::create(
        &client,
        AccountKey::generate(KeyType::Es256)?,
        &NewAccount::agreeing_to_terms(["mailto:demo@example.com"]),
    )
    .await?;
    eprintln!("account: {}", account.url());
    let names = [
        Identifier::dns("demo.acmekit.test"),
        Identifier::dns("www.demo.acmekit.test"),
    ];
    let started = std::time::Instant::now();
    let issued = account
        .issue(&names, &PebbleSolver::http01(&pebble))
        .await?;
    let elapsed = started.elapsed();
    let info = issued.chain.info();
    let not_after = time::OffsetDateTime::from(info.not_after)
        .format(&time::format_description::well_known::Rfc3339)?;
    println!("subject:  {}", info.subject);
    println!("names:    {}", info.names.join(", "));
    println!("issuer:   {}", info.issuer);
    println!("expires:  {}", not_after);
    println!("serial:   {}", info.serial_hex);
    println!(
        "chain:    {} certificates",
        issued.chain.certificates().len()
    );
    println!("order:    {}", issued.order.url);
    println!("issued in {:.0} ms", elapsed.as_secs_f64() * 1000.0);
    let root = pebble.root_pem().await;
    let ders: Vec<Vec<u8>> = issued
        .chain
        .certificates()
        .iter()
        .map(|c| c.to_vec())
        .collect();
    acmekit_testkit::verify_chain(
        &ders,
        &root,
        &["demo.acmekit.test", "www.demo.acmekit.test"],
    )
    .map_err(anyhow::Error::msg)
    .context("the issued chain does not verify against Pebble's root")?;
    println!("verified: chain checks out against Pebble's root");
    Ok(())
}
