//! Server Discovery and Monitoring spec tests (`rs/`, `single/`, `sharded/`, `errors/`,
//! `monitoring/`, `load-balanced/`), one per spec file (generated).

spec_macros::suite!(server_discovery_and_monitoring);
