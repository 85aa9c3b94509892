//! The tour's failover section: how soon a client sees the new primary after a step-down
//! when its monitors poll (`serverMonitoringMode=poll`) and when they stream (awaitable
//! `hello`, the default against 4.4+ servers), on a simulated replica set of its own.

use std::time::{Duration, Instant};

use bson::doc;
use mongo_driver::Client;

use crate::features::Outcome;

/// The monitors' heartbeat in this section: a polling monitor checks this often.
const HEARTBEAT_MS: u64 = 2000;
/// Step-downs measured.
const ROUNDS: u32 = 3;
/// How long a client may take to see the new primary.
const LIMIT: Duration = Duration::from_secs(15);

fn primary_of(client: &Client) -> Option<String> {
    client.topology().description().primary().map(|s| s.address.to_string())
}

/// How long after `since` the client first knows a primary other than `old`.
async fn detection(client: &Client, old: &str, since: Instant) -> Option<Duration> {
    while since.elapsed() < LIMIT {
        if primary_of(client).is_some_and(|p| p != old) {
            return Some(since.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    None
}

/// Waits until both clients know the same primary.
async fn agreed_primary(a: &Client, b: &Client) -> Option<String> {
    let until = Instant::now() + LIMIT;
    while Instant::now() < until {
        if let (Some(x), Some(y)) = (primary_of(a), primary_of(b))
            && x == y
        {
            return Some(x);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1e3)
}

/// Steps the primary down [`ROUNDS`] times and times, for a polling and a streaming client
/// watching the same set, the step-down → new-primary-known delay; checks that streaming
/// is the faster and that polling stays within about a heartbeat.
pub async fn detection_times() -> Outcome {
    println!("\n▶ Failover detection: polling vs streaming monitors (heartbeatFrequencyMS={HEARTBEAT_MS})");
    let deployment = mongo_sim::Deployment::start(mongo_sim::Config::replica_set(3))
        .await
        .map_err(|e| format!("deployment: {e}"))?;
    let base = deployment.connection_string();
    let separator = if base.contains('?') { '&' } else { '?' };
    let uri = |mode: &str| {
        format!("{base}{separator}serverMonitoringMode={mode}&heartbeatFrequencyMS={HEARTBEAT_MS}")
    };
    let polling = Client::with_uri_str(&uri("poll")).await.map_err(|e| format!("polling client: {e}"))?;
    let streaming =
        Client::with_uri_str(&uri("stream")).await.map_err(|e| format!("streaming client: {e}"))?;
    let admin = Client::with_uri_str(base).await.map_err(|e| format!("admin client: {e}"))?;
    println!("  (on an embedded simulated replica set: {base})");
    println!("  {:<6} {:>10} {:>10}", "round", "polling", "streaming");
    let (mut polled, mut streamed) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let old =
            agreed_primary(&polling, &streaming).await.ok_or("the clients never agreed on a primary")?;
        // Vary where in the polling heartbeat the step-down falls.
        tokio::time::sleep(Duration::from_millis(350 * u64::from(round))).await;
        let since = Instant::now();
        admin
            .database("admin")
            .run_command(doc! { "replSetStepDown": 2, "force": true })
            .await
            .map_err(|e| format!("replSetStepDown: {e}"))?;
        let (p, s) = tokio::join!(detection(&polling, &old, since), detection(&streaming, &old, since));
        let p = p.ok_or_else(|| {
            format!("round {round}: the polling client saw no new primary within {LIMIT:?}")
        })?;
        let s = s.ok_or_else(|| {
            format!("round {round}: the streaming client saw no new primary within {LIMIT:?}")
        })?;
        println!("  {round:<6} {:>10} {:>10}", ms(p), ms(s));
        polled.push(p);
        streamed.push(s);
    }
    let (p, s) = (median(polled), median(streamed));
    println!("  median: polling {}, streaming {} (the election itself takes ~50 ms here)", ms(p), ms(s));
    polling.shutdown().await;
    streaming.shutdown().await;
    admin.shutdown().await;
    if s >= p {
        return Err(format!("streaming ({}) was not faster than polling ({})", ms(s), ms(p)));
    }
    if p > Duration::from_millis(HEARTBEAT_MS) + Duration::from_secs(2) {
        return Err(format!("polling took {} (more than a heartbeat and the election)", ms(p)));
    }
    Ok(())
}
