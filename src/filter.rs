//! Narrowing what a report shows (`--state`, `--match`, `--min-wait`, and the
//! runtime's own goroutines, left out of the group listings unless `--runtime`).
//! Filters select; they never change a finding or the verdict, which always rest on
//! the whole dump.

use regex::Regex;

use crate::analyze::classify::{Blocked, WaitKind};
use crate::analyze::Analysis;
use crate::error::Error;
use crate::model::{Dump, Goroutine};

#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Keep goroutines whose state (as printed) matches.
    pub state: Option<Regex>,
    /// Keep goroutines with a frame whose function or file matches.
    pub matching: Option<Regex>,
    /// Keep goroutines blocked at least this many minutes.
    pub min_wait_minutes: Option<u32>,
    /// Leave the runtime's own goroutines (`is_runtime_internal`) out of the group
    /// listings; findings are never narrowed by it.
    pub hide_runtime: bool,
}

/// `10m`, `1h`, `90s` (rounded up to whole minutes, the dump's resolution), or `30` (minutes).
pub fn parse_duration(s: &str) -> Result<u32, Error> {
    let s = s.trim();
    let bad = |why: &str| {
        Error::Usage(format!(
            "--min-wait: `{s}` {why}; write a Go duration like 90s, 10m, 2h or 1h30m"
        ))
    };
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut nanos = 0f64;
    while !rest.is_empty() {
        let (n, after) = number(rest).ok_or_else(|| bad("is not a duration"))?;
        let (unit, after) = unit(after).ok_or_else(|| {
            if after.is_empty() {
                bad("has no unit")
            } else {
                bad("has a unit Go does not know")
            }
        })?;
        nanos += n * unit;
        rest = after;
    }
    if s.is_empty() {
        return Err(bad("is empty"));
    }
    // Waits are printed in whole minutes: "at least 90s" is at least 2 minutes.
    let minutes = (nanos / 60e9).ceil();
    if minutes > f64::from(u32::MAX) {
        return Err(bad("is too long"));
    }
    Ok(minutes as u32)
}

/// `1.5` in `1.5h`: digits with an optional fraction, and what follows.
fn number(s: &str) -> Option<(f64, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let n: f64 = s[..end].parse().ok()?;
    Some((n, &s[end..]))
}

/// `h` in `1.5h30m`: Go's duration units (and `min`), in nanoseconds.
fn unit(s: &str) -> Option<(f64, &str)> {
    const UNITS: &[(&str, f64)] = &[
        ("ns", 1.0),
        ("us", 1e3),
        ("µs", 1e3),
        ("ms", 1e6),
        ("min", 60e9),
        ("s", 1e9),
        ("m", 60e9),
        ("h", 3600e9),
    ];
    UNITS
        .iter()
        .find(|(u, _)| s.starts_with(u))
        .map(|&(u, ns)| (ns, &s[u.len()..]))
}

impl Filter {
    /// No `--state`, `--match` or `--min-wait`.
    pub fn is_empty(&self) -> bool {
        self.state.is_none() && self.matching.is_none() && self.min_wait_minutes.is_none()
    }

    pub fn matches(&self, g: &Goroutine, b: &Blocked) -> bool {
        if let Some(re) = &self.state {
            if !re.is_match(g.state.raw) && !re.is_match(b.kind.as_str()) {
                return false;
            }
        }
        if let Some(re) = &self.matching {
            let hit = g
                .frames
                .iter()
                .any(|f| re.is_match(f.function.full()) || re.is_match(f.file))
                || g.created_by()
                    .as_ref()
                    .is_some_and(|c| re.is_match(c.function.full()));
            if !hit {
                return false;
            }
        }
        if let Some(min) = self.min_wait_minutes {
            if g.wait_minutes.unwrap_or(0) < min {
                return false;
            }
        }
        true
    }

    /// Keep the groups with a matching member and the findings that involve one;
    /// then leave out the runtime's own groups, saying how many.
    pub fn apply(&self, dump: &Dump, a: &mut Analysis) {
        self.narrow(dump, a);
        if self.hide_runtime {
            hide_runtime(dump, a);
        }
    }

    fn narrow(&self, dump: &Dump, a: &mut Analysis) {
        if self.is_empty() {
            return;
        }
        let keep: Vec<bool> = dump
            .goroutines
            .iter()
            .zip(&a.blocked)
            .map(|(g, b)| self.matches(g, b))
            .collect();
        let before = a.groups.len();
        a.groups
            .retain(|g| g.group.members.iter().any(|&m| keep[m]));
        a.findings.retain(|f| {
            f.holders
                .iter()
                .chain(&f.waiters)
                .chain(&f.cycle)
                .any(|&m| keep[m])
        });
        a.notes.push(crate::analyze::Note::Filtered {
            shown: a.groups.len(),
            of: before,
        });
    }
}

/// The runtime's own goroutine, as the runtime's `isSystemGoroutine` tells one:
/// started at a runtime function and running only runtime code (GC workers, the
/// sweeper and scavenger, forcegc, the finalizer goroutine while it waits), which
/// the analysis's classification says (`WaitKind::RuntimeIdle`); `runtime.main`
/// starts the program's own main goroutine, which is never one.
pub fn is_runtime_internal(g: &Goroutine, b: &Blocked) -> bool {
    b.kind == WaitKind::RuntimeIdle
        && g.frames
            .last()
            .is_none_or(|f| f.function.full() != "runtime.main")
}

/// Leave the groups of the runtime's own goroutines out of `a.groups`, and say
/// how many were left out in a note.
fn hide_runtime(dump: &Dump, a: &mut Analysis) {
    let before = a.groups.len();
    let mut hidden = 0u64;
    let blocked = &a.blocked;
    a.groups.retain(|g| {
        let runtime = g
            .group
            .members
            .iter()
            .all(|&m| is_runtime_internal(&dump.goroutines[m], &blocked[m]));
        if runtime {
            hidden += g.group.count;
        }
        !runtime
    });
    let groups = before - a.groups.len();
    if groups > 0 {
        a.notes.push(crate::analyze::Note::RuntimeHidden {
            goroutines: hidden,
            groups,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m").unwrap(), 10);
        assert_eq!(parse_duration("2h").unwrap(), 120);
        assert_eq!(parse_duration("90s").unwrap(), 2);
        assert_eq!(parse_duration("1h30m").unwrap(), 90);
        assert_eq!(parse_duration("1.5h").unwrap(), 90);
        assert_eq!(parse_duration("2m30s").unwrap(), 3);
        assert_eq!(parse_duration("500ms").unwrap(), 1);
        assert_eq!(parse_duration("0").unwrap(), 0);
        let bare = parse_duration("30").unwrap_err().to_string();
        assert!(
            bare.contains("has no unit") && bare.contains("90s"),
            "{bare}"
        );
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("").is_err());
    }
}
