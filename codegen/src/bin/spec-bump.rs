//! `spec-bump`: the reviewable diff of a spec pin bump (issue 13, README "Spec data").
//!
//! `cargo run -p spec-codegen --bin spec-bump -- <to> [--from <pin>] [--write] [--list]`
//! generates every suite at two pins of `spec-data/pin.toml` (`--from` defaults to the
//! primary pin) and prints, per suite, the cases added, removed, moved (same test with
//! another spec file, or the same file and case name under another module, e.g.
//! `transactions::legacy::` → `transactions::`) and whose status changed (run ↔ ignored, or another ignore reason). `--write`
//! also writes both pins' committed manifests; `--list` prints each changed case.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use spec_codegen::spec_data::{self, Pin};
use spec_codegen::{GeneratedTest, Status, Suite, manifest, suite};

struct Args {
    to: String,
    from: Option<String>,
    write: bool,
    list: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut to, mut from, mut write, mut list) = (None, None, false, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--from" => from = Some(args.next().ok_or("--from needs a pin name")?),
            "--write" => write = true,
            "--list" => list = true,
            "-h" | "--help" => return Err(String::new()),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other if to.is_none() => to = Some(other.to_string()),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    Ok(Args { to: to.ok_or("name the pin to bump to")?, from, write, list })
}

/// One generated case as the manifest lists it.
#[derive(Clone, PartialEq, Eq)]
struct Case {
    spec_file: String,
    case: Option<usize>,
    status: Status,
}

/// Every suite's tests at one pin.
type Generated = Vec<(&'static Suite, Vec<GeneratedTest>)>;

/// Every suite generated at `name`, with the time it took (seconds).
fn generate(root: &Path, name: &str) -> Result<(Pin, Generated, f64), String> {
    let mut pin = spec_data::load_pin_file(root)?;
    pin.select(name)?;
    let spec_root = pin.specifications.locate(root, "source")?;
    spec_data::activate(pin.specifications.clone());
    let start = Instant::now();
    let mut out = Vec::new();
    for s in suite::suites() {
        let tests =
            suite::generate(s, &spec_root).map_err(|e| format!("pin {name}, suite {}: {e}", s.module))?;
        out.push((s, tests));
    }
    Ok((pin, out, start.elapsed().as_secs_f64()))
}

fn cases(tests: &[GeneratedTest]) -> BTreeMap<String, Case> {
    tests
        .iter()
        .map(|t| {
            let case = Case { spec_file: t.spec_file.clone(), case: t.case_index, status: t.status.clone() };
            (t.path.join("::"), case)
        })
        .collect()
}

/// Counts and lists a status change of one case.
fn status_change(row: &mut [usize; 10], listing: &mut Vec<String>, name: &str, old: &Status, new: &Status) {
    match (old, new) {
        (Status::Run, Status::Ignored(r)) => {
            row[7] += 1;
            listing.push(format!("run>ign  {name}: {r}"));
        }
        (Status::Ignored(_), Status::Run) => {
            row[8] += 1;
            listing.push(format!("ign>run  {name}"));
        }
        (Status::Ignored(x), Status::Ignored(y)) if x != y => {
            row[9] += 1;
            listing.push(format!("reason   {name}: {x} -> {y}"));
        }
        _ => {}
    }
}

fn run() -> Result<(), String> {
    let args = parse_args().map_err(|e| {
        format!("{e}\nusage: spec-bump <to-pin> [--from <pin>] [--write] [--list]").trim().to_string()
    })?;
    let root: PathBuf = spec_data::workspace_root(Path::new(env!("CARGO_MANIFEST_DIR")))?;
    let from = match args.from {
        Some(f) => f,
        None => spec_data::load_pin_file(&root)?.primary_name().to_string(),
    };
    let (from_pin, old, t_old) = generate(&root, &from)?;
    let (to_pin, new, t_new) = generate(&root, &args.to)?;
    println!(
        "spec bump {from} ({}) -> {} ({}): generated in {t_old:.1} s and {t_new:.1} s",
        from_pin.specifications.commit, args.to, to_pin.specifications.commit
    );
    println!(
        "{:<42} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7}",
        "suite", "before", "after", "run<", "run>", "added", "remov", "moved", "run>ig", "ig>run", "reason"
    );
    // Per suite: [before, after, run before, run after, added, removed, moved, run>ignored,
    // ignored>run, reason changed].
    let mut rows: Vec<[usize; 10]> = Vec::new();
    let mut listing = Vec::new();
    // Cases only in one pin, by (suite index, test name): paired below when a case kept its
    // file and case name but changed module (e.g. `transactions::legacy::` → `transactions::`).
    let mut only_old: Vec<(usize, String, Case)> = Vec::new();
    let mut only_new: Vec<(usize, String, Case)> = Vec::new();
    for (i, ((_, old_tests), (suite, new_tests))) in old.iter().zip(new.iter()).enumerate() {
        let (a, b) = (cases(old_tests), cases(new_tests));
        let runs = |m: &BTreeMap<String, Case>| m.values().filter(|c| c.status == Status::Run).count();
        let mut row = [a.len(), b.len(), runs(&a), runs(&b), 0, 0, 0, 0, 0, 0];
        for (name, c) in &b {
            let full = format!("{}::{name}", suite.module);
            let Some(old) = a.get(name) else {
                only_new.push((i, name.clone(), c.clone()));
                continue;
            };
            if old.spec_file != c.spec_file {
                row[6] += 1;
                listing.push(format!("moved    {full}: {} -> {}", old.spec_file, c.spec_file));
            }
            status_change(&mut row, &mut listing, &full, &old.status, &c.status);
        }
        only_old.extend(a.into_iter().filter(|(name, _)| !b.contains_key(name)).map(|(n, c)| (i, n, c)));
        rows.push(row);
    }
    let key = |name: &str| name.rsplit("::").take(2).collect::<Vec<_>>().join("<");
    let mut unpaired_new: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (j, (_, name, _)) in only_new.iter().enumerate() {
        unpaired_new.entry(key(name)).or_default().push(j);
    }
    let mut paired = vec![false; only_new.len()];
    for (i, name, c) in &only_old {
        let from = format!("{}::{name}", old[*i].0.module);
        let candidates = unpaired_new.get(&key(name)).map(Vec::as_slice).unwrap_or_default();
        if let [j] = candidates
            && !paired[*j]
        {
            paired[*j] = true;
            let (k, new_name, n) = &only_new[*j];
            let to = format!("{}::{new_name}", new[*k].0.module);
            rows[*k][6] += 1;
            listing.push(format!("moved    {from} -> {to} ({} -> {})", c.spec_file, n.spec_file));
            status_change(&mut rows[*k], &mut listing, &to, &c.status, &n.status);
        } else {
            rows[*i][5] += 1;
            listing.push(format!("removed  {from} ({})", c.spec_file));
        }
    }
    for (j, (k, name, c)) in only_new.iter().enumerate() {
        if !paired[j] {
            rows[*k][4] += 1;
            let status = match &c.status {
                Status::Run => "run".to_string(),
                Status::Ignored(r) => format!("ignored: {r}"),
            };
            listing.push(format!("added    {}::{name} ({}, {status})", new[*k].0.module, c.spec_file));
        }
    }
    let mut totals = [0usize; 10];
    for ((suite, _), row) in new.iter().zip(&rows) {
        for (t, r) in totals.iter_mut().zip(row) {
            *t += r;
        }
        println!(
            "{:<42} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7}",
            suite.module, row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9]
        );
    }
    let t = totals;
    println!(
        "{:<42} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7} {:>7}",
        "total", t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9]
    );
    println!("(run< / run>: cases generated to run before / after; reason: another ignore reason)");
    if args.list {
        for line in &listing {
            println!("{line}");
        }
    }
    if args.write {
        for (pin, generated) in [(&from_pin, &old), (&to_pin, &new)] {
            let path = root.join(pin.specifications.manifest_path());
            let entries: Vec<(&Suite, Vec<GeneratedTest>)> =
                generated.iter().map(|(s, t)| (*s, t.clone())).collect();
            std::fs::write(&path, manifest::render(&entries))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            println!("wrote {}", path.display());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
