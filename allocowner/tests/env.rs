//! The ALLOCOWNER variable, read at the first allocation, checked through
//! child processes (this test binary re-run with the variable set).
use std::process::Command;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

fn child(value: Option<&str>) -> (String, String) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "env_variable", "--nocapture", "--test-threads=1"]);
    cmd.env("ALLOCOWNER_TEST_CHILD", "1");
    match value {
        Some(v) => cmd.env("ALLOCOWNER", v),
        None => cmd.env_remove("ALLOCOWNER"),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[inline(never)]
fn child_main() {
    let v: Vec<Vec<u8>> = (0..100).map(|i| vec![0; i]).collect();
    let s = allocowner::stats();
    println!(
        "CHILD enabled={} mapped={} mode={:?}",
        s.enabled,
        s.own_mapped_bytes,
        allocowner::capture_mode()
    );
    drop(v);
}

#[test]
fn env_variable() {
    if std::env::var_os("ALLOCOWNER_TEST_CHILD").is_some() {
        child_main();
        return;
    }
    // Unset: off, nothing mapped at all.
    let (out, err) = child(None);
    assert!(out.contains("CHILD enabled=false mapped=0"), "{out}");
    assert!(!err.contains("allocowner"), "{err}");
    // on with options.
    let (out, _) = child(Some("on,depth=8,thread,depot_cap=1M"));
    assert!(out.contains("CHILD enabled=true"), "{out}");
    assert!(out.contains("mode=FramePointers"), "{out}");
    // Forced unwinder mode says so.
    let (out, _) = child(Some("on,capture=unwind,sample=10"));
    assert!(out.contains("mode=Sampling { every: 10 }"), "{out}");
    // An unknown option: one line on stderr naming it, tracking stays off.
    let (out, err) = child(Some("on,depth=8,colour=blue"));
    assert!(out.contains("CHILD enabled=false mapped=0"), "{out}");
    let lines: Vec<_> = err.lines().filter(|l| l.contains("allocowner")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains("unknown option 'colour=blue'"), "{err}");
    // A bad value names it too.
    let (out, err) = child(Some("on,depth=999"));
    assert!(out.contains("enabled=false"), "{out}");
    assert!(err.contains("bad option 'depth=999'"), "{err}");
    let (_, err) = child(Some("yes"));
    assert!(err.contains("must be 'on'"), "{err}");
    // report=PATH: the grouped report is written at exit.
    let path = std::env::temp_dir().join(format!("allocowner-env-{}.txt", std::process::id()));
    let (out, _) = child(Some(&format!("on,report={}", path.display())));
    assert!(out.contains("enabled=true"), "{out}");
    let report = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(
        report.starts_with("# allocowner grouped report: live heap by owner stack")
            && report.contains("frame pointers"),
        "{report}"
    );
    assert!(report.contains("bytes in"), "{report}");
}
