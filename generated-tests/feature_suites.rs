//! Feature specs written in the Unified Test Format, run against the simulator: the change
//! streams spec's `tests/unified`, and the GridFS, collection management and versioned API
//! specs' `tests`. Each case calls the driver's public API once per operation; the harness
//! (`conformance::unified::runner`) checks results, errors, events and outcomes.

spec_macros::suite!(change_streams::unified);
spec_macros::suite!(gridfs);
spec_macros::suite!(collection_management);
spec_macros::suite!(versioned_api);
