//! The committed manifest (`generated-tests/MANIFEST.tsv`) must list exactly the tests
//! the generator makes from the pinned spec data.

use std::path::Path;

const GENERATED: &str = include_str!(concat!(env!("OUT_DIR"), "/MANIFEST.tsv"));

#[test]
fn manifest_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated-tests/MANIFEST.tsv");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == GENERATED {
        return;
    }
    if std::env::var_os("UPDATE_MANIFEST").is_some() {
        std::fs::write(&path, GENERATED).expect("write generated-tests/MANIFEST.tsv");
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
    panic!(
        "generated-tests/MANIFEST.tsv is stale; regenerate it with\n\n    \
         UPDATE_MANIFEST=1 cargo test --test manifest\n\nand review the diff:\n{diff}"
    );
}
