//! When a seccomp policy forbids userfaultfd, the monitor says so: the
//! probe names the failing step and the reason, starting in write-protect
//! mode fails with a typed error, and the opt-in mprotect mode still runs.
//! The filter is installed on one thread only (no TSYNC), so the rest of
//! the test process is untouched.

use allocowner::access::{AccessError, Attrs, Mode, Monitor, Probe};

/// Makes `userfaultfd(2)` fail with EPERM on the calling thread.
fn forbid_userfaultfd() {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    let f = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let prog = [
        f(LD_W_ABS, 0, 0, 4), // seccomp_data.arch
        f(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        f(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
        f(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        f(JEQ_K, 0, 1, libc::SYS_userfaultfd as u32),
        f(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        f(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(r, 0);
    // SAFETY: `fprog` points at a valid filter program that outlives the
    // call (the kernel copies it).
    let r = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &raw const fprog,
            0,
            0,
        )
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
}

#[test]
#[cfg(target_arch = "x86_64")]
fn seccomp_forbidding_userfaultfd_is_reported() {
    std::thread::spawn(|| {
        forbid_userfaultfd();
        let p = Probe::run();
        let wp = p.write_protect.as_ref().unwrap_err();
        assert!(
            wp.contains("userfaultfd(UFFD_USER_MODE_ONLY) failed")
                && wp.contains("Operation not permitted")
                && wp.contains("seccomp"),
            "{p}"
        );
        assert!(p.allows(Mode::Mprotect), "{p}");
        assert!(p.to_string().contains("write-protect: unavailable"), "{p}");

        // Manual mode opens the detector on this (filtered) thread.
        let mut m = Monitor::new(Attrs::default()).unwrap();
        let e = m.tick().unwrap_err();
        assert!(
            matches!(
                e,
                AccessError::Unsupported {
                    mode: Mode::WriteProtect,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.errno(), libc::ENOTSUP);
        assert!(
            e.to_string()
                .starts_with("access detection mode write-protect cannot run here"),
            "{e}"
        );
        assert!(!m.is_running(), "nothing half-started");

        let mut m = Monitor::with_mode(Attrs::default(), Mode::Mprotect).unwrap();
        m.tick().unwrap();
        m.tick().unwrap();
        assert_eq!(m.stop().unwrap().mode, Mode::Mprotect);
    })
    .join()
    .unwrap();
}
