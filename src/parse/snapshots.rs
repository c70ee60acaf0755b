//! Where one snapshot ends and the next begins, as the text says: a new preamble
//! (`panic:`, `SIGQUIT:`, `fatal error:`), a `goroutine profile:` header, a format
//! changing, a goroutine id seen before in the dump, a second goroutine printing a
//! dump (`is_dump_writer`). And what is known once a snapshot is whole: its trigger
//! and its Go version.

use super::*;

pub(super) struct Builder<'a> {
    pub(super) dumps: Vec<Dump<'a>>,
    pub(super) cur: Option<Dump<'a>>,
    pub(super) seen: IdSet,
    /// Preamble lines read since the last goroutine.
    pub(super) preamble: Vec<&'a str>,
    pub(super) trigger: Trigger,
    pub(super) preamble_line: usize,
    pub(super) skipped: usize,
    pub(super) first_skipped: Option<&'a str>,
    /// Delve's `goroutine N` switched to goroutine N: frames printed next are its.
    pub(super) delve_focus: Option<u64>,
}

/// The goroutine ids of a dump so far, to tell when one repeats (a new dump).
/// Ids often come in rising order (goroutines of a young process): while they do,
/// they are kept in a sorted list and a new one is only compared with the last.
/// The first id out of order moves them to a hash set.
#[derive(Default)]
pub(super) struct IdSet {
    pub(super) rising: Vec<u64>,
    pub(super) set: Option<FxHashSet<u64>>,
}

impl IdSet {
    pub(super) fn contains(&self, id: u64) -> bool {
        match &self.set {
            Some(s) => s.contains(&id),
            None => match self.rising.last() {
                Some(&last) if id > last => false,
                _ => self.rising.binary_search(&id).is_ok(),
            },
        }
    }

    pub(super) fn insert(&mut self, id: u64) {
        if let Some(s) = &mut self.set {
            s.insert(id);
            return;
        }
        match self.rising.last() {
            Some(&last) if id <= last => {
                if id != last && self.rising.binary_search(&id).is_err() {
                    let mut s: FxHashSet<u64> = self.rising.drain(..).collect();
                    s.insert(id);
                    self.set = Some(s);
                }
            }
            _ => self.rising.push(id),
        }
    }

    pub(super) fn clear(&mut self) {
        self.rising.clear();
        self.set = None;
    }
}

impl Extend<u64> for IdSet {
    fn extend<I: IntoIterator<Item = u64>>(&mut self, ids: I) {
        for id in ids {
            self.insert(id);
        }
    }
}

impl<'a> Builder<'a> {
    pub(super) fn finish(&mut self) {
        if let Some(mut d) = self.cur.take() {
            finalize(&mut d);
            self.dumps.push(d);
        }
        self.seen.clear();
    }

    /// The dump a goroutine with this format and id goes into, starting a new one when
    /// the format changes, an id repeats, or a preamble announced a new dump.
    pub(super) fn dump_for(
        &mut self,
        format: Format,
        id: Option<u64>,
        line: usize,
    ) -> &mut Dump<'a> {
        let new = match &self.cur {
            None => true,
            Some(d) => {
                d.format != format
                    || !self.preamble.is_empty()
                    || id.is_some_and(|id| self.seen.contains(id))
            }
        };
        if new {
            self.finish();
            let first_line = if self.preamble.is_empty() {
                line
            } else {
                self.preamble_line
            };
            self.cur = Some(Dump {
                trigger: std::mem::replace(&mut self.trigger, Trigger::Plain),
                preamble: std::mem::take(&mut self.preamble),
                ..Dump::starting(format, first_line)
            });
        }
        if let Some(id) = id {
            self.seen.insert(id);
        }
        self.cur.as_mut().expect("dump just ensured")
    }
}

/// What a dump's trigger becomes with one more preamble line.
pub(super) fn next_trigger(before: Trigger, line: PreambleLine) -> Trigger {
    match line {
        PreambleLine::Signal => Trigger::Signal,
        PreambleLine::Panic => Trigger::Panic,
        PreambleLine::AllAsleep => Trigger::AllAsleep,
        PreambleLine::Fatal if before == Trigger::AllAsleep => Trigger::AllAsleep,
        PreambleLine::Fatal => Trigger::FatalError,
        PreambleLine::ConcurrentMap => Trigger::ConcurrentMap,
        PreambleLine::TestTimeout => Trigger::TestTimeout,
        PreambleLine::Abort => Trigger::Abort,
        // The throwing thread's stack follows a runtime throw's `fatal error:`.
        PreambleLine::RuntimeStack if before == Trigger::FatalError => Trigger::RuntimeThrow,
        PreambleLine::RuntimeStack => before,
    }
}

/// Whether a goroutine is the one printing the dump it is in: running, in
/// `runtime/pprof`'s writer (`?debug=2`) or in `runtime.Stack` / `runtime/debug.Stack`
/// near its top. A dump has one (the runtime prints it first); a second one starts
/// the next snapshot.
pub(super) fn is_dump_writer(g: &Goroutine) -> bool {
    g.state.reason == WaitReason::Running
        && g.frames.iter().take(4).any(|f| {
            matches!(
                f.function.full(),
                "runtime/pprof.writeGoroutineStacks" | "runtime.Stack" | "runtime/debug.Stack"
            )
        })
}

pub(super) fn version_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?:^|/)go-?(1\.\d+(?:\.\d+)?)(?:/|$)").expect("static regex"))
}

/// Fill what is known only once the whole dump is read: the Go version.
pub(super) fn finalize(d: &mut Dump<'_>) {
    let mut min: Option<(u32, &'static str)> = None;
    fn bump(min: &mut Option<(u32, &'static str)>, v: (u32, &'static str)) {
        if min.is_none_or(|m| m.0 < v.0) {
            *min = Some(v);
        }
    }
    'outer: for g in &d.goroutines {
        for f in g.frames.iter() {
            if d.go_version.is_none()
                && (f.file.contains("/src/runtime/") || f.file.contains("/src/sync/"))
            {
                if let Some(c) = version_re().captures(f.file) {
                    d.go_version = Some(format!("go{}", &c[1]));
                }
            }
            if f.function.full().starts_with("internal/sync.") {
                bump(&mut min, (24, "go1.24"));
            }
        }
        if g.created_by().is_some_and(|c| c.parent.is_some()) {
            bump(&mut min, (21, "go1.21"));
        }
        match g.state.reason {
            WaitReason::SyncWaitGroupWait => bump(&mut min, (24, "go1.24")),
            WaitReason::SyncMutexLock
            | WaitReason::SyncRWMutexLock
            | WaitReason::SyncRWMutexRLock => bump(&mut min, (20, "go1.20")),
            _ => {}
        }
        if d.go_version.is_some() && min.is_some_and(|m| m.0 >= 24) {
            break 'outer;
        }
    }
    // A toolchain path names where a Go was installed, not what built the program:
    // kept only when nothing the dump prints says the runtime is newer.
    let path_minor = d
        .go_version
        .as_deref()
        .and_then(|v| v.strip_prefix("go1."))
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    if let (Some(p), Some((m, _))) = (path_minor, min) {
        if p < m {
            d.go_version = None;
        }
    }
    d.go_version_min = min.map(|m| m.1);
}
