//! The requests one certificate costs, counted from Pebble's own log: the
//! protocol minimum, no HEAD newNonce while the pool has one, no refetches.

use acmekit::{Account, AccountKey, Client, Identifier, KeyType, NewAccount};
use acmekit_testkit::{unique_name, Pebble, PebbleSolver};
use std::collections::BTreeMap;

async fn client(pebble: &Pebble) -> Client {
    pebble.client().await
}

/// Pebble's request lines (`<METHOD> <path> -> calling handler()`) after
/// the first `skip`, counted by method and path.
fn requests_since(pebble: &Pebble, skip: usize) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in pebble
        .log()
        .lines()
        .filter(|l| l.contains("-> calling handler()"))
        .skip(skip)
    {
        let request = line.split("Pebble ").nth(1).unwrap_or(line);
        let request: Vec<&str> = request.split_whitespace().skip(2).take(2).collect();
        *counts.entry(request.join(" ")).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn one_certificate_costs_the_protocol_minimum() {
    // Its own Pebble (no nonce rejection, no authorization reuse), so that
    // no other test's requests are counted.
    let pebble = Pebble::start();
    let first = client(&pebble).await;
    let (account, _) = Account::create(
        &first,
        AccountKey::generate(KeyType::Es256).unwrap(),
        &NewAccount::agreeing_to_terms(Vec::<String>::new()),
    )
    .await
    .unwrap();
    let credentials = account.credentials().unwrap();

    // A "new process": new client, account restored from credentials.
    let mark = pebble.request_count();
    let client = client(&pebble).await;
    let account = Account::from_credentials(&client, &credentials).unwrap();
    let issued = account
        .issue(
            &[Identifier::dns(unique_name())],
            &PebbleSolver::http01(&pebble),
        )
        .await
        .unwrap();
    let fresh_process = requests_since(&pebble, mark);
    let total: usize = fresh_process.values().sum();
    eprintln!("fresh process, one certificate: {total} requests: {fresh_process:?}");
    assert_eq!(
        client.stats().requests as usize,
        total,
        "client and Pebble agree"
    );

    // Polls depend on how fast Pebble validates and issues compared with
    // the first poll delay (on a loaded machine a second poll can happen);
    // everything else is exact.
    let polls = fresh_process["POST /authZ/"] - 1;
    assert!(polls >= 1, "the authorization is polled at least once");
    let order_polls = fresh_process["POST /my-order/"];
    assert!(order_polls >= 1, "Pebble answers finalize with processing");
    let expected: BTreeMap<String, usize> = [
        ("GET /dir", 1),
        ("HEAD /nonce-plz", 1),
        ("POST /order-plz", 1),
        ("POST /authZ/", 1 + polls),
        ("POST /chalZ/", 1),
        ("POST /finalize-order/", 1),
        // Pebble 2.4 answers finalize with `processing`: one order poll.
        ("POST /my-order/", order_polls),
        ("POST /certZ/", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(fresh_process, expected);
    assert!(issued.order.certificate.is_some());

    // The same process again: no directory, no nonce request.
    let mark = pebble.request_count();
    account
        .issue(
            &[Identifier::dns(unique_name())],
            &PebbleSolver::http01(&pebble),
        )
        .await
        .unwrap();
    let warm = requests_since(&pebble, mark);
    let total: usize = warm.values().sum();
    eprintln!("long-lived process, one certificate: {total} requests: {warm:?}");
    assert!(!warm.contains_key("GET /dir"));
    assert!(
        !warm.contains_key("HEAD /nonce-plz"),
        "the pool always had a nonce"
    );
    assert_eq!(
        total,
        5 + warm["POST /authZ/"] + warm["POST /my-order/"] - 1
    );
    for once in [
        "POST /order-plz",
        "POST /chalZ/",
        "POST /finalize-order/",
        "POST /certZ/",
    ] {
        assert_eq!(warm[once], 1, "{once}");
    }
}
