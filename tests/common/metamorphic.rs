//! Metamorphic transforms of a goroutine dump's text, and a canonical summary of
//! the analysis that those transforms must leave unchanged (once ids and addresses
//! are mapped back): relabelling goroutine ids, reordering the goroutines of a
//! snapshot, shifting heap addresses in argument lists.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use godeadlock::analyze::{analyze, display_id, Options};
use godeadlock::model::{Dump, Format};
use godeadlock::parse::parse;
use regex::Regex;

/// Every `*.txt` under `dir`, recursively, sorted (none if it does not exist).
pub fn dumps_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "txt") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A small deterministic generator (splitmix64), seeded from a name.
pub struct Rng(u64);

impl Rng {
    pub fn seeded(name: &str) -> Rng {
        // FNV-1a of the name.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in name.bytes() {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A permutation of `0..n` that is never the identity when `n >= 2`.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            p.swap(i, j);
        }
        if n >= 2 && p.iter().enumerate().all(|(i, &x)| i == x) {
            p.reverse();
        }
        p
    }
}

/// The text split in lines, each with its line ending.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn content(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

fn is_blank(line: &str) -> bool {
    content(line).trim().is_empty()
}

struct Patterns {
    /// `goroutine N [` / `goroutine N gp=`
    header: Regex,
    /// `created by F in goroutine N`
    created: Regex,
    /// `[originating from goroutine N]:`
    originating: Regex,
    /// `(dlv)   Goroutine N - ` / `* Goroutine N - ` / `  Goroutine N - `
    delve: Regex,
    /// `N @ 0x... 0x...` (debug=1 record)
    record: Regex,
    hex: Regex,
}

fn patterns() -> &'static Patterns {
    static P: std::sync::OnceLock<Patterns> = std::sync::OnceLock::new();
    P.get_or_init(|| Patterns {
        header: Regex::new(r"^(goroutine )(\d+)( \[| gp=)").unwrap(),
        created: Regex::new(r"^(created by .* in goroutine )(\d+)(\s*)$").unwrap(),
        originating: Regex::new(r"^(\[originating from goroutine )(\d+)(\]:)").unwrap(),
        delve: Regex::new(r"^((?:\(dlv\) )?[ *]*Goroutine )(\d+)( - )").unwrap(),
        record: Regex::new(r"^\d+ @( 0x[0-9a-f]+)*\s*$").unwrap(),
        hex: Regex::new(r"0x([0-9a-fA-F]+)").unwrap(),
    })
}

/// Goroutine ids relabelled: `map` sends each original id to its new one.
pub struct Relabelled {
    pub text: String,
    pub map: BTreeMap<u64, u64>,
}

/// Every id the dump names (headers, parents, ancestors, Delve lines) sent through
/// one seeded permutation of the set of those ids. Goroutine 0 stays: it is no
/// goroutine's id but SIGQUIT's name for a thread's own (g0) stack.
pub fn relabel(text: &str, seed: &str) -> Relabelled {
    let p = patterns();
    let regs = [&p.header, &p.created, &p.originating, &p.delve];
    let mut ids: BTreeSet<u64> = BTreeSet::new();
    for l in lines(text) {
        for r in regs {
            if let Some(c) = r.captures(content(l)) {
                if let Ok(n) = c[2].parse::<u64>() {
                    ids.insert(n);
                }
            }
        }
    }
    let zero = ids.remove(&0);
    let ids: Vec<u64> = ids.into_iter().collect();
    let perm = Rng::seeded(seed).permutation(ids.len());
    let mut map: BTreeMap<u64, u64> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, ids[perm[i]]))
        .collect();
    if zero {
        map.insert(0, 0);
    }
    let mut out = String::with_capacity(text.len());
    for l in lines(text) {
        let c = content(l);
        let eol = &l[c.len()..];
        let mut done = false;
        for r in regs {
            if let Some(m) = r.captures(c) {
                let n: u64 = match m[2].parse() {
                    Ok(n) => n,
                    Err(_) => break,
                };
                let id = m.get(2).unwrap();
                out.push_str(&c[..id.start()]);
                out.push_str(&map[&n].to_string());
                out.push_str(&c[id.end()..]);
                out.push_str(eol);
                done = true;
                break;
            }
        }
        if !done {
            out.push_str(l);
        }
    }
    Relabelled { text: out, map }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BlockKind {
    Traceback,
    Record,
    Delve,
}

fn block_start(line: &str) -> Option<BlockKind> {
    let p = patterns();
    let c = content(line);
    if p.header.is_match(c) {
        Some(BlockKind::Traceback)
    } else if p.record.is_match(c) {
        Some(BlockKind::Record)
    } else if p.delve.is_match(c) {
        Some(BlockKind::Delve)
    } else {
        None
    }
}

fn header_id(line: &str) -> Option<u64> {
    let p = patterns();
    let c = content(line);
    p.header
        .captures(c)
        .or_else(|| p.delve.captures(c))
        .and_then(|m| m[2].parse().ok())
}

/// Where a block that starts at `start` ends (exclusive).
fn block_end(ls: &[&str], start: usize, kind: BlockKind) -> usize {
    let mut i = start + 1;
    while i < ls.len() {
        let l = ls[i];
        let goes_on = match kind {
            BlockKind::Traceback => !is_blank(l) && block_start(l).is_none(),
            BlockKind::Record => content(l).starts_with('#'),
            BlockKind::Delve => {
                (l.starts_with('\t') || l.starts_with(' ')) && block_start(l).is_none()
            }
        };
        if !goes_on {
            break;
        }
        i += 1;
    }
    i
}

/// Goroutine blocks shuffled within each run of them (a snapshot's goroutines):
/// tracebacks and debug=1 records separated by one blank line, Delve goroutine
/// lines with their frames. Preambles, footers and anything between runs stay.
/// A run ends where an id repeats (a new snapshot) or a `(dlv)` prompt starts one.
/// Returns the text and, per run, the permutation used (new position → old).
pub fn reorder(text: &str, seed: &str) -> (String, Vec<Vec<usize>>) {
    let ls = lines(text);
    let mut rng = Rng::seeded(seed);
    let mut out = String::with_capacity(text.len() + 16);
    let mut perms = Vec::new();
    let mut i = 0;
    while i < ls.len() {
        let Some(kind) = block_start(ls[i]) else {
            out.push_str(ls[i]);
            i += 1;
            continue;
        };
        // Collect the run.
        let mut blocks: Vec<(usize, usize)> = Vec::new();
        let mut seen: BTreeSet<u64> = BTreeSet::new();
        let mut at = i;
        loop {
            if let Some(id) = header_id(ls[at]) {
                if !seen.insert(id) {
                    break;
                }
            }
            if !blocks.is_empty() && content(ls[at]).starts_with("(dlv)") {
                break;
            }
            let end = block_end(&ls, at, kind);
            blocks.push((at, end));
            let gap = if kind == BlockKind::Delve { 0 } else { 1 };
            let next = end + gap;
            let gap_ok = (end..next).all(|j| j < ls.len() && is_blank(ls[j]));
            if gap_ok && next < ls.len() && block_start(ls[next]) == Some(kind) {
                at = next;
            } else {
                break;
            }
        }
        let run_end = blocks.last().unwrap().1;
        let perm = rng.permutation(blocks.len());
        // The `(dlv) ` prompt stays on the first line.
        let prompt = if kind == BlockKind::Delve && ls[blocks[0].0].starts_with("(dlv) ") {
            "(dlv) "
        } else {
            ""
        };
        let sep = if kind == BlockKind::Delve {
            None
        } else {
            // The blank line between blocks (all alike).
            blocks.get(1).map(|b| ls[b.0 - 1])
        };
        let nl = if ls[blocks[0].0].ends_with("\r\n") {
            "\r\n"
        } else {
            "\n"
        };
        for (k, &src) in perm.iter().enumerate() {
            if k > 0 {
                if let Some(s) = sep {
                    out.push_str(s);
                }
            }
            let (s, e) = blocks[src];
            for (j, &l) in ls[s..e].iter().enumerate() {
                let mut l = l;
                if j == 0 {
                    l = l.strip_prefix("(dlv) ").unwrap_or(l);
                    if k == 0 {
                        out.push_str(prompt);
                    }
                }
                out.push_str(l);
                if !l.ends_with('\n') {
                    out.push_str(nl);
                }
            }
        }
        perms.push(perm);
        i = run_end;
    }
    (out, perms)
}

/// The constant added to heap addresses.
pub const SHIFT: u64 = 0x10000;
/// Argument words at or above this are shifted.
pub const SHIFT_FROM: u64 = 0x100000;

/// An address read from the shifted dump, as it was in the original.
pub fn unshift(a: u64) -> u64 {
    if a >= SHIFT_FROM + SHIFT {
        a - SHIFT
    } else {
        a
    }
}

/// Every hex word of at least `SHIFT_FROM` in a frame's argument list gets `SHIFT`
/// added (offsets, `pc=`/`fp=`/`sp=`, headers and small values stay).
/// Returns the text and how many words moved.
pub fn shift(text: &str) -> (String, usize) {
    let p = patterns();
    let ls = lines(text);
    let mut out = String::with_capacity(text.len() + 64);
    let mut moved = 0;
    let mut in_block = false;
    for l in ls {
        let c = content(l);
        if p.header.is_match(c) {
            in_block = true;
            out.push_str(l);
            continue;
        }
        if is_blank(l) {
            in_block = false;
        }
        let frame_line = in_block
            && !c.starts_with(['\t', ' '])
            && !c.starts_with("created by ")
            && !c.starts_with('[')
            && c.ends_with(')');
        if !frame_line {
            out.push_str(l);
            continue;
        }
        // The argument list: the parenthesised group that ends the line.
        let bytes = c.as_bytes();
        let mut depth = 0i32;
        let mut open = None;
        for (k, &b) in bytes.iter().enumerate().rev() {
            match b {
                b')' => depth += 1,
                b'(' => {
                    depth -= 1;
                    if depth == 0 {
                        open = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(open) = open else {
            out.push_str(l);
            continue;
        };
        let args = &c[open..];
        let shifted = p.hex.replace_all(args, |m: &regex::Captures| {
            match u64::from_str_radix(&m[1], 16) {
                Ok(v) if v >= SHIFT_FROM && v.checked_add(SHIFT).is_some() => {
                    moved += 1;
                    format!("{:#x}", v + SHIFT)
                }
                _ => m[0].to_string(),
            }
        });
        out.push_str(&c[..open]);
        out.push_str(&shifted);
        out.push_str(&l[c.len()..]);
    }
    (out, moved)
}

/// How a goroutine of the transformed dump is named in the summary: by what it was
/// in the original (its id mapped back, or for debug=1, whose ids are record
/// indexes, by its record's stack and count).
pub struct Naming<'m> {
    /// New id → original id (relabelling); identity when `None`.
    pub ids_back: Option<&'m BTreeMap<u64, u64>>,
    /// New lock address → original.
    pub addr_back: fn(u64) -> u64,
}

impl Naming<'_> {
    pub fn plain() -> Naming<'static> {
        Naming {
            ids_back: None,
            addr_back: |a| a,
        }
    }
    fn goroutine(&self, d: &Dump, i: usize) -> String {
        let g = &d.goroutines[i];
        if d.format == Format::Profile || g.id.is_none() {
            let frames: Vec<String> = g
                .frames
                .iter()
                .map(|f| format!("{}@{}:{}", f.function.full(), f.file, f.line))
                .collect();
            return format!("record[{}x {}]", g.count, frames.join(" < "));
        }
        let id = display_id(d, i);
        let id = match self.ids_back {
            Some(m) => m.get(&id).copied().unwrap_or(id),
            None => id,
        };
        id.to_string()
    }
    fn set(&self, d: &Dump, v: &[usize]) -> String {
        let mut names: Vec<String> = v.iter().map(|&i| self.goroutine(d, i)).collect();
        // Ids numerically, records by text.
        names.sort_by(|a, b| match (a.parse::<u64>(), b.parse::<u64>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        });
        format!("{{{}}}", names.join(", "))
    }
}

/// The canonical summary of the analysis of every snapshot: one line per snapshot
/// header, then its findings sorted.
pub fn summary(text: &str, naming: &Naming) -> Vec<String> {
    let parsed = parse(text);
    let mut out = Vec::new();
    for (si, d) in parsed
        .dumps
        .iter()
        .filter(|d| !d.goroutines.is_empty())
        .enumerate()
    {
        let a = analyze(d, Options::default());
        out.push(format!(
            "snapshot {si}: {:?}, {} goroutines, verdict {}",
            d.format,
            d.total(),
            a.verdict.as_str()
        ));
        let mut findings: Vec<String> = a
            .findings
            .iter()
            .map(|f| {
                let lock = f.lock.map(|li| &a.locks[li]);
                format!(
                    "snapshot {si}: {} {:.2} lock {} {} holders {} waiters {} cycle {}",
                    f.kind.as_str(),
                    f.confidence,
                    lock.map(|l| &*l.primitive).unwrap_or("-"),
                    lock.and_then(|l| l.addr)
                        .map(|x| format!("{:#x}", (naming.addr_back)(x)))
                        .unwrap_or_else(|| "-".to_string()),
                    naming.set(d, &f.holders),
                    naming.set(d, &f.waiters),
                    naming.set(d, &f.cycle),
                )
            })
            .collect();
        findings.sort();
        out.extend(findings);
    }
    out
}

/// Lines only in `want` (`-`) or only in `got` (`+`), as multisets.
pub fn diff(want: &[String], got: &[String]) -> String {
    let mut count: BTreeMap<&str, i64> = BTreeMap::new();
    for w in want {
        *count.entry(w).or_default() += 1;
    }
    for g in got {
        *count.entry(g).or_default() -= 1;
    }
    let mut out = String::new();
    for w in want {
        let c = count.get_mut(w.as_str()).unwrap();
        if *c > 0 {
            *c -= 1;
            out.push_str(&format!("    - {w}\n"));
        }
    }
    for g in got {
        let c = count.get_mut(g.as_str()).unwrap();
        if *c < 0 {
            *c += 1;
            out.push_str(&format!("    + {g}\n"));
        }
    }
    out
}
