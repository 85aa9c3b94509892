//! The client-side operations timeout spec's unified suite
//! (`client-side-operations-timeout/tests`), one test per case, run against the simulator.
//! The driver does not implement `timeoutMS` yet: cases that use it are generated ignored,
//! with that reason, so they stay visible and counted.

spec_macros::suite!(client_side_operations_timeout);
