//! Our driver under test: `mongo_driver::Client`, `Database`, `Collection<Document>`,
//! `Cursor` and `GridFsBucket`, through their public API only.

use bson::{Bson, Document, doc};
use mongo_driver::Client;

use crate::driver::impl_driver;
use crate::support::BenchResult;

/// What the "ours" column measures.
pub const LAYER: &str =
    "mongo-driver Client CRUD + GridFS API (SDAM, server selection, pool, command events)";

/// Our clients (one with `compressors=zstd`) and the database they work in.
#[derive(Clone)]
pub struct Ours {
    client: Client,
    zstd: Client,
    db: String,
}

impl Ours {
    /// The deployment's `serverStatus` `network.compression` (bytes in and out per compressor).
    pub async fn compression_status(&self) -> BenchResult<Document> {
        let status = self.client.database("admin").run_command(doc! {"serverStatus": 1}).await?;
        Ok(status.get_document("network")?.get_document("compression")?.clone())
    }
}

impl_driver!(Ours, "ours", {
    async fn gridfs_reset(&self) -> BenchResult<()> {
        let bucket = self.client.database(&self.db).gridfs_bucket(None);
        bucket.drop().await?;
        bucket.upload_from_slice("one-byte", &[0], None).await?;
        Ok(())
    }

    async fn gridfs_upload(&self, filename: &str, data: &[u8]) -> BenchResult<Bson> {
        let bucket = self.client.database(&self.db).gridfs_bucket(None);
        Ok(Bson::ObjectId(bucket.upload_from_slice(filename, data, None).await?))
    }

    async fn gridfs_download(&self, id: &Bson) -> BenchResult<Vec<u8>> {
        let bucket = self.client.database(&self.db).gridfs_bucket(None);
        Ok(bucket.download_to_vec(id.clone()).await?)
    }
});
