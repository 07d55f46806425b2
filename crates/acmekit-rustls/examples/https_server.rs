//! An HTTPS server that gets its own certificate and serves a page with it.
//!
//! ```text
//! cargo run -p acmekit-rustls --example https_server -- \
//!     --directory https://127.0.0.1:14000/dir --ca-cert pebble-listener-ca.pem \
//!     --domain www.example.test --listen 127.0.0.1:5001
//! ```
//!
//! The certificate comes through tls-alpn-01 on the `--listen` port (the CA
//! must reach it on port 443 of the domain; Pebble's `tlsPort`), or through
//! http-01 when `--http-listen` is given (port 80; Pebble's `httpPort`),
//! which also redirects plain HTTP to HTTPS.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::ExitCode;
use tokio::net::TcpListener;

use acmekit_rustls::{AutoCert, ChallengeType};

const USAGE: &str = "\
usage: https_server --directory URL --domain NAME [--domain NAME...] [options]

  --directory URL      ACME directory URL (https://)
  --ca-cert PEM        trust only this CA for the ACME server's TLS (e.g. Pebble's)
  --domain NAME        a name to get a certificate for and serve (repeatable)
  --listen ADDR        HTTPS address, answers tls-alpn-01 too (default [::]:443)
  --http-listen ADDR   also answer http-01 and redirect to HTTPS there (e.g. [::]:80)
  --cache DIR          where certificates and the account are kept (default ./acme-cache)
  --contact URL        account contact, e.g. mailto:admin@example.com";

/// The command line, parsed.
#[derive(Debug, Clone)]
pub struct Args {
    /// `--directory`
    pub directory: String,
    /// `--ca-cert`
    pub ca_cert: Option<PathBuf>,
    /// `--domain`, at least one.
    pub domains: Vec<String>,
    /// `--listen`
    pub listen: String,
    /// `--http-listen`
    pub http_listen: Option<String>,
    /// `--cache`
    pub cache: PathBuf,
    /// `--contact`
    pub contact: Option<String>,
}

impl Args {
    /// Parses `--flag value` pairs (also `--flag=value`).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let (mut directory, mut ca_cert, mut domains) = (None, None, Vec::new());
        let (mut listen, mut http_listen) = ("[::]:443".to_owned(), None);
        let (mut cache, mut contact) = (PathBuf::from("acme-cache"), None);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
                None => (arg, None),
            };
            if flag == "--help" || flag == "-h" {
                return Err(String::new());
            }
            let value = inline
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--directory" => directory = Some(value),
                "--ca-cert" => ca_cert = Some(PathBuf::from(value)),
                "--domain" => domains.push(value),
                "--listen" => listen = value,
                "--http-listen" => http_listen = Some(value),
                "--cache" => cache = PathBuf::from(value),
                "--contact" => contact = Some(value),
                other => return Err(format!("unknown option {other}")),
            }
        }
        let directory = directory.ok_or("--directory is required")?;
        if domains.is_empty() {
            return Err("at least one --domain is required".into());
        }
        Ok(Args {
            directory,
            ca_cert,
            domains,
            listen,
            http_listen,
            cache,
            contact,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().init();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("https_server: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listeners = async {
        let https = TcpListener::bind(&args.listen).await?;
        let http = match &args.http_listen {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        Ok::<_, std::io::Error>((https, http))
    };
    let result = match listeners.await {
        Ok((https, http)) => serve(args, https, http).await,
        Err(e) => Err(format!("cannot listen: {e}").into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("https_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves HTTPS on `https` (and http-01 plus a redirect on `http`) until an
/// error; certificates are obtained and renewed in the background.
pub async fn serve(
    args: Args,
    https: TcpListener,
    http: Option<TcpListener>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut builder = AutoCert::builder(&args.directory)
        .domains(&args.domains)
        .cache_dir(&args.cache);
    if let Some(path) = &args.ca_cert {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        builder = builder.add_root_pem(&pem).only_added_roots();
    }
    if let Some(contact) = args.contact {
        builder = builder.contact(contact);
    }
    if http.is_some() {
        builder = builder.challenges([ChallengeType::Http01, ChallengeType::TlsAlpn01]);
    }
    let acme = builder.build().await?;

    if let Some(http) = http {
        let acme = acme.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = http.accept().await {
                let service = acme.http01_redirect();
                tokio::spawn(async move {
                    let io = TokioIo::new(tcp);
                    let _ = http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
    }
    loop {
        let (tcp, _) = https.accept().await?;
        let acme = acme.clone();
        tokio::spawn(async move {
            // Ok(None): a tls-alpn-01 validation, answered and closed.
            if let Ok(Some(tls)) = acme.accept(tcp).await {
                let io = TokioIo::new(tls);
                let _ = http1::Builder::new()
                    .serve_connection(io, service_fn(hello))
                    .await;
            }
        });
    }
}

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("?");
    let page =
        format!("Hello from acmekit-rustls: {host} over TLS with a certificate it got itself.\n");
    Ok(Response::new(Full::new(Bytes::from(page))))
}
