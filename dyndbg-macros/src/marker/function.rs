//! `#[marker_fn]`: a marker `<fn>_entry` with the function's arguments and
//! a marker `<fn>_return` with its return value.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::{FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Token, Type};

use super::{Arg, Kind, MAX_ARGS, SiteSpec, arg, classify, emit};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let result = syn::parse2::<ItemFn>(item.clone())
        .and_then(|function| parse_options.parse2(attr).map(|name| (function, name)))
        .and_then(|(function, name)| instrument(function, name));
    match result {
        Ok(tokens) => tokens,
        Err(err) => {
            // Keep the item, so that the rest of the crate still sees it.
            let mut out = err.to_compile_error();
            out.extend(item);
            out
        }
    }
}

/// `name = ident`, or nothing.
fn parse_options(stream: ParseStream<'_>) -> syn::Result<Option<Ident>> {
    if stream.is_empty() {
        return Ok(None);
    }
    let key: Ident = stream.parse()?;
    if key != "name" {
        return Err(syn::Error::new(
            key.span(),
            format!("marker_fn: unknown option `{key}`, expected `name = marker_base_name`"),
        ));
    }
    stream.parse::<Token![=]>()?;
    let name: Ident = stream.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "marker_fn: `name` takes an identifier, e.g. `name = net_parse`",
        )
    })?;
    if !stream.is_empty() {
        return Err(stream.error("marker_fn: unexpected tokens after `name = ...`"));
    }
    Ok(Some(name))
}

fn instrument(function: ItemFn, name: Option<Ident>) -> syn::Result<TokenStream> {
    let sig = &function.sig;
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new(
            asyncness.span(),
            "marker_fn: async fn is not supported (the return marker would fire at the first poll)",
        ));
    }
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            "marker_fn: const fn is not supported (a marker reads an atomic at runtime)",
        ));
    }
    let generics: Vec<Ident> = sig
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.clone()),
            _ => None,
        })
        .collect();
    let base = name.unwrap_or_else(|| sig.ident.clone());
    let span = sig.ident.span();

    let mut args: Vec<Arg> = Vec::new();
    for input in &sig.inputs {
        let FnArg::Typed(typed) = input else {
            continue; // the receiver is not passed
        };
        let ident = match typed.pat.as_ref() {
            Pat::Ident(p) if p.by_ref.is_none() && p.subpat.is_none() => p.ident.clone(),
            Pat::Wild(_) => continue,
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "marker_fn: only arguments bound to a name are supported, e.g. `point: Point`",
                ));
            }
        };
        let ty = typed.ty.as_ref().clone();
        let kind = classify(&ty, Some(&generics)).unwrap_or(Kind::Dbg);
        let expr = ident.to_token_stream();
        args.push(arg(ident, ty, kind, expr, true));
    }
    if args.len() > MAX_ARGS {
        return Err(syn::Error::new(
            span,
            format!(
                "marker_fn: at most {MAX_ARGS} arguments, got {}",
                args.len()
            ),
        ));
    }
    let entry = emit(&SiteSpec {
        name: format!("{base}_entry"),
        args,
        span,
    });

    let ret = Ident::new("__markers_ret", Span::mixed_site());
    let (ret_ty, annotated): (Type, bool) = match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), true),
        ReturnType::Type(_, ty) => {
            let annotated = !matches!(**ty, Type::Never(_)) && !mentions_impl(ty);
            (ty.as_ref().clone(), annotated)
        }
    };
    let never = matches!(ret_ty, Type::Never(_));
    let ret_kind = classify(&ret_ty, Some(&generics)).unwrap_or(Kind::Dbg);
    let exit = emit(&SiteSpec {
        name: format!("{base}_return"),
        args: vec![arg(
            Ident::new("ret", span),
            ret_ty.clone(),
            ret_kind,
            ret.to_token_stream(),
            true,
        )],
        span,
    });

    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    let annotation = annotated.then(|| quote!(: #ret_ty));
    let body = if never {
        quote!({ #entry; #block })
    } else {
        quote!({
            #entry;
            #[allow(clippy::redundant_closure_call)]
            let #ret #annotation = (|| #block)();
            #exit;
            #ret
        })
    };
    Ok(quote!(#(#attrs)* #vis #sig #body))
}

fn mentions_impl(ty: &Type) -> bool {
    struct Find(bool);
    impl<'ast> syn::visit::Visit<'ast> for Find {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
    }
    let mut find = Find(false);
    syn::visit::Visit::visit_type(&mut find, ty);
    find.0
}
