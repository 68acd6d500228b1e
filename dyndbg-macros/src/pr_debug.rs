//! `pr_debug!`: parse the options, the key-values and the format, emit one
//! static record.
//!
//! The grammar (the `log` macros' forms, see `dyndbg::docs::migration`):
//!
//! ```text
//! pr_debug!( [option,]* [kv, kv, ... ;] format [, args]* )
//! option = class = "NAME" | target: "NAME"      (target is a synonym of class)
//! kv     = key | key = expr | key:? [= expr] | key:% [= expr]
//! format = "literal" | macro!(...) expanding to a literal (concat!, stringify!, ...)
//! ```

use std::fmt::Write as _;

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::{Expr, Ident, Lit, LitStr, Token};

/// How a key-value's value is shown.
#[derive(Clone, Copy)]
enum Show {
    /// `key = v`, `key:% = v`: `Display`.
    Display,
    /// `key:? = v`: `Debug`.
    Debug,
}

/// One `key = value` of the `log` form `debug!(a = 1; "msg")`.
struct KeyValue {
    key: Ident,
    show: Show,
    value: TokenStream,
}

/// What the macro was given.
struct Input {
    class: Option<LitStr>,
    key_values: Vec<KeyValue>,
    /// The format: a string literal or a macro call expanding to one, as
    /// written (passed both to `format_args!` and to the record).
    format: TokenStream,
    /// Everything after the format, passed to `format_args!` as is.
    rest: TokenStream,
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match parse.parse2(input) {
        Ok(input) => emit(&input),
        Err(err) => err.to_compile_error(),
    }
}

/// Whether the stream holds a `;` outside any group: the end of the
/// key-values.
fn has_top_level_semicolon(stream: ParseStream<'_>) -> bool {
    let mut cursor = stream.cursor();
    while let Some((tt, next)) = cursor.token_tree() {
        if let TokenTree::Punct(p) = &tt
            && p.as_char() == ';'
        {
            return true;
        }
        cursor = next;
    }
    false
}

fn parse(stream: ParseStream<'_>) -> syn::Result<Input> {
    let with_key_values = has_top_level_semicolon(stream);
    let mut class: Option<LitStr> = None;
    let mut key_values: Vec<KeyValue> = Vec::new();
    loop {
        if stream.peek(Token![;]) {
            if key_values.is_empty() {
                return Err(stream.error("pr_debug!: `;` ends key-values, but none were given"));
            }
            stream.parse::<Token![;]>()?;
            break;
        }
        let option = stream.peek(Ident)
            && ((stream.peek2(Token![=]) && !stream.peek2(Token![==]))
                || (stream.peek2(Token![:]) && !stream.peek2(Token![::]))
                || (with_key_values && (stream.peek2(Token![,]) || stream.peek2(Token![;]))));
        if !option {
            break;
        }
        let fork = stream.fork();
        let key: Ident = fork.call(Ident::parse_any)?;
        let is_class = key == "class" && fork.peek(Token![=]);
        let is_target = key == "target"
            && fork.peek(Token![:])
            && !fork.peek2(Token![?])
            && !fork.peek2(Token![%]);
        if is_class || is_target {
            parse_class(stream, &mut class)?;
        } else if with_key_values {
            key_values.push(parse_key_value(stream)?);
        } else {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "pr_debug!: unknown option `{key}`, expected `class = \"NAME\"`, \
                     `target: \"NAME\"` or key-values ended by `;` (`{key} = 1; \"message\"`)"
                ),
            ));
        }
        if stream.is_empty() {
            break;
        }
        if !stream.peek(Token![;]) {
            stream.parse::<Token![,]>()?;
        }
    }
    if stream.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "pr_debug!: expected a format string",
        ));
    }
    let mut format = TokenStream::new();
    while !stream.is_empty() && !stream.peek(Token![,]) {
        let tt: TokenTree = stream.parse()?;
        format.extend([tt]);
    }
    check_format(&format)?;
    let rest: TokenStream = stream.parse()?;
    Ok(Input {
        class,
        key_values,
        format,
        rest,
    })
}

/// `class = "NAME"` or `target: "NAME"`.
fn parse_class(stream: ParseStream<'_>, class: &mut Option<LitStr>) -> syn::Result<()> {
    let key: Ident = stream.parse()?;
    if key == "class" {
        stream.parse::<Token![=]>()?;
    } else {
        stream.parse::<Token![:]>()?;
    }
    if class.is_some() {
        return Err(syn::Error::new(
            key.span(),
            "pr_debug!: `class` given twice (`target:` is a synonym of `class`)",
        ));
    }
    let value: LitStr = stream.parse().map_err(|e| {
        let example = if key == "class" {
            "class = \"NET\""
        } else {
            "target: \"net\""
        };
        syn::Error::new(
            e.span(),
            format!("pr_debug!: {key} must be a string literal, e.g. {example}"),
        )
    })?;
    let name = value.value();
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '*' || c == '?')
    {
        return Err(syn::Error::new(
            value.span(),
            format!("pr_debug!: a {key} name must be non-empty, without spaces or wildcards"),
        ));
    }
    *class = Some(value);
    Ok(())
}

/// `key`, `key = v`, `key:? = v`, `key:% = v`, `key:?`, `key:%`.
fn parse_key_value(stream: ParseStream<'_>) -> syn::Result<KeyValue> {
    let key: Ident = stream.call(Ident::parse_any)?;
    let mut show = Show::Display;
    if stream.peek(Token![:]) {
        stream.parse::<Token![:]>()?;
        if stream.peek(Token![?]) {
            stream.parse::<Token![?]>()?;
            show = Show::Debug;
        } else if stream.peek(Token![%]) {
            stream.parse::<Token![%]>()?;
        } else {
            return Err(stream.error(format!(
                "pr_debug!: key `{key}`: expected `{key}:? = value` (Debug) or \
                 `{key}:% = value` (Display)"
            )));
        }
    }
    let value = if stream.peek(Token![=]) {
        stream.parse::<Token![=]>()?;
        let value: Expr = stream.parse()?;
        value.into_token_stream()
    } else {
        key.to_token_stream()
    };
    Ok(KeyValue { key, show, value })
}

/// A format `format_args!` can take: a string literal, or a macro call that
/// expands to one, possibly inside the invisible group of a `macro_rules!`
/// `$fmt:expr`.
fn check_format(format: &TokenStream) -> syn::Result<()> {
    let tokens: Vec<TokenTree> = format.clone().into_iter().collect();
    let ok = match tokens.as_slice() {
        [TokenTree::Group(g)] if g.delimiter() == Delimiter::None => {
            return check_format(&g.stream()).map_err(|_| error_at(format));
        }
        [TokenTree::Literal(_)] => matches!(syn::parse2::<Lit>(format.clone()), Ok(Lit::Str(_))),
        [.., TokenTree::Punct(bang), TokenTree::Group(_)] if bang.as_char() == '!' => {
            syn::parse2::<syn::ExprMacro>(format.clone()).is_ok()
        }
        _ => false,
    };
    if ok { Ok(()) } else { Err(error_at(format)) }
}

fn error_at(format: &TokenStream) -> syn::Error {
    syn::Error::new_spanned(
        format,
        "pr_debug!: the format must be a string literal or a macro call that expands to one \
         (concat!, stringify!, ...), as for format_args!",
    )
}

fn emit(input: &Input) -> TokenStream {
    let Input {
        class,
        key_values,
        format,
        rest,
    } = input;
    let class = class
        .as_ref()
        .map_or_else(|| LitStr::new("", Span::call_site()), Clone::clone);
    // The message, then ` key=value` per key-value (log's `k=v`), all
    // inside the one `format_args!` the fast path guards: a disabled
    // callsite evaluates no value.
    let args = if key_values.is_empty() {
        quote!(#format #rest)
    } else {
        let mut outer = String::from("{}");
        for kv in key_values {
            let spec = match kv.show {
                Show::Display => "{}",
                Show::Debug => "{:?}",
            };
            let _ = write!(outer, " {}={spec}", kv.key.unraw());
        }
        let values = key_values.iter().map(|kv| &kv.value);
        quote!(#outer, ::dyndbg::__private::format_args!(#format #rest) #(, #values)*)
    };
    quote! {
        ::dyndbg::__private::callsite!(__DYNDBG_CALLSITE {
            fn __dyndbg_fn() -> &'static str {
                ::dyndbg::__private::type_name_of_val(&__dyndbg_fn)
            }
            #[::dyndbg::__private::linkme::distributed_slice(::dyndbg::__private::CALLSITES)]
            #[linkme(crate = ::dyndbg::__private::linkme)]
            static __DYNDBG_CALLSITE: ::dyndbg::__private::Callsite =
                ::dyndbg::__private::Callsite::private_new(&::dyndbg::__private::Body {
                    module: ::dyndbg::__private::module_path!(),
                    file: ::dyndbg::__private::file!(),
                    format: #format,
                    class: #class,
                    function: __dyndbg_fn,
                    line: ::dyndbg::__private::line!(),
                    default_flags: 0,
                });
        } { #args })
    }
}
