//! `spec_macros::suite!(name)`: expands one spec suite into its generated tests.
//!
//! The spec data is found through `SPEC_ROOT`, which the root build script sets after
//! locating the pinned data (see `spec-data/README.md`); a malformed spec file becomes
//! a `compile_error!` naming the file and the JSON pointer of the offending value.

use std::path::PathBuf;

use proc_macro::TokenStream;
use quote::quote;

/// Expands to `pub mod <name> { ... }` with one test per case of the spec suite `name`
/// (a module path from `spec_codegen::suite::suites()`, e.g. `max_staleness` or
/// `server_discovery_and_monitoring::unified`).
#[proc_macro]
pub fn suite(input: TokenStream) -> TokenStream {
    let path = syn::parse_macro_input!(input as syn::Path);
    let name = path.segments.iter().map(|s| s.ident.to_string()).collect::<Vec<_>>().join("::");
    match expand(&name) {
        Ok(tokens) => tokens.into(),
        Err(message) => syn::Error::new_spanned(&path, message).to_compile_error().into(),
    }
}

fn expand(name: &str) -> Result<proc_macro2::TokenStream, String> {
    let suite = spec_codegen::suite::find(name).ok_or_else(|| {
        let known: Vec<&str> = spec_codegen::suite::suites().iter().map(|s| s.module).collect();
        format!("unknown spec suite `{name}`; known suites: {}", known.join(", "))
    })?;
    let (root, commit) = match (std::env::var_os("SPEC_ROOT"), std::env::var("SPEC_COMMIT")) {
        (Some(root), Ok(commit)) => (PathBuf::from(root), commit),
        _ => {
            let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
                .ok_or("CARGO_MANIFEST_DIR is not set: expand spec suites under cargo")?;
            let (pin, root) = spec_codegen::spec_data::locate_specifications(&PathBuf::from(manifest_dir))?;
            (root, pin.specifications.commit)
        }
    };
    let tests = spec_codegen::suite::generate(suite, &root).map_err(|e| e.to_string())?;
    let tokens = spec_codegen::suite::emit(suite, &tests, &commit);
    Ok(quote! { #tokens })
}
