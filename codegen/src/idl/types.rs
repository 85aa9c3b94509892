//! IDL type → Rust type: the one mapping the command builders use.
//!
//! A field's IDL type is resolved by the first rule that applies:
//!
//! 1. `array<T>` → `Vec<R>`, `R` being `T` resolved by these rules.
//! 2. `variant: [A, B, …]` → `Bson` (any of the alternatives, each of which must resolve by
//!    these rules; the caller picks the BSON type).
//! 3. A name in the table below → its Rust type. The table holds the types whose
//!    `bson_serialization_type` is `any` or a list, and types defined in IDL files that
//!    are not in the shared set (their imports are missing).
//! 4. A `structs` entry of a loaded file → `Document` (in a generated reply struct: the
//!    generated reply struct of that name).
//! 5. An `enums` entry of a loaded file → `String` (for `type: string`) or `i32` (`type: int`).
//! 6. A `types` entry with one `bson_serialization_type`: `string` → `String`, `int` → `i32`,
//!    `long` → `i64`, `double` → `f64`, `bool` → `bool`, `object` → `Document`,
//!    `array` → `Vec<Bson>`, `objectid` → `ObjectId`, `date` → `DateTime`,
//!    `timestamp` → `Timestamp`, `bindata` with `bindata_subtype: uuid` → `Uuid` (binary
//!    subtype 4), other `bindata` → `Binary`.
//! 7. Anything else is a build error naming the file, the field and the type.
//!
//! "Implicitly optional" types are never a required constructor argument: the server
//! treats an absent field as unset (`optionalBool`) or empty (`object_owned_nonempty_serialize`).
//!
//! | IDL type | Rust type | implicitly optional | why |
//! | --- | --- | --- | --- |
//! | `safeInt` | `i32` | no | accepts any number; sent as int32 |
//! | `safeInt64` | `i64` | no | accepts any number; sent as int64 |
//! | `exactInt64` | `i64` | no | accepts any integral number; sent as int64 |
//! | `safeDouble` | `f64` | no | accepts any number; sent as double |
//! | `safeBool` | `bool` | no | accepts bool or number; sent as bool |
//! | `optionalBool` | `bool` | yes | absent means unset |
//! | `boolNoOpSerializer` | `bool` | yes | deprecated flag, absent means false |
//! | `explainBool` | `bool` | no | `explain` flag of aggregate |
//! | `object_owned_nonempty_serialize` | `Document` | yes | absent means empty |
//! | `IDLAnyTypeOwned` | `Bson` | no | any BSON value |
//! | `logicalTime` | `Timestamp` | no | a cluster/operation time |
//! | `pipeline` | `Vec<Document>` | no | an aggregation pipeline |
//! | `aggregateCursor` | `Document` | no | `cursor` options of aggregate (`{batchSize}`) |
//! | `countLimit` | `i64` | no | `limit` of count (any number, negative allowed) |
//! | `multi_delete_bool` | `i32` | no | `limit` of a delete statement: 0 (all) or 1 |
//! | `update_modification` | `Bson` | no | an update document or a pipeline array |
//! | `write_cmd_optime` | `Bson` | no | an optime (timestamp or document) |
//! | `indexHint` | `Bson` | no | `hint.idl` (not in the set): index name string or key pattern |
//! | `optime` | `Bson` | no | `replication_types.idl` (not in the set): timestamp or document |
//! | `readPreference` | `Document` | no | `read_preference_setting.idl` (not in the set) |
//! | `ClusterTime` | `Document` | no | `vector_clock.idl` (not in the set): `{clusterTime, signature}` |
//! | `TopologyVersion` | `Document` | no | `topology_version.idl` (not in the set) |
//! | `ClientMetadata` | `Document` | no | `client_metadata.idl` (not in the set): handshake `client` |
//! | `LegacyRuntimeConstants` | `Document` | no | `legacy_runtime_constants.idl` (not in the set) |
//! | `EncryptionInformation` | `Document` | no | `fle_field_schema.idl` (not in the set) |
//! | `EncryptedFieldConfig` | `Document` | no | `encryption_fields.idl` (not in the set) |
//! | `QuerySettings` | `Document` | no | `query_settings.idl` (not in the set) |
//! | `ExchangeSpec` | `Document` | no | `exchange_spec.idl` (not in the set) |
//! | `ExternalDataSourceOption` | `Document` | no | `external_data_source_option.idl` (not in the set) |
//! | `IndexOptionDefaults` | `Document` | no | `collection_options.idl` (not in the set) |
//! | `ValidationLevel` | `String` | no | `collection_options.idl` (not in the set): a string enum |
//! | `ValidationAction` | `String` | no | `collection_options.idl` (not in the set): a string enum |
//! | `ClusteredIndexSpec` | `Document` | no | `clustered_collection_options.idl` (not in the set) |
//! | `TimeseriesOptions` | `Document` | no | `timeseries.idl` (not in the set) |
//! | `ChangeStreamPreAndPostImagesOptions` | `Document` | no | `change_stream_pre_and_post_images_options.idl` (not in the set) |
//! | `sha256Block` | `Binary` | no | `sha256_block.idl` (not in the set): generic binary |

use std::fmt;

use proc_macro2::TokenStream;
use quote::quote;

use super::{FieldType, IdlSet, SerializationType};

/// A Rust type a builder field is stored as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RustType {
    /// `String` (BSON string).
    String,
    /// `i32` (BSON int32).
    I32,
    /// `i64` (BSON int64).
    I64,
    /// `f64` (BSON double).
    F64,
    /// `bool` (BSON boolean).
    Bool,
    /// `bson::Document` (BSON embedded document).
    Document,
    /// `bson::Bson` (any BSON value).
    Bson,
    /// `bson::oid::ObjectId`.
    ObjectId,
    /// `bson::DateTime` (BSON date).
    DateTime,
    /// `bson::Timestamp`.
    Timestamp,
    /// `bson::Uuid` (binary subtype 4).
    Uuid,
    /// `bson::Binary`.
    Binary,
    /// `Vec<T>` (BSON array).
    Vec(Box<RustType>),
    /// A generated reply struct (BSON embedded document).
    Struct(String),
}

impl RustType {
    /// The Rust type's tokens, with paths valid where the driver includes the generated code.
    pub fn tokens(&self) -> TokenStream {
        match self {
            RustType::String => quote!(String),
            RustType::I32 => quote!(i32),
            RustType::I64 => quote!(i64),
            RustType::F64 => quote!(f64),
            RustType::Bool => quote!(bool),
            RustType::Document => quote!(bson::Document),
            RustType::Bson => quote!(bson::Bson),
            RustType::ObjectId => quote!(bson::oid::ObjectId),
            RustType::DateTime => quote!(bson::DateTime),
            RustType::Timestamp => quote!(bson::Timestamp),
            RustType::Uuid => quote!(bson::Uuid),
            RustType::Binary => quote!(bson::Binary),
            RustType::Vec(inner) => {
                let inner = inner.tokens();
                quote!(Vec<#inner>)
            }
            RustType::Struct(name) => {
                let ident = proc_macro2::Ident::new(name, proc_macro2::Span::call_site());
                quote!(#ident)
            }
        }
    }

    /// Whether the Rust type is `Copy`.
    pub fn is_copy(&self) -> bool {
        matches!(
            self,
            RustType::I32
                | RustType::I64
                | RustType::F64
                | RustType::Bool
                | RustType::ObjectId
                | RustType::DateTime
                | RustType::Timestamp
                | RustType::Uuid
        )
    }

    /// Whether the value is a number (so numeric validators apply).
    pub fn is_number(&self) -> bool {
        matches!(self, RustType::I32 | RustType::I64 | RustType::F64)
    }
}

impl fmt::Display for RustType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.tokens().to_string().replace(' ', ""))
    }
}

/// A resolved field type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// How it is stored and sent.
    pub rust: RustType,
    /// Never a required constructor argument.
    pub implicitly_optional: bool,
}

/// The named rows of the table in this module's documentation: (IDL type, Rust type,
/// implicitly optional).
pub const NAMED: &[(&str, &str, bool)] = &[
    ("safeInt", "i32", false),
    ("safeInt64", "i64", false),
    ("exactInt64", "i64", false),
    ("safeDouble", "f64", false),
    ("safeBool", "bool", false),
    ("optionalBool", "bool", true),
    ("boolNoOpSerializer", "bool", true),
    ("explainBool", "bool", false),
    ("object_owned_nonempty_serialize", "Document", true),
    ("IDLAnyTypeOwned", "Bson", false),
    ("logicalTime", "Timestamp", false),
    ("pipeline", "Vec<Document>", false),
    ("aggregateCursor", "Document", false),
    ("countLimit", "i64", false),
    ("multi_delete_bool", "i32", false),
    ("update_modification", "Bson", false),
    ("write_cmd_optime", "Bson", false),
    ("indexHint", "Bson", false),
    ("optime", "Bson", false),
    ("readPreference", "Document", false),
    ("ClusterTime", "Document", false),
    ("TopologyVersion", "Document", false),
    ("ClientMetadata", "Document", false),
    ("LegacyRuntimeConstants", "Document", false),
    ("EncryptionInformation", "Document", false),
    ("EncryptedFieldConfig", "Document", false),
    ("QuerySettings", "Document", false),
    ("ExchangeSpec", "Document", false),
    ("ExternalDataSourceOption", "Document", false),
    ("IndexOptionDefaults", "Document", false),
    ("ValidationLevel", "String", false),
    ("ValidationAction", "String", false),
    ("ClusteredIndexSpec", "Document", false),
    ("TimeseriesOptions", "Document", false),
    ("ChangeStreamPreAndPostImagesOptions", "Document", false),
    ("sha256Block", "Binary", false),
];

fn parse_table_type(text: &str) -> Option<RustType> {
    Some(match text {
        "String" => RustType::String,
        "i32" => RustType::I32,
        "i64" => RustType::I64,
        "f64" => RustType::F64,
        "bool" => RustType::Bool,
        "Document" => RustType::Document,
        "Bson" => RustType::Bson,
        "DateTime" => RustType::DateTime,
        "Timestamp" => RustType::Timestamp,
        "Binary" => RustType::Binary,
        _ => {
            let inner = text.strip_prefix("Vec<")?.strip_suffix('>')?;
            RustType::Vec(Box::new(parse_table_type(inner)?))
        }
    })
}

/// Resolves a field type by the rules in this module's documentation; `Err` says which
/// type is unknown.
pub fn resolve(set: &IdlSet, ty: &FieldType) -> Result<Mapped, String> {
    resolve_in(set, ty, false)
}

/// Resolves a field type of a reply struct: like [`resolve`], but a struct becomes the
/// generated reply struct of that name.
pub fn resolve_reply(set: &IdlSet, ty: &FieldType) -> Result<Mapped, String> {
    resolve_in(set, ty, true)
}

fn resolve_in(set: &IdlSet, ty: &FieldType, reply: bool) -> Result<Mapped, String> {
    match ty {
        FieldType::Variant { variant } => {
            // Every alternative must be known, though the field holds any of them.
            for alternative in variant {
                resolve_in(set, alternative, reply)?;
            }
            Ok(Mapped { rust: RustType::Bson, implicitly_optional: false })
        }
        FieldType::Named(name) => resolve_name(set, name.trim(), reply),
    }
}

fn resolve_name(set: &IdlSet, name: &str, reply: bool) -> Result<Mapped, String> {
    if let Some(inner) = name.strip_prefix("array<").and_then(|r| r.strip_suffix('>')) {
        let inner = resolve_name(set, inner.trim(), reply)?;
        return Ok(Mapped { rust: RustType::Vec(Box::new(inner.rust)), implicitly_optional: false });
    }
    if let Some((_, rust, implicit)) = NAMED.iter().find(|(n, _, _)| *n == name) {
        let rust = parse_table_type(rust)
            .ok_or_else(|| format!("table entry for `{name}` has a bad type {rust}"))?;
        return Ok(Mapped { rust, implicitly_optional: *implicit });
    }
    let plain = |rust| Ok(Mapped { rust, implicitly_optional: false });
    if set.structs.contains_key(name) {
        return plain(if reply { RustType::Struct(name.to_string()) } else { RustType::Document });
    }
    if let Some((_, def)) = set.enums.get(name) {
        return match def.kind.as_str() {
            "string" => plain(RustType::String),
            "int" => plain(RustType::I32),
            other => Err(format!("enum `{name}` has type `{other}`, which has no mapping")),
        };
    }
    if let Some((origin, def)) = set.types.get(name) {
        let SerializationType::One(bson) = &def.bson_serialization_type else {
            return Err(format!(
                "type `{name}` (defined in {}) accepts several BSON types and has no entry in the \
                 codegen/src/idl/types.rs table",
                origin.file
            ));
        };
        return match bson.as_str() {
            "string" => plain(RustType::String),
            "int" => plain(RustType::I32),
            "long" => plain(RustType::I64),
            "double" => plain(RustType::F64),
            "bool" => plain(RustType::Bool),
            "object" => plain(RustType::Document),
            "array" => plain(RustType::Vec(Box::new(RustType::Bson))),
            "objectid" => plain(RustType::ObjectId),
            "date" => plain(RustType::DateTime),
            "timestamp" => plain(RustType::Timestamp),
            "bindata" if def.bindata_subtype.as_deref() == Some("uuid") => plain(RustType::Uuid),
            "bindata" => plain(RustType::Binary),
            other => Err(format!(
                "type `{name}` (defined in {}) is serialized as `{other}` and has no entry in the \
                 codegen/src/idl/types.rs table",
                origin.file
            )),
        };
    }
    Err(format!(
        "type `{name}` is not defined in any loaded IDL file and has no entry in the codegen/src/idl/types.rs table"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_row_is_in_the_documented_table_and_parses() {
        let doc = include_str!("types.rs");
        for (name, rust, implicit) in NAMED {
            let row = format!("//! | `{name}` | `{rust}` | {} |", if *implicit { "yes" } else { "no" });
            assert!(doc.contains(&row), "documented table lacks {row}");
            assert!(parse_table_type(rust).is_some(), "{rust}");
        }
        let rows = doc.lines().filter(|l| l.starts_with("//! | `")).count();
        assert_eq!(rows, NAMED.len(), "table rows and NAMED entries match one to one");
    }

    #[test]
    fn rules_apply_in_order() {
        let set = IdlSet::default();
        let r = resolve_name(&set, "array<safeInt64>", false).unwrap();
        assert_eq!(r.rust, RustType::Vec(Box::new(RustType::I64)));
        assert!(resolve_name(&set, "optionalBool", false).unwrap().implicitly_optional);
        let err = resolve_name(&set, "NoSuchType", false).unwrap_err();
        assert!(err.contains("`NoSuchType`"), "{err}");
    }
}
