//! Runtime support for the generated spec tests: building driver inputs from spec
//! values and asserting the spec's expectations.

pub mod auth;
pub mod cmap;
pub mod connection_string;
pub mod dns_seedlist;
pub mod legacy;
pub mod read_write_concern;
pub mod sdam;
pub mod selection;
pub mod unified;

/// Records `value` as the insta snapshot `generated-tests/snapshots/<name, :: as __>.snap`,
/// named after the generated test (`name` is its full path) rather than the harness
/// function that calls the macro. Run it after the spec's own assertions: a snapshot is
/// for reviewing behaviour changes, never the oracle. Snapshots are recorded for the
/// primary spec pin only (another pin, selected with `SPEC_PIN`, checks the spec's
/// assertions alone; README "Spec data" says why).
pub fn snapshot<T: serde::Serialize>(name: &str, value: &T) {
    if env!("SPEC_SNAPSHOTS") != "record" {
        return;
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(concat!(env!("CARGO_MANIFEST_DIR"), "/generated-tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(name);
    let file_name = name.replace("::", "__");
    settings.bind(|| insta::assert_yaml_snapshot!(file_name.as_str(), value));
}
