//! Attribution: a program under `OwnerAlloc` with one owner writing a hot
//! buffer and another holding a cold one; the report joins the recording
//! with the snapshot and names each owner's function.

use allocowner::OwnerAlloc;
use allocowner::access::{Attrs, Monitor, Recording, attribute};

#[global_allocator]
static ALLOC: OwnerAlloc = OwnerAlloc::system();

#[inline(never)]
fn hot_owner_buffer() -> Vec<u8> {
    // Used after the call, so the allocation is not a tail call and this
    // frame stays on the captured stack.
    let v = vec![1u8; 8 << 20];
    std::hint::black_box(&v);
    v
}

#[inline(never)]
fn cold_owner_buffer() -> Vec<u8> {
    let v = vec![1u8; 48 << 20];
    std::hint::black_box(&v);
    v
}

#[test]
fn hottest_and_coldest_owners_are_named() {
    allocowner::enable().unwrap();
    let mut hot = hot_owner_buffer();
    let cold = cold_owner_buffer();
    for i in (0..cold.len()).step_by(4096) {
        std::hint::black_box(cold[i]); // touched once, never written again
    }
    // allocowner's own mappings (side table, depot) are out of the target.
    let own = allocowner::access::excluded_ranges();
    assert!(!own.is_empty(), "tracking on maps allocowner's tables");
    for t in allocowner::access::target().unwrap() {
        for o in &own {
            assert!(
                t.end <= o.start || o.end <= t.start,
                "{t:x?} overlaps {o:x?}"
            );
        }
    }
    let path = std::env::temp_dir().join(format!("access-attr-{}.json.z", std::process::id()));
    let mut m = Monitor::new(Attrs::default()).unwrap();
    m.seed(3);
    m.set_recording(&format!("65536 {}", path.display()))
        .unwrap();
    m.tick().unwrap();
    let mut aggregations = 0;
    let mut round = 0u8;
    while aggregations < 60 {
        round = round.wrapping_add(1);
        for i in (0..hot.len()).step_by(4096) {
            hot[i] = round;
        }
        if m.tick().unwrap() {
            aggregations += 1;
        }
    }
    m.stop().unwrap();
    let rec = Recording::read(&path).unwrap();
    let snap = allocowner::snapshot();
    let a = attribute(&rec, &snap, 10);
    let mut out = Vec::new();
    a.write_report(3, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    println!("{text}");
    let hottest = a.hottest(1)[0];
    assert!(hottest.hot_bytes >= (8 << 20) * 9 / 10, "{text}");
    assert!(
        hottest.live_bytes >= 8 << 20 && hottest.live_bytes < 9 << 20,
        "{text}"
    );
    let coldest = a.coldest(1)[0];
    assert!(coldest.cold_bytes >= (48 << 20) * 9 / 10, "{text}");
    let (hot_part, cold_part) = text.split_once("== coldest owners ==").unwrap();
    let first_hot = hot_part.split("\n\n").nth(1).unwrap_or("");
    assert!(first_hot.contains("hot_owner_buffer"), "{text}");
    assert!(
        cold_part
            .split("\n\n")
            .next()
            .unwrap()
            .contains("cold_owner_buffer"),
        "{text}"
    );
    std::fs::remove_file(&path).unwrap();
    drop((hot, cold));
}
