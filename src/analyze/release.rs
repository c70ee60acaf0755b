//! Who could release a lock, read once per dump (part of pass 3, `holds`).
//!
//! A lock the program takes is locked and unlocked only by the program's own
//! code: the standard library holds no lock of the program's (when it calls back
//! into the program, a handler or a `sync.Locker`, the program's frame is on the
//! stack), and a `go` statement's wrapper (`F.gowrap1`) only calls the function
//! its statement names. A lock taken inside the standard library (a connection's
//! read lock) may be released by any goroutine. Which package runs what is never
//! asked: only whether a goroutine runs the program's code at all.

use super::classify::{self, Blocked, WaitKind};
use super::Lock;
use crate::group::Alike;
use crate::model::{Dump, FuncName, Goroutine};

/// Whose code can release a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The program takes it: only the program's own code releases it.
    Program,
    /// The standard library takes it: any goroutine may release it.
    Anyone,
}

/// The program's own code: not the runtime, sync or internal machinery, not the
/// standard library, not a compiler-made `go`/`defer` statement wrapper.
pub fn is_program(f: &FuncName) -> bool {
    !classify::is_machinery(f) && !classify::is_std(f) && !f.is_statement_wrapper()
}

/// Some frame of `g` runs the program's own code: only such a goroutine can hold
/// a lock the program takes (the standard library holds none of the program's).
pub fn runs_program(g: &Goroutine) -> bool {
    g.frames.iter().any(|f| is_program(&f.function))
}

/// Where `lock` is taken: in the program, or in the standard library. Read at the
/// frame that asks for it, or (asked inside `sync` itself, as `sync.Once` does) at
/// the first frame outside the runtime. One of each set of alike waiters is read.
pub fn scope(dump: &Dump, blocked: &[Blocked], lock: &Lock) -> Scope {
    let std_at = |w: usize, f: Option<usize>| {
        let g = &dump.goroutines[w];
        f.and_then(|f| g.frames.get(f))
            .filter(|f| !classify::is_machinery(&f.function))
            .map(|f| classify::is_std(&f.function))
    };
    let taken_in_std = lock.alike.iter().any(|&w| {
        std_at(w, blocked[w].lock_frame())
            .or_else(|| std_at(w, blocked[w].site()))
            .unwrap_or(false)
    });
    if taken_in_std {
        Scope::Anyone
    } else {
        Scope::Program
    }
}

/// What the goroutines that could release a lock are doing, for each scope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Releasers {
    /// A goroutine running the program's code is on a CPU, runnable or in a
    /// syscall (not the dump's trigger).
    program_running: bool,
    /// Any goroutine is (not the dump's trigger).
    anyone_running: bool,
    /// Every goroutine running the program's code is blocked on a lock or a
    /// WaitGroup, or parked for good: how many are blocked on locks and WaitGroups.
    program_stuck: Option<usize>,
    /// The same of every goroutine.
    anyone_stuck: Option<usize>,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Program => "program",
            Scope::Anyone => "anyone",
        }
    }
}

impl Releasers {
    /// `running`: the goroutines on a CPU, runnable or in a syscall, the dump's
    /// trigger left out. `alike`: the sets of alike goroutines (one read stands for
    /// all of a set).
    pub fn read(dump: &Dump, blocked: &[Blocked], alike: &[Alike], running: &[usize]) -> Self {
        Releasers {
            program_running: running.iter().any(|&i| runs_program(&dump.goroutines[i])),
            anyone_running: !running.is_empty(),
            program_stuck: stuck(dump, blocked, alike, runs_program),
            anyone_stuck: stuck(dump, blocked, alike, |_| true),
        }
    }

    /// Nothing that could release a lock of `scope` is running.
    pub fn quiet(&self, scope: Scope) -> bool {
        match scope {
            Scope::Program => !self.program_running,
            Scope::Anyone => !self.anyone_running,
        }
    }

    /// Every goroutine that could release a lock of `scope` is blocked on a lock or
    /// a WaitGroup (or parked for good), at least two of them: their number.
    pub fn stuck(&self, scope: Scope) -> Option<usize> {
        match scope {
            Scope::Program => self.program_stuck,
            Scope::Anyone => self.anyone_stuck,
        }
    }
}

/// Every goroutine that `counts` (and is not cut off or the runtime's own) is
/// blocked on a lock or a WaitGroup, or parked for good: how many are on locks and
/// WaitGroups, when at least two.
fn stuck(
    dump: &Dump,
    blocked: &[Blocked],
    alike: &[Alike],
    counts: impl Fn(&Goroutine) -> bool,
) -> Option<usize> {
    let mut n = 0;
    // Goroutines alike share frames and wait kind: each set is read once.
    for a in alike {
        let kind = blocked[a.first].kind;
        if kind.is_background() || a.complete == 0 || !counts(&dump.goroutines[a.first]) {
            continue;
        }
        match kind {
            k if k.is_lock() || k == WaitKind::WaitGroupWait => n += a.complete_count as usize,
            // Parked for good: `select {}` and nil channels never wake.
            WaitKind::SelectNoCases | WaitKind::ChanNil => {}
            _ => return None,
        }
    }
    (n >= 2).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{analyze, Analysis};

    fn analysis_of(path: &str, f: impl FnOnce(&Dump, &Analysis)) {
        let text = std::fs::read_to_string(path).unwrap();
        let dump = crate::parse::parse(&text).dumps.remove(0);
        let a = analyze(&dump, Default::default());
        f(&dump, &a)
    }

    /// A real Delve capture of an AB-BA lock cycle (fixtures/programs/lock-order):
    /// its only goroutine not blocked on a lock is the pprof server, an accept in IO
    /// wait under `harness.serve.gowrap1`: the standard library under a `go`
    /// statement's wrapper, which releases no lock of the program's.
    #[test]
    fn the_standard_library_under_a_go_wrapper_releases_no_program_lock() {
        analysis_of("fixtures/dumps/lock-order/go1.27/delve.txt", |dump, a| {
            let server = (0..dump.goroutines.len())
                .find(|&i| a.blocked[i].kind == WaitKind::IoWait)
                .expect("the pprof server's accept");
            let frames = &dump.goroutines[server].frames;
            assert!(frames.iter().any(|f| f.function.is_statement_wrapper()));
            assert!(!frames.iter().any(|f| is_program(&f.function)));
            assert!(!a.locks.is_empty());
            for lock in &a.locks {
                assert_eq!(lock.scope, Scope::Program, "{}", lock.site);
                assert!(lock.all_stuck.is_some_and(|n| n >= 2), "{}", lock.site);
            }
        });
    }

    /// A real capture of a stall behind a network read (fixtures/programs/
    /// net-read-stall): the pprof server's accept runs only the standard library
    /// (started by the program, but no frame of the program's is on its stack), so
    /// it is no candidate for the program's mutex, while the holder is.
    #[test]
    fn a_goroutine_running_only_the_standard_library_holds_no_program_lock() {
        analysis_of(
            "fixtures/dumps/net-read-stall/go1.27/debug2.txt",
            |dump, a| {
                let accept = (0..dump.goroutines.len())
                    .find(|&i| {
                        let g = &dump.goroutines[i];
                        a.blocked[i].kind == WaitKind::IoWait && !runs_program(g)
                    })
                    .expect("the pprof server's accept");
                let lock = a
                    .locks
                    .iter()
                    .find(|l| l.waiters.len() >= 50)
                    .expect("the mutex 50 goroutines queue on");
                assert_eq!(lock.scope, Scope::Program);
                let top = lock.top_holder().expect("the holder");
                assert!(runs_program(&dump.goroutines[top.goroutine]));
                assert!(
                    lock.holders.iter().all(|c| c.goroutine != accept),
                    "the accept loop is listed as a holder"
                );
            },
        );
    }

    /// A real capture of a logger writing to a pipe nobody reads (fixtures/
    /// programs/log-pipe-stall): 20 goroutines queue on the logger's own mutex,
    /// which `log.(*Logger).output` takes: a lock of the standard library's, which
    /// any goroutine could release. Its holder is the one whose write blocks, as
    /// the program's truth says.
    #[test]
    fn a_lock_the_standard_library_takes_may_be_released_by_anyone() {
        let path = "fixtures/dumps/log-pipe-stall/go1.27/debug2.txt";
        let truth: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string("fixtures/dumps/log-pipe-stall/go1.27/truth.json").unwrap(),
        )
        .unwrap();
        let holder = truth["holders"][0].as_u64().unwrap();
        analysis_of(path, |dump, a| {
            let lock = a
                .locks
                .iter()
                .find(|l| l.waiters.len() == 20)
                .expect("the logger's mutex");
            assert_eq!(lock.scope, Scope::Anyone, "{}", lock.site);
            let top = lock.top_holder().expect("the writer");
            assert_eq!(dump.goroutines[top.goroutine].id, Some(holder));
        });
    }

    /// A synth capture where the lock's holder waits on a channel in the program's
    /// own code (truth: a stall, the wait is a long timer): it could still release
    /// the lock, so the queue is not stuck for good.
    #[test]
    fn a_program_goroutine_on_a_channel_may_release_it() {
        analysis_of("fixtures/synth/corpus/s0076/debug2.txt", |dump, a| {
            let on_chan = (0..dump.goroutines.len())
                .find(|&i| a.blocked[i].kind == WaitKind::ChanReceive)
                .expect("the holder on a channel");
            let frames = &dump.goroutines[on_chan].frames;
            assert!(frames.iter().any(|f| is_program(&f.function)));
            let mutexes: Vec<&Lock> = a.locks.iter().filter(|l| l.kind.is_mutex()).collect();
            assert!(!mutexes.is_empty());
            for lock in mutexes {
                assert_eq!(lock.scope, Scope::Program, "{}", lock.site);
                assert_eq!(lock.all_stuck, None, "{}", lock.site);
            }
        });
    }
}
