//! Read and write concerns (read-write-concern spec "Read Concern" and "Write Concern"):
//! from a command's document, from the URI options, and as sent to the server.

use std::time::Duration;

use bson::{Bson, Document, doc};

use super::connection_string::{Acknowledgment, UriOptions};
use crate::error::{Error, Result};

/// A read concern (read-write-concern spec "Read Concern"): its `level`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadConcern {
    /// `local`, `majority`, `linearizable`, `available`, `snapshot` or a newer level.
    pub level: String,
}

impl ReadConcern {
    /// A read concern of any level.
    pub fn custom(level: impl Into<String>) -> Self {
        Self { level: level.into() }
    }
    /// `local`.
    pub fn local() -> Self {
        Self::custom("local")
    }
    /// `majority`.
    pub fn majority() -> Self {
        Self::custom("majority")
    }
    /// `linearizable`.
    pub fn linearizable() -> Self {
        Self::custom("linearizable")
    }
    /// `available`.
    pub fn available() -> Self {
        Self::custom("available")
    }
    /// `snapshot`.
    pub fn snapshot() -> Self {
        Self::custom("snapshot")
    }
    /// The `readConcern` document.
    pub fn to_document(&self) -> Document {
        doc! {"level": self.level.clone()}
    }

    /// The read concern a `readConcern` document asks for: `None` for `{}` (the server's
    /// default, which is not sent); an error for a `level` that is not a string or for
    /// another key.
    ///
    /// ```
    /// use bson::doc;
    /// use mongo_driver::options::ReadConcern;
    /// assert_eq!(ReadConcern::from_document(&doc! {}).unwrap(), None);
    /// assert_eq!(ReadConcern::from_document(&doc! {"level": "local"}).unwrap(), Some(ReadConcern::local()));
    /// ```
    pub fn from_document(d: &Document) -> Result<Option<Self>> {
        let mut level = None;
        for (key, value) in d {
            match (key.as_str(), value) {
                ("level", Bson::String(l)) => level = Some(Self::custom(l.clone())),
                ("level", other) => {
                    return Err(Error::invalid_argument(format!(
                        "readConcern level must be a string, not {other}"
                    )));
                }
                (other, _) => {
                    return Err(Error::invalid_argument(format!("readConcern: unknown field `{other}`")));
                }
            }
        }
        Ok(level)
    }

    /// The default read concern a connection string sets (`readConcernLevel`), if any.
    pub fn from_uri_options(o: &UriOptions) -> Option<Self> {
        o.read_concern_level.clone().map(Self::custom)
    }
}

/// A write concern (read-write-concern spec "Write Concern"). The empty write concern
/// (the server's default) is not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteConcern {
    /// `w`.
    pub w: Option<Acknowledgment>,
    /// `j`.
    pub journal: Option<bool>,
    /// `wtimeout`.
    pub w_timeout: Option<Duration>,
}

impl WriteConcern {
    /// `w: "majority"`.
    pub fn majority() -> Self {
        Self { w: Some(Acknowledgment::Majority), ..Self::default() }
    }
    /// `w: n`.
    pub fn nodes(n: u32) -> Self {
        Self { w: Some(Acknowledgment::Nodes(n)), ..Self::default() }
    }
    /// Sets `j`.
    pub fn journal(mut self, journal: bool) -> Self {
        self.journal = Some(journal);
        self
    }
    /// Sets `wtimeout`.
    pub fn w_timeout(mut self, timeout: Duration) -> Self {
        self.w_timeout = Some(timeout);
        self
    }
    /// Whether nothing is set (the server's default).
    pub fn is_empty(&self) -> bool {
        self.w.is_none() && self.journal.is_none() && self.w_timeout.is_none()
    }
    /// Whether the write is acknowledged (`w: 0` without `j: true` is not).
    pub fn is_acknowledged(&self) -> bool {
        !matches!(self.w, Some(Acknowledgment::Nodes(0))) || self.journal == Some(true)
    }
    /// Checks the combination (read-write-concern spec "Write Concern"): `w: 0` with
    /// `j: true` asks for an acknowledgment of an unacknowledged write and is an error.
    pub fn validate(&self) -> Result<()> {
        if matches!(self.w, Some(Acknowledgment::Nodes(0))) && self.journal == Some(true) {
            return Err(Error::invalid_argument(
                "a write concern cannot combine w: 0 (unacknowledged) with j: true",
            ));
        }
        Ok(())
    }

    /// The write concern a `writeConcern` document (the form sent to the server: `w`, `j`,
    /// `wtimeout`) describes, validated (see [`WriteConcern::validate`]): `w` is a
    /// non-negative integer or a string (`"majority"` or a tag set name), `wtimeout` a
    /// non-negative number of milliseconds; `{}` is the server's default.
    ///
    /// ```
    /// use bson::doc;
    /// use mongo_driver::options::WriteConcern;
    /// let wc = WriteConcern::from_document(&doc! {"w": 0, "wtimeout": 500}).unwrap();
    /// assert!(!wc.is_acknowledged());
    /// assert!(WriteConcern::from_document(&doc! {"w": -3}).is_err());
    /// assert!(WriteConcern::from_document(&doc! {"w": 0, "j": true}).is_err());
    /// ```
    pub fn from_document(d: &Document) -> Result<Self> {
        let invalid = |m: String| Error::invalid_argument(format!("writeConcern: {m}"));
        let integer = |key: &str, v: &Bson| -> Result<u64> {
            let n = match v {
                Bson::Int32(n) => i64::from(*n),
                Bson::Int64(n) => *n,
                Bson::Double(f) if f.fract() == 0.0 => *f as i64,
                other => return Err(invalid(format!("`{key}` must be an integer, not {other}"))),
            };
            u64::try_from(n).map_err(|_| invalid(format!("`{key}` must not be negative, got {n}")))
        };
        let mut wc = Self::default();
        for (key, value) in d {
            match key.as_str() {
                "w" => {
                    wc.w = Some(match value {
                        Bson::String(s) if s == "majority" => Acknowledgment::Majority,
                        Bson::String(s) => Acknowledgment::Custom(s.clone()),
                        other => {
                            let n = integer("w", other)?;
                            Acknowledgment::Nodes(
                                u32::try_from(n).map_err(|_| invalid(format!("`w` {n} is too large")))?,
                            )
                        }
                    })
                }
                "j" => match value {
                    Bson::Boolean(j) => wc.journal = Some(*j),
                    other => return Err(invalid(format!("`j` must be a boolean, not {other}"))),
                },
                "wtimeout" => wc.w_timeout = Some(Duration::from_millis(integer("wtimeout", value)?)),
                other => return Err(invalid(format!("unknown field `{other}`"))),
            }
        }
        wc.validate()?;
        Ok(wc)
    }

    /// The default write concern a connection string sets (`w`, `journal`, `wTimeoutMS`);
    /// empty when it sets none.
    pub fn from_uri_options(o: &UriOptions) -> Self {
        Self { w: o.w.clone(), journal: o.journal, w_timeout: o.w_timeout }
    }

    /// The `writeConcern` document (empty when [`WriteConcern::is_empty`]).
    pub fn to_document(&self) -> Document {
        let mut d = Document::new();
        match &self.w {
            Some(Acknowledgment::Nodes(n)) => {
                d.insert("w", i64::from(*n));
            }
            Some(Acknowledgment::Majority) => {
                d.insert("w", "majority");
            }
            Some(Acknowledgment::Custom(tag)) => {
                d.insert("w", tag.clone());
            }
            None => {}
        }
        if let Some(j) = self.journal {
            d.insert("j", j);
        }
        if let Some(t) = self.w_timeout {
            d.insert("wtimeout", i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        }
        d
    }
}
