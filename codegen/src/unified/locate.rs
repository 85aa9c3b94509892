//! JSON pointers for errors in a unified file's typed model (`unified-test-format.rst`,
//! "Test Format": entities and events are one-key objects naming their type).

/// A JSON pointer for a serde path, keeping enum variants (which are keys in the JSON).
pub(crate) fn pointer_with_variants(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("/{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push('/');
                out.push_str(&crate::error::escape_token(key));
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Explains a value that is neither a name from an allowed list nor a one-key object.
pub(crate) fn shape_message(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::Object(map)) => format!(
            "expected an object with exactly one key naming its type, found {} keys{}",
            map.len(),
            if map.is_empty() {
                String::new()
            } else {
                format!(" ({})", map.keys().cloned().collect::<Vec<_>>().join(", "))
            }
        ),
        Some(other) => format!(
            "invalid type: {other}, expected a string naming one of the allowed values or a one-key object"
        ),
        None => "expected a string naming one of the allowed values or a one-key object".to_string(),
    }
}
