//! A local HTTPS (HTTP/1.1) server that records what it receives.
//!
//! Per request it records method, path, headers, the full body and its sha256; per
//! connection the number of application (decrypted) bytes received. So a test can assert
//! that "the server received nothing of that request": no request recorded for the path,
//! and zero plaintext bytes on the connection that carried it.
//!
//! By default `POST /v1/chat/completions` is answered with an OpenAI Chat Completions
//! object and anything else with `200 {"ok":true}`. [`ServerOptions`] adds routes with other
//! answers: a chat completion that asks for a tool call (streamed as server-sent events when
//! the request says `"stream": true`), a Slack-style webhook answering `ok`, a CRM record.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future as _;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;

use crate::certs::TestCerts;

/// The assistant message content of the chat completion answer.
pub const CHAT_REPLY: &str = "hello from the test server";

/// One HTTP request the server saw (recorded as soon as its head arrived).
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Id of the connection that carried it (see [`ConnectionInfo::id`]).
    pub conn_id: u64,
    pub method: String,
    /// The path of the request target, without the query.
    pub path: String,
    /// The whole request target.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    /// The body bytes received (all of it if `body_complete`).
    pub body: Vec<u8>,
    /// sha256 (hex) of `body`.
    pub body_sha256: String,
    /// Whether the body was read to its end.
    pub body_complete: bool,
    /// The error that ended reading the body, if any.
    pub body_error: Option<String>,
}

impl RecordedRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One accepted TCP connection.
#[derive(Clone, Debug)]
pub struct ConnectionInfo {
    /// Sequential id, in accept order.
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// Whether the TLS handshake completed.
    pub tls_established: bool,
    /// Application (decrypted) bytes received on it.
    pub plaintext_bytes: u64,
    /// Whether the connection has ended.
    pub closed: bool,
    /// The TLS or HTTP error that ended it, if any.
    pub error: Option<String>,
}

#[derive(Debug)]
struct ConnEntry {
    id: u64,
    peer: SocketAddr,
    local: SocketAddr,
    tls_established: AtomicBool,
    plaintext_bytes: Arc<AtomicU64>,
    closed: AtomicBool,
    error: Mutex<Option<String>>,
}

#[derive(Debug, Default)]
struct State {
    requests: Mutex<Vec<RecordedRequest>>,
    connections: Mutex<Vec<Arc<ConnEntry>>>,
    routes: Vec<Route>,
}

/// A tool call the chat completion route asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolCallSpec {
    /// The call id (`call_...`).
    pub id: String,
    /// The function name.
    pub name: String,
    /// The arguments as the model writes them: a JSON text.
    pub arguments: String,
}

impl ToolCallSpec {
    pub fn new(id: &str, name: &str, arguments: &str) -> Self {
        ToolCallSpec { id: id.into(), name: name.into(), arguments: arguments.into() }
    }
}

/// How a route answers.
#[derive(Clone, Debug)]
pub enum Reply {
    /// `200 application/json` with this body.
    Json(serde_json::Value),
    /// `200 text/plain` with this body (Slack's webhooks answer `ok`).
    Text(String),
    /// An OpenAI Chat Completions answer whose assistant message asks for this tool call
    /// (`finish_reason: tool_calls`). A request with `"stream": true` gets it as server-sent
    /// events (`chat.completion.chunk` objects, the arguments split over several chunks, then
    /// `data: [DONE]`), sent with chunked transfer encoding, one event per chunk.
    ChatToolCall(ToolCallSpec),
}

/// A route: requests whose method is `method` (any if `None`) and whose path matches `path`
/// (a glob where `*` matches any run of characters) get `reply`.
#[derive(Clone, Debug)]
pub struct Route {
    pub method: Option<String>,
    pub path: String,
    pub reply: Reply,
}

impl Route {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method))
            && crate::policy::glob_match(&self.path, path)
    }
}

/// Where the server listens and which routes it has besides the default answers. The first
/// matching route wins; a request no route matches gets the default answer.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub ip: IpAddr,
    pub routes: Vec<Route>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions { ip: IpAddr::V4(Ipv4Addr::LOCALHOST), routes: Vec::new() }
    }
}

impl ServerOptions {
    /// 127.0.0.1, no routes (the default answers only).
    pub fn new() -> Self {
        Self::default()
    }

    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = ip;
        self
    }

    /// Adds a route.
    pub fn route(mut self, method: Option<&str>, path: &str, reply: Reply) -> Self {
        self.routes.push(Route { method: method.map(str::to_string), path: path.into(), reply });
        self
    }

    /// An OpenAI-compatible chat server: `POST /v1/chat/completions` asks for `call`
    /// (non-streamed or streamed, as the request says).
    pub fn chat_tool_call(call: ToolCallSpec) -> Self {
        Self::new().route(Some("POST"), CHAT_PATH, Reply::ChatToolCall(call))
    }

    /// A Slack-style incoming-webhook server: any `POST /services/*` answers `200 ok`.
    pub fn slack_webhook() -> Self {
        Self::new().route(Some("POST"), "/services/*", Reply::Text("ok".into()))
    }

    /// A CRM: `GET /api/customers/42` answers [`crm_customer_record`].
    pub fn crm() -> Self {
        Self::new().route(Some("GET"), CRM_CUSTOMER_PATH, Reply::Json(crm_customer_record()))
    }
}

/// The chat completions path.
pub const CHAT_PATH: &str = "/v1/chat/completions";

/// The CRM record's path ([`ServerOptions::crm`]).
pub const CRM_CUSTOMER_PATH: &str = "/api/customers/42";

/// The CRM's customer record: name, e-mail, account number, postal address.
pub fn crm_customer_record() -> serde_json::Value {
    serde_json::json!({
        "id": 42,
        "name": "Margarethe Vollmer-Lindqvist",
        "email": "m.vollmer-lindqvist@brightwater-logistics.com",
        "account_number": "ACC-7730-5512-0964",
        "address": "Lindenstrasse 14, 10969 Berlin, Germany",
        "segment": "enterprise",
        "notes": "Renewal of the premium logistics plan is due in March; prefers calls after 4pm."
    })
}

/// The server; shuts down and joins its thread on drop.
pub struct TestServer {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on `127.0.0.1:0`.
    pub fn start(certs: &TestCerts) -> Self {
        Self::start_on(certs, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Starts a server on `ip:0`.
    pub fn start_on(certs: &TestCerts, ip: IpAddr) -> Self {
        Self::start_with(certs, ServerOptions::new().ip(ip))
    }

    /// Starts a server on `options.ip:0` with `options.routes`.
    pub fn start_with(certs: &TestCerts, options: ServerOptions) -> Self {
        let ServerOptions { ip, routes } = options;
        let listener = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
            .unwrap_or_else(|e| panic!("bind test server on {ip}:0: {e}"));
        listener.set_nonblocking(true).expect("set listener non-blocking");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(State { routes, ..State::default() });
        let (tx, rx) = oneshot::channel();
        let acceptor = tokio_rustls::TlsAcceptor::from(certs.server_config());
        let thread_state = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("test-server-{addr}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("build server runtime");
                rt.block_on(serve(listener, acceptor, thread_state, rx));
                rt.shutdown_timeout(Duration::from_secs(2));
            })
            .expect("spawn server thread");
        TestServer { addr, state, shutdown: Some(tx), thread: Some(thread) }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// All requests so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The requests so far whose path is `path`.
    pub fn requests_for(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests().into_iter().filter(|r| r.path == path).collect()
    }

    /// All connections so far, in accept order.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.state
            .connections
            .lock()
            .unwrap()
            .iter()
            .map(|c| ConnectionInfo {
                id: c.id,
                peer: c.peer,
                local: c.local,
                tls_established: c.tls_established.load(Ordering::SeqCst),
                plaintext_bytes: c.plaintext_bytes.load(Ordering::SeqCst),
                closed: c.closed.load(Ordering::SeqCst),
                error: c.error.lock().unwrap().clone(),
            })
            .collect()
    }

    /// The connections accepted after the first `skip` (use `connections().len()` taken
    /// before a client run as `skip`).
    pub fn connections_since(&self, skip: usize) -> Vec<ConnectionInfo> {
        self.connections().into_iter().skip(skip).collect()
    }

    /// Application bytes received over all connections.
    pub fn plaintext_bytes_total(&self) -> u64 {
        self.state.connections.lock().unwrap().iter().map(|c| c.plaintext_bytes.load(Ordering::SeqCst)).sum()
    }

    /// Waits up to `timeout` for a request for `path` whose body is complete.
    pub fn wait_for_request(&self, path: &str, timeout: Duration) -> Option<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.requests_for(path).into_iter().find(|r| r.body_complete) {
                return Some(r);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits up to `timeout` until the connections after the first `skip` are all closed.
    pub fn wait_connections_closed(&self, skip: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.connections_since(skip).iter().all(|c| c.closed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A readable summary of requests and connections, for failure messages.
    pub fn summary(&self) -> String {
        let mut s = format!("test server {}:\n  connections:\n", self.addr);
        for c in self.connections() {
            s.push_str(&format!(
                "    #{} {} -> {} tls={} plaintext_bytes={} closed={} error={:?}\n",
                c.id, c.peer, c.local, c.tls_established, c.plaintext_bytes, c.closed, c.error
            ));
        }
        s.push_str("  requests:\n");
        for r in self.requests() {
            s.push_str(&format!(
                "    conn #{} {} {} body={} bytes complete={} sha256={} error={:?}\n",
                r.conn_id,
                r.method,
                r.uri,
                r.body.len(),
                r.body_complete,
                r.body_sha256,
                r.body_error
            ));
        }
        s
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<State>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let mut next_id = 0u64;
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("test server: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let local = tcp.local_addr().unwrap_or(peer);
        let entry = Arc::new(ConnEntry {
            id: next_id,
            peer,
            local,
            tls_established: AtomicBool::new(false),
            plaintext_bytes: Arc::new(AtomicU64::new(0)),
            closed: AtomicBool::new(false),
            error: Mutex::new(None),
        });
        next_id += 1;
        state.connections.lock().unwrap().push(entry.clone());
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let result = handle_connection(tcp, acceptor, state, entry.clone()).await;
            if let Err(e) = result {
                *entry.error.lock().unwrap() = Some(e);
            }
            entry.closed.store(true, Ordering::SeqCst);
        });
    }
}

async fn handle_connection(
    tcp: tokio::net::TcpStream,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<State>,
    entry: Arc<ConnEntry>,
) -> Result<(), String> {
    let _ = tcp.set_nodelay(true);
    let tls = tokio::time::timeout(Duration::from_secs(30), acceptor.accept(tcp))
        .await
        .map_err(|_| "TLS handshake timed out".to_string())?
        .map_err(|e| format!("TLS handshake: {e}"))?;
    entry.tls_established.store(true, Ordering::SeqCst);
    let io = TokioIo::new(Counting { inner: tls, count: entry.plaintext_bytes.clone() });
    let conn_id = entry.id;
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle_request(state, conn_id, req).await) }
    });
    hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service)
        .await
        .map_err(|e| format!("HTTP: {e}"))
}

type ResponseBody = BoxBody<Bytes, Infallible>;

async fn handle_request(state: Arc<State>, conn_id: u64, req: Request<Incoming>) -> Response<ResponseBody> {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let uri = req.uri().to_string();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let index = {
        let mut reqs = state.requests.lock().unwrap();
        reqs.push(RecordedRequest {
            conn_id,
            method: method.clone(),
            path: path.clone(),
            uri,
            headers,
            body: Vec::new(),
            body_sha256: crate::sha256_hex(b""),
            body_complete: false,
            body_error: None,
        });
        reqs.len() - 1
    };

    let mut body = req.into_body();
    let mut buf = Vec::new();
    let mut error = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(f) => {
                if let Some(d) = f.data_ref() {
                    buf.extend_from_slice(d);
                }
            }
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    let complete = error.is_none();
    let request_json: Option<serde_json::Value> = serde_json::from_slice(&buf).ok();
    {
        let mut reqs = state.requests.lock().unwrap();
        let r = &mut reqs[index];
        r.body_sha256 = crate::sha256_hex(&buf);
        r.body = buf;
        r.body_complete = complete;
        r.body_error = error;
    }
    if !complete {
        return json_response(StatusCode::BAD_REQUEST, r#"{"error":"incomplete body"}"#.into());
    }

    let model =
        request_json.as_ref().and_then(|v| v.get("model")).and_then(|m| m.as_str()).unwrap_or("gpt-test").to_string();
    if let Some(route) = state.routes.iter().find(|r| r.matches(&method, &path)) {
        return match &route.reply {
            Reply::Json(v) => json_response(StatusCode::OK, v.to_string()),
            Reply::Text(t) => text_response(StatusCode::OK, t.clone()),
            Reply::ChatToolCall(call) => {
                let stream = request_json.as_ref().and_then(|v| v.get("stream")).and_then(|s| s.as_bool());
                if stream == Some(true) {
                    sse_response(chat_tool_call_chunks(&model, call), Duration::from_millis(10))
                } else {
                    json_response(StatusCode::OK, chat_tool_call_completion(&model, call).to_string())
                }
            }
        };
    }
    if method == "POST" && path == CHAT_PATH {
        json_response(StatusCode::OK, chat_completion(&model).to_string())
    } else {
        json_response(StatusCode::OK, r#"{"ok":true}"#.into())
    }
}

/// A Chat Completions response object as the OpenAI API returns it.
pub fn chat_completion(model: &str) -> serde_json::Value {
    let created = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    serde_json::json!({
        "id": "chatcmpl-egress-test",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": CHAT_REPLY,
                "refusal": null
            },
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 6,
            "total_tokens": 15
        },
        "system_fingerprint": "fp_egress_test"
    })
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// A Chat Completions response object whose assistant message asks for `call`.
pub fn chat_tool_call_completion(model: &str, call: &ToolCallSpec) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-egress-test-tools",
        "object": "chat.completion",
        "created": unix_now(),
        "model": model,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": [{
                    "id": call.id,
                    "type": "function",
                    "function": { "name": call.name, "arguments": call.arguments }
                }]
            },
            "logprobs": null,
            "finish_reason": "tool_calls"
        }],
        "usage": { "prompt_tokens": 42, "completion_tokens": 11, "total_tokens": 53 },
        "system_fingerprint": "fp_egress_test"
    })
}

/// The `chat.completion.chunk` objects of a streamed answer asking for `call`, as OpenAI
/// streams it: the first chunk names the call (id, function name, empty arguments), the
/// arguments follow in pieces of a few characters, the last chunk has `finish_reason`.
pub fn chat_tool_call_chunks(model: &str, call: &ToolCallSpec) -> Vec<serde_json::Value> {
    let created = unix_now();
    let chunk = |delta: serde_json::Value, finish: serde_json::Value| {
        serde_json::json!({
            "id": "chatcmpl-egress-test-tools-stream",
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": "fp_egress_test",
            "choices": [{ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish }]
        })
    };
    let mut out = vec![chunk(
        serde_json::json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "index": 0,
                "id": call.id,
                "type": "function",
                "function": { "name": call.name, "arguments": "" }
            }]
        }),
        serde_json::Value::Null,
    )];
    let chars: Vec<char> = call.arguments.chars().collect();
    for piece in chars.chunks(5) {
        let piece: String = piece.iter().collect();
        out.push(chunk(
            serde_json::json!({ "tool_calls": [{ "index": 0, "function": { "arguments": piece } }] }),
            serde_json::Value::Null,
        ));
    }
    out.push(chunk(serde_json::json!({}), "tool_calls".into()));
    out
}

/// The server-sent events of `chunks`: `data: <json>\n\n` each, then `data: [DONE]\n\n`.
pub fn sse_events(chunks: &[serde_json::Value]) -> Vec<Bytes> {
    chunks
        .iter()
        .map(|c| Bytes::from(format!("data: {c}\n\n")))
        .chain(std::iter::once(Bytes::from_static(b"data: [DONE]\n\n")))
        .collect()
}

fn sse_response(chunks: Vec<serde_json::Value>, gap: Duration) -> Response<ResponseBody> {
    let body = Paced { frames: sse_events(&chunks).into(), gap, sleep: None };
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(body.boxed())
        .expect("response")
}

fn json_response(status: StatusCode, body: String) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("response")
}

fn text_response(status: StatusCode, body: String) -> Response<ResponseBody> {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("response")
}

/// A body of unknown length (so hyper sends it chunked) made of `frames`, one chunk each,
/// `gap` apart.
struct Paced {
    frames: VecDeque<Bytes>,
    gap: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for Paced {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(sleep) = self.sleep.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        let Some(frame) = self.frames.pop_front() else {
            return Poll::Ready(None);
        };
        if !self.frames.is_empty() && !self.gap.is_zero() {
            self.sleep = Some(Box::pin(tokio::time::sleep(self.gap)));
        }
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }
}

/// Counts the bytes read through it (the decrypted application data).
struct Counting<S> {
    inner: S,
    count: Arc<AtomicU64>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.count.fetch_add(n as u64, Ordering::SeqCst);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
