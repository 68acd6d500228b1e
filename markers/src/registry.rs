//! Connecting and disconnecting probes: per marker name, the probes in call
//! order; per site, the published probe array.
//!
//! The protocol is the kernel's RCU one with hazard pointers in place of
//! RCU: every change builds a new array, points each site of the name to
//! it, and retires the array it replaced, keeping a `Weak` to it. A
//! retired array is dropped once no running hit holds it in its hazard
//! slot (`hazard`). `disconnect` waits until every old array that held the
//! probe is dropped: then no call of it is running.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::hazard;
use crate::probe::Probe;
use crate::site::{MARKERS_SITES_0_1, ProbeArray, ProbeId, Site, inside_probe};

#[derive(Clone)]
struct Entry {
    id: ProbeId,
    probe: Probe,
}

/// What is connected to one marker name.
#[derive(Default)]
struct Name {
    /// Sorted by priority, higher first; equal priorities in connect order.
    entries: Vec<Entry>,
    /// The array the sites hold now.
    current: Option<Arc<ProbeArray>>,
    /// Arrays replaced but possibly still in use by a running hit.
    retired: Vec<Weak<ProbeArray>>,
}

#[derive(Default)]
struct Registry {
    names: HashMap<&'static str, Name>,
    /// The names each probe is connected to (several for a glob).
    probes: HashMap<ProbeId, Vec<&'static str>>,
    /// Probes that [`disconnect_timeout`] gave up waiting for: removed from
    /// every array, with the arrays that still held them when it returned.
    /// A later `disconnect`/`disconnect_timeout` of the id waits for those.
    /// Ids are never reused, so an id is in `probes` or here, not both.
    draining: HashMap<ProbeId, Draining>,
    next_id: u64,
}

/// A probe disconnected whose calls were still running.
struct Draining {
    names: Vec<&'static str>,
    arrays: Vec<Weak<ProbeArray>>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// A panic cannot leave the registry half-changed in a way that matters:
/// every change is checked first and applied after, so poisoning is ignored.
fn lock() -> MutexGuard<'static, Option<Registry>> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The sites of each name, computed once from the slice.
fn sites_by_name() -> &'static HashMap<&'static str, Vec<&'static Site>> {
    static SITES: OnceLock<HashMap<&'static str, Vec<&'static Site>>> = OnceLock::new();
    SITES.get_or_init(|| {
        let mut map: HashMap<&'static str, Vec<&'static Site>> = HashMap::new();
        for site in MARKERS_SITES_0_1 {
            map.entry(site.name()).or_default().push(site);
        }
        map
    })
}

/// Connects `probe` to the marker `name`, or to every marker matching the
/// glob `name` (`net_*`), and arms their sites.
///
/// Refused, changing nothing, when no site matches, when a typed probe's
/// arguments are not those of a matching site, or when the same probe
/// (function and equal data) is already connected to a matching marker.
///
/// ```
/// markers::marker!(doc_connect_example, len: usize = 3);
/// let seen = markers::Counter::new();
/// let id = markers::connect("doc_connect_*", seen.clone()).unwrap();
/// markers::marker!(doc_connect_example, len: usize = 3);
/// assert_eq!(seen.get(), 1);
/// markers::disconnect(id).unwrap();
/// ```
pub fn connect(name: &str, probe: impl Into<Probe>) -> Result<ProbeId, Error> {
    let probe = probe.into();
    let sites = sites_by_name();
    let mut names: Vec<&'static str> = if name.contains(['*', '?']) {
        sites
            .keys()
            .copied()
            .filter(|n| dyndbg::__private::glob(name, n))
            .collect()
    } else {
        sites
            .get_key_value(name)
            .map(|(n, _)| *n)
            .into_iter()
            .collect()
    };
    if names.is_empty() {
        return Err(Error::UnknownMarker {
            pattern: name.to_owned(),
        });
    }
    names.sort_unstable();
    if let Some((args, probe_args)) = probe.inner.args() {
        for site in names.iter().flat_map(|n| &sites[n]) {
            if site.args_type() != args {
                return Err(Error::SignatureMismatch {
                    marker: site.name(),
                    location: format!("{}:{}", site.file(), site.line()),
                    site_signature: site.signature(),
                    site_args: site.args_type_name(),
                    probe_args,
                });
            }
        }
    }

    let mut registry = lock();
    let registry = registry.get_or_insert_with(Registry::default);
    for n in &names {
        if let Some(existing) = registry
            .names
            .get(n)
            .and_then(|state| state.entries.iter().find(|e| e.probe.same_identity(&probe)))
        {
            return Err(Error::AlreadyConnected {
                marker: n,
                existing: existing.id,
            });
        }
    }
    registry.next_id += 1;
    let id = ProbeId(registry.next_id);
    for n in &names {
        let state = registry.names.entry(n).or_default();
        // After every probe of higher or equal priority (tracepoint order).
        let at = state
            .entries
            .iter()
            .position(|e| e.probe.priority < probe.priority)
            .unwrap_or(state.entries.len());
        state.entries.insert(
            at,
            Entry {
                id,
                probe: probe.clone(),
            },
        );
        publish(state, &sites[n]);
    }
    registry.probes.insert(id, names);
    Ok(id)
}

/// Checks that the sites of each marker name agree on their arguments, as
/// kernel markers sharing a name must agree on their format. A `marker!`
/// cannot see the other sites of its name at compile time; call this from
/// a test to catch a disagreement before a typed probe is refused for it.
///
/// ```
/// markers::check().unwrap();
/// ```
pub fn check() -> Result<(), Error> {
    let mut names: Vec<_> = sites_by_name().iter().collect();
    names.sort_unstable_by_key(|(name, _)| **name);
    for (name, sites) in names {
        let first = sites[0];
        if let Some(other) = sites.iter().find(|s| s.args_type() != first.args_type()) {
            let describe = |s: &Site| format!("{}:{}: ({})", s.file(), s.line(), s.signature());
            return Err(Error::SitesDisagree {
                marker: name,
                first: describe(first),
                second: describe(other),
            });
        }
    }
    Ok(())
}

/// Disconnects a probe from every marker it was connected to, disarming a
/// site when its last probe goes.
///
/// When it returns, the probe is no longer entered by any site and no call
/// of it is still running on any thread. It therefore waits for running
/// calls of the probe, without limit, and is refused from inside a probe
/// (any probe), where that wait could be a wait for itself.
///
/// It can deadlock if the caller holds a lock that a running call of the
/// probe is waiting for: see [the crate docs](crate#disconnecting-and-locks);
/// [`disconnect_timeout`] bounds the wait.
pub fn disconnect(id: ProbeId) -> Result<(), Error> {
    disconnect_within(id, None)
}

/// [`disconnect`] with a bound on the wait for running calls of the probe.
///
/// The probe is taken out of every marker at once, as `disconnect` does:
/// no new call of it starts. If calls that were already running have not
/// all returned after `timeout`, it returns [`Error::StillRunning`]. The
/// probe then stays disconnected (it is not listed and the same probe can
/// be connected again); its function and private data are kept alive by
/// the calls still running and dropped when the last of them returns,
/// never before. Calling [`disconnect`] or `disconnect_timeout` again with
/// the same id waits for those calls again; once they have returned it
/// returns `Ok`, and after that the id is unknown.
///
/// ```
/// use std::time::Duration;
/// markers::marker!(doc_timeout_example);
/// let id = markers::connect("doc_timeout_example", markers::Counter::new()).unwrap();
/// // No call is running: returns at once.
/// markers::disconnect_timeout(id, Duration::from_millis(100)).unwrap();
/// ```
pub fn disconnect_timeout(id: ProbeId, timeout: Duration) -> Result<(), Error> {
    disconnect_within(id, Some(timeout))
}

fn disconnect_within(id: ProbeId, timeout: Option<Duration>) -> Result<(), Error> {
    if inside_probe() {
        return Err(Error::InsideProbe(id));
    }
    let (names, in_use) = {
        let mut registry = lock();
        let registry = registry.get_or_insert_with(Registry::default);
        if let Some(draining) = registry.draining.remove(&id) {
            // Disconnected by an earlier call that timed out: only wait.
            (draining.names, draining.arrays)
        } else {
            let names = registry.probes.remove(&id).ok_or(Error::UnknownProbe(id))?;
            let sites = sites_by_name();
            let mut in_use = Vec::new();
            for n in &names {
                let state = registry
                    .names
                    .get_mut(n)
                    .expect("a connected name has a state");
                state.entries.retain(|e| e.id != id);
                publish(state, &sites[n]);
                in_use.extend(
                    state
                        .retired
                        .iter()
                        .filter(|w| w.upgrade().is_some_and(|a| a.contains(id)))
                        .cloned(),
                );
            }
            (names, in_use)
        }
    };
    // Without the lock: a running probe may connect (or take the lock for
    // another reason) before it returns.
    // A timeout too long to represent as an instant waits without limit.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    for array in &in_use {
        if !wait_unused(array, deadline) {
            let still: Vec<Weak<ProbeArray>> = in_use
                .iter()
                .filter(|w| w.strong_count() > 0)
                .cloned()
                .collect();
            let mut registry = lock();
            let registry = registry.get_or_insert_with(Registry::default);
            // Kept until the id is disconnected again (one small entry per
            // timed-out disconnect that is never retried).
            registry.draining.insert(
                id,
                Draining {
                    names: names.clone(),
                    arrays: still,
                },
            );
            return Err(Error::StillRunning {
                probe: id,
                markers: names,
                waited: timeout.unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// Waits until no site hit holds `array` any more, or until `deadline`
/// (`None`: no limit). Returns whether the array is unused.
fn wait_unused(array: &Weak<ProbeArray>, deadline: Option<Instant>) -> bool {
    let mut spins = 0u32;
    loop {
        // The last hit to leave it usually dropped it already.
        hazard::reclaim();
        if array.strong_count() == 0 {
            break;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        if spins < 64 {
            std::hint::spin_loop();
        } else if spins < 256 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
        spins = spins.saturating_add(1);
    }
    true
}

/// Points every site of the name to a new array built from
/// `state.entries` and retires the one it replaces: the retired list keeps
/// it until no running hit holds it (see `hazard`).
fn publish(state: &mut Name, sites: &[&'static Site]) {
    let new = ProbeArray::new(
        state
            .entries
            .iter()
            .map(|e| (e.id, Arc::clone(&e.probe.inner)))
            .collect(),
    )
    .map(Arc::new);
    for site in sites {
        if new.is_none() {
            site.set_armed(false);
        }
        hazard::publish(&site.probes, new.as_ref());
        if new.is_some() {
            site.set_armed(true);
        }
    }
    if let Some(old) = std::mem::replace(&mut state.current, new) {
        state.retired.push(Arc::downgrade(&old));
        hazard::retire(old);
    }
    state.retired.retain(|w| w.strong_count() > 0);
}
