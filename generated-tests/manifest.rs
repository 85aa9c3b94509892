//! The committed manifest of the selected spec pin (`generated-tests/MANIFEST.tsv` for the
//! primary pin, the file `manifest` names in `spec-data/pin.toml` for another pin selected
//! with `SPEC_PIN`) must list exactly the tests the generator makes from its spec data.

use std::path::Path;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/MANIFEST.tsv"));
/// The committed manifest of the pin this build generated, relative to the workspace root.
const COMMITTED: &str = env!("SPEC_MANIFEST");

#[test]
fn manifest_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(COMMITTED);
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == GENERATED {
        return;
    }
    if std::env::var_os("UPDATE_MANIFEST").is_some() {
        std::fs::write(&path, GENERATED).unwrap_or_else(|e| panic!("write {COMMITTED}: {e}"));
        return;
    }
    let old: std::collections::BTreeSet<&str> = committed.lines().collect();
    let new: std::collections::BTreeSet<&str> = GENERATED.lines().collect();
    let mut diff = String::new();
    for line in new.difference(&old).take(40) {
        diff.push_str(&format!("+ {line}\n"));
    }
    for line in old.difference(&new).take(40) {
        diff.push_str(&format!("- {line}\n"));
    }
    let pin = env!("SPEC_PIN");
    panic!(
        "{COMMITTED} (spec pin {pin}) is stale; regenerate it with\n\n    \
         SPEC_PIN={pin} UPDATE_MANIFEST=1 cargo test --test manifest\n\nand review the diff:\n{diff}"
    );
}
