//! Connection monitoring and pooling (CMAP) spec tests, one per spec file (generated).

spec_macros::suite!(connection_monitoring_and_pooling);
