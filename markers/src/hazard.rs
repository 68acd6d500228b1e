//! Hazard pointers: which probe array each running hit is using, so that a
//! writer knows when an array it replaced is no longer in use (the kernel's
//! RCU grace period, for one array at a time).
//!
//! Each thread owns one slot per nesting level (a probe may hit another
//! site). A hit publishes the array it is about to use in its slot and
//! clears the slot when it returns; a writer swaps the site's pointer and
//! then looks through all slots: an array no slot holds is unused, and no
//! hit can start using it any more. That costs a hit one thread-local
//! access, one full fence and two loads, with no shared counter: cheaper
//! than an `Arc` or arc-swap's debt list (54 instructions per load).
//!
//! Replaced arrays are kept as [`Arc`]s in one retired list until no slot
//! holds them; the last hit to leave one, a waiting `disconnect`, or the
//! next change drops it.

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};

/// How deeply probes may nest (a probe hitting a site whose probe hits a
/// site...): a hit deeper than this calls no probe, as the kernel's
/// tracepoints refuse to recurse without bound.
pub(crate) const MAX_DEPTH: usize = 8;

/// One hazard slot, owned by one thread at one nesting level at a time.
/// Slots are never freed; a slot whose thread exited is reused.
struct Slot {
    hazard: AtomicPtr<()>,
    owned: AtomicBool,
    next: *const Slot,
}

// SAFETY: `next` is written once, before the slot is published to other
// threads, and points to a leaked (never freed) slot; the other fields are
// atomics.
unsafe impl Sync for Slot {}

/// The list of every slot ever made (push-only).
static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(ptr::null_mut());

fn all_slots() -> impl Iterator<Item = &'static Slot> {
    // Acquire: pairs with the Release push, so a slot's `next` is seen.
    let mut at = SLOTS.load(Ordering::Acquire).cast_const();
    std::iter::from_fn(move || {
        // SAFETY: every pointer in the list comes from `Box::leak` and is
        // never freed.
        let slot = unsafe { at.as_ref() }?;
        at = slot.next;
        Some(slot)
    })
}

/// A free slot, or a new one.
#[cold]
fn acquire_slot() -> &'static Slot {
    for slot in all_slots() {
        // Acquire: the previous owner's last clear happened before.
        if slot
            .owned
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return slot;
        }
    }
    let slot: &'static mut Slot = Box::leak(Box::new(Slot {
        hazard: AtomicPtr::new(ptr::null_mut()),
        owned: AtomicBool::new(true),
        next: ptr::null(),
    }));
    let mut head = SLOTS.load(Ordering::Relaxed);
    loop {
        slot.next = head;
        // Release: publishes `next` with the slot.
        match SLOTS.compare_exchange_weak(
            head,
            ptr::from_mut(slot),
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => return slot,
            Err(now) => head = now,
        }
    }
}

/// This thread's slots, one per nesting level, and its current depth.
struct Local {
    slots: [Cell<Option<&'static Slot>>; MAX_DEPTH],
    depth: Cell<usize>,
}

impl Drop for Local {
    fn drop(&mut self) {
        for slot in self.slots.iter().filter_map(Cell::get) {
            // Release: a later owner sees the slot cleared.
            slot.owned.store(false, Ordering::Release);
        }
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            slots: [const { Cell::new(None) }; MAX_DEPTH],
            depth: Cell::new(0),
        }
    };
}

/// Whether this thread is inside a [`read`] (a probe call, where a
/// disconnect must not wait).
pub(crate) fn inside() -> bool {
    LOCAL.try_with(|l| l.depth.get() > 0).unwrap_or(false)
}

/// Leaving a [`read`]: clears the slot and puts the depth back, also when
/// the reader unwinds (a probe that panics).
struct Leave(&'static Slot, usize);

impl Drop for Leave {
    fn drop(&mut self) {
        // Release: the hit's reads of the array happen before a writer
        // that sees the slot cleared drops it.
        self.0.hazard.store(ptr::null_mut(), Ordering::Release);
        let _ = LOCAL.try_with(|l| l.depth.set(self.1));
        if RETIRED_LEN.load(Ordering::Relaxed) != 0 {
            reclaim();
        }
    }
}

/// Runs `f` with the array `site` points to, kept alive for the call: no
/// writer drops an array while a slot holds it. `None` when the pointer is
/// null, when probes nest deeper than [`MAX_DEPTH`], or when the thread is
/// exiting and has no slots left.
#[inline]
pub(crate) fn read<T, R>(site: &AtomicPtr<T>, f: impl FnOnce(Option<&T>) -> R) -> R {
    let Ok(Some((slot, depth))) = LOCAL.try_with(|l| {
        let depth = l.depth.get();
        let cell = l.slots.get(depth)?;
        let slot = cell.get().unwrap_or_else(|| {
            let slot = acquire_slot();
            cell.set(Some(slot));
            slot
        });
        l.depth.set(depth + 1);
        Some((slot, depth))
    }) else {
        return f(None);
    };
    let _leave = Leave(slot, depth);
    // Acquire: the array's contents are seen as the writer built them.
    let mut array = site.load(Ordering::Acquire);
    loop {
        if array.is_null() {
            return f(None);
        }
        // SeqCst store, then SeqCst load: with the writer's SeqCst swap
        // and slot loads, either the writer sees this slot holding the
        // array, or this thread sees the writer's new pointer and retries.
        slot.hazard.store(array.cast(), Ordering::SeqCst);
        let now = site.load(Ordering::SeqCst);
        if now == array {
            break;
        }
        array = now;
    }
    // SAFETY: `array` was published from a live `Arc` (see `publish`), and
    // this slot held it before the site still pointed to it: a writer that
    // replaced it since retires it and drops it only once no slot holds it.
    f(Some(unsafe { &*array }))
}

/// Arrays replaced but perhaps still used by a running hit.
static RETIRED: Mutex<Vec<Arc<dyn Send + Sync>>> = Mutex::new(Vec::new());
/// `RETIRED.len()`, read by every hit on its way out.
static RETIRED_LEN: AtomicUsize = AtomicUsize::new(0);

/// Points `site` at `new` (or at nothing). The site holds no reference of
/// its own: the caller keeps `new` alive until it [`retire`]s it, after
/// pointing every site that had it elsewhere.
pub(crate) fn publish<T>(site: &AtomicPtr<T>, new: Option<&Arc<T>>) {
    let new = new.map_or(ptr::null_mut(), |a| Arc::as_ptr(a).cast_mut());
    // SeqCst: ordered before the slot loads of `reclaim` (see `read`).
    site.swap(new, Ordering::SeqCst);
}

/// Hands an array that no site points to any more to the retired list,
/// and drops what no running hit holds.
pub(crate) fn retire<T: Send + Sync + 'static>(old: Arc<T>) {
    {
        let mut retired = RETIRED.lock().unwrap_or_else(PoisonError::into_inner);
        retired.push(old);
        RETIRED_LEN.store(retired.len(), Ordering::Relaxed);
    }
    reclaim();
}

/// Drops every retired array that no slot holds.
pub(crate) fn reclaim() {
    let unused: Vec<Arc<dyn Send + Sync>> = {
        let mut retired = match RETIRED.try_lock() {
            Ok(retired) => retired,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            // Another thread is reclaiming; a waiting disconnect retries.
            Err(TryLockError::WouldBlock) => return,
        };
        // SeqCst: after the writers' swaps (see `read`).
        let held: Vec<*mut ()> = all_slots()
            .map(|s| s.hazard.load(Ordering::SeqCst))
            .filter(|p| !p.is_null())
            .collect();
        let (keep, unused) = retired
            .drain(..)
            .partition(|a| held.contains(&Arc::as_ptr(a).cast::<()>().cast_mut()));
        *retired = keep;
        RETIRED_LEN.store(retired.len(), Ordering::Relaxed);
        unused
    };
    // Dropped without the lock: a probe's data may hit a marker when dropped.
    drop(unused);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_of_exited_threads_are_reused() {
        let site = AtomicPtr::new(ptr::null_mut::<u32>());
        let count = || all_slots().count();
        std::thread::spawn(|| read(&AtomicPtr::new(ptr::null_mut::<u32>()), |_| {}))
            .join()
            .unwrap();
        let before = count();
        for _ in 0..50 {
            std::thread::spawn(|| read(&AtomicPtr::new(ptr::null_mut::<u32>()), |_| {}))
                .join()
                .unwrap();
        }
        // Other tests of this binary may hold a few slots at the same time.
        assert!(count() <= before + 4, "{} slots after {before}", count());
        read(&site, |v| assert!(v.is_none()));
    }

    #[test]
    fn a_held_array_is_kept_until_released() {
        let array = Arc::new(7u32);
        let weak = Arc::downgrade(&array);
        let site = AtomicPtr::new(ptr::null_mut());
        publish(&site, Some(&array));
        read(&site, |held| {
            assert_eq!(held, Some(&7));
            publish(&site, None);
            retire(array);
            reclaim();
            assert_eq!(weak.strong_count(), 1, "a running read holds it");
        });
        // The read's exit (or this reclaim) dropped it.
        reclaim();
        assert_eq!(weak.strong_count(), 0);
    }
}
