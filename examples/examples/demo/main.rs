//! The dyndbg demo: a small service loop with callsites in several modules,
//! switched at runtime.
//!
//! ```text
//! cargo run --release --bin demo
//! DYNDBG='func connect +pfl' cargo run --release --bin demo
//! cargo run --release --bin demo -- --serve 120   # then, elsewhere: dyndbgctl ps
//! ```

mod heap;
mod net;
mod outside;
mod storage;

/// Owner stacks for every live allocation, once tracking is on.
#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

fn serve(round: usize) {
    let mut client = net::Client::connect("db.internal:5432");
    let mut store = storage::Store::default();
    for i in 0..4 {
        client.send(&[0u8; 128]);
        let reply = client.recv();
        store.put(&format!("key-{round}-{i}"), reply);
    }
}

fn section(title: &str) {
    eprintln!("\n== {title}");
}

fn main() {
    // `ALLOCOWNER=on` does this without code; here tracking starts at once.
    allocowner::enable().expect("allocowner tracking");

    section("callsites compiled into this program (dyndbg::listing())");
    eprint!("{}", dyndbg::listing());
    let stats = dyndbg::stats();
    eprintln!(
        "(bodies of {} callsites: {} bytes raw, {} bytes in the zstd pool; {} cached)",
        stats.callsites, stats.raw_body_bytes, stats.pool_bytes, stats.cached_bodies
    );

    section(
        match std::env::var("DYNDBG") {
            Ok(q) => format!("round 1, with DYNDBG={q:?} applied before the first callsite ran"),
            Err(_) => {
                "round 1, everything off (set DYNDBG to switch callsites on at startup)".to_owned()
            }
        }
        .as_str(),
    );
    serve(1);

    let query = "module demo::net +p; func Store::put +pfl";
    section(&format!("round 2, after dyndbg::control({query:?})"));
    let matched = dyndbg::control(query).expect("a valid query");
    eprintln!("(matched {matched} callsites)");
    serve(2);

    let query = "class WIRE +pmt; func flush +pfs";
    section(&format!(
        "round 3, after dyndbg::control({query:?}): classed callsites answer only to `class`"
    ));
    let matched = dyndbg::control(query).expect("a valid query");
    eprintln!("(matched {matched} callsites)");
    serve(3);

    section("a bad query changes nothing and says what was wrong");
    match dyndbg::control("module demo::net -p; func put +pq") {
        Ok(n) => eprintln!("unexpectedly matched {n}"),
        Err(err) => eprintln!("error: {err}"),
    }

    section("the flags now, as the kernel's control file shows them");
    for cs in dyndbg::callsites().filter(|cs| !cs.flags().is_empty()) {
        eprintln!(
            "{}:{} [{}]{} ={}",
            cs.file(),
            cs.line(),
            cs.module(),
            cs.function(),
            cs.flags()
        );
    }

    dyndbg::reset();
    section("round 4, after dyndbg::reset(): quiet again");
    serve(4);

    section("markers compiled into this program (markers::list())");
    for site in markers::list() {
        eprintln!("{site}");
    }
    let hits = markers::Counter::new();
    let counter = markers::connect("net_rx", hits.clone()).expect("net_rx is compiled in");
    let printer = markers::connect(
        "net_*",
        markers::Printer::with_flags(dyndbg::Flags::FUNCTION),
    )
    .expect("net_* matches net_rx");
    section("round 5, with a counter probe and a printer probe on net_rx");
    serve(5);
    eprintln!("net_rx fired {} times", hits.get());
    markers::disconnect(printer).expect("connected above");
    markers::disconnect(counter).expect("connected above");

    match outside::start() {
        Ok(socket) => from_outside(&socket),
        Err(err) => eprintln!("the process's debugfs is not available here: {err}"),
    }

    section("which heap regions are hot (allocowner::access, DAMON's sampler)");
    if let Err(err) = heap::hot_and_cold() {
        eprintln!("access monitoring is not available here: {err}");
    }

    section("who owns the heap now (allocowner, grouped like page_owner_sort, top 3)");
    let _keep = vec![String::from("demo"); 1000];
    heap::top_owners(3);

    section("the same heap for the viewers people use");
    if let Err(err) = heap::profiles() {
        eprintln!("cannot write the heap profiles: {err}");
    }

    if let Some(seconds) = serve_for() {
        keep_serving(seconds);
    }
}

/// The operator's side: the same requests `curl --unix-socket` or
/// `dyndbgctl` send, over the process's own socket.
fn from_outside(socket: &std::path::Path) {
    section(&format!(
        "from outside: the process's own debugfs (dyndbg-debugfs) serves {}",
        socket.display()
    ));
    let ask =
        |method: &str, file: &str, body: &str| match outside::request(socket, method, file, body) {
            Ok((status, answer)) => {
                eprintln!("$ {method} /{file} {body:?} -> {status}");
                answer
            }
            Err(err) => {
                eprintln!("$ {method} /{file}: {err}");
                String::new()
            }
        };
    eprint!("{}", ask("PUT", "dynamic_debug/control", "func connect +p"));
    eprint!("{}", ask("PUT", "markers", "net_rx counter"));
    serve(6);
    eprint!("{}", ask("GET", "markers", ""));
    eprint!("{}", ask("PUT", "markers", "net_rx off"));
    eprint!("{}", ask("PUT", "dynamic_debug/control", "func connect -p"));
    let bad = ask("PUT", "dynamic_debug/control", "func connect +x");
    eprint!("{bad}");
}

/// `--serve SECONDS`: the demo keeps running after its tour, one round a
/// second, so that `dyndbgctl` can be tried on it from another terminal.
fn serve_for() -> Option<u64> {
    let mut args = std::env::args().skip(1);
    (args.next()? == "--serve").then(|| args.next().and_then(|s| s.parse().ok()).unwrap_or(60))
}

fn keep_serving(seconds: u64) {
    section(&format!(
        "serving for {seconds} s (pid {}): try `dyndbgctl ps`, `dyndbgctl write demo dynamic_debug/control 'func connect +p'`, `dyndbgctl heap demo --format grouped -o heap.txt`",
        std::process::id()
    ));
    for round in 0..seconds {
        serve(7 + round as usize);
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}
