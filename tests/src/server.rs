//! A local HTTPS (HTTP/1.1) server that records what it receives.
//!
//! Per request it records method, path, headers, the full body and its sha256; per
//! connection the number of application (decrypted) bytes received. So a test can assert
//! that "the server received nothing of that request": no request recorded for the path,
//! and zero plaintext bytes on the connection that carried it.
//!
//! `POST /v1/chat/completions` is answered with an OpenAI Chat Completions object;
//! anything else with `200 {"ok":true}`.

use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
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
        let listener = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
            .unwrap_or_else(|e| panic!("bind test server on {ip}:0: {e}"));
        listener.set_nonblocking(true).expect("set listener non-blocking");
        let addr = listener.local_addr().expect("listener address");
        let state = Arc::new(State::default());
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

async fn handle_request(state: Arc<State>, conn_id: u64, req: Request<Incoming>) -> Response<Full<Bytes>> {
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

    if method == "POST" && path == "/v1/chat/completions" {
        let model = request_json
            .as_ref()
            .and_then(|v| v.get("model"))
            .and_then(|m| m.as_str())
            .unwrap_or("gpt-test")
            .to_string();
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

fn json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("response")
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
