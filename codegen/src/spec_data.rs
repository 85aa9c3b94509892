//! Finding the pinned spec data: `spec-data/pin.toml` and the lookup order in `spec-data/README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use serde::Deserialize;

/// The pins recorded in `spec-data/pin.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// The driver specifications repository (test data and spec text) at the selected pin:
    /// the primary pin, or the one of [`Pin::other_pins`] that `$SPEC_PIN` names.
    pub specifications: Source,
    /// Further pins of the specifications repository the tests are also generated from
    /// (e.g. a newer commit, the next bump), by name; `SPEC_PIN=<name>` selects one.
    #[serde(default)]
    pub other_pins: BTreeMap<String, Source>,
    /// The specifications repository at the last commit holding the sessions spec's tests in
    /// the Transactions-spec ("legacy") test format (`sessions::legacy::`).
    pub legacy_sessions: Source,
    /// The server repository (`error_codes.yml` and IDL files).
    pub server: Source,
    /// The primary pin's name (set when loading).
    #[serde(skip)]
    pub primary: Option<String>,
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
    /// The pin's name (e.g. `2022-08`), which `SPEC_PIN` gives to select it.
    #[serde(default)]
    pub name: Option<String>,
    /// The committed manifest of the tests generated at this pin, relative to the
    /// workspace root (default `generated-tests/MANIFEST.tsv`).
    #[serde(default)]
    pub manifest: Option<String>,
    /// Suite folders that sit elsewhere at this commit: the folder below `source/` as the
    /// generators know it → where it is at this commit, or `""` when this commit has no
    /// such folder (its suite then has no tests). A key also maps the folders below it.
    #[serde(default)]
    pub moved: BTreeMap<String, String>,
    /// A table of cases that are generated to run at this pin but fail for a known reason
    /// outside the generator (`<test path>\t<reason>` lines, `#` comments), relative to the
    /// workspace root; they are generated as ignored with the reason.
    #[serde(default)]
    pub known_failures: Option<String>,
    /// The table [`Source::known_failures`] names, read with the pin.
    #[serde(skip)]
    pub known: BTreeMap<String, String>,
}

/// The environment variable selecting a pin by name (unset: the primary pin).
pub const SPEC_PIN_ENV: &str = "SPEC_PIN";

impl Pin {
    /// The primary pin's name.
    pub fn primary_name(&self) -> &str {
        self.primary.as_deref().unwrap_or("primary")
    }

    /// Whether the selected pin is the primary one.
    pub fn is_primary(&self) -> bool {
        self.specifications.name.as_deref() == self.primary.as_deref()
    }

    /// Selects the pin named `name` (the primary pin's name or one of `other_pins`).
    pub fn select(&mut self, name: &str) -> Result<(), String> {
        if Some(name) == self.specifications.name.as_deref() {
            return Ok(());
        }
        let Some(mut other) = self.other_pins.get(name).cloned() else {
            let mut known: Vec<&str> = self.specifications.name.iter().map(String::as_str).collect();
            known.extend(self.other_pins.keys().map(String::as_str));
            return Err(format!(
                "{SPEC_PIN_ENV}={name} names no pin in spec-data/pin.toml (known: {})",
                known.join(", ")
            ));
        };
        other.name.get_or_insert_with(|| name.to_string());
        let primary = std::mem::replace(&mut self.specifications, other);
        if let Some(primary_name) = primary.name.clone() {
            self.other_pins.insert(primary_name, primary);
        }
        Ok(())
    }
}

impl Source {
    /// Where the folder `rel` below `source/` (as the generators name it, e.g.
    /// `command-monitoring/tests/unified`) is at this pin, below `source/`; `None` when the
    /// pin says this commit has no such folder. The longest key of [`Source::moved`] that
    /// is `rel` or a parent folder of it applies.
    pub fn locate_folder(&self, rel: &str) -> Option<String> {
        let rel = rel.trim_end_matches('/');
        let found = self
            .moved
            .iter()
            .filter(|(from, _)| rel == from.as_str() || rel.starts_with(&format!("{from}/")))
            .max_by_key(|(from, _)| from.len());
        match found {
            None => Some(rel.to_string()),
            Some((_, to)) if to.is_empty() => None,
            Some((from, to)) => Some(format!("{to}{}", &rel[from.len()..])),
        }
    }

    /// The committed manifest's path relative to the workspace root.
    pub fn manifest_path(&self) -> &str {
        self.manifest.as_deref().unwrap_or("generated-tests/MANIFEST.tsv")
    }
}

static ACTIVE: RwLock<Option<Source>> = RwLock::new(None);

/// Makes `source` the specifications pin the generators read layout and newest server
/// from (see [`active`]); for tools that generate several pins in one process.
pub fn activate(source: Source) {
    *ACTIVE.write().unwrap_or_else(|e| e.into_inner()) = Some(source);
}

/// The specifications pin the generators follow: the one given to [`activate`], else the
/// one `spec-data/pin.toml` selects (with `$SPEC_PIN`) for the crate at `CARGO_MANIFEST_DIR`.
pub fn active() -> Result<Source, String> {
    if let Some(source) = ACTIVE.read().unwrap_or_else(|e| e.into_inner()).clone() {
        return Ok(source);
    }
    let dir = std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?;
    let root = workspace_root(Path::new(&dir))?;
    let source = load_pin(&root)?.specifications;
    activate(source.clone());
    Ok(source)
}

/// The folder `rel` below `source/` of the specifications checkout `spec_root` at the
/// active pin (see [`Source::locate_folder`]); `Ok(None)` when the pin says this commit has
/// no such folder.
pub fn source_dir(spec_root: &Path, rel: &str) -> Result<Option<PathBuf>, crate::SpecError> {
    let source = active().map_err(|e| crate::SpecError::new(spec_root.join("source").join(rel), "", e))?;
    Ok(source.locate_folder(rel).map(|at| spec_root.join("source").join(at)))
}

/// Reads `spec-data/pin.toml` below `workspace_root`, with the pin `$SPEC_PIN` names
/// selected (the primary pin when unset or empty).
pub fn load_pin(workspace_root: &Path) -> Result<Pin, String> {
    let mut pin = load_pin_file(workspace_root)?;
    if let Some(name) = std::env::var(SPEC_PIN_ENV).ok().filter(|n| !n.is_empty()) {
        pin.select(&name)?;
    }
    Ok(pin)
}

/// Reads `spec-data/pin.toml` below `workspace_root` with the primary pin selected.
pub fn load_pin_file(workspace_root: &Path) -> Result<Pin, String> {
    let path = workspace_root.join("spec-data").join("pin.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the spec pin {}: {e}", path.display()))?;
    let mut pin: Pin = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    pin.primary = pin.specifications.name.clone();
    for source in std::iter::once(&mut pin.specifications).chain(pin.other_pins.values_mut()) {
        if let Some(file) = &source.known_failures {
            source.known = read_known_failures(&workspace_root.join(file))?;
        }
    }
    Ok(pin)
}

/// Reads a known-failures table: `<test path>\t<reason>` per line; `#` starts a comment.
fn read_known_failures(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, reason)) =
            line.split_once('\t').filter(|(n, r)| !n.is_empty() && !r.trim().is_empty())
        else {
            return Err(format!("{}:{}: expected `<test path>\\t<reason>`", path.display(), i + 1));
        };
        if out.insert(name.to_string(), reason.trim().to_string()).is_some() {
            return Err(format!("{}:{}: {name} is listed twice", path.display(), i + 1));
        }
    }
    Ok(out)
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

    /// A pin with every field empty.
    fn empty_source() -> Source {
        Source {
            repository: String::new(),
            commit: String::new(),
            env: String::new(),
            synced: String::new(),
            shared: String::new(),
            suites: vec![],
            newest_server: None,
            name: None,
            manifest: None,
            moved: BTreeMap::new(),
            known_failures: None,
            known: BTreeMap::new(),
        }
    }

    #[test]
    fn missing_data_says_how_to_get_it() {
        let source = Source {
            repository: "https://example.invalid/specs".into(),
            commit: "abc".into(),
            env: "SPEC_CODEGEN_TEST_UNSET_VAR".into(),
            synced: "specifications".into(),
            shared: "nowhere".into(),
            ..empty_source()
        };
        let err = source.locate(Path::new("/nonexistent/root"), "source").unwrap_err();
        assert!(err.contains("spec data not found"), "{err}");
        assert!(err.contains("spec-data/sync.sh"), "{err}");
        assert!(err.contains("SPEC_CODEGEN_TEST_UNSET_VAR"), "{err}");
        assert!(err.contains("/nonexistent/root/spec-data/specifications/source"), "{err}");
    }

    #[test]
    fn moved_folders_map_by_longest_parent() {
        let mut source = empty_source();
        source.moved.insert("a/tests".into(), "b/tests/x".into());
        source.moved.insert("a/tests/old".into(), String::new());
        assert_eq!(source.locate_folder("a/tests").as_deref(), Some("b/tests/x"));
        assert_eq!(source.locate_folder("a/tests/y").as_deref(), Some("b/tests/x/y"));
        assert_eq!(source.locate_folder("a/testsz").as_deref(), Some("a/testsz"));
        assert_eq!(source.locate_folder("a/tests/old/z"), None);
        assert_eq!(source.locate_folder("c/tests").as_deref(), Some("c/tests"));
    }

    #[test]
    fn the_checked_in_pin_names_its_pins() {
        let root = workspace_root(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let mut pin = load_pin_file(&root).unwrap();
        assert!(pin.is_primary());
        let others: Vec<String> = pin.other_pins.keys().cloned().collect();
        for name in others {
            let mut p = pin.clone();
            p.select(&name).unwrap();
            assert!(!p.is_primary());
            assert_eq!(p.specifications.name.as_deref(), Some(name.as_str()));
            assert_ne!(p.specifications.manifest_path(), pin.specifications.manifest_path());
        }
        assert!(pin.select("no-such-pin").unwrap_err().contains("names no pin"));
    }
}
