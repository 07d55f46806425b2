//! Free loopback ports.
//!
//! A port is found by binding port 0, reading the port the kernel chose and
//! dropping the socket. Ports handed out once are remembered so that two
//! Pebbles started concurrently in one test binary never get the same one.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::{Mutex, OnceLock};

fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// Records `port` as used; false if it was handed out before.
fn claim(port: u16) -> bool {
    handed_out()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(port)
}

const ATTEMPTS: usize = 200;

/// A loopback TCP port that is free right now.
pub fn free_tcp_port() -> u16 {
    for _ in 0..ATTEMPTS {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("acmekit-testkit: cannot bind 127.0.0.1:0 (tcp): {e}"));
        let port = local_port(listener.local_addr());
        if claim(port) {
            return port;
        }
    }
    panic!("acmekit-testkit: no free tcp port found on 127.0.0.1");
}

/// A loopback port that is free for both UDP and TCP right now (for DNS).
pub fn free_udp_tcp_port() -> u16 {
    for _ in 0..ATTEMPTS {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("acmekit-testkit: cannot bind 127.0.0.1:0 (udp): {e}"));
        let port = local_port(udp.local_addr());
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() && claim(port) {
            return port;
        }
    }
    panic!("acmekit-testkit: no port free for both udp and tcp found on 127.0.0.1");
}

/// A TCP listener on a fresh loopback port (kept open: no race).
pub(crate) fn bind_tcp_listener() -> TcpListener {
    for _ in 0..ATTEMPTS {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("acmekit-testkit: cannot bind 127.0.0.1:0 (tcp): {e}"));
        if claim(local_port(listener.local_addr())) {
            return listener;
        }
    }
    panic!("acmekit-testkit: no free tcp port found on 127.0.0.1");
}

fn local_port(addr: std::io::Result<SocketAddr>) -> u16 {
    addr.unwrap_or_else(|e| panic!("acmekit-testkit: cannot read local address: {e}"))
        .port()
}

/// Listeners on a fresh port of both 127.0.0.1 and ::1 (the VA connects to
/// `[::1]` for IPv6 identifiers). When the machine has no IPv6 loopback,
/// only the IPv4 listener is returned.
pub(crate) fn bind_loopback_listeners() -> Vec<TcpListener> {
    let ipv6 = TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).is_ok();
    for _ in 0..ATTEMPTS {
        let v4 = bind_tcp_listener();
        if !ipv6 {
            return vec![v4];
        }
        let port = local_port(v4.local_addr());
        if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, port)) {
            return vec![v4, v6];
        }
    }
    panic!("acmekit-testkit: no port free on both 127.0.0.1 and ::1");
}
