//! `marker!`: parse the name and the typed arguments, emit one static site
//! and the flag check; `#[marker_fn]` (in `marker/function.rs`) places two.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Ident, Token, Type};

pub(crate) mod function;

/// The most arguments a site takes (markers' `MAX_ARGS`: tuples with `Args`).
const MAX_ARGS: usize = 12;

/// How an argument reaches the probes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// By value: the tuple holds the type as written.
    Val,
    /// `&T`: the tuple holds `Ref<T>`.
    Ref,
    /// Seen only through `Debug`: the tuple holds `DebugArg`.
    Dbg,
}

impl Kind {
    fn ident(self) -> Ident {
        Ident::new(
            match self {
                Kind::Val => "val",
                Kind::Ref => "ref",
                Kind::Dbg => "dbg",
            },
            Span::call_site(),
        )
    }
}

/// One argument of a site, ready to emit.
pub(crate) struct Arg {
    pub(crate) name: Ident,
    /// The type as written, for the signature string.
    pub(crate) written: Type,
    /// The type of the local the value is bound to (checked with the user's spans).
    pub(crate) binding: TokenStream,
    /// The value bound.
    pub(crate) expr: TokenStream,
    /// The element of the argument tuple.
    pub(crate) tuple: TokenStream,
    pub(crate) kind: Kind,
}

/// Everything a site needs.
pub(crate) struct SiteSpec {
    pub(crate) name: String,
    pub(crate) args: Vec<Arg>,
    /// The span `line!()` takes its line from.
    pub(crate) span: Span,
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match parse.parse2(input) {
        Ok(spec) => emit(&spec),
        Err(err) => err.to_compile_error(),
    }
}

fn parse(stream: ParseStream<'_>) -> syn::Result<SiteSpec> {
    const USAGE: &str = "expected a marker name, e.g. `marker!(net_rx, len: usize = buf.len())`";
    if stream.is_empty() {
        return Err(syn::Error::new(
            Span::call_site(),
            format!("marker!: {USAGE}"),
        ));
    }
    let name: Ident = stream
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("marker!: {USAGE}")))?;
    let mut args: Vec<Arg> = Vec::new();
    let mut errors: Option<syn::Error> = None;
    while !stream.is_empty() {
        stream.parse::<Token![,]>()?;
        if stream.is_empty() {
            break;
        }
        let arg_name: Ident = stream.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "marker!: expected an argument `name: Type = expr` or `name: Type`",
            )
        })?;
        if !stream.peek(Token![:]) {
            return Err(syn::Error::new(
                arg_name.span(),
                format!(
                    "marker!: argument `{arg_name}` needs a type: `{arg_name}: Type = expr`, \
                     or `{arg_name}: Type` for a variable of that name"
                ),
            ));
        }
        stream.parse::<Token![:]>()?;
        let ty: Type = stream.parse()?;
        let expr: TokenStream = if stream.peek(Token![=]) {
            stream.parse::<Token![=]>()?;
            let expr: Expr = stream.parse()?;
            quote!(#expr)
        } else {
            quote!(#arg_name)
        };
        if args.iter().any(|a| a.name == arg_name) {
            combine(
                &mut errors,
                syn::Error::new(
                    arg_name.span(),
                    format!("marker!: argument `{arg_name}` given twice"),
                ),
            );
            continue;
        }
        match classify(&ty, None) {
            Ok(kind) => args.push(arg(arg_name, ty, kind, expr, false)),
            Err(message) => combine(
                &mut errors,
                syn::Error::new(
                    ty.span(),
                    format!("marker!: argument `{arg_name}`: {message}"),
                ),
            ),
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    if args.len() > MAX_ARGS {
        return Err(syn::Error::new(
            args[MAX_ARGS].name.span(),
            format!("marker!: at most {MAX_ARGS} arguments, got {}", args.len()),
        ));
    }
    Ok(SiteSpec {
        name: name.to_string(),
        args,
        span: name.span(),
    })
}

fn combine(errors: &mut Option<syn::Error>, error: syn::Error) {
    match errors {
        Some(errors) => errors.combine(error),
        None => *errors = Some(error),
    }
}

/// Builds an argument of `kind` from its value. With `borrow`, `expr` is a
/// place the site must borrow (a function's argument) rather than a value.
pub(crate) fn arg(name: Ident, ty: Type, kind: Kind, expr: TokenStream, borrow: bool) -> Arg {
    let span = ty.span();
    let (binding, expr, tuple) = match kind {
        Kind::Val => (quote!(#ty), expr, quote!(#ty)),
        Kind::Ref => {
            let (referent, expr) = match &ty {
                Type::Reference(r) if borrow => (r.elem.as_ref().clone(), quote!(&*#expr)),
                Type::Reference(r) => (r.elem.as_ref().clone(), expr),
                _ => (ty.clone(), quote!(&#expr)),
            };
            (
                quote_spanned!(span=> &#referent),
                expr,
                quote_spanned!(span=> ::markers::__private::Ref<#referent>),
            )
        }
        Kind::Dbg => {
            let expr = if borrow { quote!(&#expr) } else { expr };
            (
                quote_spanned!(span=> &dyn ::markers::__private::Debug),
                expr,
                quote!(::markers::__private::DebugArg),
            )
        }
    };
    Arg {
        name,
        written: ty,
        binding,
        expr,
        tuple,
        kind,
    }
}

/// Decides how a type reaches the probes. `generics` are the type
/// parameters in scope of a function (`None` for a `marker!`); a type naming
/// one, `Self`, `impl Trait` or a borrowed lifetime is seen through `Debug`
/// in a function, and refused in a `marker!`.
pub(crate) fn classify(ty: &Type, generics: Option<&[Ident]>) -> Result<Kind, String> {
    let lenient = generics.is_some();
    let (top_ref, inner) = match ty {
        Type::Reference(r) => (true, r.elem.as_ref()),
        Type::Paren(p) => return classify(&p.elem, generics),
        other => (false, other),
    };
    if top_ref && matches!(inner, Type::TraitObject(_)) {
        return Ok(Kind::Dbg);
    }
    let mut check = Check {
        generics: generics.unwrap_or_default(),
        problem: None,
    };
    check.visit_type(inner);
    if let Some(problem) = check.problem {
        return if lenient {
            Ok(Kind::Dbg)
        } else {
            Err(format!(
                "`{}` {problem}; marker arguments are 'static types, `&T` (seen as \
                 `markers::Ref<T>`) or `&dyn Debug`",
                type_string(ty)
            ))
        };
    }
    if top_ref {
        Ok(Kind::Ref)
    } else if lenient && !is_copy_primitive(inner) {
        // A function's owned argument: borrowed by the site, not moved.
        Ok(Kind::Ref)
    } else {
        Ok(Kind::Val)
    }
}

fn is_copy_primitive(ty: &Type) -> bool {
    const PRIMITIVES: [&str; 17] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "bool", "char", "()",
    ];
    match ty {
        Type::Tuple(t) => t.elems.is_empty(),
        Type::Path(p) => {
            p.qself.is_none()
                && p.path
                    .get_ident()
                    .is_some_and(|i| PRIMITIVES.contains(&i.to_string().as_str()))
        }
        _ => false,
    }
}

/// Finds what keeps a type from being named in a `'static` tuple.
struct Check<'a> {
    generics: &'a [Ident],
    problem: Option<String>,
}

impl<'ast> Visit<'ast> for Check<'_> {
    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        if lifetime.ident != "static" {
            self.problem
                .get_or_insert_with(|| format!("borrows for `{lifetime}`"));
        }
    }
    fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
        if r.lifetime.is_none() {
            self.problem
                .get_or_insert_with(|| "holds a borrowed reference".to_owned());
        }
        syn::visit::visit_type_reference(self, r);
    }
    fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
        self.problem
            .get_or_insert_with(|| "is an `impl Trait` type".to_owned());
    }
    fn visit_type_infer(&mut self, _: &'ast syn::TypeInfer) {
        self.problem
            .get_or_insert_with(|| "is not a written type".to_owned());
    }
    fn visit_type_trait_object(&mut self, _: &'ast syn::TypeTraitObject) {
        self.problem
            .get_or_insert_with(|| "is a trait object".to_owned());
    }
    fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
        if p.qself.is_none()
            && let Some(first) = p.path.segments.first()
            && (first.ident == "Self" || self.generics.contains(&first.ident))
        {
            self.problem
                .get_or_insert_with(|| format!("names the type parameter `{}`", first.ident));
        }
        syn::visit::visit_type_path(self, p);
    }
}

/// `& 'static str` -> `&'static str`: the signature as a reader writes it.
pub(crate) fn type_string(ty: &Type) -> String {
    let raw = quote!(#ty).to_string();
    let mut out = raw;
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        ("& ", "&"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        ("' ", "'"),
    ] {
        out = out.replace(from, to);
    }
    out
}

/// The site: the static, then the flag check guarding the arguments.
pub(crate) fn emit(spec: &SiteSpec) -> TokenStream {
    let name = &spec.name;
    let signature = spec
        .args
        .iter()
        .map(|a| format!("{}: {}", a.name, type_string(&a.written)))
        .collect::<Vec<_>>()
        .join(", ");
    let arg_names: Vec<String> = spec.args.iter().map(|a| a.name.to_string()).collect();
    let tuple: Vec<&TokenStream> = spec.args.iter().map(|a| &a.tuple).collect();
    let locals: Vec<Ident> = (0..spec.args.len())
        .map(|i| format_ident!("__markers_arg{}", i, span = Span::mixed_site()))
        .collect();
    let binds = spec.args.iter().zip(&locals).map(|(a, local)| {
        let (binding, expr) = (&a.binding, &a.expr);
        quote!(let #local: #binding = #expr;)
    });
    let kinds = spec.args.iter().map(|a| a.kind.ident());
    // Each argument's bounds, checked at its own type (not at the macro).
    let checks = spec.args.iter().map(|a| {
        let tuple = &a.tuple;
        quote_spanned!(a.written.span()=> ::markers::__private::assert_arg::<#tuple>();)
    });
    let line = quote_spanned!(spec.span=> ::markers::__private::line!());
    quote! {
        ::markers::__private::site!(__MARKERS_SITE {
            const _: fn() = || { #(#checks)* };
            fn __markers_fn() -> &'static str {
                ::markers::__private::type_name_of_val(&__markers_fn)
            }
            #[::markers::__private::linkme::distributed_slice(::markers::__private::MARKERS_SITES_0_1)]
            #[linkme(crate = ::markers::__private::linkme)]
            static __MARKERS_SITE: ::markers::__private::Site =
                ::markers::__private::Site::private_new(&::markers::__private::SiteMeta {
                    name: #name,
                    signature: #signature,
                    arg_names: &[#(#arg_names),*],
                    module: ::markers::__private::module_path!(),
                    file: ::markers::__private::file!(),
                    line: #line,
                    function: __markers_fn,
                    args_type: ::markers::__private::type_id_of::<(#(#tuple,)*)>,
                    args_type_name: ::markers::__private::type_name::<(#(#tuple,)*)>,
                });
        } { #(#binds)* } (#(#kinds #locals),*))
    }
}
