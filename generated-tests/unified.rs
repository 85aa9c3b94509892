//! Unified Test Format spec tests (`unified-test-format/tests/`): every `invalid/` file
//! is rejected by the generator's model, every `valid-pass/` file loads and its cases run
//! through the unified runner (see `unified_suites.rs`) where it supports them; the
//! `valid-fail/` cases are generated, ignored until the runner checks that they fail.

spec_macros::suite!(unified_test_format);
