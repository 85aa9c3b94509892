//! The workloads through our driver's public API (`mongo_driver::Client`, `Database`,
//! `Collection<Document>`, `Cursor`), as the official driver's side uses its own.

use bson::{Document, doc};
use futures::TryStreamExt;
use mongo_driver::{Client, Collection};

use crate::{BenchResult, DB, FIND_DOCS, INSERT_MANY_DOCS, Workload};

/// What the "ours" column measures.
pub const LAYER: &str = "mongo-driver Client CRUD API (SDAM, server selection, pool, command events)";

/// Our client and the small document.
pub struct Ours {
    client: Client,
    /// A second client with `compressors=zstd`.
    zstd: Client,
    small_doc: Document,
}

impl Ours {
    /// Connects and seeds the read workloads' collections.
    pub async fn connect(uri: &str, small_doc_bytes: &[u8]) -> BenchResult<Self> {
        let small_doc = Document::from_reader(small_doc_bytes)?;
        let client = Client::with_uri_str(uri).await?;
        let zstd = Client::with_uri_str(crate::with_zstd(uri)).await?;
        let this = Self { client, zstd, small_doc };
        // find_one by _id: FIND_DOCS documents with integer ids.
        let coll = this.coll(Workload::FindOne);
        coll.drop().await?;
        let docs: Vec<Document> = (0..FIND_DOCS as i32)
            .map(|i| {
                let mut d = doc! {"_id": i};
                d.extend(this.small_doc.clone());
                d
            })
            .collect();
        coll.insert_many(docs).await?;
        // find: FIND_DOCS copies of small_doc.
        let coll = this.coll(Workload::Find);
        coll.drop().await?;
        coll.insert_many(std::iter::repeat_n(&this.small_doc, FIND_DOCS)).await?;
        Ok(this)
    }

    fn coll(&self, workload: Workload) -> Collection<Document> {
        match workload {
            // The compressed find reads the find collection through the zstd client.
            Workload::FindZstd => {
                self.zstd.database(DB).collection(&format!("ours_{}", Workload::Find.collection()))
            }
            _ => self.client.database(DB).collection(&format!("ours_{}", workload.collection())),
        }
    }

    /// The deployment's `serverStatus` `network.compression` (bytes in and out per compressor).
    pub async fn compression_status(&self) -> BenchResult<Document> {
        let status = self.client.database("admin").run_command(doc! {"serverStatus": 1}).await?;
        Ok(status.get_document("network")?.get_document("compression")?.clone())
    }

    /// Per-round setup: the write workloads start from an empty collection.
    pub async fn prepare(&self, workload: Workload) -> BenchResult<()> {
        if matches!(workload, Workload::InsertOne | Workload::InsertMany) {
            self.coll(workload).drop().await?;
        }
        Ok(())
    }

    /// One operation of `workload` (`i` counts operations).
    pub async fn op(&self, workload: Workload, i: u64) -> BenchResult<()> {
        match workload {
            Workload::Ping => {
                self.client.database("admin").run_command(doc! {"ping": 1}).await?;
            }
            Workload::InsertOne => {
                self.coll(workload).insert_one(&self.small_doc).await?;
            }
            Workload::FindOne => {
                let id = (i % FIND_DOCS as u64) as i32;
                let found = self.coll(workload).find_one(doc! {"_id": id}).await?;
                if found.is_none() {
                    return Err(format!("ours: find_one found no document with _id {id}").into());
                }
            }
            Workload::Find | Workload::FindZstd => {
                let mut cursor = self.coll(workload).find(doc! {}).batch_size(100).await?;
                let mut n = 0;
                while cursor.try_next().await?.is_some() {
                    n += 1;
                }
                if n != FIND_DOCS {
                    return Err(format!("ours: find returned {n} documents, not {FIND_DOCS}").into());
                }
            }
            Workload::InsertMany => {
                let result = self
                    .coll(workload)
                    .insert_many(std::iter::repeat_n(&self.small_doc, INSERT_MANY_DOCS))
                    .await?;
                if result.inserted_ids.len() != INSERT_MANY_DOCS {
                    return Err("ours: insert_many did not insert every document".into());
                }
            }
        }
        Ok(())
    }
}
