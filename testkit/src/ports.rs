//! Loopback ports for tests that start servers.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

/// A loopback TCP port that is free now and that this function has never
/// returned before in this process. Tests run at once, and a node's peer
/// listener binds with port reuse, so two nodes given one port would both
/// start and share its connections. Another process may still take the
/// port before it is bound.
///
/// # Panics
///
/// If the operating system hands out no port.
pub fn free_loopback_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .expect("a free loopback port");
        let mut given = GIVEN
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if given.insert(port) {
            return port;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::free_loopback_port;

    #[test]
    fn a_port_is_never_handed_out_twice() {
        let ports: BTreeSet<u16> = (0..200).map(|_| free_loopback_port()).collect();
        assert_eq!(ports.len(), 200);
    }
}
