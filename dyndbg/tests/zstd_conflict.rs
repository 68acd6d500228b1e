//! Issue #20, item 1: a program that depends on both dyndbg and `zstd` 0.9
//! (whose `zstd-sys` 1.x, like `zstd-sys` 2.x under dyndbg's pool, declares
//! `links = "zstd"`) builds when dyndbg's default `pool` feature is off,
//! and runs: a `pr_debug!` prints when enabled, `zstd::encode_all` works,
//! the store is the raw records. With dyndbg's default features the same
//! program does not build: Cargo refuses the two `links = "zstd"`
//! packages. That second half proves the first tests the conflict.
//!
//! The test writes two small crates under `CARGO_TARGET_TMPDIR` and runs
//! Cargo on them, with one target directory kept across runs (the first
//! run compiles zstd-sys 1.x's C sources; later runs only relink). `zstd`
//! 0.9 comes from the registry like any dependency (network on a cold
//! Cargo cache).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

const MAIN: &str = r#"fn report(n: usize) {
    dyndbg::pr_debug!("zstd packed {n} bytes");
}

fn main() {
    let data = b"dyndbg and zstd 0.9 in one program, one program, one program";
    let packed = zstd::encode_all(&data[..], 3).unwrap();
    assert_eq!(zstd::decode_all(&packed[..]).unwrap(), data);
    report(0);
    assert_eq!(dyndbg::control("func report +p").unwrap(), 1);
    report(packed.len());
    let stats = dyndbg::stats();
    assert!(!stats.pooled && stats.pool_bytes == 0, "{stats:?}");
    println!("ok {} < {}", packed.len(), data.len());
}
"#;

/// A crate at `root/name` depending on dyndbg (`dyndbg_extra` added to its
/// line) and `zstd` 0.9.
fn app(root: &Path, name: &str, dyndbg_extra: &str) -> PathBuf {
    let dyndbg = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(name);
    write(
        dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
             [dependencies]\ndyndbg = {{ path = {:?}{dyndbg_extra} }}\nzstd = \"0.9\"\n\n\
             [workspace]\n",
            dyndbg.display().to_string()
        ),
    );
    write(dir.join("src/main.rs"), MAIN);
    dir
}

/// `cargo <args>` on the crate at `dir`, target directory shared.
fn cargo(root: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .args(args)
        .arg("--manifest-path")
        .arg(dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", root.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("DYNDBG")
        .env_remove("DYNDBG_POOL")
        .output()
        .unwrap()
}

#[test]
fn without_the_pool_dyndbg_builds_beside_zstd_sys_1() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zstd_conflict");
    let dir = app(&root, "no_pool_app", ", default-features = false");
    let out = cargo(&root, &dir, &["run", "--quiet"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("ok "), "{stdout}\n{stderr}");
    // Only the enabled call printed.
    let printed: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("zstd packed"))
        .collect();
    assert_eq!(printed.len(), 1, "{stderr}");
    assert_ne!(printed[0], "zstd packed 0 bytes", "{stderr}");

    // The tree really has zstd-sys 1.x, and no 2.x.
    let tree = cargo(
        &root,
        &dir,
        &["tree", "--quiet", "-e", "normal,build", "-i", "zstd-sys"],
    );
    let tree_out = String::from_utf8_lossy(&tree.stdout);
    assert!(
        tree.status.success(),
        "{}",
        String::from_utf8_lossy(&tree.stderr)
    );
    assert!(tree_out.starts_with("zstd-sys v1."), "{tree_out}");
}

#[test]
fn with_the_pool_cargo_refuses_the_two_zstd_sys() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("zstd_conflict");
    let dir = app(&root, "pool_app", "");
    let out = cargo(&root, &dir, &["generate-lockfile"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("links to the native library `zstd`")
            && stderr.contains(
                "Only one package in the dependency graph may specify the same links value"
            ),
        "not the links conflict: {stderr}"
    );
}
