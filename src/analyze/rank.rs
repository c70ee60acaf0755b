//! Ranking for the report: groups by how suspicious they are (the worst finding
//! they are part of, what they wait on, how many, how long), and the states.

use super::classify::{Blocked, WaitKind};
use super::{Finding, FindingKind, GroupInfo};
use crate::group::Group;
use crate::model::{Dump, Goroutine};
use std::sync::Arc;

/// Per goroutine, the weight of the worst finding it is part of (0: none): what
/// `rank_groups` reads of the findings.
pub(super) fn involvement(dump: &Dump, findings: &[Finding]) -> Vec<u32> {
    let mut involvement: Vec<u32> = vec![0; dump.goroutines.len()];
    for f in findings {
        let w = match f.kind {
            // A hang names every goroutine of the test: it ranks none above another.
            FindingKind::Hang => continue,
            FindingKind::Deadlock => 400,
            FindingKind::Stall => 300,
            FindingKind::Leak => 200,
            FindingKind::Contention => 100,
        };
        for &g in f.holders.iter().take(1).chain(&f.cycle) {
            involvement[g] = involvement[g].max(w + 50);
        }
        for &g in &f.waiters {
            involvement[g] = involvement[g].max(w);
        }
    }
    involvement
}

/// The groups, most suspicious first, by what they wait on and `involvement`.
pub(super) fn rank_groups(
    dump: &Dump,
    blocked: &[Blocked],
    groups: Vec<Group>,
    involvement: &[u32],
) -> Vec<GroupInfo> {
    let mut sites = Sites::default();
    let mut out: Vec<GroupInfo> = groups
        .into_iter()
        .map(|group| {
            let rep = group.representative();
            let b = &blocked[rep];
            let g = &dump.goroutines[rep];
            let site = sites.of(g, b.site().or((!g.frames.is_empty()).then_some(0)));
            let base = match b.kind {
                k if k.is_background() => 0,
                k if k.is_lock() || k == WaitKind::WaitGroupWait => 50,
                k if k.is_chan() || k == WaitKind::ChanNil => 30,
                WaitKind::IoWait | WaitKind::Syscall | WaitKind::Sleep => 10,
                _ => 5,
            };
            let inv = group
                .members
                .iter()
                .filter_map(|&m| involvement.get(m))
                .max()
                .copied()
                .unwrap_or(0);
            let suspicion = inv
                + base
                + (group.count.min(40) as u32)
                + group.wait_minutes.map(|w| w.1.min(60)).unwrap_or(0);
            GroupInfo {
                group,
                kind: b.kind,
                site,
                suspicion,
            }
        })
        .collect();
    drop(sites);
    sort_groups(&mut out);
    out
}

/// Most suspicious first, then by first id and first member; stable. The keys
/// sorted, not the groups: a million groups are moved once.
fn sort_groups(out: &mut [GroupInfo]) {
    if u32::try_from(out.len()).is_err() {
        out.sort_by_cached_key(|a| {
            (
                std::cmp::Reverse(a.suspicion),
                a.group.ids.first().copied(),
                a.group.members[0],
            )
        });
        return;
    }
    // Groups come in the order of their first member: the index orders them as
    // `members[0]` does, and makes every key distinct (an unstable sort is stable).
    let mut order: Vec<GroupOrder> = out
        .iter()
        .enumerate()
        .map(|(i, a)| GroupOrder {
            rank: (u64::from(u32::MAX - a.suspicion) << 1) | u64::from(!a.group.ids.is_empty()),
            id: a.group.ids.first().copied().unwrap_or(0),
            index: i as u32,
        })
        .collect();
    order.sort_unstable();
    // Put each group where its key went, as `sort_by_cached_key` does: a swap
    // each, following where earlier swaps moved the group.
    for i in 0..order.len() {
        let mut index = order[i].index;
        while (index as usize) < i {
            index = order[index as usize].index;
        }
        order[i].index = index;
        out.swap(i, index as usize);
    }
}

/// A group's place in the report, packed (24 bytes, not 40 with the index):
/// the suspicion reversed and whether an id is printed, the first id, the index.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct GroupOrder {
    rank: u64,
    id: u64,
    index: u32,
}

/// The `site` of each group, made once per frame: groups at one frame share the
/// text (a million groups of their own stacks at a few sites keep a few strings).
#[derive(Default)]
struct Sites {
    labels: super::FrameLabels,
    none: Option<Arc<str>>,
}

impl Sites {
    fn of(&mut self, g: &Goroutine, frame: Option<usize>) -> Arc<str> {
        match frame {
            Some(s) => self.labels.of(g, s),
            None => self.none.get_or_insert_with(|| "-".into()).clone(),
        }
    }
}

/// A histogram of states, sorted by count then name.
pub fn state_histogram(dump: &Dump, groups: &[Group]) -> Vec<(String, u64)> {
    // A group's members share their state's text (it is part of the group's key).
    let mut m: rustc_hash::FxHashMap<&str, u64> = Default::default();
    for grp in groups {
        let raw = dump.goroutines[grp.representative()].state.raw;
        let s = if raw.is_empty() { "(not printed)" } else { raw };
        *m.entry(s).or_default() += grp.count;
    }
    let mut v: Vec<(String, u64)> = m.into_iter().map(|(s, n)| (s.to_string(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}
