//! `#[marker_fn]`: entry and return markers, typed arguments, borrowed
//! arguments as `Ref`, generic and `impl Trait` ones as `DebugArg`.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use markers::{DebugArg, Probe, Ref, RingBuffer, marker_fn};

#[marker_fn]
fn parse(input: &str, limit: usize) -> Result<usize, String> {
    if input.is_empty() {
        return Err("empty".into());
    }
    let n: usize = input.len().min(limit);
    Ok(n)
}

#[test]
fn entry_and_return_markers_are_typed() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (seen.clone(), seen.clone());
    let entry = markers::connect(
        "parse_entry",
        Probe::typed(move |(input, limit): &(Ref<str>, usize)| {
            a.lock().unwrap().push(format!("in {} {limit}", &**input));
        }),
    )
    .unwrap();
    let exit = markers::connect(
        "parse_return",
        Probe::typed(move |(ret,): &(Ref<Result<usize, String>>,)| {
            b.lock().unwrap().push(format!("out {:?}", &**ret));
        }),
    )
    .unwrap();
    assert_eq!(parse("hello", 3), Ok(3));
    assert_eq!(parse("", 3), Err("empty".to_owned()));
    assert_eq!(
        *seen.lock().unwrap(),
        ["in hello 3", "out Ok(3)", "in  3", "out Err(\"empty\")"]
    );
    markers::disconnect(entry).unwrap();
    markers::disconnect(exit).unwrap();
}

#[marker_fn(name = mf_generic)]
fn describe<T: Debug>(value: T, shown: impl Debug, times: u8) -> impl Debug {
    format!("{value:?}/{shown:?}x{times}")
}

#[test]
fn generic_and_impl_trait_arguments_are_seen_as_debug() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let id = markers::connect(
        "mf_generic_entry",
        Probe::typed(move |(value, shown, times): &(DebugArg, DebugArg, u8)| {
            sink.lock()
                .unwrap()
                .push(format!("{value:?} {shown:?} {times}"));
        }),
    )
    .unwrap();
    let ring = RingBuffer::new(4);
    let exit = markers::connect("mf_generic_return", ring.clone()).unwrap();
    let out = describe(vec![1, 2], "s", 2);
    assert_eq!(format!("{out:?}"), "\"[1, 2]/\\\"s\\\"x2\"");
    assert_eq!(*seen.lock().unwrap(), ["[1, 2] \"s\" 2"]);
    assert_eq!(ring.read()[0].args, "ret=\"[1, 2]/\\\"s\\\"x2\"");
    let site = markers::list()
        .into_iter()
        .find(|s| s.name() == "mf_generic_entry")
        .unwrap();
    assert_eq!(site.signature(), "value: T, shown: impl Debug, times: u8");
    assert_eq!(site.function(), "describe");
    markers::disconnect(id).unwrap();
    markers::disconnect(exit).unwrap();
}

#[derive(Debug, Default)]
struct Queue {
    items: Vec<u32>,
}

impl Queue {
    #[marker_fn]
    fn push(&mut self, item: u32, tag: String) -> usize {
        self.items.push(item);
        drop(tag);
        self.items.len()
    }

    #[marker_fn]
    fn first(&self) -> Option<&u32> {
        self.items.first()
    }
}

#[test]
fn methods_pass_their_arguments_without_the_receiver() {
    let ring = RingBuffer::new(8);
    let id = markers::connect("push_*", ring.clone()).unwrap();
    let first = markers::connect("first_*", ring.clone()).unwrap();
    let mut q = Queue::default();
    assert_eq!(q.push(7, "a".into()), 1);
    assert_eq!(q.first(), Some(&7));
    let hits: Vec<String> = ring
        .read()
        .iter()
        .map(|h| format!("{} {}", h.marker, h.args))
        .collect();
    assert_eq!(
        hits,
        [
            "push_entry item=7 tag=\"a\"",
            "push_return ret=1",
            "first_entry ",
            "first_return ret=Some(7)"
        ]
    );
    let sig = |name: &str| {
        markers::list()
            .into_iter()
            .find(|s| s.name() == name)
            .unwrap()
            .args_type_name()
    };
    assert_eq!(
        sig("push_entry"),
        "(u32, markers::args::Ref<alloc::string::String>)"
    );
    assert_eq!(sig("first_return"), "(markers::args::DebugArg,)");
    markers::disconnect(id).unwrap();
    markers::disconnect(first).unwrap();
}
