//! Two sites with one name and different arguments: `check` reports them,
//! a typed probe is refused, a generic probe works on both.

use markers::{Error, Probe};

mod a {
    pub(crate) fn site() {
        markers::marker!(disagree_rx, len: usize = 1);
    }
}

mod b {
    pub(crate) fn site() {
        markers::marker!(disagree_rx, len: u32 = 2);
    }
}

#[test]
fn sites_that_disagree_are_reported_and_refuse_typed_probes() {
    let err = markers::check().unwrap_err();
    let Error::SitesDisagree {
        marker,
        first,
        second,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!(*marker, "disagree_rx");
    // Which site comes first is the linker's choice.
    let mut pair = [first.as_str(), second.as_str()].map(|s| s.ends_with(": (len: usize)"));
    pair.sort_unstable();
    assert_eq!(pair, [false, true], "{first} / {second}");
    assert!(
        first.ends_with(": (len: u32)") || second.ends_with(": (len: u32)"),
        "{first} / {second}"
    );
    assert!(
        err.to_string()
            .starts_with("the sites of marker `disagree_rx` disagree")
    );

    assert!(matches!(
        markers::connect("disagree_rx", Probe::typed(|_: &(usize,)| {})),
        Err(Error::SignatureMismatch { .. })
    ));
    let hits = markers::Counter::new();
    let id = markers::connect("disagree_rx", hits.clone()).unwrap();
    a::site();
    b::site();
    assert_eq!(hits.get(), 2);
    markers::disconnect(id).unwrap();
}
