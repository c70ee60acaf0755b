//! Helpers shared by the integration tests: finding the committed real dumps and
//! their truth files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One capture of one scenario run: `fixtures/dumps/<scenario>/<go>/<capture>.txt`.
#[derive(Debug, Clone)]
pub struct Capture {
    pub scenario: String,
    pub go: String,
    /// `debug2`, `debug1`, `sigquit`, `delve`, `panic`, `asleep`, `leak`...
    pub kind: String,
    pub path: PathBuf,
    /// The truth file written by the run that produced this capture.
    pub truth: Option<PathBuf>,
}

impl Capture {
    pub fn name(&self) -> String {
        format!("{}/{}/{}", self.scenario, self.go, self.kind)
    }
    pub fn truth(&self) -> Option<Value> {
        let p = self.truth.as_ref()?;
        let text = std::fs::read_to_string(p).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// Every committed capture, sorted.
pub fn captures() -> Vec<Capture> {
    let base = root().join("fixtures/dumps");
    let mut out = Vec::new();
    let Ok(scenarios) = std::fs::read_dir(&base) else {
        return out;
    };
    let mut scenarios: Vec<_> = scenarios
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    scenarios.sort();
    for s in scenarios {
        let mut gos: Vec<_> = std::fs::read_dir(&s)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        gos.sort();
        for g in gos {
            let mut files: Vec<_> = std::fs::read_dir(&g)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "txt"))
                .collect();
            files.sort();
            for f in files {
                let kind = f.file_stem().unwrap().to_string_lossy().to_string();
                out.push(Capture {
                    scenario: s.file_name().unwrap().to_string_lossy().to_string(),
                    go: g.file_name().unwrap().to_string_lossy().to_string(),
                    truth: truth_for(&g, &kind),
                    kind,
                    path: f,
                });
            }
        }
    }
    out
}

/// `truth-<kind>.json` when that run had its own, else `truth.json`.
fn truth_for(dir: &Path, kind: &str) -> Option<PathBuf> {
    let own = dir.join(format!("truth-{kind}.json"));
    if own.exists() {
        return Some(own);
    }
    let shared = dir.join("truth.json");
    shared.exists().then_some(shared)
}

pub fn ids(v: &Value) -> Vec<u64> {
    let mut out: Vec<u64> = v
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_u64()).collect())
        .unwrap_or_default();
    out.sort_unstable();
    out
}

/// Every line of a text report `what` outside the groups table (which keeps
/// identifiers whole) fits `width` columns, but for a word longer than a line.
pub fn assert_fits(text: &str, width: usize, what: &str) {
    let table = |l: &str| l.contains(['│', '┆', '─', '═']);
    for l in text.lines().filter(|l| !table(l)) {
        let whole = !l.trim().contains(' ');
        assert!(
            l.chars().count() <= width || whole,
            "{what}: line too wide: {l}"
        );
    }
}
