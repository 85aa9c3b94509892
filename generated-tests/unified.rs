//! Unified Test Format spec tests (`unified-test-format/tests/`): every `invalid/` file
//! is rejected by the generator's model, every `valid-pass/` file loads and its cases run
//! through the unified runner (see `unified_suites.rs`) where it supports them; each
//! `valid-fail/` case must be failed by the loader or the runner for the reason the file
//! exists (`conformance::unified::valid_fail`).

spec_macros::suite!(unified_test_format);
