//! The tour's feature sections: a transaction, a change stream, and GridFS with the
//! index and collection listings. Each checks what it shows and returns an error when the
//! driver or the deployment behaves otherwise, so the tour doubles as a smoke test.

use std::time::Duration;

use bson::{Bson, Document, doc};
use futures::{FutureExt, TryStreamExt};
use mongo_driver::gridfs::GridFsBucketOptions;
use mongo_driver::{Client, Collection, Database};

/// A failed check or a driver error, as a line for the tour's output.
pub type Outcome = Result<(), String>;

fn check(ok: bool, what: impl FnOnce() -> String) -> Outcome {
    if ok { Ok(()) } else { Err(what()) }
}

fn driver<E: std::fmt::Display>(step: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{step}: {e}")
}

/// The `balance` of account `id`, as a reader outside any transaction sees it.
async fn balance(accounts: &Collection<Document>, id: &str) -> Result<i64, String> {
    let found = accounts.find_one(doc! { "_id": id }).await.map_err(driver("find_one"))?;
    found.and_then(|d| d.get_i64("balance").ok()).ok_or_else(|| format!("no balance for {id}"))
}

/// Moves 30 from alice to bob in a transaction; a reader outside it sees the old
/// balances until the commit and the new ones after.
pub async fn transaction(client: &Client, db: &Database) -> Outcome {
    println!("\n▶ A transaction moving 30 from alice to bob (ClientSession::with_transaction)");
    let accounts = db.collection::<Document>("accounts");
    accounts.drop().await.ok();
    let opening = [doc! { "_id": "alice", "balance": 100_i64 }, doc! { "_id": "bob", "balance": 0_i64 }];
    accounts.insert_many(opening).await.map_err(driver("insert_many"))?;
    let mut session = client.start_session().await.map_err(driver("start_session"))?;
    // The callback returns what the outside reader saw while the transaction was open.
    let seen_inside_window = session
        .with_transaction(
            &accounts,
            |session, accounts| {
                async move {
                    let (from, to) = (doc! { "_id": "alice" }, doc! { "_id": "bob" });
                    accounts
                        .update_one(from, doc! { "$inc": { "balance": -30_i64 } })
                        .session(&mut *session)
                        .await?;
                    accounts
                        .update_one(to, doc! { "$inc": { "balance": 30_i64 } })
                        .session(&mut *session)
                        .await?;
                    let own = accounts.find_one(doc! { "_id": "alice" }).session(&mut *session).await?;
                    let own = own.and_then(|d| d.get_i64("balance").ok());
                    let outside = accounts.find_one(doc! { "_id": "alice" }).await?;
                    let outside = outside.and_then(|d| d.get_i64("balance").ok());
                    Ok((own, outside))
                }
                .boxed()
            },
            None,
        )
        .await
        .map_err(driver("with_transaction"))?;
    session.end_session();
    let (own, outside) = seen_inside_window;
    let shown = |b: Option<i64>| b.map_or("none".into(), |b| b.to_string());
    println!(
        "  before commit: alice = {} inside the transaction, {} to a reader outside it",
        shown(own),
        shown(outside)
    );
    check(own == Some(70) && outside == Some(100), || {
        format!("before commit: expected alice 70 inside, 100 outside; saw {own:?}, {outside:?}")
    })?;
    let (alice, bob) = (balance(&accounts, "alice").await?, balance(&accounts, "bob").await?);
    println!("  after commit, the reader outside sees: alice = {alice}, bob = {bob}");
    check(alice == 70 && bob == 30, || format!("after commit: expected alice 70, bob 30; saw {alice}, {bob}"))
}

/// Opens a change stream, writes four times, and prints the events it receives and the
/// resume token it tracks.
pub async fn change_stream(db: &Database) -> Outcome {
    println!("\n▶ A change stream opened before four writes (Collection::watch)");
    let orders = db.collection::<Document>("orders");
    orders.drop().await.ok();
    let mut stream =
        orders.watch().max_await_time(Duration::from_millis(100)).await.map_err(driver("watch"))?;
    orders.insert_one(doc! { "_id": 1, "item": "pen" }).await.map_err(driver("insert_one"))?;
    orders.insert_one(doc! { "_id": 2, "item": "ink" }).await.map_err(driver("insert_one"))?;
    orders
        .update_one(doc! { "_id": 1 }, doc! { "$set": { "qty": 3 } })
        .await
        .map_err(driver("update_one"))?;
    orders.delete_one(doc! { "_id": 2 }).await.map_err(driver("delete_one"))?;
    let mut kinds = Vec::new();
    for _ in 0..4 {
        let next = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
        let event = match next {
            Ok(Ok(Some(event))) => event,
            Ok(Ok(None)) => return Err(format!("the stream closed after {} events", kinds.len())),
            Ok(Err(e)) => return Err(format!("change stream: {e}")),
            Err(_) => return Err(format!("only {} of 4 events within 5 s", kinds.len())),
        };
        let kind = event.get_str("operationType").unwrap_or("?").to_string();
        let key = event.get_document("documentKey").map_or("-".into(), Document::to_string);
        let token = stream.resume_token().cloned();
        println!("  {kind:<7} documentKey {key:<12} resume token {}", short(token.as_ref()));
        check(token.is_some() && token.as_ref() == event.get_document("_id").ok(), || {
            format!("the resume token {token:?} is not the {kind} event's _id")
        })?;
        kinds.push(kind);
    }
    stream.close().await;
    check(kinds == ["insert", "insert", "update", "delete"], || {
        format!("expected insert, insert, update, delete; got {kinds:?}")
    })
}

/// A resume token, shortened for display.
fn short(token: Option<&Document>) -> String {
    let text = token.map_or("none".into(), Document::to_string);
    if text.chars().count() > 40 { format!("{}…", text.chars().take(40).collect::<String>()) } else { text }
}

/// Uploads a file to GridFS in 1 KiB chunks, downloads it back, and lists the bucket's
/// collections and the chunks collection's indexes.
pub async fn gridfs(db: &Database) -> Outcome {
    println!("\n▶ GridFS: upload and download a 5000-byte file in 1 KiB chunks (Database::gridfs_bucket)");
    let bucket = db.gridfs_bucket(GridFsBucketOptions::default().chunk_size_bytes(1024));
    bucket.files().drop().await.ok();
    bucket.chunks().drop().await.ok();
    let data: Vec<u8> = (0..5000_u32).map(|i| (i % 251) as u8).collect();
    let id = bucket.upload_from_slice("tour.bin", &data, None).await.map_err(driver("upload"))?;
    let chunks = bucket.chunks().count_documents(doc! { "files_id": id }).await.map_err(driver("count"))?;
    let back = bucket.download_to_vec(Bson::ObjectId(id)).await.map_err(driver("download"))?;
    println!(
        "  uploaded tour.bin as {id} in {chunks} chunks; downloaded {} bytes, identical: {}",
        back.len(),
        back == data
    );
    check(chunks == 5 && back == data, || {
        format!("expected 5 chunks and the same bytes; got {chunks} chunks")
    })?;
    let mut names = db.list_collection_names().await.map_err(driver("list_collection_names"))?;
    names.sort();
    println!("  list_collection_names: {}", names.join(", "));
    check(names.iter().any(|n| n == "fs.files") && names.iter().any(|n| n == "fs.chunks"), || {
        "fs.files or fs.chunks missing".into()
    })?;
    let indexes: Vec<Document> = bucket
        .chunks()
        .list_indexes()
        .await
        .map_err(driver("list_indexes"))?
        .try_collect()
        .await
        .map_err(driver("list_indexes"))?;
    let described: Vec<String> = indexes
        .iter()
        .map(|i| {
            let key = i.get_document("key").map_or("?".into(), Document::to_string);
            format!("{} {key}", i.get_str("name").unwrap_or("?"))
        })
        .collect();
    println!("  fs.chunks list_indexes: {}", described.join("; "));
    check(indexes.iter().any(|i| i.get_str("name").ok() == Some("files_id_1_n_1")), || {
        "fs.chunks has no files_id_1_n_1 index".into()
    })
}
