//! With Pebble rejecting half of all nonces, every issuance still succeeds:
//! each `badNonce` is re-signed with the nonce from the error response.

use acmekit::{Account, AccountKey, Client, Identifier, KeyType, NewAccount};
use acmekit_testkit::{unique_name, verify_chain, Pebble, PebbleSolver};

#[tokio::test]
async fn every_issuance_succeeds_with_half_the_nonces_rejected() {
    let pebble = Pebble::builder()
        .env("PEBBLE_WFE_NONCEREJECT", "50")
        .start();
    let client = Client::builder(pebble.directory_url())
        .add_root_pem(pebble.listener_ca_pem().as_bytes())
        .only_added_roots()
        .build()
        .await
        .unwrap();
    let (account, _) = Account::create(
        &client,
        AccountKey::generate(KeyType::Es256).unwrap(),
        &NewAccount::agreeing_to_terms(Vec::<String>::new()),
    )
    .await
    .unwrap();
    let root = pebble.root_pem().await;
    let solvers = [
        PebbleSolver::http01(&pebble),
        PebbleSolver::dns01(&pebble),
        PebbleSolver::tls_alpn01(&pebble),
    ];
    for round in 0..4 {
        let solver = &solvers[round % solvers.len()];
        let names = [unique_name(), unique_name()];
        let ids: Vec<_> = names.iter().map(Identifier::dns).collect();
        let issued = account
            .issue(&ids, solver)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let ders: Vec<Vec<u8>> = issued
            .chain
            .certificates()
            .iter()
            .map(|c| c.to_vec())
            .collect();
        verify_chain(&ders, &root, &[&names[0], &names[1]]).unwrap();
    }
    let rejected = client.stats().bad_nonce_retries;
    eprintln!("Pebble rejected {rejected} nonces; every issuance succeeded");
    assert!(
        rejected > 0,
        "PEBBLE_WFE_NONCEREJECT=50 should have rejected some nonces"
    );
}
