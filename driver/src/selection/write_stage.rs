//! The read preference of an aggregation with a write stage (`$out`, `$merge`): CRUD spec
//! "Aggregation Pipelines with Write Stages", "Read preferences and server selection".

use crate::sdam::{ServerType, TopologyDescription, TopologyType};

use super::ReadPreference;

/// The wire version of MongoDB 5.0, whose secondaries run pipelines with write stages.
pub const WRITE_STAGE_ON_SECONDARIES_WIRE_VERSION: i32 = 13;

/// Whether `read_preference` applies to a pipeline with a write stage in `topology`: not when
/// it is primary anyway, nor when an available server is older than 5.0 (the pipeline then
/// goes to the primary); yes when no server is available, when every available server is
/// 5.0+, or behind a load balancer (assumed 5.0+).
pub fn applies(read_preference: &ReadPreference, topology: &TopologyDescription) -> bool {
    if read_preference.mode == super::ReadPreferenceMode::Primary {
        return false;
    }
    if topology.topology_type == TopologyType::LoadBalanced {
        return true;
    }
    topology
        .servers()
        .filter(|s| s.server_type != ServerType::Unknown)
        .all(|s| s.max_wire_version >= WRITE_STAGE_ON_SECONDARIES_WIRE_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdam::{ServerAddress, ServerDescription};

    fn member(host: &str, server_type: ServerType, max_wire_version: i32) -> ServerDescription {
        ServerDescription {
            max_wire_version,
            ..ServerDescription::new(ServerAddress::new(host, 27017), server_type)
        }
    }

    #[test]
    fn the_read_preference_applies_only_when_every_available_server_is_5_0() {
        let secondary = ReadPreference::secondary();
        let rs = |b_version| {
            TopologyDescription::new(
                TopologyType::ReplicaSetWithPrimary,
                [member("a", ServerType::RsPrimary, 13), member("b", ServerType::RsSecondary, b_version)],
            )
        };
        assert!(applies(&secondary, &rs(17)));
        assert!(!applies(&secondary, &rs(9)), "a 4.4 member sends the pipeline to the primary");
        assert!(!applies(&ReadPreference::primary(), &rs(17)));
        // Unknown servers are not available: they do not count.
        let unknown = TopologyDescription::new(
            TopologyType::ReplicaSetWithPrimary,
            [member("a", ServerType::RsPrimary, 13), member("b", ServerType::Unknown, 0)],
        );
        assert!(applies(&secondary, &unknown));
        let nothing_known =
            TopologyDescription::new(TopologyType::Unknown, [member("a", ServerType::Unknown, 0)]);
        assert!(applies(&secondary, &nothing_known));
        let lb =
            TopologyDescription::new(TopologyType::LoadBalanced, [member("a", ServerType::LoadBalancer, 0)]);
        assert!(applies(&secondary, &lb), "a load balancer is assumed 5.0+");
    }
}
