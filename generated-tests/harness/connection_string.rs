//! Assertions for the connection string test format (`connection-string/tests/README.rst`),
//! shared by the URI options tests (`uri-options/tests/README.rst`).

use std::time::Duration;

use mongo_driver::connection_string::{Acknowledgment, ConnectionString, UriOptions};
use serde_json::{Map, Value as Json, json};

/// One generated case: the URI and the spec's expectations (`None` = no assertion).
#[derive(Debug)]
pub struct Case {
    /// The full test name (`<suite>::<file>::<case>`), also the snapshot's name.
    pub name: &'static str,
    /// The connection string to parse.
    pub uri: &'static str,
    /// Whether parsing must succeed.
    pub valid: bool,
    /// Whether parsing must (or must not) warn.
    pub warning: Option<bool>,
    /// The hosts, in order.
    pub hosts: Option<&'static [ExpectedHost]>,
    /// The credentials and auth database.
    pub auth: Option<ExpectedAuth>,
    /// The listed options (keys compared ignoring ASCII case) and their typed values.
    pub options: Option<&'static [(&'static str, Value)]>,
}

/// An expected host; `None` fields are not asserted.
#[derive(Debug)]
pub struct ExpectedHost {
    /// `ipv4`, `ip_literal`, `hostname` or `unix`.
    pub kind: Option<&'static str>,
    /// The host.
    pub host: &'static str,
    /// The port.
    pub port: Option<u16>,
}

/// Expected credentials; `None` fields are not asserted.
#[derive(Debug)]
pub struct ExpectedAuth {
    /// The user name.
    pub username: Option<&'static str>,
    /// The password.
    pub password: Option<&'static str>,
    /// The auth database.
    pub db: Option<&'static str>,
}

/// An expected option value, typed as in the spec file.
#[derive(Debug)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(&'static str),
    /// A list of strings.
    List(&'static [&'static str]),
    /// String pairs.
    Map(&'static [(&'static str, &'static str)]),
    /// A list of sets of string pairs.
    MapList(&'static [&'static [(&'static str, &'static str)]]),
}

fn pairs_json(pairs: &[(&str, &str)]) -> Json {
    Json::Object(pairs.iter().map(|(k, v)| (k.to_string(), json!(v))).collect())
}

impl Value {
    /// The value as JSON, the form [`options_json`] reports the driver's options in.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Bool(b) => json!(b),
            Value::Int(n) => json!(n),
            Value::Str(s) => json!(s),
            Value::List(items) => json!(items),
            Value::Map(pairs) => pairs_json(pairs),
            Value::MapList(sets) => Json::Array(sets.iter().map(|set| pairs_json(set)).collect()),
        }
    }
}

fn millis(d: &Option<Duration>) -> Option<Json> {
    d.map(|d| json!(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)))
}

/// The options the driver parsed, under the URI Options spec's names, typed as the spec
/// files type them (durations in the option's unit, `w` as a number or a string). Unset
/// options are absent.
pub fn options_json(options: &UriOptions) -> Map<String, Json> {
    // Destructured so that a new option field fails to compile until it is mapped here.
    let UriOptions {
        app_name,
        auth_mechanism,
        auth_mechanism_properties,
        auth_source,
        compressors,
        zlib_compression_level,
        connect_timeout,
        direct_connection,
        enable_overload_retargeting,
        heartbeat_frequency,
        journal,
        load_balanced,
        local_threshold,
        max_adaptive_retries,
        max_idle_time,
        max_pool_size,
        min_pool_size,
        max_connecting,
        max_staleness_seconds,
        proxy_host,
        proxy_port,
        proxy_username,
        proxy_password,
        read_concern_level,
        read_preference,
        read_preference_tags,
        replica_set,
        retry_reads,
        retry_writes,
        server_monitoring_mode,
        server_selection_timeout,
        server_selection_try_once,
        socket_timeout,
        srv_max_hosts,
        srv_service_name,
        timeout,
        tls,
        tls_allow_invalid_certificates,
        tls_allow_invalid_hostnames,
        tls_ca_file,
        tls_certificate_key_file,
        tls_certificate_key_file_password,
        tls_disable_certificate_revocation_check,
        tls_disable_ocsp_endpoint_check,
        tls_insecure,
        w,
        wait_queue_timeout,
        w_timeout,
    } = options;
    let entries: Vec<(&str, Option<Json>)> = vec![
        ("appname", app_name.as_ref().map(|v| json!(v))),
        ("authMechanism", auth_mechanism.as_ref().map(|v| json!(v))),
        ("authMechanismProperties", auth_mechanism_properties.as_ref().map(|v| json!(v))),
        ("authSource", auth_source.as_ref().map(|v| json!(v))),
        ("compressors", compressors.as_ref().map(|v| json!(v))),
        ("zlibCompressionLevel", zlib_compression_level.map(|v| json!(v))),
        ("connectTimeoutMS", millis(connect_timeout)),
        ("directConnection", direct_connection.map(|v| json!(v))),
        ("enableOverloadRetargeting", enable_overload_retargeting.map(|v| json!(v))),
        ("heartbeatFrequencyMS", millis(heartbeat_frequency)),
        ("journal", journal.map(|v| json!(v))),
        ("loadBalanced", load_balanced.map(|v| json!(v))),
        ("localThresholdMS", millis(local_threshold)),
        ("maxAdaptiveRetries", max_adaptive_retries.map(|v| json!(v))),
        ("maxIdleTimeMS", millis(max_idle_time)),
        ("maxPoolSize", max_pool_size.map(|v| json!(v))),
        ("minPoolSize", min_pool_size.map(|v| json!(v))),
        ("maxConnecting", max_connecting.map(|v| json!(v))),
        ("maxStalenessSeconds", max_staleness_seconds.map(|v| json!(v))),
        ("proxyHost", proxy_host.as_ref().map(|v| json!(v))),
        ("proxyPort", proxy_port.map(|v| json!(v))),
        ("proxyUsername", proxy_username.as_ref().map(|v| json!(v))),
        ("proxyPassword", proxy_password.as_ref().map(|v| json!(v))),
        ("readConcernLevel", read_concern_level.as_ref().map(|v| json!(v))),
        ("readPreference", read_preference.map(|v| json!(v.as_str()))),
        (
            "readPreferenceTags",
            read_preference_tags.as_ref().map(|sets| Json::Array(sets.iter().map(|s| json!(s.0)).collect())),
        ),
        ("replicaSet", replica_set.as_ref().map(|v| json!(v))),
        ("retryReads", retry_reads.map(|v| json!(v))),
        ("retryWrites", retry_writes.map(|v| json!(v))),
        ("serverMonitoringMode", server_monitoring_mode.map(|v| json!(v.as_str()))),
        ("serverSelectionTimeoutMS", millis(server_selection_timeout)),
        ("serverSelectionTryOnce", server_selection_try_once.map(|v| json!(v))),
        ("socketTimeoutMS", millis(socket_timeout)),
        ("srvMaxHosts", srv_max_hosts.map(|v| json!(v))),
        ("srvServiceName", srv_service_name.as_ref().map(|v| json!(v))),
        ("timeoutMS", millis(timeout)),
        ("tls", tls.map(|v| json!(v))),
        ("tlsAllowInvalidCertificates", tls_allow_invalid_certificates.map(|v| json!(v))),
        ("tlsAllowInvalidHostnames", tls_allow_invalid_hostnames.map(|v| json!(v))),
        ("tlsCAFile", tls_ca_file.as_ref().map(|v| json!(v))),
        ("tlsCertificateKeyFile", tls_certificate_key_file.as_ref().map(|v| json!(v))),
        ("tlsCertificateKeyFilePassword", tls_certificate_key_file_password.as_ref().map(|v| json!(v))),
        ("tlsDisableCertificateRevocationCheck", tls_disable_certificate_revocation_check.map(|v| json!(v))),
        ("tlsDisableOCSPEndpointCheck", tls_disable_ocsp_endpoint_check.map(|v| json!(v))),
        ("tlsInsecure", tls_insecure.map(|v| json!(v))),
        (
            "w",
            w.as_ref().map(|w| match w {
                Acknowledgment::Nodes(n) => json!(n),
                Acknowledgment::Majority => json!("majority"),
                Acknowledgment::Custom(name) => json!(name),
            }),
        ),
        ("waitQueueTimeoutMS", millis(wait_queue_timeout)),
        ("wTimeoutMS", millis(w_timeout)),
    ];
    entries.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect()
}

/// What the snapshot records: the parse result, or the error.
fn snapshot_view(uri: &str, result: &Result<ConnectionString, mongo_driver::Error>) -> Json {
    match result {
        Ok(cs) => json!({
            "uri": uri,
            "hosts": cs.hosts.iter().map(|h| json!({
                "type": h.kind.spec_name(), "host": h.host, "port": h.port,
            })).collect::<Vec<_>>(),
            "auth": { "username": cs.username, "password": cs.password, "db": cs.database },
            "options": options_json(&cs.options),
            "warnings": cs.warnings,
        }),
        Err(e) => json!({ "uri": uri, "error": e.to_string() }),
    }
}

/// Parses `case.uri` with the driver, asserts the case's expectations, and checks the
/// snapshot `generated-tests/snapshots/<name with :: as __>.snap`.
pub fn check(case: &Case) {
    let name = case.name;
    let result = ConnectionString::parse(case.uri);
    match (&result, case.valid) {
        (Err(e), true) => panic!("{name}: expected {:?} to parse, got the error: {e}", case.uri),
        (Ok(cs), false) => panic!("{name}: expected {:?} to be rejected, it parsed as {cs:?}", case.uri),
        (Err(_), false) => {
            assert!(
                case.warning != Some(true),
                "{name}: the case expects a warning from a URI that fails to parse"
            );
        }
        (Ok(cs), true) => check_parsed(case, cs),
    }

    crate::snapshot(name, &snapshot_view(case.uri, &result));
}

fn check_parsed(case: &Case, cs: &ConnectionString) {
    let name = case.name;
    if let Some(warning) = case.warning {
        assert_eq!(
            !cs.warnings.is_empty(),
            warning,
            "{name}: expected warning={warning} for {:?}; warnings: {:?}",
            case.uri,
            cs.warnings
        );
    }
    if let Some(hosts) = case.hosts {
        let actual: Vec<String> = cs.hosts.iter().map(|h| format!("{h:?}")).collect();
        assert_eq!(cs.hosts.len(), hosts.len(), "{name}: host count; parsed {actual:?}");
        for (i, (expected, host)) in hosts.iter().zip(&cs.hosts).enumerate() {
            assert_eq!(host.host, expected.host, "{name}: host {i}");
            if let Some(kind) = expected.kind {
                assert_eq!(host.kind.spec_name(), kind, "{name}: type of host {i} ({})", host.host);
            }
            if let Some(port) = expected.port {
                assert_eq!(host.port, Some(port), "{name}: port of host {i} ({})", host.host);
            }
        }
    }
    if let Some(auth) = &case.auth {
        if let Some(username) = auth.username {
            assert_eq!(cs.username.as_deref(), Some(username), "{name}: username");
        }
        if let Some(password) = auth.password {
            assert_eq!(cs.password.as_deref(), Some(password), "{name}: password");
        }
        if let Some(db) = auth.db {
            assert_eq!(cs.database.as_deref(), Some(db), "{name}: auth database");
        }
    }
    if let Some(options) = case.options {
        let actual = options_json(&cs.options);
        for (key, expected) in options {
            let found = actual.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v);
            assert_eq!(
                found,
                Some(&expected.to_json()),
                "{name}: option `{key}`; all parsed options: {}",
                Json::Object(actual.clone())
            );
        }
    }
}
