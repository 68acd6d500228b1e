//! The allocowner part of the demo: who owns the heap, and which of it is hot.

use std::time::{Duration, Instant};

use allocowner::access::{Attrs, Monitor, Recording, attribute};
use allocowner::report::{Report, SortBy};

/// A buffer the service keeps writing to.
#[inline(never)]
fn session_buffer() -> Vec<u8> {
    vec![0; 4 << 20]
}

/// A buffer filled once and then left alone.
#[inline(never)]
fn archive() -> Vec<u8> {
    vec![1; 24 << 20]
}

/// Records 0.6 s of heap access with DAMON's default attributes, then says
/// which owners hold the hottest and the coldest bytes.
pub(crate) fn hot_and_cold() -> Result<(), Box<dyn std::error::Error>> {
    let mut hot = session_buffer();
    let cold = archive();
    let path = std::env::temp_dir().join(format!("dyndbg-demo-{}.json.z", std::process::id()));
    let mut monitor = Monitor::new(Attrs::default())?;
    monitor.set_recording(&format!("65536 {}", path.display()))?;
    monitor.start()?;
    let until = Instant::now() + Duration::from_millis(600);
    let mut round = 0u8;
    while Instant::now() < until {
        round = round.wrapping_add(1);
        hot.iter_mut().step_by(4096).for_each(|b| *b = round);
        std::thread::sleep(Duration::from_millis(1));
    }
    let summary = monitor.stop()?;
    let recording = Recording::read(&path)?;
    eprintln!(
        "{:?} detector, {} samples, {} aggregations, {} regions; recording {} ({} bytes, damo reads it)",
        summary.mode,
        summary.samples,
        summary.aggregations,
        summary.nr_regions,
        path.display(),
        std::fs::metadata(&path)?.len()
    );
    let attribution = attribute(&recording, &allocowner::snapshot(), 3);
    let mut text = Vec::new();
    attribution.write_report(1, &mut text)?;
    eprint!("{}", relative(&String::from_utf8_lossy(&text)));
    std::fs::remove_file(&path)?;
    drop((hot, cold));
    Ok(())
}

/// The page_owner_sort-style report of the biggest live owners.
pub(crate) fn top_owners(n: usize) {
    let snapshot = allocowner::snapshot();
    eprint!(
        "{}",
        relative(&Report::new(&snapshot).grouped(SortBy::Bytes, n))
    );
}

/// The live heap as a pprof profile (`go tool pprof`, Pyroscope, Parca,
/// speedscope) and as DHAT JSON (dh_view, the Firefox Profiler).
pub(crate) fn profiles() -> std::io::Result<()> {
    let snapshot = allocowner::snapshot();
    let report = Report::new(&snapshot);
    let dir = std::env::temp_dir();
    let pid = std::process::id();
    let pprof = dir.join(format!("dyndbg-demo-{pid}.pb.gz"));
    report.write_pprof(std::fs::File::create(&pprof)?)?;
    let dhat = dir.join(format!("dyndbg-demo-{pid}.dhat.json"));
    report.write_dhat(std::fs::File::create(&dhat)?)?;
    for (path, open) in [
        (&pprof, "go tool pprof -top"),
        (&dhat, "dh_view.html (Valgrind's), Load:"),
    ] {
        eprintln!(
            "{} ({} bytes): {open} {}",
            path.display(),
            std::fs::metadata(path)?.len(),
            path.display()
        );
    }
    Ok(())
}

/// Source paths in reports are absolute, as the debug info has them; the
/// demo prints this workspace's own relative to its root, as a user reads
/// them in the repository.
fn relative(report: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ lies in the workspace");
    report.replace(&format!("{}/", root.display()), "")
}
