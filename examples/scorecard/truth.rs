//! What each corpus says is true of its dumps, read into one shape.
//!
//! Four corpora are understood, told apart by their manifest:
//! - the project's synthesized corpus (`fixtures/synth/corpus/manifest.json`,
//!   `entries` with `scenario`): truth by construction, edge by edge;
//! - GoBench's GoKer kernels (`../shared/corpus/goker/manifest.json`, `files`
//!   with `bug`): every kernel is a blocking bug; `bug_goroutines` must be named;
//! - dumps published in public repositories (`../shared/corpus/wild`, `entries`
//!   with `capture_form`): a verdict where `basis` establishes one;
//! - the project's fixture programs (`fixtures/dumps`, no manifest): the
//!   `truth.json` each program wrote.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use godeadlock::analyze::Verdict;
use serde_json::Value;

/// One dump to score, with its truth.
#[derive(Debug, Clone)]
pub struct Case {
    pub file: PathBuf,
    /// Situation class (synth), GoBench subtype (goker), truth verdict (wild),
    /// scenario (fixtures).
    pub class: String,
    /// Capture mode: debug2, debug1, sigquit, leak-debug2...
    pub mode: String,
    pub truth: Truth,
    /// Several snapshots of one process, oldest first, analysed together (the
    /// last is `file`); empty for one dump.
    pub series: Vec<PathBuf>,
    /// Seconds between the snapshots of `series`, when known.
    pub interval_s: Option<f64>,
}

/// A goroutine holding or waiting on a named resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub goroutine: u64,
    pub resource: String,
}

/// What is known to be true of one dump. Empty lists mean "not known", so the
/// figure that needs them is not scored for this dump.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    /// Verdicts that are right; empty when the verdict is unknown.
    pub acceptable: Vec<Verdict>,
    /// A healthy control: any deadlock, stall or leak verdict is a false alarm.
    pub healthy: bool,
    /// Goroutines any one of which is right as the holder ranked first.
    pub holders_first: Vec<u64>,
    /// Who holds what (synth only).
    pub holds: Vec<Edge>,
    /// Who waits on what (synth only).
    pub waits: Vec<Edge>,
    /// The goroutines of the deadlock cycle, sorted.
    pub cycle: Vec<u64>,
    /// The goroutines leaked, sorted.
    pub leaked: Vec<u64>,
    /// Goroutines blocked by the bug: a detection must name one of them.
    pub bug: Vec<u64>,
    /// The resources the truth names (synth only).
    pub resources: Vec<Resource>,
}

/// A resource of the synth truth: a lock, channel, WaitGroup or gate.
#[derive(Debug, Clone)]
pub struct Resource {
    pub name: String,
    pub kind: String,
    /// Its address, as the program printed it.
    pub addr: Option<u64>,
}

fn resources(v: &Value) -> Vec<Resource> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|r| Resource {
            name: text(&r["name"]),
            kind: text(&r["kind"]),
            addr: r["address"]
                .as_str()
                .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok()),
        })
        .collect()
}

/// Which corpus a directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Synth,
    Goker,
    Wild,
    Fixtures,
    /// GoKer's pairs (`debug2` and `debug2b` of one process, 5 s apart), each
    /// analysed as two snapshots.
    GokerPairs,
    /// `fixtures/recorded`: sequences of snapshots of one fixture process.
    Recorded,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Synth => "synth",
            Kind::Goker => "goker",
            Kind::Wild => "wild",
            Kind::Fixtures => "fixtures",
            Kind::GokerPairs => "goker-two-snapshot",
            Kind::Recorded => "recorded-two-snapshot",
        }
    }
}

/// A corpus read from its directory.
pub struct Corpus {
    pub kind: Kind,
    pub dir: PathBuf,
    pub cases: Vec<Case>,
}

/// Read the corpus in `dir`, or say why it cannot be read.
pub fn read(dir: &Path) -> Result<Corpus, String> {
    let manifest = dir.join("manifest.json");
    if !manifest.exists() && is_recorded(dir) {
        return Ok(corpus(Kind::Recorded, dir, recorded(dir)?));
    }
    if !manifest.exists() {
        let cases = fixtures(dir)?;
        if cases.is_empty() {
            return Err(format!(
                "{}: no manifest.json and no truth.json below it",
                dir.display()
            ));
        }
        return Ok(corpus(Kind::Fixtures, dir, cases));
    }
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let m: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    if let Some(files) = m["files"].as_array() {
        return Ok(corpus(Kind::Goker, dir, goker(dir, files)));
    }
    let Some(entries) = m["entries"].as_array() else {
        return Err(format!(
            "{}: neither `files` nor `entries`",
            manifest.display()
        ));
    };
    if entries.first().is_some_and(|e| e.get("scenario").is_some()) {
        Ok(corpus(Kind::Synth, dir, synth(dir, entries)))
    } else {
        Ok(corpus(Kind::Wild, dir, wild(dir, entries)))
    }
}

fn corpus(kind: Kind, dir: &Path, mut cases: Vec<Case>) -> Corpus {
    cases.sort_by(|a, b| a.file.cmp(&b.file));
    Corpus {
        kind,
        dir: dir.to_path_buf(),
        cases,
    }
}

pub fn verdict(s: &str) -> Option<Verdict> {
    match s {
        "deadlock" => Some(Verdict::Deadlock),
        "stall" => Some(Verdict::Stall),
        "leak" => Some(Verdict::Leak),
        "ok" => Some(Verdict::Ok),
        _ => None,
    }
}

/// The numbers of a JSON list, sorted; strings and nulls are left out.
fn ids(v: &Value) -> Vec<u64> {
    let set: BTreeSet<u64> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    set.into_iter().collect()
}

fn edges(v: &Value) -> Vec<Edge> {
    let mut out: Vec<Edge> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            Some(Edge {
                goroutine: e["goroutine"].as_u64()?,
                resource: e["resource"].as_str()?.to_string(),
            })
        })
        .collect();
    out.sort();
    out
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("?").to_string()
}

fn synth(dir: &Path, entries: &[Value]) -> Vec<Case> {
    entries
        .iter()
        .map(|e| {
            let t = &e["truth"];
            let mut acceptable: Vec<Verdict> = t["acceptable"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| verdict(v.as_str()?))
                .collect();
            if acceptable.is_empty() {
                acceptable.extend(verdict(t["verdict"].as_str().unwrap_or("")));
            }
            Case {
                file: dir.join(text(&e["file"])),
                class: text(&e["situation"]),
                mode: text(&e["mode"]),
                truth: Truth {
                    acceptable,
                    healthy: e["family"] == "healthy",
                    holders_first: t["holder"].as_u64().into_iter().collect(),
                    holds: edges(&t["holds"]),
                    waits: edges(&t["waits"]),
                    cycle: ids(&t["cycle"]),
                    leaked: ids(&t["leaked"]),
                    bug: ids(&t["bug_goroutines"]),
                    resources: resources(&t["resources"]),
                },
                series: Vec::new(),
                interval_s: None,
            }
        })
        .collect()
}

/// Every GoKer kernel is a blocking bug: any alarm is the right verdict, and it
/// must name one of the bug's goroutines. In the leak profiles the runtime's own
/// marks are the leaked set.
fn goker(dir: &Path, files: &[Value]) -> Vec<Case> {
    files
        .iter()
        .map(|f| {
            let mode = text(&f["mode"]);
            let leak_profile = mode.starts_with("leak");
            Case {
                file: dir.join("dumps").join(text(&f["file"])),
                class: text(&f["subtype"]),
                mode,
                truth: Truth {
                    acceptable: vec![Verdict::Deadlock, Verdict::Stall, Verdict::Leak],
                    bug: ids(&f["bug_goroutines"]),
                    leaked: if leak_profile {
                        ids(&f["runtime_leaked"])
                    } else {
                        Vec::new()
                    },
                    ..Truth::default()
                },
                series: Vec::new(),
                interval_s: None,
            }
        })
        .collect()
}

/// GoKer's two-snapshot pairs: the `debug2b` capture with the `debug2` it pairs
/// with, the interval from their capture times, where the manifest says the bug's
/// goroutines are still blocked in both (`still_blocked`). The truth is the kernel's.
pub fn goker_pairs(dir: &Path) -> Result<Corpus, String> {
    let manifest = dir.join("manifest.json");
    let text =
        std::fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let m: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let files = m["files"].as_array().cloned().unwrap_or_default();
    let at = |name: &str| {
        files
            .iter()
            .find(|f| f["file"] == name)
            .and_then(|f| f["captured_at_s"].as_f64())
    };
    let cases = goker(dir, &files)
        .into_iter()
        .zip(&files)
        .filter_map(|(mut c, f)| {
            let first = f["pair_of"].as_str()?;
            // Scored where the bug's goroutines are still blocked in both snapshots.
            let still = ids(&f["still_blocked"]);
            if c.truth.bug.is_empty() || !c.truth.bug.iter().all(|b| still.contains(b)) {
                return None;
            }
            c.series = vec![dir.join("dumps").join(first), c.file.clone()];
            c.interval_s = match (at(first), f["captured_at_s"].as_f64()) {
                (Some(a), Some(b)) if b > a => Some(b - a),
                _ => Some(5.0),
            };
            c.mode = "debug2+debug2b".to_string();
            Some(c)
        })
        .collect();
    Ok(corpus(Kind::GokerPairs, dir, cases))
}

/// `fixtures/recorded/<scenario>/go<v>/record.json` exists.
fn is_recorded(dir: &Path) -> bool {
    subdirs(dir).unwrap_or_default().iter().any(|s| {
        subdirs(s)
            .unwrap_or_default()
            .iter()
            .any(|g| g.join("record.json").exists())
    })
}

/// Each recorded sequence, analysed as its first two snapshots and as all of them.
fn recorded(dir: &Path) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for scenario in subdirs(dir)? {
        for go in subdirs(&scenario)? {
            let read = |name: &str| -> Result<Value, String> {
                let p = go.join(name);
                std::fs::read_to_string(&p)
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .ok_or_else(|| format!("{}: unreadable", p.display()))
            };
            if !go.join("record.json").exists() {
                continue;
            }
            let rec = read("record.json")?;
            let t = read("truth.json")?;
            let snaps: Vec<PathBuf> = rec["snapshots"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| Some(go.join(s.as_str()?)))
                .collect();
            let mut ns = vec![2, snaps.len()];
            ns.dedup();
            for n in ns.into_iter().filter(|&n| n >= 2 && n <= snaps.len()) {
                let mut c = fixture_case(
                    &scenario,
                    snaps[n - 1].clone(),
                    format!("{n} snapshots"),
                    &t,
                );
                c.series = snaps[..n].to_vec();
                c.interval_s = rec["interval_s"].as_f64();
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// A wild dump's verdict counts where its basis establishes it (the program's
/// source or the issue thread); expert judgement and unknowns are read, not scored.
fn wild(dir: &Path, entries: &[Value]) -> Vec<Case> {
    entries
        .iter()
        .map(|e| {
            let t = &e["truth"];
            let basis = t["basis"].as_str().unwrap_or("none");
            let established = matches!(basis, "source" | "thread" | "source (inferred)");
            let v = verdict(t["verdict"].as_str().unwrap_or("")).filter(|_| established);
            Case {
                file: dir.join("dumps").join(text(&e["file"])),
                class: if established {
                    text(&t["verdict"])
                } else {
                    format!("{} ({basis})", text(&t["verdict"]))
                },
                mode: capture_mode(e["capture_form"].as_str().unwrap_or("")),
                truth: Truth {
                    acceptable: v.into_iter().collect(),
                    healthy: v == Some(Verdict::Ok),
                    holders_first: ids(&t["holders"]),
                    cycle: ids(&t["cycle"]),
                    ..Truth::default()
                },
                series: Vec::new(),
                interval_s: None,
            }
        })
        .collect()
}

/// A short mode name for a wild dump's free-text capture form.
fn capture_mode(form: &str) -> String {
    let f = form.to_ascii_lowercase();
    let mode = if f.contains("debug=1") {
        "debug1"
    } else if f.contains("debug=2") {
        "debug2"
    } else if f.contains("log") || f.contains("journal") {
        "log-prefixed"
    } else if f.contains("panic") || f.contains("fatal") || f.contains("sigabrt") {
        "panic"
    } else {
        "runtime.Stack"
    };
    mode.to_string()
}

/// `fixtures/dumps/<scenario>/<go>/<capture>.txt` with the truth its run wrote.
fn fixtures(dir: &Path) -> Result<Vec<Case>, String> {
    let mut out = Vec::new();
    for scenario in subdirs(dir)? {
        for go in subdirs(&scenario)? {
            for file in files(&go, "txt")? {
                let kind = stem(&file);
                let truth_file = [go.join(format!("truth-{kind}.json")), go.join("truth.json")]
                    .into_iter()
                    .find(|p| p.exists());
                let Some(truth_file) = truth_file else {
                    continue;
                };
                let t: Value = std::fs::read_to_string(&truth_file)
                    .ok()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .ok_or_else(|| format!("{}: unreadable", truth_file.display()))?;
                out.push(fixture_case(&scenario, file, kind, &t));
            }
        }
    }
    Ok(out)
}

fn fixture_case(scenario: &Path, file: PathBuf, kind: String, t: &Value) -> Case {
    let v = verdict(t["verdict"].as_str().unwrap_or(""));
    Case {
        file,
        class: stem(scenario),
        mode: kind,
        truth: Truth {
            acceptable: v.into_iter().collect(),
            healthy: v == Some(Verdict::Ok),
            holders_first: ids(&t["holders"]),
            cycle: ids(&t["cycle"]),
            leaked: if v == Some(Verdict::Leak) {
                ids(&t["waiters"])
            } else {
                Vec::new()
            },
            ..Truth::default()
        },
        series: Vec::new(),
        interval_s: None,
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    Ok(v)
}

fn files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    Ok(v)
}
