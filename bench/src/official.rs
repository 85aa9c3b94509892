//! The workloads through the official `mongodb` crate (its public CRUD API, default features).

use futures::TryStreamExt;
use mongodb::bson::{Document, doc};
use mongodb::{Client, Collection};

use crate::{BenchResult, DB, FIND_DOCS, INSERT_MANY_DOCS, Workload};

/// The official driver's client and the small document in its BSON (2.x) type.
pub struct Official {
    client: Client,
    /// A second client with `compressors=zstd`.
    zstd: Client,
    small_doc: Document,
}

impl Official {
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
                self.zstd.database(DB).collection(&format!("official_{}", Workload::Find.collection()))
            }
            _ => self.client.database(DB).collection(&format!("official_{}", workload.collection())),
        }
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
                    return Err(format!("official: find_one found no document with _id {id}").into());
                }
            }
            Workload::Find | Workload::FindZstd => {
                let mut cursor = self.coll(workload).find(doc! {}).batch_size(100).await?;
                let mut n = 0;
                while cursor.try_next().await?.is_some() {
                    n += 1;
                }
                if n != FIND_DOCS {
                    return Err(format!("official: find returned {n} documents, not {FIND_DOCS}").into());
                }
            }
            Workload::InsertMany => {
                let result = self
                    .coll(workload)
                    .insert_many(std::iter::repeat_n(&self.small_doc, INSERT_MANY_DOCS))
                    .await?;
                if result.inserted_ids.len() != INSERT_MANY_DOCS {
                    return Err("official: insert_many did not insert every document".into());
                }
            }
        }
        Ok(())
    }
}
