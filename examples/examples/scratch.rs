//! Scratch check of the callsite names (to be replaced by the demo).
mod net {
    pub struct Client;
    impl Client {
        pub fn connect(&self, host: &str) {
            dyndbg::pr_debug!("connecting to {host}");
            let c = || dyndbg::pr_debug!("in closure");
            c();
        }
    }
    pub struct Gen<T>(pub T);
    impl<T: std::fmt::Debug> Gen<T> {
        pub fn show(&self) {
            dyndbg::pr_debug!("gen {:?}", self.0);
        }
    }
    impl std::fmt::Display for Client {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            dyndbg::pr_debug!(class = "NET", "fmt");
            f.write_str("client")
        }
    }
    pub trait Speak { fn hello(&self) { dyndbg::pr_debug!("default method"); } }
    impl Speak for Client {}
    pub async fn fetch() { dyndbg::pr_debug!("async"); }
    pub fn outer() { fn inner() { dyndbg::pr_debug!("nested"); } inner(); }
}
mod other {
    impl crate::net::Client { pub fn elsewhere(&self) { dyndbg::pr_debug!("elsewhere"); } }
}
fn main() {
    for cs in dyndbg::callsites() {
        println!("{} {} {:?}", cs.module(), cs.function(), cs.format());
    }
    print!("{}", dyndbg::listing());
    use net::Speak;
    net::Client.connect("x"); net::Client.hello(); net::outer(); net::Gen(3).show();
    let _ = format!("{}", net::Client);
    net::Client.elsewhere();
    let _ = net::fetch();
}
