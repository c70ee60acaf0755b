//! JSON views: their own structs, so the model can change without breaking the
//! contract CI and other tools rely on. The schema is `schema/analysis.schema.json`.

use std::io::Write;

use serde::Serialize;

use crate::analyze::{display_id, lock_name, Analysis};
use crate::model::{Args, Dump};

/// Bumped whenever a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 2;

/// `--format json`: one document per input, every snapshot in it.
#[derive(Serialize)]
pub struct DocumentView<'a> {
    pub schema_version: u32,
    pub source: &'a str,
    /// The worst verdict of the snapshots.
    pub verdict: &'static str,
    pub snapshots: Vec<AnalysisView<'a>>,
}

/// One snapshot's analysis (`--format jsonl`: one per line).
#[derive(Serialize)]
pub struct AnalysisView<'a> {
    pub schema_version: u32,
    pub source: &'a str,
    /// 1-based, in input order; goroutine ids are the snapshot's own, so the same
    /// goroutine can be followed from one snapshot to the next.
    pub snapshot: usize,
    /// 1-based line of the input where the snapshot starts.
    pub first_line: usize,
    pub format: &'static str,
    pub trigger: &'static str,
    pub go_version: Option<String>,
    pub go_version_min: Option<&'static str>,
    /// The runtime's goroutine leak profile (`goroutineleak`): every goroutine in it leaked.
    pub leak_profile: bool,
    pub goroutines: u64,
    pub verdict: &'static str,
    /// `goroutine`: ids are goroutine ids; `record`: aggregated profile, ids are record indexes.
    pub ids: &'static str,
    pub groups: Vec<GroupView>,
    pub findings: Vec<FindingView>,
    pub notes: Vec<String>,
    pub diagnostics: Vec<DiagnosticView>,
}

#[derive(Serialize)]
pub struct GroupView {
    pub count: u64,
    pub ids: Vec<u64>,
    pub state: String,
    pub kind: &'static str,
    pub wait_minutes: Option<[u32; 2]>,
    pub site: String,
}

#[derive(Serialize)]
pub struct LockView {
    pub site: String,
    pub primitive: String,
    pub address: Option<String>,
    pub name: String,
    pub rule: &'static str,
}

#[derive(Serialize)]
pub struct FindingView {
    pub kind: &'static str,
    pub confidence: f64,
    pub summary: String,
    pub lock: Option<LockView>,
    pub holders: Vec<u64>,
    pub waiters: Vec<u64>,
    pub cycle: Vec<u64>,
    pub holder_waits_on: Option<String>,
    pub evidence: Vec<String>,
}

#[derive(Serialize)]
pub struct DiagnosticView {
    pub line: usize,
    pub message: String,
}

pub fn analysis_view<'a>(source: &'a str, dump: &Dump, a: &Analysis) -> AnalysisView<'a> {
    let id = |i: usize| display_id(dump, i);
    AnalysisView {
        schema_version: SCHEMA_VERSION,
        source,
        snapshot: 1,
        first_line: dump.first_line,
        format: dump.format.as_str(),
        trigger: dump.trigger.as_str(),
        go_version: dump.go_version.clone(),
        go_version_min: dump.go_version_min,
        leak_profile: dump.leak_profile,
        goroutines: dump.total(),
        verdict: a.verdict.as_str(),
        ids: if a.ids_are_groups {
            "record"
        } else {
            "goroutine"
        },
        groups: a
            .groups
            .iter()
            .map(|g| {
                let rep = &dump.goroutines[g.group.representative()];
                GroupView {
                    count: g.group.count,
                    ids: if a.ids_are_groups {
                        g.group.members.iter().map(|&m| m as u64).collect()
                    } else {
                        g.group.ids.clone()
                    },
                    state: rep.state.raw.to_string(),
                    kind: g.kind.as_str(),
                    wait_minutes: g.group.wait_minutes.map(|(lo, hi)| [lo, hi]),
                    site: g.site.clone(),
                }
            })
            .collect(),
        findings: a
            .findings
            .iter()
            .map(|f| FindingView {
                kind: f.kind.as_str(),
                confidence: f.confidence,
                summary: f.summary.clone(),
                lock: f.lock.map(|li| {
                    let l = &a.locks[li];
                    LockView {
                        site: l.site.clone(),
                        primitive: l.primitive.clone(),
                        address: l.addr.map(|x| format!("{x:#x}")),
                        name: lock_name(l),
                        rule: l.rule.describe(),
                    }
                }),
                holders: f.holders.iter().map(|&h| id(h)).collect(),
                waiters: f.waiters.iter().map(|&h| id(h)).collect(),
                cycle: f.cycle.iter().map(|&h| id(h)).collect(),
                holder_waits_on: f.holder_waits_on.clone(),
                evidence: f.evidence.clone(),
            })
            .collect(),
        notes: a.notes.clone(),
        diagnostics: dump
            .diagnostics
            .iter()
            .map(|d| DiagnosticView {
                line: d.line,
                message: d.message.clone(),
            })
            .collect(),
    }
}

pub fn write_analysis(
    w: &mut dyn Write,
    source: &str,
    dump: &Dump,
    a: &Analysis,
    pretty: bool,
) -> std::io::Result<()> {
    let v = analysis_view(source, dump, a);
    if pretty {
        serde_json::to_writer_pretty(&mut *w, &v)?;
    } else {
        serde_json::to_writer(&mut *w, &v)?;
    }
    writeln!(w)
}

/// The worst of the verdicts (deadlock, stall, leak, ok), `ok` when there are none.
fn worst(verdicts: impl Iterator<Item = &'static str>) -> &'static str {
    const ORDER: [&str; 4] = ["deadlock", "stall", "leak", "ok"];
    verdicts
        .min_by_key(|v| ORDER.iter().position(|o| o == v).unwrap_or(ORDER.len()))
        .unwrap_or("ok")
}

/// `--format json`: one document holding every snapshot of the input, in order.
pub fn write_document(
    w: &mut dyn Write,
    source: &str,
    snapshots: &[(&Dump, &Analysis)],
    pretty: bool,
) -> std::io::Result<()> {
    let views: Vec<AnalysisView> = snapshots
        .iter()
        .enumerate()
        .map(|(i, (d, a))| AnalysisView {
            snapshot: i + 1,
            ..analysis_view(source, d, a)
        })
        .collect();
    let doc = DocumentView {
        schema_version: SCHEMA_VERSION,
        source,
        verdict: worst(views.iter().map(|v| v.verdict)),
        snapshots: views,
    };
    if pretty {
        serde_json::to_writer_pretty(&mut *w, &doc)?;
    } else {
        serde_json::to_writer(&mut *w, &doc)?;
    }
    writeln!(w)
}

/// `--format jsonl`: one line per snapshot.
pub fn write_lines(
    w: &mut dyn Write,
    source: &str,
    snapshots: &[(&Dump, &Analysis)],
) -> std::io::Result<()> {
    for (i, (d, a)) in snapshots.iter().enumerate() {
        let v = AnalysisView {
            snapshot: i + 1,
            ..analysis_view(source, d, a)
        };
        serde_json::to_writer(&mut *w, &v)?;
        writeln!(w)?;
    }
    Ok(())
}

// ---- `godeadlock parse` ----

#[derive(Serialize)]
pub struct ParsedView<'a> {
    pub source: &'a str,
    pub format: &'static str,
    pub dumps: Vec<DumpView<'a>>,
    pub goroutines: Vec<GoroutineView<'a>>,
    pub diagnostics: Vec<DiagnosticView>,
}

#[derive(Serialize)]
pub struct DumpView<'a> {
    pub format: &'static str,
    pub trigger: &'static str,
    pub go_version: Option<String>,
    pub go_version_min: Option<&'static str>,
    pub leak_profile: bool,
    pub first_line: usize,
    pub preamble: Vec<&'a str>,
    pub declared_total: Option<u64>,
    pub goroutines: u64,
}

#[derive(Serialize)]
pub struct GoroutineView<'a> {
    pub dump: usize,
    pub id: Option<u64>,
    pub count: u64,
    pub line: usize,
    pub state: &'a str,
    pub wait_minutes: Option<u32>,
    pub wait_since: Option<u64>,
    pub locked_to_thread: bool,
    pub leaked: bool,
    pub durable: bool,
    pub scan: bool,
    pub bubble: Option<u64>,
    pub labels: Option<&'a str>,
    pub complete: bool,
    pub elided: Option<u32>,
    pub stack_unavailable: bool,
    pub frames: Vec<FrameView<'a>>,
    pub created_by: Option<CreatedByView<'a>>,
    pub ancestors: Vec<AncestorView<'a>>,
}

#[derive(Serialize)]
pub struct FrameView<'a> {
    pub function: &'a str,
    pub package: &'a str,
    pub receiver: Option<&'a str>,
    pub name: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub offset: Option<String>,
    /// `null` when the format prints none, `"..."` for inlined frames, else the list.
    pub args: Option<String>,
    pub inlined: bool,
}

#[derive(Serialize)]
pub struct CreatedByView<'a> {
    pub function: &'a str,
    pub file: &'a str,
    pub line: u32,
    pub goroutine: Option<u64>,
}

#[derive(Serialize)]
pub struct AncestorView<'a> {
    pub id: u64,
    pub frames: Vec<FrameView<'a>>,
}

fn frame_view<'a>((f, args): (&crate::model::Frame<'a>, Args)) -> FrameView<'a> {
    FrameView {
        function: f.function.full(),
        package: f.function.package(),
        receiver: f.function.receiver(),
        name: f.function.name(),
        file: f.file,
        line: f.line,
        offset: f.offset.map(|o| format!("{o:#x}")),
        args: match args {
            Args::Absent => None,
            a => Some(a.render()),
        },
        inlined: f.inlined(),
    }
}

pub fn write_parsed(w: &mut dyn Write, source: &str, dumps: &[Dump]) -> std::io::Result<()> {
    let mut goroutines = Vec::new();
    let mut diagnostics = Vec::new();
    for (di, d) in dumps.iter().enumerate() {
        for g in &d.goroutines {
            goroutines.push(GoroutineView {
                dump: di,
                id: g.id,
                count: g.count,
                line: g.line,
                state: g.state.raw,
                wait_minutes: g.wait_minutes,
                wait_since: g.wait_since(),
                locked_to_thread: g.locked_to_thread,
                leaked: g.leaked,
                durable: g.durable,
                scan: g.scan,
                bubble: g.bubble(),
                labels: g.labels(),
                complete: g.complete,
                elided: g.elided(),
                stack_unavailable: g.stack_unavailable,
                frames: g.frames_args().map(frame_view).collect(),
                created_by: g.created_by.as_ref().map(|c| CreatedByView {
                    function: c.function.full(),
                    file: c.file,
                    line: c.line,
                    goroutine: c.parent,
                }),
                ancestors: g
                    .ancestors()
                    .iter()
                    .map(|a| AncestorView {
                        id: a.id,
                        frames: a
                            .frames
                            .iter()
                            .map(|f| frame_view((f, f.args_alone())))
                            .collect(),
                    })
                    .collect(),
            });
        }
        diagnostics.extend(d.diagnostics.iter().map(|x| DiagnosticView {
            line: x.line,
            message: x.message.clone(),
        }));
    }
    let v = ParsedView {
        source,
        format: dumps.last().map(|d| d.format.as_str()).unwrap_or("none"),
        dumps: dumps
            .iter()
            .map(|d| DumpView {
                format: d.format.as_str(),
                trigger: d.trigger.as_str(),
                go_version: d.go_version.clone(),
                go_version_min: d.go_version_min,
                leak_profile: d.leak_profile,
                first_line: d.first_line,
                preamble: d.preamble.clone(),
                declared_total: d.declared_total,
                goroutines: d.total(),
            })
            .collect(),
        goroutines,
        diagnostics,
    };
    serde_json::to_writer(&mut *w, &v)?;
    writeln!(w)
}
