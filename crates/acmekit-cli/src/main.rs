//! `acmekit`: get and renew TLS certificates from any ACME CA.
//!
//! `main` only maps the outcome to an exit code: 0 success, 1 failure
//! (one clear line on stderr), 2 usage error (clap's message).

mod cli;
mod commands;
mod context;
mod hints;
mod output;
mod settings;
mod solvers;
mod store;

use anyhow::Result;
use clap::{CommandFactory, Parser};
use std::process::ExitCode;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut line = one_line(&e);
            if let Some(h) = hints::hint(&e) {
                line = format!("{line}; {h}");
            }
            if json {
                println!("{}", serde_json::json!({ "error": line }));
            }
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, without repeats.
fn one_line(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => tracing::Level::ERROR,
        (_, 0) => tracing::Level::WARN,
        (_, 1) => tracing::Level::DEBUG,
        _ => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "acmekit",
                &mut std::io::stdout(),
            );
            return Ok(());
        }
        Command::Manpage => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            return Ok(());
        }
        _ => {}
    }
    let settings = settings::Settings::resolve(&cli)?;
    let ctx = context::Ctx {
        store: store::Store::new(settings.state_dir.clone()),
        settings,
        out: output::Out::new(cli.json, cli.quiet),
    };
    match cli.command {
        Command::Issue(args) => commands::issue::run(&ctx, *args).await,
        Command::Renew(args) => commands::renew::run(&ctx, args).await,
        Command::List => commands::list::run(&ctx),
        Command::Account(cmd) => commands::account::run(&ctx, cmd).await,
        Command::Revoke(args) => commands::revoke::run(&ctx, args).await,
        Command::Completions { .. } | Command::Manpage => unreachable!("handled above"),
    }
}
