//! Rust identifiers for spec files and cases (`snake_case`, keyword-safe, unique).

use std::collections::HashSet;

use heck::ToSnakeCase;

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern", "false",
    "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "try", "typeof",
    "unsized", "virtual", "yield", "test",
];

/// Turns a file stem or case description into a snake_case Rust identifier: every run
/// of non-alphanumeric characters becomes one `_`, a leading digit gets an `n` prefix,
/// and a keyword gets a trailing `_`.
pub fn ident(text: &str) -> String {
    let cleaned: String = text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' }).collect();
    let mut s = cleaned.to_snake_case();
    if s.is_empty() {
        s.push_str("unnamed");
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'n');
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// Hands out identifiers unique within one scope: a repeat of `x` becomes `x_2`, `x_3`, ….
#[derive(Debug, Default)]
pub struct Unique {
    taken: HashSet<String>,
}

impl Unique {
    /// The identifier for `text`, made unique in this scope.
    pub fn ident(&mut self, text: &str) -> String {
        let base = ident(text);
        if self.taken.insert(base.clone()) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}_{n}"))
            .find(|candidate| self.taken.insert(candidate.clone()))
            .expect("an unbounded range always yields a free name")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert_eq!(ident("ReplicaSetNoPrimary"), "replica_set_no_primary");
        assert_eq!(ident("Nearest2"), "nearest2");
        assert_eq!(ident("SecondaryPreferred_tags"), "secondary_preferred_tags");
        assert_eq!(
            ident("dirty explicit session is discarded (insert)"),
            "dirty_explicit_session_is_discarded_insert"
        );
        assert_eq!(ident("type"), "type_");
        assert_eq!(ident("2 servers"), "n2_servers");
        assert_eq!(ident("--"), "unnamed");
    }

    #[test]
    fn unique_names() {
        let mut u = Unique::default();
        assert_eq!(u.ident("a b"), "a_b");
        assert_eq!(u.ident("a-b"), "a_b_2");
        assert_eq!(u.ident("A B"), "a_b_3");
    }
}
