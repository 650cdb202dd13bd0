//! A callback endpoint for push notification tests: listens on loopback, answers each request
//! with the next status of a script (then 200), and keeps every request it received.

use std::sync::{Arc, Mutex};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

/// One request the receiver took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub signature: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    /// The status the receiver answered with.
    pub answered: u16,
}

#[derive(Debug, Default)]
struct Shared {
    script: Vec<u16>,
    received: Vec<Received>,
    /// Where a 3xx answer points.
    location: Option<String>,
}

/// A running receiver.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl Receiver {
    /// Starts one that answers `script` in order, then 200 to everything.
    pub async fn start(script: &[u16]) -> Self {
        Self::start_with(script, None).await
    }

    /// Starts one that answers every request with a 302 to `location`.
    pub async fn redirecting_to(location: &str) -> Self {
        Self::start_with(&[302; 16], Some(location.to_owned())).await
    }

    async fn start_with(script: &[u16], location: Option<String>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}/callback", listener.local_addr().expect("addr"));
        let script = script.iter().rev().copied().collect();
        let shared = Arc::new(Mutex::new(Shared { script, received: Vec::new(), location }));
        let app = Router::new().fallback(receive).with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, shared }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().expect("receiver state").received.clone()
    }

    /// The bodies received, parsed.
    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.received().iter().map(|r| serde_json::from_str(&r.body).expect("a JSON body")).collect()
    }
}

async fn receive(State(shared): State<Arc<Mutex<Shared>>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut shared = shared.lock().expect("receiver state");
    let answered = shared.script.pop().unwrap_or(200);
    shared.received.push(Received {
        signature: header("cronofy-hmac-sha256"),
        content_type: header("content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
        answered,
    });
    let status = StatusCode::from_u16(answered).unwrap_or(StatusCode::OK);
    match (&shared.location, status.is_redirection()) {
        (Some(location), true) => (status, [(header::LOCATION, location.clone())]).into_response(),
        _ => status.into_response(),
    }
}
