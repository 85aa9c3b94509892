//! The value types the unified format's schema shares (`unified-test-format.rst`, "Test
//! Format"): documents, non-empty lists, version strings, and the deserializers every part
//! of the model uses.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A JSON object whose contents are an arbitrary document (arguments, options, data).
pub type Document = Map<String, Value>;

/// Deserializes a field that is optional but, when present, must have type `T` (a `null`
/// is rejected, as the schema does).
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// A list the schema requires to hold at least one item (`minItems: 1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct NonEmpty<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for NonEmpty<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<T>::deserialize(d)?;
        if items.is_empty() {
            return Err(de::Error::custom("the array must have at least one item (minItems: 1)"));
        }
        Ok(Self(items))
    }
}

impl<T> std::ops::Deref for NonEmpty<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

/// A version string `major.minor[.patch]` (schema `version`: `^[0-9]+(\.[0-9]+){1,2}$`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major component.
    pub major: u32,
    /// Minor component.
    pub minor: u32,
    /// Patch component (0 when absent).
    pub patch: u32,
}

impl Version {
    /// Parses `major.minor[.patch]`; `None` when the text does not fit the pattern.
    pub fn parse(text: &str) -> Option<Self> {
        let parts: Vec<&str> = text.split('.').collect();
        if !(2..=3).contains(&parts.len())
            || parts.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let num = |p: &str| p.parse::<u32>().ok();
        Some(Self {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            patch: match parts.get(2) {
                Some(p) => num(p)?,
                None => 0,
            },
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Version::parse(&text).ok_or_else(|| {
            de::Error::custom(format!(
                "`{text}` is not a version string (`major.minor[.patch]`, digits only)"
            ))
        })
    }
}

/// `isError`, which the schema allows only as `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsTrue;

impl<'de> Deserialize<'de> for IsTrue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if bool::deserialize(d)? {
            Ok(IsTrue)
        } else {
            Err(de::Error::custom("`isError` may only be `true` (const: true)"))
        }
    }
}

/// Deserializes a string naming one of `names` (a value of another type is an invalid
/// type, an unknown string an unknown variant), giving its index.
pub(super) fn named<'de, D: Deserializer<'de>>(
    d: D,
    names: &'static [&'static str],
) -> Result<usize, D::Error> {
    struct Named(&'static [&'static str]);
    impl de::Visitor<'_> for Named {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a string, one of {:?}", self.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<usize, E> {
            self.0.iter().position(|n| *n == v).ok_or_else(|| E::unknown_variant(v, self.0))
        }
    }
    d.deserialize_str(Named(names))
}
