//! Access checks on one page at a time, as DAMON's `prepare_access_checks` /
//! `check_accesses`: reset a page, look again one sampling interval later.
//!
//! Two detectors work unprivileged on Linux:
//!
//! - [`Mode::WriteProtect`] (the default): userfaultfd write-protect in async
//!   mode, opened with `UFFD_USER_MODE_ONLY`; a page is reset with
//!   `UFFDIO_WRITEPROTECT` and checked with the `PAGEMAP_SCAN` ioctl on
//!   `/proc/self/pagemap` (`PAGE_IS_WRITTEN`). Exact per page, resolved inside
//!   the kernel (no handler thread), harmless to system calls; it sees
//!   **writes only**: what it measures is write heat. Needs Linux 6.7.
//! - [`Mode::Mprotect`] (opt-in): the page is made `PROT_NONE` and a
//!   `SIGSEGV` handler notes the first touch and restores it. Sees reads and
//!   writes, but a system call that touches an armed page (a `read(2)` into a
//!   buffer, a `write(2)` from one) fails with `EFAULT` instead of faulting:
//!   only use it on programs that tolerate that.

use std::fmt;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

/// The page size the detectors work in.
pub const PAGE: usize = 4096;

/// How accesses are detected.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Mode {
    /// userfaultfd write-protect (async) + `PAGEMAP_SCAN`: writes only.
    #[default]
    WriteProtect,
    /// `mprotect(PROT_NONE)` + `SIGSEGV` trap: reads and writes; system calls
    /// touching an armed page fail with `EFAULT`.
    Mprotect,
}

impl Mode {
    /// The name used in reports and in `ALLOCOWNER_ACCESS_MODE`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::WriteProtect => "write-protect",
            Mode::Mprotect => "mprotect",
        }
    }

    /// What the mode measures.
    pub fn measures(self) -> &'static str {
        match self {
            Mode::WriteProtect => "writes (write heat)",
            Mode::Mprotect => "reads and writes",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the kernel and any seccomp policy allow here, from a self-test of
/// each detector at start.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Probe {
    /// `Ok` or why write-protect mode cannot run.
    pub write_protect: Result<(), String>,
    /// `Ok` or why mprotect mode cannot run.
    pub mprotect: Result<(), String>,
}

impl Probe {
    /// Tests both detectors on a scratch mapping.
    pub fn run() -> Probe {
        Probe {
            write_protect: UffdWp::open()
                .and_then(|d| d.self_test())
                .map_err(|e| e.to_string()),
            mprotect: Trap::self_test().map_err(|e| e.to_string()),
        }
    }

    /// Whether `mode` can run.
    pub fn allows(&self, mode: Mode) -> bool {
        match mode {
            Mode::WriteProtect => self.write_protect.is_ok(),
            Mode::Mprotect => self.mprotect.is_ok(),
        }
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (mode, r) in [
            (Mode::WriteProtect, &self.write_protect),
            (Mode::Mprotect, &self.mprotect),
        ] {
            match r {
                Ok(()) => writeln!(f, "{mode}: available, detects {}", mode.measures())?,
                Err(e) => writeln!(f, "{mode}: unavailable: {e}")?,
            }
        }
        Ok(())
    }
}

// === uapi constants (include/uapi/linux/userfaultfd.h, fs.h) ===

const fn iowr(ty: u64, nr: u64, size: u64) -> u64 {
    (3 << 30) | (size << 16) | (ty << 8) | nr
}

const UFFD_API: u64 = 0xAA;
const UFFD_USER_MODE_ONLY: libc::c_int = 1;
const UFFD_FEATURE_WP_UNPOPULATED: u64 = 1 << 13;
const UFFD_FEATURE_WP_ASYNC: u64 = 1 << 15;
const UFFDIO_API: u64 = iowr(0xAA, 0x3F, 24);
const UFFDIO_REGISTER: u64 = iowr(0xAA, 0x00, 32);
const UFFDIO_WRITEPROTECT: u64 = iowr(0xAA, 0x06, 24);
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
const UFFDIO_WRITEPROTECT_MODE_WP: u64 = 1 << 0;
const PAGEMAP_SCAN: u64 = iowr(b'f' as u64, 16, 96);
const PM_SCAN_WP_MATCHING: u64 = 1 << 0;
const PM_SCAN_CHECK_WPASYNC: u64 = 1 << 1;
const PAGE_IS_WRITTEN: u64 = 1 << 1;
const PAGE_IS_PRESENT: u64 = 1 << 3;

#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
struct UffdioRegister {
    range: UffdioRange,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioWriteprotect {
    range: UffdioRange,
    mode: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct PageRegion {
    start: u64,
    end: u64,
    categories: u64,
}

#[repr(C)]
struct PmScanArg {
    size: u64,
    flags: u64,
    start: u64,
    end: u64,
    walk_end: u64,
    vec: u64,
    vec_len: u64,
    max_pages: u64,
    category_inverted: u64,
    category_mask: u64,
    category_anyof_mask: u64,
    return_mask: u64,
}

/// An error of a detector, naming the step that failed.
#[derive(Debug)]
pub struct DetectError {
    step: &'static str,
    source: io::Error,
}

impl DetectError {
    fn last(step: &'static str) -> DetectError {
        DetectError {
            step,
            source: io::Error::last_os_error(),
        }
    }
}

impl fmt::Display for DetectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.step, self.source)?;
        let hint = match (self.step, self.source.raw_os_error()) {
            ("userfaultfd(UFFD_USER_MODE_ONLY)", Some(libc::ENOSYS)) => {
                " (kernel built without CONFIG_USERFAULTFD, or a seccomp policy forbids it)"
            }
            ("userfaultfd(UFFD_USER_MODE_ONLY)", Some(libc::EPERM)) => {
                " (vm.unprivileged_userfaultfd and UFFD_USER_MODE_ONLY both refused, or seccomp)"
            }
            ("UFFDIO_API(WP_ASYNC|WP_UNPOPULATED)", Some(libc::EINVAL)) => {
                " (kernel older than 6.7: no async write-protect)"
            }
            ("PAGEMAP_SCAN", Some(libc::ENOTTY | libc::EINVAL)) => {
                " (kernel older than 6.7: no PAGEMAP_SCAN)"
            }
            _ => "",
        };
        f.write_str(hint)
    }
}

impl std::error::Error for DetectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Maps `pages` scratch pages for a self-test; unmapped on drop.
struct Scratch {
    addr: usize,
    len: usize,
}

impl Scratch {
    /// Maps `pages` fresh pages, left out of every monitoring target: a
    /// monitor already running in this process registers each read-write
    /// anonymous mapping with its own userfaultfd, and a page registered
    /// there cannot be registered here (`EBUSY`). The pages are mapped
    /// inaccessible, listed as allocowner's own, and only then made
    /// read-write, so no monitor ever sees them armable.
    fn new(pages: usize) -> Result<Scratch, DetectError> {
        let len = pages * PAGE;
        // SAFETY: a fresh private anonymous mapping, no address hint.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(DetectError::last("mmap of the self-test pages"));
        }
        let scratch = Scratch {
            addr: p as usize,
            len,
        };
        crate::own_mappings::add(scratch.addr, len);
        // SAFETY: changes the protection of exactly the mapping made above.
        if unsafe { libc::mprotect(p, len, libc::PROT_READ | libc::PROT_WRITE) } != 0 {
            return Err(DetectError::last("mprotect of the self-test pages"));
        }
        Ok(scratch)
    }

    fn write(&self, page: usize) {
        // SAFETY: the page lies inside this live read-write mapping.
        unsafe { std::ptr::write_volatile((self.addr + page * PAGE) as *mut u8, 1) };
    }

    fn read(&self, page: usize) -> u8 {
        // SAFETY: the page lies inside this live read-write mapping.
        unsafe { std::ptr::read_volatile((self.addr + page * PAGE) as *const u8) }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping made in `new`, no longer used.
        unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
        // After the unmap: until then, no monitor may take the pages.
        crate::own_mappings::remove(self.addr);
    }
}

// === impl UffdWp ===

/// The write-protect detector: one userfaultfd in async write-protect mode
/// and `/proc/self/pagemap` for `PAGEMAP_SCAN`.
#[derive(Debug)]
pub(crate) struct UffdWp {
    uffd: OwnedFd,
    pagemap: File,
}

impl UffdWp {
    pub(crate) fn open() -> Result<UffdWp, DetectError> {
        // SAFETY: the userfaultfd syscall takes only flags and returns a new
        // descriptor or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_userfaultfd,
                libc::O_CLOEXEC | libc::O_NONBLOCK | UFFD_USER_MODE_ONLY,
            )
        };
        if fd < 0 {
            return Err(DetectError::last("userfaultfd(UFFD_USER_MODE_ONLY)"));
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let uffd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let mut api = UffdioApi {
            api: UFFD_API,
            features: UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_API reads and writes one uffdio_api, which `api` is.
        if unsafe { libc::ioctl(uffd.as_raw_fd(), UFFDIO_API, &raw mut api) } != 0 {
            return Err(DetectError::last("UFFDIO_API(WP_ASYNC|WP_UNPOPULATED)"));
        }
        let pagemap = File::open("/proc/self/pagemap").map_err(|source| DetectError {
            step: "open /proc/self/pagemap",
            source,
        })?;
        Ok(UffdWp { uffd, pagemap })
    }

    /// Registers `range` (whole mappings) for write-protect tracking.
    /// Registering again what is already registered is a no-op for the
    /// kernel.
    pub(crate) fn register(&self, range: &Range<usize>) -> Result<(), DetectError> {
        let mut reg = UffdioRegister {
            range: UffdioRange {
                start: range.start as u64,
                len: (range.end - range.start) as u64,
            },
            mode: UFFDIO_REGISTER_MODE_WP,
            ioctls: 0,
        };
        // SAFETY: UFFDIO_REGISTER reads and writes one uffdio_register.
        if unsafe { libc::ioctl(self.uffd.as_raw_fd(), UFFDIO_REGISTER, &raw mut reg) } != 0 {
            return Err(DetectError::last("UFFDIO_REGISTER"));
        }
        Ok(())
    }

    /// Write-protects `[addr, addr + len)`: the next write there is noted.
    pub(crate) fn reset(&self, addr: usize, len: usize) -> Result<(), DetectError> {
        let mut wp = UffdioWriteprotect {
            range: UffdioRange {
                start: addr as u64,
                len: len as u64,
            },
            mode: UFFDIO_WRITEPROTECT_MODE_WP,
        };
        // SAFETY: UFFDIO_WRITEPROTECT reads one uffdio_writeprotect.
        if unsafe { libc::ioctl(self.uffd.as_raw_fd(), UFFDIO_WRITEPROTECT, &raw mut wp) } != 0 {
            return Err(DetectError::last("UFFDIO_WRITEPROTECT"));
        }
        Ok(())
    }

    /// Whether the page at `addr` was written since its reset.
    pub(crate) fn written(&self, addr: usize) -> Result<bool, DetectError> {
        let mut out = [PageRegion::default(); 1];
        let mut arg = PmScanArg {
            size: size_of::<PmScanArg>() as u64,
            flags: PM_SCAN_CHECK_WPASYNC,
            start: addr as u64,
            end: (addr + PAGE) as u64,
            walk_end: 0,
            vec: out.as_mut_ptr() as u64,
            vec_len: 1,
            max_pages: 0,
            category_inverted: 0,
            category_mask: PAGE_IS_WRITTEN,
            category_anyof_mask: 0,
            return_mask: PAGE_IS_WRITTEN,
        };
        // SAFETY: PAGEMAP_SCAN reads `arg` and writes at most `vec_len` (1)
        // page_region entries to `vec`, which points at `out`.
        let n = unsafe { libc::ioctl(self.pagemap.as_raw_fd(), PAGEMAP_SCAN, &raw mut arg) };
        if n < 0 {
            return Err(DetectError::last("PAGEMAP_SCAN"));
        }
        Ok(n > 0)
    }

    /// Write-protects every page of `range` that is present and writable,
    /// in one `PAGEMAP_SCAN` (`PM_SCAN_WP_MATCHING`); pages never touched
    /// are left alone, so their first touch costs no extra fault.
    ///
    /// Done once for each new part of the target, this is what the
    /// sampling converges to anyway (a sampled page that is not written
    /// again stays protected), reached at once: a reset of a page that is
    /// already protected changes no page-table entry, so it needs no TLB
    /// flush, which on another CPU running the program is an interrupt of
    /// the program (an inter-processor interrupt, a VM exit under a
    /// hypervisor). Without it every reset of a page written once long ago
    /// cost one, for the first tens of seconds of a session. What the
    /// checks say is unchanged: a sampled page is still reset one interval
    /// before it is checked. A page written after this costs one write
    /// fault, once.
    pub(crate) fn protect_present(&self, range: &Range<usize>) -> Result<(), DetectError> {
        // An output vector is needed: without one the kernel takes a fast
        // path that protects every entry, untouched ones included. The scan
        // stops when it is full; go on from where it stopped.
        let mut out = [PageRegion::default(); 64];
        let mut start = range.start as u64;
        while start < range.end as u64 {
            let mut arg = PmScanArg {
                size: size_of::<PmScanArg>() as u64,
                flags: PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                start,
                end: range.end as u64,
                walk_end: 0,
                vec: out.as_mut_ptr() as u64,
                vec_len: out.len() as u64,
                max_pages: 0,
                category_inverted: 0,
                category_mask: PAGE_IS_PRESENT | PAGE_IS_WRITTEN,
                category_anyof_mask: 0,
                return_mask: PAGE_IS_WRITTEN,
            };
            // SAFETY: PAGEMAP_SCAN reads `arg` and writes at most `vec_len`
            // page_region entries to `vec`, which points at `out`; it only
            // changes page protections inside the range, which the caller
            // registered for write-protect tracking.
            let n = unsafe { libc::ioctl(self.pagemap.as_raw_fd(), PAGEMAP_SCAN, &raw mut arg) };
            if n < 0 {
                return Err(DetectError::last("PAGEMAP_SCAN(PM_SCAN_WP_MATCHING)"));
            }
            if arg.walk_end <= start {
                break; // no progress: leave the rest unprotected
            }
            start = arg.walk_end;
        }
        Ok(())
    }

    /// Checks on scratch pages that a write is seen, a read is not, and a
    /// reset clears the page.
    pub(crate) fn self_test(&self) -> Result<(), DetectError> {
        let s = Scratch::new(4)?;
        self.register(&(s.addr..s.addr + s.len))?;
        self.reset(s.addr, s.len)?;
        s.write(1);
        let _ = s.read(2);
        let seen = [
            self.written(s.addr)?,
            self.written(s.addr + PAGE)?,
            self.written(s.addr + 2 * PAGE)?,
        ];
        self.reset(s.addr + PAGE, PAGE)?;
        let after_reset = self.written(s.addr + PAGE)?;
        if seen != [false, true, false] || after_reset {
            return Err(DetectError {
                step: "write-protect self-test",
                source: io::Error::other(format!(
                    "written flags of untouched/written/read pages were {seen:?}, after reset {after_reset}"
                )),
            });
        }
        Ok(())
    }
}

// === impl Trap ===

/// Slots of armed pages (one per region at most).
pub(crate) const TRAP_SLOTS: usize = 4096;

struct Slot {
    page: AtomicUsize,
    /// The protection the page had when armed, restored exactly.
    prot: AtomicI32,
    armed: AtomicBool,
}

static SLOTS: [Slot; TRAP_SLOTS] = [const {
    Slot {
        page: AtomicUsize::new(0),
        prot: AtomicI32::new(0),
        armed: AtomicBool::new(false),
    }
}; TRAP_SLOTS];

thread_local! {
    /// The last fault address this thread found in no slot (const-initialised
    /// and destructor-free, so reading it in the handler allocates nothing).
    static LAST_UNMATCHED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The SIGSEGV action in place before ours, to chain to: a leaked copy
/// (one per install, a few per process), null until the first install.
static PREVIOUS_PTR: AtomicPtr<libc::sigaction> = AtomicPtr::new(std::ptr::null_mut());
/// Whether our handler is installed for good (it is never removed then).
static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Serialises the self-test's temporary install and the lasting one.
static INSTALL_LOCK: Mutex<()> = Mutex::new(());
/// One trap user at a time (the slots are global).
static TRAP_IN_USE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_segv(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize & !(PAGE - 1);
    if addr != 0 {
        for slot in &SLOTS {
            // Acquire: pairs with the Release store of the page in `arm`.
            if slot.page.load(Ordering::Acquire) == addr {
                // AcqRel: whoever clears `armed` first owns the hit.
                if slot.armed.swap(false, Ordering::AcqRel) {
                    // Acquire: the protection was stored before `armed`.
                    let prot = slot.prot.load(Ordering::Acquire);
                    // SAFETY: `addr` is a page that `arm` made PROT_NONE;
                    // this restores the protection it had then. mprotect is
                    // async-signal-safe.
                    unsafe { libc::mprotect(addr as *mut libc::c_void, PAGE, prot) };
                }
                // Disarmed meanwhile by the monitor (which restores the page):
                // returning retries the access.
                return;
            }
        }
    }
    // Not in the table: the page may have been ours, disarmed and restored
    // by the monitor (and its slot reused) while this thread was on its way
    // here. Retry the access once; a second fault at the same address is
    // not ours.
    let retried = LAST_UNMATCHED.with(|c| c.replace(addr)) == addr;
    if !retried {
        return;
    }
    LAST_UNMATCHED.with(|c| c.set(0));
    // Not ours: hand over to the previous action (e.g. Rust's stack
    // overflow handler, which prints "thread '...' has overflowed its
    // stack" and aborts).
    // Acquire: pairs with the Release store in `install_handler`.
    let prev = PREVIOUS_PTR.load(Ordering::Acquire);
    // SAFETY: null or a leaked sigaction, never freed or changed.
    if let Some(prev) = unsafe { prev.as_ref() } {
        let h = prev.sa_sigaction;
        if h == libc::SIG_DFL || h == libc::SIG_IGN {
            // SAFETY: reinstalling the saved action; returning re-executes the
            // faulting instruction, which then gets the default action.
            unsafe { libc::sigaction(libc::SIGSEGV, prev, std::ptr::null_mut()) };
        } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the saved handler was installed with SA_SIGINFO, so it
            // has this signature.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { std::mem::transmute(h) };
            f(sig, info, ctx);
        } else {
            // SAFETY: a plain handler takes the signal number only.
            let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
            f(sig);
        }
    }
}

/// The mprotect detector: arms pages in the global slot table.
#[derive(Debug)]
pub(crate) struct Trap {
    _private: (),
}

impl Drop for Trap {
    fn drop(&mut self) {
        for slot in 0..TRAP_SLOTS {
            self.disarm(slot);
        }
        // Release: the slots are all disarmed before the next owner arms.
        TRAP_IN_USE.store(false, Ordering::Release);
    }
}

impl Trap {
    pub(crate) fn open() -> Result<Trap, DetectError> {
        // Acquire: see the previous owner's disarmed slots.
        if TRAP_IN_USE.swap(true, Ordering::Acquire) {
            return Err(DetectError {
                step: "mprotect trap",
                source: io::Error::other("another monitor already uses the mprotect trap"),
            });
        }
        Ok(Trap { _private: () })
    }

    /// Arms like [`Trap::arm_raw`], installing the `SIGSEGV` handler for
    /// good first if it is not yet: only when the first page is armed, so
    /// a monitor started before `main` (from `.init_array`) lets Rust's
    /// runtime install its stack-overflow handler first (it installs none
    /// over another handler), and chains to it.
    pub(crate) fn arm(&self, slot: usize, addr: usize, prot: i32) -> Result<(), DetectError> {
        // Acquire: pairs with the Release store in `install_handler`.
        if !INSTALLED.load(Ordering::Acquire) {
            install_handler()?;
        }
        self.arm_raw(slot, addr, prot)
    }

    /// Arms the page at `addr` in `slot`: its next touch is noted. `prot`
    /// is the page's protection now (checked by the caller in
    /// `/proc/self/maps`), restored exactly at the touch or at disarm. The
    /// handler must be installed.
    fn arm_raw(&self, slot: usize, addr: usize, prot: i32) -> Result<(), DetectError> {
        let s = &SLOTS[slot];
        // Release: the handler must see the page and its protection before
        // it can fault on it.
        s.page.store(addr, Ordering::Release);
        s.prot.store(prot, Ordering::Release);
        s.armed.store(true, Ordering::Release);
        // SAFETY: `addr` is a page the caller found private, read-write and
        // anonymous an instant ago; the handler or `disarm` restores `prot`.
        if unsafe { libc::mprotect(addr as *mut libc::c_void, PAGE, libc::PROT_NONE) } != 0 {
            s.armed.store(false, Ordering::Release);
            return Err(DetectError::last("mprotect(PROT_NONE)"));
        }
        Ok(())
    }

    /// Disarms `slot`: whether its page was touched since [`Trap::arm`].
    /// An untouched page gets back the protection it had when armed.
    pub(crate) fn disarm(&self, slot: usize) -> bool {
        disarm_slot(&SLOTS[slot])
    }

    /// Drops `slot` without touching its page (which is no longer the
    /// mapping that was armed): whether it was touched.
    pub(crate) fn forget(&self, slot: usize) -> bool {
        // AcqRel: as in `disarm_slot`.
        !SLOTS[slot].armed.swap(false, Ordering::AcqRel)
    }

    /// Tests the trap on scratch pages. If the handler is not installed for
    /// good yet, it is installed for the test only and the previous action
    /// put back after.
    fn self_test() -> Result<(), DetectError> {
        let t = Trap::open()?;
        let guard = INSTALL_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        // Acquire: see `arm`.
        let restore = if INSTALLED.load(Ordering::Acquire) {
            None
        } else {
            Some(swap_in_handler()?)
        };
        let r = Trap::test_on_scratch(&t);
        if let Some(old) = restore {
            // SAFETY: puts back the action saved by `swap_in_handler`; all
            // test pages are disarmed.
            unsafe { libc::sigaction(libc::SIGSEGV, &raw const old, std::ptr::null_mut()) };
        }
        drop(guard);
        r
    }

    fn test_on_scratch(t: &Trap) -> Result<(), DetectError> {
        let s = Scratch::new(3)?;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        for i in 0..3 {
            if let Err(e) = t.arm_raw(i, s.addr + i * PAGE, rw) {
                for j in 0..i {
                    t.disarm(j);
                }
                return Err(e);
            }
        }
        let _ = s.read(0);
        s.write(1);
        let seen = [t.disarm(0), t.disarm(1), t.disarm(2)];
        if seen != [true, true, false] {
            return Err(DetectError {
                step: "mprotect self-test",
                source: io::Error::other(format!(
                    "touched flags of read/written/untouched pages were {seen:?}"
                )),
            });
        }
        Ok(())
    }
}

/// Disarms one slot, restoring the protection found at arming; whether it
/// was touched. Async-signal-safe (atomics and mprotect).
fn disarm_slot(s: &Slot) -> bool {
    // AcqRel: whoever clears `armed` first owns the page's restoration.
    let untouched = s.armed.swap(false, Ordering::AcqRel);
    if untouched {
        let addr = s.page.load(Ordering::Acquire);
        let prot = s.prot.load(Ordering::Acquire);
        // SAFETY: restores the page `arm` protected to what it was.
        unsafe { libc::mprotect(addr as *mut libc::c_void, PAGE, prot) };
    }
    !untouched
}

/// In a forked child: the pages armed at the fork are the child's own
/// copies, and no monitor runs there to disarm them; give each back its
/// protection so that no system call of the child meets `EFAULT`.
extern "C" fn disarm_all_in_child() {
    for s in &SLOTS {
        disarm_slot(s);
    }
}

/// Installs the handler for good (once), chaining to the action found.
fn install_handler() -> Result<(), DetectError> {
    static ATFORK: Once = Once::new();
    let _guard = INSTALL_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    // Acquire: see `arm`.
    if INSTALLED.load(Ordering::Acquire) {
        return Ok(());
    }
    ATFORK.call_once(|| {
        // SAFETY: registers a plain extern "C" function for the child.
        unsafe { libc::pthread_atfork(None, None, Some(disarm_all_in_child)) };
    });
    swap_in_handler()?;
    // Release: pairs with the Acquire loads in `arm`.
    INSTALLED.store(true, Ordering::Release);
    Ok(())
}

/// Puts our handler in place of the current `SIGSEGV` action, saved (for
/// chaining) and returned. Called with `INSTALL_LOCK` held.
fn swap_in_handler() -> Result<libc::sigaction, DetectError> {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value;
    // the handler field is set below.
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_segv;
    act.sa_sigaction = handler as *const () as usize;
    // SA_ONSTACK: a fault from a thread whose stack overflowed can only be
    // handled on the alternate signal stack; without it the kernel kills
    // the process before Rust's handler (chained to) can say "has
    // overflowed its stack". Rust's alternate stacks are mappings with a
    // guard page below, which the target leaves out as thread stacks.
    act.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER | libc::SA_ONSTACK;
    // The current action, saved before ours is in place, so that a fault
    // that is not ours always finds it.
    // SAFETY: as above, for the output.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a null new action only reads the current one into `old`.
    if unsafe { libc::sigaction(libc::SIGSEGV, std::ptr::null(), &raw mut old) } != 0 {
        return Err(DetectError::last("sigaction(SIGSEGV)"));
    }
    let saved = Box::leak(Box::new(old));
    // Release: the saved action is complete before the handler reads it.
    PREVIOUS_PTR.store(std::ptr::from_mut(saved), Ordering::Release);
    // SAFETY: both pointers are valid sigaction values.
    if unsafe { libc::sigaction(libc::SIGSEGV, &raw const act, &raw mut old) } != 0 {
        return Err(DetectError::last("sigaction(SIGSEGV)"));
    }
    Ok(old)
}

/// Waits, at most `max`, until some `SIGSEGV` handler is installed: Rust's
/// runtime installs its stack-overflow handler right after the
/// `.init_array` constructors run, and only if none is there, so a monitor
/// started from a constructor lets it go first. Returns at once if one is
/// (always, in a Rust program past `main`). A program without one (a C
/// `main`) waits `max` once.
pub(crate) fn wait_for_runtime_handler(max: Duration, stop: impl Fn() -> bool) {
    let until = Instant::now() + max;
    while Instant::now() < until && !stop() {
        // SAFETY: a zeroed sigaction is valid output storage.
        let mut cur: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the current one.
        unsafe { libc::sigaction(libc::SIGSEGV, std::ptr::null(), &raw mut cur) };
        if cur.sa_sigaction != libc::SIG_DFL || INSTALLED.load(Ordering::Acquire) {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

// === impl Detector ===

/// A detector of either mode, used by the monitor.
#[derive(Debug)]
pub(crate) enum Detector {
    Wp(UffdWp),
    Trap(Trap),
}

impl Detector {
    /// Opens and self-tests the detector of `mode`.
    pub(crate) fn open(mode: Mode) -> Result<Detector, DetectError> {
        match mode {
            Mode::WriteProtect => {
                let d = UffdWp::open()?;
                d.self_test()?;
                Ok(Detector::Wp(d))
            }
            Mode::Mprotect => {
                Trap::self_test()?;
                Ok(Detector::Trap(Trap::open()?))
            }
        }
    }

    /// Makes new target mappings checkable (write-protect needs them
    /// registered; mprotect needs nothing). Failures (a mapping that went
    /// away) leave that mapping unchecked: its samples read as not accessed.
    pub(crate) fn register(&self, ranges: &[Range<usize>]) -> usize {
        match self {
            Detector::Wp(d) => ranges.iter().filter(|r| d.register(r).is_err()).count(),
            Detector::Trap(_) => 0,
        }
    }

    /// Write-protects the present pages of new target `ranges` (see
    /// [`UffdWp::protect_present`]); nothing in mprotect mode. Failures
    /// (a mapping that went away) only cost the flushes this saves.
    pub(crate) fn protect_present(&self, ranges: &[Range<usize>]) {
        if let Detector::Wp(d) = self {
            for r in ranges {
                let _ = d.protect_present(r);
            }
        }
    }

    /// Resets the page at `addr`, sampled for region slot `slot`. `prot`
    /// is the page's protection now (mprotect mode restores it).
    pub(crate) fn prepare(&self, slot: usize, addr: usize, prot: i32) -> bool {
        match self {
            Detector::Wp(d) => d.reset(addr, PAGE).is_ok(),
            Detector::Trap(t) => slot < TRAP_SLOTS && t.arm(slot, addr, prot).is_ok(),
        }
    }

    /// Whether the page prepared for `slot` at `addr` was accessed.
    /// `still_armed_here` is false when the page is no longer the mapping
    /// that was armed (mprotect mode then leaves it alone).
    pub(crate) fn check(&self, slot: usize, addr: usize, still_armed_here: bool) -> bool {
        match self {
            Detector::Wp(d) => d.written(addr).unwrap_or(false),
            Detector::Trap(t) if slot < TRAP_SLOTS && still_armed_here => t.disarm(slot),
            Detector::Trap(t) => slot < TRAP_SLOTS && t.forget(slot),
        }
    }

    /// The mode.
    pub(crate) fn mode(&self) -> Mode {
        match self {
            Detector::Wp(_) => Mode::WriteProtect,
            Detector::Trap(_) => Mode::Mprotect,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_uapi() {
        // From the kernel headers (x86_64).
        assert_eq!(UFFDIO_API, 0xc018_aa3f);
        assert_eq!(UFFDIO_REGISTER, 0xc020_aa00);
        assert_eq!(UFFDIO_WRITEPROTECT, 0xc018_aa06);
        assert_eq!(PAGEMAP_SCAN, 0xc060_6610);
        assert_eq!(size_of::<PmScanArg>(), 96);
    }

    /// Bit 57 of a `/proc/self/pagemap` entry: the page is write-protected
    /// by a userfaultfd (a present page, or a marker on an untouched one).
    fn uffd_wp_bits(addr: usize, pages: usize) -> Vec<bool> {
        use std::os::unix::fs::FileExt;
        let f = File::open("/proc/self/pagemap").unwrap();
        let mut buf = vec![0u8; pages * 8];
        f.read_exact_at(&mut buf, (addr / PAGE * 8) as u64).unwrap();
        buf.chunks_exact(8)
            .map(|e| u64::from_le_bytes(e.try_into().unwrap()) & (1 << 57) != 0)
            .collect()
    }

    #[test]
    fn protect_present_protects_touched_pages_only_and_keeps_checks_exact() {
        let d = UffdWp::open().unwrap();
        let s = Scratch::new(4).unwrap();
        d.register(&(s.addr..s.addr + s.len)).unwrap();
        s.write(0);
        s.write(1);
        assert_eq!(uffd_wp_bits(s.addr, 4), [false; 4]);
        d.protect_present(&(s.addr..s.addr + s.len)).unwrap();
        // Touched pages are protected, untouched ones get no marker.
        assert_eq!(uffd_wp_bits(s.addr, 4), [true, true, false, false]);
        assert!(!d.written(s.addr).unwrap() && !d.written(s.addr + PAGE).unwrap());
        // A protected page is seen written after a write, then reset.
        s.write(1);
        assert!(d.written(s.addr + PAGE).unwrap());
        assert!(!d.written(s.addr).unwrap());
        d.reset(s.addr + PAGE, PAGE).unwrap();
        assert!(!d.written(s.addr + PAGE).unwrap());
        // First touch of an untouched page: written, as before.
        s.write(3);
        assert_eq!(uffd_wp_bits(s.addr, 4), [true, true, false, false]);
        assert!(d.written(s.addr + 3 * PAGE).unwrap());
    }

    #[test]
    fn self_test_pages_are_never_a_target() {
        // A monitor running beside a self-test would otherwise register
        // the scratch pages first, and the self-test would fail (EBUSY).
        let s = Scratch::new(2).unwrap();
        let r = s.addr..s.addr + s.len;
        let targets = crate::access::target::current().unwrap();
        assert!(
            targets.iter().all(|t| t.end <= r.start || t.start >= r.end),
            "{r:x?} in {targets:x?}"
        );
        drop(s);
        assert!(!crate::own_mappings::ranges().contains(&r));
    }

    #[test]
    fn both_detectors_work_on_this_kernel() {
        let p = Probe::run();
        assert!(p.allows(Mode::WriteProtect), "{p}");
        assert!(p.allows(Mode::Mprotect), "{p}");
        assert!(p.to_string().contains("write-protect: available"), "{p}");
    }
}
