//! A small key-value service, run once to take heap profiles of it.
use std::collections::HashMap;
use std::hint::black_box;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

struct Cache {
    entries: HashMap<u64, Vec<u8>>,
}

impl Cache {
    #[inline(never)]
    fn insert(&mut self, key: u64, len: usize) {
        self.entries.insert(key, black_box(vec![key as u8; len]));
    }
}

struct Session {
    _buf: Vec<u8>,
}

impl Session {
    #[inline(never)]
    fn open(id: u32) -> Session {
        Session {
            _buf: black_box(vec![id as u8; 16 << 10]),
        }
    }
}

#[inline(never)]
fn parse_request(line: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(1024);
    v.extend_from_slice(line.as_bytes());
    black_box(v)
}

#[inline(never)]
fn load_config() -> String {
    black_box("x".repeat(64 << 10))
}

fn main() {
    allocowner::enable_with("depth=32,thread").unwrap();
    let config = load_config();
    let mut cache = Cache {
        entries: HashMap::new(),
    };
    for k in 0..2000 {
        cache.insert(k, 512);
    }
    let sessions: Vec<Session> = (0..64).map(Session::open).collect();
    let pending: Vec<Vec<u8>> = (0..300)
        .map(|i| parse_request(&format!("GET /key/{i}")))
        .collect();
    let snap = allocowner::snapshot();
    let report = allocowner::report::Report::new(&snap);
    let out =
        std::path::Path::new(&std::env::args().nth(1).unwrap_or_else(|| ".".into())).to_path_buf();
    report
        .write_pprof(std::fs::File::create(out.join("heap.pb.gz")).unwrap())
        .unwrap();
    report
        .write_dhat(std::fs::File::create(out.join("dhat-heap.json")).unwrap())
        .unwrap();
    let raw = allocowner::report::Report::with_symbolizer(
        &snap,
        &mut allocowner::report::Symbolizer::raw(),
    );
    std::fs::write(out.join("heap.dump"), raw.dump()).unwrap();
    eprintln!("{}", report.grouped(allocowner::report::SortBy::Bytes, 4));
    drop((config, cache, sessions, pending));
}
