//! Unit and property tests of the wire codec.

use bson::{Bson, Document, doc};
use proptest::prelude::*;

use super::*;
use crate::ErrorKind;

fn is_invalid_response(result: Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(e) if matches!(*e.kind, ErrorKind::InvalidResponse { .. }) => e.to_string(),
        other => panic!("expected an InvalidResponse error, got {other:?}"),
    }
}

fn doc_bytes(doc: &Document) -> Vec<u8> {
    doc.to_vec().unwrap()
}

/// Builds an OP_MSG by hand: header, flags, raw section bytes, optional checksum.
fn raw_msg(flags: u32, sections: &[u8], checksum: Option<u32>) -> Vec<u8> {
    let len = HEADER_LEN + 4 + sections.len() + if checksum.is_some() { 4 } else { 0 };
    let mut out = Vec::new();
    Header { message_length: len as i32, request_id: 7, response_to: 3, op_code: OpCode::Msg }
        .encode_into(&mut out);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(sections);
    if let Some(crc) = checksum {
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

fn kind0(doc: &Document) -> Vec<u8> {
    let mut out = vec![0u8];
    out.extend(doc_bytes(doc));
    out
}

fn kind1(identifier: &str, docs: &[Document]) -> Vec<u8> {
    let mut content = identifier.as_bytes().to_vec();
    content.push(0);
    for d in docs {
        content.extend(doc_bytes(d));
    }
    let mut out = vec![1u8];
    out.extend(((content.len() + 4) as i32).to_le_bytes());
    out.extend(content);
    out
}

#[test]
fn op_msg_body_only_has_the_spec_layout() {
    let msg = OpMsg::new(doc! { "ping": 1, "$db": "admin" });
    let bytes = msg.encode(7, 3).unwrap();
    assert_eq!(bytes, raw_msg(0, &kind0(&msg.body), None));
    let (header, decoded) = decode_message(&bytes).unwrap();
    assert_eq!(
        header,
        Header { message_length: bytes.len() as i32, request_id: 7, response_to: 3, op_code: OpCode::Msg }
    );
    assert_eq!(decoded, Message::Msg(msg));
}

#[test]
fn op_msg_document_sequences_round_trip() {
    let docs = vec![doc! { "_id": 1 }, doc! { "_id": 2, "x": "y" }];
    let msg = OpMsg::new(doc! { "insert": "c", "$db": "d" })
        .with_sequence("documents", docs.clone())
        .with_sequence("empty", vec![]);
    let bytes = msg.encode(1, 0).unwrap();
    let (_, decoded) = decode_message(&bytes).unwrap();
    let Message::Msg(decoded) = decoded else { panic!("not an OP_MSG") };
    assert_eq!(decoded.sequences[0].documents, docs);
    assert!(decoded.sequences[1].documents.is_empty());
    assert_eq!(decoded, msg);
}

#[test]
fn op_msg_sections_in_any_order() {
    let body = doc! { "update": "c" };
    let mut sections = kind1("updates", &[doc! { "q": {} }]);
    sections.extend(kind0(&body));
    let (_, message) = decode_message(&raw_msg(0, &sections, None)).unwrap();
    let Message::Msg(msg) = message else { panic!("not an OP_MSG") };
    assert_eq!(msg.body, body);
    assert_eq!(msg.sequences[0].identifier, "updates");
}

#[test]
fn op_msg_flags_round_trip() {
    for flags in [
        MsgFlags::MORE_TO_COME,
        MsgFlags::EXHAUST_ALLOWED,
        MsgFlags::MORE_TO_COME | MsgFlags::EXHAUST_ALLOWED,
    ] {
        let mut msg = OpMsg::new(doc! { "hello": 1 });
        msg.flags = flags;
        let (_, decoded) = decode_message(&msg.encode(1, 0).unwrap()).unwrap();
        assert_eq!(decoded, Message::Msg(msg));
    }
    assert!(MsgFlags::empty().with(MsgFlags::MORE_TO_COME, true).contains(MsgFlags::MORE_TO_COME));
    assert_eq!(MsgFlags::MORE_TO_COME.with(MsgFlags::MORE_TO_COME, false), MsgFlags::empty());
}

#[test]
fn op_msg_checksum_is_written_and_verified() {
    let mut msg = OpMsg::new(doc! { "ok": 1 });
    msg.flags = MsgFlags::CHECKSUM_PRESENT;
    let bytes = msg.encode(5, 4).unwrap();
    let end = bytes.len() - 4;
    assert_eq!(u32::from_le_bytes(bytes[end..].try_into().unwrap()), crc32c::crc32c(&bytes[..end]));
    assert_eq!(decode_message(&bytes).unwrap().1, Message::Msg(msg));

    let mut corrupted = bytes.clone();
    corrupted[HEADER_LEN + 8] ^= 0x01;
    assert!(is_invalid_response(decode_message(&corrupted)).contains("checksum mismatch"));

    let no_room = raw_msg(1, &[], None);
    assert!(is_invalid_response(decode_message(&no_room)).contains("no checksum"));
}

#[test]
fn op_msg_unknown_required_bits_are_errors_and_optional_bits_are_ignored() {
    let body = kind0(&doc! { "ok": 1 });
    assert!(
        is_invalid_response(decode_message(&raw_msg(1 << 3, &body, None))).contains("unknown required flag")
    );
    let (_, message) = decode_message(&raw_msg(1 << 20, &body, None)).unwrap();
    let Message::Msg(msg) = message else { panic!("not an OP_MSG") };
    assert_eq!(msg.flags, MsgFlags(1 << 20));
}

#[test]
fn op_msg_section_errors() {
    let body = doc! { "ok": 1 };
    let mut two_bodies = kind0(&body);
    two_bodies.extend(kind0(&body));
    assert!(
        is_invalid_response(decode_message(&raw_msg(0, &two_bodies, None))).contains("more than one body")
    );

    assert!(is_invalid_response(decode_message(&raw_msg(0, &kind1("d", &[]), None))).contains("no body"));
    assert!(is_invalid_response(decode_message(&raw_msg(0, &[], None))).contains("no body"));

    let mut unknown = kind0(&body);
    unknown.extend([2u8, 0, 0, 0, 0]);
    assert!(
        is_invalid_response(decode_message(&raw_msg(0, &unknown, None))).contains("unknown payload type 2")
    );

    let mut dup = kind0(&body);
    dup.extend(kind1("d", &[]));
    dup.extend(kind1("d", &[]));
    assert!(is_invalid_response(decode_message(&raw_msg(0, &dup, None))).contains("two document sequences"));

    for size in [i32::MIN, -1, 0, 4, 1000] {
        let mut bad = kind0(&body);
        bad.push(1);
        bad.extend(size.to_le_bytes());
        bad.extend(b"d\0");
        assert!(
            is_invalid_response(decode_message(&raw_msg(0, &bad, None))).contains("does not fit"),
            "{size}"
        );
    }

    let mut no_nul = kind0(&body);
    no_nul.extend([1u8, 6, 0, 0, 0, b'a', b'b']);
    assert!(is_invalid_response(decode_message(&raw_msg(0, &no_nul, None))).contains("NUL"));

    let mut bad_doc = kind0(&body);
    let len = bad_doc.len();
    bad_doc[len - 1] = 7; // the document's terminating NUL
    is_invalid_response(decode_message(&raw_msg(0, &bad_doc, None)));
}

#[test]
fn op_msg_encode_refuses_what_the_wire_cannot_carry() {
    let msg = OpMsg::new(doc! {}).with_sequence("a", vec![]).with_sequence("a", vec![]);
    assert!(msg.encode(1, 0).is_err());
    let msg = OpMsg::new(doc! {}).with_sequence("a\0b", vec![]);
    assert!(msg.encode(1, 0).is_err());
}

#[test]
fn every_truncation_of_a_message_is_an_error() {
    let mut msg = OpMsg::new(doc! { "a": 1, "b": "two" }).with_sequence("s", vec![doc! { "c": 3 }]);
    msg.flags = MsgFlags::CHECKSUM_PRESENT;
    let bytes = msg.encode(1, 0).unwrap();
    for cut in 0..bytes.len() {
        let mut truncated = bytes[..cut].to_vec();
        if cut >= 4 {
            truncated[..4].copy_from_slice(&(cut as i32).to_le_bytes());
        }
        is_invalid_response(decode_message(&truncated));
    }
}

#[test]
fn header_errors() {
    assert!(is_invalid_response(Header::decode(&[0; 15])).contains("needs 16 bytes"));
    let mut bytes = Vec::new();
    Header { message_length: 16, request_id: 1, response_to: 0, op_code: OpCode::Msg }
        .encode_into(&mut bytes);
    bytes[12..16].copy_from_slice(&2002i32.to_le_bytes());
    assert!(is_invalid_response(Header::decode(&bytes)).contains("unknown opcode 2002"));
    bytes[0..4].copy_from_slice(&15i32.to_le_bytes());
    assert!(is_invalid_response(Header::decode(&bytes)).contains("less than the header"));

    let msg = OpMsg::new(doc! {}).encode(1, 0).unwrap();
    let mut longer = msg.clone();
    longer.push(0);
    assert!(is_invalid_response(decode_message(&longer)).contains("announces"));

    let mut compressed = msg;
    compressed[12..16].copy_from_slice(&2012i32.to_le_bytes());
    assert!(is_invalid_response(decode_message(&compressed)).contains("OP_COMPRESSED"));
}

#[test]
fn op_query_legacy_hello_layout() {
    let query = OpQuery::command("admin", doc! { "isMaster": 1, "helloOk": true });
    let bytes = query.encode(9).unwrap();
    let header = Header::decode(&bytes).unwrap();
    assert_eq!(
        header,
        Header { message_length: bytes.len() as i32, request_id: 9, response_to: 0, op_code: OpCode::Query }
    );
    let body = &bytes[HEADER_LEN..];
    assert_eq!(&body[0..4], &OpQuery::SECONDARY_OK.to_le_bytes());
    assert_eq!(&body[4..15], b"admin.$cmd\0");
    assert_eq!(&body[15..19], &0i32.to_le_bytes());
    assert_eq!(&body[19..23], &(-1i32).to_le_bytes());
    assert_eq!(&body[23..], &doc_bytes(&query.query)[..]);
    assert_eq!(decode_message(&bytes).unwrap().1, Message::Query(query.clone()));

    let with_projection = OpQuery { return_fields_selector: Some(doc! { "a": 1 }), ..query };
    let bytes = with_projection.encode(10).unwrap();
    assert_eq!(decode_message(&bytes).unwrap().1, Message::Query(with_projection));
}

fn raw_reply(flags: u32, number_returned: i32, docs: &[Document], trailing: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend(flags.to_le_bytes());
    payload.extend(0i64.to_le_bytes());
    payload.extend(0i32.to_le_bytes());
    payload.extend(number_returned.to_le_bytes());
    for d in docs {
        payload.extend(doc_bytes(d));
    }
    payload.extend(trailing);
    let mut out = Vec::new();
    Header {
        message_length: (HEADER_LEN + payload.len()) as i32,
        request_id: 2,
        response_to: 9,
        op_code: OpCode::Reply,
    }
    .encode_into(&mut out);
    out.extend(payload);
    out
}

#[test]
fn op_reply_decodes_and_checks_its_count() {
    let hello = doc! { "ismaster": true, "maxWireVersion": 13, "ok": 1.0 };
    let (header, message) = decode_message(&raw_reply(0, 1, std::slice::from_ref(&hello), &[])).unwrap();
    assert_eq!(header.response_to, 9);
    let Message::Reply(reply) = message else { panic!("not an OP_REPLY") };
    assert_eq!(reply.single_document().unwrap(), &hello);
    assert!(!reply.query_failure());

    let failed = raw_reply(OpReply::QUERY_FAILURE, 1, &[doc! { "$err": "no" }], &[]);
    let Message::Reply(reply) = decode_message(&failed).unwrap().1 else { panic!("not an OP_REPLY") };
    assert!(reply.query_failure());

    assert!(
        is_invalid_response(decode_message(&raw_reply(0, 2, std::slice::from_ref(&hello), &[])))
            .contains("document")
    );
    assert!(
        is_invalid_response(decode_message(&raw_reply(0, 0, std::slice::from_ref(&hello), &[])))
            .contains("after its 0 documents")
    );
    assert!(is_invalid_response(decode_message(&raw_reply(0, -1, &[], &[]))).contains("negative"));
    assert!(is_invalid_response(decode_message(&raw_reply(0, i32::MAX, &[], &[]))).contains("document"));
    let empty = OpReply { response_flags: 0, cursor_id: 0, starting_from: 0, documents: vec![] };
    assert!(is_invalid_response(empty.single_document()).contains("holds 0"));

    let reply = OpReply {
        response_flags: 8,
        cursor_id: 77,
        starting_from: 3,
        documents: vec![hello.clone(), doc! {}],
    };
    assert_eq!(decode_message(&reply.encode(1, 2).unwrap()).unwrap().1, Message::Reply(reply));
}

#[test]
fn request_ids_are_distinct_and_increasing() {
    let ids: Vec<i32> = (0..100).map(|_| next_request_id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn messages_travel_over_a_stream() {
    let (mut client, mut server) = tokio::io::duplex(1024);
    let request = OpMsg::new(doc! { "ping": 1, "$db": "admin" });
    let bytes = request.encode(11, 0).unwrap();
    write_message(&mut client, &bytes, DEFAULT_MAX_MESSAGE_SIZE).await.unwrap();
    let (header, message) = read_message(&mut server, DEFAULT_MAX_MESSAGE_SIZE).await.unwrap();
    assert_eq!(header.request_id, 11);
    assert_eq!(message, Message::Msg(request));
}

#[tokio::test]
async fn stream_size_limits_and_eof() {
    let bytes = OpMsg::new(doc! { "x": "a longer value than sixteen bytes" }).encode(1, 0).unwrap();

    let (mut client, _server) = tokio::io::duplex(1024);
    let err = write_message(&mut client, &bytes, 20).await.unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::InvalidArgument { .. }), "{err}");

    // Oversized: refused from the length prefix alone, before the body arrives.
    let (mut client, mut server) = tokio::io::duplex(1024);
    tokio::io::AsyncWriteExt::write_all(&mut client, &bytes[..4]).await.unwrap();
    let text = is_invalid_response(read_message(&mut server, 20).await);
    assert!(text.contains("more than the maximum message size of 20"), "{text}");

    let (mut client, mut server) = tokio::io::duplex(1024);
    tokio::io::AsyncWriteExt::write_all(&mut client, &8i32.to_le_bytes()).await.unwrap();
    assert!(is_invalid_response(read_message(&mut server, 100).await).contains("less than its header"));

    let (mut client, mut server) = tokio::io::duplex(1024);
    tokio::io::AsyncWriteExt::write_all(&mut client, &bytes[..bytes.len() - 1]).await.unwrap();
    drop(client);
    let err = read_message(&mut server, DEFAULT_MAX_MESSAGE_SIZE).await.unwrap_err();
    assert!(matches!(*err.kind, ErrorKind::Io { .. }), "{err}");
}

fn arb_value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        any::<bool>().prop_map(Bson::Boolean),
        "[ -~]{0,12}".prop_map(Bson::String),
        (-1.0e9f64..1.0e9).prop_map(Bson::Double),
        Just(Bson::Null),
    ];
    leaf.prop_recursive(2, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
            prop::collection::vec(("[a-z$_]{1,6}", inner), 0..4)
                .prop_map(|kv| Bson::Document(kv.into_iter().collect())),
        ]
    })
}

fn arb_document() -> impl Strategy<Value = Document> {
    prop::collection::vec(("[a-zA-Z$_]{1,8}", arb_value()), 0..5).prop_map(|kv| kv.into_iter().collect())
}

fn arb_op_msg() -> impl Strategy<Value = OpMsg> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        arb_document(),
        prop::collection::btree_map("[a-z]{1,8}", prop::collection::vec(arb_document(), 0..3), 0..3),
    )
        .prop_map(|(checksum, more, exhaust, body, sequences)| OpMsg {
            flags: MsgFlags::empty()
                .with(MsgFlags::CHECKSUM_PRESENT, checksum)
                .with(MsgFlags::MORE_TO_COME, more)
                .with(MsgFlags::EXHAUST_ALLOWED, exhaust),
            body,
            sequences: sequences
                .into_iter()
                .map(|(identifier, documents)| DocumentSequence { identifier, documents })
                .collect(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn op_msg_encode_decode_round_trips(msg in arb_op_msg(), request_id in any::<i32>(), response_to in any::<i32>()) {
        let bytes = msg.encode(request_id, response_to).unwrap();
        let (header, decoded) = decode_message(&bytes).unwrap();
        prop_assert_eq!(header.request_id, request_id);
        prop_assert_eq!(header.response_to, response_to);
        prop_assert_eq!(decoded, Message::Msg(msg));
    }

    #[test]
    fn op_reply_encode_decode_round_trips(docs in prop::collection::vec(arb_document(), 0..4), flags in any::<u32>(), cursor in any::<i64>()) {
        let reply = OpReply { response_flags: flags, cursor_id: cursor, starting_from: 0, documents: docs };
        let (_, decoded) = decode_message(&reply.encode(1, 2).unwrap()).unwrap();
        prop_assert_eq!(decoded, Message::Reply(reply));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_message(&bytes);
        let _ = Header::decode(&bytes);
        let _ = OpReply::decode(&bytes);
        let _ = OpQuery::decode(&bytes);
    }

    #[test]
    fn random_bytes_behind_a_valid_header_never_panic(
        op in prop::sample::select(vec![OpCode::Msg, OpCode::Reply, OpCode::Query]),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut bytes = Vec::new();
        Header { message_length: (HEADER_LEN + body.len()) as i32, request_id: 1, response_to: 0, op_code: op }
            .encode_into(&mut bytes);
        bytes.extend(body);
        let _ = decode_message(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        msg in arb_op_msg(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = msg.encode(1, 0).unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        let _ = decode_message(&bytes);
        // Also with the length prefix made consistent, so the decoder goes past the header.
        if bytes.len() >= 4 {
            let len = bytes.len() as i32;
            bytes[..4].copy_from_slice(&len.to_le_bytes());
            let _ = decode_message(&bytes);
        }
    }

    #[test]
    fn read_message_on_random_streams_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..128), max in 0usize..256) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let mut reader: &[u8] = &bytes;
            let _ = read_message(&mut reader, max).await;
        });
    }
}
