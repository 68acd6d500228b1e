//! The monitor: DAMON's `kdamond` loop for this process, on its own thread
//! or driven tick by tick.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use super::detect::{Detector, Mode, PAGE};
use super::error::AccessError;
use super::record::{Intervals, RecordControl, WriteStats, Writer};
use super::regions::{self, Region, Rng};
use super::target;

/// DAMON's monitoring attributes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Attrs {
    /// Sampling interval: each region's sampled page is checked and re-armed
    /// once per interval. Default 5 ms.
    pub sample: Duration,
    /// Aggregation interval: counts are recorded and reset, regions merged
    /// and split. Default 100 ms.
    pub aggr: Duration,
    /// Regions update interval: the target is re-read from
    /// `/proc/self/maps`. Default 1 s.
    pub update: Duration,
    /// Minimum number of regions. Default 10.
    pub min_nr_regions: usize,
    /// Maximum number of regions. Default 1000.
    pub max_nr_regions: usize,
}

impl Default for Attrs {
    fn default() -> Self {
        Attrs {
            sample: Duration::from_millis(5),
            aggr: Duration::from_millis(100),
            update: Duration::from_secs(1),
            min_nr_regions: 10,
            max_nr_regions: 1000,
        }
    }
}

impl Attrs {
    /// Checks the attributes as DAMON's `damon_set_attrs` does.
    pub fn validate(&self) -> Result<(), AccessError> {
        let bad = |s: &str| Err(AccessError::InvalidAttrs(s.to_owned()));
        if self.sample.is_zero() {
            return bad("the sampling interval must be positive");
        }
        if self.aggr < self.sample || self.update < self.sample {
            return bad(
                "the aggregation and update intervals must be at least the sampling interval",
            );
        }
        if self.min_nr_regions < 3 {
            return bad("min_nr_regions must be at least 3");
        }
        if self.min_nr_regions > self.max_nr_regions {
            return bad("min_nr_regions exceeds max_nr_regions");
        }
        if self.max_nr_regions > super::detect::TRAP_SLOTS {
            return bad("max_nr_regions is limited to 4096");
        }
        Ok(())
    }

    fn intervals(&self) -> Intervals {
        Intervals {
            sample: self.sample,
            aggr: self.aggr,
            update: self.update,
        }
    }

    fn sis(&self, d: Duration) -> u64 {
        (d.as_nanos() / self.sample.as_nanos()).max(1) as u64
    }
}

/// What a monitoring session did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The detector that ran.
    pub mode: Mode,
    /// Sampling intervals run.
    pub samples: u64,
    /// Aggregation intervals completed.
    pub aggregations: u64,
    /// Regions at the end.
    pub nr_regions: usize,
    /// The recorder's figures (zero when recording was off).
    pub write: WriteStats,
    /// CPU time the monitor spent: its whole thread's (sleeps included), or
    /// the ticks'.
    pub cpu: Duration,
}

fn thread_cpu() -> Duration {
    // SAFETY: a zeroed timespec is valid output storage.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is valid for writing.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn now_ns() -> u64 {
    // SAFETY: a zeroed timespec is valid output storage.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is valid for writing.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One monitoring session: `kdamond`'s state.
struct Session {
    attrs: Attrs,
    detector: Detector,
    regions: Vec<Region>,
    targets: Vec<Range<usize>>,
    rng: Rng,
    passed: u64,
    next_aggr: u64,
    next_update: u64,
    last_nr_regions: usize,
    sz_limit: usize,
    writer: Option<Writer>,
    virtual_clock: Option<u64>,
    aggr_start_ns: u64,
    aggregations: u64,
    prepared: bool,
    published: Arc<Mutex<Vec<Region>>>,
    cpu: Duration,
    /// New parts of the target whose present pages are to be
    /// write-protected at the next step (see `Detector::protect_present`).
    unprotected: Vec<Range<usize>>,
}

impl Session {
    fn begin(
        attrs: Attrs,
        mode: Mode,
        ctl: &RecordControl,
        seed: u64,
        manual: bool,
        published: Arc<Mutex<Vec<Region>>>,
    ) -> Result<Session, AccessError> {
        attrs.validate()?;
        let detector =
            Detector::open(mode).map_err(|cause| AccessError::Unsupported { mode, cause })?;
        let writer = if ctl.enabled() {
            Some(Writer::begin(
                ctl,
                u64::from(std::process::id()),
                attrs.intervals(),
            )?)
        } else {
            None
        };
        let start = now_ns();
        let mut s = Session {
            attrs,
            detector,
            regions: Vec::new(),
            targets: Vec::new(),
            rng: Rng::new(seed),
            passed: 0,
            next_aggr: attrs.sis(attrs.aggr),
            next_update: attrs.sis(attrs.update),
            last_nr_regions: 0,
            sz_limit: usize::MAX,
            writer,
            virtual_clock: manual.then_some(start),
            aggr_start_ns: start,
            aggregations: 0,
            prepared: false,
            published,
            cpu: Duration::ZERO,
            unprotected: Vec::new(),
        };
        s.refresh_targets();
        s.regions =
            regions::init_regions(&regions::three_regions(&s.targets), attrs.min_nr_regions);
        s.sz_limit = regions::sz_limit(&s.regions, attrs.min_nr_regions);
        // A threaded mprotect session arms its first pages on its thread
        // (see `run`), not here: this may be a constructor before `main`.
        if manual || mode == Mode::WriteProtect {
            s.prepare();
        }
        Ok(s)
    }

    fn now(&self) -> u64 {
        self.virtual_clock.map_or_else(now_ns, |base| {
            base + self.passed * self.attrs.sample.as_nanos() as u64
        })
    }

    /// `damon_va_update`: re-read the target and register new mappings;
    /// their new parts get their present pages write-protected at the next
    /// step, on the monitor thread (not in `start`, on the caller's).
    fn refresh_targets(&mut self) {
        if let Ok(mut t) = target::current() {
            t.sort_by_key(|r| r.start);
            self.detector.register(&t);
            self.unprotected.extend(uncovered(&t, &self.targets));
            self.targets = t;
        }
    }

    /// Write-protects the present pages of the target's new parts. Called
    /// between the checks and the resets of a step, so that it never
    /// clears a write a check has yet to see.
    fn protect_new(&mut self) {
        if !self.unprotected.is_empty() {
            self.detector.protect_present(&self.unprotected);
            self.unprotected.clear();
        }
    }

    fn in_target(&self, addr: usize) -> bool {
        let i = self.targets.partition_point(|r| r.end <= addr);
        self.targets.get(i).is_some_and(|r| r.start <= addr)
    }

    /// mprotect mode changes page protections, so it looks at the
    /// mappings as they are now (one read of `/proc/self/maps` per
    /// sampling interval) rather than at the target list, which is a second
    /// old: `None` in write-protect mode, which touches no protection.
    fn maps_now(&self) -> Option<Vec<target::Mapping>> {
        (self.detector.mode() == Mode::Mprotect)
            .then(target::read_maps)
            .flatten()
    }

    /// `prepare_access_checks`: one random page per region. In mprotect
    /// mode a page is armed only if it is, right now, private read-write
    /// anonymous or heap memory; its protection is restored exactly.
    fn prepare(&mut self) {
        let maps = self.maps_now();
        let trap = self.detector.mode() == Mode::Mprotect;
        for i in 0..self.regions.len() {
            let r = self.regions[i];
            let pages = r.size() / PAGE;
            let addr = r.start + self.rng.range(0, pages.max(1)) * PAGE;
            let prot = if trap {
                maps.as_deref().and_then(|m| target::armable(m, addr))
            } else {
                Some(libc::PROT_READ | libc::PROT_WRITE)
            };
            let ok = self.in_target(addr)
                && prot.is_some_and(|prot| self.detector.prepare(i, addr, prot));
            self.regions[i].sampling_addr = if ok { addr } else { 0 };
        }
        self.prepared = true;
    }

    /// Checks (and in mprotect mode disarms) every prepared page; returns
    /// the largest `nr_accesses` when `count`. In mprotect mode a page that
    /// is no longer an armed page of ours (unmapped, something else mapped
    /// there) is left as it is.
    fn check_all(&mut self, count: bool) -> u32 {
        let maps = self.maps_now();
        let mut max = 0;
        for i in 0..self.regions.len() {
            let addr = self.regions[i].sampling_addr;
            // Without a maps snapshot (write-protect mode, or unreadable
            // maps) the page is checked as before.
            let here = maps.as_deref().is_none_or(|m| target::still_armed(m, addr));
            if addr != 0 && self.detector.check(i, addr, here) && count {
                self.regions[i].nr_accesses += 1;
            }
            max = max.max(self.regions[i].nr_accesses);
        }
        max
    }

    /// `check_accesses`: returns the largest `nr_accesses`.
    fn check(&mut self) -> u32 {
        self.check_all(true)
    }

    /// One sampling interval's work, after its sleep. Returns whether an
    /// aggregation completed.
    ///
    /// A ticked session adds up each tick's CPU time (the ticks run on the
    /// caller's thread, among its other work); a threaded one reads its
    /// thread's clock once, in [`Session::finish`], which saves two
    /// `clock_gettime` system calls per sampling interval (the thread CPU
    /// clock has no vDSO fast path) and also counts the sleeps' cost.
    fn step(&mut self) -> bool {
        if self.virtual_clock.is_none() {
            return self.step_inner();
        }
        let t0 = thread_cpu();
        let aggregated = self.step_inner();
        self.cpu += thread_cpu().saturating_sub(t0);
        aggregated
    }

    fn step_inner(&mut self) -> bool {
        let max_nr = if self.prepared { self.check() } else { 0 };
        self.prepared = false;
        self.passed += 1;
        let mut aggregated = false;
        if self.passed >= self.next_aggr {
            let max_thres = self.attrs.sis(self.attrs.aggr) as u32;
            regions::merge(
                &mut self.regions,
                max_nr / 10,
                self.sz_limit,
                self.attrs.max_nr_regions,
                max_thres,
            );
            let end = self.now();
            if let Some(w) = self.writer.as_mut() {
                w.aggregation(self.aggr_start_ns, end, &self.regions);
            }
            self.published
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone_from(&self.regions);
            self.aggr_start_ns = end;
            self.aggregations += 1;
            regions::reset_aggregated(&mut self.regions);
            self.last_nr_regions = regions::split(
                &mut self.regions,
                self.attrs.max_nr_regions,
                self.last_nr_regions,
                &mut self.rng,
            );
            self.next_aggr += self.attrs.sis(self.attrs.aggr);
            aggregated = true;
        }
        if self.passed >= self.next_update {
            self.refresh_targets();
            let three = regions::three_regions(&self.targets);
            regions::apply_ranges(&mut self.regions, &three);
            self.sz_limit = regions::sz_limit(&self.regions, self.attrs.min_nr_regions);
            self.next_update += self.attrs.sis(self.attrs.update);
        }
        self.protect_new();
        self.prepare();
        aggregated
    }

    /// Ends the session: disarms, flushes and closes the record file.
    /// Returns the detector still open: closing a userfaultfd makes the
    /// kernel write-unprotect every registered page (about 10 ms for 256
    /// MiB), which the monitor thread does after handing over the summary.
    fn finish(mut self) -> (Result<Summary, AccessError>, Detector) {
        if self.prepared {
            // Disarm what is armed (mprotect) without counting: nothing
            // stays protected after stop.
            self.check_all(false);
        }
        let mut s = Summary {
            mode: self.detector.mode(),
            samples: self.passed,
            aggregations: self.aggregations,
            nr_regions: self.regions.len(),
            write: WriteStats::default(),
            // A threaded session finishes on its own thread: all of that
            // thread's time is the monitor's.
            cpu: if self.virtual_clock.is_none() {
                thread_cpu()
            } else {
                self.cpu
            },
        };
        let r = match self.writer.take() {
            Some(w) => w.finish().map(|stats| {
                s.write = stats;
                s
            }),
            None => Ok(s),
        };
        (r, self.detector)
    }
}

struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    running: AtomicBool,
}

/// A DAMON-style monitor of this process's heap.
///
/// Build it with [`Monitor::new`], optionally set the recording with
/// [`Monitor::set_recording`], then either [`start`](Monitor::start) its
/// thread or drive it with [`tick`](Monitor::tick); [`stop`](Monitor::stop)
/// ends either and flushes the record file.
pub struct Monitor {
    attrs: Attrs,
    mode: Mode,
    control: RecordControl,
    seed: u64,
    shared: Arc<Shared>,
    published: Arc<Mutex<Vec<Region>>>,
    thread: Option<JoinHandle<()>>,
    done: Option<mpsc::Receiver<Result<Summary, AccessError>>>,
    /// A stopped thread still closing its detector.
    releasing: Option<JoinHandle<()>>,
    manual: Option<Session>,
    /// The process whose session this is (set at start): a forked child
    /// sees another pid and abandons the session instead of stopping it.
    owner_pid: u32,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("attrs", &self.attrs)
            .field("mode", &self.mode)
            .field("control", &self.control)
            .field("running", &self.is_running())
            .finish_non_exhaustive()
    }
}

impl Monitor {
    /// A monitor with `attrs` in the default mode (write-protect). Checks the
    /// attributes; the detector is opened (and self-tested) at start.
    pub fn new(attrs: Attrs) -> Result<Monitor, AccessError> {
        Monitor::with_mode(attrs, Mode::WriteProtect)
    }

    /// A monitor with `attrs` detecting accesses with `mode`.
    pub fn with_mode(attrs: Attrs, mode: Mode) -> Result<Monitor, AccessError> {
        attrs.validate()?;
        Ok(Monitor {
            attrs,
            mode,
            control: RecordControl::default(),
            seed: now_ns() ^ u64::from(std::process::id()),
            shared: Arc::new(Shared {
                stop: Mutex::new(false),
                wake: Condvar::new(),
                running: AtomicBool::new(false),
            }),
            published: Arc::new(Mutex::new(Vec::new())),
            thread: None,
            done: None,
            releasing: None,
            manual: None,
            owner_pid: 0,
        })
    }

    /// Seeds the random choices (sampled pages, split points) for a
    /// reproducible run.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// The attributes.
    pub fn attrs(&self) -> Attrs {
        self.attrs
    }

    /// The detection mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Sets the recorder from a control string `"<buffer_len> <path>"`
    /// (buffer 1024..=4 MiB, 0 disables; path shorter than 256 bytes).
    /// Refused with [`AccessError::Busy`] (EBUSY) while the monitor runs,
    /// threaded or ticked; nothing changes on error.
    pub fn set_recording(&mut self, control: &str) -> Result<(), AccessError> {
        let c: RecordControl = control.parse()?;
        if self.is_running() {
            return Err(AccessError::Busy);
        }
        self.control = c;
        Ok(())
    }

    /// The current recorder setting, as reading DAMON's `record` file:
    /// `"<buffer_len> <path>"` (`"0 none"` by default).
    pub fn recording(&self) -> String {
        self.control.to_string()
    }

    /// Whether a session is running (threaded or ticked).
    pub fn is_running(&self) -> bool {
        self.shared.running.load(Ordering::Acquire) || self.manual.is_some()
    }

    /// Starts the monitor thread. Fails if the detector cannot run here, the
    /// record file cannot be created, or a session already runs.
    pub fn start(&mut self) -> Result<(), AccessError> {
        if self.is_running() {
            return Err(AccessError::Busy);
        }
        // The previous thread has flushed; let it finish closing.
        if let Some(h) = self.releasing.take() {
            let _ = h.join();
        }
        let session = Session::begin(
            self.attrs,
            self.mode,
            &self.control,
            self.seed,
            false,
            Arc::clone(&self.published),
        )?;
        *self
            .shared
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = false;
        self.shared.running.store(true, Ordering::Release);
        self.owner_pid = std::process::id();
        let shared = Arc::clone(&self.shared);
        let (tx, rx) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("allocowner-access".to_owned())
            .spawn(move || crate::guard::inside(|| run(session, &shared, &tx)));
        match spawned {
            Ok(h) => {
                self.thread = Some(h);
                self.done = Some(rx);
                Ok(())
            }
            Err(e) => {
                self.shared.running.store(false, Ordering::Release);
                Err(AccessError::Io {
                    path: "monitor thread".to_owned(),
                    source: e,
                })
            }
        }
    }

    /// Manual mode: runs one sampling interval now, on this thread, without
    /// sleeping (the first call starts the session). Returns whether an
    /// aggregation completed. Refused while the thread runs.
    pub fn tick(&mut self) -> Result<bool, AccessError> {
        if self.shared.running.load(Ordering::Acquire) {
            return Err(AccessError::State(
                "tick() needs a monitor whose thread is not running",
            ));
        }
        if self.manual.is_none() {
            let (attrs, mode, seed) = (self.attrs, self.mode, self.seed);
            let published = Arc::clone(&self.published);
            let s = crate::guard::inside(|| {
                Session::begin(attrs, mode, &self.control, seed, true, published)
            })?;
            self.manual = Some(s);
            self.owner_pid = std::process::id();
            return Ok(false);
        }
        let s = self.manual.as_mut().expect("just checked");
        Ok(crate::guard::inside(|| s.step()))
    }

    /// Stops the session (thread or ticked), flushes and closes the record
    /// file. The monitor is stopped even when this returns an error (a
    /// failed write).
    ///
    /// In a forked child (a monitor started by the parent), nothing is
    /// stopped, flushed or closed: the session is abandoned (its memory
    /// leaked), the parent's thread, userfaultfd and recording are left
    /// alone, and this returns [`AccessError::State`].
    pub fn stop(&mut self) -> Result<Summary, AccessError> {
        if self.is_running() && self.owner_pid != std::process::id() {
            self.abandon();
            return Err(AccessError::State(
                "the monitor belongs to the parent process: a forked child leaves it alone",
            ));
        }
        if let Some(s) = self.manual.take() {
            return s.finish().0;
        }
        let Some(h) = self.thread.take() else {
            return Err(AccessError::State("the monitor is not running"));
        };
        *self
            .shared
            .stop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_all();
        // The summary comes as soon as the file is flushed; the thread then
        // closes the detector and ends on its own.
        let r = self
            .done
            .take()
            .and_then(|rx| rx.recv().ok())
            .unwrap_or(Err(AccessError::State("the monitor thread panicked")));
        self.releasing = Some(h);
        self.shared.running.store(false, Ordering::Release);
        r
    }

    /// A forked child's copy of the parent's session: forgotten without
    /// running any destructor (a destructor would flush the buffer into the
    /// parent's file, close the parent's descriptors, or wait for a thread
    /// that does not exist in the child).
    fn abandon(&mut self) {
        std::mem::forget(self.manual.take());
        std::mem::forget(self.thread.take());
        std::mem::forget(self.done.take());
        std::mem::forget(self.releasing.take());
        self.shared.running.store(false, Ordering::Release);
    }

    /// The regions of the last completed aggregation, with their counts.
    pub fn regions(&self) -> Vec<Region> {
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        if self.owner_pid != 0 && self.owner_pid != std::process::id() {
            // A forked child: no destructor of the session may run.
            self.abandon();
        } else if self.is_running() {
            let _ = self.stop();
        }
    }
}

/// The parts of `new` that no range of `old` covers; both sorted by start,
/// without overlaps.
fn uncovered(new: &[Range<usize>], old: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut j = 0;
    for r in new {
        let mut start = r.start;
        while j < old.len() && old[j].end <= start {
            j += 1;
        }
        let mut k = j;
        while start < r.end {
            match old.get(k) {
                Some(o) if o.start < r.end => {
                    if o.start > start {
                        out.push(start..o.start);
                    }
                    start = start.max(o.end);
                    k += 1;
                }
                _ => {
                    out.push(start..r.end);
                    break;
                }
            }
        }
    }
    out
}

fn run(
    mut session: Session,
    shared: &Shared,
    done: &mpsc::SyncSender<Result<Summary, AccessError>>,
) {
    // SCHED_BATCH: a waking monitor does not preempt the running program
    // (it waits for the scheduler's next tick), so its 200 wake-ups a second
    // cost the program no extra context switches. Best effort.
    // SAFETY: a zeroed sched_param (priority 0) is what SCHED_BATCH takes;
    // pid 0 is the calling thread.
    unsafe {
        let param: libc::sched_param = std::mem::zeroed();
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &raw const param);
    }
    if session.detector.mode() == Mode::Mprotect {
        // Arming installs the SIGSEGV handler; started before `main`, let
        // Rust's runtime install its stack-overflow handler first, to be
        // chained to.
        super::detect::wait_for_runtime_handler(Duration::from_millis(100), || {
            *shared.stop.lock().unwrap_or_else(PoisonError::into_inner)
        });
    }
    let sample = session.attrs.sample;
    let mut next = std::time::Instant::now() + sample;
    loop {
        {
            let mut stop = shared.stop.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if *stop {
                    drop(stop);
                    let (r, detector) = session.finish();
                    if detector.mode() == Mode::Mprotect {
                        // The trap's slots are global: free them before a
                        // new monitor may start.
                        drop(detector);
                        let _ = done.send(r);
                    } else {
                        let _ = done.send(r);
                        drop(detector);
                    }
                    return;
                }
                let now = std::time::Instant::now();
                if now >= next {
                    break;
                }
                stop = shared
                    .wake
                    .wait_timeout(stop, next - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        session.step();
        next += sample;
        let now = std::time::Instant::now();
        if next < now {
            next = now; // overrun: do not try to catch up
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::single_range_in_vec_init)] // lists of one range
    fn uncovered_parts_of_a_new_target() {
        let old = [10..20, 30..40, 50..60];
        assert_eq!(uncovered(&[0..5], &old), [0..5]);
        assert_eq!(
            uncovered(&[10..20, 30..40], &old),
            Vec::<Range<usize>>::new()
        );
        assert_eq!(uncovered(&[12..18], &old), Vec::<Range<usize>>::new());
        // A mapping that grew at both ends, one that spans two old ones,
        // and one past the last.
        assert_eq!(uncovered(&[5..25], &old), [5..10, 20..25]);
        assert_eq!(uncovered(&[35..55], &old), [40..50]);
        assert_eq!(uncovered(&[0..100], &old), [0..10, 20..30, 40..50, 60..100]);
        assert_eq!(uncovered(&[15..22, 45..70], &old), [20..22, 45..50, 60..70]);
        assert_eq!(uncovered(&[1..2, 3..4], &[]), [1..2, 3..4]);
    }

    #[test]
    fn attrs_defaults_are_damons_and_are_checked() {
        let a = Attrs::default();
        assert_eq!(a.sample, Duration::from_millis(5));
        assert_eq!(a.aggr, Duration::from_millis(100));
        assert_eq!(a.update, Duration::from_secs(1));
        assert_eq!((a.min_nr_regions, a.max_nr_regions), (10, 1000));
        let bad = Attrs {
            min_nr_regions: 2000,
            ..a
        };
        assert!(
            Monitor::new(bad)
                .unwrap_err()
                .to_string()
                .contains("min_nr_regions")
        );
        let bad = Attrs {
            aggr: Duration::from_millis(1),
            ..a
        };
        assert!(matches!(
            Monitor::new(bad),
            Err(AccessError::InvalidAttrs(_))
        ));
    }

    #[test]
    fn recording_is_refused_while_running() {
        let mut m = Monitor::new(Attrs::default()).unwrap();
        assert_eq!(m.recording(), "0 none");
        m.set_recording("4096 /tmp/access-unit-busy.data").unwrap();
        assert_eq!(m.recording(), "4096 /tmp/access-unit-busy.data");
        assert!(m.set_recording("100 /tmp/x").is_err());
        assert_eq!(
            m.recording(),
            "4096 /tmp/access-unit-busy.data",
            "nothing half-applied"
        );
        m.set_recording("0 none").unwrap();
        m.start().unwrap();
        assert!(m.is_running());
        let e = m.set_recording("4096 /tmp/y").unwrap_err();
        assert_eq!(e.errno(), libc::EBUSY);
        assert_eq!(m.recording(), "0 none");
        assert!(m.tick().is_err());
        std::thread::sleep(Duration::from_millis(250));
        let s = m.stop().unwrap();
        assert!(s.aggregations >= 1, "{s:?}");
        assert!(!m.is_running());
        assert!(!m.regions().is_empty());
        m.set_recording("1024 /tmp/z").unwrap();
    }

    #[test]
    fn unwritable_record_file_fails_start_cleanly() {
        let mut m = Monitor::new(Attrs::default()).unwrap();
        m.set_recording("4096 /nonexistent-dir/rec.data").unwrap();
        let e = m.start().unwrap_err();
        assert_eq!(e.errno(), libc::ENOENT, "{e}");
        assert!(e.to_string().contains("/nonexistent-dir/rec.data"), "{e}");
        assert!(!m.is_running());
        assert!(m.tick().is_err(), "manual mode refuses the same file");
        assert!(!m.is_running());
        m.set_recording("0 none").unwrap();
        m.tick().unwrap();
        assert!(m.is_running(), "a ticked session counts as running");
        assert_eq!(
            m.set_recording("4096 /tmp/x").unwrap_err().errno(),
            libc::EBUSY
        );
        m.stop().unwrap();
        assert!(matches!(m.stop(), Err(AccessError::State(_))));
    }
}
