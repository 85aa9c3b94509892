//! Spec suites written in the Unified Test Format, run against the simulator: the CRUD
//! spec's `tests/unified` and the command monitoring spec's `tests/unified`. Each case
//! calls the driver's public API once per operation; the harness
//! (`conformance::unified::runner`) checks results, errors, events and outcomes.

spec_macros::suite!(crud);
spec_macros::suite!(command_monitoring);
