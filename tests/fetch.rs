//! A URL as input, `watch` and its metrics (scraped by a real Prometheus where
//! Debian's package is installed), against a small HTTP server in the test that serves recorded
//! real captures (`fixtures/recorded`: snapshots of one fixture process, its leak
//! profile on Go 1.27, and the Go server's own 404 response). The redirect, the
//! auth refusal and the silent server are hand-written HTTP responses (bad-input
//! cases), labelled so.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

fn rec(scenario: &str, go: &str, file: &str) -> PathBuf {
    common::root()
        .join("fixtures/recorded")
        .join(scenario)
        .join(go)
        .join(file)
}

/// What the test server does with a path.
#[derive(Clone)]
struct Site {
    scenario: &'static str,
    go: &'static str,
    /// Requests need `Authorization: Bearer let-me-in`.
    auth: bool,
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn respond(site: &Site, served: &AtomicUsize, path: &str, headers: &[String]) -> Option<Vec<u8>> {
    let file = |f: &str| std::fs::read(rec(site.scenario, site.go, f)).unwrap();
    if site.scenario == "capped" {
        return Some(match path {
            "/debug/pprof/goroutine?debug=2" => {
                use std::io::Read;
                let mut text = Vec::new();
                flate2::read::GzDecoder::new(&file("goroutine-capped.txt.gz")[..])
                    .read_to_end(&mut text)
                    .unwrap();
                ok(&text)
            }
            "/debug/pprof/goroutine?debug=1" => ok(&file("debug1.txt")),
            // Hand-written: Go's 404 page.
            _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 19\r\nConnection: close\r\n\r\n404 page not found\n".to_vec(),
        });
    }
    if site.auth
        && !headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("authorization: Bearer let-me-in"))
    {
        // Hand-written: what an auth proxy answers.
        return Some(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 13\r\nConnection: close\r\n\r\nUnauthorized\n".to_vec());
    }
    match path {
        "/debug/pprof/goroutine?debug=2" => {
            // The recorded snapshots in turn, the last again once they run out.
            let n = served.fetch_add(1, Ordering::SeqCst).min(2) + 1;
            Some(ok(&file(&format!("goroutine-{n}.txt"))))
        }
        "/debug/pprof/goroutine?debug=1" => Some(ok(&file("debug1-3.txt"))),
        "/debug/pprof/goroutineleak?debug=2" if site.go == "go1.27" => {
            Some(ok(&file("goroutineleak-3.txt")))
        }
        // Hand-written: a login redirect.
        p if p.starts_with("/sso/") => Some(
            b"HTTP/1.1 302 Found\r\nLocation: https://login.example.invalid/?next=pprof\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
        ),
        // Never answers: the client's timeout ends it.
        p if p.starts_with("/silent/") => None,
        _ => Some(file("404.http")),
    }
}

/// Serve `site` on a loopback port, for at most 40 connections; the port.
fn serve(site: Site) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(40) {
            let Ok(stream) = stream else { continue };
            let (site, served) = (site.clone(), served.clone());
            std::thread::spawn(move || handle(stream, &site, &served));
        }
    });
    port
}

fn handle(mut stream: TcpStream, site: &Site, served: &AtomicUsize) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        headers.push(h.trim().to_string());
    }
    match respond(site, served, &path, &headers) {
        Some(r) => {
            let _ = stream.write_all(&r);
        }
        None => std::thread::sleep(Duration::from_secs(5)),
    }
}

fn godeadlock(args: &[&str]) -> (i32, String, String) {
    let out = Command::cargo_bin("godeadlock")
        .unwrap()
        .args(args)
        .env_remove("ALL_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn site(scenario: &'static str, go: &'static str) -> Site {
    Site {
        scenario,
        go,
        auth: false,
    }
}

/// The base URL and any /debug/pprof/... URL read the same endpoint.
#[test]
fn a_url_is_fetched_and_analysed() {
    let port = serve(site("keyed-limiter", "go1.21"));
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{port}/debug/pprof/"),
        format!("http://127.0.0.1:{port}/debug/pprof/goroutine?debug=1"),
    ] {
        let (code, out, err) = godeadlock(&["analyze", "-f", "json", &url]);
        assert_eq!(code, 1, "{url}: {err}");
        let doc: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["verdict"], "deadlock");
        assert_eq!(doc["source"], url.as_str());
    }
}

/// On Go 1.27 the leak profile is fetched after the dump and its `(leaked)`
/// marks joined to the same goroutines: the runtime's proof carries the leak.
#[test]
fn leak_marks_are_joined_by_id() {
    let port = serve(site("chan-leak", "go1.27"));
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = godeadlock(&["analyze", "-f", "json", "--fail-on", "leak", &url]);
    assert_eq!(code, 1, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    let findings = doc["snapshots"][0]["findings"].as_array().unwrap();
    let leak = findings
        .iter()
        .find(|f| f["kind"] == "leak")
        .expect("a leak finding");
    assert_eq!(leak["confidence"], 1.0, "{leak}");
    // The dump served had no mark: they came from the leak profile.
    let dump = std::fs::read_to_string(rec("chan-leak", "go1.27", "goroutine-1.txt")).unwrap();
    assert!(!dump.contains("(leaked)"));
}

/// `--snapshots 3 --interval 200ms`: three captures analysed together, the
/// deadlock's goroutines seen stuck over the time they were taken.
#[test]
fn several_snapshots_of_a_url() {
    let port = serve(site("lock-order", "go1.27"));
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = godeadlock(&[
        "analyze",
        "-f",
        "json",
        "--snapshots",
        "3",
        "--interval",
        "200ms",
        &url,
    ]);
    assert_eq!(code, 1, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["timeline"]["snapshots"], 3);
    assert!(doc["timeline"]["span_seconds"].as_f64().unwrap() >= 0.39);
    assert!(doc["timeline"]["stuck"].as_u64().unwrap() > 0);
    assert_eq!(doc["verdict"], "deadlock");
}

/// Each failure is one line on standard error and exit 2.
#[test]
fn failures_are_one_line() {
    let port = serve(site("cond-idle", "go1.21"));
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let cases = [
        (format!("http://127.0.0.1:{closed}"), "connection refused"),
        (
            format!("http://127.0.0.1:{port}/not/pprof/"),
            "does not serve /debug/pprof",
        ),
        (
            format!("http://127.0.0.1:{port}/sso/debug/pprof/"),
            "redirected to https://login.example.invalid",
        ),
        (format!("http://127.0.0.1:{port}/silent/"), "timed out"),
        (format!("https://127.0.0.1:{port}"), "TLS"),
    ];
    for (url, want) in cases {
        let (code, _, err) = godeadlock(&["analyze", "--timeout", "1s", &url]);
        assert_eq!(code, 2, "{url}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{url}: {err}");
        assert!(err.contains(want), "{url}: want `{want}` in {err}");
    }
}

/// `-H` sends a header with every request; without it an auth refusal says to.
#[test]
fn headers_are_sent() {
    let port = serve(Site {
        auth: true,
        ..site("cond-idle", "go1.27")
    });
    let url = format!("http://127.0.0.1:{port}");
    let (code, _, err) = godeadlock(&["analyze", &url]);
    assert_eq!(code, 2);
    assert!(err.contains("401") && err.contains("-H"), "{err}");
    let (code, out, err) = godeadlock(&["analyze", "-H", "Authorization: Bearer let-me-in", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("OK"), "{out}");
    let (code, _, err) = godeadlock(&["analyze", "-H", "no colon", &url]);
    assert_eq!(code, 2);
    assert!(err.contains("Name: value"), "{err}");
}

fn keyed() -> String {
    format!(
        "http://127.0.0.1:{}",
        serve(site("keyed-limiter", "go1.27"))
    )
}

/// Not on a terminal: one plain line per poll, then the final analysis of the
/// snapshots; `--count` stops it with the usual exit code.
#[test]
fn watch_counts_and_stops() {
    let url = keyed();
    let (code, out, err) = godeadlock(&["watch", "--interval", "100ms", "--count", "3", &url]);
    assert_eq!(code, 1, "{err}");
    let polls: Vec<&str> = out.lines().filter(|l| l.contains(" · snapshot ")).collect();
    assert_eq!(polls.len(), 3, "{out}");
    assert!(!out.contains("\x1b[2J"), "no redraw off a terminal");
    assert!(
        polls[2].contains("DEADLOCK") && polls[2].contains("stuck"),
        "{out}"
    );
    assert!(out.contains("3 snapshots of one process"), "{out}");

    let healthy = format!("http://127.0.0.1:{}", serve(site("cond-idle", "go1.27")));
    let (code, out, _) = godeadlock(&[
        "watch",
        "--interval",
        "100ms",
        "--count",
        "2",
        "--until",
        "leak",
        &healthy,
    ]);
    assert_eq!(code, 0, "{out}");
}

/// `--until deadlock` stops at the first snapshot that has one, exit 1.
#[test]
fn watch_until_met() {
    let url = keyed();
    let (code, out, err) =
        godeadlock(&["watch", "--interval", "100ms", "--until", "deadlock", &url]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains(" · snapshot ")).count(),
        1,
        "{out}"
    );
}

/// Ctrl-C (SIGINT) stops the watch and prints the final analysis.
#[test]
fn watch_ctrl_c_prints_the_analysis() {
    use std::io::Read;
    let url = keyed();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("godeadlock"))
        .args(["watch", "--interval", "200ms", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once two polls are out, however slow the machine.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut text = String::new();
    let mut polls = 0;
    while polls < 2 {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the watch ended early: {text}"
        );
        polls += usize::from(line.contains(" · snapshot "));
        text.push_str(&line);
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    stdout.read_to_string(&mut text).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("snapshots of one process") && text.contains("DEADLOCK"),
        "{text}"
    );
}

/// A free loopback port.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::Read;
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut r = String::new();
    s.read_to_string(&mut r).ok()?;
    Some(r)
}

/// A watch in the background serving its metrics; stopped when dropped.
struct Watching(std::process::Child);

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn watch_with_metrics(url: &str, port: u16) -> Watching {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("godeadlock"))
        .args([
            "watch",
            "--interval",
            "300ms",
            "--count",
            "200",
            "--metrics-addr",
        ])
        .arg(format!("127.0.0.1:{port}"))
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Watching(child)
}

/// `--metrics-addr` serves the current findings as OpenMetrics.
#[test]
fn watch_serves_metrics() {
    let url = keyed();
    let port = free_port();
    let _w = watch_with_metrics(&url, port);
    let mut body = String::new();
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(200));
        if let Some(r) = http_get(port, "/metrics") {
            if r.contains("godeadlock_goroutines_stuck") {
                body = r;
                break;
            }
        }
    }
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("application/openmetrics-text"), "{body}");
    assert!(
        body.contains("godeadlock_findings{kind=\"deadlock\"} 1"),
        "{body}"
    );
    assert!(
        body.contains("godeadlock_verdict{verdict=\"deadlock\"} 1"),
        "{body}"
    );
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
}

/// `analyze --format openmetrics` passes promtool's checks, where Debian's
/// prometheus package is installed.
#[test]
fn openmetrics_passes_promtool() {
    let Ok(promtool) = which("promtool") else {
        eprintln!("skipped: promtool is not installed (apt-get install prometheus)");
        return;
    };
    let file = common::root().join("fixtures/dumps/keyed-limiter/go1.27/debug2.txt");
    let (code, out, _) =
        godeadlock(&["analyze", "--format", "openmetrics", file.to_str().unwrap()]);
    assert_eq!(code, 1);
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(out.as_bytes())
        .unwrap();
    let r = child.wait_with_output().unwrap();
    assert!(
        r.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// A real Prometheus (Debian's package), started on loopback, scrapes a watch's
/// metrics; its HTTP API then answers with the deadlock. Skipped, saying so, when
/// the binary is absent.
#[test]
fn prometheus_scrapes_the_watch() {
    let Ok(prometheus) = which("prometheus") else {
        eprintln!(
            "skipped: prometheus is not installed (apt-get install prometheus; .ci/run does)"
        );
        return;
    };
    let url = keyed();
    let metrics_port = free_port();
    let _w = watch_with_metrics(&url, metrics_port);
    let dir = std::env::temp_dir().join(format!("godeadlock-prom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: godeadlock\n    static_configs:\n      - targets: ['127.0.0.1:{metrics_port}']\n"
        ),
    )
    .unwrap();
    let prom_port = free_port();
    let prom = std::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _p = Watching(prom);
    let query = "/api/v1/query?query=godeadlock_findings%7Bkind%3D%22deadlock%22%7D";
    let mut answer = String::new();
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(500));
        if let Some(r) = http_get(prom_port, query) {
            if r.contains("\"result\":[{") {
                answer = r;
                break;
            }
        }
    }
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    // The body may be chunked: the JSON object is between the first `{` and the last `}`.
    let json = &body[body.find('{').unwrap_or(0)..=body.rfind('}').unwrap_or(0)];
    let v: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {answer}"));
    let result = &v["data"]["result"][0];
    assert_eq!(result["metric"]["job"], "godeadlock", "{v}");
    assert_eq!(result["value"][1], "1", "{v}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A text at the runtime's 64 MB cap (programs/capped, 40000 goroutines): said on
/// standard error, and ?debug=1's complete counts are analysed too.
#[test]
fn capped_text_fetches_the_counts() {
    let port = serve(site("capped", "go1.27"));
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = godeadlock(&["analyze", "-f", "json", &url]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("64 MB cap") && err.contains("counts 40004"),
        "{err}"
    );
    let doc: Value = serde_json::from_str(&out).unwrap();
    let snaps = doc["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert!(snaps[0]["goroutines"].as_u64().unwrap() < 40004);
    assert_eq!(snaps[1]["goroutines"], 40004);
    assert_eq!(snaps[1]["format"], "pprof-debug1");
    assert_eq!(doc["verdict"], "ok");
}
