//! The official `mongodb` crate under test: its `Client`, `Collection<Document>`, `Cursor`
//! and `GridFsBucket` upload/download streams (default features + zstd-compression).

use futures::io::{AsyncReadExt, AsyncWriteExt};
use mongodb::Client;
use mongodb::bson::{Bson, Document, doc};

use crate::driver::impl_driver;
use crate::support::BenchResult;

/// What the "official" column measures.
pub const LAYER: &str =
    "mongodb crate 3.9 (crates.io, default features + zstd-compression), Client CRUD + GridFS API";

/// The official driver's clients (one with `compressors=zstd`) and the database they work in.
#[derive(Clone)]
pub struct Official {
    client: Client,
    zstd: Client,
    db: String,
}

impl_driver!(Official, "official", {
    async fn gridfs_reset(&self) -> BenchResult<()> {
        let bucket = self.client.database(&self.db).gridfs_bucket(None);
        bucket.drop().await?;
        let mut upload = bucket.open_upload_stream("one-byte").await?;
        upload.write_all(&[0]).await?;
        upload.close().await?;
        Ok(())
    }

    async fn gridfs_upload(&self, filename: &str, data: &[u8]) -> BenchResult<Bson> {
        let bucket = self.client.database(&self.db).gridfs_bucket(None);
        let mut upload = bucket.open_upload_stream(filename).await?;
        upload.write_all(data).await?;
        upload.close().await?;
        Ok(upload.id().clone())
    }

    async fn gridfs_download(&self, id: &Bson) -> BenchResult<Vec<u8>> {
        let bucket = self.client.database(&self.db).gridfs_bucket(None);
        let mut download = bucket.open_download_stream(id.clone()).await?;
        let mut data = Vec::new();
        download.read_to_end(&mut data).await?;
        Ok(data)
    }
});
