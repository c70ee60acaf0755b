//! Which reader reads a line: a traceback header, a `debug=1` profile header or
//! record, a Delve listing line or session answer, a preamble line; anything else
//! is skipped (log lines, register dumps).

use super::*;

/// Read one piece of input.
pub(super) fn parse_piece<'b, 'a, K: Keep<'b, 'a>>(
    mut lines: Lines<'b>,
    reader: &mut Reader<'a, K>,
) -> Piece<'a> {
    reader.piece += 1;
    reader.piece_args.clear();
    let mut b = Builder {
        dumps: Vec::new(),
        cur: None,
        seen: IdSet::default(),
        preamble: Vec::new(),
        trigger: Trigger::Plain,
        preamble_line: 0,
        skipped: 0,
        first_skipped: None,
        delve_focus: None,
    };
    while let Some((no, line)) = lines.peek() {
        let at = At { no, line };
        let read = read_goroutine_header(&mut lines, at, &mut b, reader)
            || read_profile_line(&mut lines, at, &mut b, reader)
            || read_delve_line(&mut lines, at, &mut b, reader)
            || read_preamble_line(&mut lines, at, &mut b, reader);
        if !read {
            skip_line(&mut lines, at, &mut b, reader);
        }
    }
    b.finish();
    into_piece(b, &lines, reader)
}

/// A line of the piece and its (1-based) number.
#[derive(Clone, Copy)]
struct At<'b> {
    no: usize,
    line: &'b str,
}

/// A traceback goroutine's header, and its goroutine, or a profile's header (each
/// beginning `goroutine`): true when the line was one.
#[inline]
fn read_goroutine_header<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    At { no, line }: At<'b>,
    b: &mut Builder<'a>,
    reader: &mut Reader<'a, K>,
) -> bool {
    if !line.starts_with("goroutine") {
        return false;
    }
    if let Ok((_, h)) = traceback::header(line) {
        lines.next_line();
        file_traceback_goroutine(lines, h, no, b, reader);
        return true;
    }
    if let Ok((_, (kind, total))) = profile::header(line) {
        lines.next_line();
        b.finish();
        b.preamble.clear();
        b.trigger = Trigger::Plain;
        let d = b.dump_for(Format::Profile, None, no);
        d.declared_total = Some(total);
        d.leak_profile = kind == profile::ProfileKind::GoroutineLeak;
        return true;
    }
    false
}

/// Read the goroutine whose header (`h`) is line `no`, into its dump: a new one
/// when it is a second dump writer.
#[inline]
fn file_traceback_goroutine<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    h: traceback::Header<'b>,
    no: usize,
    b: &mut Builder<'a>,
    reader: &mut Reader<'a, K>,
) {
    let id = h.id;
    let dump = b.dump_for(Format::Traceback, Some(id), no);
    let g = read_traceback_goroutine(lines, h, no, &mut dump.diagnostics, reader);
    if is_dump_writer(&g) && dump.goroutines.iter().any(is_dump_writer) {
        // A dump has one writer, the goroutine printing it: a second one
        // starts a new snapshot, whether or not its id was seen.
        let at = dump.diagnostics.partition_point(|x| x.line < no);
        let diags = dump.diagnostics.split_off(at);
        b.finish();
        let d = b.dump_for(Format::Traceback, Some(id), no);
        d.diagnostics = diags;
        d.goroutines.push(g);
    } else {
        dump.goroutines.push(g);
    }
}

/// A record of the profile being read, and its frames: true when the line was one.
#[inline]
fn read_profile_line<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    At { no, line }: At<'b>,
    b: &mut Builder<'a>,
    reader: &mut Reader<'a, K>,
) -> bool {
    if !matches!(&b.cur, Some(d) if d.format == Format::Profile && b.preamble.is_empty()) {
        return false;
    }
    let Ok((_, (count, pcs))) = profile::record(line) else {
        return false;
    };
    lines.next_line();
    let dump = b.cur.as_mut().expect("profile dump");
    let mut g = read_profile_record(lines, count, pcs.first().copied(), no, reader);
    // A record of the leak profile counts goroutines the runtime proved leaked.
    g.leaked = dump.leak_profile;
    dump.goroutines.push(g);
    true
}

/// A line of Delve's: a goroutine's header (and its frames), a switch to a goroutine,
/// the frames printed after one, a group's size, the footer. True when it was one.
#[inline]
fn read_delve_line<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    At { no, line }: At<'b>,
    b: &mut Builder<'a>,
    reader: &mut Reader<'a, K>,
) -> bool {
    if line.contains("Goroutine ") {
        if let Ok((_, h)) = delve::header(line) {
            lines.next_line();
            let dump = b.dump_for(Format::Delve, Some(h.id), no);
            let g = read_delve_goroutine(lines, h, no, reader);
            dump.goroutines.push(g);
            return true;
        }
    }
    if let Ok((_, n)) = delve::switched(line) {
        // `goroutine N`: the `stack` / `bt` output after it is goroutine N's.
        lines.next_line();
        b.delve_focus = Some(n);
        return true;
    }
    if let Some(id) = b.delve_focus {
        if delve::frame_func(line).is_ok() {
            read_focused_stack(lines, id, no, b, reader);
            return true;
        }
    }
    read_delve_total(lines, line, b)
}

/// The `stack` / `bt` frames of goroutine `id` (switched to), from line `no`: into
/// that goroutine of the Delve dump, which is made when there is none.
fn read_focused_stack<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    id: u64,
    no: usize,
    b: &mut Builder<'a>,
    reader: &mut Reader<'a, K>,
) {
    let d = match b.cur.as_mut().filter(|d| d.format == Format::Delve) {
        Some(d) => d,
        None => b.dump_for(Format::Delve, Some(id), no),
    };
    let at = match d.goroutines.iter().position(|g| g.id == Some(id)) {
        Some(at) => at,
        None => {
            d.goroutines
                .push(Goroutine::new(Some(id), no, State::unknown()));
            d.goroutines.len() - 1
        }
    };
    read_delve_stack(lines, &mut d.goroutines[at], reader);
}

/// A Delve group's size or the footer's total, into the Delve dump being read: true
/// when the line was one.
#[inline]
fn read_delve_total<'b>(lines: &mut Lines<'b>, line: &'b str, b: &mut Builder<'_>) -> bool {
    if let Ok((_, n)) = delve::group_total(line) {
        // `goroutines -group` lists up to 5 members of a group, then its size.
        if let Some(d) = b.cur.as_mut().filter(|d| d.format == Format::Delve) {
            d.declared_total = Some(d.declared_total.unwrap_or(0) + n);
            lines.next_line();
            return true;
        }
    }
    if let Ok((_, n)) = delve::footer(line) {
        if let Some(d) = b.cur.as_mut().filter(|d| d.format == Format::Delve) {
            d.declared_total = Some(n);
            lines.next_line();
            return true;
        }
    }
    false
}

/// A preamble line (a panic message, `SIGQUIT: quit`...): ends the dump being read
/// when it has goroutines, and is kept for the next. True when the line was one.
#[inline]
fn read_preamble_line<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    At { no, line }: At<'b>,
    b: &mut Builder<'a>,
    reader: &mut Reader<'a, K>,
) -> bool {
    let Some(p) = traceback::preamble(line) else {
        return false;
    };
    if b.cur.as_ref().is_some_and(|d| !d.goroutines.is_empty()) {
        b.finish();
    }
    if b.preamble.is_empty() {
        b.preamble_line = no;
    }
    b.preamble.push(reader.keep.keep(line.trim_end()));
    b.trigger = next_trigger(b.trigger, p);
    lines.next_line();
    true
}

/// Skip a line no reader knows, counted (the first non-blank one kept).
#[inline]
fn skip_line<'b, 'a, K: Keep<'b, 'a>>(
    lines: &mut Lines<'b>,
    At { line, .. }: At<'b>,
    b: &mut Builder<'a>,
    reader: &mut Reader<'a, K>,
) {
    lines.next_line();
    b.skipped += 1;
    if b.first_skipped.is_none() && !line.trim().is_empty() {
        b.first_skipped = Some(reader.keep.keep(line));
    }
}

/// The piece read: its dumps (their goroutines' argument values in one chunk), and
/// what the next piece needs to know (its lines, a trailing preamble).
fn into_piece<'a, K>(mut b: Builder<'a>, lines: &Lines<'_>, reader: &Reader<'a, K>) -> Piece<'a> {
    // The piece's argument values, shared by its goroutines.
    let chunk: crate::model::ArgChunk = Arc::new(reader.piece_args.as_slice().into());
    for g in b.dumps.iter_mut().flat_map(|d| d.goroutines.iter_mut()) {
        g.args.in_chunk(&chunk);
    }
    let unterminated = lines.unterminated();
    // (A piece stopped at a line that is not UTF-8 is read again: its count is
    // not used, and may not even be whole.)
    let newlines = (lines.line_no() - 1).saturating_sub(usize::from(unterminated));
    let trailing = (!b.preamble.is_empty()).then(|| Trailing {
        lines: std::mem::take(&mut b.preamble),
        first_line: b.preamble_line,
    });
    let parsed = Parsed {
        dumps: b.dumps,
        skipped_lines: b.skipped,
        first_skipped: b.first_skipped,
    };
    Piece {
        parsed,
        newlines,
        trailing,
        bad_utf8: lines.bad(),
    }
}
