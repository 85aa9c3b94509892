//! What a driver under test offers the workloads: the few operations the driver benchmarking
//! spec's micro-benchmarks use ("Micro-benchmark definitions"), each through that driver's
//! public API, so the workloads themselves are written once for both drivers.

use std::future::Future;

use futures::stream::BoxStream;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::support::BenchResult;

/// A cursor's documents, errors boxed.
pub type DocStream<D> = BoxStream<'static, BenchResult<D>>;

/// A driver under test, connected to the deployment, working in one database of its own.
pub trait Driver: Clone + Send + Sync + 'static {
    /// Its document type (each driver has its own `bson` major version).
    type Doc: Clone + Send + Sync + Serialize + DeserializeOwned + 'static;
    /// The id of a GridFS file.
    type FileId: Clone + Send + Sync + 'static;
    /// The table's name for it.
    const NAME: &'static str;

    /// Connects to `uri` (and a second client with `compressors=zstd`), working in database
    /// `db`.
    fn connect(uri: &str, db: &str) -> impl Future<Output = BenchResult<Self>> + Send;
    /// A document from its BSON bytes.
    fn doc(bson: &[u8]) -> BenchResult<Self::Doc>;
    /// `doc` with an integer `_id` first.
    fn with_int_id(doc: &Self::Doc, id: i32) -> Self::Doc;
    /// Runs `{hello: true}` through the run-command API, discarding the reply.
    fn hello(&self) -> impl Future<Output = BenchResult<()>> + Send;
    /// Drops the database.
    fn drop_database(&self) -> impl Future<Output = BenchResult<()>> + Send;
    /// Drops collection `name` and creates it again with the `create` command.
    fn create_collection(&self, name: &str) -> impl Future<Output = BenchResult<()>> + Send;
    /// `insert_one` of `doc` (the driver adds the `_id`).
    fn insert_one(&self, coll: &str, doc: &Self::Doc) -> impl Future<Output = BenchResult<()>> + Send;
    /// `insert_many` of `docs`; how many were inserted.
    fn insert_many(
        &self,
        coll: &str,
        docs: &[Self::Doc],
        ordered: bool,
    ) -> impl Future<Output = BenchResult<usize>> + Send;
    /// `find_one` by integer `_id`.
    fn find_by_id(&self, coll: &str, id: i32) -> impl Future<Output = BenchResult<Option<Self::Doc>>> + Send;
    /// `find({})` with the default batch size, through the zstd client if `zstd`.
    fn find_all(
        &self,
        coll: &str,
        zstd: bool,
    ) -> impl Future<Output = BenchResult<DocStream<Self::Doc>>> + Send;
    /// Drops the default GridFS bucket and stores a 1-byte file in it (the spec's "before
    /// task" of the GridFS uploads: the bucket's collections and indexes exist).
    fn gridfs_reset(&self) -> impl Future<Output = BenchResult<()>> + Send;
    /// Uploads `data` to the default bucket as `filename`.
    fn gridfs_upload(
        &self,
        filename: &str,
        data: &[u8],
    ) -> impl Future<Output = BenchResult<Self::FileId>> + Send;
    /// Downloads the file `id` of the default bucket to memory.
    fn gridfs_download(&self, id: &Self::FileId) -> impl Future<Output = BenchResult<Vec<u8>>> + Send;
}

/// `impl Driver for $side` with the operations both drivers spell alike (their CRUD APIs
/// match), plus `$extra` (the GridFS ones, which differ). Names resolve where it is used:
/// that module imports its driver's `Client`, `Document` and `doc!`.
macro_rules! impl_driver {
    ($side:ty, $name:literal, { $($extra:tt)* }) => {
        impl $crate::driver::Driver for $side {
            type Doc = Document;
            type FileId = Bson;
            const NAME: &'static str = $name;

            async fn connect(uri: &str, db: &str) -> $crate::support::BenchResult<Self> {
                Ok(Self {
                    client: Client::with_uri_str(uri).await?,
                    zstd: Client::with_uri_str($crate::support::with_zstd(uri)).await?,
                    db: db.to_owned(),
                })
            }

            fn doc(bson: &[u8]) -> $crate::support::BenchResult<Document> {
                Ok(Document::from_reader(bson)?)
            }

            fn with_int_id(doc: &Document, id: i32) -> Document {
                let mut with_id = doc! {"_id": id};
                with_id.extend(doc.clone());
                with_id
            }

            async fn hello(&self) -> $crate::support::BenchResult<()> {
                self.client.database("admin").run_command(doc! {"hello": true}).await?;
                Ok(())
            }

            async fn drop_database(&self) -> $crate::support::BenchResult<()> {
                self.client.database(&self.db).run_command(doc! {"dropDatabase": 1}).await?;
                Ok(())
            }

            async fn create_collection(&self, name: &str) -> $crate::support::BenchResult<()> {
                let db = self.client.database(&self.db);
                db.collection::<Document>(name).drop().await?;
                db.create_collection(name).await?;
                Ok(())
            }

            async fn insert_one(&self, coll: &str, doc: &Document) -> $crate::support::BenchResult<()> {
                self.client.database(&self.db).collection::<Document>(coll).insert_one(doc).await?;
                Ok(())
            }

            async fn insert_many(
                &self,
                coll: &str,
                docs: &[Document],
                ordered: bool,
            ) -> $crate::support::BenchResult<usize> {
                let coll = self.client.database(&self.db).collection::<Document>(coll);
                Ok(coll.insert_many(docs).ordered(ordered).await?.inserted_ids.len())
            }

            async fn find_by_id(&self, coll: &str, id: i32) -> $crate::support::BenchResult<Option<Document>> {
                let coll = self.client.database(&self.db).collection::<Document>(coll);
                Ok(coll.find_one(doc! {"_id": id}).await?)
            }

            async fn find_all(
                &self,
                coll: &str,
                zstd: bool,
            ) -> $crate::support::BenchResult<$crate::driver::DocStream<Document>> {
                use futures::{StreamExt, TryStreamExt};
                let client = if zstd { &self.zstd } else { &self.client };
                let cursor = client.database(&self.db).collection::<Document>(coll).find(doc! {}).await?;
                Ok(cursor.map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) }).boxed())
            }

            $($extra)*
        }
    };
}
pub(crate) use impl_driver;
