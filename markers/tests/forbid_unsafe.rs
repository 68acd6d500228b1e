//! A crate that forbids `unsafe` can still place markers with borrowed
//! arguments: the lending happens inside markers' own macro.
#![forbid(unsafe_code)]

#[markers::marker_fn]
fn greet(name: &str, shown: impl std::fmt::Debug) -> usize {
    markers::marker!(forbid_inner, name: &str, n: &dyn std::fmt::Debug = &shown);
    name.len()
}

#[test]
fn borrowed_arguments_need_no_unsafe_in_the_user_crate() {
    let ring = markers::RingBuffer::new(4);
    let id = markers::connect("*", ring.clone()).unwrap();
    assert_eq!(greet("ada", 1), 3);
    let hits: Vec<String> = ring
        .read()
        .into_iter()
        .map(|h| format!("{} {}", h.marker, h.args))
        .collect();
    assert_eq!(
        hits,
        [
            "greet_entry name=\"ada\" shown=1",
            "forbid_inner name=\"ada\" n=1",
            "greet_return ret=3"
        ]
    );
    markers::disconnect(id).unwrap();
}
