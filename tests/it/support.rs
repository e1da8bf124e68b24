//! Test support: a scripted HTTP feed server and a real SMTP server
//! (mailin-embedded), both on 127.0.0.1 with a port the OS picks, and a
//! config writer. Nothing here talks to any address but loopback.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One scripted response.
#[derive(Clone, Debug)]
pub struct Route {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// When set, the response carries this ETag and a matching
    /// `If-None-Match` gets a 304.
    pub etag: Option<String>,
    /// `Content-Encoding` of `body` (already encoded).
    pub encoding: Option<&'static str>,
    /// Any other response headers.
    pub headers: Vec<(&'static str, String)>,
    /// Misbehave instead of serving `body`.
    pub hostile: Option<Hostile>,
    /// Wait this long before answering.
    pub delay: Option<std::time::Duration>,
}

/// Servers that try to hold or flood a client (bounded, so that they stop
/// by themselves).
#[derive(Clone, Copy, Debug)]
pub enum Hostile {
    /// Headers, then one byte every 100 ms (for at most a minute).
    SlowDrip,
    /// A chunked body that never ends (stops after 1 GiB).
    Endless,
}

impl Route {
    pub fn feed(body: impl Into<Vec<u8>>) -> Self {
        Route {
            status: 200,
            body: body.into(),
            content_type: "application/rss+xml",
            etag: None,
            encoding: None,
            headers: Vec::new(),
            hostile: None,
            delay: None,
        }
    }
    /// `body` gzip-compressed, served with `Content-Encoding: gzip`.
    pub fn gzip(body: &[u8]) -> Self {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(body).expect("gzip");
        Route {
            encoding: Some("gzip"),
            ..Route::feed(enc.finish().expect("gzip"))
        }
    }
    /// `body` zlib-compressed, served with `Content-Encoding: deflate`.
    pub fn deflate(body: &[u8]) -> Self {
        use std::io::Write;
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(body).expect("deflate");
        Route {
            encoding: Some("deflate"),
            ..Route::feed(enc.finish().expect("deflate"))
        }
    }

    /// `body` brotli-compressed, served with `Content-Encoding: br`.
    pub fn brotli(body: &[u8]) -> Self {
        let mut out = Vec::new();
        // Fast levels: the tests compress bombs of 128 MiB.
        let params = brotli::enc::BrotliEncoderParams {
            quality: 1,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut std::io::Cursor::new(body), &mut out, &params).expect("brotli");
        Route {
            encoding: Some("br"),
            ..Route::feed(out)
        }
    }
    pub fn status(status: u16, body: &str) -> Self {
        Route {
            status,
            body: body.as_bytes().to_vec(),
            content_type: "text/plain",
            etag: None,
            encoding: None,
            headers: Vec::new(),
            hostile: None,
            delay: None,
        }
    }
    pub fn hostile(kind: Hostile) -> Self {
        Route {
            hostile: Some(kind),
            ..Route::feed("")
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// A redirect to `to`, with `status` (301, 302, 307, 308).
    pub fn redirect(status: u16, to: &str) -> Self {
        Route::status(status, "").with_header("Location", to)
    }

    pub fn after(mut self, delay: std::time::Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub fn with_etag(mut self, etag: &str) -> Self {
        self.etag = Some(etag.to_string());
        self
    }
}

/// What the server saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
}

#[derive(Clone, Default)]
pub struct FeedServer {
    pub addr: Option<SocketAddr>,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FeedServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind feed server");
        let mut server = FeedServer {
            addr: listener.local_addr().ok(),
            ..Default::default()
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move { s.serve(stream).await });
            }
        });
        server.addr = server.addr.or(None);
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr.expect("server address"))
    }

    /// `[poll] allow_internal` for this server: URLs found in feed data may
    /// lead to it, as they may to a server on the public internet, which
    /// it stands in for (the guard refuses loopback otherwise).
    pub fn allowed(&self) -> String {
        format!(
            "allow_internal = [\"{}\"]\n",
            self.addr.expect("server address")
        )
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    /// `[[feeds]]` for each name, served at `/NAME.xml`.
    pub fn feeds_toml(&self, names: &[&str]) -> String {
        names
            .iter()
            .map(|n| {
                format!(
                    "[[feeds]]\nname = \"{n}\"\nurl = \"{}\"\n",
                    self.url(&format!("/{n}.xml"))
                )
            })
            .collect()
    }

    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    async fn serve(&self, mut stream: tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head = String::from_utf8_lossy(&buf).to_string();
        let mut lines = head.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_string();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let route = self
            .routes
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or_else(|| Route::status(404, "not found"));
        let if_none_match = headers
            .iter()
            .find(|(k, _)| k == "if-none-match")
            .map(|(_, v)| v.clone());
        let not_modified = route.etag.is_some() && route.etag == if_none_match;
        let status = if not_modified { 304 } else { route.status };
        self.seen.lock().unwrap().push(Seen {
            path: path.clone(),
            headers,
            status,
        });
        if let Some(delay) = route.delay {
            tokio::time::sleep(delay).await;
        }
        match route.hostile {
            Some(Hostile::SlowDrip) => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n<rss")
                    .await;
                for _ in 0..600 {
                    if stream.write_all(b" ").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                return;
            }
            Some(Hostile::Endless) => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
                for _ in 0..(1 << 14) {
                    if stream.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
                return;
            }
            None => {}
        }
        let body: &[u8] = if not_modified { b"" } else { &route.body };
        let mut resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            route.content_type,
            body.len()
        );
        if let Some(etag) = &route.etag {
            resp.push_str(&format!("ETag: {etag}\r\n"));
        }
        for (name, value) in &route.headers {
            resp.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(encoding) = route.encoding {
            resp.push_str(&format!("Content-Encoding: {encoding}\r\n"));
        }
        resp.push_str("\r\n");
        let _ = stream.write_all(resp.as_bytes()).await;
        let _ = stream.write_all(body).await;
        let _ = stream.shutdown().await;
    }
}

/// One message the SMTP server accepted.
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// (authentication id, password) when the client authenticated.
    pub auth: Option<(String, String)>,
}

impl Received {
    /// The message with quoted-printable soft breaks and escapes undone, for
    /// assertions on its text.
    pub fn decoded(&self) -> String {
        decode_quoted_printable(&self.data)
    }
}

/// Text with its line breaks and indents as single spaces: for assertions
/// on wrapped text.
pub fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A message with quoted-printable soft breaks and escapes undone, for
/// assertions on its text.
pub fn decode_quoted_printable(message: &str) -> String {
    let joined = message.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Clone, Default)]
struct Handler {
    current: Received,
    inbox: Arc<Mutex<Vec<Received>>>,
    credentials: Option<(String, String)>,
    authed: Option<(String, String)>,
    /// Time taken, after the message is stored, before answering DATA: a
    /// client killed in this window has been delivered but does not know it.
    slow: Option<std::time::Duration>,
}

impl mailin_embedded::Handler for Handler {
    /// Mailboxes whose name starts with "bounce" do not exist (550).
    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        if to.trim_start_matches('<').starts_with("bounce") {
            mailin_embedded::response::NO_MAILBOX
        } else {
            mailin_embedded::response::OK
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        from: &str,
        _is8bit: bool,
        to: &[String],
    ) -> mailin_embedded::Response {
        if self.credentials.is_some() && self.authed.is_none() {
            return mailin_embedded::response::AUTHENTICATION_REQUIRED;
        }
        self.current = Received {
            from: from.to_string(),
            to: to.to_vec(),
            data: String::new(),
            auth: self.authed.clone(),
        };
        mailin_embedded::response::OK
    }
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }
    fn data_end(&mut self) -> mailin_embedded::Response {
        self.inbox
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        if let Some(d) = self.slow {
            std::thread::sleep(d);
        }
        mailin_embedded::response::OK
    }
    fn auth_plain(
        &mut self,
        _authz: &str,
        authn: &str,
        password: &str,
    ) -> mailin_embedded::Response {
        match &self.credentials {
            Some((u, p)) if u == authn && p == password => {
                self.authed = Some((authn.to_string(), password.to_string()));
                mailin_embedded::response::AUTH_OK
            }
            _ => mailin_embedded::response::INVALID_CREDENTIALS,
        }
    }
}

/// A real SMTP server on loopback, running on its own threads.
pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
}

pub fn tls_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
}

impl SmtpServer {
    /// Plain SMTP, no TLS, no AUTH.
    pub fn start() -> Self {
        Self::start_on(
            StdListener::bind("127.0.0.1:0").expect("bind smtp"),
            false,
            None,
        )
    }

    /// STARTTLS with the test CA's certificate and AUTH PLAIN required.
    pub fn start_tls_auth(user: &str, password: &str) -> Self {
        Self::start_on(
            StdListener::bind("127.0.0.1:0").expect("bind smtp"),
            true,
            Some((user.to_string(), password.to_string())),
        )
    }

    /// Plain SMTP that stores each message, then waits `delay` before
    /// answering the end of DATA.
    pub fn start_slow(delay: std::time::Duration) -> Self {
        Self::start_with(
            StdListener::bind("127.0.0.1:0").expect("bind smtp"),
            false,
            None,
            Some(delay),
        )
    }

    pub fn start_on(
        listener: StdListener,
        tls: bool,
        credentials: Option<(String, String)>,
    ) -> Self {
        Self::start_with(listener, tls, credentials, None)
    }

    fn start_with(
        listener: StdListener,
        tls: bool,
        credentials: Option<(String, String)>,
        slow: Option<std::time::Duration>,
    ) -> Self {
        let port = listener.local_addr().map(|a| a.port()).expect("smtp port");
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let handler = Handler {
            inbox: Arc::clone(&inbox),
            credentials: credentials.clone(),
            slow,
            ..Default::default()
        };
        let mut server = mailin_embedded::Server::new(handler);
        server.with_name("localhost").with_tcp_listener(listener);
        if tls {
            let dir = tls_dir();
            server
                .with_ssl(mailin_embedded::SslConfig::Trusted {
                    cert_path: dir.join("server.pem").display().to_string(),
                    key_path: dir.join("server.key").display().to_string(),
                    chain_path: dir.join("ca.pem").display().to_string(),
                })
                .expect("smtp tls");
        }
        if credentials.is_some() {
            server.with_auth(mailin_embedded::AuthMechanism::Plain);
        }
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, inbox }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().clone()
    }
}

/// A port on 127.0.0.1 where nothing listens (for "server down").
pub fn closed_port() -> u16 {
    let l = StdListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// The sample feed shipped with the example config.
pub fn sample_feed_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/sample-feed.xml")
}

pub fn sample_feed() -> Vec<u8> {
    std::fs::read(sample_feed_path()).expect("sample feed")
}

/// A temporary state dir and config file.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Setup {
    /// `email` is the body of the [email] section after from/to;
    /// `rest` holds [[feeds]], [[rules]] and anything else.
    pub fn new(email: &str, rest: &str) -> Self {
        Self::with_poll("", email, rest)
    }

    /// As `new`, with extra lines for the [poll] section.
    pub fn with_poll(poll: &str, email: &str, rest: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("feedwatch.toml");
        // A short default timeout, unless the test sets its own.
        let timeout = if poll.contains("timeout") {
            ""
        } else {
            "timeout = \"10s\"\n"
        };
        // Every item alerts on a first fetch, unless the test says otherwise.
        let backfill = if poll.contains("backfill") {
            ""
        } else {
            "backfill = \"all\"\n"
        };
        let text = format!(
            "state_dir = \"state\"\ntimezone = \"Europe/Kyiv\"\n[poll]\n{backfill}{timeout}{poll}\n\
             [email]\nfrom = \"feedwatch <fw@example.org>\"\nto = [\"analyst@example.org\"]\n{email}\n{rest}\n"
        );
        std::fs::write(&path, text).expect("write config");
        Setup { dir, path }
    }

    pub fn config(&self) -> feedwatch::config::Config {
        feedwatch::config::load(&self.path).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn context(&self) -> feedwatch::pipeline::Context {
        self.context_with(Default::default())
    }

    /// A context that stops when `shutdown` is cancelled.
    pub fn context_with(
        &self,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> feedwatch::pipeline::Context {
        let config = self.config();
        let store = feedwatch::store::Store::open_dir(&config.state_dir).expect("store");
        let db = feedwatch::store::Db::new(store);
        feedwatch::pipeline::Context::new(Arc::new(config), db, shutdown).expect("context")
    }

    pub fn store(&self) -> feedwatch::store::Store {
        feedwatch::store::Store::open_dir(&self.dir.path().join("state")).expect("store")
    }
}

/// Runs the feedwatch binary with `config`, with none of the environment
/// that would make its answer depend on the machine (its config and state
/// variables, a password, systemd's credentials, `RUST_LOG`, `NO_COLOR`),
/// and then `env`.
pub fn feedwatch_with(config: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
    c.arg("--config").arg(config).args(args);
    for var in [
        "FEEDWATCH_CONFIG",
        "RUST_LOG",
        "STATE_DIRECTORY",
        "FEEDWATCH_SMTP_PASSWORD",
        "CREDENTIALS_DIRECTORY",
        "NO_COLOR",
    ] {
        c.env_remove(var);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run feedwatch")
}

/// A process's output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub const SEED_TITLE: &str = "Ukraine confirms talks with Tehran on Russia's use of Iranian drones";

pub fn rule_iran_drones_ukraine() -> &'static str {
    "[[rules]]\nname = \"iran-drones-ukraine\"\nquery = 'iran* AND drone* AND ukrain*'\n"
}

/// An SMTP server that greets, answers EHLO, and then never answers again:
/// the stall that held `digest` for minutes. Counts its connections.
pub struct StallingSmtp {
    pub port: u16,
    connections: Arc<std::sync::atomic::AtomicUsize>,
}

impl StallingSmtp {
    pub fn start() -> Self {
        use std::io::{BufRead, Write};
        let listener = StdListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = Arc::clone(&connections);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(&stream);
                    let mut w = &stream;
                    let _ = w.write_all(b"220 stalling ESMTP\r\n");
                    let mut line = String::new();
                    let _ = reader.read_line(&mut line);
                    let _ = w.write_all(b"250 stalling\r\n");
                    // Read whatever comes (MAIL FROM…) and never answer,
                    // until the client goes away.
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                });
            }
        });
        StallingSmtp { port, connections }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Waits (bounded) until `cond` holds; a test's way to wait for the daemon,
/// never a fixed sleep.
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..600 {
        if cond() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

/// A plain-text SMTP server that offers AUTH PLAIN and no STARTTLS (a
/// relay on this host, or a server someone can listen to): it records the
/// passwords it is sent and the messages it accepts.
pub struct PlainAuthSmtp {
    pub port: u16,
    passwords: Arc<Mutex<Vec<String>>>,
    messages: Arc<Mutex<Vec<String>>>,
}

impl PlainAuthSmtp {
    pub fn start() -> Self {
        use std::io::{BufRead, Write};
        let listener = StdListener::bind("127.0.0.1:0").expect("bind smtp");
        let port = listener.local_addr().expect("addr").port();
        let passwords = Arc::new(Mutex::new(Vec::new()));
        let messages = Arc::new(Mutex::new(Vec::new()));
        let (pw, msgs) = (Arc::clone(&passwords), Arc::clone(&messages));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (pw, msgs) = (Arc::clone(&pw), Arc::clone(&msgs));
                std::thread::spawn(move || {
                    let mut reader = std::io::BufReader::new(&stream);
                    let mut w = &stream;
                    let _ = w.write_all(b"220 plain ESMTP\r\n");
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let verb = line
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_ascii_uppercase();
                        let reply: &[u8] = match verb.as_str() {
                            "EHLO" | "HELO" => b"250-plain\r\n250 AUTH PLAIN\r\n",
                            "AUTH" => {
                                use base64_decode as decode;
                                let blob = line.split_whitespace().nth(2).unwrap_or("").to_string();
                                let plain = decode(&blob);
                                let password = plain.rsplit('\0').next().unwrap_or("").to_string();
                                pw.lock().unwrap().push(password);
                                b"235 ok\r\n"
                            }
                            "DATA" => {
                                let _ = w.write_all(b"354 go\r\n");
                                let mut data = String::new();
                                loop {
                                    line.clear();
                                    if reader.read_line(&mut line).unwrap_or(0) == 0
                                        || line.trim_end() == "."
                                    {
                                        break;
                                    }
                                    data.push_str(&line);
                                }
                                msgs.lock().unwrap().push(data);
                                b"250 stored\r\n"
                            }
                            "QUIT" => {
                                let _ = w.write_all(b"221 bye\r\n");
                                return;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = w.write_all(reply);
                    }
                });
            }
        });
        PlainAuthSmtp {
            port,
            passwords,
            messages,
        }
    }

    pub fn passwords(&self) -> Vec<String> {
        self.passwords.lock().unwrap().clone()
    }

    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

/// Standard base64 (the AUTH PLAIN blob), decoded to text.
fn base64_decode(s: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let Some(v) = ALPHABET.iter().position(|a| *a == c) else {
            continue;
        };
        bits = (bits << 6) | v as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Stores `items` as one fetch of `feed` (200, no validators, no backfill
/// limit), matching them with `rules`.
pub fn store_fetch(
    store: &mut feedwatch::store::Store,
    feed: &str,
    items: &[feedwatch::model::Item],
    rules: &[feedwatch::model::CompiledRule],
) -> feedwatch::model::IngestReport {
    let batch =
        feedwatch::store::Batch::new(feed, "https://news.example/feed", items, chrono::Utc::now());
    store.ingest(&batch, rules).unwrap()
}

/// A news site's article page (`tests/fixtures/articles/news.html`).
pub fn article_page() -> Route {
    let mut page = Route::feed(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/articles/news.html"
        ))
        .unwrap(),
    );
    page.content_type = "text/html; charset=utf-8";
    page
}

/// Starts the daemon (`daemon::serve_with`) on `setup`'s config with
/// `options`; returns its shutdown, the sender that asks it to reload, and
/// its task.
pub fn serve_daemon(
    setup: &Setup,
    options: feedwatch::daemon::Options,
) -> (
    tokio_util::sync::CancellationToken,
    tokio::sync::mpsc::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
) {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let (reload_tx, reload) = tokio::sync::mpsc::channel(1);
    let source = feedwatch::pipeline::ConfigSource {
        path: setup.path.clone(),
        state_dir: None,
    };
    let config = source.load().expect("config");
    let task = tokio::spawn(feedwatch::daemon::serve_with(
        source,
        config,
        shutdown.clone(),
        reload,
        options,
    ));
    (shutdown, reload_tx, task)
}

/// The daemon as a child process, its stderr collected by a thread.
pub struct Daemon {
    pub child: std::process::Child,
    /// Its stderr so far, and a signal for each line that arrives.
    log: std::sync::Arc<(std::sync::Mutex<String>, std::sync::Condvar)>,
    reader: std::thread::JoinHandle<()>,
}

impl Daemon {
    pub fn start(config: &Path) -> Self {
        Self::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_feedwatch"));
        cmd.env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .arg("--config")
            .arg(config)
            .arg("run")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the daemon");
        let log = std::sync::Arc::new((
            std::sync::Mutex::new(String::new()),
            std::sync::Condvar::new(),
        ));
        let (sink, stderr) = (log.clone(), child.stderr.take());
        let reader = std::thread::spawn(move || {
            let Some(stderr) = stderr else { return };
            for line in
                std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok)
            {
                let mut l = sink.0.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
                sink.1.notify_all();
            }
        });
        Daemon { child, log, reader }
    }

    pub fn signal(&self, sig: &str) {
        let _ = std::process::Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status();
    }

    pub fn log(&self) -> String {
        self.log.0.lock().unwrap().clone()
    }

    /// Waits until the log shows what `cond` looks for: woken by each new
    /// line, not by a clock; bounded, so a daemon that never says it fails
    /// the test instead of hanging it.
    pub fn wait_until(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let (log, line) = &*self.log;
        let (guard, timeout) = line
            .wait_timeout_while(
                log.lock().unwrap(),
                std::time::Duration::from_secs(30),
                |l| !cond(l),
            )
            .unwrap();
        if timeout.timed_out() {
            panic!("timed out waiting for {what}; log:\n{}", *guard);
        }
    }

    /// SIGTERM, then the exit status and the whole log: the reader ends
    /// when the daemon's stderr closes.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        self.signal("-TERM");
        let status = self.child.wait().expect("daemon exit");
        let log = self.log;
        let _ = self.reader.join();
        let log = log.0.lock().unwrap().clone();
        (status, log)
    }
}
