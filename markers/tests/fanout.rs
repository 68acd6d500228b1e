//! 1, 2, 4 and 64 probes on one site: each called exactly once per hit, in
//! order, with the site's arguments.

use std::sync::{Arc, Mutex};

use markers::Probe;

fn site(name: &str, hit: u32) {
    match name {
        "fan_1" => markers::marker!(fan_1, hit: u32),
        "fan_2" => markers::marker!(fan_2, hit: u32),
        "fan_4" => markers::marker!(fan_4, hit: u32),
        "fan_64" => markers::marker!(fan_64, hit: u32),
        _ => unreachable!(),
    }
}

fn fan_out(name: &str, probes: usize) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let ids: Vec<_> = (0..probes)
        .map(|i| {
            let calls = calls.clone();
            let probe = Probe::typed_with(i, move |&i: &usize, &(hit,): &(u32,)| {
                calls.lock().unwrap().push((hit, i));
            });
            markers::connect(name, probe).unwrap()
        })
        .collect();
    for hit in 0..3 {
        site(name, hit);
    }
    let expected: Vec<(u32, usize)> = (0..3)
        .flat_map(|hit| (0..probes).map(move |i| (hit, i)))
        .collect();
    assert_eq!(*calls.lock().unwrap(), expected, "{name}");
    let listed = markers::list()
        .into_iter()
        .find(|s| s.name() == name)
        .unwrap();
    assert_eq!(listed.probes(), probes);
    for id in ids {
        markers::disconnect(id).unwrap();
    }
    site(name, 99);
    assert_eq!(calls.lock().unwrap().len(), expected.len());
    assert_eq!(listed.probes(), 0);
}

#[test]
fn one_probe() {
    fan_out("fan_1", 1);
}

#[test]
fn two_probes() {
    fan_out("fan_2", 2);
}

#[test]
fn four_probes() {
    fan_out("fan_4", 4);
}

#[test]
fn sixty_four_probes() {
    fan_out("fan_64", 64);
}
