//! A Lambda Runtime API emulator, to run the real function binaries as Lambda would.
//!
//! The emulator serves the four Runtime API endpoints the Rust runtime calls (`next`,
//! `response`, `error`, `init/error`) on 127.0.0.1; `invoke` queues an event and waits for the
//! function's answer. `spawn_function` starts a binary from the workspace's target directory
//! with the environment Lambda sets, so tests exercise `main`, the runtime, JSON logging and the
//! event (de)serialisation exactly as deployed, without AWS or Docker.
//!
//! The child is a `std::process` child with reader threads rather than a `tokio::process` one:
//! the workspace's tokio features do not include `process`. Dropping a `FunctionProcess` kills it.

use std::{
    collections::HashMap,
    io::Read,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, bail};
use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// How one invocation ended, as the function reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum InvocationResult {
    /// `POST /runtime/invocation/{id}/response`: the body (a JSON string if it was not JSON).
    Response(Value),
    /// `POST /runtime/invocation/{id}/error`: the function's `Diagnostic`.
    Error { error_type: String, error_message: String },
    /// `POST /runtime/init/error`: the runtime gave up before taking invocations.
    InitError { error_type: String, error_message: String },
}

/// The body of the `error` and `init/error` posts (lambda_runtime's `Diagnostic`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub error_type: String,
    pub error_message: String,
}

struct Invocation {
    request_id: String,
    payload: Value,
    deadline_ms: u128,
}

struct Shared {
    queue_tx: mpsc::UnboundedSender<Invocation>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<InvocationResult>>>,
    init_error: Mutex<Option<Diagnostic>>,
}

/// A poisoned lock only means another test thread panicked; the data is still usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running Runtime API emulator; the server stops when it is dropped.
pub struct LambdaEmulator {
    address: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for LambdaEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaEmulator").field("address", &self.address).finish_non_exhaustive()
    }
}

impl Drop for LambdaEmulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl LambdaEmulator {
    /// Starts the emulator on a free port of 127.0.0.1.
    pub async fn start() -> anyhow::Result<Self> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the emulator's port")?;
        let address = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error.message = %e, "Lambda emulator stopped");
            }
        });
        Ok(Self { address, shared, server })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API` (`host:port`, no scheme).
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// What the function posted to `/runtime/init/error`, if anything.
    pub fn init_error(&self) -> Option<Diagnostic> {
        lock(&self.shared.init_error).clone()
    }

    /// Queues `payload` as an invocation and waits up to `timeout` for the function's answer.
    /// The invocation's deadline (`Lambda-Runtime-Deadline-Ms`) is `timeout` from now.
    pub async fn invoke(&self, payload: Value, timeout: Duration) -> anyhow::Result<InvocationResult> {
        self.invoke_with_id(&uuid::Uuid::new_v4().to_string(), payload, timeout).await
    }

    /// As `invoke`, with a chosen request id (to find it in the function's logs).
    pub async fn invoke_with_id(
        &self,
        request_id: &str,
        payload: Value,
        timeout: Duration,
    ) -> anyhow::Result<InvocationResult> {
        let (answer_tx, answer_rx) = oneshot::channel();
        lock(&self.shared.waiting).insert(request_id.to_owned(), answer_tx);
        // Checked after registering, so an init error posted in between is not missed.
        if let Some(Diagnostic { error_type, error_message }) = self.init_error() {
            lock(&self.shared.waiting).remove(request_id);
            return Ok(InvocationResult::InitError { error_type, error_message });
        }
        let deadline_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() + timeout.as_millis();
        let invocation = Invocation { request_id: request_id.to_owned(), payload, deadline_ms };
        self.shared.queue_tx.send(invocation).map_err(|_| anyhow::anyhow!("the emulator's queue is closed"))?;

        match tokio::time::timeout(timeout, answer_rx).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) => bail!("the emulator dropped invocation {request_id} without an answer"),
            Err(_) => {
                lock(&self.shared.waiting).remove(request_id);
                bail!("the function did not answer invocation {request_id} within {timeout:?}")
            }
        }
    }

    /// Starts the workspace binary `name` (e.g. `api`) against this emulator.
    ///
    /// The environment is cleared, then gets what Lambda sets (`AWS_LAMBDA_RUNTIME_API`,
    /// function name, memory size, version, `AWS_LAMBDA_LOG_FORMAT=JSON`) and `env`, so nothing
    /// from the developer's shell (`RUST_LOG`, `CALSYNC_*`) changes what the test sees.
    pub fn spawn_function(&self, name: &str, env: &[(&str, &str)]) -> anyhow::Result<FunctionProcess> {
        let binary = function_binary(name)?;
        let mut command = Command::new(&binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", self.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().with_context(|| format!("starting {}", binary.display()))?;

        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            readers.push(capture(pipe, stdout.clone()));
        }
        if let Some(pipe) = child.stderr.take() {
            readers.push(capture(pipe, stderr.clone()));
        }
        Ok(FunctionProcess { child, stdout, stderr, readers })
    }
}

/// Path of a workspace binary next to the running test executable.
///
/// Test executables live in `target/<profile>/deps/`, the binaries in `target/<profile>/`, and
/// cargo builds a test crate's binaries only for its own package, so the function binaries must
/// have been built beforehand.
pub fn function_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test executable")?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .with_context(|| format!("{} is not inside a cargo target directory", exe.display()))?;
    let binary = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        bail!("{} is missing: build the function binaries first: cargo build --workspace --bins", binary.display());
    }
    Ok(binary)
}

fn capture(mut pipe: impl Read + Send + 'static, sink: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut chunk = [0_u8; 8192];
        loop {
            match pipe.read(&mut chunk) {
                // EOF: the process exited (or closed the stream).
                Ok(0) => break,
                Ok(n) => lock(&sink).extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    })
}

/// A function binary running against the emulator; killed when dropped.
pub struct FunctionProcess {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for FunctionProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionProcess").field("pid", &self.child.id()).finish_non_exhaustive()
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        // Errors mean it has already exited; reaping it avoids a zombie for the test run.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl FunctionProcess {
    /// Everything the process wrote to stdout so far (the runtime's log subscriber writes here).
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stdout)).into_owned()
    }

    /// Everything the process wrote to stderr so far (`main`'s returned error lands here).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// Waits until stdout holds a line for which `found` is true, up to `timeout`; the output
    /// is read by another thread, so a line logged before an answer may arrive just after it.
    pub async fn wait_for_stdout_line(&self, timeout: Duration, found: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        let start = Instant::now();
        loop {
            if self.stdout().lines().any(&found) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!(
                    "no matching line on stdout within {timeout:?}; stdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits up to `timeout` for the process to exit, then for its output to be read in full.
    pub async fn wait_for_exit(&mut self, timeout: Duration) -> anyhow::Result<ExitStatus> {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if start.elapsed() > timeout {
                bail!(
                    "the function did not exit within {timeout:?}; stdout:\n{}\nstderr:\n{}",
                    self.stdout(),
                    self.stderr()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        while !self.readers.iter().all(JoinHandle::is_finished) && start.elapsed() <= timeout {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(status)
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    // One runtime polls at a time; holding the receiver while waiting is the long poll.
    let Some(invocation) = shared.queue_rx.lock().await.recv().await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the emulator is shutting down").into_response();
    };
    let mut headers = HeaderMap::new();
    let trace_id = trace_id(&invocation.request_id);
    let values = [
        ("lambda-runtime-aws-request-id", invocation.request_id.clone()),
        ("lambda-runtime-deadline-ms", invocation.deadline_ms.to_string()),
        ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:eu-west-1:123456789012:function:emulated".to_owned()),
        ("lambda-runtime-trace-id", trace_id),
    ];
    for (name, value) in values {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                headers.insert(name, value);
            }
            Err(_) => {
                return (StatusCode::INTERNAL_SERVER_ERROR, format!("bad {name} header")).into_response();
            }
        }
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    (headers, invocation.payload.to_string()).into_response()
}

/// An X-Ray trace header shaped like Lambda's, derived from the request id.
fn trace_id(request_id: &str) -> String {
    let hex: String =
        request_id.chars().filter(char::is_ascii_hexdigit).chain(std::iter::repeat('0')).take(40).collect();
    format!("Root=1-{}-{};Parent={};Sampled=0", &hex[..8], &hex[8..32], &hex[24..40])
}

fn answer(shared: &Shared, request_id: &str, result: InvocationResult) -> StatusCode {
    match lock(&shared.waiting).remove(request_id) {
        Some(waiter) => {
            // The invoker may have timed out and gone; nothing to tell it then.
            let _ = waiter.send(result);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    answer(&shared, &id, InvocationResult::Response(value))
}

async fn invocation_error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: Bytes) -> StatusCode {
    let Diagnostic { error_type, error_message } = diagnostic(&body);
    answer(&shared, &id, InvocationResult::Error { error_type, error_message })
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    let diagnostic = diagnostic(&body);
    *lock(&shared.init_error) = Some(diagnostic.clone());
    // Whoever is waiting will get no answer from this process.
    for (_, waiter) in lock(&shared.waiting).drain() {
        let Diagnostic { error_type, error_message } = diagnostic.clone();
        let _ = waiter.send(InvocationResult::InitError { error_type, error_message });
    }
    StatusCode::ACCEPTED
}

/// Reads a `Diagnostic`; a malformed one is kept as its raw text so the test shows it.
fn diagnostic(body: &[u8]) -> Diagnostic {
    serde_json::from_slice(body).unwrap_or_else(|_| Diagnostic {
        error_type: "Emulator.MalformedDiagnostic".to_owned(),
        error_message: String::from_utf8_lossy(body).into_owned(),
    })
}
