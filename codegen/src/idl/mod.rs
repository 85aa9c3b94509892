//! The server's IDL (`src/mongo/**/*.idl`, the server's "Interface Definition Language"
//! for command and struct shapes): a typed model of the subset the command files use,
//! import resolution, and the emitter of the driver's command builders.
//!
//! Supported: `imports` (resolved relative to the server's `src/`, transitively; a missing
//! imported file is not an error by itself), `types` (with `bson_serialization_type`),
//! `enums`, `structs` (with `chained_structs`, `inline_chained_structs`), `commands` (with
//! `command_name`, `command_alias`, `api_version`, `reply_type`, and the namespace forms
//! `concatenate_with_db`, `concatenate_with_db_or_uuid`, `ignored`, `type`), and fields in
//! shorthand (`name: type`) and map form (`type`, `optional`, `default`, `validator`,
//! `stability`, `ignore`, `supports_doc_sequence`, `array<T>`, `variant`). Keys that only
//! drive the server's C++ code generation (`cpp_name`, `access_check`, …) are read past.
//! How IDL types become Rust types is the one table in [`types`].

mod commands;
pub mod emit;
pub mod types;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{SpecError, escape_token, from_yaml_str};

/// One IDL file as written (the parts the generator uses).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdlFile {
    /// Other IDL files, relative to the server's `src/`.
    #[serde(default)]
    pub imports: Vec<String>,
    /// Named types and how they serialize.
    #[serde(default)]
    pub types: BTreeMap<String, TypeDef>,
    /// Enumerations.
    #[serde(default)]
    pub enums: BTreeMap<String, EnumDef>,
    /// Structs (documents).
    #[serde(default)]
    pub structs: BTreeMap<String, StructDef>,
    /// Commands (a struct whose first element names the command).
    #[serde(default)]
    pub commands: BTreeMap<String, CommandDef>,
}

/// `bson_serialization_type`: one BSON type name, or a list of accepted ones.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SerializationType {
    /// One type (`string`, `int`, `object`, `any`, …).
    One(String),
    /// Several accepted types (e.g. `[long, int, decimal, double]`).
    Many(Vec<String>),
}

/// An entry of `types`.
#[derive(Debug, Clone, Deserialize)]
pub struct TypeDef {
    /// What the type is.
    #[serde(default)]
    pub description: Option<String>,
    /// The BSON type(s) it is written as.
    pub bson_serialization_type: SerializationType,
    /// For `bindata`, the binary subtype (e.g. `uuid`).
    #[serde(default)]
    pub bindata_subtype: Option<String>,
}

/// An entry of `enums`.
#[derive(Debug, Clone, Deserialize)]
pub struct EnumDef {
    /// What the enumeration is.
    #[serde(default)]
    pub description: Option<String>,
    /// `string` or `int`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Symbol → value.
    pub values: BTreeMap<String, serde_norway::Value>,
}

/// An entry of `structs`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StructDef {
    /// What the struct is.
    #[serde(default)]
    pub description: Option<String>,
    /// Structs whose fields are part of this one (name → C++ member name).
    #[serde(default)]
    pub chained_structs: BTreeMap<String, serde_norway::Value>,
    /// Whether chained structs' fields are accessible inline (no effect on the wire shape).
    #[serde(default)]
    pub inline_chained_structs: Option<bool>,
    /// The fields, in wire order.
    #[serde(default)]
    pub fields: Option<indexmap_like::OrderedMap<FieldDef>>,
}

/// An entry of `commands`.
#[derive(Debug, Clone, Deserialize)]
pub struct CommandDef {
    /// What the command does.
    #[serde(default)]
    pub description: Option<String>,
    /// The command name (the first element's key).
    pub command_name: String,
    /// Another accepted spelling of the command name.
    #[serde(default)]
    pub command_alias: Option<String>,
    /// What the first element's value is.
    pub namespace: String,
    /// For `namespace: type`, the first element's type.
    #[serde(default, rename = "type")]
    pub first_type: Option<FieldType>,
    /// The Stable API version the command belongs to (`""` when none).
    #[serde(default)]
    pub api_version: Option<String>,
    /// The reply struct.
    #[serde(default)]
    pub reply_type: Option<String>,
    /// Chained structs (name → C++ member name).
    #[serde(default)]
    pub chained_structs: BTreeMap<String, serde_norway::Value>,
    /// Whether chained structs' fields are accessible inline.
    #[serde(default)]
    pub inline_chained_structs: Option<bool>,
    /// The command's own fields, in wire order.
    #[serde(default)]
    pub fields: Option<indexmap_like::OrderedMap<FieldDef>>,
}

/// A field: shorthand `name: type` or a map.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FieldDef {
    /// `name: type`.
    Short(String),
    /// The full form.
    Full(Box<FullField>),
}

/// The map form of a field.
#[derive(Debug, Clone, Deserialize)]
pub struct FullField {
    /// What the field is.
    #[serde(default)]
    pub description: Option<String>,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Whether it may be absent.
    #[serde(default)]
    pub optional: bool,
    /// The value the server assumes when absent.
    #[serde(default)]
    pub default: Option<serde_norway::Value>,
    /// Value checks.
    #[serde(default)]
    pub validator: Option<Validator>,
    /// `stable`, `unstable` or `internal` (Stable API).
    #[serde(default)]
    pub stability: Option<String>,
    /// Ignored by the server's parser.
    #[serde(default)]
    pub ignore: bool,
    /// May travel as an OP_MSG document sequence.
    #[serde(default)]
    pub supports_doc_sequence: bool,
}

/// A field type: a type name (possibly `array<T>`) or a variant of several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FieldType {
    /// A named type or `array<T>`.
    Named(String),
    /// `variant: [a, b, …]`.
    Variant {
        /// The alternatives.
        variant: Vec<FieldType>,
    },
}

/// A field validator: numeric bounds and/or a server-side callback.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Validator {
    /// Value ≥ this.
    #[serde(default)]
    pub gte: Option<f64>,
    /// Value > this.
    #[serde(default)]
    pub gt: Option<f64>,
    /// Value ≤ this.
    #[serde(default)]
    pub lte: Option<f64>,
    /// Value < this.
    #[serde(default)]
    pub lt: Option<f64>,
    /// A server C++ function (not checked client-side).
    #[serde(default)]
    pub callback: Option<String>,
}

impl FieldDef {
    /// The map form of the field (the shorthand means a required field of that type).
    pub fn full(&self) -> FullField {
        match self {
            FieldDef::Short(ty) => FullField {
                description: None,
                ty: FieldType::Named(ty.clone()),
                optional: false,
                default: None,
                validator: None,
                stability: None,
                ignore: false,
                supports_doc_sequence: false,
            },
            FieldDef::Full(f) => (**f).clone(),
        }
    }
}

/// A YAML mapping read in document order (the IDL's field order is the wire order).
pub mod indexmap_like {
    use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
    use std::fmt;
    use std::marker::PhantomData;

    /// Entries in the order the file lists them.
    #[derive(Debug, Clone, Default)]
    pub struct OrderedMap<V>(pub Vec<(String, V)>);

    impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V2<V>(PhantomData<V>);
            impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
                type Value = OrderedMap<V>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a mapping")
                }
                fn visit_unit<E>(self) -> Result<Self::Value, E> {
                    Ok(OrderedMap(Vec::new()))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                    let mut out = Vec::new();
                    while let Some((k, v)) = map.next_entry::<String, V>()? {
                        out.push((k, v));
                    }
                    Ok(OrderedMap(out))
                }
            }
            d.deserialize_any(V2(PhantomData))
        }
    }
}

/// Where a definition comes from: the file (relative to the server's `src/`) and the JSON
/// pointer of the definition in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file, relative to the server's `src/`.
    pub file: String,
    /// JSON pointer of the definition.
    pub pointer: String,
}

/// The loaded IDL files and every definition in them, by name.
#[derive(Debug, Default)]
pub struct IdlSet {
    /// The server's `src/` folder.
    pub src: PathBuf,
    /// Loaded files (relative path → contents).
    pub files: BTreeMap<String, IdlFile>,
    /// Imported files that are not present (they are only an error if a type they would
    /// define is needed and has no mapping in [`types`]).
    pub missing_imports: Vec<String>,
    /// `types` entries by name.
    pub types: HashMap<String, (Origin, TypeDef)>,
    /// `enums` entries by name.
    pub enums: HashMap<String, (Origin, EnumDef)>,
    /// `structs` entries by name.
    pub structs: HashMap<String, (Origin, StructDef)>,
    /// `commands` by command name.
    pub commands: BTreeMap<String, (Origin, CommandDef)>,
}

impl IdlSet {
    /// Loads `roots` (paths relative to `src`) and, transitively, their imports.
    pub fn load(src: &Path, roots: &[String]) -> Result<Self, SpecError> {
        let mut set = IdlSet { src: src.to_path_buf(), ..Default::default() };
        let mut queue: Vec<String> = roots.to_vec();
        while let Some(rel) = queue.pop() {
            if set.files.contains_key(&rel) || set.missing_imports.contains(&rel) {
                continue;
            }
            let path = src.join(&rel);
            if !path.exists() {
                set.missing_imports.push(rel);
                continue;
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| SpecError::new(&path, "", format!("cannot read the file: {e}")))?;
            let file: IdlFile = from_yaml_str(&path, &text)?;
            queue.extend(file.imports.iter().cloned());
            set.add(&path, &rel, &file)?;
            set.files.insert(rel, file);
        }
        set.missing_imports.sort();
        Ok(set)
    }

    fn add(&mut self, path: &Path, rel: &str, file: &IdlFile) -> Result<(), SpecError> {
        let origin = |section: &str, name: &str| Origin {
            file: rel.to_string(),
            pointer: format!("/{section}/{}", escape_token(name)),
        };
        let dup = |section: &str, name: &str, other: &Origin| {
            SpecError::new(
                path,
                format!("/{section}/{}", escape_token(name)),
                format!("`{name}` is also defined in {}", other.file),
            )
        };
        for (name, def) in &file.types {
            if let Some((o, _)) = self.types.insert(name.clone(), (origin("types", name), def.clone())) {
                return Err(dup("types", name, &o));
            }
        }
        for (name, def) in &file.enums {
            if let Some((o, _)) = self.enums.insert(name.clone(), (origin("enums", name), def.clone())) {
                return Err(dup("enums", name, &o));
            }
        }
        for (name, def) in &file.structs {
            if let Some((o, _)) = self.structs.insert(name.clone(), (origin("structs", name), def.clone())) {
                return Err(dup("structs", name, &o));
            }
        }
        for (name, def) in &file.commands {
            let key = def.command_name.clone();
            if let Some((o, _)) = self.commands.insert(key, (origin("commands", name), def.clone())) {
                return Err(dup("commands", name, &o));
            }
        }
        Ok(())
    }

    /// The absolute path of a file of the set.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.src.join(rel)
    }
}

/// The IDL files under `src/mongo/` that define one of `commands` (a cheap text scan for
/// `command_name: <name>`), as paths relative to `src`, sorted.
pub fn files_defining(src: &Path, commands: &[&str]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut stack = vec![src.join("mongo")];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "idl") {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                let defines = text.lines().any(|line| {
                    line.trim().strip_prefix("command_name:").is_some_and(|n| commands.contains(&n.trim()))
                });
                if let (true, Ok(rel)) = (defines, path.strip_prefix(src)) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_shorthand_map_variant_and_order() {
        let text = "structs:\n  S:\n    fields:\n      z: string\n      a:\n        type: array<int>\n        optional: true\n        validator: {gte: 0}\n      m:\n        type:\n          variant: [int, long]\n";
        let f: IdlFile = from_yaml_str(Path::new("x.idl"), text).unwrap();
        let fields = f.structs["S"].fields.as_ref().unwrap();
        let names: Vec<&str> = fields.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["z", "a", "m"], "file order kept");
        assert!(matches!(&fields.0[0].1, FieldDef::Short(t) if t == "string"));
        let a = fields.0[1].1.full();
        assert!(a.optional);
        assert_eq!(a.validator.unwrap().gte, Some(0.0));
        assert!(matches!(fields.0[2].1.full().ty, FieldType::Variant { .. }));
    }

    #[test]
    fn bad_validator_is_located() {
        let text =
            "structs:\n  S:\n    fields:\n      a:\n        type: int\n        validator: {between: 3}\n";
        let err = from_yaml_str::<IdlFile>(Path::new("x.idl"), text).unwrap_err();
        assert!(err.pointer.starts_with("/structs/S/fields"), "{}", err.pointer);
    }
}
