//! Bounds-checked reading of wire-protocol fields (little-endian integers, cstrings, BSON
//! documents) from untrusted bytes, and the matching writers.

use bson::{Document, RawDocument};

use crate::error::{Error, Result};

/// A cursor over untrusted bytes; every read checks the bounds and names `what` it is
/// reading in its error.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn error(&self, field: &str, problem: impl std::fmt::Display) -> Error {
        Error::invalid_response(format!("{}: {field} at byte {}: {problem}", self.what, self.pos))
    }

    pub(crate) fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.error(field, format!("needs {n} bytes, only {} remain", self.remaining())));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, field: &str) -> Result<[u8; N]> {
        let bytes = self.take(N, field)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &str) -> Result<u8> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn i32(&mut self, field: &str) -> Result<i32> {
        self.array(field).map(i32::from_le_bytes)
    }

    pub(crate) fn u32(&mut self, field: &str) -> Result<u32> {
        self.array(field).map(u32::from_le_bytes)
    }

    pub(crate) fn i64(&mut self, field: &str) -> Result<i64> {
        self.array(field).map(i64::from_le_bytes)
    }

    /// A NUL-terminated UTF-8 string.
    pub(crate) fn cstring(&mut self, field: &str) -> Result<String> {
        let rest = &self.buf[self.pos..];
        let end = rest.iter().position(|b| *b == 0).ok_or_else(|| self.error(field, "no NUL terminator"))?;
        let text = std::str::from_utf8(&rest[..end]).map_err(|e| self.error(field, e))?.to_string();
        self.pos += end + 1;
        Ok(text)
    }

    /// A BSON document, sized by its leading int32.
    pub(crate) fn document(&mut self, field: &str) -> Result<Document> {
        let start = self.pos;
        let declared = {
            let mut peek = Reader { buf: self.buf, pos: start, what: self.what };
            peek.i32(field)?
        };
        if declared < 5 || declared as usize > self.remaining() {
            return Err(self.error(
                field,
                format!(
                    "a BSON document of {declared} bytes does not fit the {} bytes left",
                    self.remaining()
                ),
            ));
        }
        let bytes = &self.buf[start..start + declared as usize];
        let raw = RawDocument::from_bytes(bytes).map_err(|e| self.error(field, e))?;
        let doc = Document::try_from(raw).map_err(|e| self.error(field, e))?;
        self.pos += declared as usize;
        Ok(doc)
    }
}

/// Appends `doc` encoded as BSON to `out`.
pub(crate) fn write_document(out: &mut Vec<u8>, doc: &Document, what: &str) -> Result<()> {
    let bytes =
        doc.to_vec().map_err(|e| Error::invalid_argument(format!("cannot encode {what} as BSON: {e}")))?;
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Appends `text` as a cstring, refusing interior NULs.
pub(crate) fn write_cstring(out: &mut Vec<u8>, text: &str, what: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(Error::invalid_argument(format!("{what} `{}` contains a NUL byte", text.escape_debug())));
    }
    out.extend_from_slice(text.as_bytes());
    out.push(0);
    Ok(())
}

/// Overwrites the int32 at `at` in `out` with `value` (for lengths known only after writing).
pub(crate) fn patch_i32(out: &mut [u8], at: usize, value: i32) {
    out[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// `len` as an int32 length field, or an error if it does not fit.
pub(crate) fn length_i32(len: usize, what: &str) -> Result<i32> {
    i32::try_from(len)
        .map_err(|_| Error::invalid_argument(format!("{what} of {len} bytes is too large for the wire")))
}
