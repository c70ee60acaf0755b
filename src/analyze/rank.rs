//! Ranking for the report: groups by how suspicious they are (the worst finding
//! they are part of, what they wait on, how many, how long), and the states.

use super::classify::{Blocked, WaitKind};
use super::{frame_label, Finding, FindingKind, GroupInfo};
use crate::group::Group;
use crate::model::Dump;

pub(super) fn rank_groups(
    dump: &Dump,
    blocked: &[Blocked],
    groups: Vec<Group>,
    findings: &[Finding],
) -> Vec<GroupInfo> {
    // Per goroutine, the weight of the worst finding it is part of (0: none).
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
    let mut out: Vec<GroupInfo> = groups
        .into_iter()
        .map(|group| {
            let rep = group.representative();
            let b = &blocked[rep];
            let g = &dump.goroutines[rep];
            let site = b
                .site()
                .or((!g.frames.is_empty()).then_some(0))
                .map(|s| frame_label(g, s))
                .unwrap_or_else(|| "-".to_string());
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
    // Most suspicious first, then by first id and first member; stable. The keys
    // sorted, not the groups: a million groups are moved once.
    out.sort_by_cached_key(|a| {
        (
            std::cmp::Reverse(a.suspicion),
            a.group.ids.first().copied(),
            a.group.members[0],
        )
    });
    out
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
