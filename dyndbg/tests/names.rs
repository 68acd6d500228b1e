//! Every callsite knows its module, file, function, line and format, with no
//! annotation by the user: the function is its path within the module.

#![allow(clippy::unused_self)] // methods of every shape are the point here

use dyndbg::pr_debug;

mod net {
    use dyndbg::pr_debug;

    pub(crate) struct Client;

    impl Client {
        pub(crate) fn connect(&self) {
            pr_debug!("names: method");
            let closure = || pr_debug!("names: closure in method");
            closure();
        }
    }

    pub(crate) struct Gen<T>(pub(crate) T);

    impl<T: std::fmt::Debug> Gen<T> {
        pub(crate) fn show(&self) {
            pr_debug!("names: generic impl {:?}", self.0);
        }
    }

    impl std::fmt::Debug for Client {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            pr_debug!("names: trait impl");
            f.write_str("Client")
        }
    }

    pub(crate) trait Greet {
        fn greet(&self) {
            pr_debug!("names: trait default method");
        }
    }

    impl Greet for Client {}

    pub(crate) fn outer() {
        fn inner() {
            pr_debug!("names: nested fn");
        }
        inner();
    }

    pub(crate) async fn fetch() {
        pr_debug!("names: async fn");
        async {
            pr_debug!("names: async block");
        }
        .await;
    }
}

mod elsewhere {
    use dyndbg::pr_debug;

    impl crate::net::Client {
        pub(crate) fn in_another_module(&self) {
            pr_debug!("names: impl in another module");
        }
    }
}

fn free_function() {
    pr_debug!("names: free function");
}

fn site(format: &str) -> &'static dyndbg::Callsite {
    dyndbg::callsites()
        .find(|cs| cs.format().starts_with(format))
        .unwrap_or_else(|| panic!("no callsite {format:?}"))
}

#[test]
fn function_names_need_no_annotation() {
    let expected = [
        ("names: method", "Client::connect", "names::net"),
        ("names: closure in method", "Client::connect", "names::net"),
        ("names: generic impl", "Gen::show", "names::net"),
        ("names: trait impl", "Client::fmt", "names::net"),
        ("names: trait default method", "Greet::greet", "names::net"),
        ("names: nested fn", "outer::inner", "names::net"),
        ("names: async fn", "fetch", "names::net"),
        ("names: async block", "fetch", "names::net"),
        (
            "names: impl in another module",
            "Client::in_another_module",
            "names::elsewhere",
        ),
        ("names: free function", "free_function", "names"),
    ];
    for (format, function, module) in expected {
        let cs = site(format);
        assert_eq!(cs.function(), function, "{format}");
        assert_eq!(cs.module(), module, "{format}");
        assert_eq!(cs.file(), "dyndbg/tests/names.rs", "{format}");
        assert!(!cs.function().contains(' '), "{format}");
    }
    assert_eq!(site("names: method").line(), 15);
    assert_eq!(
        site("names: generic impl").format(),
        "names: generic impl {:?}"
    );
}

#[test]
fn callsites_are_listed_before_they_run() {
    // None of the functions above has been called in this test binary's
    // process necessarily; the slice still holds all of them.
    assert!(
        dyndbg::callsites()
            .filter(|cs| cs.format().starts_with("names: "))
            .count()
            == 10
    );
    // Keep the functions used.
    if std::hint::black_box(false) {
        use net::Greet;
        free_function();
        net::Client.connect();
        net::Client.greet();
        net::Client.in_another_module();
        net::Gen(1).show();
        net::outer();
        drop(net::fetch());
        let _ = format!("{:?}", net::Client);
    }
}
