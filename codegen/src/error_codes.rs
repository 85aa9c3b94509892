//! The server's error-code table (`src/mongo/base/error_codes.yml`): a typed model and the
//! emitter of the driver's `ErrorCode` type (codes, names, categories).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use heck::ToShoutySnakeCase;
use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;
use serde::Deserialize;

use crate::error::{SpecError, read_yaml};

/// The path of the error-code table below the server data root.
pub const ERROR_CODES_YML: &str = "src/mongo/base/error_codes.yml";

/// The file as written: the category list and the code list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorCodesFile {
    /// Category names (e.g. `NetworkError`, `NotPrimaryError`).
    pub error_categories: Vec<String>,
    /// Every error code.
    pub error_codes: Vec<ErrorCodeDef>,
}

/// One entry of `error_codes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorCodeDef {
    /// The numeric code.
    pub code: i32,
    /// The code name (e.g. `NotWritablePrimary`).
    pub name: String,
    /// The categories the code belongs to.
    #[serde(default)]
    pub categories: Vec<String>,
    /// The server-side C++ type carrying extra error info (not used by the driver).
    #[serde(default)]
    pub extra: Option<String>,
    /// Whether the extra info is optional (not used by the driver).
    #[serde(default, rename = "extraIsOptional")]
    pub extra_is_optional: Option<bool>,
}

/// A checked error-code table: codes and names unique, every category declared.
#[derive(Debug, Clone)]
pub struct ErrorCodes {
    /// The file it was read from.
    pub file: PathBuf,
    /// Declared categories, in file order.
    pub categories: Vec<String>,
    /// Codes, in file order.
    pub codes: Vec<ErrorCodeDef>,
}

impl ErrorCodes {
    /// Reads and checks `error_codes.yml`.
    pub fn load(file: &Path) -> Result<Self, SpecError> {
        let raw: ErrorCodesFile = read_yaml(file)?;
        Self::check(file, raw)
    }

    /// Checks a parsed file: unique codes, unique names, declared categories, names that
    /// make Rust identifiers.
    pub fn check(file: &Path, raw: ErrorCodesFile) -> Result<Self, SpecError> {
        let err = |pointer: String, message: String| SpecError::new(file, pointer, message);
        let mut categories = HashMap::new();
        for (i, c) in raw.error_categories.iter().enumerate() {
            if syn::parse_str::<Ident>(c).is_err() {
                return Err(err(
                    format!("/error_categories/{i}"),
                    format!("category `{c}` is not an identifier"),
                ));
            }
            if categories.insert(c.as_str(), i).is_some() {
                return Err(err(
                    format!("/error_categories/{i}"),
                    format!("category `{c}` is declared twice"),
                ));
            }
        }
        let mut by_code = HashMap::new();
        let mut by_const = HashMap::new();
        for (i, def) in raw.error_codes.iter().enumerate() {
            if let Some(first) = by_code.insert(def.code, i) {
                return Err(err(
                    format!("/error_codes/{i}/code"),
                    format!("code {} is also used by entry {first}", def.code),
                ));
            }
            let constant = const_name(&def.name);
            if syn::parse_str::<Ident>(&constant).is_err() {
                return Err(err(
                    format!("/error_codes/{i}/name"),
                    format!("name `{}` is not an identifier", def.name),
                ));
            }
            if let Some(first) = by_const.insert(constant.clone(), i) {
                return Err(err(
                    format!("/error_codes/{i}/name"),
                    format!("name `{}` gives constant {constant}, as does entry {first}", def.name),
                ));
            }
            for (j, c) in def.categories.iter().enumerate() {
                if !categories.contains_key(c.as_str()) {
                    return Err(err(
                        format!("/error_codes/{i}/categories/{j}"),
                        format!("category `{c}` is not declared in error_categories"),
                    ));
                }
            }
        }
        Ok(Self { file: file.to_path_buf(), categories: raw.error_categories, codes: raw.error_codes })
    }

    /// The Rust source items for the driver: `ErrorCode` (a code newtype with one constant
    /// per known code, lookups by code and by name) and `ErrorCategory`.
    pub fn emit(&self) -> TokenStream {
        let cat_idents: Vec<Ident> =
            self.categories.iter().map(|c| Ident::new(c, Span::call_site())).collect();
        let cat_names = &self.categories;
        let cat_docs: Vec<String> =
            self.categories.iter().map(|c| format!("The server's `{c}` category.")).collect();

        let mut sorted: Vec<&ErrorCodeDef> = self.codes.iter().collect();
        sorted.sort_by_key(|d| d.code);
        let consts = sorted.iter().map(|d| {
            let ident = Ident::new(&const_name(&d.name), Span::call_site());
            let code = proc_macro2::Literal::i32_unsuffixed(d.code);
            let doc = if d.categories.is_empty() {
                format!("`{}` ({code}).", d.name)
            } else {
                format!("`{}` ({code}); categories: {}.", d.name, d.categories.join(", "))
            };
            quote! { #[doc = #doc] pub const #ident: ErrorCode = ErrorCode(#code); }
        });
        let entries = sorted.iter().map(|d| {
            let code = proc_macro2::Literal::i32_unsuffixed(d.code);
            let name = &d.name;
            let cats = d.categories.iter().map(|c| Ident::new(c, Span::call_site()));
            quote! { (#code, #name, &[#(ErrorCategory::#cats),*]) }
        });
        let mut by_name: BTreeMap<&str, i32> = BTreeMap::new();
        for d in &self.codes {
            by_name.insert(d.name.as_str(), d.code);
        }
        let name_entries = by_name.iter().map(|(name, code)| {
            let code = proc_macro2::Literal::i32_unsuffixed(*code);
            quote! { (#name, #code) }
        });
        let n_codes = proc_macro2::Literal::usize_unsuffixed(sorted.len());
        let n_names = proc_macro2::Literal::usize_unsuffixed(by_name.len());
        let n_cats = proc_macro2::Literal::usize_unsuffixed(self.categories.len());

        quote! {
            /// A server error category from the server's error-code table.
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
            #[non_exhaustive]
            pub enum ErrorCategory {
                #( #[doc = #cat_docs] #cat_idents, )*
            }

            impl ErrorCategory {
                /// Every category, in table order.
                pub const ALL: [ErrorCategory; #n_cats] = [#(ErrorCategory::#cat_idents),*];

                /// The category's name as the server spells it.
                pub fn name(self) -> &'static str {
                    match self { #(ErrorCategory::#cat_idents => #cat_names,)* }
                }

                /// The category called `name`, if the table has one.
                pub fn from_name(name: &str) -> Option<Self> {
                    match name { #(#cat_names => Some(ErrorCategory::#cat_idents),)* _ => None }
                }
            }

            /// A server error code. Any `i32` is representable: codes the table does not
            /// know have no name and no categories.
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub struct ErrorCode(pub i32);

            #[allow(missing_docs)]
            impl ErrorCode {
                #(#consts)*
            }

            /// The table, sorted by code: (code, name, categories).
            static BY_CODE: [(i32, &str, &[ErrorCategory]); #n_codes] = [#(#entries),*];
            /// Names, sorted, with their codes.
            static BY_NAME: [(&str, i32); #n_names] = [#(#name_entries),*];

            impl ErrorCode {
                /// The number of codes in the table.
                pub const KNOWN: usize = #n_codes;

                fn entry(self) -> Option<&'static (i32, &'static str, &'static [ErrorCategory])> {
                    BY_CODE.binary_search_by_key(&self.0, |e| e.0).ok().map(|i| &BY_CODE[i])
                }

                /// The code's name, if the table knows the code.
                pub fn name(self) -> Option<&'static str> {
                    self.entry().map(|e| e.1)
                }

                /// The code's categories (empty for an unknown code).
                pub fn categories(self) -> &'static [ErrorCategory] {
                    self.entry().map_or(&[], |e| e.2)
                }

                /// Whether the code belongs to `category`.
                pub fn is_in(self, category: ErrorCategory) -> bool {
                    self.categories().contains(&category)
                }

                /// Whether the table knows the code.
                pub fn is_known(self) -> bool {
                    self.entry().is_some()
                }

                /// The code called `name`, if the table has one.
                pub fn from_name(name: &str) -> Option<Self> {
                    BY_NAME.binary_search_by_key(&name, |e| e.0).ok().map(|i| ErrorCode(BY_NAME[i].1))
                }

                /// Every known code, ascending.
                pub fn all() -> impl Iterator<Item = ErrorCode> {
                    BY_CODE.iter().map(|e| ErrorCode(e.0))
                }
            }
        }
    }
}

/// The Rust constant for a code name (`NotWritablePrimary` → `NOT_WRITABLE_PRIMARY`).
pub fn const_name(name: &str) -> String {
    name.to_shouty_snake_case()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::from_yaml_str;

    fn parse(text: &str) -> Result<ErrorCodes, SpecError> {
        let file = Path::new("e.yml");
        ErrorCodes::check(file, from_yaml_str(file, text)?)
    }

    #[test]
    fn reads_flow_entries_and_optional_keys() {
        let codes = parse(
            "error_categories: [A, B]\nerror_codes:\n  - {code: 1, name: One}\n  - {\n      code: 2,\n      name: Two,\n      extra: X,\n      categories: [A, B],\n      extraIsOptional: True,\n    }\n",
        )
        .unwrap();
        assert_eq!(codes.codes.len(), 2);
        assert_eq!(codes.codes[1].categories, ["A", "B"]);
        assert_eq!(codes.codes[1].extra_is_optional, Some(true));
    }

    #[test]
    fn undeclared_category_is_located() {
        let err =
            parse("error_categories: [A]\nerror_codes:\n  - {code: 1, name: One, categories: [A, C]}\n")
                .unwrap_err();
        assert_eq!(err.pointer, "/error_codes/0/categories/1");
        assert!(err.message.contains("`C`"), "{}", err.message);
    }

    #[test]
    fn duplicate_code_is_located() {
        let err =
            parse("error_categories: []\nerror_codes:\n  - {code: 1, name: One}\n  - {code: 1, name: Two}\n")
                .unwrap_err();
        assert_eq!(err.pointer, "/error_codes/1/code");
    }

    #[test]
    fn unknown_key_is_located() {
        let err =
            parse("error_categories: []\nerror_codes:\n  - {code: 1, name: One, colour: red}\n").unwrap_err();
        assert_eq!(err.pointer, "/error_codes/0/colour");
    }

    #[test]
    fn constant_names() {
        assert_eq!(const_name("NotPrimaryNoSecondaryOk"), "NOT_PRIMARY_NO_SECONDARY_OK");
        assert_eq!(const_name("OBSOLETE_DuplicateKey"), "OBSOLETE_DUPLICATE_KEY");
    }
}
