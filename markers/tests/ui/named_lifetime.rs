use std::borrow::Cow;

fn label<'a>(name: Cow<'a, str>) {
    markers::marker!(label, name: Cow<'a, str> = name.clone());
}

fn main() {
    label(Cow::Borrowed("a"));
}
