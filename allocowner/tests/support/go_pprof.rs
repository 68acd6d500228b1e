//! `go tool pprof`, installed from Debian's packages when missing: shared
//! by the tests that open our profiles in it (allocowner's `pprof` and
//! `pprof_sampled`, allocowner-cli's `cli`), included with `#[path]`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `go`, installed from Debian's packages when missing (once per test
/// binary); panics saying why when it cannot be.
fn go() -> &'static Path {
    static GO: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let found = GO.get_or_init(|| {
        let has = |p: &str| Path::new(p).exists();
        if !has("/usr/bin/go") {
            let install = || {
                Command::new("apt-get")
                    .args([
                        "install",
                        "-y",
                        "-o",
                        "DPkg::Lock::Timeout=600",
                        "golang-go",
                    ])
                    .env("DEBIAN_FRONTEND", "noninteractive")
                    .status()
            };
            if !install().is_ok_and(|s| s.success()) {
                let _ = Command::new("apt-get").arg("update").status();
                let _ = install();
            }
        }
        if has("/usr/bin/go") {
            Ok(PathBuf::from("/usr/bin/go"))
        } else {
            Err(
                "go is missing and `apt-get install golang-go` failed (root and Debian's \
                 package lists are needed)"
                    .to_owned(),
            )
        }
    });
    match found {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

/// Runs `go tool pprof ARGS FILE` and returns its stdout; panics with its
/// stderr when it fails.
pub(crate) fn pprof(args: &[&str], file: &Path) -> String {
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pprof-home");
    std::fs::create_dir_all(&home).unwrap();
    let out = Command::new(go())
        .args(["tool", "pprof"])
        .args(args)
        .arg(file)
        .env("HOME", &home)
        .env("PPROF_TMPDIR", &home)
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "go tool pprof {args:?} {}: {stderr}",
        file.display()
    );
    String::from_utf8(out.stdout).unwrap()
}
