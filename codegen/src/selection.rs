//! The server-selection test format (`server-selection/tests/README.rst`, also used by `max-staleness/tests`).

use std::path::Path;

use crate::{GeneratedTest, SpecError};

/// Tests for `source/max-staleness/tests/**`.
pub fn generate_max_staleness(_spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    Ok(Vec::new())
}

/// Tests for `source/server-selection/tests/{server_selection,rtt,in_window}/**`.
pub fn generate_server_selection(_spec_root: &Path) -> Result<Vec<GeneratedTest>, SpecError> {
    Ok(Vec::new())
}
