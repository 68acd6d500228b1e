//! `disconnect_timeout`: bounded wait for running calls of a probe. A probe
//! blocked inside a call makes it return `Error::StillRunning`; the probe is
//! disconnected all the same, its data lives until the call returns, and a
//! second disconnect of the id waits for that call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use markers::{Error, Probe, marker};

/// Private data that counts its drops.
struct Data {
    drops: Arc<AtomicUsize>,
}

impl PartialEq for Data {
    fn eq(&self, _: &Data) -> bool {
        true
    }
}

impl Drop for Data {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn site() {
    marker!(dt_blocking, n: u32 = 7);
}

fn sites_probes() -> usize {
    markers::list()
        .into_iter()
        .find(|s| s.name() == "dt_blocking")
        .expect("the site is listed")
        .probes()
}

/// Every probe of this test is the same function type with data that
/// compares equal: they all have the same identity, so a second one is
/// refused while the first is connected.
fn probe(drops: &Arc<AtomicUsize>, body: impl Fn(u32) + Send + Sync + 'static) -> Probe {
    // Not generic below this line: one closure type for every call.
    same_probe(drops, Box::new(body))
}

fn same_probe(drops: &Arc<AtomicUsize>, body: Box<dyn Fn(u32) + Send + Sync>) -> Probe {
    Probe::typed_with(
        Data {
            drops: drops.clone(),
        },
        move |_: &Data, &(n,): &(u32,)| body(n),
    )
}

#[test]
fn a_probe_still_running_makes_disconnect_timeout_return_an_error() {
    let drops = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
    let counted = calls.clone();
    let id = markers::connect(
        "dt_blocking",
        probe(&drops, move |n| {
            assert_eq!(n, 7);
            if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                // The first call blocks until the test releases it.
                entered_tx.lock().unwrap().send(()).unwrap();
                release_rx.lock().unwrap().recv().unwrap();
            }
        }),
    )
    .unwrap();
    // While connected, the same probe is refused (the kernel's EBUSY).
    let new_drops = Arc::new(AtomicUsize::new(0));
    assert!(matches!(
        markers::connect("dt_blocking", probe(&new_drops, |_| {})),
        Err(Error::AlreadyConnected { .. })
    ));
    let firing = thread::spawn(site);
    entered_rx.recv().unwrap(); // the probe is running

    let err = markers::disconnect_timeout(id, Duration::from_millis(100)).unwrap_err();
    assert_eq!(
        err,
        Error::StillRunning {
            probe: id,
            markers: vec!["dt_blocking"],
            waited: Duration::from_millis(100),
        }
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "{id} of marker `dt_blocking` is still running after 100ms"
        )),
        "{text}"
    );
    // Disconnected all the same: not listed, no new call, data still alive.
    assert_eq!(sites_probes(), 0);
    site();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no new call after disconnect"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "the running call still holds the data"
    );

    // The same probe identity connects again and is called.
    let again = Arc::new(AtomicUsize::new(0));
    let seen = again.clone();
    let new_id = markers::connect(
        "dt_blocking",
        probe(&new_drops, move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        }),
    )
    .unwrap();
    assert_ne!(new_id, id);
    assert_eq!(sites_probes(), 1);
    site();
    assert_eq!(again.load(Ordering::SeqCst), 1);

    // Still running: a second bounded wait times out again.
    assert!(matches!(
        markers::disconnect_timeout(id, Duration::ZERO),
        Err(Error::StillRunning { .. })
    ));

    // Release the call: a second disconnect of the id waits for it, then
    // the data is dropped and the id is unknown.
    release_tx.send(()).unwrap();
    markers::disconnect(id).unwrap();
    firing.join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the data is dropped once");
    assert_eq!(markers::disconnect(id), Err(Error::UnknownProbe(id)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    // The registry is consistent: the new probe disconnects normally.
    markers::disconnect_timeout(new_id, Duration::from_secs(5)).unwrap();
    assert_eq!(sites_probes(), 0);
    site();
    assert_eq!(again.load(Ordering::SeqCst), 1);
    assert_eq!(new_drops.load(Ordering::SeqCst), 2, "both copies dropped");
}

#[test]
fn disconnect_timeout_without_running_calls_is_disconnect() {
    marker!(dt_idle);
    let counter = markers::Counter::new();
    let id = markers::connect("dt_idle", counter.clone()).unwrap();
    marker!(dt_idle);
    assert_eq!(counter.get(), 1);
    markers::disconnect_timeout(id, Duration::ZERO).unwrap();
    marker!(dt_idle);
    assert_eq!(counter.get(), 1);
    assert_eq!(
        markers::disconnect_timeout(id, Duration::ZERO),
        Err(Error::UnknownProbe(id))
    );
}

#[test]
fn disconnect_timeout_is_refused_inside_a_probe() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let id = markers::connect(
        "dt_inside",
        Probe::generic(move |_, _| {
            let other = markers::connect("dt_inside", markers::Counter::new()).unwrap();
            let r = markers::disconnect_timeout(other, Duration::from_millis(10));
            tx.lock().unwrap().send((other, r)).unwrap();
        }),
    )
    .unwrap();
    marker!(dt_inside);
    let (other, r) = rx.recv().unwrap();
    assert_eq!(r, Err(Error::InsideProbe(other)));
    markers::disconnect(other).unwrap();
    markers::disconnect(id).unwrap();
}
