//! Each micro-benchmark's phases (driver benchmarking spec, "Benchmark execution phases":
//! setup, before task, do task, teardown), written once over [`Driver`].

use std::path::PathBuf;
use std::sync::Arc;

use futures::TryStreamExt;
use tokio::task::JoinHandle;

use crate::data::{Data, LDJSON_DOCS_PER_FILE};
use crate::driver::Driver;
use crate::support::BenchResult;
use crate::workload::Workload;

/// The collection every workload uses, as in the spec.
const CORPUS: &str = "corpus";

/// What a timed side does per iteration: an untimed "before task", then the timed "do task".
pub trait Timed {
    /// The spec's "before task" phase (untimed).
    fn before(&mut self) -> impl Future<Output = BenchResult<()>>;
    /// The spec's "do task" phase (timed).
    fn run(&mut self) -> impl Future<Output = BenchResult<()>>;
}

/// One workload set up for one driver.
pub struct Task<D: Driver> {
    side: D,
    workload: Workload,
    /// Operations (documents or commands) per iteration.
    ops: usize,
    data: Arc<Data>,
    /// The workload's document, in the driver's type.
    doc: Option<D::Doc>,
    /// Copies of it for the bulk inserts.
    docs: Vec<D::Doc>,
    /// The uploaded GridFS files (GRIDFS_LARGE, or each GRIDFS_MULTI file).
    files: Vec<D::FileId>,
    /// Where the export and multi-file download write.
    out: PathBuf,
}

/// Waits for every spawned task; the first error wins.
async fn join_all<T>(handles: Vec<JoinHandle<BenchResult<T>>>) -> BenchResult<Vec<T>> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.map_err(|e| format!("a spawned task failed: {e}"))??);
    }
    Ok(out)
}

/// Fails unless `got == want`.
fn expect(what: &str, got: usize, want: usize) -> BenchResult<()> {
    if got == want { Ok(()) } else { Err(format!("{what}: {got}, expected {want}").into()) }
}

/// Reads one LDJSON file from disk, parses every line and inserts them all, unordered.
async fn import_file<D: Driver>(side: D, path: PathBuf) -> BenchResult<usize> {
    let text = tokio::fs::read_to_string(&path).await.map_err(|e| format!("{}: {e}", path.display()))?;
    let docs = text.lines().map(serde_json::from_str::<D::Doc>).collect::<Result<Vec<_>, _>>()?;
    side.insert_many(CORPUS, &docs, false).await
}

/// Imports every LDJSON file, one task per file; the documents inserted.
async fn import_all<D: Driver>(side: &D, data: &Data) -> BenchResult<usize> {
    let handles =
        data.ldjson_files.iter().map(|path| tokio::spawn(import_file(side.clone(), path.clone()))).collect();
    Ok(join_all(handles).await?.into_iter().sum())
}

/// Writes `docs` as an LDJSON file at `path`.
async fn export_file<D: Driver>(docs: Vec<D::Doc>, path: PathBuf) -> BenchResult<usize> {
    let mut out = Vec::with_capacity(docs.len() * 1024);
    for doc in &docs {
        serde_json::to_writer(&mut out, doc)?;
        out.push(b'\n');
    }
    tokio::fs::write(&path, out).await.map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(docs.len())
}

impl<D: Driver> Task<D> {
    /// The spec's "setup" phase of `workload` with `ops` operations per iteration.
    pub async fn setup(side: &D, workload: Workload, ops: usize, data: Arc<Data>) -> BenchResult<Self> {
        side.drop_database().await?;
        let source = match workload {
            Workload::FindOne | Workload::FindMany | Workload::FindManyZstd => Some(&data.tweet),
            Workload::SmallInsertOne | Workload::SmallBulkInsert => Some(&data.small_doc),
            Workload::LargeInsertOne | Workload::LargeBulkInsert => Some(&data.large_doc),
            _ => None,
        };
        let doc = source.map(|bytes| D::doc(bytes)).transpose()?;
        let mut task = Self {
            side: side.clone(),
            workload,
            ops,
            data: Arc::clone(&data),
            doc,
            docs: Vec::new(),
            files: Vec::new(),
            out: data.scratch.join(format!("{}-{}", D::NAME, workload.key())),
        };
        let doc = task.doc.clone();
        match (workload, doc) {
            (Workload::FindOne, Some(doc)) => {
                // Sequential integer `_id`s 1..=ops.
                let docs: Vec<_> = (1..=ops as i32).map(|id| D::with_int_id(&doc, id)).collect();
                expect("setup insert", side.insert_many(CORPUS, &docs, true).await?, ops)?;
            }
            (Workload::FindMany | Workload::FindManyZstd, Some(doc)) => {
                expect("setup insert", side.insert_many(CORPUS, &vec![doc; ops], true).await?, ops)?;
            }
            (Workload::SmallBulkInsert | Workload::LargeBulkInsert, Some(doc)) => task.docs = vec![doc; ops],
            (Workload::GridFsDownload, _) => {
                task.files = vec![side.gridfs_upload("gridfstest", &data.gridfs_large).await?];
            }
            (Workload::LdjsonExport, _) => {
                let want = data.ldjson_files.len() * LDJSON_DOCS_PER_FILE;
                expect("setup import", import_all(side, &data).await?, want)?;
            }
            (Workload::GridFsMultiDownload, _) => {
                side.gridfs_reset().await?;
                for path in &data.gridfs_files {
                    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                    task.files.push(side.gridfs_upload(&file_name(path), &bytes).await?);
                }
            }
            _ => {}
        }
        Ok(task)
    }

    /// The spec's "teardown": drop the database.
    pub async fn teardown(&self) -> BenchResult<()> {
        self.side.drop_database().await
    }

    fn doc(&self) -> BenchResult<&D::Doc> {
        self.doc.as_ref().ok_or_else(|| format!("{}: no document loaded", self.workload.key()).into())
    }
}

/// The file name part of `path`.
fn file_name(path: &std::path::Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

impl<D: Driver> Timed for Task<D> {
    async fn before(&mut self) -> BenchResult<()> {
        match self.workload {
            Workload::SmallInsertOne
            | Workload::LargeInsertOne
            | Workload::SmallBulkInsert
            | Workload::LargeBulkInsert
            | Workload::LdjsonImport => self.side.create_collection(CORPUS).await,
            Workload::GridFsUpload | Workload::GridFsMultiUpload => self.side.gridfs_reset().await,
            Workload::LdjsonExport | Workload::GridFsMultiDownload => {
                self.out = self.data.output_dir(&format!("{}-{}", D::NAME, self.workload.key()))?;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    async fn run(&mut self) -> BenchResult<()> {
        let side = &self.side;
        match self.workload {
            Workload::RunCommand => {
                for _ in 0..self.ops {
                    side.hello().await?;
                }
            }
            Workload::FindOne => {
                for id in 1..=self.ops as i32 {
                    if side.find_by_id(CORPUS, id).await?.is_none() {
                        return Err(format!("{}: find_one found no document with _id {id}", D::NAME).into());
                    }
                }
            }
            Workload::SmallInsertOne | Workload::LargeInsertOne => {
                let doc = self.doc()?;
                for _ in 0..self.ops {
                    side.insert_one(CORPUS, doc).await?;
                }
            }
            Workload::FindMany | Workload::FindManyZstd => {
                let mut cursor = side.find_all(CORPUS, self.workload == Workload::FindManyZstd).await?;
                let mut n = 0;
                while cursor.try_next().await?.is_some() {
                    n += 1;
                }
                expect("find many: documents", n, self.ops)?;
            }
            Workload::SmallBulkInsert | Workload::LargeBulkInsert => {
                expect("insert_many: inserted", side.insert_many(CORPUS, &self.docs, true).await?, self.ops)?;
            }
            Workload::GridFsUpload => {
                side.gridfs_upload("gridfstest", &self.data.gridfs_large).await?;
            }
            Workload::GridFsDownload => {
                let id = self.files.first().ok_or("GridFS download: no file uploaded")?;
                expect(
                    "GridFS download: bytes",
                    side.gridfs_download(id).await?.len(),
                    self.data.gridfs_large.len(),
                )?;
            }
            Workload::LdjsonImport => {
                let want = self.data.ldjson_files.len() * LDJSON_DOCS_PER_FILE;
                expect("LDJSON import: documents", import_all(side, &self.data).await?, want)?;
            }
            Workload::LdjsonExport => {
                // One cursor; every LDJSON_DOCS_PER_FILE documents go to a task that writes a file.
                let mut cursor = side.find_all(CORPUS, false).await?;
                let mut handles = Vec::new();
                let mut batch = Vec::with_capacity(LDJSON_DOCS_PER_FILE);
                while let Some(doc) = cursor.try_next().await? {
                    batch.push(doc);
                    if batch.len() == LDJSON_DOCS_PER_FILE {
                        let path = self.out.join(format!("ldjson{:03}.txt", handles.len()));
                        handles.push(tokio::spawn(export_file::<D>(std::mem::take(&mut batch), path)));
                    }
                }
                if !batch.is_empty() {
                    let path = self.out.join(format!("ldjson{:03}.txt", handles.len()));
                    handles.push(tokio::spawn(export_file::<D>(batch, path)));
                }
                let want = self.data.ldjson_files.len() * LDJSON_DOCS_PER_FILE;
                expect("LDJSON export: documents", join_all(handles).await?.into_iter().sum(), want)?;
            }
            Workload::GridFsMultiUpload => {
                let handles = self
                    .data
                    .gridfs_files
                    .iter()
                    .map(|path| {
                        let (side, path) = (side.clone(), path.clone());
                        tokio::spawn(async move {
                            let bytes = tokio::fs::read(&path)
                                .await
                                .map_err(|e| format!("{}: {e}", path.display()))?;
                            side.gridfs_upload(&file_name(&path), &bytes).await
                        })
                    })
                    .collect();
                join_all(handles).await?;
            }
            Workload::GridFsMultiDownload => {
                let handles = self
                    .files
                    .iter()
                    .enumerate()
                    .map(|(i, id)| {
                        let (side, id) = (side.clone(), id.clone());
                        let path = self.out.join(format!("file{i:02}.txt"));
                        tokio::spawn(async move {
                            let bytes = side.gridfs_download(&id).await?;
                            tokio::fs::write(&path, &bytes)
                                .await
                                .map_err(|e| format!("{}: {e}", path.display()))?;
                            Ok(bytes.len())
                        })
                    })
                    .collect();
                let total: usize = join_all(handles).await?.into_iter().sum();
                expect("GridFS multi-file download: bytes", total, self.data.gridfs_multi_bytes as usize)?;
            }
        }
        Ok(())
    }
}
