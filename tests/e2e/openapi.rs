//! `/openapi.json` against the router, both ways: every documented route is routed, and every
//! route the API has is documented (the list below is the API's route table; a new route must be
//! added to it and to the document).

use std::collections::BTreeSet;

use calsync_tests::{api::TestApi, db::Backend};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

/// Every (method, path) the API serves.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/health"),
    ("GET", "/openapi.json"),
    ("GET", "/oauth/authorize"),
    ("POST", "/oauth/authorize"),
    ("GET", "/enterprise_connect/oauth/authorize"),
    ("POST", "/enterprise_connect/oauth/authorize"),
    ("GET", "/enterprise_connect/callback/microsoft"),
    ("GET", "/oauth/callback/google"),
    ("GET", "/oauth/callback/microsoft"),
    ("POST", "/push/google"),
    ("POST", "/push/microsoft/{channel}"),
    ("POST", "/push/microsoft/{channel}/lifecycle"),
    ("POST", "/oauth/token"),
    ("POST", "/oauth/token/revoke"),
    ("POST", "/v1/application_calendars"),
    ("GET", "/v1/userinfo"),
    ("GET", "/v1/account"),
    ("GET", "/v1/profiles"),
    ("POST", "/v1/profiles/{profile_id}/revoke"),
    ("GET", "/v1/calendars"),
    ("POST", "/v1/calendars"),
    ("GET", "/v1/events"),
    ("DELETE", "/v1/events"),
    ("GET", "/v1/events/pages/{token}"),
    ("GET", "/v1/free_busy"),
    ("GET", "/v1/free_busy/pages/{token}"),
    ("POST", "/v1/calendars/{calendar_id}/events"),
    ("DELETE", "/v1/calendars/{calendar_id}/events"),
    ("POST", "/v1/calendars/{calendar_id}/events/{event_uid}/participation_status"),
    ("POST", "/v1/batch"),
    ("POST", "/v1/channels"),
    ("GET", "/v1/channels"),
    ("DELETE", "/v1/channels/{channel_id}"),
    ("POST", "/v1/smart_invites"),
    ("GET", "/v1/smart_invites"),
    ("POST", "/inbound/smart_invite_replies"),
    ("POST", "/v1/service_account_authorizations"),
    ("GET", "/admin/v1/applications"),
    ("POST", "/admin/v1/applications"),
    ("GET", "/admin/v1/applications/{id}"),
    ("PATCH", "/admin/v1/applications/{id}"),
    ("POST", "/admin/v1/applications/{id}/rotate_secret"),
    ("POST", "/admin/v1/gdpr_requests"),
    ("GET", "/admin/v1/gdpr_requests"),
    ("GET", "/admin/v1/gdpr_requests/{id}"),
    ("PATCH", "/admin/v1/gdpr_requests/{id}"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn served_document(api: &TestApi) -> Value {
    let (status, document) = api.request(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    document
}

fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (key, _) in item.as_object().expect("path item") {
            if METHODS.contains(&key.as_str()) {
                routes.insert((key.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// The path with every `{param}` replaced by a dummy id.
fn concrete_path(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') { "dummy-id" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves a local `$ref` (`#/components/...`).
fn resolve<'a>(document: &'a Value, reference: &str) -> Option<&'a Value> {
    document.pointer(reference.strip_prefix('#')?)
}

fn collect_refs<'a>(value: &'a Value, refs: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                refs.push(r);
            }
            map.values().for_each(|v| collect_refs(v, refs));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_with_every_reference_resolving() {
    let api = TestApi::new(Backend::Sqlite).await;
    let response = calsync_core::api::app(api.state.clone())
        .oneshot(http::Request::get("/openapi.json").body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()[http::header::CONTENT_TYPE], "application/json");
    let document = served_document(&api).await;

    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document["info"]["title"], "calsync API");
    assert_eq!(
        document["components"]["securitySchemes"]["accessToken"],
        json!({ "type": "http", "scheme": "bearer", "description": "An end-user authorization's access token." })
    );
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(refs.len() > 50, "the document reuses its components: {} refs", refs.len());
    let dangling: Vec<_> = refs.iter().filter(|r| resolve(&document, r).is_none()).collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:?}");

    for (method, path) in documented_routes(&document) {
        let operation = &document["paths"][&path][method.to_lowercase()];
        assert!(operation["operationId"].is_string(), "{method} {path} has no operationId");
        let responses = operation["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: responses"));
        assert!(
            responses.keys().any(|code| code.starts_with('2') || code.starts_with('3')),
            "{method} {path} documents no success"
        );
        // `{name}` segments are declared as path parameters, directly or through a reference.
        let declared: BTreeSet<String> = operation["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| if let Some(r) = p["$ref"].as_str() { resolve(&document, r).unwrap() } else { p })
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        let in_path: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(declared, in_path, "{method} {path}: path parameters");
    }
    api.cleanup().await;
}

#[tokio::test]
async fn every_route_of_the_api_is_documented_and_nothing_else() {
    let api = TestApi::new(Backend::Sqlite).await;
    let document = served_document(&api).await;
    let expected: BTreeSet<(String, String)> =
        ROUTES.iter().map(|(method, path)| ((*method).to_owned(), (*path).to_owned())).collect();

    let documented = documented_routes(&document);
    assert_eq!(
        documented.difference(&expected).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented but not in the route table"
    );
    assert_eq!(
        expected.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "routed but not documented"
    );
    api.cleanup().await;
}

#[tokio::test]
async fn every_documented_route_is_routed() {
    let api = TestApi::new(Backend::Sqlite).await;
    let document = served_document(&api).await;

    // axum answers an unrouted path with an empty 404 and a wrong method with 405; every handler's
    // own 404 has a JSON body, so "not found" is told apart from "no such route".
    let mut unrouted = Vec::new();
    for (method, path) in documented_routes(&document) {
        let concrete = concrete_path(&path);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method != Method::GET).then(|| json!({}));
        let (status, response) = api.request(method.clone(), &concrete, None, body).await;
        if status == StatusCode::METHOD_NOT_ALLOWED || (status == StatusCode::NOT_FOUND && response.is_null()) {
            unrouted.push(format!("{method} {path} -> {status}"));
        }
    }
    assert!(unrouted.is_empty(), "documented but not routed:\n{}", unrouted.join("\n"));
    api.cleanup().await;
}

#[tokio::test]
async fn no_documented_path_answers_an_undocumented_method() {
    let api = TestApi::new(Backend::Sqlite).await;
    let documented = documented_routes(&served_document(&api).await);
    let paths: BTreeSet<&String> = documented.iter().map(|(_, path)| path).collect();

    let mut undocumented = Vec::new();
    for path in paths {
        let concrete = concrete_path(path);
        for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            if documented.contains(&(method.to_string(), path.clone())) {
                continue;
            }
            let (status, _) = api.request(method.clone(), &concrete, None, Some(json!({}))).await;
            if status != StatusCode::METHOD_NOT_ALLOWED {
                undocumented.push(format!("{method} {path} -> {status}"));
            }
        }
    }
    assert!(undocumented.is_empty(), "routed but not documented:\n{}", undocumented.join("\n"));
    api.cleanup().await;
}
