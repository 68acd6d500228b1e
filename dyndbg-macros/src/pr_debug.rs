//! `pr_debug!`: parse the options and the format, emit one static record.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{ParseStream, Parser};
use syn::{Ident, LitStr, Token};

/// What the macro was given.
struct Input {
    class: Option<LitStr>,
    format: LitStr,
    /// Everything after the format string, passed to `format_args!` as is.
    rest: TokenStream,
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match parse.parse2(input) {
        Ok(input) => emit(&input),
        Err(err) => err.to_compile_error(),
    }
}

fn parse(stream: ParseStream<'_>) -> syn::Result<Input> {
    let mut class: Option<LitStr> = None;
    while stream.peek(Ident) && stream.peek2(Token![=]) && !stream.peek2(Token![==]) {
        let key: Ident = stream.parse()?;
        stream.parse::<Token![=]>()?;
        if key != "class" {
            return Err(syn::Error::new(
                key.span(),
                format!(
                    "pr_debug!: unknown option `{key}`, expected `class = \"NAME\"` or a format string"
                ),
            ));
        }
        if class.is_some() {
            return Err(syn::Error::new(
                key.span(),
                "pr_debug!: `class` given twice",
            ));
        }
        let value: LitStr = stream.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "pr_debug!: class must be a string literal, e.g. class = \"NET\"",
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
                "pr_debug!: a class name must be non-empty, without spaces or wildcards",
            ));
        }
        class = Some(value);
        if stream.is_empty() {
            break;
        }
        stream.parse::<Token![,]>()?;
    }
    if stream.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            "pr_debug!: expected a format string",
        ));
    }
    let format: LitStr = stream.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "pr_debug!: the format string must be a string literal",
        )
    })?;
    let rest: TokenStream = stream.parse()?;
    Ok(Input {
        class,
        format,
        rest,
    })
}

fn emit(input: &Input) -> TokenStream {
    let Input {
        class,
        format,
        rest,
    } = input;
    let class = class
        .as_ref()
        .map_or_else(|| LitStr::new("", Span::call_site()), Clone::clone);
    let format_value = LitStr::new(&format.value(), format.span());
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
                    format: #format_value,
                    class: #class,
                    function: __dyndbg_fn,
                    line: ::dyndbg::__private::line!(),
                    default_flags: 0,
                });
        } { #format #rest })
    }
}
