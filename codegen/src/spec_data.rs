//! Finding the pinned spec data: `spec-data/pin.toml` and the lookup order in `spec-data/README.md`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The pins recorded in `spec-data/pin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The driver specifications repository (test data and spec text).
    pub specifications: Source,
    /// The specifications repository at the last commit holding the sessions spec's tests in
    /// the Transactions-spec ("legacy") test format (`sessions::legacy::`).
    pub legacy_sessions: Source,
    /// The server repository (`error_codes.yml` and IDL files).
    pub server: Source,
}

/// One pinned upstream source and where to look for it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Upstream repository URL.
    pub repository: String,
    /// Pinned commit.
    pub commit: String,
    /// Environment variable that may name a checkout of it.
    pub env: String,
    /// Folder inside `spec-data/` holding a synced copy.
    pub synced: String,
    /// Folder under `../shared/spec-data/` holding a copy.
    pub shared: String,
    /// Suites (spec directories) read from it.
    #[serde(default)]
    pub suites: Vec<String>,
    /// The newest server release when the pinned commit was made (`major.minor`): generated
    /// cases run on simulated servers up to it, since the pinned files know nothing of later
    /// releases.
    #[serde(default)]
    pub newest_server: Option<String>,
}

/// Reads `spec-data/pin.toml` below `workspace_root`.
pub fn load_pin(workspace_root: &Path) -> Result<Pin, String> {
    let path = workspace_root.join("spec-data").join("pin.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the spec pin {}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Source {
    /// The places searched, in order: the environment variable's value (if set), the
    /// synced copy, the shared copy beside the repository.
    pub fn candidates(&self, workspace_root: &Path) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        if let Some(dir) = std::env::var_os(&self.env) {
            out.push((format!("${}", self.env), PathBuf::from(dir)));
        }
        out.push(("synced copy".into(), workspace_root.join("spec-data").join(&self.synced)));
        out.push((
            "shared copy".into(),
            workspace_root.join("..").join("shared").join("spec-data").join(&self.shared),
        ));
        out
    }

    /// The first candidate that holds `marker` (a path relative to the data root, e.g.
    /// `source` or `src/mongo/base/error_codes.yml`), or an error that lists what was
    /// tried and says how to get the data.
    pub fn locate(&self, workspace_root: &Path, marker: &str) -> Result<PathBuf, String> {
        let candidates = self.candidates(workspace_root);
        if let Some((_, dir)) = candidates.iter().find(|(_, dir)| dir.join(marker).exists()) {
            return Ok(dir.canonicalize().unwrap_or_else(|_| dir.clone()));
        }
        let tried: Vec<String> = candidates
            .iter()
            .map(|(what, dir)| format!("  - {what}: {}", dir.join(marker).display()))
            .collect();
        Err(format!(
            "spec data not found: no copy of {repo} at commit {commit} (looked for `{marker}` in:\n{tried}\n)\n\
             To get it, do one of:\n  \
             - run `spec-data/sync.sh` (needs git and network) to fill spec-data/{synced}/;\n  \
             - set {env} to a checkout of {repo} at commit {commit};\n  \
             - place the shared data at ../shared/spec-data/{shared}/ beside this repository.",
            repo = self.repository,
            commit = self.commit,
            tried = tried.join("\n"),
            synced = self.synced,
            env = self.env,
            shared = self.shared,
        ))
    }
}

/// The workspace root of this project, from a crate's `CARGO_MANIFEST_DIR`: the nearest
/// ancestor holding `spec-data/pin.toml`.
pub fn workspace_root(manifest_dir: &Path) -> Result<PathBuf, String> {
    manifest_dir
        .ancestors()
        .find(|dir| dir.join("spec-data").join("pin.toml").exists())
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("no spec-data/pin.toml above {}", manifest_dir.display()))
}

/// Locates the specifications checkout (the folder holding `source/`) for the crate at `manifest_dir`.
pub fn locate_specifications(manifest_dir: &Path) -> Result<(Pin, PathBuf), String> {
    let root = workspace_root(manifest_dir)?;
    let pin = load_pin(&root)?;
    let dir = pin.specifications.locate(&root, "source")?;
    Ok((pin, dir))
}

/// Locates the checkout of the legacy sessions pin (the folder holding `source/`).
pub fn locate_legacy_sessions(manifest_dir: &Path) -> Result<(Pin, PathBuf), String> {
    let root = workspace_root(manifest_dir)?;
    let pin = load_pin(&root)?;
    let dir = pin.legacy_sessions.locate(&root, "source/sessions/tests/legacy")?;
    Ok((pin, dir))
}

/// Locates the server definition files (the folder holding `src/mongo/...`).
pub fn locate_server(manifest_dir: &Path) -> Result<(Pin, PathBuf), String> {
    let root = workspace_root(manifest_dir)?;
    let pin = load_pin(&root)?;
    let dir = pin.server.locate(&root, "src/mongo/base/error_codes.yml")?;
    Ok((pin, dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_data_says_how_to_get_it() {
        let source = Source {
            repository: "https://example.invalid/specs".into(),
            commit: "abc".into(),
            env: "SPEC_CODEGEN_TEST_UNSET_VAR".into(),
            synced: "specifications".into(),
            shared: "nowhere".into(),
            suites: vec![],
            newest_server: None,
        };
        let err = source.locate(Path::new("/nonexistent/root"), "source").unwrap_err();
        assert!(err.contains("spec data not found"), "{err}");
        assert!(err.contains("spec-data/sync.sh"), "{err}");
        assert!(err.contains("SPEC_CODEGEN_TEST_UNSET_VAR"), "{err}");
        assert!(err.contains("/nonexistent/root/spec-data/specifications/source"), "{err}");
    }
}
