//! Cluster time (driver sessions spec "Gossipping the cluster time"): comparing two
//! `$clusterTime` documents by their `clusterTime` timestamp.

use bson::Document;

pub(crate) use crate::topology::cluster_timestamp;

/// The greater of two `$clusterTime` documents (by their `clusterTime`).
pub(crate) fn greater_cluster_time<'a>(
    a: Option<&'a Document>,
    b: Option<&'a Document>,
) -> Option<&'a Document> {
    match (a, b) {
        (Some(x), Some(y)) => {
            if cluster_timestamp(y) > cluster_timestamp(x) {
                Some(y)
            } else {
                Some(x)
            }
        }
        (x, None) => x,
        (None, y) => y,
    }
}
