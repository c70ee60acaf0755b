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
        if line.starts_with("goroutine") {
            if let Ok((_, h)) = traceback::header(line) {
                lines.next_line();
                let id = h.id;
                let dump = b.dump_for(Format::Traceback, Some(id), no);
                let g = read_traceback_goroutine(&mut lines, h, no, &mut dump.diagnostics, reader);
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
                continue;
            }
            if let Ok((_, (kind, total))) = profile::header(line) {
                lines.next_line();
                b.finish();
                b.preamble.clear();
                b.trigger = Trigger::Plain;
                let d = b.dump_for(Format::Profile, None, no);
                d.declared_total = Some(total);
                d.leak_profile = kind == profile::ProfileKind::GoroutineLeak;
                continue;
            }
        }
        if matches!(&b.cur, Some(d) if d.format == Format::Profile && b.preamble.is_empty()) {
            if let Ok((_, (count, _pcs))) = profile::record(line) {
                lines.next_line();
                let dump = b.cur.as_mut().expect("profile dump");
                let mut g = read_profile_record(&mut lines, count, no, reader);
                // A record of the leak profile counts goroutines the runtime proved leaked.
                g.leaked = dump.leak_profile;
                dump.goroutines.push(g);
                continue;
            }
        }
        if line.contains("Goroutine ") {
            if let Ok((_, h)) = delve::header(line) {
                lines.next_line();
                let dump = b.dump_for(Format::Delve, Some(h.id), no);
                let g = read_delve_goroutine(&mut lines, h, no, reader);
                dump.goroutines.push(g);
                continue;
            }
        }
        if let Ok((_, n)) = delve::switched(line) {
            // `goroutine N`: the `stack` / `bt` output after it is goroutine N's.
            lines.next_line();
            b.delve_focus = Some(n);
            continue;
        }
        if let Some(id) = b.delve_focus {
            if delve::frame_func(line).is_ok() {
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
                read_delve_stack(&mut lines, &mut d.goroutines[at], reader);
                continue;
            }
        }
        if let Ok((_, n)) = delve::group_total(line) {
            // `goroutines -group` lists up to 5 members of a group, then its size.
            if let Some(d) = b.cur.as_mut().filter(|d| d.format == Format::Delve) {
                d.declared_total = Some(d.declared_total.unwrap_or(0) + n);
                lines.next_line();
                continue;
            }
        }
        if let Ok((_, n)) = delve::footer(line) {
            if let Some(d) = b.cur.as_mut().filter(|d| d.format == Format::Delve) {
                d.declared_total = Some(n);
                lines.next_line();
                continue;
            }
        }
        if let Some(p) = traceback::preamble(line) {
            if b.cur.as_ref().is_some_and(|d| !d.goroutines.is_empty()) {
                b.finish();
            }
            if b.preamble.is_empty() {
                b.preamble_line = no;
            }
            b.preamble.push(reader.keep.keep(line.trim_end()));
            b.trigger = next_trigger(b.trigger, p);
            lines.next_line();
            continue;
        }
        lines.next_line();
        b.skipped += 1;
        if b.first_skipped.is_none() && !line.trim().is_empty() {
            b.first_skipped = Some(reader.keep.keep(line));
        }
    }
    b.finish();
    // The piece's argument values, shared by its goroutines.
    let chunk: Arc<[u8]> = reader.piece_args.as_slice().into();
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
