//! Issue #17, item 2: `Report::write_dhat` writes a file that Valgrind's
//! DHAT viewer (`dh_view.html`) loads and renders in headless Chromium,
//! naming this test's own allocation sites with their bytes. Debian's
//! `valgrind` (which ships dh_view) and `chromium` are installed when
//! missing. The screenshot is kept under the target directory (its path
//! is printed).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use allocowner::access::{Aggregation, Format, RecordedRegion, Recording, attribute};
use allocowner::report::Report;

#[global_allocator]
static ALLOC: allocowner::OwnerAlloc = allocowner::OwnerAlloc::system();

#[inline(never)]
fn dhat_alpha_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..100 {
        out.push(black_box(vec![1u8; 1000]).into_boxed_slice());
    }
}

#[inline(never)]
fn dhat_cold_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..20 {
        out.push(black_box(vec![3u8; 5000]).into_boxed_slice());
    }
}

#[inline(never)]
fn dhat_hot_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..10 {
        out.push(black_box(vec![4u8; 7000]).into_boxed_slice());
    }
}

#[inline(never)]
fn dhat_beta_allocates(out: &mut Vec<Box<[u8]>>) {
    for _ in 0..50 {
        out.push(black_box(vec![2u8; 3000]).into_boxed_slice());
    }
}

/// Installs Debian package `pkg` unless `path` exists (once per package
/// per test binary); panics saying why when it cannot.
fn ensure(path: &str, pkg: &str) -> PathBuf {
    static LOCK: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    let _g = LOCK.get_or_init(Default::default).lock().unwrap();
    if !Path::new(path).exists() {
        let install = || {
            Command::new("apt-get")
                .args(["install", "-y", "-o", "DPkg::Lock::Timeout=600", pkg])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
        };
        if !install().is_ok_and(|s| s.success()) {
            let _ = Command::new("apt-get").arg("update").status();
            let _ = install();
        }
    }
    assert!(
        Path::new(path).exists(),
        "{path} is missing and `apt-get install {pkg}` failed (root and Debian's package \
         lists are needed)"
    );
    PathBuf::from(path)
}

/// Where Debian's valgrind package put dh_view.html (`dpkg -L valgrind`).
fn dh_view_dir() -> PathBuf {
    ensure("/usr/bin/valgrind", "valgrind");
    let out = Command::new("dpkg")
        .args(["-L", "valgrind"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    let html = list
        .lines()
        .find(|l| l.ends_with("/dh_view.html"))
        .unwrap_or_else(|| panic!("valgrind's package lists no dh_view.html:\n{list}"));
    Path::new(html).parent().unwrap().to_path_buf()
}

/// A copy of dh_view (html, js, css) in `dir` with the DHAT file `json`
/// loaded at start-up, as its "Load…" button would: the page sets
/// `gData` and builds and displays the tree as dh_view's file reader does,
/// after dh_view's own `onLoad` (the body's) has laid out the page, sorted
/// by total bytes (dh_view's first sort metric; its default is blocks).
fn viewer_page(dir: &Path, json: &str) -> PathBuf {
    let src = dh_view_dir();
    for f in ["dh_view.js", "dh_view.css"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    let html = std::fs::read_to_string(src.join("dh_view.html")).unwrap();
    // JSON is a JavaScript literal; `</` must not close the script.
    let data = json.replace("</", "<\\/");
    let loader = format!(
        "<script>window.addEventListener('load', () => setTimeout(() => {{\n\
         gFilename = 'heap.dhat.json';\n\
         gSelect.selectedIndex = 0;\n\
         tryFunc(() => {{ gData = {data}; buildTree(); displayTree(0, 0, 0); }});\n\
         }}, 0));</script>\n</head>"
    );
    let page = dir.join("view.html");
    std::fs::write(&page, html.replacen("</head>", &loader, 1)).unwrap();
    page
}

/// Runs headless Chromium on `page` with `args` (the flags that work on
/// this machine), killing it after a generous deadline.
fn chromium(page: &Path, args: &[&str], profile: &Path) -> std::process::Output {
    let bin = ensure("/usr/bin/chromium", "chromium");
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "chromium did not finish within 120 s: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn dh_view_renders_the_file_with_our_owners() {
    allocowner::enable_with("depth=32,thread").unwrap();
    let mut a = Vec::with_capacity(100);
    let mut b = Vec::with_capacity(50);
    dhat_alpha_allocates(&mut a);
    dhat_beta_allocates(&mut b);
    let snapshot = allocowner::snapshot();
    let report = Report::new(&snapshot);
    let mut json = Vec::new();
    report.write_dhat(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dhat");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("heap.dhat.json"), &json).unwrap();
    let page = viewer_page(&dir, &json);

    let out = chromium(&page, &["--dump-dom"], &dir.join("profile"));
    let dom = String::from_utf8_lossy(&out.stdout);
    // The rendered page, not the data injected in the head.
    let dom = &dom[dom.find("<body").unwrap_or(0)..];
    assert!(
        out.status.success(),
        "chromium --dump-dom: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // dh_view shows errors in the page (e.g. a duplicate frame sequence:
    // "bad _maxBytes"); none here.
    assert!(!dom.contains("class=\"error\""), "{dom}");
    assert!(
        dom.contains("Invocation"),
        "dh_view rendered no header: {dom}"
    );
    for (name, bytes) in [
        ("dhat::dhat_alpha_allocates", "100,000 bytes"),
        ("dhat::dhat_beta_allocates", "150,000 bytes"),
    ] {
        let at = dom
            .find(name)
            .unwrap_or_else(|| panic!("{name} not in the rendered page:\n{dom}"));
        // The node's figures precede its frame in dh_view's tree.
        let node = &dom[dom[..at].rfind("Total:").unwrap_or(0)..at];
        assert!(node.contains(bytes), "{name}: {node}");
    }

    let png = dir.join("dh_view.png");
    let out = chromium(
        &page,
        &[
            "--window-size=1200,900",
            &format!("--screenshot={}", png.display()),
        ],
        &dir.join("profile"),
    );
    assert!(
        out.status.success() && png.exists(),
        "chromium --screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("dh_view screenshot: {}", png.display());
    drop((a, b));
}

/// The `Total:` … `Allocated at` text of the program point whose first
/// frame is `name` in the rendered page.
fn node_of<'a>(dom: &'a str, name: &str) -> &'a str {
    let at = dom
        .find(name)
        .unwrap_or_else(|| panic!("{name} not in the rendered page:\n{dom}"));
    &dom[dom[..at].rfind("Total:").unwrap_or(0)..at]
}

#[test]
fn dh_view_shows_the_access_samplers_hot_bytes_as_reads() {
    allocowner::enable_with("depth=32,thread").unwrap();
    let mut cold = Vec::with_capacity(20);
    let mut hot = Vec::with_capacity(10);
    dhat_cold_allocates(&mut cold);
    dhat_hot_allocates(&mut hot);
    let snapshot = allocowner::snapshot();
    // A recording of one aggregation: the hot blocks found accessed in
    // every sampling interval, the cold ones never.
    let region = |b: &[u8], nr_accesses| RecordedRegion {
        start: b.as_ptr() as u64,
        end: b.as_ptr() as u64 + b.len() as u64,
        nr_accesses,
        age: None,
    };
    let mut regions: Vec<RecordedRegion> = hot.iter().map(|b| region(b, 20)).collect();
    regions.extend(cold.iter().map(|b| region(b, 0)));
    let recording = Recording {
        format: Format::V2,
        intervals: None,
        aggregations: vec![Aggregation {
            end_ns: 1,
            start_ns: None,
            target_id: u64::from(std::process::id()),
            regions,
        }],
    };
    let heat = attribute(&recording, &snapshot, 1);
    let report = Report::new(&snapshot);
    let mut json = Vec::new();
    report.write_dhat_with_access(&heat, &mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert!(json.contains("\"bkacc\":true"), "{json}");
    assert!(
        json.contains("\"rb\":70000,\"wb\":0,\"hb\":70000,\"cb\":0,"),
        "{json}"
    );
    assert!(
        json.contains("\"rb\":0,\"wb\":0,\"hb\":0,\"cb\":100000,"),
        "{json}"
    );

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dhat-access");
    std::fs::create_dir_all(&dir).unwrap();
    let page = viewer_page(&dir, &json);
    let out = chromium(&page, &["--dump-dom"], &dir.join("profile"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8_lossy(&out.stdout);
    let dom = &dom[dom.find("<body").unwrap_or(0)..];
    assert!(!dom.contains("class=\"error\""), "{dom}");
    let hot_node = node_of(dom, "dhat::dhat_hot_allocates");
    assert!(hot_node.contains("Reads:"), "{hot_node}");
    assert!(hot_node.contains("Reads:     70,000 bytes"), "{hot_node}");
    let cold_node = node_of(dom, "dhat::dhat_cold_allocates");
    assert!(cold_node.contains("Reads:     0 bytes"), "{cold_node}");
    drop((cold, hot));
}
