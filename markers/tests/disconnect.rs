//! disconnect: waits for running calls (including calls on an array that
//! was already replaced by a later connect), is refused from inside a probe,
//! and disarms the site with its last probe.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use markers::{Error, Probe, marker};

/// A probe that stops on a barrier until the test releases it, then marks
/// itself finished.
fn blocking_probe(
    entered: &Arc<Barrier>,
    release: &Arc<Barrier>,
    finished: &Arc<AtomicBool>,
) -> Probe {
    let (entered, release, finished) = (entered.clone(), release.clone(), finished.clone());
    Probe::generic(move |_, _| {
        entered.wait();
        release.wait();
        finished.store(true, Ordering::SeqCst);
    })
}

fn hold(name: &'static str) -> thread::JoinHandle<()> {
    thread::spawn(move || match name {
        "disc_barrier" => marker!(disc_barrier),
        "disc_old_array" => marker!(disc_old_array),
        _ => unreachable!(),
    })
}

/// Runs `disconnect(id)` on a thread; the receiver gets whether the probe
/// had finished at the moment disconnect returned.
fn disconnect_in_background(
    id: markers::ProbeId,
    finished: &Arc<AtomicBool>,
) -> (mpsc::Receiver<bool>, Arc<AtomicBool>) {
    let (tx, rx) = mpsc::channel();
    let returned = Arc::new(AtomicBool::new(false));
    let (finished, flag) = (finished.clone(), returned.clone());
    thread::spawn(move || {
        markers::disconnect(id).unwrap();
        flag.store(true, Ordering::SeqCst);
        tx.send(finished.load(Ordering::SeqCst)).unwrap();
    });
    (rx, returned)
}

#[test]
fn disconnect_waits_for_a_running_probe() {
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let finished = Arc::new(AtomicBool::new(false));
    let id = markers::connect(
        "disc_barrier",
        blocking_probe(&entered, &release, &finished),
    )
    .unwrap();
    let firing = hold("disc_barrier");
    entered.wait(); // the probe is running
    let (done, returned) = disconnect_in_background(id, &finished);
    // The probe is held: disconnect must not return however long we wait.
    assert!(done.recv_timeout(Duration::from_millis(200)).is_err());
    assert!(
        !returned.load(Ordering::SeqCst),
        "disconnect returned while its probe ran"
    );
    release.wait();
    assert!(
        done.recv().unwrap(),
        "disconnect returned before the probe finished"
    );
    firing.join().unwrap();
}

#[test]
fn disconnect_waits_for_calls_on_a_replaced_array() {
    let entered = Arc::new(Barrier::new(2));
    let release = Arc::new(Barrier::new(2));
    let finished = Arc::new(AtomicBool::new(false));
    let id = markers::connect(
        "disc_old_array",
        blocking_probe(&entered, &release, &finished),
    )
    .unwrap();
    let firing = hold("disc_old_array");
    entered.wait();
    // A connect replaces the array the running hit holds; the old array
    // still calls our probe.
    let other = markers::connect("disc_old_array", markers::Counter::new()).unwrap();
    let (done, returned) = disconnect_in_background(id, &finished);
    assert!(done.recv_timeout(Duration::from_millis(200)).is_err());
    assert!(
        !returned.load(Ordering::SeqCst),
        "disconnect ignored a replaced array still in use"
    );
    release.wait();
    assert!(done.recv().unwrap());
    firing.join().unwrap();
    markers::disconnect(other).unwrap();
}

fn self_site() {
    marker!(disc_self);
}

#[test]
fn disconnect_from_inside_a_probe_is_an_error() {
    let slot: Arc<Mutex<Option<markers::ProbeId>>> = Arc::new(Mutex::new(None));
    let results = Arc::new(Mutex::new(Vec::new()));
    let (id_slot, out) = (slot.clone(), results.clone());
    let id = markers::connect(
        "disc_self",
        Probe::generic(move |_, _| {
            let id = id_slot.lock().unwrap().unwrap();
            out.lock().unwrap().push(markers::disconnect(id));
        }),
    )
    .unwrap();
    *slot.lock().unwrap() = Some(id);
    self_site();
    let err = results.lock().unwrap()[0].clone().unwrap_err();
    assert_eq!(err, Error::InsideProbe(id));
    assert!(err.to_string().contains("from inside a probe"));
    // Nothing was changed: the probe is still connected and still called.
    self_site();
    assert_eq!(results.lock().unwrap().len(), 2);
    markers::disconnect(id).unwrap();
    self_site();
    assert_eq!(results.lock().unwrap().len(), 2);
}

fn disarm_site() {
    marker!(disc_disarm, n: u8 = 1);
}

#[test]
fn the_last_probe_disarms_the_site() {
    let site = markers::list()
        .into_iter()
        .find(|s| s.name() == "disc_disarm")
        .unwrap();
    let (a, b) = (markers::Counter::new(), markers::Counter::new());
    let ia = markers::connect("disc_disarm", a.clone()).unwrap();
    let ib = markers::connect("disc_disarm", b.clone()).unwrap();
    assert_eq!(site.probes(), 2);
    markers::disconnect(ia).unwrap();
    disarm_site();
    assert_eq!((a.get(), b.get(), site.probes()), (0, 1, 1));
    markers::disconnect(ib).unwrap();
    assert_eq!(site.probes(), 0);
    disarm_site();
    assert_eq!(b.get(), 1);
}
