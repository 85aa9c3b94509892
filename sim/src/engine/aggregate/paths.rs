//! Dotted-path writes into documents (set, `$addFields`-style merge, remove), as stages and
//! the positional projection use them.

use bson::{Bson, Document};

use crate::engine::matcher::get_path;

/// Sets a dotted path, creating (or replacing non-document) intermediates with documents.
pub fn set_path(doc: &mut Document, path: &str, v: Bson) {
    match path.split_once('.') {
        None => {
            doc.insert(path.to_string(), v);
        }
        Some((head, rest)) => {
            if !matches!(doc.get(head), Some(Bson::Document(_))) {
                doc.insert(head.to_string(), Bson::Document(Document::new()));
            }
            if let Some(Bson::Document(sub)) = doc.get_mut(head) {
                set_path(sub, rest, v);
            }
        }
    }
}

/// Sets a computed field the way `$addFields` does: an object literal merges into an
/// existing embedded document instead of replacing it (manual "$addFields: Adding Fields to
/// an Embedded Document").
pub(super) fn merge_path(doc: &mut Document, path: &str, v: Bson, e: &Bson) {
    let plain_object = matches!(e, Bson::Document(d) if !d.keys().next().is_some_and(|k| k.starts_with('$')));
    if let (true, Bson::Document(new), Some(Bson::Document(old))) = (plain_object, &v, get_path(doc, path)) {
        let mut merged = old.clone();
        let Bson::Document(exprs) = e else { return };
        for (k, x) in new {
            let sub_expr = exprs.get(k).cloned().unwrap_or(Bson::Null);
            merge_path(&mut merged, k, x.clone(), &sub_expr);
        }
        set_path(doc, path, Bson::Document(merged));
        return;
    }
    set_path(doc, path, v);
}

/// Removes a dotted path (through arrays of documents too).
pub fn remove_path(doc: &mut Document, path: &str) {
    match path.split_once('.') {
        None => {
            doc.remove(path);
        }
        Some((head, rest)) => match doc.get_mut(head) {
            Some(Bson::Document(sub)) => remove_path(sub, rest),
            Some(Bson::Array(items)) => {
                for i in items {
                    if let Bson::Document(sub) = i {
                        remove_path(sub, rest);
                    }
                }
            }
            _ => {}
        },
    }
}
