//! The binary goroutine profile: `/debug/pprof/goroutine` without `?debug=` (and
//! `/debug/pprof/goroutineleak` alike), gzipped protobuf in pprof's
//! `profile.proto`. Decoded by prost from the message structs below (derived, no
//! hand-written wire decoding) into the same model as `debug=1`: one record per
//! sample, with its count, its frames (functions, files, lines, innermost first,
//! inlined frames unfolded) and its labels.
//!
//! Go's writer (`runtime/pprof/protobuf.go`) starts with field 11 (`period_type`),
//! not field 1, so a profile is told by decoding it, not by its first byte.

use prost::Message;

use crate::model::{Dump, Format, Frame, FuncName, Goroutine, State, Trigger};
use crate::parse::keep::{Arena, InArena, Keep};
use crate::parse::Parsed;

/// `message Profile` of github.com/google/pprof/proto/profile.proto (the fields a
/// goroutine profile uses; prost skips the others).
#[derive(Clone, PartialEq, Message)]
pub struct Profile {
    #[prost(message, repeated, tag = "1")]
    pub sample_type: Vec<ValueType>,
    #[prost(message, repeated, tag = "2")]
    pub sample: Vec<Sample>,
    #[prost(message, repeated, tag = "4")]
    pub location: Vec<Location>,
    #[prost(message, repeated, tag = "5")]
    pub function: Vec<Function>,
    #[prost(string, repeated, tag = "6")]
    pub string_table: Vec<String>,
    #[prost(int64, tag = "9")]
    pub time_nanos: i64,
    #[prost(message, optional, tag = "11")]
    pub period_type: Option<ValueType>,
    #[prost(int64, tag = "12")]
    pub period: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct ValueType {
    #[prost(int64, tag = "1")]
    pub r#type: i64,
    #[prost(int64, tag = "2")]
    pub unit: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct Sample {
    #[prost(uint64, repeated, tag = "1")]
    pub location_id: Vec<u64>,
    #[prost(int64, repeated, tag = "2")]
    pub value: Vec<i64>,
    #[prost(message, repeated, tag = "3")]
    pub label: Vec<Label>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Label {
    #[prost(int64, tag = "1")]
    pub key: i64,
    #[prost(int64, tag = "2")]
    pub str: i64,
    #[prost(int64, tag = "3")]
    pub num: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct Location {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "3")]
    pub address: u64,
    #[prost(message, repeated, tag = "4")]
    pub line: Vec<Line>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Line {
    #[prost(uint64, tag = "1")]
    pub function_id: u64,
    #[prost(int64, tag = "2")]
    pub line: i64,
}

#[derive(Clone, PartialEq, Message)]
pub struct Function {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(int64, tag = "2")]
    pub name: i64,
    #[prost(int64, tag = "4")]
    pub filename: i64,
}

/// Whether the first bytes can start a pprof profile: a protobuf key of one of
/// `Profile`'s fields (1 to 15, length-delimited or varint as the field is), with a
/// byte no text dump holds (NUL or another control byte) among them.
pub fn looks_like(head: &[u8]) -> bool {
    let Some(&key) = head.first() else {
        return false;
    };
    let (field, wire) = (key >> 3, key & 7);
    let plausible = match field {
        1..=6 | 11 | 13 => wire == 2,
        7..=10 | 12 | 14 => wire == 0,
        _ => false,
    };
    plausible
        && head
            .iter()
            .take(64)
            .any(|&c| c < 0x09 || (0x0e..0x20).contains(&c))
}

/// Why bytes that looked like a profile could not be read as one.
#[derive(Debug)]
pub struct NotAProfile(pub String);

/// Decode a binary goroutine profile (already gunzipped) into one `Profile`
/// snapshot: a record per sample.
pub fn read<'a>(bytes: &[u8], arena: &'a Arena) -> Result<Parsed<'a>, NotAProfile> {
    let p = Profile::decode(bytes).map_err(|e| NotAProfile(e.to_string()))?;
    if p.string_table.first().is_none_or(|s| !s.is_empty()) {
        return Err(NotAProfile(
            "no string table (its first string must be empty)".into(),
        ));
    }
    let symbols = Symbols::new(&p);
    let leak = symbols.is_leak_profile()?;
    let mut keep = InArena::new(arena);
    let goroutines: Vec<Goroutine<'a>> = p
        .sample
        .iter()
        .map(|sample| symbols.record(sample, leak, &mut keep))
        .collect();
    let dump = Dump {
        format: Format::Profile,
        trigger: Trigger::Plain,
        preamble: Vec::new(),
        go_version: None,
        go_version_min: None,
        declared_total: Some(goroutines.iter().map(|g| g.count).sum()),
        leak_profile: leak,
        first_line: 0,
        goroutines,
        diagnostics: Vec::new(),
    };
    Ok(Parsed {
        dumps: vec![dump],
        skipped_lines: 0,
        first_skipped: None,
    })
}

/// A decoded profile's strings, functions and locations, by their numbers.
struct Symbols<'p> {
    p: &'p Profile,
    functions: rustc_hash::FxHashMap<u64, &'p Function>,
    locations: rustc_hash::FxHashMap<u64, &'p Location>,
}

/// A sample's label as debug=1 prints it (`"key":"value"` or `"key":N`), by key.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct LabelText<'p> {
    key: &'p str,
    text: String,
}

impl<'p> Symbols<'p> {
    fn new(p: &'p Profile) -> Self {
        Symbols {
            p,
            functions: p.function.iter().map(|f| (f.id, f)).collect(),
            locations: p.location.iter().map(|l| (l.id, l)).collect(),
        }
    }

    /// String `i` of the string table; `""` for one it does not hold.
    fn s(&self, i: i64) -> &'p str {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.p.string_table.get(i))
            .map_or("", String::as_str)
    }

    /// Whether the profile is of leaked goroutines (`goroutineleak`) rather than of
    /// all (`goroutine`); an error for a profile of anything else.
    fn is_leak_profile(&self) -> Result<bool, NotAProfile> {
        let kind = self
            .p
            .period_type
            .as_ref()
            .map(|t| self.s(t.r#type))
            .or_else(|| self.p.sample_type.first().map(|t| self.s(t.r#type)))
            .unwrap_or("");
        let leak = kind == "goroutineleak";
        if !(kind == "goroutine" || leak) {
            return Err(NotAProfile(format!(
                "a pprof profile of `{kind}`, not of goroutines"
            )));
        }
        Ok(leak)
    }

    /// One sample as a record: its count, frames and labels.
    fn record<'a>(&self, sample: &Sample, leak: bool, keep: &mut InArena<'a>) -> Goroutine<'a> {
        let mut g = Goroutine::new(None, 0, State::unknown());
        g.count = sample.value.first().copied().unwrap_or(0).max(0) as u64;
        g.leaked = leak;
        g.frames = self.frames(sample, keep).into();
        if !sample.label.is_empty() {
            let text = self.labels(sample);
            g.rare_mut().labels = Some(keep.keep(&text));
        }
        g
    }

    /// A sample's frames, innermost first: each location's inlined calls first
    /// (`line[0]` is the innermost), an address alone where it is not symbolized.
    fn frames<'a>(&self, sample: &Sample, keep: &mut InArena<'a>) -> Vec<Frame<'a>> {
        let mut frames = Vec::new();
        for id in &sample.location_id {
            let Some(loc) = self.locations.get(id) else {
                continue;
            };
            if loc.line.is_empty() {
                // Not symbolized: the address alone, as debug=1 prints `#\t0x47daea`.
                frames.push(Frame::at_pc(FuncName("?"), loc.address, "", 0));
            }
            for l in &loc.line {
                let (name, file) = match self.functions.get(&l.function_id) {
                    Some(f) => (for_print(self.s(f.name)), self.s(f.filename)),
                    None => ("?".into(), ""),
                };
                let line = u32::try_from(l.line).unwrap_or(0);
                frames.push(Frame::at_pc(
                    FuncName(keep.keep(&name)),
                    loc.address,
                    keep.keep(file),
                    line,
                ));
            }
        }
        frames
    }

    /// A sample's labels as debug=1 prints them (runtime/pprof's
    /// printCountProfile): `{"k":"v", "n":1}`, keys sorted.
    fn labels(&self, sample: &Sample) -> String {
        let mut parts: Vec<LabelText> = sample
            .label
            .iter()
            .map(|l| {
                let key = self.s(l.key);
                let text = match l.str {
                    0 => format!("{key:?}:{}", l.num),
                    v => format!("{key:?}:{:?}", self.s(v)),
                };
                LabelText { key, text }
            })
            .collect();
        parts.sort();
        let parts: Vec<String> = parts.into_iter().map(|p| p.text).collect();
        format!("{{{}}}", parts.join(", "))
    }
}

/// A function name as tracebacks and debug=1 print it: a generic function's type
/// arguments (`main.waitFor[go.shape.int]` in the profile's symbols) read `[...]`,
/// as the runtime's `funcNameForPrint` writes them (from the first `[` to the last `]`).
fn for_print(name: &str) -> std::borrow::Cow<'_, str> {
    match (name.find('['), name.rfind(']')) {
        (Some(i), Some(j)) if j > i => format!("{}[...]{}", &name[..i], &name[j + 1..]).into(),
        _ => name.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written message, encoded by prost itself: a sample's inlined lines unfold
    // innermost first, labels read as debug=1 prints them, the count is the value.
    #[test]
    fn a_profile_built_by_prost_reads_back() {
        let strings = [
            "",
            "goroutine",
            "count",
            "main.f",
            "main.g",
            "/x/m.go",
            "k",
            "v",
        ];
        let p = Profile {
            sample_type: vec![ValueType { r#type: 1, unit: 2 }],
            sample: vec![Sample {
                location_id: vec![1],
                value: vec![3],
                label: vec![Label {
                    key: 6,
                    str: 7,
                    num: 0,
                }],
            }],
            location: vec![Location {
                id: 1,
                address: 0x47daea,
                line: vec![
                    Line {
                        function_id: 1,
                        line: 7,
                    },
                    Line {
                        function_id: 2,
                        line: 9,
                    },
                ],
            }],
            function: vec![
                Function {
                    id: 1,
                    name: 3,
                    filename: 5,
                },
                Function {
                    id: 2,
                    name: 4,
                    filename: 5,
                },
            ],
            string_table: strings.iter().map(|s| s.to_string()).collect(),
            time_nanos: 0,
            period_type: Some(ValueType { r#type: 1, unit: 2 }),
            period: 1,
        };
        let bytes = p.encode_to_vec();
        assert!(looks_like(&bytes));
        let arena = Arena::new();
        let parsed = read(&bytes, &arena).unwrap();
        let g = &parsed.dumps[0].goroutines[0];
        assert_eq!(g.count, 3);
        let names: Vec<_> = g.frames.iter().map(|f| f.function.full()).collect();
        assert_eq!(names, ["main.f", "main.g"]);
        assert_eq!((g.frames[1].file, g.frames[1].line), ("/x/m.go", 9));
        assert_eq!(g.labels(), Some(r#"{"k":"v"}"#));
        assert!(!g.leaked);
        assert_eq!(for_print("main.waitFor[go.shape.int]"), "main.waitFor[...]");
        assert_eq!(for_print("main.(*T[...]).m"), "main.(*T[...]).m");
        assert_eq!(for_print("main.main"), "main.main");
        // text is not a profile
        assert!(!looks_like(b"goroutine 1 [running]:\n"));
        assert!(read(b"goroutine 1 [running]:\n", &arena).is_err());
    }
}
