//! The kit's own background tokio runtime, which runs the challenge
//! responders independently of whatever runtime a test uses (a
//! `#[tokio::test]` runtime lives for one test; a shared Pebble outlives it).

use std::sync::OnceLock;
use std::time::Duration;

use tokio::runtime::Handle;

/// A handle to the background runtime, started on first use.
pub(crate) fn handle() -> &'static Handle {
    static HANDLE: OnceLock<Handle> = OnceLock::new();
    HANDLE.get_or_init(start)
}

fn start() -> Handle {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("acmekit-testkit-runtime".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("acmekit-testkit-responder")
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("acmekit-testkit: cannot build a tokio runtime: {e}"));
            let _ = tx.send(runtime.handle().clone());
            // Keep the runtime alive for the rest of the process.
            runtime.block_on(std::future::pending::<()>());
        })
        .unwrap_or_else(|e| panic!("acmekit-testkit: cannot spawn the runtime thread: {e}"));
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("acmekit-testkit: the runtime thread did not start: {e}"))
}
