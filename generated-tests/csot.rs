//! The client-side operations timeout spec's unified suite
//! (`client-side-operations-timeout/tests`), one test per case, run against the simulator.
//! `timeoutMS` runs on client, database, collection and operation handles; the cases that
//! need what the driver or runner lacks yet (cursor timeout modes, session
//! `defaultTimeoutMS`, GridFS and `withTransaction` deadlines) are generated ignored, with their
//! reasons, so they stay visible and counted. The cases run on the test-controlled clock (the
//! runner's `Clock::Virtual`, see `generated-tests/README.md`), so a 5 ms margin between a
//! timeout and a fail point's block is decided by virtual time, not by the machine's load.

spec_macros::suite!(client_side_operations_timeout);
