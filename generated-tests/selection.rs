//! Server selection and max staleness spec tests, one per spec file (generated).

spec_macros::suite!(max_staleness);
spec_macros::suite!(server_selection);
