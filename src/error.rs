//! Typed errors of the library. `main` maps each to one exit code.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input could not be read at all (missing, a directory, permissions).
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The input was read but holds no goroutine dump.
    #[error("no goroutine dump found in {path}{hint}")]
    NoDump { path: String, hint: String },
    /// The input is a kind of file godeadlock cannot read, with advice.
    #[error("{path}: {what}")]
    Unsupported { path: String, what: String },
    /// The dump would need more memory than the machine has.
    #[error("{path}: about {goroutines} goroutines would need about {need_mb} MB to analyse, and only {avail_mb} MB are available; analyse a smaller capture (a ?debug=2 capture stops at 64 MB) or set GODEADLOCK_MEMORY_LIMIT_MB")]
    TooLarge {
        path: String,
        goroutines: u64,
        need_mb: u64,
        avail_mb: u64,
    },
    /// A goroutine id asked for is not in the dump.
    #[error("{path}: no goroutine {id} in the dump")]
    NoSuchGoroutine { path: String, id: u64 },
    /// A bad command-line value (regex, duration).
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[source] std::io::Error),
}

impl Error {
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: display_path(path),
            source,
        }
    }
}

/// How a path is named in messages: `-` is standard input.
pub fn display_path(path: &std::path::Path) -> String {
    if path == std::path::Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}
