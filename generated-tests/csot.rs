//! The client-side operations timeout spec's unified suite
//! (`client-side-operations-timeout/tests`), one test per case, run against the simulator.
//! `timeoutMS` runs on client, database, collection and operation handles; the cases that
//! need what the driver or runner lacks yet (cursor timeout modes, session
//! `defaultTimeoutMS`, GridFS and `withTransaction` deadlines, the test-controlled clock the
//! 5 ms margins need) are generated ignored, with their reasons, so they stay visible and counted.

spec_macros::suite!(client_side_operations_timeout);
