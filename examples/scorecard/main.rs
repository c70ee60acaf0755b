//! The scorecard: how right the analysis is on dumps whose truth is known.
//!
//! ```text
//! cargo run --release --example scorecard -- fixtures/synth/corpus ../shared/corpus/goker ../shared/corpus/wild
//! cargo run --release --example scorecard -- --floors scorecard-floors.json DIR...   # CI: exit 1 below a floor
//! cargo run --release --example scorecard -- --json figures.json --write-floors new-floors.json DIR...
//! cargo run --release --example scorecard -- --misses DIR...   # list every dump a figure got wrong
//! ```
//!
//! Each DIR is a corpus (see `truth.rs` for the four kinds). For each corpus it
//! prints one table by situation class and one by capture mode, with these
//! figures, each as right/scored over the dumps it applies to:
//!
//! | figure | scored on | right when |
//! |---|---|---|
//! | verdict | dumps with a known verdict | the verdict is one the truth accepts |
//! | healthy_ok | healthy controls | no deadlock, stall or leak verdict (no false alarm) |
//! | named | dumps naming bug goroutines (GoKer, synth) | an alarm, and a finding names one of them |
//! | holder_first | dumps with a known holder | the verdict's finding ranks a true holder first |
//! | holder_edges | dumps with known holds (synth) | every (holder, resource) pair named equals the truth's |
//! | cycles | dumps with a known cycle | the goroutines the deadlock findings put in cycles are exactly it (all the members, where a dump holds several cycles) |
//! | leaked | dumps with a known leaked set | the goroutines that leak and deadlock findings name stuck for good are exactly it |
//! | decidable | synth dumps that lack nothing to decide their truth (`lacks.rs`) | the verdict is one the truth accepts |
//! | edges_decidable, cycles_decidable | those of them with known holds, a known cycle | as holder_edges, cycles |
//!
//! and the time to parse and analyse (total and slowest). Figures that need goroutine
//! ids are not scored on debug=1 profiles.

mod lacks;
mod score;
mod truth;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use comfy_table::{presets::ASCII_MARKDOWN, Table};
use serde_json::{json, Map, Value};

use score::{marks, run, Outcome, METRICS};
use truth::{Case, Corpus};

/// Right and scored, per figure.
#[derive(Debug, Default, Clone)]
struct Tally {
    dumps: usize,
    right: [usize; METRICS.len()],
    scored: [usize; METRICS.len()],
    micros: u128,
    slowest: u128,
}

impl Tally {
    fn add(&mut self, m: &[Option<bool>; METRICS.len()], o: &Outcome) {
        self.dumps += 1;
        for (i, mark) in m.iter().enumerate() {
            if let Some(ok) = mark {
                self.scored[i] += 1;
                self.right[i] += usize::from(*ok);
            }
        }
        self.micros += o.micros;
        self.slowest = self.slowest.max(o.micros);
    }
    fn ratio(&self, i: usize) -> Option<f64> {
        (self.scored[i] > 0).then(|| self.right[i] as f64 / self.scored[i] as f64)
    }
    fn cell(&self, i: usize) -> String {
        match self.ratio(i) {
            Some(r) => format!("{}/{} {:.0}%", self.right[i], self.scored[i], r * 100.0),
            None => "-".to_string(),
        }
    }
}

/// One corpus scored: the whole, by class and by mode, and the misses.
struct Card {
    name: String,
    total: Tally,
    by_class: BTreeMap<String, Tally>,
    by_mode: BTreeMap<String, Tally>,
    /// `figure: file (what the analysis said)` for every figure got wrong.
    misses: Vec<String>,
}

fn score(corpus: &Corpus) -> Card {
    let mut card = Card {
        name: corpus.kind.name().to_string(),
        total: Tally::default(),
        by_class: BTreeMap::new(),
        by_mode: BTreeMap::new(),
        misses: Vec::new(),
    };
    for case in &corpus.cases {
        let o = run(case);
        let m = marks(&case.truth, &o);
        card.total.add(&m, &o);
        card.by_class
            .entry(case.class.clone())
            .or_default()
            .add(&m, &o);
        card.by_mode
            .entry(case.mode.clone())
            .or_default()
            .add(&m, &o);
        for (i, mark) in m.iter().enumerate() {
            if *mark == Some(false) {
                card.misses.push(miss(corpus, case, &o, METRICS[i]));
            }
        }
    }
    card
}

fn miss(corpus: &Corpus, case: &Case, o: &Outcome, figure: &str) -> String {
    let file = case.file.strip_prefix(&corpus.dir).unwrap_or(&case.file);
    let said = match (&o.error, o.verdict) {
        (Some(e), _) => e.clone(),
        (None, Some(v)) => format!(
            "{}; holder {}; cycle {:?}",
            v.as_str(),
            o.head_holder.map_or("-".to_string(), |h| h.to_string()),
            o.cycle
        ),
        (None, None) => "?".to_string(),
    };
    let lacks = match &o.lacks {
        Some(l) if !l.is_empty() && figure == "verdict" => {
            format!("\n         lacks: {}", l.join("; "))
        }
        _ => String::new(),
    };
    format!(
        "{figure:<12} {} [{}] ({said}){lacks}",
        file.display(),
        case.class
    )
}

fn table(title: &str, rows: &BTreeMap<String, Tally>, total: &Tally) -> Table {
    let mut t = Table::new();
    t.load_preset(ASCII_MARKDOWN);
    let mut header = vec![title.to_string(), "dumps".to_string()];
    header.extend(METRICS.iter().map(|m| m.to_string()));
    header.push("ms (total / slowest)".to_string());
    t.set_header(header);
    let line = |name: &str, r: &Tally| {
        let mut cells = vec![name.to_string(), r.dumps.to_string()];
        cells.extend((0..METRICS.len()).map(|i| r.cell(i)));
        cells.push(format!(
            "{:.1} / {:.1}",
            r.micros as f64 / 1000.0,
            r.slowest as f64 / 1000.0
        ));
        cells
    };
    for (name, r) in rows {
        t.add_row(line(name, r));
    }
    t.add_row(line("ALL", total));
    t
}

fn figures(cards: &[Card]) -> Value {
    let mut out = Map::new();
    for c in cards {
        let mut m = Map::new();
        for (i, name) in METRICS.iter().enumerate() {
            if let Some(r) = c.total.ratio(i) {
                m.insert(name.to_string(), json!((r * 1000.0).floor() / 1000.0));
            }
        }
        out.insert(c.name.clone(), Value::Object(m));
    }
    Value::Object(out)
}

/// Every figure below its floor, as `corpus figure: got X, floor Y`. A corpus not
/// scored in this run (its directory absent) is not checked.
fn below_floors(figures: &Value, floors: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(floors) = floors.as_object() else {
        return vec!["the floors file is not a JSON object".to_string()];
    };
    for (corpus, fl) in floors {
        let Some(got) = figures.get(corpus) else {
            continue;
        };
        for (name, floor) in fl.as_object().into_iter().flatten() {
            let floor = floor.as_f64().unwrap_or(0.0);
            let have = got.get(name).and_then(Value::as_f64);
            match have {
                Some(h) if h + 1e-9 >= floor => {}
                _ => out.push(format!(
                    "{corpus} {name}: got {}, floor {floor}",
                    have.map_or("nothing scored".to_string(), |h| h.to_string())
                )),
            }
        }
    }
    out
}

#[derive(Default)]
struct Args {
    dirs: Vec<PathBuf>,
    json: Option<PathBuf>,
    floors: Option<PathBuf>,
    write_floors: Option<PathBuf>,
    misses: bool,
    skip_missing: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |flag: &str| {
            it.next()
                .map(PathBuf::from)
                .ok_or(format!("{flag} needs a file"))
        };
        match arg.as_str() {
            "--json" => a.json = Some(value("--json")?),
            "--floors" => a.floors = Some(value("--floors")?),
            "--write-floors" => a.write_floors = Some(value("--write-floors")?),
            "--misses" => a.misses = true,
            "--skip-missing" => a.skip_missing = true,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => a.dirs.push(PathBuf::from(arg)),
        }
    }
    if a.dirs.is_empty() {
        return Err("usage: scorecard [--floors F] [--json F] [--write-floors F] [--misses] [--skip-missing] DIR...".into());
    }
    Ok(a)
}

fn write(path: &PathBuf, v: &Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())? + "\n";
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scorecard: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode, String> {
    let a = args()?;
    let mut cards = Vec::new();
    for dir in &a.dirs {
        if a.skip_missing && !dir.exists() {
            println!("({} is absent: not scored)\n", dir.display());
            continue;
        }
        let corpus = truth::read(dir)?;
        let mut corpora = vec![corpus];
        if corpora[0].kind == truth::Kind::Goker {
            corpora.push(truth::goker_pairs(dir)?);
        }
        for corpus in corpora {
            let card = score(&corpus);
            println!(
                "## {} ({}: {} dumps)\n",
                card.name,
                dir.display(),
                corpus.cases.len()
            );
            println!("{}\n", table("class", &card.by_class, &card.total));
            println!("{}\n", table("mode", &card.by_mode, &card.total));
            if a.misses {
                for m in &card.misses {
                    println!("  miss {m}");
                }
                println!();
            }
            cards.push(card);
        }
    }
    let figs = figures(&cards);
    if let Some(p) = &a.json {
        write(p, &figs)?;
    }
    if let Some(p) = &a.write_floors {
        write(p, &figs)?;
    }
    if let Some(p) = &a.floors {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let floors: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        let below = below_floors(&figs, &floors);
        if !below.is_empty() {
            for b in &below {
                println!("BELOW FLOOR: {b}");
            }
            return Ok(ExitCode::from(1));
        }
        println!("every figure is at or above its floor in {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
