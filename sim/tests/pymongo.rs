//! The simulator proven with a client nobody here wrote: pymongo scenarios (scripts in
//! `tests/pymongo/`) run against in-process deployments and must succeed.
//!
//! Python comes from `MONGO_SIM_PYTHON`, else `<repo>/.venv/bin/python` if it has pymongo
//! and its snappy and zstd support; otherwise the venv is created or completed (`python3 -m venv
//! .venv` + `pip install 'pymongo>=4,<5' python-snappy 'backports.zstd; python_version<"3.14"'`:
//! recent pymongo takes zstd from `compression.zstd`, which `backports.zstd` provides before
//! Python 3.14; the older `zstandard` module is no longer used).

mod sim {
    mod pymongo {
        use std::path::{Path, PathBuf};
        use std::process::Stdio;
        use std::sync::OnceLock;
        use std::time::Duration;

        use mongo_sim::{Config, Deployment, ServerVersion, TestCertificates};

        /// What the scenarios need: pymongo, and the modules of its snappy and zstd compressors
        /// (`.ci/run` installs the same).
        const PIP_PACKAGES: &[&str] =
            &["pymongo>=4,<5", "python-snappy", "backports.zstd; python_version<\"3.14\""];

        /// Exits non-zero unless pymongo and both its snappy and zstd compressors load.
        const HAS_COMPRESSORS: &str = "import pymongo, snappy\n\
            from pymongo.compression_support import _have_snappy, _have_zstd\n\
            assert _have_snappy() and _have_zstd()";

        /// A scenario that takes longer than this is stuck.
        const SCENARIO_TIMEOUT: Duration = Duration::from_secs(90);

        fn repo_root() -> PathBuf {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
        }

        fn has_pymongo(python: &Path) -> bool {
            std::process::Command::new(python)
                .args(["-c", HAS_COMPRESSORS])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        }

        fn create_venv(root: &Path) -> Result<PathBuf, String> {
            let venv = root.join(".venv");
            let python = venv.join("bin").join("python");
            if !python.exists() {
                let status = std::process::Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .map_err(|e| format!("python3 -m venv: {e}"))?;
                if !status.success() {
                    return Err(format!("python3 -m venv {} failed: {status}", venv.display()));
                }
            }
            let status = std::process::Command::new(&python)
                .args(["-m", "pip", "install", "--quiet"])
                .args(PIP_PACKAGES)
                .status()
                .map_err(|e| format!("pip install pymongo: {e}"))?;
            if !status.success() {
                return Err(format!("pip install {} failed: {status}", PIP_PACKAGES.join(" ")));
            }
            Ok(python)
        }

        /// The Python interpreter with pymongo (created once per test process).
        fn python() -> &'static Result<PathBuf, String> {
            static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
            PYTHON.get_or_init(|| {
                if let Some(p) = std::env::var_os("MONGO_SIM_PYTHON") {
                    return Ok(PathBuf::from(p));
                }
                let root = repo_root();
                let venv_python = root.join(".venv").join("bin").join("python");
                if has_pymongo(&venv_python) {
                    return Ok(venv_python);
                }
                create_venv(&root)
            })
        }

        /// Starts `config`, runs `tests/pymongo/<script>` with its connection string, and
        /// returns the script's `RESULT` line after asserting that it succeeded.
        async fn scenario(config: Config, script: &str) -> String {
            scenario_with(config, script, |uri| uri.to_owned(), &[]).await
        }

        /// [`scenario`] with the connection string rewritten by `uri` and more arguments.
        async fn scenario_with(
            config: Config,
            script: &str,
            uri: impl Fn(&str) -> String,
            extra: &[&str],
        ) -> String {
            let python = match python() {
                Ok(p) => p.clone(),
                Err(e) => panic!("no Python with pymongo: {e}"),
            };
            let deployment = Deployment::start(config).await.unwrap_or_else(|e| panic!("start: {e}"));
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("pymongo").join(script);
            let child = tokio::process::Command::new(&python)
                .arg(&path)
                .arg(uri(deployment.connection_string()))
                .args(extra)
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .output();
            let output = tokio::time::timeout(SCENARIO_TIMEOUT, child)
                .await
                .unwrap_or_else(|_| panic!("{script} did not finish within {SCENARIO_TIMEOUT:?}"))
                .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
            let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(
                output.status.success(),
                "{script} against {} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
                deployment.connection_string(),
                output.status
            );
            stdout
                .lines()
                .find_map(|l| l.strip_prefix("RESULT "))
                .map(str::to_owned)
                .unwrap_or_else(|| panic!("{script} printed no RESULT line:\n{stdout}"))
        }

        fn field<'a>(result: &'a str, key: &str) -> &'a str {
            result
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
                .unwrap_or_else(|| panic!("no {key}= in {result:?}"))
        }

        #[tokio::test]
        async fn replica_set_seed_list_discovery() {
            let d = Config::replica_set(3);
            let r = scenario(d, "discovery.py").await;
            assert_eq!(field(&r, "secondaries"), "2");
            assert_eq!(field(&r, "code"), "2");
        }

        #[tokio::test]
        async fn crud_and_cursor_over_several_get_mores() {
            let r = scenario(Config::replica_set(3), "crud_cursor.py").await;
            assert!(field(&r, "getmores").parse::<u32>().is_ok_and(|n| n >= 4));
            assert_eq!(field(&r, "remaining"), "17");
        }

        #[tokio::test]
        async fn explicit_session_with_causal_consistency() {
            let r = scenario(Config::replica_set(3), "causal.py").await;
            assert_eq!(field(&r, "after_cluster_time"), "ok");
        }

        #[tokio::test]
        async fn retryable_insert_after_closed_connection_applies_once() {
            let r = scenario(Config::replica_set(3), "retryable.py").await;
            assert_eq!((field(&r, "attempts"), field(&r, "documents")), ("2", "1"));
        }

        #[tokio::test]
        async fn step_down_then_new_primary_takes_writes() {
            let r = scenario(Config::replica_set(3), "stepdown.py").await;
            assert_ne!(field(&r, "old"), field(&r, "new"));
        }

        #[tokio::test]
        async fn snapshot_read_does_not_see_later_write() {
            let r = scenario(Config::replica_set(3), "snapshot.py").await;
            assert_eq!((field(&r, "snapshot_x"), field(&r, "current_x")), ("1", "2"));
        }

        #[tokio::test]
        async fn transactions_commit_abort_and_write_conflict() {
            let r = scenario(Config::replica_set(3), "transactions.py").await;
            assert_eq!((field(&r, "committed"), field(&r, "commits")), ("2", "1"));
        }

        #[tokio::test]
        async fn server_4_4_retryable_insert_and_step_down() {
            let v44 = || Config::replica_set(3).with_version(ServerVersion::V4_4);
            let r = scenario(v44(), "retryable.py").await;
            assert_eq!((field(&r, "attempts"), field(&r, "documents")), ("2", "1"));
            let r = scenario(v44(), "stepdown.py").await;
            assert_ne!(field(&r, "old"), field(&r, "new"));
        }

        #[tokio::test]
        async fn sharded_through_two_routers() {
            let r = scenario(Config::sharded(2, 3), "sharded.py").await;
            assert_eq!((field(&r, "routers"), field(&r, "documents")), ("2", "10"));
        }

        #[tokio::test]
        async fn scram_authentication_with_negotiation_sha1_and_refusals() {
            let config = Config::replica_set(3).with_user("admin", "alice", "wonderland");
            let r = scenario(config, "auth.py").await;
            assert_eq!((field(&r, "wrong_password"), field(&r, "anonymous")), ("18", "13"));
        }

        #[tokio::test]
        async fn tls_with_a_test_ca_and_each_compressor() {
            let certs = TestCertificates::generate(&[]).expect("test certificates");
            let dir = std::env::temp_dir().join(format!("mongo-sim-pymongo-tls-{}", std::process::id()));
            let ca = certs.write_to(&dir).expect("certificates written").display().to_string();
            let tls = || Config::replica_set(3).with_tls(certs.settings().expect("TLS settings"));
            let with_ca = |uri: &str| format!("{uri}&tls=true&tlsCAFile={ca}");
            let r = scenario_with(tls(), "tls_compression.py", with_ca, &["none"]).await;
            assert_eq!(field(&r, "tls"), "True");
            for compressor in ["snappy", "zlib", "zstd"] {
                let r =
                    scenario_with(Config::replica_set(3), "tls_compression.py", str::to_owned, &[compressor])
                        .await;
                assert_eq!((field(&r, "compressor"), field(&r, "inflated_over_15k")), (compressor, "True"));
            }
            let r = scenario_with(tls(), "tls_compression.py", with_ca, &["zstd"]).await;
            assert_eq!((field(&r, "tls"), field(&r, "inflated_over_15k")), ("True", "True"));
            let _ = std::fs::remove_dir_all(&dir);
        }

        #[tokio::test]
        async fn standalone_refuses_snapshot_reads() {
            let r = scenario(Config::standalone(), "standalone.py").await;
            assert_eq!(field(&r, "snapshot_error"), "123");
        }
    }
}
