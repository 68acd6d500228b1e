//! dyndbg's listing and markers' listing name functions by one rule: a
//! `pr_debug!` and a `marker!` side by side in each kind of function get
//! the same `function()`, and that name is the documented one.
// The methods only stand for methods: what is tested is their names.
#![allow(clippy::unused_self)]

use dyndbg::pr_debug;
use markers::marker;

mod net {
    use super::{marker, pr_debug};
    use std::fmt;

    pub(crate) struct Client;

    impl Client {
        pub(crate) fn connect(&self) {
            pr_debug!("fnames: method");
            marker!(fnames_method);
        }

        pub(crate) fn with_closure(&self) {
            let f = || {
                pr_debug!("fnames: closure");
                marker!(fnames_closure);
            };
            f();
        }
    }

    impl fmt::Debug for Client {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            pr_debug!("fnames: trait impl");
            marker!(fnames_trait_impl);
            f.write_str("Client")
        }
    }

    pub(crate) trait Greet {
        fn greet(&self) {
            pr_debug!("fnames: trait default method");
            marker!(fnames_trait_default);
        }
    }

    impl Greet for Client {}

    pub(crate) struct Gen<T>(pub(crate) T);

    impl<T: fmt::Debug> Gen<T> {
        pub(crate) fn show(&self) {
            pr_debug!("fnames: generic impl {:?}", self.0);
            marker!(fnames_generic_impl);
        }
    }

    pub(crate) fn parse<T: Default>() -> T {
        pr_debug!("fnames: generic fn");
        marker!(fnames_generic_fn);
        T::default()
    }

    impl<T: fmt::Debug> fmt::Display for Gen<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            pr_debug!("fnames: generic trait impl");
            marker!(fnames_generic_trait_impl);
            write!(f, "{:?}", self.0)
        }
    }

    pub(crate) fn outer() {
        fn inner() {
            pr_debug!("fnames: nested fn");
            marker!(fnames_nested_fn);
        }
        inner();
    }

    pub(crate) async fn fetch() {
        pr_debug!("fnames: async fn");
        marker!(fnames_async_fn);
        async {
            pr_debug!("fnames: async block");
            marker!(fnames_async_block);
        }
        .await;
    }
}

mod elsewhere {
    use super::{marker, pr_debug};

    impl crate::net::Client {
        pub(crate) fn in_another_module(&self) {
            pr_debug!("fnames: impl in another module");
            marker!(fnames_other_module);
        }
    }
}

fn free_function() {
    pr_debug!("fnames: free fn");
    marker!(fnames_free_fn);
}

#[test]
fn both_listings_name_every_kind_of_function_alike() {
    // (format of the pr_debug!, name of the marker!, the documented name)
    let expected = [
        ("fnames: free fn", "fnames_free_fn", "free_function"),
        ("fnames: method", "fnames_method", "Client::connect"),
        ("fnames: closure", "fnames_closure", "Client::with_closure"),
        ("fnames: trait impl", "fnames_trait_impl", "Client::fmt"),
        (
            "fnames: trait default method",
            "fnames_trait_default",
            "Greet::greet",
        ),
        ("fnames: generic impl", "fnames_generic_impl", "Gen::show"),
        ("fnames: generic fn", "fnames_generic_fn", "parse"),
        (
            "fnames: generic trait impl",
            "fnames_generic_trait_impl",
            "Gen::fmt",
        ),
        ("fnames: nested fn", "fnames_nested_fn", "outer::inner"),
        ("fnames: async fn", "fnames_async_fn", "fetch"),
        ("fnames: async block", "fnames_async_block", "fetch"),
        (
            "fnames: impl in another module",
            "fnames_other_module",
            "Client::in_another_module",
        ),
    ];
    let sites = markers::list();
    let mut wrong = Vec::new();
    for (format, marker, want) in expected {
        let callsite = dyndbg::callsites()
            .find(|cs| cs.format().starts_with(format))
            .unwrap_or_else(|| panic!("no callsite {format:?}"));
        let site = sites
            .iter()
            .find(|s| s.name() == marker)
            .unwrap_or_else(|| panic!("no marker {marker}"));
        assert_eq!(callsite.module(), site.module(), "{marker}");
        if callsite.function() != want || site.function() != want {
            wrong.push(format!(
                "{marker}: dyndbg {:?}, markers {:?}, documented {want:?}",
                callsite.function(),
                site.function()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));

    // The listings show the same names.
    let listing = dyndbg::listing();
    assert!(
        listing.contains("[function_names::net]Client::fmt =_ \"fnames: trait impl\""),
        "{listing}"
    );
    let site = sites
        .iter()
        .find(|s| s.name() == "fnames_trait_impl")
        .unwrap();
    assert_eq!(site.function(), "Client::fmt");

    // Keep the functions used (they need not run: both slices list them).
    if std::hint::black_box(false) {
        use net::Greet;
        free_function();
        net::Client.connect();
        net::Client.with_closure();
        net::Client.greet();
        net::Client.in_another_module();
        net::Gen(1).show();
        let _: u8 = net::parse();
        net::outer();
        drop(net::fetch());
        let _ = format!("{:?} {}", net::Client, net::Gen(2));
    }
}
