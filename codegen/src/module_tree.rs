//! The module tree of one generated suite (`pub mod <suite> { … }`, one nested module per
//! segment of a test's path, one `#[test]` or `#[tokio::test]` per case), and its readable
//! copy formatted as Rust source.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::test_model::{GeneratedTest, Status, Suite};

#[derive(Default)]
struct Tree {
    children: BTreeMap<String, Tree>,
    tests: Vec<TokenStream>,
}

/// Emits `pub mod <suite> { ... }` holding the tests in nested modules (one `pub mod` per
/// segment of a nested module path).
pub fn emit(suite: &Suite, tests: &[GeneratedTest], spec_commit: &str) -> TokenStream {
    let mut root = Tree::default();
    for test in tests {
        let (name, dirs) = test.path.split_last().expect("a generated test has a name");
        let node = dirs.iter().fold(&mut root, |node, dir| node.children.entry(dir.clone()).or_default());
        node.tests.push(emit_test(name, test));
    }
    let doc = format!(
        " Generated from `source/{}/` of the driver specifications at commit {}.",
        suite.spec_dir, spec_commit
    );
    let mut segments = suite.module.rsplit("::");
    let innermost = format_ident!("{}", segments.next().unwrap_or(suite.module));
    let inner = emit_tree(&root);
    let mut tokens = quote! {
        #[doc = #doc]
        pub mod #innermost {
            #inner
        }
    };
    for outer in segments {
        let outer = format_ident!("{}", outer);
        tokens = quote! { pub mod #outer { #tokens } };
    }
    tokens
}

/// The file name (without extension) of a suite's readable copy: its module path with
/// `::` as `__`.
pub fn file_stem(suite: &Suite) -> String {
    suite.module.replace("::", "__")
}

fn emit_tree(tree: &Tree) -> TokenStream {
    let tests = &tree.tests;
    let modules = tree.children.iter().map(|(name, child)| {
        let ident = format_ident!("{}", name);
        let inner = emit_tree(child);
        quote! { pub mod #ident { #inner } }
    });
    quote! { #(#tests)* #(#modules)* }
}

fn emit_test(name: &str, test: &GeneratedTest) -> TokenStream {
    let ident = format_ident!("{}", name);
    let doc = match test.case_index {
        Some(i) => format!(" Spec file `{}`, case {}.", test.spec_file, i),
        None => format!(" Spec file `{}`.", test.spec_file),
    };
    let ignore = match &test.status {
        Status::Run => quote! {},
        Status::Ignored(reason) => quote! { #[ignore = #reason] },
    };
    let body = &test.body;
    if test.is_async {
        quote! {
            #[doc = #doc]
            #[tokio::test]
            #ignore
            async fn #ident() { #body }
        }
    } else {
        quote! {
            #[doc = #doc]
            #[test]
            #ignore
            fn #ident() { #body }
        }
    }
}

/// Formats generated tokens as Rust source (for the inspectable copy in `OUT_DIR`).
pub fn pretty(tokens: &TokenStream, header: &str) -> Result<String, String> {
    let file: syn::File =
        syn::parse2(tokens.clone()).map_err(|e| format!("generated code does not parse: {e}"))?;
    Ok(format!("{header}{}", prettyplease::unparse(&file)))
}
