//! The driver benchmarking spec's driver workloads ("Single-Doc", "Multi-Doc" and "Parallel"
//! micro-benchmarks) that the benchmark runs: names, the spec's scale and score sizes, targets.

/// One micro-benchmark; each of its iterations is timed as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// "Run command": `{hello: true}` through the run-command API, 10,000 times.
    RunCommand,
    /// "Find one by ID": 10,000 finds by integer `_id` in a collection of 10,000 tweets.
    FindOne,
    /// "Small doc insertOne": 10,000 `insert_one`s of small_doc.
    SmallInsertOne,
    /// "Large doc insertOne": 10 `insert_one`s of large_doc.
    LargeInsertOne,
    /// "Find many and empty the cursor": `find({})` over 10,000 tweets, drained.
    FindMany,
    /// Not a spec workload: "Find many" through a client with `compressors=zstd`.
    FindManyZstd,
    /// "Small doc bulk insert": one ordered `insert_many` of 10,000 small_docs.
    SmallBulkInsert,
    /// "Large doc bulk insert": one ordered `insert_many` of 10 large_docs.
    LargeBulkInsert,
    /// "GridFS upload": the 50 MB GRIDFS_LARGE file from memory.
    GridFsUpload,
    /// "GridFS download": the 50 MB file by `_id` to memory.
    GridFsDownload,
    /// "LDJSON multi-file import": every LDJSON file read, parsed and inserted unordered, one
    /// task per file.
    LdjsonImport,
    /// "LDJSON multi-file export": the whole collection written back as LDJSON files.
    LdjsonExport,
    /// "GridFS multi-file upload": every GRIDFS_MULTI file read from disk and uploaded, one
    /// task per file.
    GridFsMultiUpload,
    /// "GridFS multi-file download": every file downloaded and written to disk, one task per
    /// file.
    GridFsMultiDownload,
}

/// The spec's groups, which set the target ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Single-document operations: ours must be at least 1.5x the official crate.
    Single,
    /// Multi-document and parallel ones: at least 1.25x.
    Multi,
}

impl Workload {
    /// Every workload, in the order they run.
    pub const ALL: [Self; 14] = [
        Self::RunCommand,
        Self::FindOne,
        Self::SmallInsertOne,
        Self::LargeInsertOne,
        Self::FindMany,
        Self::FindManyZstd,
        Self::SmallBulkInsert,
        Self::LargeBulkInsert,
        Self::GridFsUpload,
        Self::GridFsDownload,
        Self::LdjsonImport,
        Self::LdjsonExport,
        Self::GridFsMultiUpload,
        Self::GridFsMultiDownload,
    ];

    /// The name `BENCH_WORKLOADS` selects it by.
    pub fn key(self) -> &'static str {
        match self {
            Self::RunCommand => "run_command",
            Self::FindOne => "find_one",
            Self::SmallInsertOne => "small_insert_one",
            Self::LargeInsertOne => "large_insert_one",
            Self::FindMany => "find_many",
            Self::FindManyZstd => "find_many_zstd",
            Self::SmallBulkInsert => "small_bulk_insert",
            Self::LargeBulkInsert => "large_bulk_insert",
            Self::GridFsUpload => "gridfs_upload",
            Self::GridFsDownload => "gridfs_download",
            Self::LdjsonImport => "ldjson_import",
            Self::LdjsonExport => "ldjson_export",
            Self::GridFsMultiUpload => "gridfs_multi_upload",
            Self::GridFsMultiDownload => "gridfs_multi_download",
        }
    }

    /// The workload named `name`: its key, or the name it had before the spec's workloads
    /// (`ping`, `insert_one`, `find`, `find_zstd`, `insert_many`).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.trim();
        let legacy = match name {
            "ping" => Some(Self::RunCommand),
            "insert_one" => Some(Self::SmallInsertOne),
            "find" => Some(Self::FindMany),
            "find_zstd" => Some(Self::FindManyZstd),
            "insert_many" => Some(Self::SmallBulkInsert),
            _ => None,
        };
        legacy.or_else(|| Self::ALL.into_iter().find(|w| w.key() == name))
    }

    /// The table's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::RunCommand => "run command (hello)",
            Self::FindOne => "find one by _id",
            Self::SmallInsertOne => "small doc insertOne",
            Self::LargeInsertOne => "large doc insertOne",
            Self::FindMany => "find many, empty cursor",
            Self::FindManyZstd => "find many, zstd (extra)",
            Self::SmallBulkInsert => "small doc bulk insert",
            Self::LargeBulkInsert => "large doc bulk insert",
            Self::GridFsUpload => "GridFS upload",
            Self::GridFsDownload => "GridFS download",
            Self::LdjsonImport => "LDJSON multi-file import",
            Self::LdjsonExport => "LDJSON multi-file export",
            Self::GridFsMultiUpload => "GridFS multi-file upload",
            Self::GridFsMultiDownload => "GridFS multi-file download",
        }
    }

    /// The spec group that sets the target.
    pub fn group(self) -> Group {
        match self {
            Self::RunCommand | Self::FindOne | Self::SmallInsertOne | Self::LargeInsertOne => Group::Single,
            _ => Group::Multi,
        }
    }

    /// The ours / official ratio to reach.
    pub fn target(self) -> f64 {
        match self.group() {
            Group::Single => 1.5,
            Group::Multi => 1.25,
        }
    }

    /// Operations per iteration at the spec's scale (documents, commands or files), for the
    /// workloads whose dataset is one document repeated; `None` for the file-based ones.
    pub fn spec_ops(self) -> Option<usize> {
        match self {
            Self::RunCommand | Self::FindOne | Self::SmallInsertOne | Self::SmallBulkInsert => Some(10_000),
            Self::FindMany | Self::FindManyZstd => Some(10_000),
            Self::LargeInsertOne | Self::LargeBulkInsert => Some(10),
            _ => None,
        }
    }

    /// The spec's size in bytes of one operation's document (the source file's size, as the
    /// spec scores it: `{hello: true}` is 13 bytes, TWEET 1,622, SMALL_DOC 275, LARGE_DOC
    /// 2,731,089).
    pub fn spec_doc_bytes(self) -> Option<u64> {
        match self {
            Self::RunCommand => Some(13),
            Self::FindOne | Self::FindMany | Self::FindManyZstd => Some(1_622),
            Self::SmallInsertOne | Self::SmallBulkInsert => Some(275),
            Self::LargeInsertOne | Self::LargeBulkInsert => Some(2_731_089),
            _ => None,
        }
    }
}
