//! The ALLOCOWNER variable, read at the first allocation, checked through
//! child processes (this test binary re-run with the variable set).
use std::process::Command;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

fn child(value: Option<&str>) -> (String, String) {
    child_of(&std::env::current_exe().unwrap(), value)
}

/// Runs `exe` (this test binary or a copy) as the child.
fn child_of(exe: &std::path::Path, value: Option<&str>) -> (String, String) {
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "env_variable", "--nocapture", "--test-threads=1"]);
    cmd.env("ALLOCOWNER_TEST_CHILD", "1");
    match value {
        Some(v) => cmd.env("ALLOCOWNER", v),
        None => cmd.env_remove("ALLOCOWNER"),
    };
    let out = output_retrying(&mut cmd);
    assert!(out.status.success(), "child failed: {out:?}");
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs `cmd`, retrying while exec fails with ETXTBSY: a child that the
/// other test of this binary forks while the setgid copy is being written
/// holds the copy's write descriptor (close-on-exec, so only until its own
/// exec), and exec of a file open for writing fails until then.
fn output_retrying(cmd: &mut Command) -> std::process::Output {
    for _ in 0..500 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return r.unwrap(),
        }
    }
    panic!("{cmd:?}: exec failed with ETXTBSY 500 times");
}

#[inline(never)]
fn child_main() {
    let v: Vec<Vec<u8>> = (0..100).map(|i| vec![0; i]).collect();
    let s = allocowner::stats();
    // SAFETY: getauxval only reads the auxiliary vector.
    let secure = unsafe { libc::getauxval(libc::AT_SECURE) };
    println!(
        "CHILD secure={secure} enabled={} mapped={} mode={:?}",
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
    assert!(out.contains("enabled=false mapped=0"), "{out}");
    assert!(!err.contains("allocowner"), "{err}");
    // on with options.
    let (out, _) = child(Some("on,depth=8,thread,depot_cap=1M"));
    assert!(out.contains("enabled=true"), "{out}");
    assert!(out.contains("mode=FramePointers"), "{out}");
    // Forced unwinder mode says so.
    let (out, _) = child(Some("on,capture=unwind,sample=10"));
    assert!(out.contains("mode=Sampling { every: 10 }"), "{out}");
    // An unknown option: one line on stderr naming it, tracking stays off.
    let (out, err) = child(Some("on,depth=8,colour=blue"));
    assert!(out.contains("enabled=false mapped=0"), "{out}");
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

/// In a setgid program (AT_SECURE) `ALLOCOWNER` is ignored, with one line
/// on stderr. A copy of this binary is made setgid to group 65534
/// (nogroup), which makes the kernel set AT_SECURE (egid != gid) when
/// root runs it.
#[test]
fn setgid_program_ignores_allocowner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("allocowner-setgid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("env-setgid");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    if let Err(e) = std::os::unix::fs::chown(&exe, None, Some(65534)) {
        let _ = std::fs::remove_dir_all(&dir);
        panic!(
            "cannot chgrp a copy of the test binary to 65534 ({e}): this test needs root \
             (CI runs as root) to make a setgid program"
        );
    }
    // After chown, which clears the set-id bits.
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o2755)).unwrap();
    let report = dir.join("report.txt");
    let (out, err) = child_of(&exe, Some(&format!("on,report={}", report.display())));
    let (plain_out, _) = child(Some("on"));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.contains("CHILD secure=1 "),
        "the setgid copy did not run with AT_SECURE (nosuid mount?): {out}"
    );
    assert!(out.contains("enabled=false mapped=0"), "{out}");
    let lines: Vec<_> = err.lines().filter(|l| l.contains("allocowner")).collect();
    assert_eq!(
        lines,
        ["allocowner: ALLOCOWNER ignored: setuid/setgid program (AT_SECURE)"],
        "{err}"
    );
    assert!(!report.exists());
    // The same value in the ordinary binary is honoured.
    assert!(
        plain_out.contains("CHILD secure=0 enabled=true"),
        "{plain_out}"
    );
}
