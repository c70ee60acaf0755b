//! model → findings, in named passes (`analyze` lists them in order):
//!
//! 1. `classify`: facts per goroutine and per distinct stack (`StackId`): what it
//!    waits on, where it asked, its argument words graded.
//! 2. `resources`: which waiters share one lock, and by which rule.
//! 3. `holds`: who likely holds each lock, with the evidence that decided:
//!    `anchors` (the addresses that tie a frame to a lock), `prepare` (every
//!    goroutine read once into buckets alike, by distinct stack), `candidates`
//!    (the buckets one lock reads), `rank` (each lock's candidates weighed).
//! 4. `graph`: the waits-for graph, and who started whom.
//! 5. `verdict`: the deadlock, stall, leak and contention rules, `fixpoint` (nobody
//!    can wake them), `hang` (a test that timed out); the verdict.
//! 6. `findings` (the data a finding is), `merge` (one finding per cause), `rank`
//!    (the report's order of groups).
//!
//! Every finding carries the evidence a human needs to check it; rules that are
//! heuristics say "likely". `report::words` says it.

pub mod classify;
pub mod findings;
pub mod fixpoint;
pub mod graph;
pub mod hang;
pub mod holds;
mod key_index;
pub mod merge;
pub mod persist;
pub mod rank;
pub mod release;
pub mod resources;
mod threads;
pub mod verdict;

use crate::group::{group, Alike, Group, GroupBy};
use crate::model::{Dump, Format, Goroutine};
pub use classify::StackId;
pub(crate) use classify::{stack_key, StackKey};
use classify::{Blocked, WaitKind};
pub use findings::{Evidence, FrameRef, Headline, HolderEvidence, HolderWhy, Watched};
use graph::WaitGraph;
pub use holds::Candidate;
pub use rank::state_histogram;
pub(crate) use threads::{by_items, by_ranges, threads_for};

/// The answer, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Deadlock,
    Stall,
    Leak,
    Ok,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Deadlock => "deadlock",
            Verdict::Stall => "stall",
            Verdict::Leak => "leak",
            Verdict::Ok => "ok",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A test that timed out (`panic: test timed out`): it hung, whatever else is
    /// found. Sets no verdict, but fails every `--fail-on` but `never`.
    Hang,
    Deadlock,
    Stall,
    Leak,
    Contention,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Hang => "hang",
            FindingKind::Deadlock => "deadlock",
            FindingKind::Stall => "stall",
            FindingKind::Leak => "leak",
            FindingKind::Contention => "contention",
        }
    }
    /// Every kind but hang and contention decides a verdict.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            FindingKind::Hang => None,
            FindingKind::Deadlock => Some(Verdict::Deadlock),
            FindingKind::Stall => Some(Verdict::Stall),
            FindingKind::Leak => Some(Verdict::Leak),
            FindingKind::Contention => None,
        }
    }
}

/// How waiters were found to share one lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdentityRule {
    /// The primitive printed the same address (`lockSlow(0x...)`, `notifyListWait(0x...)`).
    Address,
    /// The same lock wrapper method on the same receiver (`(*Limiter).Acquire(0x...)`).
    WrapperReceiver,
    /// The method that asked for the lock ran on the same receiver (likely the same lock).
    Receiver,
    /// An RWMutex known by its address, joined by waiters whose lock printed none
    /// (an inlined `RLock`): their asking frames print the object the others' do,
    /// and no other lock's waiters do (likely the same lock).
    SharedObject,
    /// No address printed: the same call site (likely the same lock).
    Site,
    /// No address printed: queues at several call sites whose asking frames print
    /// one object, which no other lock's waiters print (likely one RWMutex of it).
    SiteObject,
}

/// A lock (or lock-like wrapper) that goroutines wait on.
#[derive(Debug, Clone)]
pub struct Lock {
    pub kind: WaitKind,
    pub rule: IdentityRule,
    /// The primitive's address, when printed.
    pub addr: Option<u64>,
    /// The wrapper function (`main.(*Limiter).Acquire`) or the primitive's API:
    /// one text shared by the locks of one primitive.
    pub primitive: std::sync::Arc<str>,
    /// Where the lock is asked for: `function (file:line)` of the first waiter's
    /// lock frame (one text shared by the locks asked for at one frame).
    pub site: std::sync::Arc<str>,
    /// Waiting goroutines (indexes into `Dump::goroutines`), sorted by id.
    pub waiters: Vec<usize>,
    /// Likely holders, most likely first.
    pub holders: Vec<Candidate>,
    /// Whose code can release it: the program's, or (taken inside the standard
    /// library) anyone's. Set by `holds::assign`.
    pub scope: release::Scope,
    /// No goroutine that could release it (`scope`) is on a CPU, runnable or in a
    /// syscall: nothing is serving the queue.
    pub quiet: bool,
    /// Every goroutine that could release it (`scope`) is blocked on a lock or a
    /// WaitGroup, or parked for good: how many on locks and WaitGroups (two or more).
    pub all_stuck: Option<usize>,
    /// One waiter for each set of waiters with the same frames and the same argument
    /// words the lock is known by (the lowest id of each), sorted by id: what is read
    /// of every waiter can be read of these alone.
    pub alike: Vec<usize>,
    /// The longest wait printed among the waiters (`, N minutes`); 0 if none.
    pub max_wait: u32,
}

impl Lock {
    /// The most likely holder, when the evidence points at it (not only circumstance).
    pub fn top_holder(&self) -> Option<&Candidate> {
        self.holders.first().filter(|c| {
            c.score >= holds::EDGE_THRESHOLD
                && c.strong
                && (!self.is_signal_wait() || c.got_in.is_some())
                && !self.holder_ambiguous()
        })
    }

    /// The evidence leaves two holders open: the first two candidates stand on
    /// equal evidence (score, strength, got in, re-entered), so which is first says
    /// only which has the lower id. Neither is named; the finding lists both.
    pub fn holder_ambiguous(&self) -> bool {
        match self.holders.as_slice() {
            [a, b, ..] => {
                a.score == b.score
                    && a.strong == b.strong
                    && a.got_in.is_some() == b.got_in.is_some()
                    && a.reentered == b.reentered
                    // Only a mutex has at most one holder; readers of an RWMutex
                    // and the slots of a semaphore may be many.
                    && self.kind == WaitKind::MutexLock
            }
            _ => false,
        }
    }

    /// Waited on for a signal, not for a release: a Cond (bare or inside a user
    /// function), a channel, a semaphore. Any goroutine may end the wait (Signal,
    /// send, receive), so nobody holds it by being near it; only a goroutine that got
    /// in past the call the waiters are stuck in can be said to.
    pub fn is_signal_wait(&self) -> bool {
        matches!(
            self.kind,
            WaitKind::CondWait | WaitKind::Semacquire | WaitKind::Hidden
        ) || self.kind.is_chan()
    }
    pub fn waiter_count(&self, dump: &Dump) -> u64 {
        self.waiters.iter().map(|&w| dump.goroutines[w].count).sum()
    }
}

/// One conclusion, with what it rests on.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: FindingKind,
    /// 0..1: how sure the rules are.
    pub confidence: f64,
    /// The main lock, index into `Analysis::locks`.
    pub lock: Option<usize>,
    /// Goroutine indexes, most likely holder first.
    pub holders: Vec<usize>,
    /// Goroutine indexes, sorted by id.
    pub waiters: Vec<usize>,
    /// Goroutine indexes of the cycle, sorted by id; empty if none.
    pub cycle: Vec<usize>,
    /// What the finding states (`report::words` says it).
    pub headline: Headline,
    /// The holder whose own wait the finding shows, when it is blocked.
    pub holder_wait: Option<usize>,
    /// What the finding rests on, in order.
    pub evidence: Vec<Evidence>,
    /// How many findings alike (the same stacks, the same rule) this one stands
    /// for: many copies of one bug are one finding. Its goroutines are all of theirs.
    pub copies: usize,
    /// Weaker findings about goroutines all in this one: the same cause, read by
    /// another rule.
    pub also: Vec<Also>,
}

/// A finding folded into a stronger one with the same cause.
#[derive(Debug, Clone)]
pub struct Also {
    pub kind: FindingKind,
    pub confidence: f64,
    pub headline: Headline,
    pub evidence: Vec<Evidence>,
}

impl Finding {
    /// Sure enough to set the verdict and to count for `--fail-on`.
    pub fn counts(&self) -> bool {
        self.confidence >= VERDICT_THRESHOLD
    }

    /// How many goroutines it names, counting each part (holders, waiters, cycle).
    pub fn size(&self) -> usize {
        self.holders.len() + self.waiters.len() + self.cycle.len()
    }

    /// Every goroutine the finding names, sorted, once each.
    pub fn goroutines(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .holders
            .iter()
            .chain(&self.waiters)
            .chain(&self.cycle)
            .copied()
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// A group of goroutines with what they wait on.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub group: Group,
    pub kind: WaitKind,
    /// `function (file:line)` of the blocking site, or of the top frame: one
    /// text shared by the groups at one frame.
    pub site: std::sync::Arc<str>,
    /// Higher is more suspicious; groups are sorted by it.
    pub suspicion: u32,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub group_by: GroupBy,
}

/// Everything `analyze` concluded about one dump.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub verdict: Verdict,
    /// Per goroutine (aligned with `Dump::goroutines`).
    pub blocked: Vec<Blocked>,
    /// Groups, most suspicious first.
    pub groups: Vec<GroupInfo>,
    pub locks: Vec<Lock>,
    /// Most severe and most certain first.
    pub findings: Vec<Finding>,
    pub graph: WaitGraph,
    /// True when goroutines have no ids (debug=1): ids in output are group indexes.
    pub ids_are_groups: bool,
    /// What the analysis could not know or had to leave out.
    pub notes: Vec<Note>,
    /// How many goroutines are in each state, most first: of the whole dump, also
    /// when a filter later narrows `groups`.
    pub states: Vec<(String, u64)>,
}

/// The id a goroutine is shown with: its id, or its record index for aggregated profiles.
pub fn display_id(dump: &Dump, idx: usize) -> u64 {
    dump.goroutines[idx].id.unwrap_or(idx as u64)
}

/// Sort goroutine indexes by the id they are shown with. Dumps list goroutines
/// mostly in id order, so most lists come sorted and are only checked.
pub(crate) fn sort_by_id(dump: &Dump, v: &mut [usize]) {
    if !v.is_sorted_by_key(|&i| display_id(dump, i)) {
        v.sort_by_cached_key(|&i| display_id(dump, i));
    }
}

/// `function (file:line)` of a frame.
pub fn frame_label(g: &Goroutine, i: usize) -> String {
    let f = &g.frames[i];
    if f.file.is_empty() {
        f.function.to_string()
    } else {
        format!("{} ({}:{})", f.function, short_file(f.file), f.line)
    }
}

/// `frame_label`s made once per distinct frame and shared (a million groups or locks
/// at a few sites hold a few strings).
#[derive(Default)]
pub(crate) struct FrameLabels {
    /// By frame handle.
    by_frame: rustc_hash::FxHashMap<usize, std::sync::Arc<str>>,
}

impl FrameLabels {
    /// `frame_label` of frame `i` of `g`.
    pub(crate) fn of(&mut self, g: &Goroutine, i: usize) -> std::sync::Arc<str> {
        self.by_frame
            .entry(g.frames[i].handle())
            .or_insert_with(|| frame_label(g, i).into())
            .clone()
    }
}

/// The last two path elements: enough to find the file, short enough to read.
pub fn short_file(file: &str) -> &str {
    let mut it = file.rmatch_indices('/');
    match (it.next(), it.next()) {
        (Some(_), Some((i, _))) => &file[i + 1..],
        _ => file,
    }
}

/// The passes, in order. Each reads what the ones before it made.
pub fn analyze(dump: &Dump, opts: Options) -> Analysis {
    let mut timer = crate::PhaseTimer::default();
    // 1. Facts: what each goroutine waits on, where it asked, its argument words.
    let blocked: Vec<Blocked> = classify::classify_all(dump);
    timer.done("classify");
    let notes = notes(dump, &blocked);
    // 2. Resources: which waiters share a lock (beside grouping alike goroutines).
    let (grouping, mut locks) = groups_and_locks(dump, &blocked, opts);
    timer.done("groups and locks");
    // 3. Holds: who likely holds each lock, weighed jointly by distinct stacks.
    holds::assign(
        dump,
        &blocked,
        &grouping.groups,
        &grouping.group_of,
        &grouping.alike,
        &mut locks,
    );
    timer.done("holders");
    // What only the passes so far read goes as soon as they are done: a million
    // goroutines' alike sets and group numbers would sit beside the findings.
    let Grouping {
        groups,
        alike,
        group_of,
        children,
    } = grouping;
    drop((alike, group_of));
    // 4. Graph: who waits for whom; beside it (on two cores), the leak rules,
    // which read no edge.
    let (graph, leaks) = threads::both(
        dump.goroutines.len(),
        || graph::build(dump, &blocked, &locks, &children),
        || verdict::leak_findings(dump, &blocked, &groups, &locks),
    );
    drop(children);
    timer.done("graph and leaks");
    // 5. Verdicts: deadlock cycles, lock findings, leaks, the fixpoint, the
    // runtime's own word, a test that timed out.
    let mut findings = verdict::findings(dump, &blocked, &locks, &graph, leaks);
    timer.done("verdict");
    verdict::rank(dump, &mut findings);
    let verdict = verdict::of(&findings);
    timer.done("findings: ranked");
    // 6. Findings: the report's order of groups; findings with one cause merged.
    let states = rank::state_histogram(dump, &groups);
    let involvement = rank::involvement(dump, &findings);
    let (groups, findings) = threads::both(
        dump.goroutines.len(),
        || rank::rank_groups(dump, &blocked, groups, &involvement),
        || merge::same_cause(dump, &locks, findings),
    );
    drop(involvement);
    timer.done("findings: groups ranked and findings merged");
    Analysis {
        verdict,
        blocked,
        groups,
        locks,
        findings,
        graph,
        ids_are_groups: dump.format == Format::Profile,
        notes,
        states,
    }
}

/// What the analysis cannot know of a dump, or what a listing leaves out:
/// data, worded by `report::words::note`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    /// A debug=1 profile: no ids, states or arguments; ids are record indexes.
    Aggregated,
    /// A Delve listing: no argument values, locks told apart by call site only.
    DelveNoArguments,
    /// The input was cut off at `line`; `goroutines` stacks are incomplete and
    /// left out of the verdict.
    CutOff { line: usize, goroutines: usize },
    /// A filter shows `shown` of `of` groups; the verdict is for the whole dump.
    Filtered { shown: usize, of: usize },
    /// The runtime's own `goroutines`, in `groups` groups, are not listed.
    RuntimeHidden { goroutines: u64, groups: usize },
    /// The program crashed and the runtime printed the stacks as it exited: a
    /// `panic:` nothing recovered or a `fatal error:` (a throw, a concurrent map
    /// access, a stack overflow). `message` is the runtime's first line of it;
    /// `goroutine` the id of the goroutine that panicked or threw, where one alone
    /// ran (`fixpoint::panicking`).
    Crashed {
        message: String,
        goroutine: Option<u64>,
    },
}

/// What the analysis cannot know of this dump, or leaves out, and what made the
/// runtime print it when that is the program's end.
fn notes(dump: &Dump, blocked: &[Blocked]) -> Vec<Note> {
    let mut notes = Vec::new();
    if let Some(crash) = crashed(dump, blocked) {
        notes.push(crash);
    }
    if dump.format == Format::Profile {
        notes.push(Note::Aggregated);
    }
    if dump.format == Format::Delve {
        notes.push(Note::DelveNoArguments);
    }
    if let Some(line) = dump.truncated_at() {
        let goroutines = dump.goroutines.iter().filter(|g| !g.complete).count();
        notes.push(Note::CutOff { line, goroutines });
    }
    notes
}

/// The crash that ended the program, from the runtime's preamble: a panic or a
/// fatal error (not a test's timeout, which is a hang and its own finding, nor
/// the runtime's deadlock report).
fn crashed(dump: &Dump, blocked: &[Blocked]) -> Option<Note> {
    use crate::model::Trigger;
    let prefix = match dump.trigger {
        Trigger::Panic => "panic: ",
        Trigger::FatalError | Trigger::RuntimeThrow | Trigger::ConcurrentMap => "fatal error: ",
        _ => return None,
    };
    let line = dump.preamble.iter().find(|l| l.starts_with(prefix))?;
    Some(Note::Crashed {
        message: line.trim_end().to_string(),
        goroutine: fixpoint::panicking(dump, blocked).map(|i| display_id(dump, i)),
    })
}

/// Goroutines grouped alike, each one's group, and who started whom.
pub(crate) struct Grouping<'d> {
    pub groups: Vec<Group>,
    pub alike: Vec<Alike>,
    pub group_of: Vec<usize>,
    pub children: graph::Children<'d>,
}

/// Grouping (with who started whom) and finding the locks read the goroutines
/// apart: on two cores they run side by side.
fn groups_and_locks<'d>(
    dump: &'d Dump,
    blocked: &[Blocked],
    opts: Options,
) -> (Grouping<'d>, Vec<Lock>) {
    let grouping = || {
        let (groups, alike) = group(dump, opts.group_by);
        let mut group_of = vec![0; dump.goroutines.len()];
        for (gi, g) in groups.iter().enumerate() {
            for &m in &g.members {
                group_of[m] = gi;
            }
        }
        let children = graph::Children::new(dump, blocked);
        Grouping {
            groups,
            alike,
            group_of,
            children,
        }
    };
    if threads_for(dump.goroutines.len()) < 2 {
        (grouping(), resources::find_locks(dump, blocked))
    } else {
        std::thread::scope(|s| {
            let other = s.spawn(|| {
                let mut t = crate::PhaseTimer::default();
                let g = grouping();
                t.done("  grouping (beside finding locks)");
                g
            });
            let mut t = crate::PhaseTimer::default();
            let locks = resources::find_locks(dump, blocked);
            t.done("  finding locks (beside grouping)");
            (other.join().expect("grouping thread"), locks)
        })
    }
}

/// Findings below this confidence are reported but do not set the verdict.
pub const VERDICT_THRESHOLD: f64 = 0.3;

/// `sync.Mutex 0xc00001c030` or `main.(*Limiter).Acquire` or `sync.RWMutex (site ...)`.
pub fn lock_name(l: &Lock) -> String {
    match l.addr {
        Some(a) => format!("{} {:#x}", l.primitive, a),
        None => l.primitive.to_string(),
    }
}
