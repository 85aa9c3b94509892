//! Spec files newer than the generator (issue 13, "newer is not malformed"): a case that
//! uses a field, value or `schemaVersion` its format's model does not know yet is still
//! generated, as a test ignored with `generator: <what> at <file>#<pointer>`, and listed in
//! the manifest; only malformed input fails the build ([`crate::error::ErrorKind`]).

use std::path::Path;

use quote::quote;

use crate::test_model::rel;
use crate::{GeneratedTest, SpecError, Status};

/// The ignore reason for a case the generator cannot express because of `err`.
pub fn reason(err: &SpecError, spec_file: &str) -> String {
    format!("generator: {} at {spec_file}#{}", err.short_message(), err.pointer)
}

/// An ignored test for a case the generator cannot express; run anyway (`--ignored`), it
/// fails with the same reason.
pub fn ignored_test(
    path: Vec<String>,
    spec_file: &str,
    case_index: Option<usize>,
    reason: String,
) -> GeneratedTest {
    let message = format!("not generated: {reason}");
    GeneratedTest {
        path,
        spec_file: spec_file.to_string(),
        case_index,
        status: Status::Ignored(reason),
        is_async: false,
        body: quote! { panic!("{}", #message); },
    }
}

/// The ignored test named `path` for a one-case file the model cannot read because of
/// `err`, when the file is newer; a malformed file stays an error.
pub fn ignored_file(
    spec_root: &Path,
    file: &Path,
    path: Vec<String>,
    err: SpecError,
) -> Result<GeneratedTest, SpecError> {
    if !err.is_newer() {
        return Err(err);
    }
    let spec_file = rel(spec_root, file);
    let reason = reason(&err, &spec_file);
    Ok(ignored_test(path, &spec_file, None, reason))
}

/// One ignored test per case of `file` (named `prefix::<case description>`, as the
/// generators name cases), for a file the generator cannot read because of `err`.
pub fn ignored_cases(
    file: &Path,
    spec_file: &str,
    err: &SpecError,
    prefix: &[String],
) -> Result<Vec<GeneratedTest>, SpecError> {
    let reason = reason(err, spec_file);
    let mut cases = crate::naming::Unique::default();
    Ok(case_descriptions(file)?
        .iter()
        .enumerate()
        .map(|(i, description)| {
            let mut path = prefix.to_vec();
            path.push(cases.ident(description));
            ignored_test(path, spec_file, Some(i), reason.clone())
        })
        .collect())
}

/// The `description` of each entry of the file's `tests` array, read without the format's
/// model (to name the ignored cases of a file the model cannot read). A file without such
/// an array, or a case without a string description, is malformed.
pub fn case_descriptions(file: &Path) -> Result<Vec<String>, SpecError> {
    let value: serde_json::Value = crate::error::read_json(file)?;
    let Some(tests) = value.get("tests").and_then(|t| t.as_array()) else {
        return Err(SpecError::new(file, "/tests", "missing array `tests`"));
    };
    tests
        .iter()
        .enumerate()
        .map(|(i, t)| {
            t.get("description").and_then(|d| d.as_str()).map(str::to_string).ok_or_else(|| {
                SpecError::new(file, format!("/tests/{i}/description"), "missing string `description`")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_what_file_and_pointer() {
        let err = SpecError::from_serde(
            "/x/source/a.json",
            "/deprioritized_servers",
            "unknown field `deprioritized_servers`, expected one of `a`, `b` at line 32 column 25",
        );
        assert!(err.is_newer());
        assert_eq!(
            reason(&err, "source/a.json"),
            "generator: unknown field `deprioritized_servers` at source/a.json#/deprioritized_servers"
        );
        let malformed = SpecError::from_serde("a.json", "/x", "invalid type: string \"1\", expected u32");
        assert!(!malformed.is_newer());
    }
}
