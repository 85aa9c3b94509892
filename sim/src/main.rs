//! `mongo-sim`: run a simulated deployment until killed; prints its connection string as the
//! first line on stdout.

use std::io::Write;
use std::process::ExitCode;

use mongo_sim::{Config, Deployment, ServerVersion, Topology};

const USAGE: &str = "usage: mongo-sim [--topology standalone|replicaset|sharded] [--members N] [--routers M] \
                     [--version X.Y] [--port P]";

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut topology = Topology::Standalone;
    let mut members = 3usize;
    let mut routers = 2usize;
    let mut version = ServerVersion::V7_0;
    let mut port = None;
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
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    let config = match topology {
        Topology::Standalone => Config::standalone(),
        Topology::ReplicaSet => Config::replica_set(members),
        Topology::Sharded => Config::sharded(routers, members),
    };
    let config = config.with_version(version);
    Ok(match port {
        Some(p) => config.with_first_port(p),
        None => config,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(tracing::Level::INFO).init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let deployment = match Deployment::start(config).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("mongo-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", deployment.connection_string());
    let _ = stdout.flush();
    let _ = tokio::signal::ctrl_c().await;
    drop(deployment);
    ExitCode::SUCCESS
}
