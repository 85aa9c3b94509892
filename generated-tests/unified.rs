//! Unified Test Format spec tests (`unified-test-format/tests/`): every `invalid/` file
//! is rejected by the generator's model, every `valid-pass/` file loads, and each case of
//! the valid files is generated (ignored until the runner executes operations).

spec_macros::suite!(unified_test_format);
