//! `mongodb+srv` (initial DNS seedlist discovery spec, `initial-dns-seedlist-discovery.rst`):
//! the SRV lookup that gives the seed list, the TXT lookup that gives default options, the
//! domain-match rule, `srvServiceName`, `srvMaxHosts` and TLS on by default; and the record
//! comparison behind SRV polling (`polling-srv-records-for-mongos-discovery.rst`), which
//! [`crate::topology`] runs for sharded (and still unknown) topologies.
//!
//! DNS goes through the [`Resolver`] trait: [`SystemResolver`] asks the system's name servers
//! (hickory-resolver, configured from `/etc/resolv.conf`), and tests inject their own records.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rand::seq::SliceRandom;

use super::address::ServerAddress;
use super::connection_string::{ConnectionString, Host, HostKind, Scheme, parse_txt_options};
use crate::error::{Error, Result};

/// The default `srvServiceName`.
pub const DEFAULT_SERVICE_NAME: &str = "mongodb";

/// The shortest SRV polling interval (`rescanSRVIntervalMS`'s floor, 60 seconds) when the
/// records' TTLs are shorter.
pub const MIN_RESCAN_INTERVAL: Duration = Duration::from_secs(60);

/// One SRV record: where a host listens, and how long the answer may be cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// The target host name (a trailing dot is allowed and ignored).
    pub target: String,
    /// The port.
    pub port: u16,
    /// The record's TTL.
    pub ttl: Duration,
}

/// A DNS resolver for SRV and TXT records.
pub trait Resolver: Send + Sync + fmt::Debug {
    /// The SRV records of `name` (e.g. `_mongodb._tcp.cluster0.example.com`); no records is
    /// `Ok` of an empty list.
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvRecord>>>;

    /// The TXT records of `name`, each as its character strings in order; no records is `Ok`
    /// of an empty list.
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Vec<String>>>>;
}

/// The system's name servers, through hickory-resolver (a pure-Rust async resolver: no
/// blocking `getaddrinfo` thread, SRV and TXT support, a maintained successor of
/// trust-dns).
#[derive(Debug, Default)]
pub struct SystemResolver {
    inner: tokio::sync::OnceCell<hickory_resolver::TokioResolver>,
}

fn dns_error(what: String, e: impl fmt::Display) -> Error {
    Error::io(what, std::io::Error::other(e.to_string()))
}

impl SystemResolver {
    async fn resolver(&self) -> Result<&hickory_resolver::TokioResolver> {
        self.inner
            .get_or_try_init(|| async {
                hickory_resolver::TokioResolver::builder_tokio()
                    .map(|b| b.build())
                    .map_err(|e| dns_error("reading the system's DNS configuration".to_owned(), e))?
                    .map_err(|e| dns_error("starting the DNS resolver".to_owned(), e))
            })
            .await
    }

    async fn lookup(
        &self,
        name: &str,
        kind: hickory_resolver::proto::rr::RecordType,
    ) -> Result<Vec<hickory_resolver::proto::rr::Record>> {
        let resolver = self.resolver().await?;
        match resolver.lookup(name, kind).await {
            Ok(lookup) => Ok(lookup.answers().to_vec()),
            Err(e) if e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(dns_error(format!("looking up the {kind} records of {name}"), e)),
        }
    }
}

impl Resolver for SystemResolver {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvRecord>>> {
        Box::pin(async move {
            use hickory_resolver::proto::rr::{RData, RecordType};
            let records = self.lookup(name, RecordType::SRV).await?;
            Ok(records
                .into_iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(srv) => Some(SrvRecord {
                        target: srv.target.to_utf8(),
                        port: srv.port,
                        ttl: Duration::from_secs(u64::from(r.ttl)),
                    }),
                    _ => None,
                })
                .collect())
        })
    }

    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Vec<String>>>> {
        Box::pin(async move {
            use hickory_resolver::proto::rr::{RData, RecordType};
            let records = self.lookup(name, RecordType::TXT).await?;
            Ok(records
                .into_iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => {
                        Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect())
                    }
                    _ => None,
                })
                .collect())
        })
    }
}

/// The shared default resolver.
pub fn system_resolver() -> Arc<dyn Resolver> {
    static SYSTEM: std::sync::OnceLock<Arc<SystemResolver>> = std::sync::OnceLock::new();
    SYSTEM.get_or_init(|| Arc::new(SystemResolver::default())).clone()
}

fn srv_error(message: impl fmt::Display) -> Error {
    Error::invalid_argument(format!("mongodb+srv: {message}"))
}

impl SrvPolling {
    /// Polling for `uri` (the connection string as given, before resolution) through
    /// `resolver`; `None` for a `mongodb://` URI or a load-balanced one.
    pub fn for_uri(uri: &ConnectionString, resolver: Arc<dyn Resolver>) -> Result<Option<Self>> {
        if uri.scheme != Scheme::Srv || uri.options.load_balanced == Some(true) {
            return Ok(None);
        }
        let host = uri.hosts.first().map(|h| h.host.as_str()).unwrap_or_default();
        Ok(Some(Self {
            name: SrvName::parse(host)?,
            service: uri.options.srv_service_name.clone().unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned()),
            max_hosts: uri.options.srv_max_hosts.unwrap_or(0),
            resolver,
            fixed_interval: None,
        }))
    }

    /// The interval until the next rescan after a lookup that found `records`.
    pub fn interval_after(&self, records: &[SrvRecord]) -> Duration {
        self.fixed_interval.unwrap_or_else(|| rescan_interval(records, MIN_RESCAN_INTERVAL))
    }
}

/// What an SRV URI's name is made of: `{hostname}.{domainname}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvName {
    /// The whole name, lower-case, without a trailing dot.
    pub name: String,
    /// The parent domain (`{domainname}`): the name without its first label.
    pub domain: String,
}

impl SrvName {
    /// Checks the spec's "Validation Before Querying DNS": at least three labels.
    pub fn parse(host: &str) -> Result<Self> {
        let name = host.trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 3 || labels.iter().any(|l| l.is_empty()) {
            return Err(srv_error(format!(
                "the host `{host}` must have at least three parts ({{hostname}}.{{domain}}.{{tld}})"
            )));
        }
        let domain = labels[1..].join(".");
        Ok(Self { name, domain })
    }

    /// The DNS name of the SRV query for `service` (`_{service}._tcp.{name}`).
    pub fn query(&self, service: &str) -> String {
        format!("_{service}._tcp.{}", self.name)
    }

    /// Whether `target` is in this name's parent domain (the spec's domain-match rule: it
    /// must end with `.{domainname}`).
    pub fn owns(&self, target: &str) -> bool {
        let target = target.trim_end_matches('.').to_ascii_lowercase();
        target.ends_with(&format!(".{}", self.domain))
    }
}

/// The hosts of SRV records, checked against `name`'s domain; an empty answer or a foreign
/// host is an error.
pub fn hosts_of(name: &SrvName, query: &str, records: &[SrvRecord]) -> Result<Vec<ServerAddress>> {
    if records.is_empty() {
        return Err(srv_error(format!("the DNS query for `{query}` returned no SRV records")));
    }
    records
        .iter()
        .map(|r| {
            if !name.owns(&r.target) {
                return Err(srv_error(format!(
                    "the SRV record target `{}` is not in the domain `{}` of `{}`",
                    r.target, name.domain, name.name
                )));
            }
            Ok(ServerAddress::new(r.target.trim_end_matches('.').to_ascii_lowercase(), r.port))
        })
        .collect()
}

/// At most `max` of `hosts` chosen at random (Fisher-Yates shuffle); all when `max` is 0 or
/// at least their number.
pub fn choose_hosts(mut hosts: Vec<ServerAddress>, max: u32) -> Vec<ServerAddress> {
    let max = max as usize;
    if max == 0 || max >= hosts.len() {
        return hosts;
    }
    hosts.shuffle(&mut rand::rng());
    hosts.truncate(max);
    hosts
}

/// The options a TXT record may set.
const TXT_OPTIONS: &[&str] = &["authsource", "replicaset", "loadbalanced"];

/// Resolves a `mongodb+srv` connection string: the seed list from SRV records (at most
/// `srvMaxHosts`), default `authSource`/`replicaSet`/`loadBalanced` from the TXT record
/// (options in the URI win), and `tls` on unless the URI turns it off. The result keeps the
/// `mongodb+srv` scheme (the topology polls SRV records for it) with the seeds as its hosts.
/// A `mongodb://` string is returned unchanged.
///
/// Errors: fewer than three name parts (before any lookup), no SRV records, a DNS failure, a
/// record outside the name's domain, several TXT records, a TXT option other than the three
/// allowed or malformed, and the option conflicts that become visible only after the TXT
/// record (`srvMaxHosts` with `replicaSet` or `loadBalanced=true`, `loadBalanced=true` with
/// several hosts or `replicaSet`).
pub async fn resolve(uri: &ConnectionString, resolver: &dyn Resolver) -> Result<ConnectionString> {
    if uri.scheme != Scheme::Srv {
        return Ok(uri.clone());
    }
    let host = uri.hosts.first().map(|h| h.host.as_str()).unwrap_or_default();
    let name = SrvName::parse(host)?;
    let service = uri.options.srv_service_name.clone().unwrap_or_else(|| DEFAULT_SERVICE_NAME.to_owned());
    let query = name.query(&service);
    let records = resolver.srv(&query).await?;
    let hosts = hosts_of(&name, &query, &records)?;
    let txt = resolver.txt(&name.name).await?;
    if txt.len() > 1 {
        return Err(srv_error(format!(
            "`{}` has {} TXT records; at most one is allowed",
            name.name,
            txt.len()
        )));
    }
    let mut resolved = uri.clone();
    if let Some(strings) = txt.first() {
        let text = strings.concat();
        let (options, present) = parse_txt_options(&text)
            .map_err(|e| srv_error(format!("the TXT record of `{}` is malformed: {e}", name.name)))?;
        if let Some(key) = present.iter().find(|k| !TXT_OPTIONS.contains(&k.as_str())) {
            return Err(srv_error(format!(
                "the TXT record of `{}` sets `{key}`; only authSource, replicaSet and loadBalanced are allowed",
                name.name
            )));
        }
        let o = &mut resolved.options;
        if o.auth_source.is_none() {
            o.auth_source = options.auth_source;
        }
        if o.replica_set.is_none() {
            o.replica_set = options.replica_set;
        }
        if o.load_balanced.is_none() {
            o.load_balanced = options.load_balanced;
        }
    }
    let o = &mut resolved.options;
    if o.tls.is_none() {
        o.tls = Some(true);
    }
    let max = o.srv_max_hosts.unwrap_or(0);
    if max > 0 && o.replica_set.is_some() {
        return Err(srv_error("a positive `srvMaxHosts` cannot be used with `replicaSet`"));
    }
    if o.load_balanced == Some(true) {
        if max > 0 {
            return Err(srv_error("a positive `srvMaxHosts` cannot be used with `loadBalanced=true`"));
        }
        if hosts.len() > 1 {
            return Err(srv_error(format!(
                "`loadBalanced=true` needs exactly one host, but `{query}` lists {}",
                hosts.len()
            )));
        }
        if o.replica_set.is_some() {
            return Err(srv_error("`loadBalanced=true` cannot be used with `replicaSet`"));
        }
        if o.direct_connection == Some(true) {
            return Err(srv_error("`loadBalanced=true` cannot be used with `directConnection=true`"));
        }
    }
    resolved.hosts = choose_hosts(hosts, max)
        .into_iter()
        .map(|a| Host { kind: HostKind::Hostname, host: a.host().to_owned(), port: Some(a.port()) })
        .collect();
    Ok(resolved)
}

/// The `rescanSRVIntervalMS` after a lookup: the smallest TTL, at least
/// [`MIN_RESCAN_INTERVAL`] (polling spec, "Implementation").
pub fn rescan_interval(records: &[SrvRecord], floor: Duration) -> Duration {
    records.iter().map(|r| r.ttl).min().unwrap_or(floor).max(floor)
}

/// What an SRV rescan means for the topology's hosts (polling spec): `None` when the lookup
/// must be ignored (a DNS error, no records, or no record inside the name's domain: keep the
/// hosts, and poll again after `heartbeatFrequencyMS`), else the new host list: the current
/// hosts still listed, then, up to `srvMaxHosts` in all, randomly chosen new ones. Records
/// outside the domain are left out (and logged), not an error.
pub fn rescan(
    name: &SrvName,
    query: &str,
    lookup: &Result<Vec<SrvRecord>>,
    current: &[ServerAddress],
    max_hosts: u32,
) -> Option<Vec<ServerAddress>> {
    let records = match lookup {
        Ok(records) => records,
        Err(e) => {
            tracing::warn!(%query, error = %e, "SRV rescan failed; the hosts are unchanged");
            return None;
        }
    };
    let mut found = Vec::new();
    for record in records {
        if name.owns(&record.target) {
            let address =
                ServerAddress::new(record.target.trim_end_matches('.').to_ascii_lowercase(), record.port);
            if !found.contains(&address) {
                found.push(address);
            }
        } else {
            tracing::warn!(%query, target = %record.target, "SRV rescan: a record outside the domain is ignored");
        }
    }
    if found.is_empty() {
        tracing::warn!(%query, "SRV rescan found no usable records; the hosts are unchanged");
        return None;
    }
    let mut kept: Vec<ServerAddress> = current.iter().filter(|h| found.contains(h)).cloned().collect();
    let mut added: Vec<ServerAddress> = found.into_iter().filter(|h| !kept.contains(h)).collect();
    if max_hosts > 0 {
        let room = (max_hosts as usize).saturating_sub(kept.len());
        added.shuffle(&mut rand::rng());
        added.truncate(room);
    }
    kept.extend(added);
    Some(kept)
}

/// SRV polling for a `mongodb+srv` topology (polling spec): what to look up, how many hosts
/// to keep, and how often.
#[derive(Debug, Clone)]
pub struct SrvPolling {
    /// The SRV name of the connection string.
    pub name: SrvName,
    /// `srvServiceName`.
    pub service: String,
    /// `srvMaxHosts` (0: no limit).
    pub max_hosts: u32,
    /// Where the records come from.
    pub resolver: Arc<dyn Resolver>,
    /// A fixed `rescanSRVIntervalMS` instead of the TTL rule (tests); `None`: the records'
    /// smallest TTL, at least [`MIN_RESCAN_INTERVAL`].
    pub fixed_interval: Option<Duration>,
}

/// A table of records held in memory: a [`Resolver`] for tests and for deployments without
/// DNS. Its records can be changed while a client uses it (SRV polling tests).
#[derive(Debug, Default)]
pub struct StaticResolver {
    tables: std::sync::Mutex<Tables>,
}

#[derive(Debug, Default, Clone)]
struct Tables {
    srv: std::collections::BTreeMap<String, Vec<SrvRecord>>,
    txt: std::collections::BTreeMap<String, Vec<Vec<String>>>,
    failing: std::collections::BTreeSet<String>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds an SRV record for `name` (names are compared case-insensitively, without a
    /// trailing dot) with a TTL of a day.
    pub fn with_srv(self, name: &str, target: &str, port: u16) -> Self {
        let record = SrvRecord { target: target.to_owned(), port, ttl: Duration::from_secs(86400) };
        self.tables().srv.entry(normalize(name)).or_default().push(record);
        self
    }

    /// Adds a TXT record of `strings` for `name`.
    pub fn with_txt(self, name: &str, strings: &[&str]) -> Self {
        self.tables()
            .txt
            .entry(normalize(name))
            .or_default()
            .push(strings.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    /// Replaces the SRV records of `name` with `(target, port)` pairs.
    pub fn set_srv(&self, name: &str, records: &[(&str, u16)]) {
        let records = records
            .iter()
            .map(|(target, port)| SrvRecord {
                target: (*target).to_owned(),
                port: *port,
                ttl: Duration::from_secs(86400),
            })
            .collect();
        self.tables().srv.insert(normalize(name), records);
    }

    /// Makes lookups of `name` fail (as a DNS timeout or a vanished domain would) or work again.
    pub fn set_failing(&self, name: &str, failing: bool) {
        let mut tables = self.tables();
        if failing {
            tables.failing.insert(normalize(name));
        } else {
            tables.failing.remove(&normalize(name));
        }
    }

    fn check(&self, name: &str) -> Result<()> {
        if self.tables().failing.contains(&normalize(name)) {
            return Err(Error::io(
                format!("looking up {name}"),
                std::io::Error::new(std::io::ErrorKind::TimedOut, "the DNS lookup failed"),
            ));
        }
        Ok(())
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Resolver for StaticResolver {
    fn srv<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<SrvRecord>>> {
        Box::pin(async move {
            self.check(name)?;
            Ok(self.tables().srv.get(&normalize(name)).cloned().unwrap_or_default())
        })
    }

    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<Vec<String>>>> {
        Box::pin(async move {
            self.check(name)?;
            Ok(self.tables().txt.get(&normalize(name)).cloned().unwrap_or_default())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> StaticResolver {
        StaticResolver::new()
            .with_srv("_mongodb._tcp.db.example.com", "a.example.com.", 27017)
            .with_srv("_mongodb._tcp.db.example.com", "b.example.com.", 27018)
            .with_srv("_mongodb._tcp.bad.example.com", "a.evil.com.", 27017)
            .with_txt("db.example.com", &["replicaSet=rs", "0&authSource=admin"])
            .with_srv("_mongodb._tcp.two.example.com", "a.example.com", 27017)
            .with_txt("two.example.com", &["replicaSet=a"])
            .with_txt("two.example.com", &["authSource=b"])
    }

    async fn resolved(uri: &str) -> Result<ConnectionString> {
        resolve(&ConnectionString::parse(uri)?, &records()).await
    }

    #[tokio::test]
    async fn seeds_options_and_tls_come_from_dns() {
        let cs = resolved("mongodb+srv://db.example.com/").await.expect("resolves");
        let hosts: Vec<_> = cs.hosts.iter().map(|h| format!("{}:{}", h.host, h.port.unwrap_or(0))).collect();
        assert_eq!(hosts, ["a.example.com:27017", "b.example.com:27018"]);
        assert_eq!(cs.options.replica_set.as_deref(), Some("rs0"));
        assert_eq!(cs.options.auth_source.as_deref(), Some("admin"));
        assert_eq!(cs.options.tls, Some(true));
        let cs = resolved("mongodb+srv://db.example.com/?tls=false&replicaSet=mine").await.expect("resolves");
        assert_eq!((cs.options.tls, cs.options.replica_set.as_deref()), (Some(false), Some("mine")));
    }

    #[tokio::test]
    async fn foreign_hosts_missing_records_and_two_txt_records_are_errors() {
        for uri in [
            "mongodb+srv://bad.example.com/",
            "mongodb+srv://none.example.com/",
            "mongodb+srv://two.example.com/",
            "mongodb+srv://example.com/",
        ] {
            assert!(resolved(uri).await.is_err(), "{uri}");
        }
    }

    #[test]
    fn srv_max_hosts_chooses_at_random_and_rescans_keep_current_hosts() {
        let hosts: Vec<ServerAddress> =
            (0..5).map(|i| ServerAddress::new(format!("h{i}.example.com"), 1)).collect();
        assert_eq!(choose_hosts(hosts.clone(), 2).len(), 2);
        assert_eq!(choose_hosts(hosts.clone(), 0).len(), 5);
        let name = SrvName::parse("db.example.com").expect("name");
        let record =
            |h: &ServerAddress| SrvRecord { target: h.host().to_owned(), port: 1, ttl: Duration::ZERO };
        let now: Vec<SrvRecord> = hosts[1..].iter().map(record).collect();
        let next = rescan(&name, "q", &Ok(now), &hosts[..2], 3).expect("applies");
        assert_eq!(next.len(), 3);
        assert_eq!(next[0], hosts[1], "a current host still listed is kept first");
        assert!(!next.contains(&hosts[0]), "a host no longer listed is removed");
        assert_eq!(rescan(&name, "q", &Ok(Vec::new()), &hosts, 0), None, "no records: ignored");
        let foreign = vec![SrvRecord { target: "x.evil.com".into(), port: 1, ttl: Duration::ZERO }];
        assert_eq!(rescan(&name, "q", &Ok(foreign), &hosts, 0), None, "no verified record: ignored");
        assert_eq!(rescan_interval(&[], MIN_RESCAN_INTERVAL), MIN_RESCAN_INTERVAL);
    }
}
