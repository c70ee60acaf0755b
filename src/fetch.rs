//! A live endpoint as input: `http://host:6060` or any `/debug/pprof/...` URL.
//!
//! Fetches `/debug/pprof/goroutine?debug=2`; then `/debug/pprof/goroutineleak?debug=2`
//! (Go 1.26+; a server without it answers 404 and is left at that), whose
//! `(leaked)` marks are joined to the same goroutines by id; and, when the debug=2
//! text is exactly the runtime's 64 MB cap (`runtime/pprof.writeGoroutineStacks`
//! stops there), `?debug=1` for the complete counts. HTTP through `ureq`
//! (rustls for HTTPS, a proxy from `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` with
//! `NO_PROXY`), no redirect followed (a redirect is most often to a login page),
//! every failure one line.

use std::io::Read;
use std::time::Duration;

use crate::error::Error;

/// `/debug/pprof/goroutine?debug=2` stops at this many bytes.
pub const RUNTIME_CAP: usize = 64 << 20;
/// Bodies longer than this are refused (the cap and then some).
const BODY_LIMIT: u64 = 2 * RUNTIME_CAP as u64;

/// Whether an input name is a URL to fetch.
pub fn is_url(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

/// How to reach the endpoint.
#[derive(Debug, Clone)]
pub struct Options {
    /// For the whole of each request.
    pub timeout: Duration,
    /// `Name: value` pairs sent with every request (`-H`).
    pub headers: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(30),
            headers: Vec::new(),
        }
    }
}

/// `Name: value` as given to `-H`.
pub fn parse_header(s: &str) -> Result<(String, String), Error> {
    match s.split_once(':') {
        Some((n, v))
            if !n.trim().is_empty()
                && n.trim().bytes().all(|b| b.is_ascii_graphic() && b != b':') =>
        {
            Ok((n.trim().to_string(), v.trim().to_string()))
        }
        _ => Err(Error::Usage(format!(
            "-H: `{s}` is not a header; write it as 'Name: value'"
        ))),
    }
}

/// The base of the server (`http://host:6060`) and the pprof path prefix of a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `http://host:6060` plus any path before `/debug/pprof` (a mounted prefix).
    pub base: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, Error> {
        let bad = |why: &str| Error::Usage(format!("{url}: {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not a URL"))?;
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if host.is_empty() {
            return Err(bad("no host in the URL"));
        }
        let prefix = match path.find("/debug/pprof") {
            Some(i) => &path[..i],
            None => path.trim_end_matches('/'),
        };
        Ok(Endpoint {
            base: format!("{}://{host}{prefix}", scheme.to_ascii_lowercase()),
        })
    }

    pub fn url(&self, profile: &str, debug: u8) -> String {
        format!("{}/debug/pprof/{profile}?debug={debug}", self.base)
    }
}

/// An HTTP client for one endpoint.
pub struct Client {
    agent: ureq::Agent,
    headers: Vec<(String, String)>,
}

/// What one fetch brought back.
#[derive(Debug)]
pub enum Got {
    Body(Vec<u8>),
    /// 404: the server does not serve this profile (or pprof at all).
    NotFound(String),
}

impl Client {
    pub fn new(opts: &Options) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(opts.timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("godeadlock/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            agent: config.into(),
            headers: opts.headers.clone(),
        }
    }

    /// GET `url`: the body, or a 404, or a one-line error.
    pub fn get(&self, url: &str) -> Result<Got, Error> {
        let fail = |what: String| Error::Io {
            path: url.to_string(),
            source: std::io::Error::other(what),
        };
        let mut req = self.agent.get(url);
        for (n, v) in &self.headers {
            req = req.header(n.as_str(), v.as_str());
        }
        let resp = req
            .call()
            .map_err(|e| fail(describe(&e, url) + &proxy_note()))?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        resp.into_body()
            .into_with_config()
            .limit(BODY_LIMIT)
            .reader()
            .read_to_end(&mut body)
            .map_err(|e| fail(format!("reading the response: {e}")))?;
        match status {
            200 => Ok(Got::Body(body)),
            301 | 302 | 303 | 307 | 308 => Err(fail(format!(
                "redirected to {} (a login page?): give credentials with -H 'Authorization: ...' or fetch the URL it names",
                location.as_deref().unwrap_or("somewhere unnamed")
            ))),
            401 | 403 => Err(fail(format!(
                "{status} {}: give credentials with -H 'Authorization: ...'",
                first_line(&body)
            ))),
            404 => Ok(Got::NotFound(first_line(&body))),
            _ => Err(fail(format!("HTTP {status}: {}", first_line(&body)))),
        }
    }
}

fn first_line(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    text.lines()
        .next()
        .unwrap_or("")
        .trim()
        .chars()
        .take(120)
        .collect()
}

/// ` (through the proxy in HTTPS_PROXY)` when the environment names one.
fn proxy_note() -> String {
    [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ]
    .iter()
    .find(|v| std::env::var_os(v).is_some_and(|x| !x.is_empty()))
    .map(|v| format!(" (through the proxy in {v}, unless NO_PROXY names the host)"))
    .unwrap_or_default()
}

/// One line for a failed request.
fn describe(e: &ureq::Error, url: &str) -> String {
    use std::io::ErrorKind;
    let https = url.to_ascii_lowercase().starts_with("https://");
    match e {
        ureq::Error::Rustls(_) | ureq::Error::Tls(_) => format!("TLS: {e}"),
        // Before any response: the TLS handshake did not complete.
        ureq::Error::Io(io)
            if https
                && matches!(
                    io.kind(),
                    ErrorKind::InvalidData | ErrorKind::UnexpectedEof | ErrorKind::Other
                ) =>
        {
            format!("TLS handshake failed ({io}): is the server speaking plain HTTP? try http://")
        }
        ureq::Error::Io(io) if io.kind() == ErrorKind::ConnectionRefused => {
            "connection refused: is the program running, and serving on that port?".to_string()
        }
        ureq::Error::Io(io) if io.kind() == ErrorKind::TimedOut => "timed out".to_string(),
        ureq::Error::Timeout(t) => format!("timed out ({t}): raise --timeout"),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        other => other.to_string().replace('\n', " "),
    }
}

/// One capture of the endpoint: the debug=2 text with the leak profile's marks
/// joined, and what else was learnt.
#[derive(Debug)]
pub struct Capture {
    /// `/debug/pprof/goroutine?debug=2` as served.
    pub goroutines: Vec<u8>,
    /// `/debug/pprof/goroutineleak?debug=2`, where the server has it.
    pub leak: Option<Vec<u8>>,
    /// `?debug=1`, fetched when the debug=2 text hit the runtime's cap.
    pub counts: Option<Vec<u8>>,
}

impl Capture {
    pub fn capped(&self) -> bool {
        self.goroutines.len() >= RUNTIME_CAP
    }
}

/// Fetch the goroutine dump, and with `leak` the leak profile after it (it must
/// come after: the runtime's leak check marks every later dump's headers).
pub fn capture(client: &Client, ep: &Endpoint, leak: bool) -> Result<Capture, Error> {
    let url = ep.url("goroutine", 2);
    let goroutines = match client.get(&url)? {
        Got::Body(b) => b,
        Got::NotFound(line) => {
            return Err(Error::Io {
                path: url,
                source: std::io::Error::other(format!(
                    "404 `{line}`: the server does not serve /debug/pprof (import _ \"net/http/pprof\"), or the path is wrong"
                )),
            })
        }
    };
    let mut c = Capture {
        goroutines,
        leak: None,
        counts: None,
    };
    if c.capped() {
        if let Got::Body(b) = client.get(&ep.url("goroutine", 1))? {
            c.counts = Some(b);
        }
    }
    if leak {
        // Go before 1.26 answers 404 (`Unknown profile`): no leak profile, no error.
        if let Got::Body(b) = client.get(&ep.url("goroutineleak", 2))? {
            c.leak = Some(b);
        }
    }
    Ok(c)
}

/// Mark `(leaked)` the goroutines of `dump` that the leak profile marks, by id,
/// where the profile shows them at the same place. How many were marked.
pub fn join_leaked(dump: &mut crate::model::Dump, leak: &crate::model::Dump) -> usize {
    use crate::analyze::persist::same_place;
    let marked: std::collections::HashMap<u64, &crate::model::Goroutine> = leak
        .goroutines
        .iter()
        .filter(|g| g.leaked)
        .filter_map(|g| g.id.map(|id| (id, g)))
        .collect();
    let mut n = 0;
    for g in dump.goroutines.iter_mut() {
        if let Some(l) = g.id.and_then(|id| marked.get(&id)) {
            if same_place(g, l) && !g.leaked {
                g.leaked = true;
                n += 1;
            }
        }
    }
    n
}
