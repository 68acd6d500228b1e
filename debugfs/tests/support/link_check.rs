//! The check the link tests share: whether this test binary, run again as a
//! child with `DYNDBG_CONTROL=on`, serves a socket before `main`. Included
//! with `#[path]`: it names no crate, so it links nothing itself.

/// In the parent: runs the binary again as a child with `DYNDBG_CONTROL=on`
/// and a fresh `XDG_RUNTIME_DIR` (named after `tag`) and returns whether
/// the child served its socket. In that child (which runs the test named
/// `constructor_serves_only_when_linked` again): prints its pid, waits for
/// the parent to look, and returns `None`.
pub(crate) fn child_served(tag: &str) -> Option<bool> {
    if std::env::var_os("DEBUGFS_LINK_CHILD").is_some() {
        // The child: print the pid, wait for the parent to look.
        println!("PID {}", std::process::id());
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        return None;
    }
    let xdg = std::env::temp_dir().join(format!("debugfs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&xdg);
    std::fs::create_dir(&xdg).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "constructor_serves_only_when_linked",
            "--nocapture",
        ])
        .env("DEBUGFS_LINK_CHILD", "1")
        .env("DYNDBG_CONTROL", "on")
        .env("XDG_RUNTIME_DIR", &xdg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("PID ") {
        line.clear();
        let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(n > 0, "the child ended before printing its pid");
    }
    let pid = line[line.find("PID ").unwrap() + 4..].trim().to_owned();
    // The constructor ran before main: the socket is there or never will be.
    let served = xdg.join(format!("dyndbg/{pid}.sock")).exists();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    std::fs::remove_dir_all(&xdg).unwrap();
    Some(served)
}
