//! Emits the driver's command builders from IDL `commands` and the generic-arguments struct.
//!
//! The emitted code expects, where it is included, the items of the driver's
//! `commands` module: the `Command` trait, `OpMsgParts`, and the checks `bound_error` and
//! `check_stable_api`.

use std::collections::HashSet;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use super::IdlSet;
use super::commands::idl_error;
pub use super::commands::{Builder, Field, FirstElement, Reply, builders, generic_fields, replies};
use super::types::RustType;
use crate::error::SpecError;
use crate::naming;

/// What was generated.
#[derive(Debug)]
pub struct Generated {
    /// Every item: the generic-arguments struct and trait, and the builders.
    pub all: TokenStream,
    /// Each builder's items alone, by command name.
    pub per_command: Vec<(String, TokenStream)>,
    /// The builders.
    pub builders: Vec<Builder>,
    /// The generic arguments' fields.
    pub generic_fields: Vec<Field>,
    /// Wanted commands that no loaded IDL file defines.
    pub without_idl: Vec<String>,
    /// The reply structs.
    pub replies: Vec<Reply>,
    /// Reply types the builders name that no loaded IDL file defines.
    pub replies_without_idl: Vec<String>,
}

/// The setter parameter type, and whether the value goes through `Into`.
fn param(rust: &RustType) -> (TokenStream, bool) {
    match rust {
        RustType::String => (quote!(impl Into<String>), true),
        RustType::Bson => (quote!(impl Into<bson::Bson>), true),
        other => (other.tokens(), false),
    }
}

/// One `#[doc]` attribute per line, so the formatted source shows `///` comments.
fn doc_attrs(text: &str) -> TokenStream {
    let lines = text.lines().map(|l| if l.is_empty() { String::new() } else { format!(" {l}") });
    quote!(#(#[doc = #lines])*)
}

fn field_doc(f: &Field) -> String {
    let mut doc = if f.description.is_empty() { format!("`{}`.", f.wire) } else { f.description.clone() };
    doc.push_str(&format!("\n\nSent as `{}` ({}); stability: {}.", f.wire, f.rust, f.stability));
    if let Some(d) = &f.default {
        doc.push_str(&format!(" The server's default when unset: `{d}`."));
    }
    if let Some(cb) = &f.validator.callback {
        doc.push_str(&format!(" The server also checks it with `{cb}`."));
    }
    doc
}

fn bound_checks(command: &TokenStream, f: &Field, value: TokenStream) -> TokenStream {
    let wire = &f.wire;
    let v = &f.validator;
    let checks =
        [(">=", v.gte), (">", v.gt), ("<=", v.lte), ("<", v.lt)].into_iter().filter_map(|(op, lim)| {
            let lim = lim?;
            // The condition under which the value fails the bound.
            let fails = match op {
                ">=" => quote!(value < #lim),
                ">" => quote!(value <= #lim),
                "<=" => quote!(value > #lim),
                _ => quote!(value >= #lim),
            };
            Some(quote! {
                if #fails { return Err(bound_error(#command, #wire, #op, #lim, value)); }
            })
        });
    quote! { { let value = #value as f64; #(#checks)* } }
}

/// Setter, serialization, validation and strict-API pieces for a field list.
struct Pieces {
    members: Vec<TokenStream>,
    setters: Vec<TokenStream>,
    serialize: Vec<TokenStream>,
    validate: Vec<TokenStream>,
    strict: Vec<TokenStream>,
}

/// `public`: whether the members are `pub` (the generic arguments' are, so the executor can
/// read and set them in place).
fn pieces(command: TokenStream, fields: &[Field], receiver: TokenStream, public: bool) -> Pieces {
    let vis = if public { quote!(pub) } else { quote!() };
    let mut p =
        Pieces { members: vec![], setters: vec![], serialize: vec![], validate: vec![], strict: vec![] };
    for f in fields {
        let ident = Ident::new(&f.ident, Span::call_site());
        let ty = f.rust.tokens();
        let wire = &f.wire;
        let doc = doc_attrs(&field_doc(f));
        let bounded = f.validator.gte.is_some()
            || f.validator.gt.is_some()
            || f.validator.lte.is_some()
            || f.validator.lt.is_some();
        // Only fields the IDL marks `unstable` (or `internal`) are outside the Stable API; a
        // field without `stability` belongs to a command outside the API, which the server
        // itself rejects under `apiStrict` (versioned-api spec tests expect it sent).
        let non_stable = f.stability != "stable" && f.stability != "unspecified";
        let stability = &f.stability;
        if f.required {
            p.members.push(quote!(#doc #vis #ident: #ty));
            let value =
                if f.rust.is_copy() { quote!(#receiver.#ident) } else { quote!(#receiver.#ident.clone()) };
            if f.doc_sequence {
                p.serialize.push(quote! {
                    if doc_sequences { sequences.push((#wire.to_string(), #value)); }
                    else { body.insert(#wire, #value); }
                });
            } else {
                p.serialize.push(quote!(body.insert(#wire, #value);));
            }
            if bounded {
                p.validate.push(bound_checks(&command, f, quote!(#receiver.#ident)));
            }
            if non_stable {
                p.strict.push(quote!((true, #wire, #stability)));
            }
        } else {
            let (param_ty, into) = param(&f.rust);
            let conv = if into { quote!(value.into()) } else { quote!(value) };
            p.members.push(quote!(#doc #vis #ident: Option<#ty>));
            p.setters.push(quote! {
                #doc
                pub fn #ident(mut self, value: #param_ty) -> Self { self.#ident = Some(#conv); self }
            });
            if f.doc_sequence {
                p.serialize.push(quote! {
                    if let Some(value) = &#receiver.#ident {
                        if doc_sequences { sequences.push((#wire.to_string(), value.clone())); }
                        else { body.insert(#wire, value.clone()); }
                    }
                });
            } else {
                p.serialize.push({
                    let value = if f.rust.is_copy() { quote!(*value) } else { quote!(value.clone()) };
                    quote!(if let Some(value) = &#receiver.#ident { body.insert(#wire, #value); })
                });
            }
            if bounded {
                let check = bound_checks(&command, f, quote!(*value));
                p.validate.push(quote!(if let Some(value) = &#receiver.#ident #check));
            }
            if non_stable {
                p.strict.push(quote!((#receiver.#ident.is_some(), #wire, #stability)));
            }
        }
    }
    p
}

fn emit_builder(b: &Builder) -> TokenStream {
    let ty = format_ident!("{}", b.type_name);
    let name = &b.name;
    let first_arg = format_ident!("{}", naming::ident(name));
    let P { members, setters, serialize, validate, strict } = {
        let p = pieces(quote!(#name), &b.fields, quote!(self), false);
        P {
            members: p.members,
            setters: p.setters,
            serialize: p.serialize,
            validate: p.validate,
            strict: p.strict,
        }
    };
    struct P {
        members: Vec<TokenStream>,
        setters: Vec<TokenStream>,
        serialize: Vec<TokenStream>,
        validate: Vec<TokenStream>,
        strict: Vec<TokenStream>,
    }
    let (first_member, first_param, first_init, first_value) = match &b.first {
        FirstElement::Collection | FirstElement::CollectionOrUuid => (
            quote!(#[doc = " The first element's value: the collection name."] collection: bson::Bson,),
            quote!(collection: impl Into<String>,),
            quote!(collection: bson::Bson::String(collection.into()),),
            quote!(self.collection.clone()),
        ),
        FirstElement::Ignored => (quote!(), quote!(), quote!(), quote!(1i32)),
        FirstElement::Value(rust) => {
            let t = rust.tokens();
            (
                quote!(#[doc = " The first element's value."] #first_arg: #t,),
                quote!(#first_arg: #t,),
                quote!(#first_arg,),
                if rust.is_copy() { quote!(self.#first_arg) } else { quote!(self.#first_arg.clone()) },
            )
        }
    };
    let required: Vec<&Field> = b.fields.iter().filter(|f| f.required).collect();
    let req_params = required.iter().map(|f| {
        let ident = Ident::new(&f.ident, Span::call_site());
        let (pty, _) = param(&f.rust);
        quote!(#ident: #pty)
    });
    let req_inits = required.iter().map(|f| {
        let ident = Ident::new(&f.ident, Span::call_site());
        if param(&f.rust).1 { quote!(#ident: #ident.into()) } else { quote!(#ident) }
    });
    let opt_inits = b.fields.iter().filter(|f| !f.required).map(|f| {
        let ident = Ident::new(&f.ident, Span::call_site());
        quote!(#ident: None)
    });
    let first_doc = match &b.first {
        FirstElement::Collection => "the collection name (`concatenate_with_db`)".to_string(),
        FirstElement::CollectionOrUuid => "the collection name (`concatenate_with_db_or_uuid`)".to_string(),
        FirstElement::Ignored => "`1` (`namespace: ignored`)".to_string(),
        FirstElement::Value(r) => format!("a {r} (`namespace: type`)"),
    };
    let mut doc =
        if b.description.is_empty() { format!("The `{name}` command.") } else { b.description.clone() };
    doc.push_str(&format!(
        "\n\nBuilds the `{name}` command from the server IDL (`{}` in `{}`). The first element is \
         `{name}`, holding {first_doc}; `$db` is the database given to `new`.",
        b.origin.pointer, b.origin.file
    ));
    if let Some(alias) = &b.alias {
        doc.push_str(&format!(" The server also accepts the spelling `{alias}`."));
    }
    if let Some(reply) = &b.reply_type {
        doc.push_str(&format!(" The reply is the IDL struct `{reply}`."));
    }
    let api_version = &b.api_version;
    let new_doc = doc_attrs(&format!("A `{name}` command on database `db`."));
    let doc = doc_attrs(&doc);
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq)]
        pub struct #ty {
            /// The database (`$db`).
            db: String,
            #first_member
            #(#members,)*
            /// The generic arguments.
            generic: GenericArguments,
        }

        impl #ty {
            /// The Stable API version the command belongs to (`""`: none).
            pub const API_VERSION: &'static str = #api_version;

            #new_doc
            pub fn new(db: impl Into<String>, #first_param #(#req_params),*) -> Self {
                Self {
                    db: db.into(),
                    #first_init
                    #(#req_inits,)*
                    #(#opt_inits,)*
                    generic: GenericArguments::default(),
                }
            }

            #(#setters)*
        }

        impl Command for #ty {
            const NAME: &'static str = #name;

            fn db(&self) -> &str { &self.db }

            fn generic_arguments(&self) -> &GenericArguments { &self.generic }

            fn generic_arguments_mut(&mut self) -> &mut GenericArguments { &mut self.generic }

            fn validate(&self) -> crate::Result<()> {
                #(#validate)*
                self.generic.validate(#name)?;
                check_stable_api(#name, self.generic.is_api_strict(), &[#(#strict),*])
            }

            fn serialize(&self, doc_sequences: bool) -> crate::Result<OpMsgParts> {
                self.validate()?;
                let mut body = bson::Document::new();
                #[allow(unused_mut)]
                let mut sequences: Vec<(String, Vec<bson::Document>)> = Vec::new();
                let _ = doc_sequences;
                body.insert(#name, #first_value);
                #(#serialize)*
                self.generic.append_to(&mut body);
                body.insert("$db", self.db.clone());
                Ok(OpMsgParts { body, sequences })
            }
        }
    }
}

fn emit_generic(fields: &[Field]) -> TokenStream {
    let p = pieces(quote!(command), fields, quote!(self), true);
    let Pieces { members, setters, serialize, validate, strict } = p;

    let trait_setters = fields.iter().filter(|f| !f.required).map(|f| {
        let ident = Ident::new(&f.ident, Span::call_site());
        let (pty, _) = param(&f.rust);
        let doc = doc_attrs(&field_doc(f));
        quote! {
            #doc
            fn #ident(mut self, value: #pty) -> Self where Self: Sized {
                let args = std::mem::take(self.generic_arguments_mut());
                *self.generic_arguments_mut() = args.#ident(value);
                self
            }
        }
    });
    let api_strict =
        fields.iter().find(|f| f.wire == "apiStrict").map(|f| Ident::new(&f.ident, Span::call_site()));
    let is_strict = match api_strict {
        Some(id) => quote!(self.#id == Some(true)),
        None => quote!(false),
    };
    quote! {
        /// The generic command arguments (the IDL struct `GenericArguments`), attachable to
        /// any command: session, transaction, cluster time, read/write concern, read
        /// preference, Stable API, `maxTimeMS`, `comment`, ….
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct GenericArguments {
            #(#members,)*
        }

        impl GenericArguments {
            /// No generic arguments.
            pub fn new() -> Self { Self::default() }

            #(#setters)*

            /// Whether `apiStrict: true` is set.
            pub fn is_api_strict(&self) -> bool { #is_strict }

            /// Checks the arguments' validators, and the Stable API for them, for `command`.
            pub fn validate(&self, command: &str) -> crate::Result<()> {
                #(#validate)*
                check_stable_api(command, self.is_api_strict(), &[#(#strict),*])
            }

            /// Appends the set arguments to a command body, in IDL order.
            pub fn append_to(&self, body: &mut bson::Document) {
                let doc_sequences = false;
                let _ = doc_sequences;
                #(#serialize)*
            }
        }

        /// Chainable setters for the generic arguments of any command builder.
        pub trait WithGenericArguments: Command {
            #(#trait_setters)*
        }

        impl<T: Command> WithGenericArguments for T {}
    }
}

fn emit_reply(r: &Reply) -> TokenStream {
    let ty = format_ident!("{}", r.name);
    let name = &r.name;
    let members = r.fields.iter().map(|f| {
        let ident = Ident::new(&f.ident, Span::call_site());
        let t = f.rust.tokens();
        let doc = doc_attrs(&field_doc(f));
        if f.required { quote!(#doc pub #ident: #t) } else { quote!(#doc pub #ident: Option<#t>) }
    });
    let parses = r.fields.iter().map(|f| {
        let ident = Ident::new(&f.ident, Span::call_site());
        let wire = &f.wire;
        if f.required {
            quote!(#ident: required_reply_field(doc, #name, #wire)?)
        } else {
            quote!(#ident: reply_field(doc, #name, #wire)?)
        }
    });
    let mut doc =
        if r.description.is_empty() { format!("The IDL struct `{name}`.") } else { r.description.clone() };
    doc.push_str(&format!(
        "\n\nA reply shape from the server IDL (`{}` in `{}`). Parsing ignores fields it does not \
         know (generic reply fields such as `ok` and `$clusterTime` are read elsewhere).",
        r.origin.pointer, r.origin.file
    ));
    let doc = doc_attrs(&doc);
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq)]
        pub struct #ty {
            #(#members,)*
        }

        impl #ty {
            /// Parses the reply document; an error names the struct and the field.
            pub fn from_document(doc: &bson::Document) -> crate::Result<Self> {
                let _ = doc;
                Ok(Self { #(#parses,)* })
            }
        }

        impl FromBson for #ty {
            fn from_bson(value: &bson::Bson) -> std::result::Result<Self, String> {
                match value {
                    bson::Bson::Document(doc) => Self::from_document(doc).map_err(|e| e.to_string()),
                    other => Err(format!("expected a document, got {:?}", other.element_type())),
                }
            }
        }
    }
}

/// Emits the generic arguments and the builders for `wanted` commands.
pub fn generate(set: &IdlSet, wanted: &[&str], generic_struct: &str) -> Result<Generated, SpecError> {
    let generic_fields = generic_fields(set, generic_struct)?;
    let (builders, without_idl) = builders(set, wanted)?;
    let generic_wires: HashSet<&str> = generic_fields.iter().map(|f| f.wire.as_str()).collect();
    for b in &builders {
        if let Some(f) = b.fields.iter().find(|f| generic_wires.contains(f.wire.as_str())) {
            return Err(idl_error(
                set,
                &f.origin,
                f.origin.pointer.clone(),
                format!("field `{}` of `{}` is also a generic argument", f.wire, b.name),
            ));
        }
    }
    let per_command: Vec<(String, TokenStream)> =
        builders.iter().map(|b| (b.name.clone(), emit_builder(b))).collect();
    let (replies, replies_without_idl) = replies(set, &builders)?;
    let reply_items = replies.iter().map(emit_reply);
    let generic = emit_generic(&generic_fields);
    let items = per_command.iter().map(|(_, t)| t);
    let names = builders.iter().map(|b| b.name.as_str());
    let missing = without_idl.iter().map(String::as_str);
    let all = quote! {
        #generic
        #(#items)*
        #(#reply_items)*

        /// The commands with a generated builder.
        pub const GENERATED_COMMANDS: &[&str] = &[#(#names),*];
        /// Commands the driver sends that no IDL file in the server data defines.
        pub const COMMANDS_WITHOUT_IDL: &[&str] = &[#(#missing),*];
    };
    Ok(Generated { all, per_command, builders, generic_fields, without_idl, replies, replies_without_idl })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes IDL files into a fresh folder under the system temp dir and loads `roots`.
    fn load(files: &[(&str, &str)], roots: &[&str]) -> Result<IdlSet, SpecError> {
        let dir = std::env::temp_dir().join(format!(
            "spec-codegen-idl-{}-{}",
            std::process::id(),
            files.iter().map(|(_, t)| t.len()).sum::<usize>()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (rel, text) in files {
            let path = dir.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        let roots: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
        IdlSet::load(&dir, &roots)
    }

    /// Basic types and a generic-arguments struct, as the test commands' companions.
    const GENERIC: &str = "types:\n  string: {bson_serialization_type: string}\n  bool: {bson_serialization_type: bool}\n  int: {bson_serialization_type: int}\n  object: {bson_serialization_type: object}\nstructs:\n  GenericArguments:\n    fields:\n      comment:\n        type: string\n        optional: true\n        stability: stable\n";

    #[test]
    fn unknown_type_names_file_field_and_type() {
        let cmd = "imports:\n  - \"mongo/nowhere.idl\"\ncommands:\n  c:\n    command_name: c\n    namespace: ignored\n    fields:\n      f:\n        type: MysteryType\n        stability: stable\n";
        let set =
            load(&[("mongo/c.idl", cmd), ("mongo/g.idl", GENERIC)], &["mongo/c.idl", "mongo/g.idl"]).unwrap();
        assert_eq!(set.missing_imports, ["mongo/nowhere.idl"], "a missing import alone is not an error");
        let err = generate(&set, &["c"], "GenericArguments").unwrap_err();
        assert!(err.file.ends_with("mongo/c.idl"), "{}", err.file.display());
        assert_eq!(err.pointer, "/commands/c/fields/f/type");
        assert!(
            err.message.contains("`MysteryType`") && err.message.contains("field `f`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn mapped_types_from_missing_imports_chaining_and_namespace_forms() {
        let cmd = "imports:\n  - \"mongo/query/hint.idl\"\nstructs:\n  Base:\n    fields:\n      ordered:\n        type: bool\n        default: true\n        stability: stable\ncommands:\n  w:\n    command_name: w\n    command_alias: ww\n    namespace: concatenate_with_db\n    api_version: \"1\"\n    chained_structs:\n      Base: base\n    fields:\n      docs:\n        type: array<object>\n        supports_doc_sequence: true\n        stability: stable\n      hint:\n        type: indexHint\n        optional: true\n        stability: unstable\n      secret:\n        type: bool\n        optional: true\n        stability: internal\n      skipped:\n        type: bool\n        ignore: true\n  g:\n    command_name: g\n    namespace: type\n    type: array<int>\n    api_version: \"\"\n    fields:\n      n: int\n";
        let set =
            load(&[("mongo/w.idl", cmd), ("mongo/g.idl", GENERIC)], &["mongo/w.idl", "mongo/g.idl"]).unwrap();
        let generated = generate(&set, &["w", "g", "absent"], "GenericArguments").unwrap();
        assert_eq!(generated.without_idl, ["absent"]);
        let w = &generated.builders[0];
        let names: Vec<&str> = w.fields.iter().map(|f| f.wire.as_str()).collect();
        assert_eq!(names, ["ordered", "docs", "hint"], "chained first; internal and ignored left out");
        assert!(!w.fields[0].required && w.fields[1].required && w.fields[1].doc_sequence);
        assert_eq!(w.fields[2].rust, RustType::Bson, "indexHint mapped though hint.idl is missing");
        assert_eq!(w.first, FirstElement::Collection);
        assert_eq!(w.alias.as_deref(), Some("ww"));
        let g = &generated.builders[1];
        assert_eq!(g.first, FirstElement::Value(RustType::Vec(Box::new(RustType::I32))));
        assert!(g.fields[0].required, "shorthand fields are required");
        assert_eq!(g.api_version, "");
        // The emitted code parses.
        syn::parse2::<syn::File>(generated.all).unwrap();
    }

    #[test]
    fn bounds_on_a_non_number_are_an_error() {
        let cmd = "commands:\n  c:\n    command_name: c\n    namespace: ignored\n    fields:\n      s:\n        type: string\n        validator: {gte: 0}\n";
        let set =
            load(&[("mongo/c.idl", cmd), ("mongo/g.idl", GENERIC)], &["mongo/c.idl", "mongo/g.idl"]).unwrap();
        let err = generate(&set, &["c"], "GenericArguments").unwrap_err();
        assert_eq!(err.pointer, "/commands/c/fields/s/validator");
    }
}
