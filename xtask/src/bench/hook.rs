//! The one challenge hook every process-based client runs, and the
//! challtestsrv calls it (and the library's solver) make.
//!
//! The hook is this very binary, run through a symlink whose name picks the
//! calling convention, so no client pays for a shell, python or curl: it
//! POSTs `/set-txt` or `/clear-txt` to challtestsrv's management API over a
//! plain `std` TCP connection and exits.

use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Where the hook finds challtestsrv's management API (`127.0.0.1:PORT`).
pub const ADDR_ENV: &str = "ACMEKIT_BENCH_CHALLTESTSRV";

/// `NAME present|cleanup FQDN VALUE`: lego's `exec` DNS provider and
/// acmekit's `--dns-hook`.
pub const DNS_HOOK: &str = "bench-dns-hook";
/// certbot `--manual-auth-hook`: reads `CERTBOT_DOMAIN` and
/// `CERTBOT_VALIDATION`.
pub const CERTBOT_AUTH: &str = "bench-certbot-auth";
/// certbot `--manual-cleanup-hook`.
pub const CERTBOT_CLEANUP: &str = "bench-certbot-cleanup";
/// uacme `-h`: `NAME begin|done|failed TYPE IDENT TOKEN AUTH`, where AUTH
/// is already the dns-01 TXT value; declining (exit 1) every type but
/// dns-01 makes uacme pick dns-01.
pub const UACME_HOOK: &str = "bench-uacme-hook";

/// Every hook name (each one a symlink to this binary).
pub const ALL: [&str; 4] = [DNS_HOOK, CERTBOT_AUTH, CERTBOT_CLEANUP, UACME_HOOK];

/// If this process was started under one of the hook names, runs that hook
/// and returns its exit code.
pub fn dispatch() -> Option<ExitCode> {
    let argv0 = std::env::args_os().next()?;
    let name = Path::new(&argv0).file_name()?.to_str()?.to_owned();
    if !ALL.contains(&name.as_str()) {
        return None;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    Some(match run(&name, &args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    })
}

fn run(hook: &str, args: &[String]) -> Result<ExitCode, String> {
    let addr = std::env::var(ADDR_ENV).map_err(|_| format!("{ADDR_ENV} is not set"))?;
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    match hook {
        DNS_HOOK => match args {
            [action, fqdn, value] if action == "present" => set_txt(&addr, fqdn, value)?,
            [action, fqdn, _] if action == "cleanup" => clear_txt(&addr, fqdn)?,
            _ => {
                return Err(format!(
                    "usage: {hook} present|cleanup FQDN VALUE, got {args:?}"
                ))
            }
        },
        CERTBOT_AUTH => set_txt(
            &addr,
            &format!("_acme-challenge.{}", env("CERTBOT_DOMAIN")?),
            &env("CERTBOT_VALIDATION")?,
        )?,
        CERTBOT_CLEANUP => clear_txt(
            &addr,
            &format!("_acme-challenge.{}", env("CERTBOT_DOMAIN")?),
        )?,
        UACME_HOOK => match args {
            [_, kind, ..] if kind != "dns-01" => return Ok(ExitCode::from(1)),
            [method, _, ident, _, auth] if method == "begin" => {
                set_txt(&addr, &format!("_acme-challenge.{ident}"), auth)?
            }
            [method, _, ident, _, _] if method == "done" || method == "failed" => {
                clear_txt(&addr, &format!("_acme-challenge.{ident}"))?
            }
            _ => {
                return Err(format!(
                    "usage: {hook} begin|done|failed TYPE IDENT TOKEN AUTH, got {args:?}"
                ))
            }
        },
        _ => return Err("unknown hook".into()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Makes challtestsrv answer TXT queries for `fqdn` with `value`.
pub fn set_txt(addr: &str, fqdn: &str, value: &str) -> Result<(), String> {
    post(addr, "/set-txt", &set_txt_body(fqdn, value))
}

/// Removes the TXT values of `fqdn`.
pub fn clear_txt(addr: &str, fqdn: &str) -> Result<(), String> {
    post(addr, "/clear-txt", &clear_txt_body(fqdn))
}

/// The JSON body of `/set-txt`.
pub fn set_txt_body(fqdn: &str, value: &str) -> String {
    json!({ "host": dotted(fqdn), "value": value }).to_string()
}

/// The JSON body of `/clear-txt`.
pub fn clear_txt_body(fqdn: &str) -> String {
    json!({ "host": dotted(fqdn) }).to_string()
}

fn dotted(fqdn: &str) -> String {
    if fqdn.ends_with('.') {
        fqdn.to_owned()
    } else {
        format!("{fqdn}.")
    }
}

/// The bytes of `POST path` with a JSON body, on a connection that closes
/// after the response.
pub fn request(addr: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// `Ok` when the raw response's status is 200.
pub fn check_response(path: &str, response: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(response);
    let status = text.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        let first = text.lines().next().unwrap_or("no response");
        Err(format!("challtestsrv {path}: {first}"))
    }
}

fn post(addr: &str, path: &str, body: &str) -> Result<(), String> {
    let io = |e: std::io::Error| format!("challtestsrv {addr}{path}: {e}");
    let mut stream = TcpStream::connect(addr).map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    stream.write_all(&request(addr, path, body)).map_err(io)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(io)?;
    check_response(path, &response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_challtestsrv_json() {
        assert_eq!(
            set_txt_body("_acme-challenge.a.example.com", "v"),
            r#"{"host":"_acme-challenge.a.example.com.","value":"v"}"#
        );
        assert_eq!(
            clear_txt_body("_acme-challenge.a.example.com."),
            r#"{"host":"_acme-challenge.a.example.com."}"#
        );
    }

    #[test]
    fn status_is_read_from_the_status_line() {
        assert!(check_response("/x", b"HTTP/1.1 200 OK\r\n\r\n").is_ok());
        assert!(check_response("/x", b"HTTP/1.1 400 Bad Request\r\n\r\n").is_err());
        assert!(check_response("/x", b"").is_err());
    }
}
