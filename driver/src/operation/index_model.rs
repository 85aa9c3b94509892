//! The index model (index-management spec "IndexModel" and "IndexOptions", "Index Name
//! Generation"): what `createIndexes` sends for each index. The collection's index actions
//! ([`crate::api::index_management`]) take these.

use std::time::Duration;

use bson::{Bson, Document};

use crate::options::Collation;

/// An index to create: its key pattern and options (index-management spec "IndexModel").
///
/// ```
/// use bson::doc;
/// use mongo_driver::index_management::{IndexModel, IndexOptions};
///
/// let model = IndexModel::new(doc! {"x": 1, "y": -1}).options(IndexOptions::default().unique(true));
/// assert_eq!(model.index_name(), "x_1_y_-1");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IndexModel {
    /// The key pattern (`{field: 1 | -1 | "text" | …}`).
    pub keys: Document,
    /// The index's options.
    pub options: IndexOptions,
}

impl IndexModel {
    /// An index on `keys` with default options.
    pub fn new(keys: Document) -> Self {
        Self { keys, options: IndexOptions::default() }
    }

    /// This model with `options`.
    pub fn options(mut self, options: IndexOptions) -> Self {
        self.options = options;
        self
    }

    /// The index's name: the one set in the options, else the name the spec has drivers
    /// generate ("Index Name Generation": each key and its value, joined by `_`).
    pub fn index_name(&self) -> String {
        if let Some(name) = &self.options.name {
            return name.clone();
        }
        let mut parts = Vec::new();
        for (key, value) in &self.keys {
            parts.push(key.clone());
            parts.push(match value {
                Bson::String(s) => s.clone(),
                Bson::Int32(n) => n.to_string(),
                Bson::Int64(n) => n.to_string(),
                Bson::Double(d) if d.fract() == 0.0 && d.abs() < 1e15 => (*d as i64).to_string(),
                other => other.to_string(),
            });
        }
        parts.join("_")
    }

    /// The index specification sent in `createIndexes.indexes`.
    pub fn to_spec(&self) -> Document {
        let mut spec = bson::doc! {"key": self.keys.clone(), "name": self.index_name()};
        spec.extend(self.options.to_document());
        spec
    }
}

/// Options of one index (index-management spec "IndexOptions"); the commonly used ones,
/// each sent under its server name.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct IndexOptions {
    /// The index name (default: generated from the keys).
    pub name: Option<String>,
    /// Reject documents whose key already exists.
    pub unique: Option<bool>,
    /// Only documents that have the indexed field.
    pub sparse: Option<bool>,
    /// Build in the background (ignored by 4.2+ servers).
    pub background: Option<bool>,
    /// A TTL index: documents expire this long after the indexed date.
    pub expire_after: Option<Duration>,
    /// Only documents matching this filter are indexed.
    pub partial_filter_expression: Option<Document>,
    /// The index's collation.
    pub collation: Option<Collation>,
    /// Hidden from the query planner (4.4+).
    pub hidden: Option<bool>,
    /// Text index field weights.
    pub weights: Option<Document>,
    /// A text index's default language.
    pub default_language: Option<String>,
    /// The field naming a text index document's language.
    pub language_override: Option<String>,
    /// A wildcard index's projection.
    pub wildcard_projection: Option<Document>,
    /// The index version (`v`).
    pub version: Option<i32>,
}

impl IndexOptions {
    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets `unique`.
    pub fn unique(mut self, unique: bool) -> Self {
        self.unique = Some(unique);
        self
    }

    /// Sets `sparse`.
    pub fn sparse(mut self, sparse: bool) -> Self {
        self.sparse = Some(sparse);
        self
    }

    /// Sets `hidden`.
    pub fn hidden(mut self, hidden: bool) -> Self {
        self.hidden = Some(hidden);
        self
    }

    /// Sets the TTL (`expireAfterSeconds`, whole seconds).
    pub fn expire_after(mut self, after: Duration) -> Self {
        self.expire_after = Some(after);
        self
    }

    /// Sets `partialFilterExpression`.
    pub fn partial_filter_expression(mut self, filter: Document) -> Self {
        self.partial_filter_expression = Some(filter);
        self
    }

    /// The options as index specification fields (without `key` and `name`).
    fn to_document(&self) -> Document {
        let mut d = Document::new();
        let flags = [
            ("unique", self.unique),
            ("sparse", self.sparse),
            ("background", self.background),
            ("hidden", self.hidden),
        ];
        for (key, value) in flags {
            if let Some(v) = value {
                d.insert(key, v);
            }
        }
        if let Some(after) = self.expire_after {
            d.insert("expireAfterSeconds", i64::try_from(after.as_secs()).unwrap_or(i64::MAX));
        }
        let docs = [
            ("partialFilterExpression", &self.partial_filter_expression),
            ("weights", &self.weights),
            ("wildcardProjection", &self.wildcard_projection),
        ];
        for (key, value) in docs {
            if let Some(v) = value {
                d.insert(key, v.clone());
            }
        }
        if let Some(c) = &self.collation {
            d.insert("collation", Bson::from(c.clone()));
        }
        if let Some(l) = &self.default_language {
            d.insert("default_language", l.clone());
        }
        if let Some(l) = &self.language_override {
            d.insert("language_override", l.clone());
        }
        if let Some(v) = self.version {
            d.insert("v", v);
        }
        d
    }
}
