//! The few OS calls the tracker makes, none of which goes through the Rust
//! global allocator: anonymous mappings, a raw stderr write, `getenv`, the
//! inner allocator's statistics, the thread id and a monotonic clock.

use core::sync::atomic::{AtomicU64, Ordering};

/// Bytes allocowner has mapped from the OS and not yet unmapped.
pub(crate) static MAPPED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Maps `len` bytes of zeroed, private, anonymous memory, or returns null.
/// Untouched pages cost no physical memory (Linux maps them lazily).
pub(crate) fn map(len: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping with no address hint has no
    // preconditions; failure is reported as MAP_FAILED and turned into null.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return core::ptr::null_mut();
    }
    // Relaxed: a statistic, read only for reports.
    MAPPED_BYTES.fetch_add(len as u64, Ordering::Relaxed);
    // List it as allocowner's own memory, which the access monitor leaves
    // out of its target (lock-free, allocation-free).
    #[cfg(target_os = "linux")]
    crate::own_mappings::add(p as usize, len);
    p.cast()
}

/// Returns a mapping made by [`map`] to the OS.
///
/// # Safety
/// `p` and `len` must be exactly those of one earlier [`map`] call, and
/// nothing may use the memory afterwards.
pub(crate) unsafe fn unmap(p: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    crate::own_mappings::remove(p as usize);
    // SAFETY: the caller passes a live mapping of exactly this length.
    unsafe { libc::munmap(p.cast(), len) };
    // Relaxed: a statistic.
    MAPPED_BYTES.fetch_sub(len as u64, Ordering::Relaxed);
}

/// Gives the pages of `len` bytes at `p` back to the OS; they read as
/// zeros when next touched.
///
/// # Safety
/// `p` and `len` must lie inside one mapping made by [`map`], and nothing
/// may rely on those bytes' contents any more.
pub(crate) unsafe fn discard(p: *mut u8, len: usize) {
    // SAFETY: MADV_DONTNEED on private anonymous memory of ours only drops
    // its contents (to zero-filled pages), which the caller gives up.
    unsafe { libc::madvise(p.cast(), len, libc::MADV_DONTNEED) };
}

/// Makes the pages of `len` bytes at `p` present and writable now, as a
/// write would (`MADV_POPULATE_WRITE`, Linux 5.14), without changing
/// their contents.
///
/// Memory that the side table reads before it writes (a slot is read to
/// see whether it is free) would otherwise fault in the shared zero page
/// first and then, at the first write, copy it: a second fault, and a
/// TLB flush sent to every CPU the process runs on. In a process of 8
/// threads on 2 cores that was most of the tracked JSON parse's system
/// time. On an older kernel the call fails and the pages fault in lazily
/// as before.
///
/// # Safety
/// `p` and `len` must lie inside one mapping made by [`map`].
pub(crate) unsafe fn populate(p: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    // SAFETY: per the contract, private anonymous read-write memory of
    // ours; populating it for writing leaves every byte's value as it is.
    unsafe {
        libc::madvise(p.cast(), len, libc::MADV_POPULATE_WRITE)
    };
    #[cfg(not(target_os = "linux"))]
    let _ = (p, len);
}

/// Writes all of `bytes` to stderr with `write(2)`: no allocation, no lock.
pub(crate) fn write_stderr(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: `rest` is a valid readable buffer of `rest.len()` bytes.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// The value of environment variable `name` (NUL-terminated), read with
/// `getenv`, which allocates nothing.
pub(crate) fn getenv(name: &core::ffi::CStr) -> Option<&'static [u8]> {
    // SAFETY: `name` is NUL-terminated. The returned pointer stays valid as
    // long as nobody changes the environment; the tracker reads it once, at
    // the first allocation, before the program has had a chance to.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: getenv returns a NUL-terminated string.
    Some(unsafe { core::ffi::CStr::from_ptr(p) }.to_bytes())
}

/// Whether the kernel marked this program for secure execution
/// (`AT_SECURE`: setuid or setgid, or file capabilities), when glibc's
/// `secure_getenv` ignores the environment.
pub(crate) fn secure_execution() -> bool {
    #[cfg(target_os = "linux")]
    // SAFETY: getauxval only reads the auxiliary vector; an absent entry
    // reads as 0.
    return unsafe { libc::getauxval(libc::AT_SECURE) } != 0;
    #[cfg(not(target_os = "linux"))]
    false
}

/// The text of OS error `errno` (e.g. `Not a directory`), written into
/// `buf` without allocating.
pub(crate) fn strerror(errno: i32, buf: &mut [u8; 128]) -> &[u8] {
    // SAFETY: `buf` is writable for its length; the XSI strerror_r writes
    // a NUL-terminated message (cut to fit) and returns nonzero on error.
    let rc = unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return b"unknown error";
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    &buf[..len]
}

/// The calling process's id.
pub(crate) fn getpid() -> u32 {
    // SAFETY: getpid has no preconditions and cannot fail.
    unsafe { libc::getpid() as u32 }
}

/// Live bytes glibc's malloc reports (`mallinfo2`: in-use chunks plus
/// mmapped chunks), the estimate of what was allocated before tracking.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn system_live_bytes() -> u64 {
    // SAFETY: mallinfo2 takes no arguments and only reads malloc's state
    // under its own locks; no allocowner lock is held by the caller.
    let mi = unsafe { libc::mallinfo2() };
    (mi.uordblks + mi.hblkhd) as u64
}

/// Live bytes the system allocator reports: unknown on this platform.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn system_live_bytes() -> u64 {
    0
}

/// The calling thread's OS id.
pub(crate) fn gettid() -> u64 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() as u64 }
}

/// Nanoseconds on the monotonic clock (vDSO, no syscall on x86_64).
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The calling thread's stack as `[low, high)`, from `pthread_getattr_np`.
/// Called once per thread (the capture caches it). glibc's implementation
/// calls C `malloc` (not the Rust global allocator) and, for the main
/// thread, reads `/proc/self/maps`.
pub(crate) fn thread_stack_bounds() -> Option<(usize, usize)> {
    // SAFETY: pthread_attr_t is plain data; it is initialised by
    // pthread_getattr_np before any read and destroyed once.
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &raw mut attr) != 0 {
            return None;
        }
        let mut addr: *mut libc::c_void = core::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let rc = libc::pthread_attr_getstack(&raw const attr, &raw mut addr, &raw mut size);
        libc::pthread_attr_destroy(&raw mut attr);
        if rc != 0 || addr.is_null() {
            return None;
        }
        Some((addr as usize, addr as usize + size))
    }
}

/// A small fixed buffer for composing a message without allocating.
pub(crate) struct LineBuf {
    buf: [u8; 512],
    len: usize,
}

impl LineBuf {
    pub(crate) const fn new() -> Self {
        LineBuf {
            buf: [0; 512],
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, s: &[u8]) -> &mut Self {
        let room = self.buf.len() - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
        self
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl core::fmt::Write for LineBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}
