//! The simulated deployment a unified case runs on, chosen from its `runOnRequirements`
//! (`unified-test-format.rst`, "runOnRequirement"): topology, server version, authentication.

use proc_macro2::TokenStream;
use quote::quote;

use super::model::{RunOnRequirement, Serverless, Topology, Version};

/// A simulated deployment shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimTopology {
    /// A standalone `mongod`.
    Single,
    /// A three-member replica set.
    ReplicaSet,
    /// Two `mongos` in front of a three-member replica-set shard.
    Sharded,
    /// [`SimTopology::Sharded`] behind load balancers (load balancer spec).
    LoadBalanced,
}

/// The server versions the simulator can report, oldest first.
pub(crate) const SIM_VERSIONS: &[(u32, u32)] = &[(3, 6), (4, 0), (4, 2), (4, 4), (5, 0), (6, 0), (7, 0)];

/// Picks the deployment a case runs on: the first combination of the file's and the
/// case's `runOnRequirements` (each list: any one must hold) the simulator can satisfy,
/// on the first listed topology it supports (a replica set when none is listed), at the
/// newest simulated version in range. `Err` says why none fits.
pub fn choose_deployment(
    file: Option<&[RunOnRequirement]>,
    case: Option<&[RunOnRequirement]>,
) -> Result<(SimTopology, (u32, u32)), String> {
    let none = [RunOnRequirement::default()];
    let file = file.unwrap_or(&none);
    let case = case.unwrap_or(&none);
    let mut why = Vec::new();
    for a in file {
        for b in case {
            match satisfy(a, b) {
                Ok(choice) => return Ok(choice),
                Err(e) => why.push(e),
            }
        }
    }
    why.dedup();
    Err(format!("runOnRequirements the simulator cannot satisfy: {}", why.join("; ")))
}

fn satisfy(a: &RunOnRequirement, b: &RunOnRequirement) -> Result<(SimTopology, (u32, u32)), String> {
    for r in [a, b] {
        if r.serverless == Some(Serverless::Require) {
            return Err("serverless required".into());
        }
        if r.csfle.as_ref().is_some_and(|c| c.required()) {
            return Err("client-side encryption required".into());
        }
        if let Some(mechanism) = &r.auth_mechanism {
            return Err(format!(
                "authMechanism {mechanism} required (the simulated deployments' authentication is not selected by mechanism)"
            ));
        }
        for (name, value) in r.server_parameters.iter().flatten() {
            if sim_server_parameter(name).as_ref() != Some(value) {
                return Err(format!("serverParameters: {name} {value} (the simulator's value differs)"));
            }
        }
    }
    let allowed =
        |t: Topology| [a, b].iter().all(|r| r.topologies.as_ref().is_none_or(|list| list.contains(&t)));
    let listed: Vec<Topology> = b
        .topologies
        .as_ref()
        .or(a.topologies.as_ref())
        .map(|l| l.0.clone())
        .unwrap_or_else(|| vec![Topology::ReplicaSet]);
    let topology = listed
        .iter()
        .copied()
        .find(|t| allowed(*t))
        .map(|t| match t {
            Topology::Single => SimTopology::Single,
            Topology::ReplicaSet => SimTopology::ReplicaSet,
            Topology::Sharded | Topology::ShardedReplicaSet => SimTopology::Sharded,
            Topology::LoadBalanced => SimTopology::LoadBalanced,
        })
        .ok_or_else(|| format!("topologies {listed:?}"))?;
    let newest = newest_at_pin()?;
    let version = SIM_VERSIONS
        .iter()
        .rev()
        .copied()
        .find(|&(major, minor)| {
            let v = Version { major, minor, patch: 0 };
            v <= newest
                && [a, b].iter().all(|r| {
                r.min_server_version.is_none_or(|min| v >= min)
                    && r.max_server_version.is_none_or(|max| v <= max)
            })
        })
        .ok_or_else(|| {
            format!(
                "no simulated server version (3.6 to {}.{}, the newest release at the spec pin) in the version range",
                newest.major, newest.minor
            )
        })?;
    Ok((topology, version))
}

/// The value a simulated server reports for a server parameter `getParameter` knows, where
/// requirements ask for it (mongo-sim's `Node` parameters; a test server's settings).
fn sim_server_parameter(name: &str) -> Option<serde_json::Value> {
    Some(match name {
        "enableTestCommands" => serde_json::Value::Bool(true),
        "requireApiVersion" | "acceptApiVersion2" => serde_json::Value::Bool(false),
        _ => return None,
    })
}

/// The newest server release when the pinned spec commit was made (`newest_server` in
/// `spec-data/pin.toml`, found from `CARGO_MANIFEST_DIR`): cases run on simulated servers
/// up to it, as the pinned files know nothing of later releases (a case written before
/// 6.2 may still expect `getnonce`). `Err` says why it cannot be read.
pub(crate) fn newest_at_pin() -> Result<Version, String> {
    let pin = crate::spec_data::active()?;
    let name = pin.name.as_deref().unwrap_or("[specifications]");
    let text = pin
        .newest_server
        .ok_or_else(|| format!("spec-data/pin.toml: pin {name} names no `newest_server`"))?;
    Version::parse(&text)
        .ok_or_else(|| format!("spec-data/pin.toml: newest_server `{text}` is not a version"))
}

/// Whether the deployment [`choose_deployment`] picks must require authentication: the
/// first satisfiable pair of requirements asks `auth: true` (the simulator then starts with
/// a user, and the runner's clients authenticate).
pub fn requires_auth(file: Option<&[RunOnRequirement]>, case: Option<&[RunOnRequirement]>) -> bool {
    let none = [RunOnRequirement::default()];
    let (file, case) = (file.unwrap_or(&none), case.unwrap_or(&none));
    file.iter()
        .flat_map(|a| case.iter().map(move |b| (a, b)))
        .find(|(a, b)| satisfy(a, b).is_ok())
        .is_some_and(|(a, b)| a.auth == Some(true) || b.auth == Some(true))
}

/// The runner's `Sim` variant for a simulated topology.
pub(crate) fn sim_tokens(topology: SimTopology) -> TokenStream {
    match topology {
        SimTopology::Single => quote! { Single },
        SimTopology::ReplicaSet => quote! { ReplicaSet },
        SimTopology::Sharded => quote! { Sharded },
        SimTopology::LoadBalanced => quote! { LoadBalanced },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> RunOnRequirement {
        match serde_json::from_str(json) {
            Ok(r) => r,
            Err(e) => panic!("{json}: {e}"),
        }
    }

    #[test]
    fn deployments_follow_run_on_requirements() {
        let any = choose_deployment(None, None);
        // The newest simulated release at the pin (spec-data/pin.toml: 6.0), not 7.0.
        assert_eq!(any, Ok((SimTopology::ReplicaSet, (6, 0))));
        let listed = [req(r#"{"topologies": ["single", "replicaset"], "maxServerVersion": "4.2.99"}"#)];
        assert_eq!(choose_deployment(Some(&listed), None), Ok((SimTopology::Single, (4, 2))));
        // The case's requirements narrow the file's.
        let case = [req(r#"{"topologies": ["replicaset"], "minServerVersion": "4.1.0"}"#)];
        assert_eq!(choose_deployment(Some(&listed), Some(&case)), Ok((SimTopology::ReplicaSet, (4, 2))));
        // Any one of a list may be met: serverless is skipped for the next entry.
        let either = [req(r#"{"serverless": "require"}"#), req(r#"{"topologies": ["sharded"]}"#)];
        assert_eq!(choose_deployment(None, Some(&either)), Ok((SimTopology::Sharded, (6, 0))));
        let balanced = [req(r#"{"topologies": ["load-balanced"]}"#)];
        assert_eq!(choose_deployment(None, Some(&balanced)), Ok((SimTopology::LoadBalanced, (6, 0))));
        let old = [req(r#"{"maxServerVersion": "3.4.99"}"#)];
        assert!(choose_deployment(Some(&old), None).is_err_and(|e| e.contains("version")));
        let params =
            [req(r#"{"serverParameters": {"enableTestCommands": true, "requireApiVersion": false}}"#)];
        assert_eq!(choose_deployment(None, Some(&params)), Ok((SimTopology::ReplicaSet, (6, 0))));
        let v2 = [req(r#"{"serverParameters": {"acceptApiVersion2": true}}"#)];
        assert!(choose_deployment(None, Some(&v2)).is_err_and(|e| e.contains("acceptApiVersion2")));
        let serverless = [req(r#"{"serverless": "require"}"#)];
        assert!(choose_deployment(None, Some(&serverless)).is_err_and(|e| e.contains("serverless")));
    }
}
