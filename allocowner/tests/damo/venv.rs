//! damo, installed on first use into a cached venv under the target dir.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The `damo` executable of `version`, installing it with
/// `python3 -m venv` + `pip install damo==<version>` on first use. Panics
/// (the test fails) when it cannot be installed.
pub fn damo(version: &str) -> PathBuf {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("damo-{version}"));
    let bin = base.join("bin/damo");
    let done = base.join(".installed");
    if done.exists() && bin.exists() {
        return bin;
    }
    // A venv's scripts name their interpreter by absolute path, so it is
    // built in place; the marker says the install completed.
    let _ = std::fs::remove_dir_all(&base);
    let install = || -> Result<(), String> {
        run(Command::new("python3").args(["-m", "venv"]).arg(&base))?;
        run(Command::new(base.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("damo=={version}")))?;
        std::fs::write(&done, version).map_err(|e| e.to_string())
    };
    if let Err(e) = install() {
        panic!("cannot install damo {version} into a venv (needs python3 with venv and PyPI): {e}");
    }
    bin
}

/// Makes sure the `file` command exists (damo 3.x tells file types apart
/// with it), installing Debian's package when missing. Panics otherwise.
pub fn ensure_file_command() {
    if Command::new("file")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return;
    }
    let mut r = run(Command::new("apt-get").args(["install", "-y", "-q", "file"]));
    if r.is_err() {
        // Empty or stale package lists: refresh once and retry.
        r = run(Command::new("apt-get").args(["update", "-q"]))
            .and_then(|_| run(Command::new("apt-get").args(["install", "-y", "-q", "file"])));
    }
    assert!(
        Command::new("file")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "damo needs the `file` command and installing it failed: {r:?}"
    );
}

/// Runs damo with `args`; returns stdout, panicking with all output on
/// failure.
pub fn damo_run(damo: &Path, args: &[&str]) -> String {
    run(Command::new(damo).args(args)).unwrap_or_else(|e| panic!("{e}"))
}

/// What `file -b` says about `path`.
pub fn file_type(path: &Path) -> String {
    run(Command::new("file").arg("-b").arg(path)).unwrap_or_else(|e| panic!("{e}"))
}
