//! Spec suites written in the Unified Test Format, run against the simulator: the CRUD
//! spec's `tests/unified`, the command monitoring spec's `tests/unified` and the sessions
//! spec's `tests`. Each case
//! calls the driver's public API once per operation; the harness
//! (`conformance::unified::runner`) checks results, errors, events and outcomes.

spec_macros::suite!(crud);
spec_macros::suite!(command_monitoring);
spec_macros::suite!(sessions);
