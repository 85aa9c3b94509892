//! Write errors as [`Error`]s (CRUD spec "Write Results": `writeErrors` and
//! `writeConcernError`): reading a reply's write error and turning one into an error. The
//! types themselves are in [`crate::results`], which stays free of the error type.

use bson::{Bson, Document};

use super::{Error, ErrorKind, Result};
use crate::results::{WriteConcernError, WriteError};

impl WriteError {
    /// Reads one `writeErrors` element; `offset` is the index of the batch's first statement.
    pub fn from_document(doc: &Document, offset: usize) -> Result<Self> {
        let index = match doc.get("index") {
            Some(Bson::Int32(i)) => usize::try_from(*i).ok(),
            Some(Bson::Int64(i)) => usize::try_from(*i).ok(),
            _ => None,
        }
        .ok_or_else(|| {
            Error::invalid_response(format!("writeErrors element without a valid index: {doc}"))
        })?;
        let code = match doc.get("code") {
            Some(Bson::Int32(c)) => *c,
            Some(Bson::Int64(c)) => i32::try_from(*c).unwrap_or(i32::MAX),
            Some(Bson::Double(c)) => *c as i32,
            _ => return Err(Error::invalid_response(format!("writeErrors element without a code: {doc}"))),
        };
        let code_name = match doc.get_str("codeName") {
            Ok(name) => name.to_string(),
            Err(_) => super::code::ErrorCode(code).name().unwrap_or_default().to_string(),
        };
        Ok(Self {
            index: offset + index,
            code,
            code_name,
            message: doc.get_str("errmsg").unwrap_or_default().to_string(),
            details: doc.get_document("errInfo").ok().cloned(),
        })
    }

    /// This write error as the error of a single-document write.
    pub fn into_error(self) -> Error {
        Error::new(ErrorKind::Write {
            code: self.code,
            code_name: self.code_name,
            message: self.message,
            details: self.details,
        })
    }
}

impl WriteConcernError {
    /// This write concern error as an [`ErrorKind::WriteConcern`](crate::ErrorKind::WriteConcern) error with its labels.
    pub fn into_error(self) -> Error {
        let mut error = Error::new(ErrorKind::WriteConcern {
            code: self.code,
            code_name: self.code_name,
            message: self.message,
        });
        for label in self.labels {
            error.add_label(label);
        }
        error
    }
}
