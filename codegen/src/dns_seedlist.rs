//! The initial DNS seedlist discovery tests (`initial-dns-seedlist-discovery/tests/README`):
//! one test per file of `replica-set/`, `sharded/` and `load-balanced/`, named
//! `initial_dns_seedlist_discovery::<folder>::<file>`.
//!
//! The DNS records the tests need are not in the test files: the README lists them (A, SRV
//! and TXT tables for `*.test.build.10gen.cc`). They are parsed from the README here, at build
//! time, and every test body carries them, so the harness serves exactly what the spec's name
//! server would from the driver's injected resolver.

use std::path::Path;

use proc_macro2::TokenStream;
use quote::quote;
use serde::Deserialize;

use crate::connection_string::emit_options;
use crate::naming::Unique;
use crate::{GeneratedTest, SpecError, Status};

/// The spec directory.
const SPEC_DIR: &str = "initial-dns-seedlist-discovery";

/// The test folders, each run against the deployment its README section describes.
const FOLDERS: &[&str] = &["replica-set", "sharded", "load-balanced"];

/// Cases the harness cannot run: (folder, file stem, reason).
const IGNORED: &[(&str, &str, &str)] = &[(
    "replica-set",
    "srv-service-name",
    "the README's record table lists one SRV record for _customname._tcp.test22 (port 27017), but the \
     case expects the seeds 27017 and 27018 that the real test name server serves; the records are taken \
     from the README only, never from a case's expectations",
)];

/// One test file: a `mongodb+srv` URI and what resolving it and discovering the deployment
/// must give (README "Test Format and Use"); a `None` field is not asserted.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// The connection string.
    pub uri: String,
    /// The initial seed list (SRV records), as `host:port`.
    pub seeds: Option<Vec<String>>,
    /// The size of the initial seed list.
    #[serde(rename = "numSeeds")]
    pub num_seeds: Option<usize>,
    /// The topology's hosts once discovery completes.
    pub hosts: Option<Vec<String>>,
    /// The number of the topology's hosts once discovery completes.
    #[serde(rename = "numHosts")]
    pub num_hosts: Option<usize>,
    /// URI options the client must have parsed (including the TXT record's and the implied
    /// `tls`).
    pub options: Option<serde_json::Map<String, serde_json::Value>>,
    /// Other parsed parts: `user`, `password`, `db` / `auth_database`.
    pub parsed_options: Option<serde_json::Map<String, serde_json::Value>>,
    /// Whether creating the client fails.
    pub error: Option<bool>,
    /// Why the case exists.
    pub comment: Option<String>,
    /// Whether to run a `ping` (later versions of the format; absent means run it).
    pub ping: Option<bool>,
}

/// The `parsed_options` keys the format defines (README: `user`, `password`, `auth_database`;
/// the files also use `db`).
const PARSED_OPTIONS: &[&str] = &["user", "password", "db", "auth_database"];

/// The records of the README's tables.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Records {
    /// `A` records: (name, address).
    pub a: Vec<(String, String)>,
    /// `SRV` records: (name, port, target).
    pub srv: Vec<(String, u16, String)>,
    /// `TXT` records: (name, character strings).
    pub txt: Vec<(String, Vec<String>)>,
}

/// Reads the DNS record tables of the tests' README (`README.rst`, or `README.md` in later
/// versions of the spec): rows of `name TTL IN type data`, where an SRV row's data is
/// `port target` and a TXT row's is one or more quoted strings.
pub fn read_records(tests_dir: &Path) -> Result<Records, SpecError> {
    let path = ["README.rst", "README.md"]
        .iter()
        .map(|name| tests_dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| SpecError::new(tests_dir, "", "no README.rst or README.md listing the DNS records"))?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| SpecError::new(&path, "", format!("cannot read the README: {e}")))?;
    parse_records(&path, &text)
}

/// Parses the record rows of `text` (see [`read_records`]); `file` names it in errors.
pub fn parse_records(file: &Path, text: &str) -> Result<Records, SpecError> {
    let mut records = Records::default();
    for (number, line) in text.lines().enumerate() {
        let at = || format!("line {}", number + 1);
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let [name, ttl, class, kind, ..] = tokens[..] else { continue };
        if class != "IN" || ttl.parse::<u32>().is_err() {
            continue;
        }
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match kind {
            "A" => {
                if tokens.len() != 5 {
                    return Err(SpecError::new(file, at(), "an A record row must end with one address"));
                }
                records.a.push((name, tokens[4].to_owned()));
            }
            "SRV" => {
                if tokens.len() != 6 {
                    return Err(SpecError::new(
                        file,
                        at(),
                        "an SRV record row must end with a port and a target",
                    ));
                }
                let port = tokens[4].parse::<u16>().map_err(|e| {
                    SpecError::new(file, at(), format!("the SRV port `{}` is not a port: {e}", tokens[4]))
                })?;
                records.srv.push((name, port, tokens[5].to_owned()));
            }
            "TXT" => {
                let Some(data) = line.split_once("TXT").map(|(_, rest)| rest) else { continue };
                let strings = quoted_strings(data).ok_or_else(|| {
                    SpecError::new(file, at(), "a TXT record row must end with one or more quoted strings")
                })?;
                records.txt.push((name, strings));
            }
            _ => {}
        }
    }
    if records.srv.is_empty() {
        return Err(SpecError::new(file, "", "the README lists no SRV records"));
    }
    Ok(records)
}

/// The `"…"` strings of `data` (no escapes in the README), or `None` when it holds anything
/// else.
fn quoted_strings(data: &str) -> Option<Vec<String>> {
    let mut strings = Vec::new();
    let mut rest = data.trim();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('"')?;
        let (string, after) = inner.split_once('"')?;
        strings.push(string.to_owned());
        rest = after.trim_start();
    }
    (!strings.is_empty()).then_some(strings)
}

/// Tests for `source/initial-dns-seedlist-discovery/tests/{replica-set,sharded,load-balanced}/*.json`.
pub fn generate(spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    let Some(tests_dir) = crate::spec_data::source_dir(spec_root, &format!("{SPEC_DIR}/tests"))? else {
        return Ok(Vec::new());
    };
    let records = read_records(&tests_dir)?;
    let records_tokens = emit_records(&records);
    let mut out = Vec::new();
    let mut folder_names = Unique::default();
    for folder in FOLDERS {
        let folder_ident = folder_names.ident(folder);
        let mut file_names = Unique::default();
        for path in crate::test_model::json_files(&tests_dir.join(folder))? {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let file_ident = file_names.ident(&stem);
            let name = format!("initial_dns_seedlist_discovery::{folder_ident}::{file_ident}");
            let emitted = crate::error::read_json::<TestFile>(&path)
                .and_then(|file| emit_case(&name, folder, &file, &path, &records_tokens));
            let body = match emitted {
                Ok(body) => body,
                Err(e) => {
                    let test_path = vec![folder_ident.clone(), file_ident];
                    out.push(crate::newer::ignored_file(spec_root, &path, test_path, e)?);
                    continue;
                }
            };
            let status = IGNORED
                .iter()
                .find(|(f, s, _)| f == folder && *s == stem)
                .map_or(Status::Run, |(_, _, reason)| Status::Ignored((*reason).to_owned()));
            out.push(GeneratedTest {
                path: vec![folder_ident.clone(), file_ident],
                spec_file: format!("source/{SPEC_DIR}/tests/{folder}/{stem}.json"),
                case_index: None,
                status,
                is_async: true,
                body,
            });
        }
    }
    Ok(out)
}

fn emit_records(records: &Records) -> TokenStream {
    let a = records.a.iter().map(|(name, address)| quote! { (#name, #address) });
    let srv = records.srv.iter().map(|(name, port, target)| quote! { (#name, #port, #target) });
    let txt = records.txt.iter().map(|(name, strings)| quote! { (#name, &[#(#strings),*]) });
    quote! {
        ::conformance::dns_seedlist::Records {
            a: &[#(#a),*],
            srv: &[#(#srv),*],
            txt: &[#(#txt),*],
        }
    }
}

fn option_some<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote! { ::core::option::Option::Some(#v) },
        None => quote! { ::core::option::Option::None },
    }
}

fn emit_case(
    name: &str,
    folder: &str,
    file: &TestFile,
    path: &Path,
    records: &TokenStream,
) -> Result<TokenStream, SpecError> {
    let h = quote! { ::conformance::dns_seedlist };
    let uri = &file.uri;
    let seeds = option_some(file.seeds.as_ref().map(|s| quote! { &[#(#s),*] }));
    let hosts = option_some(file.hosts.as_ref().map(|s| quote! { &[#(#s),*] }));
    let num_seeds = option_some(file.num_seeds);
    let num_hosts = option_some(file.num_hosts);
    let error = file.error.unwrap_or(false);
    let ping = file.ping.unwrap_or(true);
    let options = emit_options(path, "", file.options.as_ref())?;
    let mut parsed = Vec::new();
    for (key, raw) in file.parsed_options.iter().flatten() {
        let pointer = format!("/parsed_options/{}", crate::error::escape_token(key));
        if !PARSED_OPTIONS.contains(&key.as_str()) {
            // A key the format added later (e.g. `defaultDatabase`): newer, not malformed.
            return Err(SpecError::newer(
                path,
                pointer,
                "unknown parsed option (expected user, password, db or auth_database)",
            ));
        }
        let Some(value) = raw.as_str() else {
            return Err(SpecError::new(path, pointer, "a parsed option must be a string"));
        };
        parsed.push(quote! { (#key, #value) });
    }
    let topology = match folder {
        "replica-set" => quote! { #h::Topology::ReplicaSet },
        "sharded" => quote! { #h::Topology::Sharded },
        _ => quote! { #h::Topology::LoadBalanced },
    };
    Ok(quote! {
        #h::check(&#h::Case {
            name: #name,
            topology: #topology,
            uri: #uri,
            seeds: #seeds,
            num_seeds: #num_seeds,
            hosts: #hosts,
            num_hosts: #num_hosts,
            options: #options,
            parsed_options: &[#(#parsed),*],
            error: #error,
            ping: #ping,
        }, &#records).await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_rows_are_read_and_prose_is_skipped() {
        let text = "Some prose IN A sentence.\n\
            \x20 Record   TTL Class Address\n\
            \x20 localhost.test.build.10gen.cc.  86400  IN A    127.0.0.1\n\
            \x20 _mongodb._tcp.test1.test.build.10gen.cc.  86400  IN SRV  27017  localhost.test.build.10gen.cc.\n\
            \x20 _customname._tcp.test22.test.build.10gen.cc 86400  IN SRV  27017  localhost.test.build.10gen.cc.\n\
            \x20 test11.test.build.10gen.cc.  86400  IN TXT  \"replicaS\" \"et=rep\" \"l0\"\n";
        let records = parse_records(Path::new("README.rst"), text).expect("parses");
        assert_eq!(records.a, [("localhost.test.build.10gen.cc".to_owned(), "127.0.0.1".to_owned())]);
        assert_eq!(records.srv.len(), 2);
        assert_eq!(records.srv[1].0, "_customname._tcp.test22.test.build.10gen.cc");
        assert_eq!(records.txt[0].1, ["replicaS", "et=rep", "l0"]);
    }

    #[test]
    fn malformed_rows_name_their_line() {
        let text = "x 1 IN SRV 27017 a.b.c.\ny 1 IN SRV notaport a.b.c.\n";
        let err = parse_records(Path::new("README.rst"), text).unwrap_err();
        assert_eq!(err.pointer, "line 2");
        let err = parse_records(Path::new("README.rst"), "t 1 IN TXT unquoted\n").unwrap_err();
        assert_eq!(err.pointer, "line 1");
        assert!(parse_records(Path::new("README.rst"), "no records here\n").is_err());
    }
}
