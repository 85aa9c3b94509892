//! The wire protocol (OP_MSG spec; legacy OP_QUERY/OP_REPLY for the handshake; OP_COMPRESSED):
//! message framing, parsing of client requests and encoding of server replies.

mod error;

use bson::Document;

pub use error::WireError;

/// `maxMessageSizeBytes`: the largest message a node accepts (and announces in `hello`).
pub const MAX_MESSAGE_SIZE: usize = 48_000_000;

/// Length of the standard message header.
pub const HEADER_LEN: usize = 16;
/// `OP_REPLY`: the legacy reply to an `OP_QUERY`.
pub const OP_REPLY: i32 = 1;
/// `OP_QUERY`: the legacy query, still used for the first `isMaster`/`hello`.
pub const OP_QUERY: i32 = 2004;
/// `OP_COMPRESSED`: a compressed wrapper around another message.
pub const OP_COMPRESSED: i32 = 2012;
/// `OP_MSG`: the extensible message format of every modern command.
pub const OP_MSG: i32 = 2013;

/// `OP_MSG` flag: a CRC-32C checksum follows the sections.
pub const CHECKSUM_PRESENT: u32 = 1;
/// `OP_MSG` flag: another message follows without waiting for a reply.
pub const MORE_TO_COME: u32 = 1 << 1;
/// `OP_MSG` flag: the client accepts several replies (exhaust).
pub const EXHAUST_ALLOWED: u32 = 1 << 16;
/// Flag bits 0–15 are "required": an unknown one must be rejected.
const REQUIRED_BITS: u32 = 0xFFFF;

/// `OP_QUERY` flag: reads on a secondary are allowed.
pub const QUERY_SECONDARY_OK: i32 = 1 << 2;

/// The standard header of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total length of the message, header included.
    pub message_length: i32,
    /// The sender's identifier for this message.
    pub request_id: i32,
    /// The `request_id` this message answers (0 for requests).
    pub response_to: i32,
    /// The message's opcode.
    pub op_code: i32,
}

impl Header {
    /// Reads a header from its 16 bytes.
    pub fn parse(bytes: &[u8; HEADER_LEN]) -> Self {
        let int = |i: usize| i32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Self { message_length: int(0), request_id: int(4), response_to: int(8), op_code: int(12) }
    }

    /// Checks `message_length` against the size limit and returns the body length.
    pub fn body_len(&self, max_message_size: usize) -> Result<usize, WireError> {
        let length = i64::from(self.message_length);
        if length < HEADER_LEN as i64 || length > max_message_size as i64 {
            return Err(WireError::BadLength { length, max: max_message_size });
        }
        Ok(self.message_length as usize - HEADER_LEN)
    }

    fn write(&self, out: &mut Vec<u8>) {
        for v in [self.message_length, self.request_id, self.response_to, self.op_code] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// A parsed `OP_MSG`: its flags and the body with every document sequence merged in as an
/// array field.
#[derive(Debug, Clone, PartialEq)]
pub struct OpMsg {
    /// The flag bits.
    pub flags: u32,
    /// The command body.
    pub body: Document,
}

/// A parsed legacy `OP_QUERY`.
#[derive(Debug, Clone, PartialEq)]
pub struct OpQuery {
    /// The flag bits.
    pub flags: i32,
    /// `db.collection`, `db.$cmd` for commands.
    pub full_collection_name: String,
    /// `numberToSkip`.
    pub number_to_skip: i32,
    /// `numberToReturn`.
    pub number_to_return: i32,
    /// The query (the command, possibly wrapped in `$query`).
    pub query: Document,
}

/// A client request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// An `OP_MSG`.
    Msg(OpMsg),
    /// An `OP_QUERY`.
    Query(OpQuery),
}

/// A cursor over a byte slice that never reads past its end.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.remaining() < n {
            return Err(WireError::Truncated(what));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, WireError> {
        let b = self.take(4, what)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        Ok(self.i32(what)? as u32)
    }

    fn cstring(&mut self, what: &'static str) -> Result<String, WireError> {
        let rest = &self.bytes[self.pos..];
        let end = rest.iter().position(|b| *b == 0).ok_or(WireError::Truncated(what))?;
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.pos += end + 1;
        Ok(s)
    }

    fn document(&mut self, context: &'static str) -> Result<Document, WireError> {
        let len_bytes = self.bytes.get(self.pos..self.pos + 4).ok_or(WireError::Truncated(context))?;
        let len = i32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
        if len < 5 {
            return Err(WireError::Bson { context, message: format!("document length {len}") });
        }
        let raw = self.take(len as usize, context)?;
        Document::from_reader(raw).map_err(|e| WireError::Bson { context, message: e.to_string() })
    }
}

/// Parses one whole message (header included) sent by a client; `OP_COMPRESSED` is unwrapped
/// with any supported compressor (see [`crate::compression`]).
pub fn parse_request(message: &[u8]) -> Result<Request, WireError> {
    let header_bytes: &[u8; HEADER_LEN] =
        message.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(WireError::Truncated("header"))?;
    let header = Header::parse(header_bytes);
    if header.message_length as i64 != message.len() as i64 {
        return Err(WireError::BadLength { length: header.message_length.into(), max: message.len() });
    }
    let body = &message[HEADER_LEN..];
    match header.op_code {
        OP_MSG => parse_op_msg(message).map(Request::Msg),
        OP_QUERY => parse_op_query(body).map(Request::Query),
        OP_COMPRESSED => {
            let mut r = Reader::new(body);
            let original = r.i32("originalOpcode")?;
            let size = r.i32("uncompressedSize")?;
            let compressor = r.u8("compressorId")?;
            if size < 0 || HEADER_LEN + size as usize > MAX_MESSAGE_SIZE || original == OP_COMPRESSED {
                return Err(WireError::Truncated("compressed payload"));
            }
            let payload = crate::compression::decompress(compressor, &body[r.pos..], size as usize)?;
            let mut inner = Vec::with_capacity(HEADER_LEN + payload.len());
            Header { message_length: (HEADER_LEN + payload.len()) as i32, op_code: original, ..header }
                .write(&mut inner);
            inner.extend_from_slice(&payload);
            parse_request(&inner)
        }
        other => Err(WireError::UnsupportedOpCode(other)),
    }
}

fn parse_op_msg(message: &[u8]) -> Result<OpMsg, WireError> {
    let mut r = Reader::new(&message[HEADER_LEN..]);
    let flags = r.u32("flagBits")?;
    let unknown = flags & REQUIRED_BITS & !(CHECKSUM_PRESENT | MORE_TO_COME);
    if unknown != 0 {
        return Err(WireError::UnknownRequiredFlags(unknown));
    }
    let mut sections_end = message.len() - HEADER_LEN;
    if flags & CHECKSUM_PRESENT != 0 {
        if message.len() < HEADER_LEN + 8 {
            return Err(WireError::Truncated("checksum"));
        }
        let split = message.len() - 4;
        let tail = &message[split..];
        let expected = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
        let actual = crc32c::crc32c(&message[..split]);
        if expected != actual {
            return Err(WireError::Checksum { expected, actual });
        }
        sections_end -= 4;
    }
    let mut r = Reader::new(&r.bytes[..sections_end]);
    r.pos = 4;
    let mut body: Option<Document> = None;
    let mut bodies = 0;
    let mut sequences: Vec<(String, Vec<bson::Bson>)> = Vec::new();
    while r.remaining() > 0 {
        match r.u8("section kind")? {
            0 => {
                bodies += 1;
                body = Some(r.document("body section")?);
            }
            1 => {
                let size = r.i32("sequence size")?;
                if size < 4 {
                    return Err(WireError::Truncated("document sequence"));
                }
                let bytes = r.take(size as usize - 4, "document sequence")?;
                let mut seq = Reader::new(bytes);
                let identifier = seq.cstring("sequence identifier")?;
                let mut docs = Vec::new();
                while seq.remaining() > 0 {
                    docs.push(bson::Bson::Document(seq.document("document sequence")?));
                }
                sequences.push((identifier, docs));
            }
            kind => return Err(WireError::UnknownSectionKind(kind)),
        }
    }
    let mut body = match (bodies, body) {
        (1, Some(body)) => body,
        (n, _) => return Err(WireError::BodyCount(n)),
    };
    for (identifier, docs) in sequences {
        if body.contains_key(&identifier) {
            return Err(WireError::DuplicateField(identifier));
        }
        body.insert(identifier, bson::Bson::Array(docs));
    }
    Ok(OpMsg { flags, body })
}

fn parse_op_query(body: &[u8]) -> Result<OpQuery, WireError> {
    let mut r = Reader::new(body);
    let flags = r.i32("flags")?;
    let full_collection_name = r.cstring("fullCollectionName")?;
    let number_to_skip = r.i32("numberToSkip")?;
    let number_to_return = r.i32("numberToReturn")?;
    let query = r.document("query")?;
    if r.remaining() > 0 {
        // An optional returnFieldsSelector; it must be a whole document.
        r.document("returnFieldsSelector")?;
    }
    if r.remaining() > 0 {
        return Err(WireError::TrailingBytes(r.remaining()));
    }
    Ok(OpQuery { flags, full_collection_name, number_to_skip, number_to_return, query })
}

fn encode_document(doc: &Document) -> Result<Vec<u8>, WireError> {
    doc.to_vec().map_err(|e| WireError::Bson { context: "reply", message: e.to_string() })
}

/// Encodes an `OP_MSG` with one body section (a reply, or a request in tests/clients).
pub fn encode_op_msg(
    request_id: i32,
    response_to: i32,
    flags: u32,
    body: &Document,
) -> Result<Vec<u8>, WireError> {
    let doc = encode_document(body)?;
    let checksum = flags & CHECKSUM_PRESENT != 0;
    let length = HEADER_LEN + 4 + 1 + doc.len() + if checksum { 4 } else { 0 };
    let mut out = Vec::with_capacity(length);
    Header { message_length: length as i32, request_id, response_to, op_code: OP_MSG }.write(&mut out);
    out.extend_from_slice(&flags.to_le_bytes());
    out.push(0);
    out.extend_from_slice(&doc);
    if checksum {
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    Ok(out)
}

/// Encodes an `OP_REPLY` carrying one document (the legacy handshake reply).
pub fn encode_op_reply(request_id: i32, response_to: i32, doc: &Document) -> Result<Vec<u8>, WireError> {
    let doc = encode_document(doc)?;
    let length = HEADER_LEN + 20 + doc.len();
    let mut out = Vec::with_capacity(length);
    Header { message_length: length as i32, request_id, response_to, op_code: OP_REPLY }.write(&mut out);
    out.extend_from_slice(&0i32.to_le_bytes()); // responseFlags
    out.extend_from_slice(&0i64.to_le_bytes()); // cursorID
    out.extend_from_slice(&0i32.to_le_bytes()); // startingFrom
    out.extend_from_slice(&1i32.to_le_bytes()); // numberReturned
    out.extend_from_slice(&doc);
    Ok(out)
}

/// The `compressorId` of a message, when it is an `OP_COMPRESSED`.
pub fn compressor_id(message: &[u8]) -> Option<u8> {
    let header: &[u8; HEADER_LEN] = message.get(..HEADER_LEN)?.try_into().ok()?;
    (Header::parse(header).op_code == OP_COMPRESSED).then(|| message.get(HEADER_LEN + 8).copied())?
}

/// Wraps an encoded message (header included) in an `OP_COMPRESSED` using compressor `id`,
/// keeping its request ids.
pub fn compress_message(message: &[u8], id: u8) -> Result<Vec<u8>, WireError> {
    let header_bytes: &[u8; HEADER_LEN] =
        message.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(WireError::Truncated("header"))?;
    let header = Header::parse(header_bytes);
    let body = &message[HEADER_LEN..];
    let compressed = crate::compression::compress(id, body)?;
    let length = HEADER_LEN + 9 + compressed.len();
    let mut out = Vec::with_capacity(length);
    Header { message_length: length as i32, op_code: OP_COMPRESSED, ..header }.write(&mut out);
    out.extend_from_slice(&header.op_code.to_le_bytes());
    out.extend_from_slice(&(body.len() as i32).to_le_bytes());
    out.push(id);
    out.extend_from_slice(&compressed);
    Ok(out)
}

/// Encodes an `OP_QUERY` (used by tests acting as a legacy client).
pub fn encode_op_query(
    request_id: i32,
    full_collection_name: &str,
    query: &Document,
) -> Result<Vec<u8>, WireError> {
    let doc = encode_document(query)?;
    let length = HEADER_LEN + 4 + full_collection_name.len() + 1 + 8 + doc.len();
    let mut out = Vec::with_capacity(length);
    Header { message_length: length as i32, request_id, response_to: 0, op_code: OP_QUERY }.write(&mut out);
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(full_collection_name.as_bytes());
    out.push(0);
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&(-1i32).to_le_bytes());
    out.extend_from_slice(&doc);
    Ok(out)
}

/// Reads the single document of an `OP_REPLY` or the body of an `OP_MSG` reply (for tests
/// and tools acting as clients).
pub fn parse_reply(message: &[u8]) -> Result<(Header, Document), WireError> {
    let header_bytes: &[u8; HEADER_LEN] =
        message.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(WireError::Truncated("header"))?;
    let header = Header::parse(header_bytes);
    match header.op_code {
        OP_MSG => parse_op_msg(message).map(|m| (header, m.body)),
        OP_REPLY => {
            let mut r = Reader::new(&message[HEADER_LEN..]);
            r.take(20, "OP_REPLY fields")?;
            Ok((header, r.document("OP_REPLY document")?))
        }
        other => Err(WireError::UnsupportedOpCode(other)),
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    fn msg_with_sections(flags: u32, sections: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let len = (HEADER_LEN + 4 + sections.len()) as i32;
        Header { message_length: len, request_id: 7, response_to: 0, op_code: OP_MSG }.write(&mut out);
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(sections);
        out
    }

    fn body_section(doc: &Document) -> Vec<u8> {
        let mut out = vec![0u8];
        out.extend(doc.to_vec().unwrap_or_default());
        out
    }

    fn sequence_section(id: &str, docs: &[Document]) -> Vec<u8> {
        let mut payload = id.as_bytes().to_vec();
        payload.push(0);
        for d in docs {
            payload.extend(d.to_vec().unwrap_or_default());
        }
        let mut out = vec![1u8];
        out.extend_from_slice(&((payload.len() + 4) as i32).to_le_bytes());
        out.extend(payload);
        out
    }

    #[test]
    fn op_msg_round_trips() {
        let body = doc! { "ping": 1, "$db": "admin" };
        let bytes = encode_op_msg(3, 0, 0, &body).unwrap_or_default();
        assert_eq!(parse_request(&bytes), Ok(Request::Msg(OpMsg { flags: 0, body })));
    }

    #[test]
    fn kind_one_sections_merge_into_the_body() {
        let mut sections = body_section(&doc! { "insert": "c", "$db": "d" });
        sections.extend(sequence_section("documents", &[doc! { "_id": 1 }, doc! { "_id": 2 }]));
        let parsed = parse_request(&msg_with_sections(0, &sections));
        let expected = doc! { "insert": "c", "$db": "d", "documents": [{ "_id": 1 }, { "_id": 2 }] };
        assert_eq!(parsed, Ok(Request::Msg(OpMsg { flags: 0, body: expected })));
    }

    #[test]
    fn duplicate_sequence_field_is_rejected() {
        let mut sections = body_section(&doc! { "insert": "c", "documents": [] });
        sections.extend(sequence_section("documents", &[doc! { "_id": 1 }]));
        assert_eq!(
            parse_request(&msg_with_sections(0, &sections)),
            Err(WireError::DuplicateField("documents".into()))
        );
    }

    #[test]
    fn checksum_is_verified() {
        let body = doc! { "ping": 1 };
        let mut bytes = encode_op_msg(1, 0, CHECKSUM_PRESENT, &body).unwrap_or_default();
        assert!(matches!(parse_request(&bytes), Ok(Request::Msg(m)) if m.body == body));
        let n = bytes.len();
        bytes[n - 1] ^= 0xFF;
        assert!(matches!(parse_request(&bytes), Err(WireError::Checksum { .. })));
    }

    #[test]
    fn unknown_required_flag_and_section_kind_are_rejected() {
        let sections = body_section(&doc! { "ping": 1 });
        assert_eq!(
            parse_request(&msg_with_sections(1 << 4, &sections)),
            Err(WireError::UnknownRequiredFlags(1 << 4))
        );
        // An optional (high) bit is accepted.
        assert!(parse_request(&msg_with_sections(EXHAUST_ALLOWED, &sections)).is_ok());
        let mut bad = sections.clone();
        bad[0] = 2;
        assert_eq!(parse_request(&msg_with_sections(0, &bad)), Err(WireError::UnknownSectionKind(2)));
    }

    #[test]
    fn body_count_must_be_one() {
        assert_eq!(parse_request(&msg_with_sections(0, &[])), Err(WireError::BodyCount(0)));
        let mut two = body_section(&doc! { "a": 1 });
        two.extend(body_section(&doc! { "b": 1 }));
        assert_eq!(parse_request(&msg_with_sections(0, &two)), Err(WireError::BodyCount(2)));
    }

    #[test]
    fn truncated_and_garbage_input_is_an_error_not_a_panic() {
        let good = encode_op_msg(1, 0, 0, &doc! { "hello": 1, "$db": "admin" }).unwrap_or_default();
        for cut in 0..good.len() {
            let mut m = good[..cut].to_vec();
            if m.len() >= 4 {
                let len = (m.len() as i32).to_le_bytes();
                m[..4].copy_from_slice(&len);
            }
            assert!(parse_request(&m).is_err(), "prefix of {cut} bytes parsed");
        }
        // Corrupt every byte in turn: parsing may fail but must not panic.
        for i in 0..good.len() {
            let mut m = good.clone();
            m[i] = m[i].wrapping_add(0x5A);
            let _ = parse_request(&m);
        }
    }

    #[test]
    fn op_query_handshake_parses_and_reply_encodes() {
        let q = doc! { "isMaster": 1, "helloOk": true };
        let bytes = encode_op_query(9, "admin.$cmd", &q).unwrap_or_default();
        match parse_request(&bytes) {
            Ok(Request::Query(query)) => {
                assert_eq!(query.full_collection_name, "admin.$cmd");
                assert_eq!(query.number_to_return, -1);
                assert_eq!(query.query, q);
            }
            other => panic!("unexpected {other:?}"),
        }
        let reply = encode_op_reply(10, 9, &doc! { "ok": 1.0 }).unwrap_or_default();
        let (header, doc) = parse_reply(&reply).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((header.op_code, header.response_to), (OP_REPLY, 9));
        assert_eq!(doc, doc! { "ok": 1.0 });
    }

    #[test]
    fn compressed_requests_are_unwrapped_and_unknown_compressors_refused() {
        let inner = encode_op_msg(5, 0, 0, &doc! { "ping": 1 }).unwrap_or_default();
        let payload = &inner[HEADER_LEN..];
        let build = |compressor: u8| {
            let mut out = Vec::new();
            let len = (HEADER_LEN + 9 + payload.len()) as i32;
            Header { message_length: len, request_id: 5, response_to: 0, op_code: OP_COMPRESSED }
                .write(&mut out);
            out.extend_from_slice(&OP_MSG.to_le_bytes());
            out.extend_from_slice(&(payload.len() as i32).to_le_bytes());
            out.push(compressor);
            out.extend_from_slice(payload);
            out
        };
        assert!(matches!(parse_request(&build(0)), Ok(Request::Msg(m)) if m.body == doc! { "ping": 1 }));
        assert_eq!(parse_request(&build(9)), Err(WireError::UnsupportedCompressor(9)));
        // zlib of an uncompressed payload is garbage.
        assert!(matches!(parse_request(&build(2)), Err(WireError::Decompression(_))));
        for id in 1..=3 {
            let wrapped = compress_message(&inner, id).unwrap_or_default();
            assert_eq!(compressor_id(&wrapped), Some(id));
            assert!(matches!(parse_request(&wrapped), Ok(Request::Msg(m)) if m.body == doc! { "ping": 1 }));
        }
        assert_eq!(compressor_id(&inner), None);
    }

    #[test]
    fn header_length_limits() {
        let h = Header { message_length: 15, request_id: 0, response_to: 0, op_code: OP_MSG };
        assert!(h.body_len(48_000_000).is_err());
        let h = Header { message_length: 48_000_001, ..h };
        assert!(h.body_len(48_000_000).is_err());
        let h = Header { message_length: 100, ..h };
        assert_eq!(h.body_len(48_000_000), Ok(84));
    }
}
