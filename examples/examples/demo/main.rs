//! The dyndbg demo: a small service loop with callsites in several modules,
//! switched at runtime.
//!
//! ```text
//! cargo run --release --bin demo
//! DYNDBG='func connect +pfl' cargo run --release --bin demo
//! ```

mod heap;
mod net;
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

    section("which heap regions are hot (allocowner::access, DAMON's sampler)");
    if let Err(err) = heap::hot_and_cold() {
        eprintln!("access monitoring is not available here: {err}");
    }

    section("who owns the heap now (allocowner, grouped like page_owner_sort, top 3)");
    let _keep = vec![String::from("demo"); 1000];
    heap::top_owners(3);
}
