//! Accuracy on a workload with a known answer, computed from the record
//! file (the one damo reads): 256 MiB of heap, 16 MiB written continuously,
//! the rest touched once. Several seeds; then a read-only hot set in each
//! mode.

#[path = "damo/common.rs"]
mod common;

use allocowner::access::{Mode, Recording};
use common::{Workload, accuracy, record};

#[test]
fn hot_set_is_found_from_the_record_file() {
    let dir = std::env::temp_dir().join(format!("access-accuracy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut w = Workload::new();
    for seed in [11u64, 22, 33, 44] {
        let path = dir.join(format!("seed{seed}.json.z"));
        let mut m = record(
            &mut w,
            Mode::WriteProtect,
            seed,
            path.to_str().unwrap(),
            100,
            false,
        );
        m.stop().unwrap();
        let rec = Recording::read(&path).unwrap();
        let a = accuracy(&rec, w.heap(), w.hot(), 10, 20);
        println!("write-protect, written hot set, seed {seed}: {a:?}");
        assert!(a.recall >= 0.9, "seed {seed}: {a:?}");
        assert!(a.cold_accessed <= 0.1, "seed {seed}: {a:?}");
        // DAMON resolves a boundary statistically: 12 seeds gave a median
        // error of 4 pages and a worst of 32 (see the module docs).
        assert!(a.bound_error_pages <= 40, "seed {seed}: {a:?}");
    }
    // Read-only hot set: invisible to write-protect, seen by the trap.
    for mode in [Mode::WriteProtect, Mode::Mprotect] {
        let path = dir.join(format!("ro-{mode}.data"));
        let mut m = record(&mut w, mode, 9, path.to_str().unwrap(), 60, true);
        m.stop().unwrap();
        let rec = Recording::read(&path).unwrap();
        let a = accuracy(&rec, w.heap(), w.hot(), 10, 20);
        println!("{mode}, read-only hot set: {a:?}");
        match mode {
            Mode::WriteProtect => assert!(a.recall < 0.1, "{a:?}"),
            Mode::Mprotect => {
                assert!(a.recall >= 0.9, "{a:?}");
                assert!(a.cold_accessed <= 0.1, "{a:?}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
