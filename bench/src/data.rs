//! The benchmark's data sets (driver benchmarking spec, "Data sets" and each micro-benchmark's
//! "Dataset"): SMALL_DOC, LARGE_DOC and TWEET read from the benchmark-data folder, and the
//! files the spec takes from its own tarballs (GRIDFS_LARGE, LDJSON_MULTI, GRIDFS_MULTI)
//! generated here at start-up, deterministically, from a fixed seed and TWEET.

use std::path::{Path, PathBuf};

use crate::support::BenchResult;

/// The spec's GRIDFS_LARGE size: 50 MiB.
pub const GRIDFS_LARGE_BYTES: usize = 52_428_800;
/// The spec's GRIDFS_MULTI file size: 5 MiB (50 of them make 262,144,000 bytes).
pub const GRIDFS_MULTI_FILE_BYTES: usize = 5_242_880;
/// Documents per LDJSON_MULTI file, as in the spec.
pub const LDJSON_DOCS_PER_FILE: usize = 5_000;

/// How many generated files of each set (the spec has 100 LDJSON and 50 GridFS files).
#[derive(Debug, Clone, Copy)]
pub struct FileCounts {
    /// LDJSON files of [`LDJSON_DOCS_PER_FILE`] lines each.
    pub ldjson: usize,
    /// GRIDFS_MULTI files of [`GRIDFS_MULTI_FILE_BYTES`] each.
    pub gridfs: usize,
}

/// Every data set, loaded or generated.
pub struct Data {
    /// SMALL_DOC as BSON.
    pub small_doc: Vec<u8>,
    /// LARGE_DOC as BSON.
    pub large_doc: Vec<u8>,
    /// TWEET as BSON.
    pub tweet: Vec<u8>,
    /// GRIDFS_LARGE: pseudo-random bytes.
    pub gridfs_large: Vec<u8>,
    /// The generated LDJSON files.
    pub ldjson_files: Vec<PathBuf>,
    /// Their total size, the LDJSON workloads' score size.
    pub ldjson_bytes: u64,
    /// The generated GRIDFS_MULTI files.
    pub gridfs_files: Vec<PathBuf>,
    /// Their total size.
    pub gridfs_multi_bytes: u64,
    /// The scratch folder holding the generated files and the workloads' outputs.
    pub scratch: PathBuf,
}

/// A spec JSON data file of `dir` as a JSON value (strict JSON, no extended types).
fn read_json(dir: &Path, name: &str) -> BenchResult<serde_json::Value> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "cannot read {}: {e} (the driver benchmarking spec's data: set BENCH_DATA_DIR to the folder \
             holding small_doc.json, large_doc.json and tweet.json, extracted from the specifications \
             repository's source/benchmarking/data/single_and_multi_document.tgz)",
            path.display()
        )
    })?;
    Ok(serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?)
}

/// A JSON document as BSON bytes.
fn to_bson(value: &serde_json::Value, name: &str) -> BenchResult<Vec<u8>> {
    let doc: bson::Document =
        serde_json::from_value(value.clone()).map_err(|e| format!("{name} is not a JSON document: {e}"))?;
    Ok(doc.to_vec()?)
}

/// Deterministic pseudo-random bytes (SplitMix64 from `seed`).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `bytes` to `path`, returning the path.
fn write(path: PathBuf, bytes: &[u8]) -> BenchResult<PathBuf> {
    std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

impl Data {
    /// Loads the JSON data sets from `dir` and generates the others under a fresh scratch
    /// folder in the system's temporary directory.
    pub fn load(dir: &Path, counts: FileCounts) -> BenchResult<Self> {
        let tweet_json = read_json(dir, "tweet.json")?;
        let scratch = std::env::temp_dir().join(format!("driver-bench-{}", std::process::id()));
        let inputs = scratch.join("inputs");
        std::fs::create_dir_all(&inputs).map_err(|e| format!("cannot create {}: {e}", inputs.display()))?;

        // LDJSON_MULTI: each line is TWEET on one line (serde_json's compact form).
        let mut line = serde_json::to_string(&tweet_json)?;
        line.push('\n');
        let file = line.repeat(LDJSON_DOCS_PER_FILE);
        let ldjson_files = (0..counts.ldjson)
            .map(|i| write(inputs.join(format!("ldjson{i:03}.txt")), file.as_bytes()))
            .collect::<BenchResult<Vec<_>>>()?;
        // GRIDFS_MULTI: pseudo-random files, one seed each.
        let gridfs_files = (0..counts.gridfs)
            .map(|i| {
                write(
                    inputs.join(format!("file{i:02}.txt")),
                    &pseudo_random(GRIDFS_MULTI_FILE_BYTES, i as u64 + 1),
                )
            })
            .collect::<BenchResult<Vec<_>>>()?;
        Ok(Self {
            small_doc: to_bson(&read_json(dir, "small_doc.json")?, "small_doc.json")?,
            large_doc: to_bson(&read_json(dir, "large_doc.json")?, "large_doc.json")?,
            tweet: to_bson(&tweet_json, "tweet.json")?,
            gridfs_large: pseudo_random(GRIDFS_LARGE_BYTES, 0x6772_6964_6673),
            ldjson_bytes: (file.len() * counts.ldjson) as u64,
            ldjson_files,
            gridfs_multi_bytes: (GRIDFS_MULTI_FILE_BYTES * counts.gridfs) as u64,
            gridfs_files,
            scratch,
        })
    }

    /// A fresh, empty output folder `name` under the scratch folder.
    pub fn output_dir(&self, name: &str) -> BenchResult<PathBuf> {
        let dir = self.scratch.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| format!("cannot empty {}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// Removes the scratch folder.
    pub fn clean_up(&self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}
