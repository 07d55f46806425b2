//! What Pebble 2.4 cannot be made to do, against the test kit's scripted
//! mock ACME server: a rate limit with Retry-After, remembered across runs.

use acmekit_testkit::unique_name;
use acmekit_testkit::{MockAcme, MockResponse, Route};
use std::process::{Command, Output};

fn run(mock: &MockAcme, state: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acmekit"))
        .args(["--server", &mock.directory_url(), "--allow-insecure-http"])
        .args(["--state-dir", state.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn rate_limit_is_reported_with_its_time_and_remembered() {
    let mock = MockAcme::start();
    mock.script(
        Route::NewOrder,
        MockResponse::problem(429, "rateLimited", "too many certificates for this name")
            .header("Retry-After", "3600"),
    );
    let state = std::env::temp_dir().join(format!("acmekit-cli-mock-{}", unique_name()));
    let name = unique_name();
    let out = run(
        &mock,
        &state,
        &["issue", "-d", &name, "--accept-tos", "--dns-hook", "true"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("too many certificates for this name") && err.contains("retry after"),
        "{err}"
    );
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert_eq!(err.lines().last(), Some(errors[0]));
    assert_eq!(mock.requests_to(Route::NewOrder).len(), 1);

    // The next run does not ask the CA again before the limit lifts.
    let out = run(&mock, &state, &["issue", "-d", &name, "--dns-hook", "true"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("remembered from an earlier run"), "{err}");
    assert_eq!(
        mock.requests_to(Route::NewOrder).len(),
        1,
        "no second newOrder"
    );
    let _ = std::fs::remove_dir_all(&state);
}

#[test]
fn plain_http_needs_the_explicit_flag() {
    let mock = MockAcme::start();
    let out = Command::new(env!("CARGO_BIN_EXE_acmekit"))
        .args(["--server", &mock.directory_url(), "account", "show"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires https://"));
}
