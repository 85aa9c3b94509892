//! GridFS buckets against the simulated replica set: uploads (chunking, the files
//! collection document, the indexes created before the first write, aborted uploads),
//! downloads by id and by name (every chunk checked: missing, wrong size, extra), delete,
//! rename, find and drop.

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, doc};
use futures::TryStreamExt;
use mongo_driver::Database;
use mongo_driver::error::ErrorKind;
use mongo_driver::event::command::CommandEvent;
use mongo_driver::gridfs::{
    GridFsBucket, GridFsBucketOptions, GridFsDownloadByNameOptions, GridFsErrorKind, GridFsUploadOptions,
};
use mongo_sim::Config;

mod common;

use common::Fixture;

impl Fixture {
    async fn new() -> Self {
        Self::start(Config::replica_set(3), "").await
    }

    fn db(&self) -> Database {
        self.client.database("files")
    }

    fn bucket(&self, chunk_size: u32) -> GridFsBucket {
        self.db().gridfs_bucket(GridFsBucketOptions::default().chunk_size_bytes(chunk_size))
    }

    /// The names of the commands started since the last call.
    fn take_commands(&self) -> Vec<String> {
        let mut events = self.events.lock().expect("not poisoned");
        let names = events
            .iter()
            .filter_map(|e| match e {
                CommandEvent::Started(s) => Some(s.command_name.clone()),
                _ => None,
            })
            .collect();
        events.clear();
        names
    }
}

async fn all(bucket: &GridFsBucket, chunks: bool) -> Vec<Document> {
    let coll = if chunks { bucket.chunks() } else { bucket.files() };
    coll.find(doc! {}).sort(doc! {"n": 1}).await.expect("find").try_collect().await.expect("documents")
}

fn gridfs_kind(e: &mongo_driver::Error) -> &GridFsErrorKind {
    match &*e.kind {
        ErrorKind::GridFs(kind) => kind,
        other => panic!("expected a GridFS error, got {other:?}"),
    }
}

#[tokio::test]
async fn upload_splits_into_chunks_and_downloads_back() {
    let f = Fixture::new().await;
    let bucket = f.bucket(4);
    let data: Vec<u8> = (1..=10).collect();
    let id = bucket.upload_from_slice("ten", &data, None).await.expect("upload");

    let files = all(&bucket, false).await;
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(file.get_object_id("_id").expect("an ObjectId"), id);
    assert_eq!(file.get_i64("length").ok(), Some(10));
    assert_eq!(file.get_i32("chunkSize").ok(), Some(4));
    assert_eq!(file.get_str("filename").ok(), Some("ten"));
    assert!(file.get_datetime("uploadDate").is_ok(), "{file}");
    assert!(!file.contains_key("metadata"));

    let chunks = all(&bucket, true).await;
    let parts: Vec<(i32, Vec<u8>)> = chunks
        .iter()
        .map(|c| {
            assert_eq!(c.get("files_id"), Some(&Bson::ObjectId(id)));
            (c.get_i32("n").expect("n"), c.get_binary_generic("data").expect("data").clone())
        })
        .collect();
    assert_eq!(parts, vec![(0, vec![1, 2, 3, 4]), (1, vec![5, 6, 7, 8]), (2, vec![9, 10])]);

    assert_eq!(bucket.download_to_vec(Bson::ObjectId(id)).await.expect("download"), data);
    let mut stream = bucket.open_download_stream(Bson::ObjectId(id)).await.expect("open");
    assert_eq!(stream.file().length, 10);
    assert_eq!(stream.file().chunk_count(), 3);
    let mut pieces = Vec::new();
    while let Some(piece) = stream.try_next().await.expect("a chunk") {
        pieces.push(piece.len());
    }
    assert_eq!(pieces, vec![4, 4, 2]);

    let mut copy = Vec::new();
    let written =
        bucket.download_to_writer(Bson::ObjectId(id), &mut copy).await.expect("download to a writer");
    assert_eq!((written, copy), (10, data));
}

#[tokio::test]
async fn sizes_at_chunk_boundaries_and_options() {
    let f = Fixture::new().await;
    let bucket = f.bucket(4);
    for len in [0usize, 1, 4, 8, 9] {
        let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let id = bucket
            .upload_from_reader(&format!("len{len}"), data.as_slice(), None)
            .await
            .unwrap_or_else(|e| panic!("upload of {len} bytes: {e}"));
        let chunks = bucket.chunks().count_documents(doc! {"files_id": id}).await.expect("count");
        assert_eq!(chunks, len.div_ceil(4) as u64, "chunks of {len} bytes");
        assert_eq!(bucket.download_to_vec(id.into()).await.expect("download"), data, "{len} bytes");
    }
    // Per-upload chunk size and metadata; an id of any type.
    bucket
        .upload_from_slice_with_id(
            Bson::String("custom".into()),
            "meta",
            b"abcdef",
            GridFsUploadOptions::default().chunk_size_bytes(5).metadata(doc! {"owner": "me"}),
        )
        .await
        .expect("upload with id");
    let file = bucket.files().find_one(doc! {"_id": "custom"}).await.expect("find").expect("the file");
    assert_eq!(file.get_i32("chunkSize").ok(), Some(5));
    assert_eq!(file.get_document("metadata").ok(), Some(&doc! {"owner": "me"}));
    assert_eq!(bucket.download_to_vec("custom".into()).await.expect("download"), b"abcdef");
    let zero = bucket.upload_from_slice("x", b"x", GridFsUploadOptions::default().chunk_size_bytes(0)).await;
    assert!(matches!(&*zero.expect_err("chunk size 0").kind, ErrorKind::InvalidArgument { .. }));
}

#[tokio::test]
async fn indexes_are_created_once_before_the_first_write() {
    let f = Fixture::new().await;
    let bucket = f.db().gridfs_bucket(GridFsBucketOptions::default().bucket_name("photos"));
    f.take_commands();
    bucket.upload_from_slice("a", b"1", None).await.expect("upload");
    let first = f.take_commands();
    assert_eq!(
        first,
        ["find", "listIndexes", "createIndexes", "listIndexes", "createIndexes", "insert", "insert"],
        "the first upload"
    );
    let reply = f.db().run_command(doc! {"listIndexes": "photos.chunks"}).await.expect("listIndexes");
    let indexes = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
    let chunk_index = indexes
        .iter()
        .filter_map(Bson::as_document)
        .find(|i| i.get_str("name").ok() == Some("files_id_1_n_1"))
        .expect("the chunks index");
    assert_eq!(chunk_index.get_bool("unique").ok(), Some(true));
    assert_eq!(chunk_index.get_document("key").ok(), Some(&doc! {"files_id": 1, "n": 1}));
    f.take_commands();

    bucket.upload_from_slice("b", b"2", None).await.expect("upload");
    assert_eq!(f.take_commands(), ["insert", "insert"], "a later upload checks nothing");
    // A new bucket over a non-empty files collection checks no indexes.
    let again = f.db().gridfs_bucket(GridFsBucketOptions::default().bucket_name("photos"));
    again.upload_from_slice("c", b"3", None).await.expect("upload");
    assert_eq!(f.take_commands(), ["find", "insert", "insert"]);
    // Indexes that already exist (here with a double direction) are not created again.
    f.db()
        .run_command(doc! {"createIndexes": "docs.files", "indexes": [
        {"key": {"filename": 1.0, "uploadDate": 1.0}, "name": "by_name"}]})
        .await
        .expect("createIndexes");
    f.take_commands();
    let docs = f.db().gridfs_bucket(GridFsBucketOptions::default().bucket_name("docs"));
    docs.upload_from_slice("d", b"4", None).await.expect("upload");
    assert_eq!(
        f.take_commands(),
        ["find", "listIndexes", "listIndexes", "createIndexes", "insert", "insert"]
    );
}

#[tokio::test]
async fn downloads_check_every_chunk() {
    let f = Fixture::new().await;
    let bucket = f.bucket(4);
    let chunk = |bytes: &[u8]| Binary { subtype: BinarySubtype::Generic, bytes: bytes.to_vec() };
    let fresh = |name: &'static str| {
        let bucket = bucket.clone();
        async move {
            bucket.upload_from_slice(name, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], None).await.expect("upload")
        }
    };

    let missing = fresh("missing middle").await;
    bucket.chunks().delete_one(doc! {"files_id": missing, "n": 1}).await.expect("delete");
    let e = bucket.download_to_vec(missing.into()).await.expect_err("a chunk is missing");
    assert_eq!(gridfs_kind(&e), &GridFsErrorKind::ChunkIsMissing { files_id: missing.into(), n: 1 });

    let last = fresh("missing last").await;
    bucket.chunks().delete_one(doc! {"files_id": last, "n": 2}).await.expect("delete");
    let e = bucket.download_to_vec(last.into()).await.expect_err("the last chunk is missing");
    assert_eq!(gridfs_kind(&e), &GridFsErrorKind::ChunkIsMissing { files_id: last.into(), n: 2 });

    let short = fresh("short").await;
    bucket
        .chunks()
        .update_one(doc! {"files_id": short, "n": 0}, doc! {"$set": {"data": chunk(&[1, 2, 3])}})
        .await
        .expect("update");
    let e = bucket.download_to_vec(short.into()).await.expect_err("a chunk is short");
    assert_eq!(
        gridfs_kind(&e),
        &GridFsErrorKind::ChunkIsWrongSize { files_id: short.into(), n: 0, expected: 4, actual: 3 }
    );

    let long_last = fresh("long last").await;
    bucket
        .chunks()
        .update_one(doc! {"files_id": long_last, "n": 2}, doc! {"$set": {"data": chunk(&[9, 10, 11])}})
        .await
        .expect("update");
    let e = bucket.download_to_vec(long_last.into()).await.expect_err("the last chunk is long");
    assert!(matches!(
        gridfs_kind(&e),
        GridFsErrorKind::ChunkIsWrongSize { n: 2, expected: 2, actual: 3, .. }
    ));

    let extra = fresh("extra").await;
    bucket.chunks().insert_one(doc! {"files_id": extra, "n": 3, "data": chunk(&[0])}).await.expect("insert");
    let e = bucket.download_to_vec(extra.into()).await.expect_err("an extra chunk");
    assert!(matches!(gridfs_kind(&e), GridFsErrorKind::ExtraChunk { n: 3, expected: 3, .. }), "{e}");

    let e = bucket.download_to_vec(Bson::Int32(404)).await.expect_err("no such file");
    assert_eq!(gridfs_kind(&e), &GridFsErrorKind::FileNotFound { id: Bson::Int32(404) });
    assert!(e.to_string().contains("404"), "{e}");

    // An empty file needs no chunk (a stray empty chunk is not read).
    bucket.files().insert_one(doc! {"_id": "empty", "length": 0, "chunkSize": 4}).await.expect("insert");
    bucket.chunks().insert_one(doc! {"files_id": "empty", "n": 0, "data": chunk(&[])}).await.expect("insert");
    assert_eq!(bucket.download_to_vec("empty".into()).await.expect("download"), Vec::<u8>::new());
}

#[tokio::test]
async fn download_by_name_picks_revisions() {
    let f = Fixture::new().await;
    let bucket = f.bucket(255 * 1024);
    for content in [b"first", b"secnd", b"third"] {
        bucket.upload_from_slice("notes", content, None).await.expect("upload");
        // Distinct upload dates (millisecond resolution).
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let by = |revision: Option<i32>| {
        let bucket = bucket.clone();
        async move {
            let options = revision.map(|r| GridFsDownloadByNameOptions::default().revision(r));
            bucket.download_to_vec_by_name("notes", options).await
        }
    };
    assert_eq!(by(None).await.expect("newest"), b"third");
    assert_eq!(by(Some(0)).await.expect("first"), b"first");
    assert_eq!(by(Some(1)).await.expect("second"), b"secnd");
    assert_eq!(by(Some(2)).await.expect("third"), b"third");
    assert_eq!(by(Some(-1)).await.expect("newest"), b"third");
    assert_eq!(by(Some(-3)).await.expect("oldest"), b"first");
    let e = by(Some(3)).await.expect_err("no fourth revision");
    assert_eq!(gridfs_kind(&e), &GridFsErrorKind::RevisionNotFound { filename: "notes".into(), revision: 3 });
    let e = by(Some(-4)).await.expect_err("no fourth revision");
    assert!(matches!(gridfs_kind(&e), GridFsErrorKind::RevisionNotFound { revision: -4, .. }));
    let e = bucket.download_to_vec_by_name("nothing", None).await.expect_err("no such name");
    assert_eq!(gridfs_kind(&e), &GridFsErrorKind::FileNameNotFound { filename: "nothing".into() });
}

#[tokio::test]
async fn delete_rename_find_and_drop() {
    let f = Fixture::new().await;
    let bucket = f.bucket(2);
    let a = bucket.upload_from_slice("a", b"hello", None).await.expect("upload");
    let b = bucket.upload_from_slice("b", b"world!", None).await.expect("upload");

    bucket.rename(a.into(), "renamed").await.expect("rename");
    let e = bucket.rename(Bson::Int32(1), "x").await.expect_err("no such file");
    assert_eq!(gridfs_kind(&e), &GridFsErrorKind::FileNotFound { id: Bson::Int32(1) });
    let names: Vec<String> = bucket
        .find(doc! {})
        .sort(doc! {"filename": 1})
        .await
        .expect("find")
        .try_collect::<Vec<Document>>()
        .await
        .expect("files")
        .iter()
        .map(|d| d.get_str("filename").expect("a name").to_string())
        .collect();
    assert_eq!(names, ["b", "renamed"]);
    let limited: Vec<Document> =
        bucket.find(doc! {"length": {"$gt": 5}}).await.expect("find").try_collect().await.expect("files");
    assert_eq!(limited.len(), 1);

    bucket.delete(a.into()).await.expect("delete");
    assert_eq!(bucket.files().count_documents(doc! {"_id": a}).await.expect("count"), 0);
    assert_eq!(bucket.chunks().count_documents(doc! {"files_id": a}).await.expect("count"), 0);
    assert_eq!(bucket.chunks().count_documents(doc! {"files_id": b}).await.expect("count"), 3);

    // Orphan chunks go even though the file is not found.
    bucket.files().delete_one(doc! {"_id": b}).await.expect("delete the files document");
    let e = bucket.delete(b.into()).await.expect_err("no files document");
    assert_eq!(gridfs_kind(&e), &GridFsErrorKind::FileNotFound { id: b.into() });
    assert_eq!(bucket.chunks().count_documents(doc! {"files_id": b}).await.expect("count"), 0);

    bucket.upload_from_slice("c", b"again", None).await.expect("upload");
    bucket.drop().await.expect("drop");
    let names = f.db().list_collection_names().await.expect("names");
    assert!(!names.iter().any(|n| n.starts_with("fs.")), "{names:?}");
    // After a drop the indexes are made again before the next upload.
    f.take_commands();
    bucket.upload_from_slice("d", b"new", None).await.expect("upload");
    assert!(f.take_commands().contains(&"createIndexes".to_string()));
}

#[tokio::test]
async fn a_failed_upload_removes_only_its_own_chunks() {
    let f = Fixture::new().await;
    let bucket = f.bucket(4);
    // The files document already exists: the chunks go in, the files insert fails.
    bucket.upload_from_slice_with_id(Bson::Int32(1), "empty", b"", None).await.expect("upload");
    let e = bucket
        .upload_from_slice_with_id(Bson::Int32(1), "dup", b"0123456789", None)
        .await
        .expect_err("a duplicate id");
    assert_eq!(e.code(), Some(11000), "{e:?}");
    assert_eq!(bucket.chunks().count_documents(doc! {}).await.expect("count"), 0);
    assert_eq!(bucket.download_to_vec(Bson::Int32(1)).await.expect("the first file"), b"");

    // Chunks of an existing file with the same id stay when the new upload's chunks clash.
    bucket.upload_from_slice_with_id(Bson::Int32(2), "two", b"abcdef", None).await.expect("upload");
    let e = bucket
        .upload_from_slice_with_id(Bson::Int32(2), "clash", b"ABCDEFGH", None)
        .await
        .expect_err("the chunks index refuses a second chunk 0");
    assert_eq!(e.code(), Some(11000), "{e:?}");
    assert_eq!(bucket.download_to_vec(Bson::Int32(2)).await.expect("the first file"), b"abcdef");
}
