//! What the driver's command builders are made of, read from the IDL `commands` and
//! `structs` (the server's IDL: `command_name`, `chained_structs`, `fields`, `reply_type`):
//! each builder's fields in wire order, the generic arguments' fields, and the reply structs.

use std::collections::HashSet;

use super::types::{self, RustType};
use super::{FieldDef, FieldType, IdlSet, Origin, Validator};
use crate::error::{SpecError, escape_token};
use crate::naming;

/// Method names a field setter must not take (they belong to the builder or its traits).
const RESERVED: &[&str] = &[
    "new",
    "validate",
    "serialize",
    "to_document",
    "to_op_msg",
    "db",
    "generic_arguments",
    "generic_arguments_mut",
    "with_generic_arguments",
    "clone",
];

/// A builder field.
#[derive(Debug, Clone)]
pub struct Field {
    /// The name on the wire.
    pub wire: String,
    /// The setter / member name.
    pub ident: String,
    /// How it is stored and sent.
    pub rust: RustType,
    /// A constructor argument (else an optional setter).
    pub required: bool,
    /// The IDL `description`.
    pub description: String,
    /// The IDL `stability` (`"unspecified"` when absent).
    pub stability: String,
    /// Numeric bounds and the server-side callback, if any.
    pub validator: Validator,
    /// May be sent as an OP_MSG document sequence.
    pub doc_sequence: bool,
    /// The IDL `default`, rendered for the documentation.
    pub default: Option<String>,
    /// Where it is defined.
    pub origin: Origin,
}

/// What the first element of a command holds.
#[derive(Debug, Clone, PartialEq)]
pub enum FirstElement {
    /// `concatenate_with_db`: the collection name.
    Collection,
    /// `concatenate_with_db_or_uuid`: the collection name (the UUID form is not sent by drivers).
    CollectionOrUuid,
    /// `ignored`: the number 1.
    Ignored,
    /// `type`: a value of this type.
    Value(RustType),
}

/// One command builder to emit.
#[derive(Debug, Clone)]
pub struct Builder {
    /// `command_name`.
    pub name: String,
    /// `command_alias`, if any.
    pub alias: Option<String>,
    /// The Rust type name.
    pub type_name: String,
    /// The IDL `description`.
    pub description: String,
    /// Where the command is defined.
    pub origin: Origin,
    /// The first element.
    pub first: FirstElement,
    /// `api_version` (`""` when the command is not in the Stable API).
    pub api_version: String,
    /// The reply struct, if named.
    pub reply_type: Option<String>,
    /// Command fields in wire order (chained structs' fields first).
    pub fields: Vec<Field>,
}

pub(super) fn idl_error(set: &IdlSet, origin: &Origin, pointer: String, message: String) -> SpecError {
    SpecError::new(set.path(&origin.file), pointer, message)
}

/// Collects the fields of a struct: chained structs' fields first, then its own, leaving
/// out `ignore`d fields and `internal` ones (server-to-server only).
fn collect_fields(
    set: &IdlSet,
    owner: &str,
    origin: &Origin,
    chained: &std::collections::BTreeMap<String, serde_norway::Value>,
    fields: Option<&super::indexmap_like::OrderedMap<FieldDef>>,
    reply: bool,
    out: &mut Vec<Field>,
) -> Result<(), SpecError> {
    for name in chained.keys() {
        let Some((sorigin, sdef)) = set.structs.get(name) else {
            return Err(idl_error(
                set,
                origin,
                format!("{}/chained_structs/{}", origin.pointer, escape_token(name)),
                format!("{owner}: chained struct `{name}` is not defined in any loaded IDL file"),
            ));
        };
        collect_fields(set, name, sorigin, &sdef.chained_structs, sdef.fields.as_ref(), reply, out)?;
    }
    for (wire, def) in fields.map(|f| f.0.as_slice()).unwrap_or_default() {
        let full = def.full();
        let stability = full.stability.clone().unwrap_or_else(|| "unspecified".into());
        if full.ignore || stability == "internal" {
            continue;
        }
        let pointer = format!("{}/fields/{}", origin.pointer, escape_token(wire));
        let resolved =
            if reply { types::resolve_reply(set, &full.ty) } else { types::resolve(set, &full.ty) };
        let mapped = resolved.map_err(|message| {
            idl_error(
                set,
                origin,
                format!("{pointer}/type"),
                format!("field `{wire}` of `{owner}`: {message}"),
            )
        })?;
        let validator = full.validator.clone().unwrap_or_default();
        let bounded = validator.gte.is_some()
            || validator.gt.is_some()
            || validator.lte.is_some()
            || validator.lt.is_some();
        if bounded && !mapped.rust.is_number() {
            return Err(idl_error(
                set,
                origin,
                format!("{pointer}/validator"),
                format!("field `{wire}` of `{owner}`: numeric bounds on a {} field", mapped.rust),
            ));
        }
        if full.supports_doc_sequence && mapped.rust != RustType::Vec(Box::new(RustType::Document)) {
            return Err(idl_error(
                set,
                origin,
                format!("{pointer}/supports_doc_sequence"),
                format!("field `{wire}` of `{owner}`: a document sequence must be an array of documents"),
            ));
        }
        if out.iter().any(|f| f.wire == *wire) {
            return Err(idl_error(
                set,
                origin,
                pointer,
                format!("field `{wire}` of `{owner}` is defined twice"),
            ));
        }
        let required = !full.optional && full.default.is_none() && !mapped.implicitly_optional;
        let default = full.default.as_ref().map(|v| match v {
            serde_norway::Value::String(s) => s.clone(),
            other => serde_norway::to_string(other).map(|s| s.trim().to_string()).unwrap_or_default(),
        });
        out.push(Field {
            wire: wire.clone(),
            ident: String::new(),
            rust: mapped.rust,
            required,
            description: full.description.clone().unwrap_or_default().trim().to_string(),
            stability,
            validator,
            doc_sequence: full.supports_doc_sequence,
            default,
            origin: Origin { file: origin.file.clone(), pointer },
        });
    }
    Ok(())
}

fn name_fields(fields: &mut [Field], taken: &[&str]) {
    let mut unique = naming::Unique::default();
    for t in taken {
        unique.ident(t);
    }
    for f in fields.iter_mut() {
        let mut ident = unique.ident(f.wire.trim_start_matches('$').trim_start_matches('_'));
        if RESERVED.contains(&ident.as_str()) {
            ident.push('_');
        }
        f.ident = ident;
    }
}

/// Builds the builder models for `wanted` commands (by `command_name`), in that order.
/// Commands the set does not define are listed in [`Generated::without_idl`].
pub fn builders(set: &IdlSet, wanted: &[&str]) -> Result<(Vec<Builder>, Vec<String>), SpecError> {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for &name in wanted {
        let Some((origin, def)) = set.commands.get(name) else {
            missing.push(name.to_string());
            continue;
        };
        let first = match def.namespace.as_str() {
            "concatenate_with_db" => FirstElement::Collection,
            "concatenate_with_db_or_uuid" => FirstElement::CollectionOrUuid,
            "ignored" => FirstElement::Ignored,
            "type" => {
                let ty = def.first_type.clone().unwrap_or(FieldType::Named(String::new()));
                let mapped = types::resolve(set, &ty).map_err(|m| {
                    idl_error(
                        set,
                        origin,
                        format!("{}/type", origin.pointer),
                        format!("command `{name}`: {m}"),
                    )
                })?;
                FirstElement::Value(mapped.rust)
            }
            other => {
                return Err(idl_error(
                    set,
                    origin,
                    format!("{}/namespace", origin.pointer),
                    format!("command `{name}`: namespace form `{other}` is not supported"),
                ));
            }
        };
        let mut fields = Vec::new();
        collect_fields(set, name, origin, &def.chained_structs, def.fields.as_ref(), false, &mut fields)?;
        let first_arg = naming::ident(name);
        let taken: &[&str] = match first {
            FirstElement::Collection | FirstElement::CollectionOrUuid => &["db", "collection"],
            FirstElement::Ignored => &["db"],
            FirstElement::Value(_) => &["db", &first_arg],
        };
        name_fields(&mut fields, taken);
        out.push(Builder {
            name: name.to_string(),
            alias: def.command_alias.clone(),
            type_name: format!("{}Command", heck::ToUpperCamelCase::to_upper_camel_case(name)),
            description: def.description.clone().unwrap_or_default().trim().to_string(),
            origin: origin.clone(),
            first,
            api_version: def.api_version.clone().unwrap_or_default(),
            reply_type: def.reply_type.clone(),
            fields,
        });
    }
    Ok((out, missing))
}

/// The fields of the generic-arguments struct `name` (e.g. `GenericArguments`).
pub fn generic_fields(set: &IdlSet, name: &str) -> Result<Vec<Field>, SpecError> {
    let Some((origin, def)) = set.structs.get(name) else {
        return Err(SpecError::new(
            set.src.join("mongo/idl/generic_argument.idl"),
            "/structs",
            format!("struct `{name}` is not defined in any loaded IDL file"),
        ));
    };
    let mut fields = Vec::new();
    collect_fields(set, name, origin, &def.chained_structs, def.fields.as_ref(), false, &mut fields)?;
    name_fields(&mut fields, &[]);
    Ok(fields)
}

/// A reply struct to emit (the IDL `reply_type` of a builder, or a struct one uses).
#[derive(Debug, Clone)]
pub struct Reply {
    /// The IDL struct name (also the Rust type name).
    pub name: String,
    /// The IDL `description`.
    pub description: String,
    /// Where it is defined.
    pub origin: Origin,
    /// Its fields (chained structs' first; `internal` and `ignore`d ones left out).
    pub fields: Vec<Field>,
}

fn struct_names(rust: &RustType, out: &mut Vec<String>) {
    match rust {
        RustType::Struct(name) => out.push(name.clone()),
        RustType::Vec(inner) => struct_names(inner, out),
        _ => {}
    }
}

/// The reply structs of `builders` and, transitively, the structs their fields use. A
/// `reply_type` no loaded file defines is listed in the second result.
pub fn replies(set: &IdlSet, builders: &[Builder]) -> Result<(Vec<Reply>, Vec<String>), SpecError> {
    let mut queue: Vec<String> = builders.iter().filter_map(|b| b.reply_type.clone()).collect();
    queue.reverse();
    let mut done: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    let mut missing = Vec::new();
    while let Some(name) = queue.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        let Some((origin, def)) = set.structs.get(&name) else {
            missing.push(name);
            continue;
        };
        let mut fields = Vec::new();
        collect_fields(set, &name, origin, &def.chained_structs, def.fields.as_ref(), true, &mut fields)?;
        name_fields(&mut fields, &[]);
        let mut nested = Vec::new();
        for f in &fields {
            struct_names(&f.rust, &mut nested);
        }
        nested.reverse();
        queue.extend(nested);
        out.push(Reply {
            name,
            description: def.description.clone().unwrap_or_default().trim().to_string(),
            origin: origin.clone(),
            fields,
        });
    }
    Ok((out, missing))
}
