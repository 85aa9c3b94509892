//! Spec suites written in the Transactions-spec ("legacy") test format
//! (`transactions/tests/README.rst`): the generator translates each case into the unified
//! model (`spec_codegen::legacy`), so the unified runner (`conformance::unified::runner`)
//! runs them. `sessions::legacy::` runs each case on every simulated deployment its `runOn`
//! allows; the other suites on the one the unified rule picks.

spec_macros::suite!(sessions::legacy);
spec_macros::suite!(transactions::legacy);
spec_macros::suite!(transactions_convenient_api);
spec_macros::suite!(retryable_reads);
spec_macros::suite!(read_write_concern::operation);
