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
