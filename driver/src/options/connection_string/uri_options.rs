//! The options of a connection string (URI options spec, the options table): each key's
//! value type and allowed values, repeated and unique keys, and the warnings for unknown keys
//! and invalid values, which are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::{Acknowledgment, UriOptions, invalid, percent_decode};
use crate::error::Result;
use crate::options::monitoring_mode::ServerMonitoringMode;
use crate::options::read_preference::{ReadPreferenceMode, TagSet};

/// Option keys (lower case) that may be repeated to form a list.
const LIST_KEYS: &[&str] = &["readpreferencetags"];
/// Option keys (lower case) whose repetition is an error.
const UNIQUE_KEYS: &[&str] = &["proxyhost", "proxyport", "proxyusername", "proxypassword"];

/// Parses the options of a `mongodb+srv` TXT record (initial DNS seedlist discovery spec,
/// "Default Connection String Options"): the same `key=value&…` syntax as a URI's options,
/// with the same errors. Returns the options and the lower-case keys given.
pub fn parse_txt_options(text: &str) -> Result<(UriOptions, BTreeSet<String>)> {
    let mut parser = OptionsParser::default();
    parser.parse_query(text)?;
    Ok((parser.options, parser.present))
}

/// The options parsed so far, the warnings given and the keys seen.
#[derive(Default)]
pub(super) struct OptionsParser {
    pub(super) options: UriOptions,
    pub(super) warnings: Vec<String>,
    /// Lower-case keys seen in the URI (valid value or not).
    pub(super) present: BTreeSet<String>,
    /// The values given for `tls` and `ssl`, which must all agree.
    tls_values: Vec<(String, bool)>,
}

impl OptionsParser {
    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    pub(super) fn parse_query(&mut self, query: &str) -> Result<()> {
        for pair in query.split('&') {
            if pair.is_empty() {
                continue;
            }
            let (raw_key, raw_value) = pair.split_once('=').ok_or_else(|| {
                invalid(format!("the option `{pair}` has no `=`; options must be `key=value` pairs"))
            })?;
            let key = percent_decode(raw_key, "option name")?;
            let lower = key.to_ascii_lowercase();
            if !self.present.insert(lower.clone()) && !LIST_KEYS.contains(&lower.as_str()) {
                if UNIQUE_KEYS.contains(&lower.as_str()) {
                    return Err(invalid(format!("the option `{key}` is given more than once")));
                }
                self.warn(format!("the option `{key}` is given more than once; the last value is used"));
            }
            self.apply(&key, &lower, raw_value)?;
        }
        let mut tls = self.tls_values.iter();
        if let Some((first_key, first)) = tls.next()
            && let Some((key, _)) = tls.find(|(_, v)| v != first)
        {
            return Err(invalid(format!("the options `{first_key}` and `{key}` must have the same value")));
        }
        Ok(())
    }

    fn unsupported_value(&mut self, key: &str, value: &str, expected: &str) {
        self.warn(format!(
            "unsupported value `{value}` for option `{key}` (expected {expected}); the option is ignored"
        ));
    }

    /// An integer in `min..=max`, or a warning and `None`.
    fn int(&mut self, key: &str, value: &str, min: i64, max: i64) -> Option<i64> {
        if value.is_empty() {
            self.warn(format!("the option `{key}` has an empty value; it is ignored"));
            return None;
        }
        match value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let expected = if max == i64::from(i32::MAX) || max == i64::MAX {
                    format!("an integer of at least {min}")
                } else {
                    format!("an integer from {min} to {max}")
                };
                self.unsupported_value(key, value, &expected);
                None
            }
        }
    }

    fn u32(&mut self, key: &str, value: &str, min: u32) -> Option<u32> {
        self.int(key, value, i64::from(min), i64::from(i32::MAX)).and_then(|n| u32::try_from(n).ok())
    }

    fn millis(&mut self, key: &str, value: &str, min: u64, max: i64) -> Option<Duration> {
        self.int(key, value, min as i64, max).and_then(|n| u64::try_from(n).ok()).map(Duration::from_millis)
    }

    fn boolean(&mut self, key: &str, value: &str) -> Option<bool> {
        match value {
            "true" => Some(true),
            "false" => Some(false),
            "" => {
                self.warn(format!("the option `{key}` has an empty value; it is ignored"));
                None
            }
            _ => {
                self.unsupported_value(key, value, "`true` or `false`");
                None
            }
        }
    }

    /// `k:v,k:v` pairs (each part percent-decoded after splitting), or a warning and `None`.
    fn pairs(&mut self, key: &str, raw: &str) -> Result<Option<BTreeMap<String, String>>> {
        let mut out = BTreeMap::new();
        if raw.is_empty() {
            return Ok(Some(out));
        }
        for item in raw.split(',') {
            let Some((k, v)) = item.split_once(':') else {
                let shown = percent_decode(raw, "option value")?;
                self.unsupported_value(key, &shown, "comma-separated `key:value` pairs");
                return Ok(None);
            };
            out.insert(percent_decode(k, "option value")?, percent_decode(v, "option value")?);
        }
        Ok(Some(out))
    }

    fn apply(&mut self, key: &str, lower: &str, raw: &str) -> Result<()> {
        const I32_MAX: i64 = i32::MAX as i64;
        let value = percent_decode(raw, "option value")?;
        let v = value.as_str();
        match lower {
            "appname" => {
                if v.len() > 128 {
                    return Err(invalid(format!(
                        "`appname` is {} bytes long; at most 128 are allowed",
                        v.len()
                    )));
                }
                self.options.app_name = Some(value);
            }
            "authmechanism" => self.options.auth_mechanism = Some(value),
            "authmechanismproperties" => {
                if let Some(props) = self.pairs(key, raw)? {
                    self.options.auth_mechanism_properties = Some(props);
                }
            }
            "authsource" => self.options.auth_source = Some(value),
            "compressors" => {
                let mut names = Vec::new();
                for name in v.split(',') {
                    if matches!(name, "snappy" | "zlib" | "zstd") {
                        names.push(name.to_string());
                    } else {
                        self.warn(format!(
                            "unsupported compressor `{name}` in option `{key}`; it is ignored"
                        ));
                    }
                }
                if !names.is_empty() {
                    self.options.compressors = Some(names);
                }
            }
            "zlibcompressionlevel" => {
                self.options.zlib_compression_level = self.int(key, v, -1, 9).map(|n| n as i32);
            }
            "connecttimeoutms" => self.options.connect_timeout = self.millis(key, v, 0, I32_MAX),
            "directconnection" => self.options.direct_connection = self.boolean(key, v),
            "enableoverloadretargeting" => self.options.enable_overload_retargeting = self.boolean(key, v),
            "heartbeatfrequencyms" => self.options.heartbeat_frequency = self.millis(key, v, 500, I32_MAX),
            "journal" => self.options.journal = self.boolean(key, v),
            "servermonitoringmode" => match v.parse::<ServerMonitoringMode>() {
                Ok(mode) => self.options.server_monitoring_mode = Some(mode),
                Err(_) => self.unsupported_value(key, v, "`auto`, `stream` or `poll`"),
            },
            "loadbalanced" => self.options.load_balanced = self.boolean(key, v),
            "localthresholdms" => self.options.local_threshold = self.millis(key, v, 0, I32_MAX),
            "maxadaptiveretries" => self.options.max_adaptive_retries = self.u32(key, v, 0),
            "maxidletimems" => self.options.max_idle_time = self.millis(key, v, 0, I32_MAX),
            "maxpoolsize" => self.options.max_pool_size = self.u32(key, v, 0),
            "minpoolsize" => self.options.min_pool_size = self.u32(key, v, 0),
            "maxconnecting" => self.options.max_connecting = self.u32(key, v, 1),
            "maxstalenessseconds" => {
                self.options.max_staleness_seconds = match self.int(key, v, -1, I32_MAX) {
                    Some(0) => {
                        self.unsupported_value(key, v, "-1 or a positive integer");
                        None
                    }
                    other => other,
                };
            }
            "proxyhost" => self.options.proxy_host = Some(value),
            "proxyport" => {
                self.options.proxy_port = self.int(key, v, 0, i64::from(u16::MAX)).map(|n| n as u16);
            }
            "proxyusername" => self.options.proxy_username = Some(value),
            "proxypassword" => self.options.proxy_password = Some(value),
            "readconcernlevel" => self.options.read_concern_level = Some(value),
            "readpreference" => match v.parse::<ReadPreferenceMode>() {
                Ok(mode) => self.options.read_preference = Some(mode),
                Err(_) => self.unsupported_value(
                    key,
                    v,
                    "`primary`, `primaryPreferred`, `secondary`, `secondaryPreferred` or `nearest`",
                ),
            },
            "readpreferencetags" => {
                if let Some(set) = self.pairs(key, raw)? {
                    self.options.read_preference_tags.get_or_insert_with(Vec::new).push(TagSet(set));
                }
            }
            "replicaset" => self.options.replica_set = Some(value),
            "retryreads" => self.options.retry_reads = self.boolean(key, v),
            "retrywrites" => self.options.retry_writes = self.boolean(key, v),
            "serverselectiontimeoutms" => {
                self.options.server_selection_timeout = self.millis(key, v, 1, I32_MAX);
            }
            "serverselectiontryonce" => self.options.server_selection_try_once = self.boolean(key, v),
            "sockettimeoutms" => self.options.socket_timeout = self.millis(key, v, 0, I32_MAX),
            "srvmaxhosts" => self.options.srv_max_hosts = self.u32(key, v, 0),
            "srvservicename" => {
                if v.is_empty() {
                    self.warn(format!("the option `{key}` has an empty value; it is ignored"));
                } else {
                    self.options.srv_service_name = Some(value);
                }
            }
            "timeoutms" => self.options.timeout = self.millis(key, v, 0, I32_MAX),
            "tls" | "ssl" => {
                if let Some(b) = self.boolean(key, v) {
                    self.tls_values.push((key.to_string(), b));
                    self.options.tls = Some(b);
                }
            }
            "tlsallowinvalidcertificates" => {
                self.options.tls_allow_invalid_certificates = self.boolean(key, v);
            }
            "tlsallowinvalidhostnames" => self.options.tls_allow_invalid_hostnames = self.boolean(key, v),
            "tlscafile" => self.options.tls_ca_file = Some(value),
            "tlscertificatekeyfile" => self.options.tls_certificate_key_file = Some(value),
            "tlscertificatekeyfilepassword" => self.options.tls_certificate_key_file_password = Some(value),
            "tlsdisablecertificaterevocationcheck" => {
                self.options.tls_disable_certificate_revocation_check = self.boolean(key, v);
            }
            "tlsdisableocspendpointcheck" => {
                self.options.tls_disable_ocsp_endpoint_check = self.boolean(key, v);
            }
            "tlsinsecure" => self.options.tls_insecure = self.boolean(key, v),
            "w" => {
                self.options.w = if v.is_empty() {
                    self.warn(format!("the option `{key}` has an empty value; it is ignored"));
                    None
                } else if v.bytes().all(|b| b.is_ascii_digit() || b == b'-') && v.parse::<i64>().is_ok() {
                    self.u32(key, v, 0).map(Acknowledgment::Nodes)
                } else if v == "majority" {
                    Some(Acknowledgment::Majority)
                } else {
                    Some(Acknowledgment::Custom(value))
                };
            }
            "waitqueuetimeoutms" => self.options.wait_queue_timeout = self.millis(key, v, 1, I32_MAX),
            "wtimeoutms" => self.options.w_timeout = self.millis(key, v, 0, i64::MAX),
            _ => self.warn(format!("unsupported option `{key}`; it is ignored")),
        }
        Ok(())
    }
}
