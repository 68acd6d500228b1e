//! connect: typed and generic probes, priorities, identity, signature
//! checks, unknown names, globs, shared names. Each test uses its own
//! marker names (tests run in parallel in one process).

use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use markers::{Error, Probe, Ref, marker};

fn receive(buf: &[u8], p: u8) {
    marker!(conn_net_rx, len: usize = buf.len(), proto: u8 = p);
}

#[test]
fn typed_probe_receives_the_tuple() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let id = markers::connect(
        "conn_net_rx",
        Probe::typed(move |args: &(usize, u8)| sink.lock().unwrap().push(*args)),
    )
    .unwrap();
    receive(&[0; 1500], 6);
    receive(b"abc", 17);
    assert_eq!(*seen.lock().unwrap(), [(1500, 6), (3, 17)]);
    markers::disconnect(id).unwrap();
    receive(b"x", 1);
    assert_eq!(seen.lock().unwrap().len(), 2, "no call after disconnect");
}

static EVALUATED: AtomicUsize = AtomicUsize::new(0);

fn costly() -> u32 {
    EVALUATED.fetch_add(1, Ordering::Relaxed);
    7
}

fn lazy_site() {
    marker!(conn_lazy, v: u32 = costly());
}

#[test]
fn arguments_are_evaluated_only_when_armed() {
    lazy_site();
    lazy_site();
    assert_eq!(EVALUATED.load(Ordering::Relaxed), 0);
    let hits = markers::Counter::new();
    let id = markers::connect("conn_lazy", hits.clone()).unwrap();
    lazy_site();
    assert_eq!((EVALUATED.load(Ordering::Relaxed), hits.get()), (1, 1));
    markers::disconnect(id).unwrap();
    lazy_site();
    assert_eq!(EVALUATED.load(Ordering::Relaxed), 1);
}

fn shorthand(len: usize, name: &str, shown: &dyn Debug) {
    marker!(conn_shorthand, len: usize, name: &str, shown: &dyn Debug);
}

#[test]
fn shorthand_borrowed_and_debug_arguments() {
    let seen = Arc::new(Mutex::new(String::new()));
    let sink = seen.clone();
    let id = markers::connect(
        "conn_shorthand",
        Probe::typed(
            move |(len, name, shown): &(usize, Ref<str>, markers::DebugArg)| {
                *sink.lock().unwrap() = format!("{len} {} {shown:?}", &**name);
            },
        ),
    )
    .unwrap();
    let owned = String::from("eth0");
    shorthand(4, &owned, &vec![1, 2]);
    assert_eq!(*seen.lock().unwrap(), "4 eth0 [1, 2]");
    let site = markers::list()
        .into_iter()
        .find(|s| s.name() == "conn_shorthand")
        .unwrap();
    assert_eq!(
        site.signature(),
        "len: usize, name: &str, shown: &dyn Debug"
    );
    assert_eq!(
        site.args_type_name(),
        "(usize, markers::args::Ref<str>, markers::args::DebugArg)"
    );
    markers::disconnect(id).unwrap();
}

fn generic_site() {
    marker!(conn_generic, a: i64 = -3, b: &'static str = "x");
}

#[test]
fn generic_probe_sees_the_site_and_debug_arguments() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let id = markers::connect(
        "conn_generic",
        Probe::generic(move |site, args| {
            let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
            sink.lock().unwrap().push(format!(
                "{} {} {}",
                site.name(),
                site.function(),
                args.join(",")
            ));
        }),
    )
    .unwrap();
    generic_site();
    assert_eq!(
        *seen.lock().unwrap(),
        ["conn_generic generic_site -3,\"x\""]
    );
    markers::disconnect(id).unwrap();
}

fn prio_site() {
    marker!(conn_prio);
}

#[test]
fn probes_run_in_priority_order_then_connect_order() {
    let order = Arc::new(Mutex::new(Vec::new()));
    let probe = |tag: &'static str| {
        Probe::typed_with(tag, {
            let order = order.clone();
            move |tag: &&'static str, (): &()| order.lock().unwrap().push(*tag)
        })
    };
    let ids = [
        markers::connect("conn_prio", probe("low").priority(5)).unwrap(),
        markers::connect("conn_prio", probe("default-1")).unwrap(),
        markers::connect("conn_prio", probe("high").priority(20)).unwrap(),
        markers::connect("conn_prio", probe("default-2").priority(10)).unwrap(),
        markers::connect("conn_prio", probe("negative").priority(-1)).unwrap(),
    ];
    prio_site();
    assert_eq!(
        *order.lock().unwrap(),
        ["high", "default-1", "default-2", "low", "negative"]
    );
    for id in ids {
        markers::disconnect(id).unwrap();
    }
}

fn ident_site() {
    marker!(conn_ident, n: u32 = 1);
}

fn add_to(total: &Arc<AtomicUsize>) {
    total.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn the_same_probe_with_equal_data_is_refused() {
    let total = Arc::new(AtomicUsize::new(0));
    let probe = |data: u32| {
        let total = total.clone();
        Probe::typed_with(data, move |_: &u32, _: &(u32,)| add_to(&total))
    };
    let first = markers::connect("conn_ident", probe(1)).unwrap();
    let err = markers::connect("conn_ident", probe(1)).unwrap_err();
    assert_eq!(
        err,
        Error::AlreadyConnected {
            marker: "conn_ident",
            existing: first
        }
    );
    assert!(
        err.to_string()
            .contains("already connected to marker `conn_ident`")
    );
    // Other data: another probe.
    let second = markers::connect("conn_ident", probe(2)).unwrap();
    // The same data with another function: another probe.
    let third = markers::connect(
        "conn_ident",
        Probe::typed_with(1u32, |_: &u32, _: &(u32,)| {}),
    )
    .unwrap();
    ident_site();
    assert_eq!(total.load(Ordering::Relaxed), 2);
    // After a disconnect the same probe can come back.
    markers::disconnect(first).unwrap();
    let again = markers::connect("conn_ident", probe(1)).unwrap();
    for id in [second, third, again] {
        markers::disconnect(id).unwrap();
    }
    // Without data, a closure's identity is its type.
    let make = || Probe::typed(|_: &(u32,)| {});
    let once = markers::connect("conn_ident", make()).unwrap();
    assert!(matches!(
        markers::connect("conn_ident", make()),
        Err(Error::AlreadyConnected { .. })
    ));
    markers::disconnect(once).unwrap();
}

fn mismatch_site() {
    marker!(conn_mismatch, len: usize = 1, proto: u8 = 2);
}

#[test]
fn a_signature_mismatch_shows_both_signatures() {
    mismatch_site();
    let err = markers::connect("conn_mismatch", Probe::typed(|_: &(u32, u8)| {})).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("conn_mismatch(len: usize, proto: u8)"),
        "{text}"
    );
    assert!(text.contains("passes `&(usize, u8)`"), "{text}");
    assert!(text.contains("the probe takes `&(u32, u8)`"), "{text}");
    assert!(text.contains("tests/connect.rs:"), "{text}");
    assert!(matches!(
        err,
        Error::SignatureMismatch {
            marker: "conn_mismatch",
            ..
        }
    ));
    let site = markers::list()
        .into_iter()
        .find(|s| s.name() == "conn_mismatch")
        .unwrap();
    assert_eq!(site.probes(), 0, "a refused connect changes nothing");
}

#[test]
fn unknown_names_are_errors() {
    let err = markers::connect("conn_no_such_marker", markers::Counter::new()).unwrap_err();
    assert_eq!(
        err,
        Error::UnknownMarker {
            pattern: "conn_no_such_marker".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "no marker site matches `conn_no_such_marker`"
    );
    assert!(matches!(
        markers::connect("conn_nothing_*", markers::Counter::new()),
        Err(Error::UnknownMarker { .. })
    ));
}

fn glob_sites() {
    marker!(conn_glob_rx, len: usize = 1);
    marker!(conn_glob_tx, len: usize = 2);
    marker!(conn_glob_err, code: i32 = -1);
    marker!(other_conn_glob, len: usize = 3);
}

#[test]
fn a_glob_arms_every_matching_marker() {
    let hits = markers::Counter::new();
    let id = markers::connect("conn_glob_*", hits.clone()).unwrap();
    glob_sites();
    assert_eq!(hits.get(), 3);
    markers::disconnect(id).unwrap();
    glob_sites();
    assert_eq!(hits.get(), 3);

    // A typed probe over a glob: every matching site must agree, else
    // nothing is connected.
    let err = markers::connect("conn_glob_*", Probe::typed(|_: &(usize,)| {})).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SignatureMismatch {
                marker: "conn_glob_err",
                ..
            }
        ),
        "{err}"
    );
    for site in markers::list() {
        if site.name().starts_with("conn_glob_") {
            assert_eq!(site.probes(), 0, "{site}");
        }
    }
    let lens = Arc::new(AtomicUsize::new(0));
    let sum = lens.clone();
    let id = markers::connect(
        "conn_glob_?x",
        Probe::typed(move |&(len,): &(usize,)| {
            sum.fetch_add(len, Ordering::Relaxed);
        }),
    )
    .unwrap();
    glob_sites();
    assert_eq!(lens.load(Ordering::Relaxed), 3);
    markers::disconnect(id).unwrap();
}

mod one {
    pub(crate) fn site() {
        markers::marker!(conn_shared, n: u8 = 1);
    }
}

mod two {
    pub(crate) fn site() {
        markers::marker!(conn_shared, n: u8 = 2);
    }
}

#[test]
fn sites_with_the_same_name_share_their_probes() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let id = markers::connect(
        "conn_shared",
        Probe::typed(move |&(n,): &(u8,)| sink.lock().unwrap().push(n)),
    )
    .unwrap();
    one::site();
    two::site();
    assert_eq!(*seen.lock().unwrap(), [1, 2]);
    let sites: Vec<_> = markers::list()
        .into_iter()
        .filter(|s| s.name() == "conn_shared")
        .collect();
    assert_eq!(sites.len(), 2);
    assert!(sites.iter().all(|s| s.probes() == 1));
    markers::disconnect(id).unwrap();
    assert!(sites.iter().all(|s| s.probes() == 0));
}

fn nested_site() {
    marker!(conn_nested_outer);
}

fn nested_inner() {
    marker!(conn_nested_inner);
}

#[test]
fn a_probe_may_connect_from_inside_a_probe() {
    let inner_hits = markers::Counter::new();
    let connected = Arc::new(Mutex::new(None));
    let (slot, hits) = (connected.clone(), inner_hits.clone());
    let outer = markers::connect(
        "conn_nested_outer",
        Probe::generic(move |_, _| {
            let mut slot = slot.lock().unwrap();
            if slot.is_none() {
                *slot = Some(markers::connect("conn_nested_inner", hits.clone()).unwrap());
            }
            nested_inner();
        }),
    )
    .unwrap();
    nested_site();
    assert_eq!(inner_hits.get(), 1);
    markers::disconnect(outer).unwrap();
    markers::disconnect(connected.lock().unwrap().take().unwrap()).unwrap();
    nested_inner();
    assert_eq!(inner_hits.get(), 1);
}

#[test]
fn unknown_probe_ids_are_errors() {
    let hits = markers::Counter::new();
    let id = markers::connect("conn_generic", hits).unwrap();
    markers::disconnect(id).unwrap();
    assert_eq!(markers::disconnect(id), Err(Error::UnknownProbe(id)));
    assert!(
        markers::disconnect(id)
            .unwrap_err()
            .to_string()
            .contains("is not connected")
    );
}
