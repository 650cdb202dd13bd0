//! The end-user authorization flow as tests drive it: the authorize page opened the way the
//! SDKs link to it, its forms submitted, and the code exchanged for tokens.

use axum::body::Body;
use calsync_core::{AppState, domain::Application};
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use reqwest::Url;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::api::TestApi;

/// The redirect URI test applications register.
pub const REDIRECT: &str = "https://app.example/callback";

/// A response as the tests read it: status, headers and the body as text.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

pub async fn send_to(state: &AppState, method: Method, uri: &str, content_type: Option<&str>, body: String) -> Reply {
    let mut builder = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, "Bearer None");
    if let Some(content_type) = content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    let response =
        calsync_core::api::app(state.clone()).oneshot(builder.body(Body::from(body)).unwrap()).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply { status, headers, body: String::from_utf8(bytes.to_vec()).unwrap() }
}

/// Form-encodes `pairs`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut url = Url::parse("http://form.invalid/").unwrap();
    url.query_pairs_mut().extend_pairs(pairs);
    url.query().unwrap_or_default().to_owned()
}

pub fn authorize_uri(pairs: &[(&str, &str)]) -> String {
    format!("/oauth/authorize?{}", form(pairs))
}

/// The query parameters of an absolute URL.
pub fn query_of(url: &str) -> Vec<(String, String)> {
    Url::parse(url).unwrap().query_pairs().into_owned().collect()
}

/// The value of the page's hidden `request` field.
pub fn request_id(page: &str) -> String {
    let start = page.find("name=\"request\" value=\"").expect("the page has a request field") + 22;
    page[start..].split('"').next().unwrap().to_owned()
}

/// Opens the authorize page the way pycronofy's `user_auth_link` links to it.
pub async fn open_page(api: &TestApi, app: &Application, scope: Option<&str>, state: &str) -> Reply {
    let mut pairs = vec![("response_type", "code"), ("client_id", app.client_id.as_str()), ("redirect_uri", REDIRECT)];
    if let Some(scope) = scope {
        pairs.push(("scope", scope));
    }
    pairs.extend([("state", state), ("provider_name", ""), ("avoid_linking", "False")]);
    send_to(&api.state, Method::GET, &authorize_uri(&pairs), None, String::new()).await
}

pub async fn submit(api: &TestApi, fields: &[(&str, &str)]) -> Reply {
    send_to(&api.state, Method::POST, "/oauth/authorize", Some("application/x-www-form-urlencoded"), form(fields)).await
}

pub async fn exchange(api: &TestApi, app: &Application, secret: &str, code: &str) -> (StatusCode, Value) {
    api.post(
        "/oauth/token",
        Some("None"),
        json!({"client_id": app.client_id, "client_secret": secret, "grant_type": "authorization_code",
               "code": code, "redirect_uri": REDIRECT}),
    )
    .await
}
