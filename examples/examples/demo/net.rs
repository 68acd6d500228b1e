//! A pretend network client: the kind of code that gets `pr_debug!`s.

use dyndbg::pr_debug;

pub(crate) struct Client {
    host: String,
    sent: usize,
    received: usize,
}

impl Client {
    pub(crate) fn connect(host: &str) -> Client {
        pr_debug!("connecting to {host}");
        Client {
            host: host.to_owned(),
            sent: 0,
            received: 0,
        }
    }

    pub(crate) fn send(&mut self, payload: &[u8]) {
        self.sent += payload.len();
        pr_debug!(
            "sent {} bytes to {} ({} total)",
            payload.len(),
            self.host,
            self.sent
        );
    }

    pub(crate) fn recv(&mut self) -> Vec<u8> {
        let reply = vec![0u8; 64];
        self.received += reply.len();
        markers::marker!(net_rx, len: usize = reply.len(), host: &str = &self.host);
        pr_debug!(class = "WIRE", "received {} bytes", reply.len());
        reply
    }
}
