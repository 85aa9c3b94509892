//! `mongo-sim`: run a simulated deployment until killed; prints its connection string as the
//! first line on stdout.
//!
//! TLS: `--tls-cert FILE --tls-key FILE` serve a certificate of yours (PEM; may be one file);
//! `--tls-self-signed-out DIR` makes a test CA and a server certificate for localhost and
//! 127.0.0.1, writes `ca.pem`, `server.pem` and `server-key.pem` into DIR, and the printed
//! connection string carries `tls=true&tlsCAFile=DIR/ca.pem`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use mongo_sim::{Config, Deployment, ServerVersion, TestCertificates, TlsSettings, Topology};

const USAGE: &str = "usage: mongo-sim [--topology standalone|replicaset|sharded] [--members N] [--routers M] \
                     [--version X.Y] [--port P] [--tls-cert FILE --tls-key FILE | --tls-self-signed-out DIR]";

/// What the command line asks for.
struct Args {
    config: Config,
    /// The CA file a client must trust, for the printed connection string.
    ca_file: Option<PathBuf>,
    tls: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut topology = Topology::Standalone;
    let mut members = 3usize;
    let mut routers = 2usize;
    let mut version = ServerVersion::V7_0;
    let mut port = None;
    let (mut cert, mut key, mut self_signed) = (None, None, None);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.to_owned());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("invalid {what} '{value}'\n{USAGE}");
        match flag.as_str() {
            "--topology" => topology = value.parse()?,
            "--members" => members = value.parse().map_err(|_| bad("member count"))?,
            "--routers" => routers = value.parse().map_err(|_| bad("router count"))?,
            "--version" => version = value.parse().map_err(|e| format!("{e}"))?,
            "--port" => port = Some(value.parse::<u16>().map_err(|_| bad("port"))?),
            "--tls-cert" => cert = Some(PathBuf::from(value)),
            "--tls-key" => key = Some(PathBuf::from(value)),
            "--tls-self-signed-out" => self_signed = Some(PathBuf::from(value)),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    let config = match topology {
        Topology::Standalone => Config::standalone(),
        Topology::ReplicaSet => Config::replica_set(members),
        Topology::Sharded => Config::sharded(routers, members),
    };
    let config = config.with_version(version);
    let config = match port {
        Some(p) => config.with_first_port(p),
        None => config,
    };
    let (tls, ca_file) = match (cert, key, self_signed) {
        (None, None, None) => (None, None),
        (Some(cert), Some(key), None) => (
            Some(TlsSettings::from_pem_files(&cert, &key).map_err(|e| format!("--tls-cert/--tls-key: {e}"))?),
            None,
        ),
        (None, None, Some(dir)) => {
            let certs = TestCertificates::generate(&[]).map_err(|e| e.to_string())?;
            let ca = certs.write_to(&dir).map_err(|e| format!("--tls-self-signed-out: {e}"))?;
            (Some(certs.settings().map_err(|e| e.to_string())?), Some(ca))
        }
        _ => return Err(format!("give --tls-cert with --tls-key, or --tls-self-signed-out alone\n{USAGE}")),
    };
    let enabled = tls.is_some();
    let config = match tls {
        Some(tls) => config.with_tls(tls),
        None => config,
    };
    Ok(Args { config, ca_file, tls: enabled })
}

/// The deployment's connection string with the TLS options a client needs.
fn client_uri(base: &str, args: &Args) -> String {
    if !args.tls {
        return base.to_owned();
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    match &args.ca_file {
        Some(ca) => format!("{base}{sep}tls=true&tlsCAFile={}", ca.display()),
        None => format!("{base}{sep}tls=true"),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::INFO).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let deployment = match Deployment::start(args.config.clone()).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mongo-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", client_uri(deployment.connection_string(), &args));
    let _ = stdout.flush();
    let _ = tokio::signal::ctrl_c().await;
    drop(deployment);
    ExitCode::SUCCESS
}
