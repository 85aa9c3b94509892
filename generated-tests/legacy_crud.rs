//! Spec suites in the single-operation legacy formats, translated into the Unified Test
//! Format by the generator (`spec_codegen::crud_v1`) and run by the unified runner: the
//! CRUD spec's `tests/v1` (legacy-v1) and the retryable writes spec's `tests/legacy`.

spec_macros::suite!(crud::v1);
spec_macros::suite!(retryable_writes::legacy);
