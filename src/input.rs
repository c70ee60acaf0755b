//! Reading what the user gave: a file or standard input, gzip undone, the binary
//! pprof profile decoded, other binary input recognised and refused with advice,
//! text decoded forgivingly.

use std::io::{Cursor, Read};
use std::path::Path;

use crate::error::{display_path, Error};
use crate::parse::{
    parse_bytes, parse_reader, pprof, prefix, Arena, Parsed, StreamError, StreamOptions,
};

/// One input, read and parsed.
pub struct Loaded<'a> {
    /// As shown to the user: the path, or `<stdin>`.
    pub name: String,
    pub parsed: Parsed<'a>,
}

/// A stream whose first bytes were read, given back whole.
type Sniffed<R> = std::io::Chain<Cursor<Vec<u8>>, R>;

/// The first bytes of a stream, and the whole stream again.
fn sniff<R: Read>(r: R) -> std::io::Result<(Vec<u8>, Sniffed<R>)> {
    sniff_n(r, 64)
}

/// The first `want` bytes of a stream (fewer at its end), and the whole stream again.
fn sniff_n<R: Read>(mut r: R, want: usize) -> std::io::Result<(Vec<u8>, Sniffed<R>)> {
    let mut head = Vec::with_capacity(want.min(1 << 20));
    while head.len() < want {
        let n = r
            .by_ref()
            .take((want - head.len()) as u64)
            .read_to_end(&mut head)?;
        if n == 0 {
            break;
        }
    }
    Ok((head.clone(), Cursor::new(head).chain(r)))
}

/// Read text whose lines carry a log prefix or colours (`parse::prefix`): the
/// prefixes are taken off, the text read, and line numbers given back as the
/// input's.
fn read_unwrapped<'a>(
    bytes: &[u8],
    shape: prefix::Shape,
    arena: &'a Arena,
    opts: StreamOptions,
) -> Result<Parsed<'a>, StreamError> {
    let u = prefix::unwrap(bytes, shape);
    let mut parsed = parse_bytes(&u.text, arena, opts, &|_, _| {})?;
    prefix::remap(&mut parsed, &u.lines);
    Ok(parsed)
}

/// Read a text stream: as it comes, or, when its first lines carry a log prefix or
/// colours, whole and unwrapped.
fn read_text<'a>(
    stream: impl Read + Send,
    arena: &'a Arena,
    opts: StreamOptions,
) -> std::io::Result<Result<Parsed<'a>, StreamError>> {
    let (head, mut stream) = sniff_n(stream, prefix::SNIFF_BYTES)?;
    match prefix::detect(&head) {
        None => Ok(parse_reader(stream, arena, opts)),
        Some(shape) => {
            let mut all = Vec::new();
            stream.read_to_end(&mut all)?;
            Ok(read_unwrapped(&all, shape, arena, opts))
        }
    }
}

/// Read and parse `path` (`-` for standard input) as a stream: gzip undone on the
/// way, binary input refused with advice, and not held whole in memory (but for
/// text with no goroutine boundary in it, a debug=1 profile or a Delve listing,
/// which is read as one piece). The strings of the model go into `arena`. Refuses,
/// with numbers, a dump whose analysis would not fit in memory, as soon as that is
/// clear.
pub fn load<'a>(path: &Path, arena: &'a Arena) -> Result<Loaded<'a>, Error> {
    let name = display_path(path);
    let file = open_input(path, &name)?;
    let budget = available_memory().map(|avail| avail / 10 * 8 / BYTES_PER_GOROUTINE);
    let opts = StreamOptions {
        max_goroutines: budget.unwrap_or(u64::MAX),
        ..StreamOptions::default()
    };
    let result = match file.as_ref().and_then(map) {
        Some(m) => read_mapped(&name, &m, arena, opts)?,
        None => match file {
            Some(f) => {
                widen_pipe(std::os::fd::AsFd::as_fd(&f));
                read_stream(&name, f, arena, opts)?
            }
            None => {
                widen_pipe(std::os::fd::AsFd::as_fd(&std::io::stdin()));
                read_stream(&name, std::io::stdin(), arena, opts)?
            }
        },
    };
    match result {
        Ok(parsed) => Ok(Loaded { name, parsed }),
        Err(StreamError::Io(e)) => Err(Error::io(path, e)),
        Err(StreamError::TooMany(n)) => Err(too_large(name, n)),
    }
}

/// The file to read `path` from: the file itself, or standard input (`-`) when
/// it is redirected from a file and still at its start (read like the file);
/// `None` for standard input otherwise (a pipe, a terminal).
fn open_input(path: &Path, name: &str) -> Result<Option<std::fs::File>, Error> {
    if path == Path::new("-") {
        use std::os::fd::AsFd;
        return Ok(std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .map(std::fs::File::from)
            // at its start: a shell may have read some of it already
            .filter(|f| {
                use std::io::Seek;
                f.metadata().is_ok_and(|m| m.is_file())
                    && (&*f).stream_position().is_ok_and(|p| p == 0)
            }));
    }
    if path.is_dir() {
        return Err(Error::Io {
            path: name.to_string(),
            source: std::io::Error::other("is a directory"),
        });
    }
    Ok(Some(
        std::fs::File::open(path).map_err(|e| Error::io(path, e))?,
    ))
}

/// Parse a mapped file by what its first bytes show: gzip (read as a stream), a
/// binary profile, a dump in log lines, or plain text (`read_mapped_text`).
fn read_mapped<'a>(
    name: &str,
    m: &memmap2::Mmap,
    arena: &'a Arena,
    opts: StreamOptions,
) -> Result<Result<Parsed<'a>, StreamError>, Error> {
    let head = &m[..m.len().min(64)];
    refuse_binary(name, head)?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        read_stream(name, &m[..], arena, opts)?
    } else if pprof::looks_like(head) {
        Ok(read_profile(name, m, arena)?)
    } else if let Some(shape) = prefix::detect(&m[..m.len().min(prefix::SNIFF_BYTES)]) {
        read_unwrapped(m, shape, arena, opts)
    } else {
        read_mapped_text(m, arena, opts)
    })
}

/// Parse a mapped text file on every core, letting the pages read go at once:
/// memory does not grow with the file.
fn read_mapped_text<'a>(
    m: &memmap2::Mmap,
    arena: &'a Arena,
    opts: StreamOptions,
) -> Result<Parsed<'a>, StreamError> {
    let _ = m.advise(memmap2::Advice::Sequential);
    let release = |from: usize, to: usize| {
        if from == to {
            return;
        }
        // SAFETY: `m` is a read-only shared mapping of a file (memmap2's
        // `Mmap::map`): MADV_DONTNEED only drops our page-table entries,
        // and any page read again, by this worker or by one reading the
        // piece next door on the same page, faults back in with the file's
        // same bytes. Nothing is written and no memory is freed under a
        // reader (as long as no other process truncates the file; see `map`).
        unsafe {
            let _ = m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from);
        }
    };
    parse_bytes(m, arena, opts, &release)
}

/// Read and parse bytes already in memory (a fetched response) as `load` reads a
/// stream: gzip undone, binary refused, a log prefix taken off.
pub fn load_bytes<'a>(name: &str, bytes: &[u8], arena: &'a Arena) -> Result<Loaded<'a>, Error> {
    let budget = available_memory().map(|avail| avail / 10 * 8 / BYTES_PER_GOROUTINE);
    let opts = StreamOptions {
        max_goroutines: budget.unwrap_or(u64::MAX),
        ..StreamOptions::default()
    };
    match read_stream(name, bytes, arena, opts)? {
        Ok(parsed) => Ok(Loaded {
            name: name.to_string(),
            parsed,
        }),
        Err(StreamError::Io(e)) => Err(Error::Io {
            path: name.to_string(),
            source: e,
        }),
        Err(StreamError::TooMany(n)) => Err(too_large(name.to_string(), n)),
    }
}

/// Give a pipe being read the largest buffer an unprivileged process may set
/// (`/proc/sys/fs/pipe-max-size`, 1 MiB by default; 64 KiB otherwise): the writer
/// (`cat`, `curl`, `kubectl exec`) then fills it in fewer, larger writes, and each
/// side sleeps and wakes far less often. On anything but a pipe, and off Linux,
/// nothing happens.
fn widen_pipe(fd: std::os::fd::BorrowedFd) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        const SIZE: libc::c_int = 1 << 20;
        // SAFETY: F_SETPIPE_SZ takes an int and touches no memory of ours; the fd is
        // borrowed, so open for the call. It fails harmlessly on a non-pipe (EBADF)
        // or above the system's limit (EPERM), and the read goes on as before.
        unsafe {
            libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, SIZE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

/// A regular, non-empty file, mapped into memory.
fn map(f: &std::fs::File) -> Option<memmap2::Mmap> {
    if !f
        .metadata()
        .ok()
        .is_some_and(|m| m.is_file() && m.len() > 0)
    {
        return None;
    }
    // SAFETY: the map is only read; a file truncated by another process while it is
    // read would fault (the risk every mmap-reading tool takes, ripgrep's included).
    unsafe { memmap2::Mmap::map(f) }.ok()
}

/// Read a stream that is not a mapped file: gzip undone, binary refused.
fn read_stream<'a>(
    name: &str,
    source: impl Read + Send,
    arena: &'a Arena,
    opts: StreamOptions,
) -> Result<Result<Parsed<'a>, StreamError>, Error> {
    let io = |e: std::io::Error| Error::Io {
        path: name.to_string(),
        source: e,
    };
    let (head, mut stream) = sniff(source).map_err(io)?;
    refuse_binary(name, &head)?;
    if pprof::looks_like(&head) {
        let mut all = Vec::new();
        stream.read_to_end(&mut all).map_err(io)?;
        return read_profile(name, &all, arena).map(Ok);
    }
    if !head.starts_with(&[0x1f, 0x8b]) {
        return read_text(stream, arena, opts).map_err(io);
    }
    let gz_err = |e: std::io::Error| Error::Unsupported {
        path: name.to_string(),
        what: format!("gzip stream could not be decompressed: {e}"),
    };
    let (head, mut stream) = sniff(flate2::read::MultiGzDecoder::new(stream)).map_err(gz_err)?;
    if pprof::looks_like(&head) {
        // The binary profile, as /debug/pprof/goroutine serves it: small, read whole.
        let mut all = Vec::new();
        stream.read_to_end(&mut all).map_err(gz_err)?;
        return read_profile(name, &all, arena).map(Ok);
    }
    refuse_binary(name, &head)?;
    match read_text(stream, arena, opts) {
        Err(e) | Ok(Err(StreamError::Io(e))) => Err(gz_err(e)),
        Ok(other) => Ok(other),
    }
}

fn too_large(path: String, goroutines: u64) -> Error {
    let need = goroutines * BYTES_PER_GOROUTINE;
    Error::TooLarge {
        path,
        goroutines,
        need_mb: need.div_ceil(1024 * 1024),
        avail_mb: available_memory().unwrap_or(0) / (1024 * 1024),
    }
}

/// Refuse what cannot be a text dump, with a message saying what it is.
fn refuse_binary(name: &str, bytes: &[u8]) -> Result<(), Error> {
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
    Ok(())
}

/// Decode bytes that look like a binary pprof profile (`pprof::looks_like`).
fn read_profile<'a>(name: &str, bytes: &[u8], arena: &'a Arena) -> Result<Parsed<'a>, Error> {
    pprof::read(bytes, arena).map_err(|e| Error::Unsupported {
        path: name.to_string(),
        what: format!("this looks like a binary pprof profile (protobuf) but could not be read as a goroutine profile: {}", e.0),
    })
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

/// Memory the analysis takes per goroutine: about 470 bytes measured on the
/// 1M-goroutine benchmark dump (peak RSS over goroutines), doubled for deeper stacks
/// and more distinct argument values.
pub const BYTES_PER_GOROUTINE: u64 = 1024;

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

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-written bytes: sniffing the head gives the stream back whole, whether it
    // is shorter or longer than the head and arrives in small reads (a pipe).
    #[test]
    fn sniffed_stream_is_given_back_whole() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(5);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        for len in [0, 3, 64, 200] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (head, mut all) = sniff(Trickle(&data)).unwrap();
            assert_eq!(head, data[..len.min(64)]);
            let mut back = Vec::new();
            all.read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
        }
    }
}
