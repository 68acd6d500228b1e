//! `list()` in a fresh process where no site has fired: every site is
//! there, with its signature and no probe. One test: nothing else runs here.

fn never_called(buf: &[u8], p: u8) {
    markers::marker!(list_net_rx, len: usize = buf.len(), proto: u8 = p);
}

#[markers::marker_fn]
fn never_called_either(x: u32) -> bool {
    x > 1
}

#[test]
fn every_site_is_listed_before_any_fires() {
    let sites = markers::list();
    let names: Vec<&str> = sites.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "list_net_rx",
            "never_called_either_entry",
            "never_called_either_return"
        ]
    );
    let rx = sites[0];
    assert_eq!(rx.signature(), "len: usize, proto: u8");
    assert_eq!(rx.arg_names(), ["len", "proto"]);
    assert_eq!(rx.args_type_name(), "(usize, u8)");
    assert_eq!(rx.probes(), 0);
    assert_eq!(rx.module(), "list");
    assert_eq!(rx.function(), "never_called");
    assert!(rx.file().ends_with("tests/list.rs"));
    assert_eq!(rx.line(), 5);
    assert_eq!(
        rx.to_string(),
        format!(
            "list_net_rx(len: usize, proto: u8) {}:5 [list] probes=0",
            rx.file()
        )
    );
    assert_eq!(sites[1].signature(), "x: u32");
    assert_eq!(sites[2].signature(), "ret: bool");
    assert_eq!(sites[2].line(), 9);
    // Keep the functions (they are never called).
    let _ = (
        never_called as fn(&[u8], u8),
        never_called_either as fn(u32) -> bool,
    );
}
