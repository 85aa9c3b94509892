//! The generated error-code table and the spec classifications over it, checked against the
//! code lists in the pinned spec text (SDAM "Error handling", retryable-writes "Determining
//! Retryable Errors", retryable-reads "Retryable Error") and against `error_codes.yml`.

use std::path::PathBuf;

use mongo_driver::Error;
use mongo_driver::error_code::{self, ErrorCategory, ErrorCode};

fn spec_root() -> PathBuf {
    let root = env!("MONGO_DRIVER_SPEC_ROOT");
    assert!(
        !root.is_empty(),
        "{}",
        option_env!("MONGO_DRIVER_SPEC_MISSING").unwrap_or("spec data not found")
    );
    PathBuf::from(root)
}

fn spec_text(rel: &str) -> (String, String) {
    let path = spec_root().join("source").join(rel);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (path.display().to_string(), text)
}

/// The rows (name, code) of the first `.. list-table::` after the line holding `anchor`.
fn list_table_after(file: &(String, String), anchor: &str) -> Vec<(String, i32)> {
    let (path, text) = file;
    let lines: Vec<&str> = text.lines().collect();
    let start =
        lines.iter().position(|l| l.contains(anchor)).unwrap_or_else(|| panic!("{path}: no `{anchor}`"));
    let table = (start..lines.len())
        .find(|&i| lines[i].trim_start().starts_with(".. list-table::"))
        .unwrap_or_else(|| panic!("{path}: no list-table after `{anchor}`"));
    let indent = lines[table].len() - lines[table].trim_start().len();
    let mut cells = Vec::new();
    for line in &lines[table + 1..] {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with(':') {
            continue;
        }
        if line.len() - trimmed.len() <= indent {
            break;
        }
        cells.push(trimmed.trim_start_matches("* ").trim_start_matches("- ").trim().to_string());
    }
    rows(path, &cells)
}

/// The rows of the first rst simple table (`=== ===`) after the line holding `anchor`.
fn simple_table_after(file: &(String, String), anchor: &str) -> Vec<(String, i32)> {
    let (path, text) = file;
    let lines: Vec<&str> = text.lines().collect();
    let start =
        lines.iter().position(|l| l.contains(anchor)).unwrap_or_else(|| panic!("{path}: no `{anchor}`"));
    let is_rule = |l: &str| !l.trim().is_empty() && l.trim().chars().all(|c| c == '=' || c == ' ');
    let rules: Vec<usize> = (start..lines.len()).filter(|&i| is_rule(lines[i])).take(3).collect();
    assert_eq!(rules.len(), 3, "{path}: no simple table after `{anchor}`");
    let mut cells = Vec::new();
    for line in &lines[rules[1] + 1..rules[2]] {
        cells.extend(line.split_whitespace().map(str::to_string));
    }
    rows(path, &cells)
}

fn rows(path: &str, cells: &[String]) -> Vec<(String, i32)> {
    assert!(cells.len() >= 2 && cells.len() % 2 == 0, "{path}: odd table {cells:?}");
    let mut out: Vec<(String, i32)> = cells
        .chunks(2)
        .filter(|pair| pair[1] != "Error Code")
        .map(|pair| {
            (pair[0].clone(), pair[1].parse().unwrap_or_else(|_| panic!("{path}: bad code {pair:?}")))
        })
        .collect();
    out.sort_by_key(|r| r.1);
    out
}

/// The integers of the pseudocode line `name = [a, b, ...]`.
fn pseudocode_list(file: &(String, String), name: &str) -> Vec<i32> {
    let (path, text) = file;
    let prefix = format!("{name} = [");
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&prefix))
        .unwrap_or_else(|| panic!("{path}: no {name}"));
    let inner = line.trim().trim_start_matches(&prefix).trim_end_matches(']');
    let mut codes: Vec<i32> = inner.split(',').map(|c| c.trim().parse().expect("pseudocode code")).collect();
    codes.sort();
    codes
}

/// Every listed code has the spec's name in our table and satisfies `pred`; every other
/// known code (and a few unknown ones) does not.
fn check(what: &str, listed: &[(String, i32)], pred: impl Fn(ErrorCode) -> bool) {
    assert!(!listed.is_empty(), "{what}: empty list");
    for (name, code) in listed {
        assert_eq!(ErrorCode(*code).name(), Some(name.as_str()), "{what}: code {code} name");
        assert_eq!(ErrorCode::from_name(name), Some(ErrorCode(*code)), "{what}: lookup of {name}");
        assert!(
            pred(ErrorCode(*code)),
            "{what}: {name} ({code}) is listed by the spec but not classified so"
        );
    }
    for code in ErrorCode::all().chain([ErrorCode(-1), ErrorCode(123_456_789)]) {
        if !listed.iter().any(|(_, c)| *c == code.0) {
            assert!(
                !pred(code),
                "{what}: {:?} ({}) is not listed by the spec but classified so",
                code.name(),
                code.0
            );
        }
    }
}

const SDAM: &str = "server-discovery-and-monitoring/server-discovery-and-monitoring.rst";

#[test]
fn sdam_node_is_recovering_codes_match_the_spec() {
    let sdam = spec_text(SDAM);
    let listed = list_table_after(&sdam, "These are called \"node is recovering\" errors:");
    let codes: Vec<i32> = listed.iter().map(|r| r.1).collect();
    assert_eq!(codes, pseudocode_list(&sdam, "recoveringCodes"), "table and pseudocode agree");
    check("node is recovering", &listed, ErrorCode::is_node_is_recovering);
    check("node is recovering (code, msg)", &listed, |c| {
        error_code::is_node_is_recovering(Some(c.0), "not master")
    });
}

#[test]
fn sdam_not_writable_primary_codes_match_the_spec() {
    let sdam = spec_text(SDAM);
    let listed = list_table_after(&sdam, "indicate a \"not writable primary\" error:");
    let codes: Vec<i32> = listed.iter().map(|r| r.1).collect();
    assert_eq!(codes, pseudocode_list(&sdam, "notWritablePrimaryCodes"));
    check("not writable primary", &listed, ErrorCode::is_not_writable_primary);
    check("not writable primary (code, msg)", &listed, |c| {
        error_code::is_not_writable_primary(Some(c.0), "node is recovering")
    });
}

#[test]
fn sdam_shutting_down_codes_match_the_spec() {
    let sdam = spec_text(SDAM);
    let listed = list_table_after(&sdam, "subset of \"node is recovering\" errors is defined");
    let codes: Vec<i32> = listed.iter().map(|r| r.1).collect();
    assert_eq!(codes, pseudocode_list(&sdam, "shutdownCodes"));
    check("node is shutting down", &listed, ErrorCode::is_shutting_down);
    check("node is shutting down (code)", &listed, |c| error_code::is_shutting_down(Some(c.0)));
    assert!(!error_code::is_shutting_down(None));
}

#[test]
fn sdam_other_transient_network_codes_match_the_spec() {
    let sdam = spec_text(SDAM);
    let listed = list_table_after(&sdam, "may be returned from a mongos when it cannot route");
    check("network routing", &listed, ErrorCode::is_network_routing);
    // SDAM: these must not mark the server Unknown, so they are not state-change errors.
    for (_, code) in &listed {
        assert!(!ErrorCode(*code).is_state_change());
    }
}

#[test]
fn retryable_write_codes_match_the_spec() {
    let rw = spec_text("retryable-writes/retryable-writes.rst");
    let listed = list_table_after(&rw, "errors that meet the following criteria if the retryWrites");
    check("retryable write", &listed, ErrorCode::is_retryable_write);
}

#[test]
fn retryable_read_codes_match_the_spec() {
    let rr = spec_text("retryable-reads/retryable-reads.rst");
    let mut listed = simple_table_after(&rr, "a server error response with any the following codes:");
    // The driver follows the spec's 2023-11 list; a pinned revision older than that lacks
    // the codes added then, and lists every other one.
    for code in error_code::RETRYABLE_READ_ADDED_2023 {
        if !listed.iter().any(|(_, c)| *c == code.0) {
            let name = code.name().expect("an added retryable read code has a name");
            listed.push((name.to_string(), code.0));
        }
    }
    assert_eq!(listed.len(), error_code::RETRYABLE_READ.len(), "retryable read: {listed:?}");
    check("retryable read", &listed, ErrorCode::is_retryable_read);
}

#[test]
fn sdam_message_fallback_applies_only_without_a_code() {
    use error_code::{is_node_is_recovering as recovering, is_not_writable_primary as not_primary};
    // No code: the substrings decide.
    assert!(recovering(None, "node is recovering"));
    assert!(recovering(None, "xx not master or secondary; yy"));
    assert!(
        !not_primary(None, "not master or secondary"),
        "a recovering message is not 'not writable primary'"
    );
    assert!(not_primary(None, "not master"));
    assert!(!recovering(None, "not master"));
    assert!(!recovering(None, "some other error") && !not_primary(None, "some other error"));
    // A code is present: the message is ignored.
    assert!(!recovering(Some(1), "node is recovering"));
    assert!(!not_primary(Some(2), "not master"));
    assert!(recovering(Some(11600), "whatever"));
    assert!(not_primary(Some(10107), "whatever"));
}

#[test]
fn driver_errors_classify_through_the_table() {
    let e = Error::command(10107, "", "not primary");
    assert_eq!(e.code(), Some(10107));
    assert_eq!(e.code_name(), Some("NotWritablePrimary"), "name filled from the table");
    assert!(e.is_not_writable_primary() && e.is_state_change() && !e.is_node_is_recovering());
    assert!(e.is_retryable_write_code() && e.is_retryable_read_code());

    let e = Error::command(262, "ExceededTimeLimit", "timeout");
    assert!(e.is_retryable_write_code() && e.is_retryable_read_code() && !e.is_state_change());

    let e = Error::command(134, "ReadConcernMajorityNotAvailableYet", "not yet");
    assert!(!e.is_retryable_write_code() && e.is_retryable_read_code() && !e.is_state_change());

    let e = Error::command(91, "ShutdownInProgress", "bye");
    assert!(e.is_shutting_down() && e.is_node_is_recovering());

    let wce = Error::new(mongo_driver::ErrorKind::WriteConcern {
        code: 11602,
        code_name: "InterruptedDueToReplStateChange".into(),
        message: "stepdown".into(),
    });
    assert_eq!(wce.code(), Some(11602));
    assert!(wce.is_node_is_recovering() && wce.is_retryable_write_code());

    let e = Error::command(9001, "SocketException", "");
    assert!(e.is_network_routing() && !e.is_state_change());

    let e = Error::invalid_argument("x");
    assert_eq!(e.code(), None);
    assert!(!e.is_state_change() && !e.is_retryable_write_code());
}

#[test]
fn table_matches_error_codes_yml() {
    let root = PathBuf::from(env!("MONGO_DRIVER_SERVER_ROOT"));
    let file = root.join(spec_codegen::error_codes::ERROR_CODES_YML);
    let yml = spec_codegen::error_codes::ErrorCodes::load(&file).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ErrorCode::KNOWN, yml.codes.len());
    assert_eq!(ErrorCategory::ALL.len(), yml.categories.len());
    for def in &yml.codes {
        let code = ErrorCode(def.code);
        assert_eq!(code.name(), Some(def.name.as_str()));
        assert_eq!(ErrorCode::from_name(&def.name), Some(code));
        let cats: Vec<&str> = code.categories().iter().map(|c| c.name()).collect();
        assert_eq!(cats, def.categories, "categories of {}", def.name);
        for cat in &def.categories {
            let category = ErrorCategory::from_name(cat).expect("declared category");
            assert!(code.is_in(category));
        }
    }
    let ascending: Vec<i32> = ErrorCode::all().map(|c| c.0).collect();
    assert!(ascending.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn unknown_codes_are_representable() {
    let code = ErrorCode(987_654);
    assert!(!code.is_known());
    assert_eq!(code.name(), None);
    assert!(code.categories().is_empty());
    assert_eq!(ErrorCode::from_name("NoSuchCodeName"), None);
    assert_eq!(code.to_string(), "987654");
    assert_eq!(ErrorCode(91).to_string(), "ShutdownInProgress (91)");
    let e = Error::command(987_654, "", "novel");
    assert_eq!(e.code_name(), None);
    assert!(e.to_string().contains("987654"));
}

#[test]
fn errors_from_replies_carry_code_name_message_and_labels() {
    use bson::doc;
    let reply = doc! {"ok": 0.0, "errmsg": "not primary", "code": 10107, "codeName": "NotWritablePrimary", "errorLabels": ["RetryableWriteError"]};
    let e = Error::from_reply(&reply).expect("ok: 0 is an error");
    assert!(matches!(&*e.kind, mongo_driver::ErrorKind::Command { .. }));
    assert_eq!(
        (e.code(), e.code_name(), e.server_message()),
        (Some(10107), Some("NotWritablePrimary"), Some("not primary"))
    );
    assert!(e.contains_label("RetryableWriteError") && e.is_not_writable_primary());

    // No code: SDAM's message fallback applies.
    let e = Error::from_reply(&doc! {"ok": 0, "errmsg": "node is recovering"}).expect("error");
    assert_eq!(e.code(), Some(0), "stored as code 0 (OK)");
    assert!(e.is_node_is_recovering() && !e.is_not_writable_primary(), "no code: the message decides");
    let e = Error::from_reply(&doc! {"ok": 0, "errmsg": "not master"}).expect("error");
    assert!(e.is_not_writable_primary() && e.is_state_change());
    let e = Error::from_reply(&doc! {"ok": 0, "code": 2, "errmsg": "not master"}).expect("error");
    assert!(!e.is_not_writable_primary(), "a code is present: the message is not consulted");

    let wce = doc! {"ok": 1, "n": 1, "writeConcernError": {"code": 91, "codeName": "ShutdownInProgress", "errmsg": "bye"}};
    let e = Error::from_reply(&wce).expect("a write concern error");
    assert!(matches!(&*e.kind, mongo_driver::ErrorKind::WriteConcern { code: 91, .. }));
    assert!(e.is_shutting_down() && e.is_retryable_write_code());

    assert!(Error::from_reply(&doc! {"ok": 1.0, "n": 1}).is_none());
    assert!(Error::from_reply(&doc! {"ok": true}).is_none());
}
