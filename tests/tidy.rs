//! Tidy checks of the architecture invariants (DESIGN.md), run as ordinary tests.
//!
//! Invariant 1: `crates/domain` is pure. It may depend only on serde, serde_json, uuid, chrono and thiserror, and its
//! code never reads a clock, makes random ids, or does I/O: time and new ids come in on commands.

use std::path::Path;

const DOMAIN_ALLOWED_DEPENDENCIES: [&str; 5] = ["chrono", "serde", "serde_json", "thiserror", "uuid"];

/// Calls that reach a clock, randomness, the file system, the network or a runtime.
const DOMAIN_FORBIDDEN_CALLS: [&str; 12] = [
    "Utc::now",
    "Local::now",
    "SystemTime",
    "Instant::now",
    "Uuid::new_v4",
    "Uuid::now_v7",
    "Uuid::new_v7",
    "std::fs",
    "std::net",
    "std::env",
    "tokio",
    "async fn",
];

#[test]
fn the_domain_depends_on_nothing_that_does_io() {
    let manifest = std::fs::read_to_string(workspace().join("crates/domain/Cargo.toml")).unwrap();
    let dependencies = section(&manifest, "[dependencies]");
    for name in dependencies {
        assert!(
            DOMAIN_ALLOWED_DEPENDENCIES.contains(&name.as_str()),
            "crates/domain depends on `{name}`; the domain stays pure (DESIGN.md, invariant 1): \
             only {DOMAIN_ALLOWED_DEPENDENCIES:?}"
        );
    }
}

#[test]
fn the_domain_code_reads_no_clock_and_makes_no_random_ids() {
    let mut offences = Vec::new();
    for file in rust_files(&workspace().join("crates/domain/src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for call in DOMAIN_FORBIDDEN_CALLS {
                if code.contains(call) {
                    offences.push(format!("{}:{}: {call}", file.display(), number + 1));
                }
            }
        }
    }
    assert!(offences.is_empty(), "the domain must stay pure (DESIGN.md, invariant 1):\n{}", offences.join("\n"));
}

#[test]
fn the_tidy_checks_see_an_offending_manifest() {
    let manifest = "[package]\nname = \"x\"\n\n[dependencies]\nserde.workspace = true\ntokio = \"1\"\n\n[dev-dependencies]\nproptest = \"1\"\n";
    assert_eq!(section(manifest, "[dependencies]"), ["serde", "tokio"]);
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The dependency names in one `[section]` of a Cargo manifest.
fn section(manifest: &str, header: &str) -> Vec<String> {
    manifest
        .lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let name = line.split(['=', '.', ' ']).next()?.trim();
            Some(name.to_owned())
        })
        .collect()
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}
