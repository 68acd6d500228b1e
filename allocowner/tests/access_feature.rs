//! Issue #15, item 1: the access sampler is allocowner's opt-in feature
//! `access`. A program that uses only `OwnerAlloc` (default features) links
//! no `.init_array` constructor of allocowner's and no `flate2`, and
//! allocowner builds that way without a warning (nothing left dead by the
//! feature being off); the same program built with `features = ["access"]`
//! has both, which shows the check can fail. The test writes a small
//! project depending on this crate by path and builds it offline against
//! the workspace's `Cargo.lock`, as `access_two_copies.rs` does.

use std::path::{Path, PathBuf};
use std::process::Command;

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Writes the project: an `OwnerAlloc` program, with a feature `access`
/// that turns on allocowner's.
fn project(root: &Path) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    write(
        root.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"owner-only\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
             [workspace]\n\n\
             [dependencies]\nallocowner = {{ path = {:?} }}\n\n\
             [features]\naccess = [\"allocowner/access\"]\n",
            crate_dir.display().to_string()
        ),
    );
    write(
        root.join("src/main.rs"),
        "#[global_allocator]\n\
         static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();\n\n\
         fn main() {\n\
             allocowner::enable().unwrap();\n\
             let v: Vec<Vec<u8>> = (0..100).map(|_| vec![0; 1000]).collect();\n\
             let owners = allocowner::snapshot().stacks.len();\n\
             assert!(owners > 0);\n\
             drop(v);\n\
             println!(\"owner-only ran\");\n\
         }\n",
    );
    // The workspace's lock pins the same dependency versions, so nothing
    // new is fetched.
    std::fs::copy(crate_dir.join("../Cargo.lock"), root.join("Cargo.lock")).unwrap();
}

/// Builds the project (with `--features access` if `access`), and returns
/// a copy of the binary and cargo's stderr.
fn build(root: &Path, access: bool) -> (PathBuf, String) {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR");
    if access {
        cmd.args(["--features", "access"]);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "building the OwnerAlloc-only program (access: {access}) failed:\n{stderr}"
    );
    let bin = root.join(if access { "app-access" } else { "app-default" });
    std::fs::copy(root.join("target/debug/owner-only"), &bin).unwrap();
    (bin, stderr)
}

/// The binary's symbols as `(section, demangled name)`, from `objdump -t`.
fn symbols(bin: &Path) -> Vec<(String, String)> {
    let out = Command::new("objdump")
        .args(["-t", "-C", "-w"])
        .arg(bin)
        .output()
        .unwrap_or_else(|e| panic!("cannot run objdump (binutils, which .ci/test installs): {e}"));
    assert!(
        out.status.success(),
        "objdump -t {}: {}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    // `ADDR FLAGS SECTION\tSIZE NAME`
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (head, tail) = l.split_once('\t')?;
            let section = head.split_whitespace().last()?;
            let name = tail.trim_start().split_once(char::is_whitespace)?.1.trim();
            Some((section.to_owned(), name.to_owned()))
        })
        .collect()
}

/// allocowner's entries in `.init_array`, and the symbols of flate2.
fn constructors_and_flate2(bin: &Path) -> (Vec<String>, Vec<String>, usize) {
    let syms = symbols(bin);
    let init: Vec<&(String, String)> = syms.iter().filter(|(s, _)| s == ".init_array").collect();
    let ours = init
        .iter()
        .filter(|(_, n)| n.contains("allocowner"))
        .map(|(_, n)| n.clone())
        .collect();
    let flate2 = syms
        .iter()
        .filter(|(_, n)| n.contains("flate2"))
        .map(|(_, n)| n.clone())
        .collect();
    (ours, flate2, init.len())
}

fn run(bin: &Path) -> String {
    let dir = bin.parent().unwrap();
    let out = Command::new(bin)
        .env(
            "ALLOCOWNER_ACCESS",
            format!("4096 {}", dir.join("rec.data").display()),
        )
        .env_remove("ALLOCOWNER_ACCESS_MODE")
        .env_remove("ALLOCOWNER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{}: {stderr}", bin.display());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "owner-only ran\n");
    stderr
}

#[test]
fn owner_alloc_alone_links_no_constructor_and_no_flate2() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("access_feature");
    project(&root);

    let (plain, stderr) = build(&root, false);
    assert!(
        !stderr.contains("warning"),
        "allocowner without the access feature builds with warnings:\n{stderr}"
    );
    let (ours, flate2, _) = constructors_and_flate2(&plain);
    assert!(
        ours.is_empty(),
        "default features: allocowner's constructors are linked: {ours:?}"
    );
    assert!(
        flate2.is_empty(),
        "default features: flate2 is linked: {:?}",
        &flate2[..flate2.len().min(5)]
    );
    // Without the sampler, ALLOCOWNER_ACCESS means nothing: no monitor.
    let stderr = run(&plain);
    assert!(!stderr.contains("allocowner::access"), "{stderr}");

    let (sampler, _) = build(&root, true);
    let (ours, flate2, entries) = constructors_and_flate2(&sampler);
    assert!(
        ours.iter()
            .any(|n| n.contains("allocowner::access::env::INIT")),
        "with the access feature, allocowner's constructor should be in \
         .init_array ({entries} entries): {ours:?}"
    );
    assert!(
        !flate2.is_empty(),
        "with the access feature, flate2 should be linked"
    );
    let stderr = run(&sampler);
    assert!(
        stderr.contains("allocowner::access: monitoring"),
        "with the access feature, ALLOCOWNER_ACCESS starts the monitor: {stderr}"
    );
}
