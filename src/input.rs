//! Reading what the user gave: a file or standard input, gzip undone, binary
//! input recognised and refused with advice, text decoded forgivingly.

use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

use crate::error::{display_path, Error};

/// The text of one input, and its name for messages.
pub struct Input {
    /// As shown to the user: the path, or `<stdin>`.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Input {
    /// Read `path` (`-` for standard input) whole.
    pub fn read(path: &Path) -> Result<Input, Error> {
        let name = display_path(path);
        let mut bytes = Vec::new();
        if path == Path::new("-") {
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(path, e))?;
        } else {
            if path.is_dir() {
                return Err(Error::Io {
                    path: name,
                    source: std::io::Error::other("is a directory"),
                });
            }
            bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        }
        let mut bytes = decode(&name, bytes)?;
        sanitize_utf8(&mut bytes);
        Ok(Input { name, bytes })
    }

    /// The input as text. `read` already made it UTF-8, so this borrows.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.bytes)
    }
}

/// Make the bytes valid UTF-8 in place, each invalid byte turned into `?`: no second
/// copy of a large input, and a dump's structure (all ASCII) is untouched.
pub fn sanitize_utf8(bytes: &mut [u8]) {
    let mut at = 0;
    while at < bytes.len() {
        match std::str::from_utf8(&bytes[at..]) {
            Ok(_) => return,
            Err(e) => {
                let bad = at + e.valid_up_to();
                let len = e.error_len().unwrap_or(bytes.len() - bad);
                for b in &mut bytes[bad..bad + len] {
                    *b = b'?';
                }
                at = bad + len;
            }
        }
    }
}

/// Undo gzip, and refuse what cannot be a text dump with a message saying what it is.
pub fn decode(name: &str, bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::Unsupported {
                path: name.to_string(),
                what: format!("gzip stream could not be decompressed: {e}"),
            })?;
        if looks_like_protobuf(&out) {
            return Err(Error::Unsupported {
                path: name.to_string(),
                what: "this is a binary pprof profile (protobuf); capture the text form instead: /debug/pprof/goroutine?debug=2".to_string(),
            });
        }
        return decode(name, out);
    }
    if bytes.starts_with(b"\x7fELF") {
        let core = bytes.len() > 17 && u16::from_le_bytes([bytes[16], bytes[17]]) == 4;
        let what = if core {
            "this is a core file: open it with `dlv core BINARY CORE` and run `goroutines -t`, then give godeadlock that output"
        } else {
            "this is an executable, not a goroutine dump: run it and capture /debug/pprof/goroutine?debug=2 or a SIGQUIT dump"
        };
        return Err(Error::Unsupported {
            path: name.to_string(),
            what: what.to_string(),
        });
    }
    Ok(bytes)
}

/// A decompressed pprof profile starts with protobuf field 1 (sample_type, wire type 2).
fn looks_like_protobuf(b: &[u8]) -> bool {
    b.first() == Some(&0x0a) && b.iter().take(64).any(|&c| c == 0 || c < 0x09)
}

/// Why an input held no dump, from its first line.
pub fn no_dump_hint(first_line: Option<&str>) -> String {
    let Some(l) = first_line else {
        return " (the input is empty)".to_string();
    };
    let t = l.trim();
    let lower = t.to_ascii_lowercase();
    let shown: String = t.chars().take(80).collect();
    if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
        format!(" (got an HTML page, starting `{shown}`: is the URL right and net/http/pprof imported?)")
    } else if lower.contains("404 page not found") {
        format!(
            " (got `{shown}`: the server does not serve /debug/pprof; import _ \"net/http/pprof\")"
        )
    } else if t.starts_with('{') || t.starts_with('[') {
        format!(" (got JSON, starting `{shown}`)")
    } else {
        format!(" (first line: `{shown}`)")
    }
}

/// Memory the analysis takes per goroutine, measured on the 1M-goroutine benchmark
/// dump (about 6 GB), rounded up.
pub const BYTES_PER_GOROUTINE: u64 = 7 * 1024;

/// Count goroutine headers (`goroutine N [`, `Goroutine N -`, debug=1 records are few)
/// without parsing: one pass of memchr's substring search.
pub fn estimate_goroutines(bytes: &[u8]) -> u64 {
    memchr::memmem::find_iter(bytes, b"oroutine ").count() as u64
}

/// Memory available to this process, in bytes: `GODEADLOCK_MEMORY_LIMIT_MB` when set,
/// else the kernel's `MemAvailable`; `None` when neither is known.
pub fn available_memory() -> Option<u64> {
    if let Some(mb) = std::env::var("GODEADLOCK_MEMORY_LIMIT_MB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return Some(mb * 1024 * 1024);
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}

/// Refuse, with numbers, a dump whose analysis would not fit in memory.
pub fn check_fits(name: &str, bytes: &[u8]) -> Result<(), Error> {
    let n = estimate_goroutines(bytes);
    let need = n * BYTES_PER_GOROUTINE;
    match available_memory() {
        Some(avail) if need > avail / 10 * 8 => Err(Error::TooLarge {
            path: name.to_string(),
            goroutines: n,
            need_mb: need.div_ceil(1024 * 1024),
            avail_mb: avail / (1024 * 1024),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written: counting headers only.
    #[test]
    fn invalid_utf8_is_repaired_in_place() {
        // Hand-written: a Latin-1 byte, a cut multi-byte sequence at the end.
        let mut b = b"goroutine 1 [running]:\n\xe9t\xc3".to_vec();
        sanitize_utf8(&mut b);
        assert_eq!(b, b"goroutine 1 [running]:\n?t?".to_vec());
        let mut ok = "é ok".as_bytes().to_vec();
        sanitize_utf8(&mut ok);
        assert_eq!(ok, "é ok".as_bytes());
    }

    #[test]
    fn counts_headers_of_every_format() {
        let t = b"goroutine 1 [running]:\nx\n\ngoroutine 2 [chan send]:\n  Goroutine 3 - User: a.go:1 main.f (0x1)\n";
        assert_eq!(estimate_goroutines(t), 3);
    }
}
