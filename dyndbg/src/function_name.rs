//! Turning a `type_name` into the function name a query matches: the one
//! rule of both listings (the crate docs' "Function names"; markers calls
//! it through `__private::function_name`).
//!
//! The macros place a marker fn (`fn __dyndbg_fn`, `fn __markers_fn`)
//! inside the user's function and record a pointer to a function returning
//! its `type_name`, which is the def path:
//! `app::net::Client::connect::{{closure}}::__dyndbg_fn`,
//! `<app::Client as core::fmt::Debug>::fmt::__dyndbg_fn`, ... From that we
//! keep the path within the module, without generics, closures or the
//! marker fn itself (the last segment, whatever its name).

/// The function a callsite is in, qualified within `module`.
pub(crate) fn qualified_name(type_name: &str, module: &str) -> String {
    let mut segments = split_path(type_name);
    // The marker fn itself.
    segments.pop();
    // Closures, async blocks and async fn bodies fold into their function.
    segments.retain(|s| !(s.starts_with("{{") && s.ends_with("}}")));

    // Strip the module path when the def path starts with it; impls written
    // in another module are named after their type's path instead, which we
    // cut at the first segment that is a type (starts upper-case or `<`).
    let module_segments = split_path(module);
    let start = if segments.len() > module_segments.len()
        && segments[..module_segments.len()] == module_segments[..]
    {
        module_segments.len()
    } else {
        segments
            .iter()
            .position(|s| s.starts_with('<') || s.starts_with(|c: char| c.is_ascii_uppercase()))
            .unwrap_or(segments.len().saturating_sub(1))
    };
    let kept: Vec<String> = segments[start..].iter().map(|s| simplify(s)).collect();
    kept.join("::")
}

/// `<app::Client as core::fmt::Debug>` -> `Client`; `Gen<T>` -> `Gen`.
fn simplify(segment: &str) -> String {
    if let Some(inner) = segment.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
        // Trait impl: keep the self type's last segment.
        let self_ty = match split_top_level(inner, " as ") {
            Some((ty, _)) => ty,
            None => inner,
        };
        let self_ty = self_ty.trim_start_matches('&').trim_start_matches("mut ");
        let last = split_path(self_ty).pop().unwrap_or_default();
        return strip_generics(&last).to_owned();
    }
    strip_generics(segment).to_owned()
}

fn strip_generics(segment: &str) -> &str {
    segment.find('<').map_or(segment, |i| &segment[..i])
}

/// Find `sep` outside angle brackets.
fn split_top_level<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            _ if depth == 0 && s[i..].starts_with(sep) => {
                return Some((&s[..i], &s[i + sep.len()..]));
            }
            _ => {}
        }
    }
    None
}

/// Split a path at `::` outside angle brackets.
fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ':' if depth == 0 && chars.peek() == Some(&':') => {
                chars.next();
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::qualified_name;

    #[test]
    fn forms() {
        let cases = [
            ("app::net::connect::__dyndbg_fn", "app::net", "connect"),
            (
                "app::net::Client::connect::__dyndbg_fn",
                "app::net",
                "Client::connect",
            ),
            (
                "app::net::Gen<T>::show::__dyndbg_fn",
                "app::net",
                "Gen::show",
            ),
            (
                "<app::net::Client as core::fmt::Debug>::fmt::__dyndbg_fn",
                "app::net",
                "Client::fmt",
            ),
            (
                "<app::Gen<T> as app::Tr<u8>>::go::__dyndbg_fn",
                "app",
                "Gen::go",
            ),
            (
                "app::net::outer::inner::__dyndbg_fn",
                "app::net",
                "outer::inner",
            ),
            (
                "app::net::run::{{closure}}::{{closure}}::__dyndbg_fn",
                "app::net",
                "run",
            ),
            (
                "app::Client::connect::__dyndbg_fn",
                "app::other",
                "Client::connect",
            ),
            (
                "app::net::Speak::hello::__dyndbg_fn",
                "app::net",
                "Speak::hello",
            ),
            // What rustc prints for a generic impl, and for an inherent
            // impl written in another module than its type.
            (
                "app::net::Gen<_>::show::__markers_fn",
                "app::net",
                "Gen::show",
            ),
            (
                "<impl app::net::Client>::in_another_module::__markers_fn",
                "app::other",
                "Client::in_another_module",
            ),
            (
                "app::net::fetch::{{closure}}::{{closure}}::__markers_fn",
                "app::net",
                "fetch",
            ),
        ];
        for (ty, module, want) in cases {
            assert_eq!(qualified_name(ty, module), want, "{ty}");
        }
    }
}
