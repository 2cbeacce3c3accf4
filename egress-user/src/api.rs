//! The local review API: JSON over HTTP/1.1 on a Unix socket (mode 0660), and the client the
//! `egress review` commands use. The server never touches daemon state itself: it forwards
//! each call to the daemon's event loop, which owns the review queue.
//!
//! - `GET /v1/reviews`: the pending reviews (never a raw value).
//! - `GET /v1/reviews/{id}/preview`: that request's body with every finding masked.
//! - `GET /v1/status`: what the daemon watches and has attached, its policy, what it holds,
//!   and the kernel side's counters.
//! - `POST /v1/policy/reload`: re-read the policy file (refused whole if it is invalid).
//! - `POST /v1/reviews/{id}/approve` and `/deny`, with an optional JSON body
//!   `{"body_sha256": "...", "policy_version": "..."}` binding the decision to the request the
//!   reviewer saw. The reviewer is the uid of the socket's peer.
use std::{
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Method, Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::{
    net::{UnixListener, UnixStream},
    sync::{mpsc, oneshot},
};

use crate::review::{ReviewSummary, Verdict};

pub const RUN_DIR: &str = "/run/egress";

pub fn socket_path(instance: &str) -> PathBuf {
    Path::new(RUN_DIR).join(format!("{instance}.sock"))
}

/// A call from the API to the daemon's loop.
pub enum ApiCall {
    List {
        reply: oneshot::Sender<Vec<ReviewSummary>>,
    },
    Decide {
        id: u64,
        verdict: Verdict,
        by_uid: u32,
        binding: Binding,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Re-read the policy file; the new version, or why it was refused.
    Reload {
        reply: oneshot::Sender<Result<String, String>>,
    },
    Status {
        reply: oneshot::Sender<serde_json::Value>,
    },
    /// A pending review's body with its findings masked.
    Preview {
        id: u64,
        reply: oneshot::Sender<Option<serde_json::Value>>,
    },
    /// Bring the metrics' gauges up to date (before a scrape).
    RefreshMetrics {
        reply: oneshot::Sender<()>,
    },
}

/// What a reviewer may bind a decision to.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub body_sha256: Option<String>,
    pub policy_version: Option<String>,
}

/// Binds the socket (replacing a stale one) with mode 0660, owned by root and `group` (so
/// that its members may review; other users get "permission denied").
pub fn bind(path: &Path, group: Option<&str>) -> anyhow::Result<UnixListener> {
    let gid = group.map(group_id).transpose()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).with_context(|| format!("binding the review API on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid))
            .with_context(|| format!("giving {} to group {gid}", path.display()))?;
    }
    Ok(listener)
}

/// The id of a group given by name or number.
fn group_id(group: &str) -> anyhow::Result<u32> {
    if let Ok(gid) = group.parse() {
        return Ok(gid);
    }
    let name = std::ffi::CString::new(group).with_context(|| format!("group name {group:?}"))?;
    // SAFETY: getgrnam with a NUL-terminated name; the result is read before any other call.
    let entry = unsafe { libc::getgrnam(name.as_ptr()) };
    if entry.is_null() {
        anyhow::bail!("--api-group: no group named `{group}` on this host");
    }
    // SAFETY: non-null entry returned by getgrnam.
    Ok(unsafe { (*entry).gr_gid })
}

/// Serves connections until the listener fails; each call goes to the daemon through `calls`.
pub async fn serve(listener: UnixListener, calls: mpsc::Sender<ApiCall>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let uid = match stream.peer_cred() {
            Ok(credentials) => credentials.uid(),
            Err(error) => {
                tracing::warn!("review API: no peer credentials: {error}");
                continue;
            }
        };
        let calls = calls.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(request, uid, calls.clone()));
            if let Err(error) =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
            {
                tracing::debug!("review API connection: {error}");
            }
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    uid: u32,
    calls: mpsc::Sender<ApiCall>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let response = match (method, segments.as_slice()) {
        (Method::GET, ["v1", "reviews"]) => {
            let (reply, answer) = oneshot::channel();
            match send(&calls, ApiCall::List { reply }, answer).await {
                Ok(list) => json(StatusCode::OK, &list),
                Err(error) => error_response(StatusCode::SERVICE_UNAVAILABLE, &error),
            }
        }
        (Method::GET, ["v1", "status"]) => {
            let (reply, answer) = oneshot::channel();
            match send(&calls, ApiCall::Status { reply }, answer).await {
                Ok(status) => json(StatusCode::OK, &status),
                Err(error) => error_response(StatusCode::SERVICE_UNAVAILABLE, &error),
            }
        }
        (Method::GET, ["v1", "reviews", id, "preview"]) => match id.parse::<u64>() {
            Ok(id) => {
                let (reply, answer) = oneshot::channel();
                match send(&calls, ApiCall::Preview { id, reply }, answer).await {
                    Ok(Some(preview)) => json(StatusCode::OK, &preview),
                    Ok(None) => error_response(StatusCode::NOT_FOUND, &format!("no pending review {id}")),
                    Err(error) => error_response(StatusCode::SERVICE_UNAVAILABLE, &error),
                }
            }
            Err(_) => error_response(StatusCode::NOT_FOUND, "no such route"),
        },
        (Method::POST, ["v1", "reviews", id, action]) => {
            let verdict = match *action {
                "approve" => Some(Verdict::Approve),
                "deny" => Some(Verdict::Deny),
                _ => None,
            };
            match (id.parse::<u64>(), verdict) {
                (Ok(id), Some(verdict)) => decide(request, id, verdict, uid, &calls).await,
                _ => error_response(StatusCode::NOT_FOUND, "no such route"),
            }
        }
        (Method::POST, ["v1", "policy", "reload"]) => {
            let (reply, answer) = oneshot::channel();
            match send(&calls, ApiCall::Reload { reply }, answer).await {
                Ok(Ok(version)) => json(StatusCode::OK, &serde_json::json!({ "ok": true, "policy_version": version })),
                Ok(Err(error)) => error_response(StatusCode::UNPROCESSABLE_ENTITY, &error),
                Err(error) => error_response(StatusCode::SERVICE_UNAVAILABLE, &error),
            }
        }
        _ => error_response(StatusCode::NOT_FOUND, "no such route"),
    };
    Ok(response)
}

async fn decide(
    request: Request<Incoming>,
    id: u64,
    verdict: Verdict,
    by_uid: u32,
    calls: &mpsc::Sender<ApiCall>,
) -> Response<Full<Bytes>> {
    let body = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => return error_response(StatusCode::BAD_REQUEST, &error.to_string()),
    };
    let binding = if body.is_empty() {
        Binding::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(binding) => binding,
            Err(error) => return error_response(StatusCode::BAD_REQUEST, &format!("request body: {error}")),
        }
    };
    let (reply, answer) = oneshot::channel();
    match send(calls, ApiCall::Decide { id, verdict, by_uid, binding, reply }, answer).await {
        Ok(Ok(())) => json(StatusCode::OK, &serde_json::json!({ "ok": true, "id": id })),
        Ok(Err(error)) => error_response(StatusCode::CONFLICT, &error),
        Err(error) => error_response(StatusCode::SERVICE_UNAVAILABLE, &error),
    }
}

async fn send<T>(calls: &mpsc::Sender<ApiCall>, call: ApiCall, answer: oneshot::Receiver<T>) -> Result<T, String> {
    calls.send(call).await.map_err(|_| "the daemon is stopping".to_owned())?;
    answer.await.map_err(|_| "the daemon is stopping".to_owned())
}

fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

fn error_response(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(status, &serde_json::json!({ "error": message }))
}

/// Client side: one request to the API; returns the status and the body.
pub async fn call(socket: &Path, method: Method, path: &str, body: Vec<u8>) -> anyhow::Result<(StatusCode, String)> {
    let stream = UnixStream::connect(socket)
        .await
        .with_context(|| format!("connecting to the review API at {} (is the daemon running?)", socket.display()))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.context("review API handshake")?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "egress")
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| anyhow!("building the request: {error}"))?;
    let response = sender.send_request(request).await.context("review API request")?;
    let status = response.status();
    let body = response.into_body().collect().await.context("review API response")?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}
