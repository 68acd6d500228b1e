//! `log`'s key-values: `key = value` before a `;`, shown after the message.

fn main() {
    let peer = "10.0.0.1";
    let state = Some(1);
    dyndbg::pr_debug!(len = 3; "sent");
    dyndbg::pr_debug!(peer, len = 3, state:? = state, peer:%; "sent {} bytes", 3);
    dyndbg::pr_debug!(state:?; "state");
    dyndbg::pr_debug!(target: "wire", r#type = "ack"; "sent");
    dyndbg::pr_debug!(class = "WIRE", len = 3; concat!("sent ", "{}"), 4);
    dyndbg::pr_debug!(len = 3,; "trailing comma");
}
