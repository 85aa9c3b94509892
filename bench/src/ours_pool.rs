//! The workloads through our driver's connection-pool layer (a diagnostic column: what the
//! `Client` layers above it cost).
//!
//! A CMAP [`Pool`] of handshaken [`Connection`]s to the primary (check-out per operation),
//! the generated command builders, and [`Connection::send_command`]; no topology monitoring,
//! server selection, `$clusterTime` gossip, command events or retries.

use std::sync::Arc;

use bson::oid::ObjectId;
use bson::{Bson, Document, doc};
use mongo_driver::cmap::{Pool, TcpConnector};
use mongo_driver::commands::{
    Command, CursorGetMoreReply, CursorInitialReply, DropCommand, FindCommand, GetMoreCommand, InsertCommand,
};
use mongo_driver::connection::{CommandMessage, Connection, ConnectionOptions};
use mongo_driver::connection_string::ConnectionString;
use mongo_driver::sdam::ServerAddress;

use crate::{BenchResult, DB, FIND_DOCS, INSERT_MANY_DOCS, Workload};

/// What the "pool" column measures.
pub const LAYER: &str = "mongo-driver below the Client: cmap::Pool<Connection> to the primary + \
                         Connection::send_command + generated command builders";

/// A pool to the primary and the small document.
pub struct OursPool {
    pool: Pool<Connection>,
    small_doc: Document,
}

/// `host:port` of `uri`'s first seed list entry.
fn first_host(uri: &str) -> BenchResult<ServerAddress> {
    let parsed = ConnectionString::parse(uri)?;
    let host = parsed.hosts.first().ok_or_else(|| format!("pool: no host in {uri}"))?;
    Ok(ServerAddress::new(host.host.clone(), host.port.unwrap_or(27017)))
}

/// Fails on an `ok: 0` reply or a write error.
fn check(what: &str, reply: &Document) -> BenchResult<()> {
    if let Some(error) = mongo_driver::Error::from_reply(reply) {
        return Err(format!("pool: {what} failed: {error}").into());
    }
    if reply.contains_key("writeErrors") {
        return Err(format!("pool: {what} had write errors: {reply}").into());
    }
    Ok(())
}

impl OursPool {
    /// Finds the primary through `hello` on the first seed, opens a pool to it and seeds the
    /// read workloads' collections.
    pub async fn connect(uri: &str, small_doc_bytes: &[u8]) -> BenchResult<Self> {
        let small_doc = Document::from_reader(small_doc_bytes)?;
        let options = ConnectionOptions::default();
        let seed = first_host(uri)?;
        let probe = Connection::connect(seed.clone(), &options, 0, 0).await?;
        let primary = match probe.handshake_reply().and_then(|r| r.get_str("primary").ok()) {
            Some(primary) => {
                let (host, port) =
                    primary.rsplit_once(':').ok_or_else(|| format!("pool: bad primary {primary}"))?;
                ServerAddress::new(
                    host,
                    port.parse::<u16>().map_err(|e| format!("pool: bad primary {primary}: {e}"))?,
                )
            }
            None => seed,
        };
        drop(probe);
        let pool = Pool::builder(primary, Arc::new(TcpConnector::new(options))).build()?;
        pool.ready();
        let this = Self { pool, small_doc };

        this.drop_collection(Workload::FindOne).await?;
        let docs = (0..FIND_DOCS as i32)
            .map(|i| {
                let mut d = doc! {"_id": i};
                d.extend(this.small_doc.clone());
                d
            })
            .collect();
        this.insert(Workload::FindOne, docs).await?;
        this.drop_collection(Workload::Find).await?;
        this.insert(Workload::Find, this.with_ids(FIND_DOCS)).await?;
        Ok(this)
    }

    fn coll(workload: Workload) -> String {
        format!("pool_{}", workload.collection())
    }

    async fn send(&self, what: &str, message: CommandMessage) -> BenchResult<Document> {
        let mut conn = self.pool.check_out().await?;
        let reply = conn.send_command(message).await?;
        check(what, &reply)?;
        Ok(reply)
    }

    async fn run<C: Command>(&self, command: &C) -> BenchResult<Document> {
        self.send(C::NAME, command.to_op_msg()?.into()).await
    }

    /// `n` copies of small_doc, each with a fresh ObjectId `_id` first (as drivers add it).
    fn with_ids(&self, n: usize) -> Vec<Document> {
        (0..n)
            .map(|_| {
                let mut d = doc! {"_id": ObjectId::new()};
                d.extend(self.small_doc.clone());
                d
            })
            .collect()
    }

    async fn insert(&self, workload: Workload, docs: Vec<Document>) -> BenchResult<()> {
        let expected = docs.len() as i64;
        let reply = self.run(&InsertCommand::new(DB, Self::coll(workload), docs)).await?;
        let n = match reply.get("n") {
            Some(Bson::Int32(n)) => i64::from(*n),
            Some(Bson::Int64(n)) => *n,
            _ => -1,
        };
        if n != expected {
            return Err(format!("pool: insert reported n = {n}, not {expected}").into());
        }
        Ok(())
    }

    async fn drop_collection(&self, workload: Workload) -> BenchResult<()> {
        let message = DropCommand::new(DB, Self::coll(workload)).to_op_msg()?.into();
        let mut conn = self.pool.check_out().await?;
        let reply = conn.send_command(message).await?;
        // NamespaceNotFound (26) is fine: there was nothing to drop.
        if reply.get_i32("code").ok() != Some(26) {
            check("drop", &reply)?;
        }
        Ok(())
    }

    /// Per-round setup: the write workloads start from an empty collection.
    pub async fn prepare(&self, workload: Workload) -> BenchResult<()> {
        if matches!(workload, Workload::InsertOne | Workload::InsertMany) {
            self.drop_collection(workload).await?;
        }
        Ok(())
    }

    /// One operation of `workload` (`i` counts operations).
    pub async fn op(&self, workload: Workload, i: u64) -> BenchResult<()> {
        match workload {
            Workload::Ping => {
                self.send("ping", CommandMessage::new("admin", doc! {"ping": 1})).await?;
            }
            Workload::InsertOne => self.insert(workload, self.with_ids(1)).await?,
            Workload::FindOne => {
                let id = (i % FIND_DOCS as u64) as i32;
                let find = FindCommand::new(DB, Self::coll(workload))
                    .filter(doc! {"_id": id})
                    .limit(1)
                    .single_batch(true);
                let reply = CursorInitialReply::from_document(&self.run(&find).await?)?;
                let found = reply.cursor.is_some_and(|c| !c.first_batch.is_empty());
                if !found {
                    return Err(format!("pool: find_one found no document with _id {id}").into());
                }
            }
            // (FindZstd is not measured here: these connections are uncompressed.)
            Workload::Find | Workload::FindZstd => {
                let coll = Self::coll(workload);
                let find = FindCommand::new(DB, coll.clone()).filter(doc! {}).batch_size(100);
                let reply = CursorInitialReply::from_document(&self.run(&find).await?)?;
                let cursor = reply.cursor.ok_or("pool: find reply without a cursor")?;
                let mut n = cursor.first_batch.len();
                let mut id = cursor.id;
                while id != 0 {
                    let more = GetMoreCommand::new(DB, id, coll.clone()).batch_size(100);
                    let reply = CursorGetMoreReply::from_document(&self.run(&more).await?)?;
                    n += reply.cursor.next_batch.len();
                    id = reply.cursor.id;
                }
                if n != FIND_DOCS {
                    return Err(format!("pool: find returned {n} documents, not {FIND_DOCS}").into());
                }
            }
            Workload::InsertMany => self.insert(workload, self.with_ids(INSERT_MANY_DOCS)).await?,
        }
        Ok(())
    }
}
