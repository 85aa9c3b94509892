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

/// An order, as the typed change stream deserializes its documents.
#[derive(Debug, serde::Deserialize)]
struct Order {
    #[serde(rename = "_id")]
    id: i32,
    item: String,
}

/// A typed change stream (`ChangeStream::events::<Order>()`) that keeps delivering across
/// a primary step-down: `aggregates` counts the aggregates the client sent, so a resume
/// shows as a second one (on 4.0 a step-down closes every connection, cutting the getMore
/// that awaits the next event, so the stream resumes from its cached resume token).
pub async fn change_stream_across_step_down(
    client: &Client,
    db: &Database,
    aggregates: &dyn Fn() -> u32,
) -> Outcome {
    use mongo_driver::change_stream::OperationType;
    println!("\n▶ A typed change stream across a primary step-down (ChangeStream::events::<Order>)");
    let orders = db.collection::<Document>("typed_orders");
    orders.drop().await.ok();
    let mut stream = orders
        .watch()
        .max_await_time(Duration::from_millis(2000))
        .await
        .map_err(driver("watch"))?
        .events::<Order>();
    let before = aggregates();
    orders.insert_one(doc! { "_id": 1, "item": "pen" }).await.map_err(driver("insert_one"))?;
    let first = next_event(&mut stream).await?;
    let old = super::primary_of(client);
    // The stream waits for its next event (a getMore awaiting up to maxAwaitTimeMS) while
    // the primary steps down.
    let waiting = tokio::spawn(async move {
        let event = next_event(&mut stream).await;
        (stream, event)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stepped = client.database("admin").run_command(doc! { "replSetStepDown": 5, "force": true }).await;
    println!(
        "  event 1: {} order {:?}; stepping the primary {} down: {}",
        first.operation_type.as_str(),
        first.full_document.as_ref().map(|o| (o.id, o.item.as_str())),
        old.as_deref().unwrap_or("?"),
        stepped.map_or_else(|e| e.to_string(), |_| "ok".into())
    );
    let new = super::wait_for_primary(client, old.as_deref()).await;
    orders
        .insert_one(doc! { "_id": 2, "item": "ink" })
        .await
        .map_err(driver("insert_one after step-down"))?;
    let (stream, second) = waiting.await.map_err(|e| format!("the waiting task: {e}"))?;
    let second = second?;
    let resumes = aggregates().saturating_sub(before);
    println!(
        "  new primary {}; event 2: {} order {:?} after {resumes} resume(s), resume token {}",
        new.as_deref().unwrap_or("none"),
        second.operation_type.as_str(),
        second.full_document.as_ref().map(|o| (o.id, o.item.as_str())),
        short(stream.resume_token())
    );
    stream.close().await;
    let ids = [&first, &second].map(|e| e.full_document.as_ref().map(|o| o.id));
    check(
        first.operation_type == OperationType::Insert
            && second.operation_type == OperationType::Insert
            && ids == [Some(1), Some(2)],
        || format!("expected inserts of orders 1 and 2, got {ids:?}"),
    )
}

async fn next_event<T: serde::de::DeserializeOwned>(
    stream: &mut mongo_driver::ChangeStream<mongo_driver::ChangeStreamEvent<T>>,
) -> Result<mongo_driver::ChangeStreamEvent<T>, String> {
    match tokio::time::timeout(Duration::from_secs(15), stream.next()).await {
        Ok(Ok(Some(event))) => Ok(event),
        Ok(Ok(None)) => Err("the stream closed".into()),
        Ok(Err(e)) => Err(format!("change stream: {e}")),
        Err(_) => Err("no event within 15 s".into()),
    }
}

/// The process's peak resident set size (`VmHWM` in `/proc/self/status`), in KiB, where
/// the system reports it.
fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM:")
}

/// The process's resident set size now (`VmRSS`), in KiB.
fn rss_kib() -> Option<u64> {
    status_kib("VmRSS:")
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak RSS to the current RSS (Linux `clear_refs` 5), so the next peak is the
/// phase's own; whether it could.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The byte at offset `i` of the tour's large file.
fn pattern(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// Yields `len` bytes of [`pattern`] without holding them.
struct PatternReader {
    pos: u64,
    len: u64,
}

impl tokio::io::AsyncRead for PatternReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.len - self.pos);
        let start = self.pos;
        let bytes: Vec<u8> = (start..start + n).map(pattern).collect();
        buf.put_slice(&bytes);
        self.pos += n;
        std::task::Poll::Ready(Ok(()))
    }
}

/// Checks written bytes against [`pattern`] without keeping them.
struct PatternChecker {
    pos: u64,
    mismatches: u64,
}

impl tokio::io::AsyncWrite for PatternChecker {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let start = self.pos;
        let bad = buf.iter().zip(start..).filter(|(b, i)| **b != pattern(*i)).count() as u64;
        self.mismatches += bad;
        self.pos += buf.len() as u64;
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Streams a 10 MiB file into GridFS and back in 255 KiB chunks (upload_from_reader,
/// download_to_writer): neither side holds the file. The peak RSS of each phase is
/// reported over the RSS before it; with the embedded simulator it includes the server's
/// side (the stored chunks, and the find's materialised cursor), which
/// `cargo run --example gridfs_memory` with `MONGODB_URI` separates out.
pub async fn gridfs_large(db: &Database) -> Outcome {
    const LEN: u64 = 10 * 1024 * 1024;
    println!("\n▶ GridFS: a 10 MiB file streamed up and down in 255 KiB chunks");
    let bucket = db.gridfs_bucket(GridFsBucketOptions::default().bucket_name("large"));
    bucket.drop().await.ok();
    let before = rss_kib();
    let resets = reset_peak_rss();
    let started = std::time::Instant::now();
    let id = bucket
        .upload_from_reader("big.bin", PatternReader { pos: 0, len: LEN }, None)
        .await
        .map_err(driver("upload_from_reader"))?;
    let after_upload = peak_rss_kib();
    reset_peak_rss();
    let mut checker = PatternChecker { pos: 0, mismatches: 0 };
    let written = bucket
        .download_to_writer(Bson::ObjectId(id), &mut checker)
        .await
        .map_err(driver("download_to_writer"))?;
    let after = peak_rss_kib();
    let chunks = bucket.chunks().count_documents(doc! { "files_id": id }).await.map_err(driver("count"))?;
    let kib = |v: Option<u64>| v.map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!(
        "  {written} bytes in {chunks} chunks, {} mismatched, in {:.2} s",
        checker.mismatches,
        started.elapsed().as_secs_f64(),
    );
    println!(
        "  RSS {} before; peak RSS {} during the upload, {} during the download{}",
        kib(before),
        kib(after_upload),
        kib(after),
        if resets { "" } else { " (peaks since start: clear_refs unavailable)" }
    );
    if std::env::var_os("MONGODB_URI").is_none() {
        println!(
            "  (the embedded simulator's copy of the file is in these numbers; the driver alone: \
             `MONGODB_URI=… cargo run --example gridfs_memory`)"
        );
    }
    bucket.drop().await.map_err(driver("drop"))?;
    check(written == LEN && checker.mismatches == 0 && chunks == LEN.div_ceil(255 * 1024), || {
        format!("expected {LEN} identical bytes; got {written} with {} mismatches", checker.mismatches)
    })
}

/// A `find_one` against a primary whose `find` is blocked for 400 ms, under a 150 ms
/// `timeoutMS` (client-side operations timeout spec): it fails at its deadline with a
/// timeout error, which names the cause, instead of waiting for the server. Skipped when
/// the deployment refuses `configureFailPoint` (a real server without test commands).
pub async fn operation_timeout(client: &Client, db: &Database) -> Outcome {
    println!("\n▶ An operation timeout (timeoutMS = 150 ms) against a primary that blocks `find` for 400 ms");
    let admin = client.database("admin");
    let block = doc! {
        "configureFailPoint": "failCommand",
        "mode": { "times": 1 },
        "data": { "failCommands": ["find"], "blockConnection": true, "blockTimeMS": 400 },
    };
    if let Err(e) = admin.run_command(block).await {
        println!("  skipped: the deployment refuses configureFailPoint ({e})");
        return Ok(());
    }
    let timeout = Duration::from_millis(150);
    let coll = db.collection::<Document>("cities").with_timeout(timeout);
    let started = tokio::time::Instant::now();
    let outcome = coll.find_one(doc! {}).await;
    let elapsed = started.elapsed();
    admin.run_command(doc! { "configureFailPoint": "failCommand", "mode": "off" }).await.ok();
    match outcome {
        Ok(found) => Err(format!("find_one returned {found:?} after {elapsed:?} instead of timing out")),
        Err(e) => {
            println!("  find_one failed after {:.0} ms: {e}", elapsed.as_secs_f64() * 1e3);
            println!("  e.is_timeout() = {}, matching ErrorKind::Timeout {{ .. }}", e.is_timeout());
            check(matches!(*e.kind, mongo_driver::error::ErrorKind::Timeout { .. }), || {
                format!("expected a timeout error, got {e}")
            })?;
            check(elapsed >= timeout && elapsed < Duration::from_millis(400), || {
                format!("the timeout took {elapsed:?}, not between 150 and 400 ms")
            })?;
            let again = coll.find_one(doc! {}).await.map_err(driver("find_one after the fail point"))?;
            println!("  with the fail point off, the same find_one returns {}", again.is_some());
            Ok(())
        }
    }
}
