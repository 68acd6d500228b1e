//! A dependency no code names is not linked: no constructor, no server (why a program needs `use dyndbg_debugfs as _;`).
//! No other code of this binary names the crate.

// dyndbg_debugfs is a dev-dependency, but no code names it.

#[test]
fn constructor_serves_only_when_linked() {
    if std::env::var_os("DEBUGFS_LINK_CHILD").is_some() {
        // The child: print the pid, wait for the parent to look.
        println!("PID {}", std::process::id());
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        return;
    }
    let xdg = std::env::temp_dir().join(format!("debugfs-not_linked-{}", std::process::id()));
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
    assert!(!served, "a socket: the crate was linked after all");
}
