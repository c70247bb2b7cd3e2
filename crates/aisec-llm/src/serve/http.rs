//! The HTTP/1.1 plumbing of our small servers, kept apart from what they serve so that other
//! servers (the `aisec guard` proxy) can reuse it.
//!
//! Why our own instead of a server crate: what we need is small (one request per connection,
//! `Content-Length` bodies, close-delimited or chunked replies), every bound must be ours
//! (head size, header count, body size, one deadline for the whole request, a fixed pool of
//! workers), and the request line and headers are parsed by `httparse`, which the HTTP client
//! already brings into the build, so the server adds no dependency. Async servers would pull in
//! a runtime; the small sync ones either read without the bounds we want or add several crates.
//!
//! The model: one acceptor thread hands connections to a fixed number of worker threads
//! through a bounded queue. When the queue is full the acceptor answers at once with the
//! handler's "overloaded" reply (429) rather than let connections pile up. By default every
//! reply closes its connection (`Connection: close`). With [`ServerConfig::keep_alive`] an
//! HTTP/1.1 client's connection stays open for its next request when, at the time of the reply,
//! no other connection waits for a worker and at least one other worker holds no kept
//! connection; otherwise the reply says `Connection: close`. A kept connection is closed only
//! after its idle time or [`MAX_REQUESTS_PER_CONNECTION`] requests, never while the client may
//! be sending, so keep-alive loses no request.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The bounds every request is read within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request line plus headers, in bytes (431 beyond).
    pub max_head_bytes: usize,
    /// Most header lines (431 beyond).
    pub max_headers: usize,
    /// Largest body, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Time to read the whole request, head and body (408 beyond).
    pub read_timeout: Duration,
    /// Time allowed for each write of the reply.
    pub write_timeout: Duration,
}

impl Default for Limits {
    /// 16 KiB of head, 64 headers, 4 MiB of body, 30 s to read, 30 s per write.
    fn default() -> Self {
        Self {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
            max_body_bytes: 4 << 20,
            read_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
        }
    }
}

/// A request as read: method, path (without the query), query, headers, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (`GET`, `POST`).
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The query string, without its `?`.
    pub query: Option<String>,
    /// The headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
    /// Whether the client would keep the connection for another request (HTTP/1.1 without
    /// `Connection: close`).
    pub keep_alive: bool,
}

impl Request {
    /// The first header called `name` (any case).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read; each maps to the status [`ReadError::status`] gives.
#[derive(Debug)]
pub enum ReadError {
    /// Broken syntax or an unsupported framing (400; 411 for a body without a length).
    Bad {
        /// The status to answer with.
        status: u16,
        /// What was wrong.
        message: String,
    },
    /// The head is longer than [`Limits::max_head_bytes`] or has too many headers (431).
    HeadTooLarge(String),
    /// The body is longer than [`Limits::max_body_bytes`] (413).
    BodyTooLarge {
        /// The declared length.
        length: u64,
        /// The limit.
        limit: usize,
    },
    /// The request did not arrive within [`Limits::read_timeout`] (408).
    Timeout,
    /// The connection closed or failed before a request was read (no reply is sent).
    Closed,
}

impl ReadError {
    /// The HTTP status for the reply.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::Bad { status, .. } => *status,
            Self::HeadTooLarge(_) => 431,
            Self::BodyTooLarge { .. } => 413,
            Self::Timeout => 408,
            Self::Closed => 400,
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bad { message, .. } | Self::HeadTooLarge(message) => f.write_str(message),
            Self::BodyTooLarge { length, limit } => write!(
                f,
                "the request body has {length} bytes, more than the {limit}-byte limit"
            ),
            Self::Timeout => f.write_str("the request did not arrive in time"),
            Self::Closed => f.write_str("the connection closed"),
        }
    }
}

fn bad(message: impl Into<String>) -> ReadError {
    ReadError::Bad {
        status: 400,
        message: message.into(),
    }
}

/// Reads one request from `stream` within `limits`. When the client asks for
/// `Expect: 100-continue` and the body is within bounds, the interim reply is written first.
///
/// # Errors
/// A [`ReadError`] naming what was wrong.
pub fn read_request(stream: &mut TcpStream, limits: &Limits) -> Result<Request, ReadError> {
    let deadline = Instant::now() + limits.read_timeout;
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(at) = find(&buf, b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() > limits.max_head_bytes {
            return Err(ReadError::HeadTooLarge(format!(
                "the request head is longer than {} bytes",
                limits.max_head_bytes
            )));
        }
        let mut chunk = [0u8; 4096];
        let want = (limits.max_head_bytes + 4 - buf.len().min(limits.max_head_bytes)).min(4096);
        let n = read_before(stream, &mut chunk[..want], deadline)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                ReadError::Closed
            } else {
                bad("the connection closed inside the request head")
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > limits.max_head_bytes {
        return Err(ReadError::HeadTooLarge(format!(
            "the request head is longer than {} bytes",
            limits.max_head_bytes
        )));
    }
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(&buf[..head_end]) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(bad("the request head is incomplete")),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ReadError::HeadTooLarge(format!(
                "the request has more than {} headers",
                limits.max_headers
            )));
        }
        Err(e) => return Err(bad(format!("the request head is not HTTP/1.1: {e}"))),
    }
    let method = parsed.method.unwrap_or("").to_owned();
    let http11 = parsed.version == Some(1);
    let target = parsed.path.unwrap_or("");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    let mut fields = Vec::with_capacity(parsed.headers.len());
    for h in parsed.headers.iter() {
        let value = std::str::from_utf8(h.value)
            .map_err(|_| bad(format!("header {:?} is not UTF-8", h.name)))?;
        fields.push((h.name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        path,
        query,
        headers: fields,
        body: Vec::new(),
        keep_alive: false,
    };
    request.keep_alive = http11
        && !request
            .header("connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")));
    if request.header("transfer-encoding").is_some() {
        return Err(ReadError::Bad {
            status: 411,
            message: "chunked request bodies are not accepted: send Content-Length".to_owned(),
        });
    }
    let lengths: Vec<&str> = request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    let length = match lengths.as_slice() {
        [] => 0,
        [one] => one
            .parse::<u64>()
            .map_err(|_| bad(format!("Content-Length {:?} is not a number", clip(one))))?,
        _ => return Err(bad("more than one Content-Length")),
    };
    if length > limits.max_body_bytes as u64 {
        return Err(ReadError::BodyTooLarge {
            length,
            limit: limits.max_body_bytes,
        });
    }
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    if length > 0
        && request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        stream
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| ReadError::Closed)?;
    }
    let mut body = buf.split_off(head_end);
    if body.len() > length {
        return Err(bad(
            "more bytes than Content-Length (pipelining is not supported)",
        ));
    }
    body.reserve_exact(length - body.len());
    while body.len() < length {
        let mut chunk = [0u8; 16 * 1024];
        let want = (length - body.len()).min(chunk.len());
        let n = read_before(stream, &mut chunk[..want], deadline)?;
        if n == 0 {
            return Err(bad("the connection closed inside the request body"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    request.body = body;
    Ok(request)
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One read that must finish before `deadline`.
fn read_before(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Instant,
) -> Result<usize, ReadError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadError::Timeout);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| ReadError::Closed)?;
        match stream.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(ReadError::Timeout);
            }
            Err(_) => return Err(ReadError::Closed),
        }
    }
}

/// A whole reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Extra headers (`Content-Length` and `Connection` are written for you).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON reply.
    #[must_use]
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// The reason phrase of the statuses we send.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn head(status: u16, headers: &[(String, String)], framing: &str, keep_alive: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in headers {
        // Header values we write never hold line breaks; drop any that would.
        if !n.contains(['\r', '\n']) && !v.contains(['\r', '\n']) {
            out.push_str(n);
            out.push_str(": ");
            out.push_str(v);
            out.push_str("\r\n");
        }
    }
    out.push_str(framing);
    out.push_str(if keep_alive {
        "connection: keep-alive\r\n\r\n"
    } else {
        "connection: close\r\n\r\n"
    });
    out.into_bytes()
}

/// Where a handler writes its reply: once, whole, or as a chunked stream
/// ([`Self::start_chunked`], [`Self::chunk`]..., [`Self::end_chunked`]).
pub struct Responder<'a> {
    stream: &'a mut TcpStream,
    sent: bool,
    chunked: bool,
    keep_alive: bool,
}

impl<'a> Responder<'a> {
    fn new(stream: &'a mut TcpStream, keep_alive: bool) -> Self {
        Self {
            stream,
            sent: false,
            chunked: false,
            keep_alive,
        }
    }

    /// Whether a whole reply went out (a chunked one ended), so the connection can carry another.
    fn complete(&self) -> bool {
        self.sent && !self.chunked
    }

    /// Writes a whole reply.
    ///
    /// # Errors
    /// When a reply was already started, or the client cannot be written to.
    pub fn send(&mut self, response: &Response) -> io::Result<()> {
        self.begin()?;
        let mut bytes = head(
            response.status,
            &response.headers,
            &format!("content-length: {}\r\n", response.body.len()),
            self.keep_alive,
        );
        bytes.extend_from_slice(&response.body);
        self.stream.write_all(&bytes)?;
        self.stream.flush()
    }

    fn begin(&mut self) -> io::Result<()> {
        if self.sent {
            return Err(io::Error::other("a reply was already started"));
        }
        self.sent = true;
        Ok(())
    }

    /// Starts a chunked reply with `status` and `headers`.
    ///
    /// # Errors
    /// When a reply was already started, or the client cannot be written to.
    pub fn start_chunked(&mut self, status: u16, headers: &[(String, String)]) -> io::Result<()> {
        self.begin()?;
        self.chunked = true;
        self.stream.write_all(&head(
            status,
            headers,
            "transfer-encoding: chunked\r\n",
            self.keep_alive,
        ))?;
        self.stream.flush()
    }

    /// Writes one chunk of a chunked reply and flushes it to the client.
    ///
    /// # Errors
    /// When no chunked reply was started, or the client cannot be written to (it went away).
    pub fn chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if !self.chunked {
            return Err(io::Error::other("no chunked reply was started"));
        }
        if data.is_empty() {
            return Ok(());
        }
        let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\r\n");
        self.stream.write_all(&bytes)?;
        self.stream.flush()
    }

    /// Ends a chunked reply.
    ///
    /// # Errors
    /// When no chunked reply was started, or the client cannot be written to.
    pub fn end_chunked(&mut self) -> io::Result<()> {
        if !self.chunked {
            return Err(io::Error::other("no chunked reply was started"));
        }
        self.chunked = false;
        self.stream.write_all(b"0\r\n\r\n")?;
        self.stream.flush()
    }

    /// Whether a reply was started.
    #[must_use]
    pub fn sent(&self) -> bool {
        self.sent
    }
}

/// What a server does with requests.
pub trait Handler: Send + Sync + 'static {
    /// Answers `request` through `out`.
    ///
    /// # Errors
    /// A write error (the client went away); the connection is closed either way.
    fn handle(&self, request: Request, out: &mut Responder<'_>) -> io::Result<()>;
    /// The reply to a request that could not be read.
    fn unreadable(&self, error: &ReadError) -> Response;
    /// The reply when every worker is busy and the queue is full.
    fn overloaded(&self) -> Response;
}

/// How a server listens and how much it takes on.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to bind (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Bind an address other than loopback (refused unless set).
    pub allow_non_loopback: bool,
    /// Requests served at once.
    pub workers: usize,
    /// Connections waiting for a worker; beyond this they get the 429 reply.
    pub queue: usize,
    /// Bounds on each request.
    pub limits: Limits,
    /// Keep HTTP/1.1 connections open for this long between requests (while no other
    /// connection waits for a worker); `None` closes each connection after its reply.
    pub keep_alive: Option<Duration>,
}

/// Most requests one kept-alive connection carries before it is closed.
pub const MAX_REQUESTS_PER_CONNECTION: usize = 1000;

/// How often an idle kept-alive connection checks whether the server is stopping.
pub const IDLE_POLL: Duration = Duration::from_millis(50);

impl Default for ServerConfig {
    /// Loopback, a free port, 4 workers, 32 waiting, default limits.
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            allow_non_loopback: false,
            workers: 4,
            queue: 32,
            limits: Limits::default(),
            keep_alive: None,
        }
    }
}

/// A running server: its address, and the way to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The bound address (with the port chosen when port 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets the workers finish the requests they hold, and waits for them.
    pub fn shutdown(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor, which is blocked in accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Binds `config.addr` and starts serving with `handler`.
///
/// # Errors
/// When the address is not loopback and `allow_non_loopback` is off, when `workers` or `queue`
/// is 0, or when the address cannot be bound.
pub fn start(config: &ServerConfig, handler: Arc<dyn Handler>) -> io::Result<ServerHandle> {
    if !config.addr.ip().is_loopback() && !config.allow_non_loopback {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is not a loopback address; serving beyond this machine must be allowed explicitly",
                config.addr.ip()
            ),
        ));
    }
    if config.workers == 0 || config.queue == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "workers and queue must be at least 1",
        ));
    }
    let listener = TcpListener::bind(config.addr)?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = sync_channel::<TcpStream>(config.queue);
    let rx = Arc::new(Mutex::new(rx));
    let pending = Arc::new(AtomicUsize::new(0));
    let holding = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::with_capacity(config.workers + 1);
    for i in 0..config.workers {
        let rx = Arc::clone(&rx);
        let handler = Arc::clone(&handler);
        let shared = Shared {
            limits: config.limits,
            keep_alive: config.keep_alive,
            pending: Arc::clone(&pending),
            holding: Arc::clone(&holding),
            workers: config.workers,
            stop: Arc::clone(&stop),
        };
        threads.push(
            std::thread::Builder::new()
                .name(format!("serve-worker-{i}"))
                .spawn(move || worker(&rx, handler.as_ref(), &shared))?,
        );
    }
    let flag = Arc::clone(&stop);
    threads.push(
        std::thread::Builder::new()
            .name("serve-accept".into())
            .spawn(move || accept(&listener, &tx, &flag, &pending, handler.as_ref()))?,
    );
    Ok(ServerHandle {
        addr,
        stop,
        threads,
    })
}

fn accept(
    listener: &TcpListener,
    tx: &SyncSender<TcpStream>,
    stop: &AtomicBool,
    pending: &AtomicUsize,
    handler: &dyn Handler,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        // Counted before it is queued, so a reply being written sees it and closes its own
        // connection rather than keep it.
        pending.fetch_add(1, Ordering::SeqCst);
        match tx.try_send(stream) {
            Ok(()) => {}
            Err(TrySendError::Full(mut stream)) => {
                pending.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                let mut out = Responder::new(&mut stream, false);
                let _ = out.send(&handler.overloaded());
                close(&mut stream, Duration::from_millis(200));
            }
            Err(TrySendError::Disconnected(_)) => break,
        }
    }
}

/// What every worker shares.
struct Shared {
    limits: Limits,
    keep_alive: Option<Duration>,
    /// Connections accepted and not yet taken by a worker.
    pending: Arc<AtomicUsize>,
    /// Workers holding a kept-alive connection (serving it or waiting for its next request).
    holding: Arc<AtomicUsize>,
    workers: usize,
    stop: Arc<AtomicBool>,
}

fn worker(rx: &Mutex<Receiver<TcpStream>>, handler: &dyn Handler, shared: &Shared) {
    loop {
        let next = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        let Ok(mut stream) = next else { return };
        shared.pending.fetch_sub(1, Ordering::SeqCst);
        let _ = stream.set_write_timeout(Some(shared.limits.write_timeout));
        let _ = stream.set_nodelay(true);
        if serve_connection(&mut stream, handler, shared) {
            close(&mut stream, Duration::from_secs(2));
        } else {
            // Idle between requests: nothing in flight to let the client read first.
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Answers the requests of one connection: one, or several while it may be kept alive. True
/// when the connection ends right after a reply (to be closed with a linger), false when it
/// ends idle between requests.
fn serve_connection(stream: &mut TcpStream, handler: &dyn Handler, shared: &Shared) -> bool {
    let mut hold = None;
    let mut served = 0;
    loop {
        let request = match read_request(stream, &shared.limits) {
            Ok(request) => request,
            Err(ReadError::Closed) => return served == 0,
            Err(e) => {
                let mut out = Responder::new(stream, false);
                let _ = out.send(&handler.unreadable(&e));
                return true;
            }
        };
        served += 1;
        let eligible = shared.keep_alive.is_some()
            && request.keep_alive
            && served < MAX_REQUESTS_PER_CONNECTION
            && shared.pending.load(Ordering::SeqCst) == 0
            && !shared.stop.load(Ordering::SeqCst);
        if eligible && hold.is_none() {
            hold = Hold::take(shared);
        }
        let keep = eligible && hold.is_some();
        let mut out = Responder::new(stream, keep);
        let handled = handler.handle(request, &mut out).is_ok();
        let complete = out.complete();
        let Some(idle) = shared.keep_alive.filter(|_| keep && handled && complete) else {
            return true;
        };
        if !next_request_arrives(stream, idle, shared) {
            return false;
        }
    }
}

/// A worker's hold on a kept connection, given back when dropped.
struct Hold<'a>(&'a AtomicUsize);

impl<'a> Hold<'a> {
    /// One of the holds on kept connections: all workers but one may have one, so a new
    /// connection always finds a worker that no idle client holds.
    fn take(shared: &'a Shared) -> Option<Self> {
        shared
            .holding
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |h| {
                (h + 1 < shared.workers).then_some(h + 1)
            })
            .ok()
            .map(|_| Self(&shared.holding))
    }
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Waits for the first byte of a kept-alive connection's next request: false when the client
/// closes, the idle time runs out, or the server stops.
fn next_request_arrives(stream: &TcpStream, idle: Duration, shared: &Shared) -> bool {
    let deadline = Instant::now() + idle;
    let mut byte = [0u8; 1];
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return false;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left.min(IDLE_POLL))).is_err() {
            return false;
        }
        match stream.peek(&mut byte) {
            Ok(0) => return false,
            Ok(_) => return true,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return false,
        }
    }
}

/// Most bytes read and dropped after a reply (see [`close`]).
const MAX_DRAIN_BYTES: usize = 64 << 20;

/// Ends our side, then reads (and drops) what the client may still be sending (a body we
/// refused), for at most `linger` and [`MAX_DRAIN_BYTES`], so that closing does not reset the
/// connection before the client has read the reply.
fn close(stream: &mut TcpStream, linger: Duration) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + linger;
    let mut left = MAX_DRAIN_BYTES;
    let mut sink = [0u8; 16 * 1024];
    while left > 0 {
        match read_before(stream, &mut sink, deadline) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}
