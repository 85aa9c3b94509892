//! Spec suites written in the Unified Test Format, run against the simulator: the
//! `tests/unified` folders of the CRUD, command monitoring, transactions, retryable writes
//! and SDAM specs, and the sessions and load balancers specs' `tests`. Each case calls the
//! driver's public API once per operation; the harness (`conformance::unified::runner`)
//! checks results, errors, events and outcomes.

spec_macros::suite!(crud);
spec_macros::suite!(command_monitoring);
spec_macros::suite!(sessions);
spec_macros::suite!(transactions);
spec_macros::suite!(retryable_writes);
spec_macros::suite!(server_discovery_and_monitoring::unified);
spec_macros::suite!(load_balancers);
