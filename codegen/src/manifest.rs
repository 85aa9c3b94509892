//! The manifest of every generated test (`generated-tests/MANIFEST.tsv`).

use crate::{GeneratedTest, Status, Suite};

/// The manifest's header line.
pub const HEADER: &str = "# target\ttest\tspec file\tcase\tstatus";

/// One manifest line per test, sorted by target then test name.
pub fn render(entries: &[(&Suite, Vec<GeneratedTest>)]) -> String {
    let mut lines: Vec<String> = entries
        .iter()
        .flat_map(|(suite, tests)| {
            tests.iter().map(move |t| {
                let name = format!("{}::{}", suite.module, t.path.join("::"));
                let case = t.case_index.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
                let status = match &t.status {
                    Status::Run => "run".to_string(),
                    Status::Ignored(reason) => format!("ignored: {}", reason.replace(['\t', '\n'], " ")),
                };
                format!("{}\t{}\t{}\t{}\t{}", suite.test_target, name, t.spec_file, case, status)
            })
        })
        .collect();
    lines.sort();
    let mut out = String::from(HEADER);
    out.push('\n');
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}
