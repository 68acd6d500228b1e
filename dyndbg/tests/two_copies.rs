//! Two semver-incompatible copies of dyndbg in one binary (0.1 and 0.2, as
//! happens when two dependencies pin different majors) keep separate
//! registries and both work. The test writes a small project that builds
//! this crate's sources twice under both versions.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn write(path: PathBuf, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A copy of dyndbg and its macros at `version`.
fn copy_of_dyndbg(root: &Path, version: &str) {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let dir = root.join(format!("dyndbg-{version}"));
    copy_dir(&sources.join("dyndbg/src"), &dir.join("runtime/src"));
    std::fs::copy(
        sources.join("dyndbg/build.rs"),
        dir.join("runtime/build.rs"),
    )
    .unwrap();
    copy_dir(&sources.join("dyndbg-macros/src"), &dir.join("macros/src"));
    write(
        dir.join("runtime/Cargo.toml"),
        &format!(
            "[package]\nname = \"dyndbg\"\nversion = \"{version}\"\nedition = \"2024\"\n\n\
             [dependencies]\ndyndbg-macros = {{ path = \"../macros\", version = \"={version}\" }}\n\
             linkme = \"0.3.37\"\nlibc = \"0.2\"\nzstd = {{ version = \"0.13\", default-features = false, optional = true }}\n\n\
             [features]\ndefault = [\"pool\"]\npool = [\"dep:zstd\"]\nlog = []\ntracing = []\ncompile_out = []\n\n[workspace]\n"
        ),
    );
    write(
        dir.join("macros/Cargo.toml"),
        &format!(
            "[package]\nname = \"dyndbg-macros\"\nversion = \"{version}\"\nedition = \"2024\"\n\n\
             [lib]\nproc-macro = true\n\n[dependencies]\n\
             syn = {{ version = \"2\", features = [\"full\", \"visit\", \"extra-traits\"] }}\nquote = \"1\"\nproc-macro2 = \"1\"\n\n[workspace]\n"
        ),
    );
}

fn user_crate(root: &Path, name: &str, version: &str) {
    write(
        root.join(format!("{name}/Cargo.toml")),
        &format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
             [dependencies]\ndyndbg = {{ path = \"../dyndbg-{version}/runtime\" }}\n\n[workspace]\n"
        ),
    );
    write(
        root.join(format!("{name}/src/lib.rs")),
        &format!(
            "pub fn work() {{ dyndbg::pr_debug!(\"{name} works\"); }}\n\
             pub fn enable() -> usize {{ dyndbg::control(\"+p\").unwrap() }}\n\
             pub fn count() -> usize {{ dyndbg::callsites().count() }}\n"
        ),
    );
}

#[test]
fn two_incompatible_copies_keep_separate_registries() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("two_copies");
    let _ = std::fs::remove_dir_all(root.join("src"));
    copy_of_dyndbg(&root, "0.1.0");
    copy_of_dyndbg(&root, "0.2.0");
    user_crate(&root, "old_user", "0.1.0");
    user_crate(&root, "new_user", "0.2.0");
    let mut manifest = String::from(
        "[package]\nname = \"app\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n[workspace]\nexclude = [\"dyndbg-0.1.0\", \"dyndbg-0.2.0\", \"old_user\", \"new_user\"]\n\n[dependencies]\n",
    );
    let _ = writeln!(
        manifest,
        "old_user = {{ path = \"old_user\" }}\nnew_user = {{ path = \"new_user\" }}"
    );
    write(root.join("Cargo.toml"), &manifest);
    write(
        root.join("src/main.rs"),
        "fn main() {\n\
         assert_eq!((old_user::count(), new_user::count()), (1, 1));\n\
         assert_eq!(old_user::enable(), 1);\n\
         old_user::work();\n\
         new_user::work();\n\
         assert_eq!(new_user::enable(), 1);\n\
         new_user::work();\n\
         }\n",
    );
    let out = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .env_remove("RUSTFLAGS")
        .env_remove("DYNDBG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines, ["old_user works", "new_user works"], "{stderr}");
}
