//! JSON views: their own structs, so the model can change without breaking the
//! contract CI and other tools rely on. The schema is `schema/analysis.schema.json`.

use std::io::Write;

use serde::Serialize;

use crate::analyze::{
    display_id, lock_name, Analysis, Evidence, Finding, FrameRef, GroupInfo, HolderEvidence,
    HolderWhy, Lock,
};
use crate::model::{Args, Dump};
use crate::report::words;

/// Bumped whenever a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 4;

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
    /// What the finding states, as a name (`holds-in-cycle`, `leaked`...).
    pub claim: &'static str,
    pub summary: String,
    pub lock: Option<LockView>,
    pub holders: Vec<u64>,
    pub waiters: Vec<u64>,
    pub cycle: Vec<u64>,
    pub holder_waits_on: Option<String>,
    pub evidence: Vec<EvidenceView>,
    /// How many findings alike (the same rule on the same stacks) this one stands for.
    pub copies: usize,
    /// Weaker findings about goroutines all in this one, folded into it.
    pub also: Vec<AlsoView>,
}

/// A finding folded into a stronger one with the same cause.
#[derive(Serialize)]
pub struct AlsoView {
    pub kind: &'static str,
    pub confidence: f64,
    pub claim: &'static str,
    pub summary: String,
    pub evidence: Vec<EvidenceView>,
}

/// One piece of evidence: the rule, its words, and what it names.
#[derive(Serialize, Default)]
pub struct EvidenceView {
    pub rule: &'static str,
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub goroutines: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub frames: Vec<FrameAtView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    /// Bytes from an object's address to the lock inside it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wait_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The line of the call that asks for the lock (got in: a frame is past it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Whose code could release the lock: `program` (its own code), `anyone` (a
    /// lock taken inside the standard library).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'static str>,
    /// How many other goroutines share this piece of holder evidence (it is weak).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_with: Option<usize>,
    /// A holder's own evidence.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub because: Vec<EvidenceView>,
    /// How many snapshots of the process the evidence was seen in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshots: Option<usize>,
    /// Over how many seconds, first snapshot to last, when their times are known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// A stack's goroutine count in each snapshot, first to last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub counts: Vec<u64>,
    /// Goroutines more per minute, first snapshot to last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_minute: Option<f64>,
}

/// A frame of a goroutine named by the evidence.
#[derive(Serialize)]
pub struct FrameAtView {
    pub goroutine: u64,
    /// 0 = the innermost frame.
    pub index: usize,
    pub function: String,
    pub file: String,
    pub line: u32,
}

#[derive(Serialize)]
pub struct DiagnosticView {
    pub line: usize,
    pub message: String,
}

pub fn analysis_view<'a>(source: &'a str, dump: &Dump, a: &Analysis) -> AnalysisView<'a> {
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
        groups: a.groups.iter().map(|g| group_view(dump, a, g)).collect(),
        findings: a
            .findings
            .iter()
            .map(|f| finding_view(dump, a, f))
            .collect(),
        notes: a.notes.iter().map(super::words::note).collect(),
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

/// One group of goroutines on the same stack: its ids (record indexes in an
/// aggregated profile), its representative's state, its blocking site.
fn group_view(dump: &Dump, a: &Analysis, g: &GroupInfo) -> GroupView {
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
        site: g.site.to_string(),
    }
}

/// One finding: its words, the lock it is about, the goroutines it names by role,
/// its evidence and the weaker findings folded into it.
fn finding_view(dump: &Dump, a: &Analysis, f: &Finding) -> FindingView {
    let ids = |v: &[usize]| v.iter().map(|&g| display_id(dump, g)).collect();
    FindingView {
        kind: f.kind.as_str(),
        confidence: f.confidence,
        claim: f.headline.claim(),
        summary: words::headline(dump, a, f),
        lock: f.lock.map(|li| lock_view(&a.locks[li])),
        holders: ids(&f.holders),
        waiters: ids(&f.waiters),
        cycle: ids(&f.cycle),
        holder_waits_on: words::holder_wait(dump, a, f),
        evidence: evidence_views(dump, a, &f.evidence),
        copies: f.copies,
        also: f
            .also
            .iter()
            .map(|x| AlsoView {
                kind: x.kind.as_str(),
                confidence: x.confidence,
                claim: x.headline.claim(),
                summary: words::also_headline(dump, a, x),
                evidence: evidence_views(dump, a, &x.evidence),
            })
            .collect(),
    }
}

/// The lock a finding is about: where it is asked for, what it is, how it was told
/// apart from the others.
fn lock_view(l: &Lock) -> LockView {
    LockView {
        site: l.site.to_string(),
        primitive: l.primitive.to_string(),
        address: l.addr.map(|x| format!("{x:#x}")),
        name: lock_name(l),
        rule: words::rule(l.rule),
    }
}

fn evidence_views(dump: &Dump, a: &Analysis, evidence: &[Evidence]) -> Vec<EvidenceView> {
    evidence.iter().map(|e| evidence_view(dump, a, e)).collect()
}

fn frame_at(dump: &Dump, f: FrameRef) -> FrameAtView {
    let fr = &dump.goroutines[f.goroutine].frames[f.frame];
    FrameAtView {
        goroutine: display_id(dump, f.goroutine),
        index: f.frame,
        function: fr.function.full().to_string(),
        file: fr.file.to_string(),
        line: fr.line,
    }
}

/// One piece of evidence: its rule and words, then what it names, filled by the
/// part of `EvidenceFields` for its kind.
fn evidence_view(dump: &Dump, a: &Analysis, e: &Evidence) -> EvidenceView {
    let mut v = EvidenceView {
        rule: e.rule(),
        text: words::evidence_item(dump, a, e),
        ..Default::default()
    };
    let fields = EvidenceFields { dump, a };
    match e {
        Evidence::RuntimeAllAsleep
        | Evidence::Preamble
        | Evidence::LeakMarked
        | Evidence::HolderWaitHidden
        | Evidence::NilChannel
        | Evidence::SelectForever
        | Evidence::TestTimedOut
        | Evidence::AllMoved => {}
        Evidence::MovedBetweenSnapshots { .. }
        | Evidence::QueueSeenStuck { .. }
        | Evidence::OldStillStuck { .. }
        | Evidence::SeenStuck { .. }
        | Evidence::Grew { .. } => fields.over_snapshots(e, &mut v),
        Evidence::HeldLock { .. }
        | Evidence::PendingWriter { .. }
        | Evidence::Queue { .. }
        | Evidence::Candidate { .. } => fields.on_a_lock(e, &mut v),
        Evidence::Reentry { .. }
        | Evidence::Cycle { .. }
        | Evidence::ChannelParent { .. }
        | Evidence::ChannelChild { .. }
        | Evidence::WaitGroupChild { .. }
        | Evidence::WaitGroupMember { .. }
        | Evidence::ChannelPeer { .. }
        | Evidence::OrphanedSend { .. }
        | Evidence::CreatedBy { .. }
        | Evidence::UnreachableSend { .. } => fields.between_goroutines(e, &mut v),
        Evidence::NobodyCanWake { .. }
        | Evidence::SameWait { .. }
        | Evidence::LongestWait { .. }
        | Evidence::LongSend { .. }
        | Evidence::BlockedFor { .. }
        | Evidence::Quiet { .. }
        | Evidence::AllStuck { .. }
        | Evidence::SharedStack { .. } => fields.counted(e, &mut v),
    }
    v
}

/// What a piece of evidence names, by kind (`evidence_view` picks the method: each
/// leaves the kinds of the others alone).
struct EvidenceFields<'d, 'a> {
    dump: &'d Dump<'d>,
    a: &'a Analysis,
}

impl EvidenceFields<'_, '_> {
    fn id(&self, i: usize) -> u64 {
        display_id(self.dump, i)
    }

    fn ids(&self, v: &[usize]) -> Vec<u64> {
        v.iter().map(|&g| self.id(g)).collect()
    }

    fn lock(&self, li: usize) -> Option<String> {
        Some(lock_name(&self.a.locks[li]))
    }

    /// The evidence that goroutine `g` holds lock `li`, when it is a candidate.
    fn because(&self, li: usize, g: usize) -> Vec<EvidenceView> {
        let l = &self.a.locks[li];
        l.holders
            .iter()
            .find(|c| c.goroutine == g)
            .map(|c| {
                c.evidence
                    .iter()
                    .map(|h| holder_view(self.dump, l, h))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Evidence from a series of snapshots: what moved, stayed or grew.
    fn over_snapshots(&self, e: &Evidence, v: &mut EvidenceView) {
        match e {
            Evidence::MovedBetweenSnapshots { goroutines } => v.goroutines = self.ids(goroutines),
            Evidence::QueueSeenStuck { watched } | Evidence::OldStillStuck { watched } => {
                v.snapshots = Some(watched.snapshots);
                v.seconds = watched.seconds;
            }
            Evidence::SeenStuck {
                goroutines,
                watched,
            } => {
                v.goroutines = self.ids(goroutines);
                v.snapshots = Some(watched.snapshots);
                v.seconds = watched.seconds;
            }
            Evidence::Grew { counts, per_minute } => {
                v.counts = counts.to_vec();
                v.per_minute = *per_minute;
            }
            _ => {}
        }
    }

    /// Evidence about one lock: who holds it, who waits on it, how many.
    fn on_a_lock(&self, e: &Evidence, v: &mut EvidenceView) {
        match e {
            Evidence::HeldLock {
                waiter,
                lock: li,
                holder,
            } => {
                v.goroutines = vec![self.id(*waiter), self.id(*holder)];
                v.lock = self.lock(*li);
                v.because = self.because(*li, *holder);
            }
            Evidence::PendingWriter {
                reader,
                lock: li,
                writer,
            } => {
                v.goroutines = vec![self.id(*reader), self.id(*writer)];
                v.lock = self.lock(*li);
            }
            Evidence::Queue { waiters, lock: li } => {
                v.count = Some(*waiters);
                v.lock = self.lock(*li);
            }
            Evidence::Candidate {
                lock: li,
                goroutine,
            } => {
                v.goroutines = vec![self.id(*goroutine)];
                v.lock = self.lock(*li);
                v.because = self.because(*li, *goroutine);
            }
            _ => {}
        }
    }

    /// Evidence tying goroutines to each other: a cycle, a parent and its child, a
    /// waiter and the one it waits for.
    fn between_goroutines(&self, e: &Evidence, v: &mut EvidenceView) {
        match e {
            Evidence::Reentry { goroutine } => v.goroutines = vec![self.id(*goroutine)],
            Evidence::Cycle { members } => v.goroutines = self.ids(members),
            Evidence::ChannelParent { child, parent } => {
                v.goroutines = vec![self.id(*child), self.id(*parent)];
            }
            Evidence::ChannelChild { waiter, child } => {
                v.goroutines = vec![self.id(*waiter), self.id(*child)];
                v.wait_kind = Some(self.a.blocked[*child].kind.as_str());
            }
            Evidence::WaitGroupChild { waiter, child } => {
                v.goroutines = vec![self.id(*waiter), self.id(*child)];
            }
            Evidence::WaitGroupMember {
                waiter,
                member,
                addr,
            } => {
                v.goroutines = vec![self.id(*waiter), self.id(*member)];
                v.addresses = vec![format!("{addr:#x}")];
                v.wait_kind = Some(self.a.blocked[*member].kind.as_str());
            }
            Evidence::ChannelPeer { holder, peer, addr } => {
                v.goroutines = vec![self.id(*holder), self.id(*peer)];
                v.addresses = vec![format!("{addr:#x}")];
                v.wait_kind = Some(self.a.blocked[*holder].kind.as_str());
            }
            Evidence::OrphanedSend { goroutine } | Evidence::CreatedBy { goroutine } => {
                v.goroutines = vec![self.id(*goroutine)];
            }
            Evidence::UnreachableSend { goroutine, parent } => {
                v.goroutines = vec![self.id(*goroutine), *parent];
            }
            _ => {}
        }
    }

    /// Evidence of how many and how long: stuck goroutines, waits, shared stacks.
    fn counted(&self, e: &Evidence, v: &mut EvidenceView) {
        match e {
            Evidence::NobodyCanWake(w) => {
                v.count = Some(w.stuck as u64);
                v.goroutines = self.ids(&w.triggers);
            }
            Evidence::SameWait { goroutines } => {
                v.goroutines = self.ids(goroutines);
                v.wait_kind = Some(self.a.blocked[goroutines[0]].kind.as_str());
                v.minutes = self.dump.goroutines[goroutines[0]].wait_minutes;
            }
            Evidence::LongestWait { minutes }
            | Evidence::LongSend { minutes }
            | Evidence::BlockedFor { minutes } => v.minutes = Some(*minutes),
            Evidence::Quiet { scope } => v.scope = Some(scope.as_str()),
            Evidence::AllStuck { goroutines, scope } => {
                v.count = Some(*goroutines as u64);
                v.scope = Some(scope.as_str());
            }
            Evidence::SharedStack { count, at } => {
                v.count = Some(*count);
                v.frames = at.iter().map(|&f| frame_at(self.dump, f)).collect();
            }
            _ => {}
        }
    }
}

fn holder_view(dump: &Dump, l: &crate::analyze::Lock, h: &HolderEvidence) -> EvidenceView {
    let hex = |x: u64| format!("{x:#x}");
    let mut v = EvidenceView {
        rule: h.why.rule(),
        text: words::holder_evidence(dump, l, h),
        shared_with: (h.shared_with > 0).then_some(h.shared_with),
        ..Default::default()
    };
    match &h.why {
        HolderWhy::GotIn { frame, lock_line } => {
            v.frames = vec![frame_at(dump, *frame)];
            v.line = Some(*lock_line);
        }
        HolderWhy::Address {
            frame,
            word,
            anchor,
        } => {
            v.frames = vec![frame_at(dump, *frame)];
            v.addresses = vec![hex(*word), hex(anchor.addr)];
            v.offset = Some(anchor.addr - word);
        }
        HolderWhy::SameType { frame } => {
            v.frames = vec![frame_at(dump, *frame)];
        }
        HolderWhy::Blocked { kind } => v.wait_kind = Some(kind.as_str()),
        HolderWhy::Unique => {}
        HolderWhy::Longer { minutes, .. } => v.minutes = Some(*minutes),
        HolderWhy::ReentrantRead {
            lock_frame,
            caller,
            object,
        } => {
            v.frames = vec![frame_at(dump, *lock_frame), frame_at(dump, *caller)];
            v.addresses = object.iter().map(|&o| hex(o)).collect();
        }
        HolderWhy::Reentered {
            addr,
            caller,
            object,
        } => {
            v.frames = vec![frame_at(dump, *caller)];
            v.addresses = addr.iter().chain([object]).map(|&a| hex(a)).collect();
            v.offset = addr.map(|a| a.wrapping_sub(*object));
        }
    }
    v
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
    verdicts.min_by_key(|v| severity(v)).unwrap_or("ok")
}

/// 0 for the worst verdict; an unknown one after `ok`.
fn severity(verdict: &str) -> usize {
    const ORDER: [&str; 4] = ["deadlock", "stall", "leak", "ok"];
    ORDER
        .iter()
        .position(|o| *o == verdict)
        .unwrap_or(ORDER.len())
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

/// One input's document, as written, read back to be gathered with others.
pub fn parse_document(bytes: &[u8]) -> std::io::Result<serde_json::Value> {
    serde_json::from_slice(bytes).map_err(std::io::Error::other)
}

/// Several inputs' documents as one: `{schema_version, verdict, inputs: [...]}`,
/// the verdict the worst of theirs, the inputs in the order given.
pub fn write_inputs(w: &mut dyn Write, inputs: Vec<serde_json::Value>) -> std::io::Result<()> {
    let verdict = inputs
        .iter()
        .filter_map(|d| d["verdict"].as_str())
        .min_by_key(|v| severity(v))
        .unwrap_or("ok")
        .to_string();
    let doc = serde_json::json!({
        "schema_version": SCHEMA_VERSION,
        "verdict": verdict,
        "inputs": inputs,
    });
    serde_json::to_writer_pretty(&mut *w, &doc)?;
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
                created_by: g.created_by().map(|c| CreatedByView {
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
