//! Issue #14, item 6: two copies of allocowner in one binary (0.1 and 0.2,
//! as when two dependencies pin different majors) each run their
//! `.init_array` constructor, with their own statics; at most one starts a
//! monitor from `ALLOCOWNER_ACCESS`, the other says why it does not. The
//! process-wide claim is the abstract Unix socket `allocowner-access-<pid>`
//! (see `allocowner::access` docs), which does not depend on either copy's
//! statics or symbols. The test writes a small project that builds this
//! crate's sources twice under both versions, as `dyndbg/tests/two_copies.rs`
//! does for dyndbg.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use allocowner::access::Recording;

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

/// allocowner's `[dependencies]` and `[features]`, with each
/// `x.workspace = true` replaced by the workspace's line for `x`, so that
/// the copies build with what the crate itself uses.
fn manifest_sections() -> String {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let own = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let ws = std::fs::read_to_string(crate_dir.join("../Cargo.toml")).unwrap();
    let section = |text: &str, name: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| l.trim() != name)
            .skip(1)
            .take_while(|l| !l.trim_start().starts_with('['))
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(str::to_owned)
            .collect()
    };
    let ws_deps = section(&ws, "[workspace.dependencies]");
    let mut out = String::from("[dependencies]\n");
    let ws_def = |name: &str| -> String {
        let def = ws_deps
            .iter()
            .find(|l| l.split_once('=').is_some_and(|(k, _)| k.trim() == name))
            .unwrap_or_else(|| panic!("{name} not in [workspace.dependencies]"));
        // The value alone, as an inline table (`"1"` is `{ version = "1" }`).
        let value = def.split_once('=').unwrap().1.trim();
        match value.strip_prefix('{').and_then(|v| v.strip_suffix('}')) {
            Some(table) => table.trim().to_owned(),
            None => format!("version = {value}"),
        }
    };
    for line in section(&own, "[dependencies]") {
        let (name, value) = line.split_once('=').unwrap();
        let name = name.trim();
        if let Some(name) = name.strip_suffix(".workspace") {
            // `x.workspace = true`
            let _ = write!(out, "{name} = {{ {} }}", ws_def(name));
        } else if let Some(table) = value.trim().strip_prefix('{')
            && table.contains("workspace = true")
        {
            // `x = { workspace = true, optional = true }`: the workspace's
            // keys and the others of the line.
            let own_keys: Vec<&str> = table
                .trim_end_matches(|c: char| c == '}' || c.is_whitespace())
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty() && *k != "workspace = true")
                .collect();
            let _ = write!(
                out,
                "{name} = {{ {}, {} }}",
                ws_def(name),
                own_keys.join(", ")
            );
        } else {
            out.push_str(&line);
        }
        out.push('\n');
    }
    let features = section(&own, "[features]");
    if !features.is_empty() {
        out.push_str("\n[features]\n");
        for f in features {
            out.push_str(&f);
            out.push('\n');
        }
    }
    out
}

/// A copy of allocowner at `version`.
fn copy_of_allocowner(root: &Path, version: &str) {
    let dir = root.join(format!("allocowner-{version}"));
    let _ = std::fs::remove_dir_all(dir.join("src"));
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &dir.join("src"),
    );
    write(
        dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"allocowner\"\nversion = \"{version}\"\nedition = \"2024\"\n\n\
             {}\n[workspace]\n",
            manifest_sections()
        ),
    );
}

/// Builds the two-copy program once; returns its path.
fn build(root: &Path) -> PathBuf {
    copy_of_allocowner(root, "0.1.0");
    copy_of_allocowner(root, "0.2.0");
    write(
        root.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\n\
         [workspace]\nexclude = [\"allocowner-0.1.0\", \"allocowner-0.2.0\"]\n\n\
         [dependencies]\n\
         old = { package = \"allocowner\", path = \"allocowner-0.1.0\", features = [\"access\"] }\n\
         new = { package = \"allocowner\", path = \"allocowner-0.2.0\", features = [\"access\"] }\n",
    );
    write(
        root.join("src/main.rs"),
        "fn main() {\n\
         // Both copies are linked (their constructors ran before main).\n\
         let _ = (old::access::excluded_ranges(), new::access::excluded_ranges());\n\
         let mut heap = vec![0u8; 4 << 20];\n\
         for round in 0..60u8 {\n\
             heap.iter_mut().step_by(4096).for_each(|b| *b = round);\n\
             std::thread::sleep(std::time::Duration::from_millis(5));\n\
         }\n\
         println!(\"app ran\");\n\
         }\n",
    );
    // The workspace's lock pins the same dependency versions, so nothing
    // new is fetched.
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    if !root.join("Cargo.lock").exists() {
        std::fs::copy(lock, root.join("Cargo.lock")).unwrap();
    }
    let out = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(root.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the two-copy program failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    root.join("target/debug/app")
}

fn run(app: &Path, control: &str) -> String {
    let out = Command::new(app)
        .env("ALLOCOWNER_ACCESS", control)
        .env_remove("ALLOCOWNER_ACCESS_MODE")
        .env_remove("ALLOCOWNER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "app ran\n");
    stderr
}

#[test]
fn two_copies_start_one_monitor() {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("access_two_copies");
    let app = build(&root);
    let rec = root.join("two.data");
    for control in [format!("4096 {}", rec.display()), "0 none".to_owned()] {
        let _ = std::fs::remove_file(&rec);
        let stderr = run(&app, &control);
        let started = stderr
            .lines()
            .filter(|l| l.starts_with("allocowner::access: monitoring"))
            .count();
        assert_eq!(started, 1, "{control}: {stderr}");
        let refused = stderr
            .lines()
            .filter(|l| {
                *l == "allocowner::access: ALLOCOWNER_ACCESS ignored: another copy of \
                       allocowner already monitors this process (one monitor per process)"
            })
            .count();
        assert_eq!(refused, 1, "{control}: {stderr}");
        if control != "0 none" {
            let r = Recording::read(&rec).unwrap();
            assert!(!r.aggregations.is_empty());
        }
    }
}
