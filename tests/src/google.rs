//! A fake Google for the end-to-end tests: one loopback HTTP server that speaks Google's OAuth 2.0
//! endpoints (authorize, token, userinfo) and the Calendar API v3 wire format (calendar list,
//! events with sync and page tokens, watch channels), scripted from Rust. Production code is
//! written against Google's documentation and runs against this fake, so the fake keeps Google's
//! documented field names, status codes and error bodies; where Google does more (recurrence
//! expansion, scope checks, ID tokens) the fake does less rather than invent behaviour.
//!
//! The token endpoint also takes the JWT bearer grant of service accounts with domain-wide
//! delegation (RFC 7523, Google's "server-to-server" flow): the RS256 signature is checked
//! against the public key registered for the client email, with `aud`, `iat`/`exp` (at most an
//! hour), the scope, and whether the subject's domain delegated that scope to the client id.

use crate::fake_http::{basic_credentials, param, parse_pairs, percent_decode, percent_encode, random};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeZone, Utc};
use reqwest::Url;
use serde_json::{Map, Value, json};

/// The OAuth client the fake knows; any other client is rejected like an unknown one at Google.
pub const CLIENT_ID: &str = "calsync-test.apps.googleusercontent.com";
/// The secret of [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "test-client-secret";
/// The scopes [`FakeGoogle::issue_tokens`] grants, space separated as Google returns them.
pub const ISSUED_SCOPE: &str =
    "https://www.googleapis.com/auth/calendar https://www.googleapis.com/auth/userinfo.email openid";
/// The account the authorize endpoint signs in as until [`FakeGoogle::sign_in_as`] says otherwise.
pub const DEFAULT_ACCOUNT: &str = "ada@gmail.example";

/// The grant type of RFC 7523.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google's access tokens live an hour less a second.
const ACCESS_TOKEN_SECONDS: u64 = 3599;
/// Every calendar of the fake is in London, which keeps all-day events and listings simple.
const TIME_ZONE: &str = "Europe/London";
const DEFAULT_PAGE_SIZE: usize = 250;
/// Google caps maxResults for events at 2500 and silently lowers larger values.
const MAX_PAGE_SIZE: usize = 2500;
/// Google's default (and maximum) lifetime of an events watch channel: a week.
const CHANNEL_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;

/// One request the fake received, as the tests inspect it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path as sent, percent-encoding kept (`/calendar/v3/calendars/ada%40gmail.example/events`).
    pub path: String,
    /// The query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// The fields of an `application/x-www-form-urlencoded` body (the token endpoint's), decoded.
    pub form: Vec<(String, String)>,
    /// The body when it is JSON.
    pub body: Option<Value>,
    pub if_match: Option<String>,
}

/// A watch channel on a calendar's events.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub resource_id: String,
    pub calendar_id: String,
    pub address: String,
    pub token: Option<String>,
    pub expiration_ms: i64,
}

/// A running fake Google. Clones share the same server and state.
#[derive(Debug, Clone)]
pub struct FakeGoogle {
    /// The base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl FakeGoogle {
    /// Starts one on a random loopback port.
    pub async fn start() -> Self {
        let (listener, url) = crate::fake_http::listen().await;
        let shared = Arc::new(Mutex::new(Shared::new(url.clone())));
        crate::fake_http::serve(listener, Router::new().fallback(handle).with_state(shared.clone()));
        FakeGoogle { url, shared }
    }

    fn state(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().expect("fake Google state")
    }

    /// Google's authorization endpoint.
    pub fn authorize_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.url)
    }

    /// Google's token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    /// The OpenID Connect userinfo endpoint.
    pub fn userinfo_url(&self) -> String {
        format!("{}/oauth2/v3/userinfo", self.url)
    }

    /// The Calendar API's base URL, `{url}/calendar/v3`.
    pub fn api_url(&self) -> String {
        format!("{}/calendar/v3", self.url)
    }

    /// The Google account the next authorization signs in as (default "ada@gmail.example").
    pub fn sign_in_as(&self, email: &str) {
        self.state().signed_in = email.to_owned();
    }

    /// Issues tokens for `email` directly (as if an authorization had happened), with
    /// [`ISSUED_SCOPE`]: (access_token, refresh_token).
    pub fn issue_tokens(&self, email: &str) -> (String, String) {
        let mut state = self.state();
        (state.mint_access(email), state.mint_refresh(email, ISSUED_SCOPE))
    }

    /// Makes every access token of the fake expire now (next API call with one gets 401).
    /// Tokens issued afterwards are valid again.
    pub fn expire_access_tokens(&self) {
        for token in self.state().access_tokens.values_mut() {
            token.expired = true;
        }
    }

    /// Revokes a refresh token: refreshing with it answers invalid_grant.
    pub fn revoke(&self, refresh_token: &str) {
        if let Some(token) = self.state().refresh_tokens.get_mut(refresh_token) {
            token.revoked = true;
        }
    }

    /// The next `n` calendar API requests (not token requests) answer with `status` (403 or 429
    /// with reason "rateLimitExceeded", 500 or any other status with "backendError"), with a
    /// Retry-After header when `retry_after_secs` is Some.
    pub fn throttle_next(&self, n: usize, status: u16, retry_after_secs: Option<u64>) {
        StatusCode::from_u16(status).expect("an HTTP status");
        self.state().throttle = Throttle { remaining: n, status, retry_after: retry_after_secs };
    }

    /// Registers a service account: JWT bearer grants with `iss` = `client_email` must be signed
    /// by the private key of `public_key_pem` (PKCS#1 `RSA PUBLIC KEY` PEM), and domains delegate
    /// to `client_id`.
    pub fn register_service_account(&self, client_email: &str, client_id: &str, public_key_pem: &str) {
        let der = pem_body(public_key_pem, "RSA PUBLIC KEY").expect("a PKCS#1 RSA PUBLIC KEY PEM");
        let account = ServiceAccount { client_id: client_id.to_owned(), public_key: der };
        self.state().service_accounts.insert(client_email.to_owned(), account);
    }

    /// A Workspace domain's administrator grants `client_id` domain-wide delegation for `scopes`
    /// (replacing what it had).
    pub fn delegate_domain(&self, domain: &str, client_id: &str, scopes: &[&str]) {
        let scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self.state().delegations.insert((domain.to_ascii_lowercase(), client_id.to_owned()), scopes);
    }

    /// The domain's administrator removes `client_id` from domain-wide delegation.
    pub fn withdraw_delegation(&self, domain: &str, client_id: &str) {
        self.state().delegations.remove(&(domain.to_ascii_lowercase(), client_id.to_owned()));
    }

    /// The time JWT assertions are checked against (default: the real clock), for tests whose
    /// calsync runs on a fixed clock.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.state().now = Some(now);
    }

    /// The account an access token was issued for (expired or not).
    pub fn token_owner(&self, access_token: &str) -> Option<String> {
        self.state().access_tokens.get(access_token).map(|t| t.email.clone())
    }

    /// The claims of every JWT bearer assertion the token endpoint could read, in order.
    pub fn jwt_grants(&self) -> Vec<Value> {
        self.state().jwt_grants.clone()
    }

    /// The next `n` token endpoint requests answer 503 (transient).
    pub fn fail_token_endpoint(&self, n: usize) {
        self.state().token_failures = n;
    }

    /// Adds a calendar to `email`'s calendar list and returns its id. `primary` calendars have the
    /// account's email as id (then `id` is ignored). Adding an id the list already holds replaces
    /// the entry (and shows up in the list's next incremental sync).
    pub fn add_calendar(&self, email: &str, id: &str, summary: &str, access_role: &str, primary: bool) -> String {
        assert!(
            matches!(access_role, "owner" | "writer" | "reader" | "freeBusyReader"),
            "unknown access role {access_role}"
        );
        let id = if primary { email.to_owned() } else { id.to_owned() };
        let mut state = self.state();
        let etag = state.next_etag();
        let calendar = state.calendars.entry(id.clone()).or_insert_with(Calendar::new);
        calendar.summary = summary.to_owned();
        let list = state.lists.entry(email.to_owned()).or_default();
        list.version += 1;
        let entry = ListEntry {
            id: id.clone(),
            access_role: access_role.to_owned(),
            primary,
            stamp: list.version,
            etag,
            deleted: false,
        };
        list.entries.retain(|e| e.id != id);
        list.entries.push(entry);
        id
    }

    /// Removes a calendar from `email`'s list (the user unsubscribed from it): full listings no
    /// longer show it, incremental ones report it `"deleted": true`.
    pub fn remove_calendar(&self, email: &str, id: &str) {
        let mut state = self.state();
        let etag = state.next_etag();
        let list = state.lists.get_mut(email).expect("the account has a calendar list");
        list.version += 1;
        let version = list.version;
        let entry = list.entries.iter_mut().find(|e| e.id == id).expect("the calendar is in the list");
        (entry.deleted, entry.stamp, entry.etag) = (true, version, etag);
    }

    /// A change made at Google (by the user on their phone): inserts or replaces the event with
    /// this `id` (one is generated when absent) in the calendar; the fake sets etag, updated,
    /// created (first time), sequence, iCalUID (default "<id>@google.com" unless given), kind.
    /// An event with status "cancelled" is stored as Google's cancelled stub. Returns the stored
    /// event.
    pub fn put_event(&self, calendar_id: &str, event: Value) -> Value {
        let Value::Object(event) = event else { panic!("an event is a JSON object") };
        let mut state = self.state();
        assert!(state.calendars.contains_key(calendar_id), "no calendar {calendar_id}: add_calendar first");
        state.save(calendar_id, event)
    }

    /// A deletion made at Google: the event stays listed to sync tokens as a cancelled stub
    /// (deleting a recurring event's master cancels its exceptions too, as at Google).
    pub fn delete_event(&self, calendar_id: &str, event_id: &str) {
        let mut state = self.state();
        let exists = state.calendars.get(calendar_id).is_some_and(|c| c.events.contains_key(event_id));
        assert!(exists, "no event {event_id} in calendar {calendar_id}");
        state.cancel(calendar_id, event_id);
    }

    /// Every event the calendar holds now (cancelled included), as Google would return it, in
    /// the order listings use (oldest change first).
    pub fn events(&self, calendar_id: &str) -> Vec<Value> {
        let state = self.state();
        let Some(calendar) = state.calendars.get(calendar_id) else { return Vec::new() };
        let mut events: Vec<&StoredEvent> = calendar.events.values().collect();
        events.sort_by(|a, b| (a.stamp, &a.id).cmp(&(b.stamp, &b.id)));
        events.into_iter().map(|e| e.json.clone()).collect()
    }

    /// One event as Google would return it, cancelled or not.
    pub fn event(&self, calendar_id: &str, event_id: &str) -> Option<Value> {
        self.state().calendars.get(calendar_id)?.events.get(event_id).map(|e| e.json.clone())
    }

    /// Makes every sync token issued so far invalid (next use answers 410 fullSyncRequired);
    /// an incremental listing being paged through fails the same way on its next page.
    pub fn invalidate_sync_tokens(&self) {
        let mut state = self.state();
        state.sync_tokens.clear();
        state.sync_generation += 1;
    }

    /// Page size used when the request has no maxResults (default 250; tests set it small to
    /// exercise paging). Applies to the calendar list as well as to events.
    pub fn set_page_size(&self, n: usize) {
        assert!(n > 0, "a page holds at least one item");
        self.state().page_size = n;
    }

    /// Every request the fake received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Calendar API requests only (paths under /calendar/v3), counted.
    pub fn api_request_count(&self) -> usize {
        self.state().requests.iter().filter(|r| r.path.starts_with("/calendar/v3/")).count()
    }

    /// Watch channels created and not stopped.
    pub fn channels(&self) -> Vec<Channel> {
        self.state().channels.iter().map(|c| c.channel.clone()).collect()
    }

    /// The stable `sub` the userinfo endpoint reports for `email`.
    pub fn subject(&self, email: &str) -> String {
        self.state().subject(email)
    }

    /// Sends a push notification on a channel the way Google does: a POST with no body and the
    /// X-Goog-* headers, `state` being "sync", "exists" or "not_exists". Returns the status the
    /// receiver answered, or 0 when it could not be reached. Panics on an unknown channel.
    pub async fn notify(&self, channel_id: &str, state: &str) -> u16 {
        let (channel, resource_uri, number) = {
            let mut shared = self.state();
            let channel = shared
                .channels
                .iter_mut()
                .find(|c| c.channel.id == channel_id)
                .unwrap_or_else(|| panic!("no watch channel {channel_id}"));
            channel.messages += 1;
            (channel.channel.clone(), channel.resource_uri.clone(), channel.messages)
        };
        let expiration = DateTime::from_timestamp_millis(channel.expiration_ms)
            .map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
            .unwrap_or_default();
        // Google does not follow redirects when it delivers notifications.
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client");
        let mut request = client
            .post(&channel.address)
            .header("X-Goog-Channel-ID", &channel.id)
            .header("X-Goog-Channel-Expiration", expiration)
            .header("X-Goog-Resource-ID", &channel.resource_id)
            .header("X-Goog-Resource-URI", resource_uri)
            .header("X-Goog-Resource-State", state)
            .header("X-Goog-Message-Number", number.to_string())
            .header(header::USER_AGENT, "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)")
            .body("");
        if let Some(token) = &channel.token {
            request = request.header("X-Goog-Channel-Token", token);
        }
        match request.send().await {
            Ok(response) => response.status().as_u16(),
            Err(_) => 0,
        }
    }
}

#[derive(Debug)]
struct Shared {
    url: String,
    signed_in: String,
    subjects: HashMap<String, String>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, AccessToken>,
    refresh_tokens: HashMap<String, RefreshToken>,
    /// Each account's calendar list, by email.
    lists: HashMap<String, CalendarList>,
    /// The calendars themselves, by id; several accounts may list one.
    calendars: HashMap<String, Calendar>,
    sync_tokens: HashMap<String, SyncPoint>,
    /// Bumped by `invalidate_sync_tokens`, so incremental listings being paged fail too.
    sync_generation: u64,
    page_tokens: HashMap<String, PageCursor>,
    channels: Vec<ChannelState>,
    etags: u64,
    page_size: usize,
    throttle: Throttle,
    token_failures: usize,
    requests: Vec<Request>,
    /// Service accounts by client email.
    service_accounts: HashMap<String, ServiceAccount>,
    /// Domain-wide delegation: (domain, client id) → scopes.
    delegations: HashMap<(String, String), Vec<String>>,
    jwt_grants: Vec<Value>,
    now: Option<DateTime<Utc>>,
}

/// A service account's client id and public key (PKCS#1 DER).
#[derive(Debug)]
struct ServiceAccount {
    client_id: String,
    public_key: Vec<u8>,
}

/// An authorization code and what it was issued for.
#[derive(Debug)]
struct Grant {
    email: String,
    redirect_uri: String,
    scope: String,
    /// Google issues a refresh token only for `access_type=offline`.
    offline: bool,
    /// PKCE: (code_challenge, code_challenge_method).
    challenge: Option<(String, String)>,
    used: bool,
}

#[derive(Debug)]
struct AccessToken {
    email: String,
    expires_at: Instant,
    expired: bool,
}

#[derive(Debug)]
struct RefreshToken {
    email: String,
    scope: String,
    revoked: bool,
}

#[derive(Debug, Default)]
struct CalendarList {
    /// Bumped by every change to the list; entries carry the version of their last change.
    version: u64,
    entries: Vec<ListEntry>,
}

#[derive(Debug, Clone)]
struct ListEntry {
    id: String,
    /// Removed from the list: only incremental listings show it, as `"deleted": true`.
    deleted: bool,
    access_role: String,
    primary: bool,
    stamp: u64,
    etag: String,
}

#[derive(Debug)]
struct Calendar {
    summary: String,
    /// The change counter sync tokens are made of: every change bumps it and stamps the event.
    version: u64,
    updated: DateTime<Utc>,
    /// Google's resourceId for the calendar's events collection, the same for every channel.
    resource_id: String,
    events: HashMap<String, StoredEvent>,
}

impl Calendar {
    fn new() -> Self {
        Calendar {
            summary: String::new(),
            version: 0,
            updated: Utc::now(),
            resource_id: random(),
            events: HashMap::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct StoredEvent {
    id: String,
    json: Value,
    /// The calendar version of the event's last change.
    stamp: u64,
    created: DateTime<Utc>,
    updated: DateTime<Utc>,
    /// Kept apart from the JSON because a cancelled stub does not carry it.
    ical_uid: String,
    sequence: i64,
}

impl StoredEvent {
    fn cancelled(&self) -> bool {
        self.json.get("status").and_then(Value::as_str) == Some("cancelled")
    }
}

/// What a sync token stands for.
#[derive(Debug, Clone)]
enum SyncPoint {
    Events { calendar_id: String, version: u64 },
    CalendarList { email: String, version: u64 },
}

/// What a page token stands for: the listing, where its last page ended, and the version its
/// next sync token will carry (taken when the first page was served).
#[derive(Debug, Clone)]
struct PageCursor {
    email: String,
    listing: Listing,
    after: (u64, String),
    sync_version: u64,
    generation: u64,
}

#[derive(Debug, Clone)]
enum Listing {
    Events { calendar_id: String, filter: EventFilter },
    CalendarList { since: Option<u64>, min_rank: u8 },
}

#[derive(Debug, Clone, Default)]
struct EventFilter {
    /// The version of the sync token of an incremental listing.
    since: Option<u64>,
    show_deleted: bool,
    time_min: Option<DateTime<Utc>>,
    time_max: Option<DateTime<Utc>>,
    updated_min: Option<DateTime<Utc>>,
    /// `iCalUID`: the event with that UID and its exceptions, which share it.
    ical_uid: Option<String>,
    /// `q`, lowercased: a free-text search, here over summary, description and location.
    text: Option<String>,
}

impl EventFilter {
    fn keeps(&self, event: &StoredEvent) -> bool {
        // An incremental listing returns every change since its token, cancellations included.
        if let Some(since) = self.since {
            return event.stamp > since;
        }
        let json = &event.json;
        if self.ical_uid.as_ref().is_some_and(|uid| *uid != event.ical_uid) {
            return false;
        }
        if let Some(text) = &self.text {
            let found = ["summary", "description", "location"]
                .iter()
                .filter_map(|key| json.get(*key).and_then(Value::as_str))
                .any(|field| field.to_lowercase().contains(text.as_str()));
            if !found {
                return false;
            }
        }
        let recent = self.updated_min.is_some_and(|min| event.updated >= min);
        // Google's documented exception: cancelled exceptions of recurring events are listed even
        // without showDeleted (singleEvents is always false here), and updatedMin lists deletions.
        let exception = json.get("recurringEventId").is_some();
        if event.cancelled() && !(self.show_deleted || exception || recent) {
            return false;
        }
        if self.updated_min.is_some() && !recent {
            return false;
        }
        // The fake does not expand recurrences, so a master stays whatever the window.
        if json.get("recurrence").is_some() {
            return true;
        }
        let bound = |key: &str| json.get(key).and_then(|v| parse_when(v).ok()).and_then(When::instant);
        if let (Some(min), Some(end)) = (self.time_min, bound("end")) {
            if end <= min {
                return false;
            }
        }
        if let (Some(max), Some(start)) = (self.time_max, bound("start")) {
            if start >= max {
                return false;
            }
        }
        true
    }
}

#[derive(Debug, Default)]
struct Throttle {
    remaining: usize,
    status: u16,
    retry_after: Option<u64>,
}

#[derive(Debug, Clone)]
struct ChannelState {
    channel: Channel,
    resource_uri: String,
    messages: u64,
}

async fn handle(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(mut shared) = shared.lock() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "fake Google state poisoned").into_response();
    };
    shared.serve(&method, &uri, &headers, &body)
}

impl Shared {
    fn new(url: String) -> Self {
        Shared {
            url,
            signed_in: DEFAULT_ACCOUNT.to_owned(),
            subjects: HashMap::new(),
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            lists: HashMap::new(),
            calendars: HashMap::new(),
            sync_tokens: HashMap::new(),
            sync_generation: 0,
            page_tokens: HashMap::new(),
            channels: Vec::new(),
            etags: 0,
            page_size: DEFAULT_PAGE_SIZE,
            throttle: Throttle::default(),
            token_failures: 0,
            requests: Vec::new(),
            service_accounts: HashMap::new(),
            delegations: HashMap::new(),
            jwt_grants: Vec::new(),
            now: None,
        }
    }

    fn next_etag(&mut self) -> String {
        self.etags += 1;
        format!("\"{}\"", 3_500_000_000_000_000 + self.etags)
    }

    fn subject(&mut self, email: &str) -> String {
        let next = self.subjects.len() + 1;
        self.subjects.entry(email.to_owned()).or_insert_with(|| format!("1{next:020}")).clone()
    }

    fn mint_access(&mut self, email: &str) -> String {
        let token = format!("ya29.{}", random());
        let expires_at = Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECONDS);
        self.access_tokens.insert(token.clone(), AccessToken { email: email.to_owned(), expires_at, expired: false });
        token
    }

    fn mint_refresh(&mut self, email: &str, scope: &str) -> String {
        let token = format!("1//{}", random());
        let refresh = RefreshToken { email: email.to_owned(), scope: scope.to_owned(), revoked: false };
        self.refresh_tokens.insert(token.clone(), refresh);
        token
    }

    /// The account a `Bearer` access token belongs to, if the token is valid now.
    fn account_of(&self, authorization: Option<&str>) -> Option<String> {
        let (scheme, token) = authorization?.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let token = self.access_tokens.get(token.trim())?;
        (!token.expired && Instant::now() < token.expires_at).then(|| token.email.clone())
    }

    fn serve(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
        let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let is_form = header(header::CONTENT_TYPE)
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let request = Request {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(parse_pairs).unwrap_or_default(),
            authorization: header(header::AUTHORIZATION),
            form: if is_form { parse_pairs(&String::from_utf8_lossy(body)) } else { Vec::new() },
            body: serde_json::from_slice(body).ok(),
            if_match: header(header::IF_MATCH),
        };
        self.requests.push(request.clone());
        let segments: Vec<String> =
            uri.path().trim_start_matches('/').split('/').map(|s| percent_decode(s, false)).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            ["o", "oauth2", "v2", "auth"] if method == Method::GET => self.authorize(&request),
            ["token"] if method == Method::POST => self.token(&request),
            ["oauth2", "v3", "userinfo"] => self.userinfo(&request),
            ["calendar", "v3", rest @ ..] => {
                let if_none_match = header(header::IF_NONE_MATCH);
                self.calendar_api(method, &request, if_none_match.as_deref(), rest)
            }
            _ => (StatusCode::NOT_FOUND, "Not Found").into_response(),
        }
    }

    // OAuth 2.0

    fn authorize(&mut self, request: &Request) -> Response {
        let param = |name: &str| param(&request.query, name);
        if param("client_id") != Some(CLIENT_ID) {
            return (StatusCode::BAD_REQUEST, "invalid_client").into_response();
        }
        if param("response_type") != Some("code") {
            return (StatusCode::BAD_REQUEST, "unsupported_response_type").into_response();
        }
        let Some(redirect_uri) = param("redirect_uri") else {
            return (StatusCode::BAD_REQUEST, "invalid_request: Missing required parameter: redirect_uri")
                .into_response();
        };
        let Ok(mut location) = Url::parse(redirect_uri) else {
            return (StatusCode::BAD_REQUEST, "redirect_uri_mismatch").into_response();
        };
        let Some(scope) = param("scope").filter(|s| !s.trim().is_empty()) else {
            return (StatusCode::BAD_REQUEST, "invalid_request: Missing required parameter: scope").into_response();
        };
        let challenge = param("code_challenge")
            .map(|c| (c.to_owned(), param("code_challenge_method").unwrap_or("plain").to_owned()));
        let code = format!("4/0A{}", random());
        let grant = Grant {
            email: self.signed_in.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scope.split_whitespace().collect::<Vec<_>>().join(" "),
            offline: param("access_type") == Some("offline"),
            challenge,
            used: false,
        };
        self.codes.insert(code.clone(), grant);
        {
            let mut pairs = location.query_pairs_mut();
            pairs.append_pair("code", &code);
            if let Some(state) = param("state") {
                pairs.append_pair("state", state);
            }
        }
        (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
    }

    fn token(&mut self, request: &Request) -> Response {
        if self.token_failures > 0 {
            self.token_failures -= 1;
            return oauth_json(StatusCode::SERVICE_UNAVAILABLE, json!({"error": "temporarily_unavailable"}));
        }
        let field = |name: &str| param(&request.form, name);
        // A service account's grant authenticates by its signature, not a client secret.
        if field("grant_type") == Some(JWT_BEARER_GRANT) {
            return self.jwt_bearer(field("assertion"));
        }
        let (client_id, client_secret) = match request.authorization.as_deref().and_then(basic_credentials) {
            Some((id, secret)) => (Some(id), Some(secret)),
            None => (field("client_id").map(str::to_owned), field("client_secret").map(str::to_owned)),
        };
        if client_id.as_deref() != Some(CLIENT_ID) || client_secret.as_deref() != Some(CLIENT_SECRET) {
            return oauth_json(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
            );
        }
        match field("grant_type") {
            Some("authorization_code") => {
                self.exchange_code(field("code"), field("redirect_uri"), field("code_verifier"))
            }
            Some("refresh_token") => {
                let Some((email, scope)) = field("refresh_token")
                    .and_then(|t| self.refresh_tokens.get(t))
                    .filter(|t| !t.revoked)
                    .map(|t| (t.email.clone(), t.scope.clone()))
                else {
                    return invalid_grant("Token has been expired or revoked.");
                };
                // Google does not rotate refresh tokens: the answer carries no new one.
                let access_token = self.mint_access(&email);
                oauth_json(
                    StatusCode::OK,
                    json!({"access_token": access_token, "expires_in": ACCESS_TOKEN_SECONDS, "scope": scope,
                           "token_type": "Bearer"}),
                )
            }
            _ => oauth_json(StatusCode::BAD_REQUEST, json!({"error": "unsupported_grant_type"})),
        }
    }

    fn exchange_code(&mut self, code: Option<&str>, redirect_uri: Option<&str>, verifier: Option<&str>) -> Response {
        let Some(grant) = code.and_then(|c| self.codes.get_mut(c)) else { return invalid_grant("Bad Request") };
        if grant.used || Some(grant.redirect_uri.as_str()) != redirect_uri {
            return invalid_grant("Bad Request");
        }
        if let Some((challenge, method)) = &grant.challenge {
            let Some(verifier) = verifier else { return invalid_grant("Missing code verifier.") };
            let computed = match method.as_str() {
                "S256" => base64url(&sha256(verifier.as_bytes())),
                _ => verifier.to_owned(),
            };
            if &computed != challenge {
                return invalid_grant("Invalid code verifier.");
            }
        }
        grant.used = true;
        let (email, scope, offline) = (grant.email.clone(), grant.scope.clone(), grant.offline);
        let mut body = json!({"access_token": self.mint_access(&email), "expires_in": ACCESS_TOKEN_SECONDS,
                              "scope": scope, "token_type": "Bearer"});
        if offline {
            body["refresh_token"] = Value::String(self.mint_refresh(&email, &scope));
        }
        oauth_json(StatusCode::OK, body)
    }

    /// The JWT bearer grant of a service account (RFC 7523), as Google answers it.
    fn jwt_bearer(&mut self, assertion: Option<&str>) -> Response {
        let Some(assertion) = assertion else {
            return oauth_json(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "Missing required parameter: assertion"}),
            );
        };
        let parts: Vec<&str> = assertion.split('.').collect();
        let decode = |part: &str| -> Option<Vec<u8>> {
            use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
            URL_SAFE_NO_PAD.decode(part).ok()
        };
        let json_of = |part: &str| decode(part).and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
        let [header, claims, signature] = parts.as_slice() else { return invalid_grant("Invalid JWT Signature.") };
        let (Some(header_json), Some(claims_json), Some(signature)) =
            (json_of(header), json_of(claims), decode(signature))
        else {
            return invalid_grant("Invalid JWT Signature.");
        };
        self.jwt_grants.push(claims_json.clone());
        if header_json["alg"] != "RS256" {
            return invalid_grant("Invalid JWT Signature.");
        }
        let Some(account) = claims_json["iss"].as_str().and_then(|iss| self.service_accounts.get(iss)) else {
            return invalid_grant("Invalid grant: account not found");
        };
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            account.public_key.as_slice(),
        );
        if key.verify(format!("{header}.{claims}").as_bytes(), &signature).is_err() {
            return invalid_grant("Invalid JWT Signature.");
        }
        if claims_json["aud"].as_str() != Some(format!("{}/token", self.url).as_str()) {
            return invalid_grant("Invalid JWT: Failed audience check.");
        }
        let now = self.now.unwrap_or_else(Utc::now).timestamp();
        let (iat, exp) = (number(&claims_json["iat"]), number(&claims_json["exp"]));
        let timely = matches!((iat, exp), (Some(iat), Some(exp))
            if iat <= now + 60 && exp > now && exp > iat && exp - iat <= 3600);
        if !timely {
            return invalid_grant(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check \
                 your iat and exp values in the JWT claim.",
            );
        }
        let scopes: Vec<&str> = claims_json["scope"].as_str().unwrap_or_default().split_whitespace().collect();
        if scopes.is_empty() {
            return oauth_json(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_scope", "error_description": "Empty or missing scope not allowed."}),
            );
        }
        // Without `sub` the token is the service account's own; with one, the subject's domain
        // must have delegated every scope asked for to the service account's client id.
        let email = match claims_json["sub"].as_str() {
            None => claims_json["iss"].as_str().unwrap_or_default().to_owned(),
            Some(subject) => {
                let domain = subject.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
                let delegated = self.delegations.get(&(domain, account.client_id.clone()));
                if !delegated.is_some_and(|granted| scopes.iter().all(|s| granted.iter().any(|g| g == s))) {
                    return oauth_json(
                        StatusCode::UNAUTHORIZED,
                        json!({"error": "unauthorized_client", "error_description":
                               "Client is unauthorized to retrieve access tokens using this method, or client not \
                                authorized for any of the scopes requested."}),
                    );
                }
                if !self.lists.contains_key(subject) {
                    return invalid_grant("Invalid email or User ID");
                }
                subject.to_owned()
            }
        };
        let access_token = self.mint_access(&email);
        oauth_json(
            StatusCode::OK,
            json!({"access_token": access_token, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "Bearer"}),
        )
    }

    fn userinfo(&mut self, request: &Request) -> Response {
        let Some(email) = self.account_of(request.authorization.as_deref()) else {
            let mut response = oauth_json(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_request", "error_description": "Invalid Credentials"}),
            );
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(INVALID_TOKEN_CHALLENGE));
            return response;
        };
        json_response(StatusCode::OK, json!({"sub": self.subject(&email), "email": email, "email_verified": true}))
    }

    // Calendar API v3

    fn calendar_api(
        &mut self,
        method: &Method,
        request: &Request,
        if_none_match: Option<&str>,
        path: &[&str],
    ) -> Response {
        if self.throttle.remaining > 0 {
            self.throttle.remaining -= 1;
            return throttled(self.throttle.status, self.throttle.retry_after);
        }
        let Some(email) = self.account_of(request.authorization.as_deref()) else { return unauthenticated() };
        match path {
            ["users", "me", "calendarList"] if method == Method::GET => self.list_calendars(&email, &request.query),
            ["users", "me", "calendarList", calendar_id] if method == Method::GET => {
                match self.entry(&email, calendar_id) {
                    Some(entry) => json_response(StatusCode::OK, self.list_entry_json(&entry)),
                    None => not_found(),
                }
            }
            ["channels", "stop"] if method == Method::POST => self.stop_channel(request.body.as_ref()),
            ["calendars", calendar_id, rest @ ..] => {
                let Some(entry) = self.entry(&email, calendar_id) else { return not_found() };
                let (id, role) = (entry.id.as_str(), entry.access_role.as_str());
                let body = request.body.as_ref();
                let if_match = request.if_match.as_deref();
                match (method.as_str(), rest) {
                    ("GET", []) => self.calendar_json(id),
                    ("GET", ["events"]) => self.list_events(&email, id, role, &request.query),
                    ("POST", ["events"]) => self.insert_event(id, role, body),
                    ("POST", ["events", "watch"]) => self.watch(id, calendar_id, body),
                    ("GET", ["events", event_id]) => self.get_event(id, event_id, if_none_match),
                    ("PATCH", ["events", event_id]) => self.change_event(id, role, event_id, body, if_match, true),
                    ("PUT", ["events", event_id]) => self.change_event(id, role, event_id, body, if_match, false),
                    ("DELETE", ["events", event_id]) => self.delete(id, role, event_id, if_match),
                    _ => not_found(),
                }
            }
            _ => not_found(),
        }
    }

    /// The account's list entry for a calendar id as the path names it ("primary" included).
    fn entry(&self, email: &str, calendar_id: &str) -> Option<ListEntry> {
        let list = self.lists.get(email)?;
        list.entries
            .iter()
            .filter(|e| !e.deleted)
            .find(|e| if calendar_id == "primary" { e.primary } else { e.id == calendar_id })
            .cloned()
    }

    fn list_entry_json(&self, entry: &ListEntry) -> Value {
        let summary = self.calendars.get(&entry.id).map(|c| c.summary.clone()).unwrap_or_default();
        let mut item = json!({
            "kind": "calendar#calendarListEntry",
            "etag": entry.etag,
            "id": entry.id,
            "summary": summary,
            "timeZone": TIME_ZONE,
            "backgroundColor": "#9fe1e7",
            "foregroundColor": "#000000",
            "accessRole": entry.access_role,
        });
        if entry.primary {
            item["primary"] = Value::Bool(true);
        }
        if entry.deleted {
            item["deleted"] = Value::Bool(true);
        }
        item
    }

    fn calendar_json(&self, calendar_id: &str) -> Response {
        let Some(calendar) = self.calendars.get(calendar_id) else { return not_found() };
        json_response(
            StatusCode::OK,
            json!({"kind": "calendar#calendar", "etag": format!("\"c{}\"", calendar.version), "id": calendar_id,
                   "summary": calendar.summary, "timeZone": TIME_ZONE}),
        )
    }

    fn list_calendars(&mut self, email: &str, query: &[(String, String)]) -> Response {
        let param = |name: &str| param(query, name);
        let size = match page_size(param("maxResults"), self.page_size) {
            Ok(size) => size,
            Err(error) => return error.into_response(),
        };
        let list_version = self.lists.get(email).map_or(0, |l| l.version);
        let (since, min_rank, after, sync_version) = if let Some(token) = param("pageToken") {
            match self.page_tokens.get(token) {
                Some(PageCursor {
                    email: owner,
                    listing: Listing::CalendarList { since, min_rank },
                    after,
                    sync_version,
                    ..
                }) if owner == email => (*since, *min_rank, Some(after.clone()), *sync_version),
                _ => return bad_request("invalid", "Invalid page token value."),
            }
        } else {
            let since = match param("syncToken") {
                None => None,
                Some(token) => match self.sync_tokens.get(token) {
                    Some(SyncPoint::CalendarList { email: owner, version }) if owner == email => Some(*version),
                    _ => return full_sync_required(),
                },
            };
            let min_rank = match param("minAccessRole") {
                None => 0,
                Some(role) => match role_rank(role) {
                    Some(rank) => rank,
                    None => return bad_request("invalid", "Invalid value for: minAccessRole"),
                },
            };
            (since, min_rank, None, list_version)
        };
        let entries = self.lists.get(email).map(|l| l.entries.clone()).unwrap_or_default();
        let mut matching: Vec<(u64, String, Value)> = entries
            .iter()
            .filter(|e| since.is_none_or(|since| e.stamp > since))
            .filter(|e| since.is_some() || !e.deleted)
            .filter(|e| role_rank(&e.access_role).unwrap_or(0) >= min_rank)
            .filter(|e| after.as_ref().is_none_or(|(stamp, id)| (e.stamp, &e.id) > (*stamp, id)))
            .map(|e| (e.stamp, e.id.clone(), self.list_entry_json(e)))
            .collect();
        matching.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let (items, next) = take_page(matching, size);
        let mut body = json!({"kind": "calendar#calendarList", "etag": format!("\"l{sync_version}\""), "items": items});
        match next {
            Some(after) => {
                let token = random();
                let listing = Listing::CalendarList { since, min_rank };
                let cursor = PageCursor {
                    email: email.to_owned(),
                    listing,
                    after,
                    sync_version,
                    generation: self.sync_generation,
                };
                self.page_tokens.insert(token.clone(), cursor);
                body["nextPageToken"] = Value::String(token);
            }
            None => {
                let token = random();
                self.sync_tokens
                    .insert(token.clone(), SyncPoint::CalendarList { email: email.to_owned(), version: sync_version });
                body["nextSyncToken"] = Value::String(token);
            }
        }
        json_response(StatusCode::OK, body)
    }

    fn list_events(&mut self, email: &str, calendar_id: &str, role: &str, query: &[(String, String)]) -> Response {
        let param = |name: &str| param(query, name);
        if param("singleEvents") == Some("true") {
            return bad_request("badRequest", "The fake Google does not expand recurring events (singleEvents=true).");
        }
        // The parameters Google documents as incompatible with a sync token.
        let restricted = [
            "timeMin",
            "timeMax",
            "updatedMin",
            "iCalUID",
            "orderBy",
            "q",
            "privateExtendedProperty",
            "sharedExtendedProperty",
        ]
        .iter()
        .any(|name| param(name).is_some());
        if param("syncToken").is_some() && restricted {
            return bad_request(
                "syncTokenWithRequestRestrictions",
                "Sync token cannot be used with other request restrictions.",
            );
        }
        match param("orderBy") {
            None | Some("updated") => {}
            Some("startTime") => {
                return bad_request("badRequest", "The requested ordering is not available for the particular query.");
            }
            Some(_) => return bad_request("invalid", "Invalid value for: orderBy"),
        }
        let size = match page_size(param("maxResults"), self.page_size) {
            Ok(size) => size,
            Err(error) => return error.into_response(),
        };
        let Some(version) = self.calendars.get(calendar_id).map(|c| c.version) else { return not_found() };
        let (filter, after, sync_version) = if let Some(token) = param("pageToken") {
            match self.page_tokens.get(token) {
                Some(PageCursor {
                    email: owner,
                    listing: Listing::Events { calendar_id: listed, filter },
                    after,
                    sync_version,
                    generation,
                }) if owner == email && listed == calendar_id => {
                    if filter.since.is_some() && *generation < self.sync_generation {
                        return full_sync_required();
                    }
                    (filter.clone(), Some(after.clone()), *sync_version)
                }
                _ => return bad_request("invalid", "Invalid page token value."),
            }
        } else {
            let since = match param("syncToken") {
                None => None,
                Some(token) => match self.sync_tokens.get(token) {
                    Some(SyncPoint::Events { calendar_id: synced, version }) if synced == calendar_id => Some(*version),
                    _ => return full_sync_required(),
                },
            };
            let time = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
                match param(name) {
                    None => Ok(None),
                    Some(text) => DateTime::parse_from_rfc3339(text)
                        .map(|t| Some(t.with_timezone(&Utc)))
                        .map_err(|_| ApiError::bad_request("badRequest", "Bad Request")),
                }
            };
            let filter = EventFilter {
                since,
                show_deleted: param("showDeleted") == Some("true"),
                time_min: match time("timeMin") {
                    Ok(t) => t,
                    Err(error) => return error.into_response(),
                },
                time_max: match time("timeMax") {
                    Ok(t) => t,
                    Err(error) => return error.into_response(),
                },
                updated_min: match time("updatedMin") {
                    Ok(t) => t,
                    Err(error) => return error.into_response(),
                },
                ical_uid: param("iCalUID").map(str::to_owned),
                text: param("q").map(str::to_lowercase),
            };
            (filter, None, version)
        };
        let Some(calendar) = self.calendars.get(calendar_id) else { return not_found() };
        let mut matching: Vec<(u64, String, Value)> = calendar
            .events
            .values()
            .filter(|e| filter.keeps(e))
            .filter(|e| after.as_ref().is_none_or(|(stamp, id)| (e.stamp, &e.id) > (*stamp, id)))
            .map(|e| (e.stamp, e.id.clone(), e.json.clone()))
            .collect();
        matching.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let (items, next) = take_page(matching, size);
        let mut body = json!({
            "kind": "calendar#events",
            "etag": format!("\"p{sync_version}\""),
            "summary": calendar.summary,
            "updated": rfc3339(calendar.updated),
            "timeZone": TIME_ZONE,
            "accessRole": role,
            "defaultReminders": [],
            "items": items,
        });
        match next {
            Some(after) => {
                let token = random();
                let cursor = PageCursor {
                    email: email.to_owned(),
                    listing: Listing::Events { calendar_id: calendar_id.to_owned(), filter },
                    after,
                    sync_version,
                    generation: self.sync_generation,
                };
                self.page_tokens.insert(token.clone(), cursor);
                body["nextPageToken"] = Value::String(token);
            }
            None => {
                let token = random();
                let point = SyncPoint::Events { calendar_id: calendar_id.to_owned(), version: sync_version };
                self.sync_tokens.insert(token.clone(), point);
                body["nextSyncToken"] = Value::String(token);
            }
        }
        json_response(StatusCode::OK, body)
    }

    fn insert_event(&mut self, calendar_id: &str, role: &str, body: Option<&Value>) -> Response {
        if !writable(role) {
            return forbidden_to_write();
        }
        let Some(Value::Object(event)) = body.cloned() else { return parse_error() };
        if let Some(id) = event.get("id") {
            let Some(id) = id.as_str().filter(|id| valid_event_id(id)) else {
                return bad_request("invalid", "Invalid resource id value.");
            };
            if self.calendars.get(calendar_id).is_some_and(|c| c.events.contains_key(id)) {
                return google_error(
                    StatusCode::CONFLICT,
                    "global",
                    "duplicate",
                    "The requested identifier already exists.",
                );
            }
        }
        if let Err(error) = check_times(&event) {
            return error.into_response();
        }
        json_response(StatusCode::OK, self.save(calendar_id, event))
    }

    fn get_event(&self, calendar_id: &str, event_id: &str, if_none_match: Option<&str>) -> Response {
        let Some(stored) = self.calendars.get(calendar_id).and_then(|c| c.events.get(event_id)) else {
            return not_found();
        };
        if if_none_match.is_some() && if_none_match == stored.json.get("etag").and_then(Value::as_str) {
            return StatusCode::NOT_MODIFIED.into_response();
        }
        json_response(StatusCode::OK, stored.json.clone())
    }

    /// PATCH (`merge`: top-level keys of the body replace the event's, null removes one) or PUT
    /// (the body replaces the event).
    fn change_event(
        &mut self,
        calendar_id: &str,
        role: &str,
        event_id: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
        merge: bool,
    ) -> Response {
        if !writable(role) {
            return forbidden_to_write();
        }
        let Some(stored) = self.calendars.get(calendar_id).and_then(|c| c.events.get(event_id)) else {
            return not_found();
        };
        if let Err(error) = precondition(stored, if_match) {
            return error.into_response();
        }
        let Some(Value::Object(changes)) = body.cloned() else { return parse_error() };
        let mut event = if merge { stored.json.as_object().cloned().unwrap_or_default() } else { Map::new() };
        for (key, value) in changes {
            if value.is_null() {
                event.remove(&key);
            } else {
                event.insert(key, value);
            }
        }
        event.insert("id".to_owned(), Value::String(event_id.to_owned()));
        if event.get("status").and_then(Value::as_str) != Some("cancelled") {
            if let Err(error) = check_times(&event) {
                return error.into_response();
            }
        }
        json_response(StatusCode::OK, self.save(calendar_id, event))
    }

    fn delete(&mut self, calendar_id: &str, role: &str, event_id: &str, if_match: Option<&str>) -> Response {
        if !writable(role) {
            return forbidden_to_write();
        }
        let Some(stored) = self.calendars.get(calendar_id).and_then(|c| c.events.get(event_id)) else {
            return not_found();
        };
        if stored.cancelled() {
            return google_error(StatusCode::GONE, "global", "deleted", "Resource has been deleted");
        }
        if let Err(error) = precondition(stored, if_match) {
            return error.into_response();
        }
        self.cancel(calendar_id, event_id);
        StatusCode::NO_CONTENT.into_response()
    }

    fn watch(&mut self, calendar_id: &str, path_id: &str, body: Option<&Value>) -> Response {
        let Some(body) = body.filter(|b| b.is_object()) else { return parse_error() };
        let text = |key: &str| body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        let Some(id) = text("id") else { return bad_request("required", "Required") };
        let Some(address) = text("address") else { return bad_request("required", "Required") };
        if !matches!(text("type").as_deref(), Some("web_hook" | "webhook")) {
            return bad_request("invalid", "Invalid value for: type");
        }
        if self.channels.iter().any(|c| c.channel.id == id) {
            return bad_request("channelIdNotUnique", "Channel id not unique");
        }
        let now_ms = Utc::now().timestamp_millis();
        let mut expiration_ms = now_ms + CHANNEL_LIFETIME_MS;
        if let Some(ttl) = body.get("params").and_then(|p| p.get("ttl")).and_then(number) {
            expiration_ms = expiration_ms.min(now_ms + ttl.saturating_mul(1000));
        }
        if let Some(requested) = body.get("expiration").and_then(number) {
            expiration_ms = expiration_ms.min(requested);
        }
        let Some(resource_id) = self.calendars.get(calendar_id).map(|c| c.resource_id.clone()) else {
            return not_found();
        };
        let resource_uri = format!("{}/calendars/{}/events?alt=json", self.api_url(), percent_encode(path_id));
        let channel = Channel {
            id,
            resource_id,
            calendar_id: calendar_id.to_owned(),
            address,
            token: text("token"),
            expiration_ms,
        };
        let mut answer = json!({
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": resource_uri,
            "expiration": expiration_ms.to_string(),
        });
        if let Some(token) = &channel.token {
            answer["token"] = Value::String(token.clone());
        }
        self.channels.push(ChannelState { channel, resource_uri, messages: 0 });
        json_response(StatusCode::OK, answer)
    }

    fn stop_channel(&mut self, body: Option<&Value>) -> Response {
        let text = |key: &str| body.and_then(|b| b.get(key)).and_then(Value::as_str);
        let (Some(id), Some(resource_id)) = (text("id"), text("resourceId")) else {
            return bad_request("required", "Required");
        };
        let before = self.channels.len();
        self.channels.retain(|c| !(c.channel.id == id && c.channel.resource_id == resource_id));
        if self.channels.len() == before {
            return not_found();
        }
        StatusCode::NO_CONTENT.into_response()
    }

    fn api_url(&self) -> String {
        format!("{}/calendar/v3", self.url)
    }

    // Storage shared by the API and the control methods

    /// The email of an account that owns the calendar, for creator and organizer.
    fn owner_of(&self, calendar_id: &str) -> Option<String> {
        self.lists
            .iter()
            .find(|(_, list)| list.entries.iter().any(|e| e.id == calendar_id && e.access_role == "owner"))
            .map(|(email, _)| email.clone())
    }

    /// Stores an event (new or replacing), filling in the fields Google sets, and returns it.
    fn save(&mut self, calendar_id: &str, mut event: Map<String, Value>) -> Value {
        let id = event.get("id").and_then(Value::as_str).map_or_else(new_event_id, str::to_owned);
        if event.get("status").and_then(Value::as_str) == Some("cancelled") {
            return self.save_stub(calendar_id, &id, &event);
        }
        let owner = self.owner_of(calendar_id).unwrap_or_else(|| calendar_id.to_owned());
        let etag = self.next_etag();
        let now = Utc::now();
        let calendar = self.calendars.entry(calendar_id.to_owned()).or_insert_with(Calendar::new);
        let previous = calendar.events.get(&id);
        let created = previous.map_or(now, |p| p.created);
        let given_sequence = event.get("sequence").and_then(Value::as_i64);
        let sequence = match previous {
            None => given_sequence.unwrap_or(0),
            Some(previous) => {
                // Google bumps the sequence when the time or the recurrence changes.
                let moved = ["start", "end", "recurrence"].iter().any(|key| previous.json.get(*key) != event.get(*key));
                let base = previous.sequence + i64::from(moved && !previous.cancelled());
                given_sequence.map_or(base, |given| given.max(base))
            }
        };
        let ical_uid = ical_uid_of(calendar, &id, &event);
        let defaults = [
            ("status", json!("confirmed")),
            ("htmlLink", json!(format!("https://www.google.com/calendar/event?eid={id}"))),
            ("creator", json!({"email": owner})),
            ("organizer", json!({"email": calendar_id, "self": true})),
            ("reminders", json!({"useDefault": true})),
            ("eventType", json!("default")),
        ];
        for (key, value) in defaults {
            event.entry(key).or_insert(value);
        }
        let fields = [
            ("kind", json!("calendar#event")),
            ("etag", json!(etag)),
            ("id", json!(id)),
            ("created", json!(rfc3339(created))),
            ("updated", json!(rfc3339(now))),
            ("sequence", json!(sequence)),
            ("iCalUID", json!(ical_uid)),
        ];
        for (key, value) in fields {
            event.insert(key.to_owned(), value);
        }
        calendar.version += 1;
        calendar.updated = now;
        let json = Value::Object(event);
        let stored = StoredEvent {
            id: id.clone(),
            json: json.clone(),
            stamp: calendar.version,
            created,
            updated: now,
            ical_uid,
            sequence,
        };
        calendar.events.insert(id, stored);
        json
    }

    /// Stores a cancelled event the way Google lists one: only kind, etag, id and status, plus
    /// recurringEventId and originalStartTime for an exception of a recurring event.
    fn save_stub(&mut self, calendar_id: &str, id: &str, source: &Map<String, Value>) -> Value {
        let etag = self.next_etag();
        let now = Utc::now();
        let calendar = self.calendars.entry(calendar_id.to_owned()).or_insert_with(Calendar::new);
        let previous = calendar.events.get(id);
        let mut stub = json!({"kind": "calendar#event", "etag": etag, "id": id, "status": "cancelled"});
        for key in ["recurringEventId", "originalStartTime"] {
            if let Some(value) = source.get(key).or_else(|| previous.and_then(|p| p.json.get(key))) {
                stub[key] = value.clone();
            }
        }
        calendar.version += 1;
        calendar.updated = now;
        let stored = StoredEvent {
            id: id.to_owned(),
            json: stub.clone(),
            stamp: calendar.version,
            created: previous.map_or(now, |p| p.created),
            updated: now,
            ical_uid: ical_uid_of(calendar, id, source),
            sequence: previous.map_or(0, |p| p.sequence),
        };
        calendar.events.insert(id.to_owned(), stored);
        stub
    }

    /// Cancels an event; a recurring event's master takes its exceptions with it.
    fn cancel(&mut self, calendar_id: &str, event_id: &str) {
        let Some(calendar) = self.calendars.get(calendar_id) else { return };
        let Some(stored) = calendar.events.get(event_id) else { return };
        if stored.cancelled() {
            return;
        }
        let exceptions: Vec<String> = if stored.json.get("recurrence").is_some() {
            calendar
                .events
                .values()
                .filter(|e| !e.cancelled())
                .filter(|e| e.json.get("recurringEventId").and_then(Value::as_str) == Some(event_id))
                .map(|e| e.id.clone())
                .collect()
        } else {
            Vec::new()
        };
        let source = stored.json.as_object().cloned().unwrap_or_default();
        self.save_stub(calendar_id, event_id, &source);
        for exception in exceptions {
            self.cancel(calendar_id, &exception);
        }
    }
}

/// The iCalUID an event keeps: the one sent, else the one it had, else its series' (an exception
/// shares it), else Google's default `<id>@google.com`.
fn ical_uid_of(calendar: &Calendar, id: &str, event: &Map<String, Value>) -> String {
    if let Some(uid) = event.get("iCalUID").and_then(Value::as_str) {
        return uid.to_owned();
    }
    if let Some(previous) = calendar.events.get(id) {
        return previous.ical_uid.clone();
    }
    match event.get("recurringEventId").and_then(Value::as_str) {
        Some(master) => {
            calendar.events.get(master).map_or_else(|| format!("{master}@google.com"), |m| m.ical_uid.clone())
        }
        None => format!("{id}@google.com"),
    }
}

// Responses

const INVALID_TOKEN_CHALLENGE: &str = "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"";

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// The token endpoint's answers, which Google marks uncacheable.
fn oauth_json(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-cache, no-store, max-age=0, must-revalidate"), (header::PRAGMA, "no-cache")],
        Json(body),
    )
        .into_response()
}

fn invalid_grant(description: &str) -> Response {
    oauth_json(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant", "error_description": description}))
}

/// Google's JSON error body: `{"error":{"code","message","errors":[{"domain","reason","message"}]}}`.
fn google_error(status: StatusCode, domain: &str, reason: &str, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"code": status.as_u16(), "message": message,
                         "errors": [{"domain": domain, "reason": reason, "message": message}]}}),
    )
}

/// A Google API error on its way to becoming a response (small enough to travel in a `Result`).
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    domain: &'static str,
    reason: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, domain: &'static str, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, domain, reason, message: message.into() }
    }

    fn bad_request(reason: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "global", reason, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        google_error(self.status, self.domain, self.reason, &self.message)
    }
}

fn bad_request(reason: &str, message: &str) -> Response {
    google_error(StatusCode::BAD_REQUEST, "global", reason, message)
}

fn not_found() -> Response {
    google_error(StatusCode::NOT_FOUND, "global", "notFound", "Not Found")
}

fn parse_error() -> Response {
    bad_request("parseError", "Parse Error")
}

fn full_sync_required() -> Response {
    let message = "Sync token is no longer valid, a full sync is required.";
    google_error(StatusCode::GONE, "calendar", "fullSyncRequired", message)
}

fn forbidden_to_write() -> Response {
    let message = "You need to have writer access to this calendar.";
    google_error(StatusCode::FORBIDDEN, "calendar", "requiredAccessLevel", message)
}

fn unauthenticated() -> Response {
    let body = json!({"error": {
        "code": 401,
        "message": "Request had invalid authentication credentials.",
        "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                    "location": "Authorization", "locationType": "header"}],
        "status": "UNAUTHENTICATED",
    }});
    let mut response = json_response(StatusCode::UNAUTHORIZED, body);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(INVALID_TOKEN_CHALLENGE));
    response
}

fn throttled(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match status.as_u16() {
        403 | 429 => google_error(status, "usageLimits", "rateLimitExceeded", "Rate Limit Exceeded"),
        _ => google_error(status, "global", "backendError", "Backend Error"),
    };
    if let Some(seconds) = retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// The If-Match rule of PATCH, PUT and DELETE: when sent, it must be the current etag (or `*`).
fn precondition(stored: &StoredEvent, if_match: Option<&str>) -> Result<(), ApiError> {
    let Some(if_match) = if_match else { return Ok(()) };
    let etag = stored.json.get("etag").and_then(Value::as_str);
    if if_match.trim() == "*" || Some(if_match.trim()) == etag {
        return Ok(());
    }
    Err(ApiError::new(StatusCode::PRECONDITION_FAILED, "global", "conditionNotMet", "Precondition Failed"))
}

fn writable(role: &str) -> bool {
    matches!(role, "owner" | "writer")
}

fn role_rank(role: &str) -> Option<u8> {
    match role {
        "freeBusyReader" => Some(0),
        "reader" => Some(1),
        "writer" => Some(2),
        "owner" => Some(3),
        _ => None,
    }
}

/// maxResults, or the configured size; Google lowers anything above its cap and rejects zero.
fn page_size(max_results: Option<&str>, configured: usize) -> Result<usize, ApiError> {
    match max_results {
        None => Ok(configured),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n.min(MAX_PAGE_SIZE)),
            _ => Err(ApiError::bad_request("invalid", "Invalid value for: maxResults")),
        },
    }
}

/// The first `size` items (already ordered) and, when more remain, the key the page ended on.
fn take_page(mut items: Vec<(u64, String, Value)>, size: usize) -> (Vec<Value>, Option<(u64, String)>) {
    let next = if items.len() > size {
        items.truncate(size);
        items.last().map(|(stamp, id, _)| (*stamp, id.clone()))
    } else {
        None
    };
    (items.into_iter().map(|(_, _, item)| item).collect(), next)
}

// Event times

#[derive(Debug, Clone, Copy)]
enum When {
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy)]
enum WhenError {
    Invalid,
    MissingZone,
}

impl When {
    /// The instant it stands for; an all-day date starts at midnight in the calendar's zone.
    fn instant(self) -> Option<DateTime<Utc>> {
        match self {
            When::DateTime(t) => Some(t),
            When::Date(d) => chrono_tz::Europe::London
                .from_local_datetime(&d.and_time(NaiveTime::MIN))
                .earliest()
                .map(|t| t.to_utc()),
        }
    }
}

/// A `start` or `end` object: `{"dateTime", "timeZone"?}` or `{"date"}`. A dateTime without an
/// offset needs a timeZone, as at Google.
fn parse_when(value: &Value) -> Result<When, WhenError> {
    if let Some(text) = value.get("dateTime").and_then(Value::as_str) {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(When::DateTime(t.to_utc()));
        }
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| WhenError::Invalid)?;
        let zone = value.get("timeZone").and_then(Value::as_str).ok_or(WhenError::MissingZone)?;
        let zone: chrono_tz::Tz = zone.parse().map_err(|_| WhenError::Invalid)?;
        return zone
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| When::DateTime(t.to_utc()))
            .ok_or(WhenError::Invalid);
    }
    match value.get("date").and_then(Value::as_str) {
        Some(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d").map(When::Date).map_err(|_| WhenError::Invalid),
        None => Err(WhenError::Invalid),
    }
}

/// Google's checks of an event's times on insert and update.
fn check_times(event: &Map<String, Value>) -> Result<(), ApiError> {
    let when = |key: &str| -> Result<When, ApiError> {
        let Some(value) = event.get(key).filter(|v| !v.is_null()) else {
            return Err(ApiError::bad_request("required", format!("Missing {key} time.")));
        };
        parse_when(value).map_err(|error| match error {
            WhenError::MissingZone => {
                ApiError::bad_request("required", format!("Missing time zone definition for {key} time."))
            }
            WhenError::Invalid => ApiError::bad_request("invalid", format!("Invalid {key} time.")),
        })
    };
    let empty =
        || ApiError::new(StatusCode::BAD_REQUEST, "calendar", "timeRangeEmpty", "The specified time range is empty.");
    match (when("start")?, when("end")?) {
        (When::Date(start), When::Date(end)) if end <= start => Err(empty()),
        (When::DateTime(start), When::DateTime(end)) if end < start => Err(empty()),
        (When::Date(_), When::DateTime(_)) | (When::DateTime(_), When::Date(_)) => {
            Err(ApiError::bad_request("invalid", "Start and end times must either both be date or both be dateTime."))
        }
        _ => Ok(()),
    }
}

fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A number Google sends either as a JSON number or as a string (ttl, expiration).
fn number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

// Identifiers and encodings

const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// An event id as Google makes them: base32hex, 26 characters.
fn new_event_id() -> String {
    let bits = uuid::Uuid::new_v4().as_u128();
    (0..26).map(|i| BASE32HEX[((bits >> (i * 5)) & 31) as usize] as char).collect()
}

/// Google's rule for client-chosen event ids: base32hex (a-v, 0-9), 5 to 1024 characters.
fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| BASE32HEX.contains(&b))
}

/// The body of a PEM block with `label`, decoded.
fn pem_body(pem: &str, label: &str) -> Option<Vec<u8>> {
    use base64::{Engine, engine::general_purpose::STANDARD};
    let begin = format!("-----BEGIN {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&format!("-----END {label}-----"))?;
    STANDARD.decode(pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect::<String>()).ok()
}

/// Base64url without padding, as PKCE's S256 challenge is written.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// SHA-256 (FIPS 180-4), for PKCE's S256 method: the test crate has no hashing dependency, and
/// the fake should reject a wrong verifier the way Google does.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let choice = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7].wrapping_add(s1).wrapping_add(choice).wrapping_add(K[i]).wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let majority = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(majority);
            v = [t1.wrapping_add(t2), v[0], v[1], v[2], v[3].wrapping_add(t1), v[4], v[5], v[6]];
        }
        for (h, v) in h.iter_mut().zip(v) {
            *h = h.wrapping_add(v);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::Receiver;

    const ADA: &str = "ada@gmail.example";
    const REDIRECT: &str = "http://127.0.0.1:9/callback?from=google";

    fn client() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client")
    }

    /// A fake with Ada's primary calendar and a token for her.
    async fn with_calendar() -> (FakeGoogle, String) {
        let google = FakeGoogle::start().await;
        google.add_calendar(ADA, "", "Ada", "owner", true);
        let (access, _) = google.issue_tokens(ADA);
        (google, access)
    }

    fn timed(id: &str, day: u32) -> Value {
        json!({"id": id, "summary": format!("Event {id}"),
               "start": {"dateTime": format!("2026-05-{day:02}T09:00:00+02:00"), "timeZone": "Europe/Berlin"},
               "end": {"dateTime": format!("2026-05-{day:02}T10:00:00+02:00"), "timeZone": "Europe/Berlin"}})
    }

    async fn get(google: &FakeGoogle, access: &str, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let response = client()
            .get(format!("{}{path}", google.api_url()))
            .query(query)
            .bearer_auth(access)
            .send()
            .await
            .expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn list(google: &FakeGoogle, access: &str, query: &[(&str, &str)]) -> (u16, Value) {
        get(google, access, "/calendars/ada%40gmail.example/events", query).await
    }

    async fn token(google: &FakeGoogle, form: &[(&str, &str)]) -> (u16, Value) {
        let response = client().post(google.token_url()).form(form).send().await.expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn ids(listing: &Value) -> Vec<String> {
        listing["items"].as_array().into_iter().flatten().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect()
    }

    fn reason(body: &Value) -> &str {
        body["error"]["errors"][0]["reason"].as_str().unwrap_or_default()
    }

    #[tokio::test]
    async fn a_service_accounts_jwt_grant_needs_its_signature_audience_timeframe_and_the_domains_delegation() {
        use calsync_core::providers::google::delegation::ServiceAccountKey;
        let key = ServiceAccountKey::from_json(include_str!("../fixtures/google/TEST-ONLY-service-account.json"))
            .expect("the test-only key");
        let public = include_str!("../fixtures/google/TEST-ONLY-service-account.public.pem");
        let google = FakeGoogle::start().await;
        let now = Utc::now();
        google.register_service_account(&key.client_email, &key.client_id, public);
        google.add_calendar("ada@corp.example", "ada@corp.example", "Ada", "owner", true);
        let grant = |assertion: String| {
            let google = google.clone();
            async move { token(&google, &[("grant_type", JWT_BEARER_GRANT), ("assertion", &assertion)]).await }
        };
        let signed = |sub: &str, aud: &str| key.assertion(sub, aud, now).expect("signed");

        // The domain has not delegated: unauthorized_client.
        let (status, body) = grant(signed("ada@corp.example", &google.token_url())).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized_client")), "{body}");

        google.delegate_domain("corp.example", &key.client_id, &["https://www.googleapis.com/auth/calendar"]);
        let (status, body) = grant(signed("ada@corp.example", &google.token_url())).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["expires_in"], json!(ACCESS_TOKEN_SECONDS));
        let access = body["access_token"].as_str().unwrap().to_owned();
        let (status, primary) = get(&google, &access, "/users/me/calendarList/primary", &[]).await;
        assert_eq!((status, primary["id"].as_str()), (200, Some("ada@corp.example")));
        assert_eq!(google.jwt_grants().last().unwrap()["sub"], json!("ada@corp.example"));

        // An unknown user, another audience, a tampered signature, an assertion from the past.
        let (status, body) = grant(signed("nobody@corp.example", &google.token_url())).await;
        assert_eq!((status, body["error_description"].as_str()), (400, Some("Invalid email or User ID")));
        let (_, body) = grant(signed("ada@corp.example", "https://oauth2.googleapis.com/token")).await;
        assert_eq!(body["error"], json!("invalid_grant"));
        let mut tampered = signed("ada@corp.example", &google.token_url());
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        let (_, body) = grant(tampered).await;
        assert_eq!(body["error_description"], json!("Invalid JWT Signature."));
        google.set_now(now + chrono::Duration::hours(2));
        let (_, body) = grant(signed("ada@corp.example", &google.token_url())).await;
        assert!(body["error_description"].as_str().unwrap().contains("short-lived token"), "{body}");
        google.set_now(now);

        // Withdrawn delegation refuses the next grant.
        google.withdraw_delegation("corp.example", &key.client_id);
        let (status, body) = grant(signed("ada@corp.example", &google.token_url())).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized_client")));
    }

    #[tokio::test]
    async fn an_authorization_code_is_exchanged_once_and_refreshing_never_rotates_the_refresh_token() {
        let google = FakeGoogle::start().await;
        google.sign_in_as("grace@gmail.example");
        let state = "a b&c=d/é?";
        let response = client()
            .get(google.authorize_url())
            .query(&[
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "https://www.googleapis.com/auth/calendar openid email"),
                ("state", state),
                ("access_type", "offline"),
                ("prompt", "consent"),
            ])
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = response.headers()[header::LOCATION].to_str().expect("a location").to_owned();
        assert!(location.starts_with("http://127.0.0.1:9/callback?"), "{location}");
        let query: Vec<(String, String)> = Url::parse(&location).expect("a URL").query_pairs().into_owned().collect();
        assert_eq!(query[0], ("from".to_owned(), "google".to_owned()));
        assert_eq!(param(&query, "state"), Some(state));
        let code = param(&query, "code").expect("a code").to_owned();

        let exchange = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        let (status, tokens) = token(&google, &exchange).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["expires_in"], 3599);
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "https://www.googleapis.com/auth/calendar openid email");
        let access = tokens["access_token"].as_str().expect("an access token").to_owned();
        let refresh = tokens["refresh_token"].as_str().expect("a refresh token").to_owned();
        assert!(access.starts_with("ya29.") && refresh.starts_with("1//"));

        let (status, again) = token(&google, &exchange).await;
        assert_eq!((status, again), (400, json!({"error": "invalid_grant", "error_description": "Bad Request"})));

        let refreshing = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
        let response = client()
            .post(google.token_url())
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .form(&refreshing)
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::OK);
        let refreshed: Value = response.json().await.expect("JSON");
        assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
        let renewed = refreshed["access_token"].as_str().expect("an access token");
        assert_ne!(renewed, access);
        assert_eq!(refreshed["expires_in"], 3599);

        let userinfo: Value = client()
            .get(google.userinfo_url())
            .bearer_auth(renewed)
            .send()
            .await
            .expect("the fake answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(userinfo["email"], "grace@gmail.example");
        assert_eq!(userinfo["email_verified"], true);
        assert_eq!(userinfo["sub"], google.subject("grace@gmail.example"));

        google.revoke(&refresh);
        let refreshing = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        let (status, body) = token(&google, &refreshing).await;
        assert_eq!(status, 400);
        assert_eq!(body, json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}));
    }

    #[tokio::test]
    async fn the_token_endpoint_rejects_other_clients_and_grant_types_and_can_be_made_unavailable() {
        let google = FakeGoogle::start().await;
        let (status, body) =
            token(&google, &[("grant_type", "refresh_token"), ("client_id", CLIENT_ID), ("client_secret", "nope")])
                .await;
        assert_eq!(status, 401);
        assert_eq!(body, json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}));
        let (status, body) =
            token(&google, &[("grant_type", "password"), ("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)])
                .await;
        assert_eq!((status, body), (400, json!({"error": "unsupported_grant_type"})));
        google.fail_token_endpoint(1);
        let (status, body) = token(&google, &[("grant_type", "refresh_token")]).await;
        assert_eq!((status, body), (503, json!({"error": "temporarily_unavailable"})));
    }

    #[tokio::test]
    async fn a_code_issued_with_a_pkce_challenge_needs_the_matching_verifier() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        // RFC 7636 appendix B.
        assert_eq!(base64url(&sha256(verifier.as_bytes())), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let google = FakeGoogle::start().await;
        let authorize = |google: &FakeGoogle| {
            client()
                .get(google.authorize_url())
                .query(&[
                    ("client_id", CLIENT_ID),
                    ("redirect_uri", REDIRECT),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                    ("code_challenge_method", "S256"),
                ])
                .send()
        };
        for (sent, expected) in [("wrong", 400), (verifier, 200)] {
            let response = authorize(&google).await.expect("the fake answers");
            let location = response.headers()[header::LOCATION].to_str().expect("a location").to_owned();
            let query: Vec<(String, String)> =
                Url::parse(&location).expect("a URL").query_pairs().into_owned().collect();
            let code = param(&query, "code").expect("a code");
            let (status, body) = token(
                &google,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", REDIRECT),
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                    ("code_verifier", sent),
                ],
            )
            .await;
            assert_eq!(status, expected, "{body}");
            // Without access_type=offline Google issues no refresh token.
            assert!(body.get("refresh_token").is_none());
        }
    }

    #[tokio::test]
    async fn the_authorize_endpoint_refuses_an_unknown_client() {
        let google = FakeGoogle::start().await;
        let response = client()
            .get(google.authorize_url())
            .query(&[
                ("client_id", "other"),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("scope", "openid"),
            ])
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.text().await.expect("text"), "invalid_client");
    }

    #[tokio::test]
    async fn an_expired_access_token_gets_googles_401_body() {
        let (google, access) = with_calendar().await;
        assert_eq!(get(&google, &access, "/users/me/calendarList", &[]).await.0, 200);
        google.expire_access_tokens();
        let (status, body) = get(&google, &access, "/users/me/calendarList", &[]).await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                             "errors": [{"message": "Invalid Credentials", "domain": "global", "reason": "authError",
                                         "location": "Authorization", "locationType": "header"}],
                             "status": "UNAUTHENTICATED"}})
        );
    }

    #[tokio::test]
    async fn the_calendar_list_shows_only_the_accounts_calendars_and_primary_names_its_primary() {
        let (google, access) = with_calendar().await;
        google.add_calendar(ADA, "team@group.calendar.google.com", "Team", "reader", false);
        google.add_calendar("grace@gmail.example", "", "Grace", "owner", true);
        let (status, list) = get(&google, &access, "/users/me/calendarList", &[]).await;
        assert_eq!(status, 200);
        assert_eq!(list["kind"], "calendar#calendarList");
        assert_eq!(ids(&list), [ADA, "team@group.calendar.google.com"]);
        assert_eq!(list["items"][0]["primary"], true);
        assert!(list["items"][1].get("primary").is_none());
        assert_eq!(list["items"][1]["accessRole"], "reader");
        assert!(list["nextSyncToken"].is_string());
        assert_eq!(list_of(&get(&google, &access, "/calendars/primary/events", &[]).await), (200, "Ada".to_owned()));
        let (status, body) = get(&google, &access, "/calendars/grace%40gmail.example/events", &[]).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"error": {"code": 404, "message": "Not Found",
                             "errors": [{"domain": "global", "reason": "notFound", "message": "Not Found"}]}})
        );
    }

    fn list_of((status, body): &(u16, Value)) -> (u16, String) {
        (*status, body["summary"].as_str().unwrap_or_default().to_owned())
    }

    #[tokio::test]
    async fn a_full_sync_pages_and_only_the_last_page_carries_the_sync_token() {
        let (google, access) = with_calendar().await;
        for (day, id) in ["event00001", "event00002", "event00003", "event00004", "event00005"].iter().enumerate() {
            google.put_event(ADA, timed(id, day as u32 + 1));
        }
        google.set_page_size(2);
        let (mut seen, mut page_token, mut pages) = (Vec::new(), None::<String>, 0);
        let sync_token = loop {
            let mut query = vec![];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.as_str()));
            }
            let (status, page) = list(&google, &access, &query).await;
            assert_eq!(status, 200, "{page}");
            assert_eq!(page["kind"], "calendar#events");
            pages += 1;
            seen.extend(ids(&page));
            match (page["nextPageToken"].as_str(), page["nextSyncToken"].as_str()) {
                (Some(next), None) => page_token = Some(next.to_owned()),
                (None, Some(sync)) => break sync.to_owned(),
                _ => panic!("a page carries exactly one of nextPageToken and nextSyncToken: {page}"),
            }
            if pages == 2 {
                // A change while paging shows up in the next incremental sync.
                google.put_event(ADA, timed("event00001", 20));
            }
        };
        assert_eq!(pages, 3);
        assert_eq!(seen[..5], ["event00001", "event00002", "event00003", "event00004", "event00005"]);
        let (_, changes) = list(&google, &access, &[("syncToken", sync_token.as_str())]).await;
        assert_eq!(ids(&changes), ["event00001"]);
        let (_, page) = list(&google, &access, &[("maxResults", "10")]).await;
        assert_eq!(ids(&page).len(), 5);
    }

    #[tokio::test]
    async fn an_incremental_sync_returns_exactly_the_changes_made_at_google() {
        let (google, access) = with_calendar().await;
        google.put_event(ADA, timed("keepme001", 4));
        google.put_event(ADA, timed("changeme01", 5));
        google.put_event(ADA, timed("deleteme01", 6));
        let master = google.put_event(
            ADA,
            json!({"id": "recur00001", "summary": "Weekly", "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=5"],
                   "start": {"dateTime": "2026-05-04T09:00:00", "timeZone": "Europe/Berlin"},
                   "end": {"dateTime": "2026-05-04T10:00:00", "timeZone": "Europe/Berlin"}}),
        );
        assert_eq!(master["iCalUID"], "recur00001@google.com");
        assert_eq!(master["kind"], "calendar#event");
        assert_eq!(master["status"], "confirmed");
        let (_, full) = list(&google, &access, &[]).await;
        let sync_token = full["nextSyncToken"].as_str().expect("a sync token").to_owned();

        let changed = google.put_event(ADA, timed("changeme01", 7));
        assert_eq!(changed["sequence"], 1);
        google.delete_event(ADA, "deleteme01");
        google.put_event(
            ADA,
            json!({"id": "recur00001_20260511T070000Z", "recurringEventId": "recur00001", "status": "cancelled",
                   "originalStartTime": {"dateTime": "2026-05-11T09:00:00+02:00", "timeZone": "Europe/Berlin"}}),
        );
        let (status, changes) = list(&google, &access, &[("syncToken", sync_token.as_str())]).await;
        assert_eq!(status, 200);
        assert_eq!(ids(&changes), ["changeme01", "deleteme01", "recur00001_20260511T070000Z"]);
        let stub = &changes["items"][1];
        let etag = stub["etag"].clone();
        assert_eq!(stub, &json!({"kind": "calendar#event", "etag": etag, "id": "deleteme01", "status": "cancelled"}));
        assert_eq!(changes["items"][2]["recurringEventId"], "recur00001");
        assert_eq!(changes["items"][2]["originalStartTime"]["dateTime"], "2026-05-11T09:00:00+02:00");
        assert!(changes.get("nextPageToken").is_none());

        let next = changes["nextSyncToken"].as_str().expect("a sync token");
        let (_, nothing) = list(&google, &access, &[("syncToken", next)]).await;
        assert_eq!(ids(&nothing), Vec::<String>::new());

        // A full listing leaves deleted events out but keeps cancelled exceptions, as Google does.
        let (_, full) = list(&google, &access, &[]).await;
        assert_eq!(ids(&full), ["keepme001", "recur00001", "changeme01", "recur00001_20260511T070000Z"]);
        let (_, with_deleted) = list(&google, &access, &[("showDeleted", "true")]).await;
        assert_eq!(ids(&with_deleted).len(), 5);
        // timeMin bounds the end, timeMax the start; the recurring master stays.
        let window = [("timeMin", "2026-05-05T00:00:00Z"), ("timeMax", "2026-05-06T00:00:00Z")];
        let (_, windowed) = list(&google, &access, &window).await;
        assert_eq!(ids(&windowed), ["recur00001", "recur00001_20260511T070000Z"]);
        assert_eq!(google.events(ADA).len(), 5);
    }

    #[tokio::test]
    async fn an_invalidated_sync_token_answers_410_full_sync_required() {
        let (google, access) = with_calendar().await;
        let (_, full) = list(&google, &access, &[]).await;
        let sync_token = full["nextSyncToken"].as_str().expect("a sync token").to_owned();
        google.invalidate_sync_tokens();
        let (status, body) = list(&google, &access, &[("syncToken", sync_token.as_str())]).await;
        assert_eq!(status, 410);
        let message = "Sync token is no longer valid, a full sync is required.";
        assert_eq!(
            body,
            json!({"error": {"code": 410, "message": message,
                             "errors": [{"domain": "calendar", "reason": "fullSyncRequired", "message": message}]}})
        );
        assert_eq!(list(&google, &access, &[("syncToken", "made-up")]).await.0, 410);
    }

    #[tokio::test]
    async fn a_sync_token_with_a_time_bound_is_a_bad_request() {
        let (google, access) = with_calendar().await;
        let (_, full) = list(&google, &access, &[]).await;
        let sync_token = full["nextSyncToken"].as_str().expect("a sync token");
        let (status, body) =
            list(&google, &access, &[("syncToken", sync_token), ("timeMin", "2026-05-01T00:00:00Z")]).await;
        assert_eq!(status, 400);
        assert_eq!(reason(&body), "syncTokenWithRequestRestrictions");
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["message"], "Sync token cannot be used with other request restrictions.");
        let (status, body) = list(&google, &access, &[("singleEvents", "true")]).await;
        assert_eq!((status, reason(&body)), (400, "badRequest"));
    }

    #[tokio::test]
    async fn a_throttled_request_answers_429_with_retry_after_and_then_the_api_recovers() {
        let (google, access) = with_calendar().await;
        google.throttle_next(1, 429, Some(7));
        let response = client()
            .get(format!("{}/users/me/calendarList", google.api_url()))
            .bearer_auth(&access)
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            body,
            json!({"error": {"code": 429, "message": "Rate Limit Exceeded",
                             "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded",
                                         "message": "Rate Limit Exceeded"}]}})
        );
        assert_eq!(get(&google, &access, "/users/me/calendarList", &[]).await.0, 200);
        google.throttle_next(1, 500, None);
        let (status, body) = get(&google, &access, "/users/me/calendarList", &[]).await;
        assert_eq!((status, reason(&body)), (500, "backendError"));
        assert_eq!(google.api_request_count(), 3);
    }

    async fn insert(google: &FakeGoogle, access: &str, event: &Value) -> (u16, Value) {
        let response = client()
            .post(format!("{}/calendars/{}/events", google.api_url(), percent_encode(ADA)))
            .bearer_auth(access)
            .json(event)
            .send()
            .await
            .expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn an_insert_checks_the_id_and_refuses_a_duplicate_even_after_deletion() {
        let (google, access) = with_calendar().await;
        let (status, body) = insert(&google, &access, &timed("Not_Base32!", 4)).await;
        assert_eq!((status, reason(&body)), (400, "invalid"));
        let (status, body) = insert(&google, &access, &timed("abc", 4)).await;
        assert_eq!((status, reason(&body)), (400, "invalid"));
        let (status, body) =
            insert(&google, &access, &json!({"id": "noend0001", "start": {"date": "2026-05-06"}})).await;
        assert_eq!((status, reason(&body)), (400, "required"));

        let (status, created) = insert(&google, &access, &timed("abc0001def", 4)).await;
        assert_eq!(status, 200, "{created}");
        assert_eq!(created["iCalUID"], "abc0001def@google.com");
        assert_eq!(created["sequence"], 0);
        assert!(created["updated"].as_str().is_some_and(|u| u.ends_with('Z') && u.len() == 24), "{created}");
        let (status, body) = insert(&google, &access, &timed("abc0001def", 4)).await;
        assert_eq!((status, reason(&body)), (409, "duplicate"));
        assert_eq!(body["error"]["message"], "The requested identifier already exists.");

        let url = format!("{}/calendars/{}/events/abc0001def", google.api_url(), percent_encode(ADA));
        let deleted = client().delete(&url).bearer_auth(&access).send().await.expect("the fake answers");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let again = client().delete(&url).bearer_auth(&access).send().await.expect("the fake answers");
        assert_eq!(again.status(), StatusCode::GONE);
        let (status, body) = insert(&google, &access, &timed("abc0001def", 4)).await;
        assert_eq!((status, reason(&body)), (409, "duplicate"));

        let (status, generated) =
            insert(&google, &access, &json!({"start": {"date": "2026-05-06"}, "end": {"date": "2026-05-07"}})).await;
        assert_eq!(status, 200);
        assert!(generated["id"].as_str().is_some_and(valid_event_id), "{generated}");
    }

    #[tokio::test]
    async fn a_reader_cannot_insert() {
        let (google, access) = with_calendar().await;
        google.add_calendar(ADA, "team@group.calendar.google.com", "Team", "reader", false);
        let response = client()
            .post(format!("{}/calendars/team%40group.calendar.google.com/events", google.api_url()))
            .bearer_auth(&access)
            .json(&timed("abc0002def", 4))
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(reason(&body), "requiredAccessLevel");
    }

    #[tokio::test]
    async fn a_patch_with_a_stale_if_match_fails_the_precondition() {
        let (google, access) = with_calendar().await;
        let first = google.put_event(ADA, timed("patchme01", 4));
        let mut renamed = timed("patchme01", 4);
        renamed["summary"] = json!("Renamed on the phone");
        let current = google.put_event(ADA, renamed);
        let url = format!("{}/calendars/{}/events/patchme01", google.api_url(), percent_encode(ADA));
        let patch = |etag: &Value| {
            client()
                .patch(&url)
                .bearer_auth(&access)
                .header(header::IF_MATCH, etag.as_str().unwrap_or_default())
                .json(&json!({"summary": "From calsync"}))
                .send()
        };
        let response = patch(&first["etag"]).await.expect("the fake answers");
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            (reason(&body), body["error"]["message"].as_str()),
            ("conditionNotMet", Some("Precondition Failed"))
        );

        let response = patch(&current["etag"]).await.expect("the fake answers");
        assert_eq!(response.status(), StatusCode::OK);
        let patched: Value = response.json().await.expect("JSON");
        assert_eq!(patched["summary"], "From calsync");
        assert_eq!(patched["start"], current["start"]);
        assert_ne!(patched["etag"], current["etag"]);
        assert_eq!(patched["created"], first["created"]);
        let recorded = google.requests().into_iter().filter(|r| r.method == "PATCH").collect::<Vec<_>>();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[1].if_match.as_ref(), current["etag"].as_str().map(str::to_owned).as_ref());
        assert_eq!(recorded[1].body, Some(json!({"summary": "From calsync"})));
    }

    #[tokio::test]
    async fn a_watch_channel_notifies_its_address_until_it_is_stopped() {
        let (google, access) = with_calendar().await;
        let receiver = Receiver::start(&[]).await;
        let response = client()
            .post(format!("{}/calendars/primary/events/watch", google.api_url()))
            .bearer_auth(&access)
            .json(&json!({"id": "channel-1", "type": "web_hook", "address": receiver.url, "token": "secret",
                          "params": {"ttl": "3600"}}))
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::OK);
        let channel: Value = response.json().await.expect("JSON");
        assert_eq!(channel["kind"], "api#channel");
        assert_eq!(channel["token"], "secret");
        let expiration: i64 = channel["expiration"].as_str().expect("a string").parse().expect("milliseconds");
        assert!((expiration - Utc::now().timestamp_millis() - 3_600_000).abs() < 10_000);
        assert_eq!(channel["resourceUri"], format!("{}/calendars/primary/events?alt=json", google.api_url()));
        assert_eq!(google.channels()[0].calendar_id, ADA);

        assert_eq!(google.notify("channel-1", "sync").await, 200);
        assert_eq!(google.notify("channel-1", "exists").await, 200);
        assert_eq!(receiver.received().len(), 2);

        let stop = json!({"id": "channel-1", "resourceId": channel["resourceId"]});
        let url = format!("{}/channels/stop", google.api_url());
        let response = client().post(&url).bearer_auth(&access).json(&stop).send().await.expect("the fake answers");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let response = client().post(&url).bearer_auth(&access).json(&stop).send().await.expect("the fake answers");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(google.channels().is_empty());
    }

    /// What a notification receiver got: each request's headers and body.
    type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

    #[tokio::test]
    async fn a_notification_carries_googles_headers_and_no_body() {
        let (google, access) = with_calendar().await;
        let seen: Seen = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let address = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let app = Router::new().fallback(|State(seen): State<Seen>, headers: HeaderMap, body: Bytes| async move {
            seen.lock().expect("seen").push((headers, body));
            StatusCode::ACCEPTED
        });
        let app = app.with_state(seen.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let watch = json!({"id": "channel-2", "type": "web_hook", "address": address});
        let response = client()
            .post(format!("{}/calendars/{}/events/watch", google.api_url(), percent_encode(ADA)))
            .bearer_auth(&access)
            .json(&watch)
            .send()
            .await
            .expect("the fake answers");
        let channel: Value = response.json().await.expect("JSON");
        assert!(channel.get("token").is_none());
        let expiration: i64 = channel["expiration"].as_str().expect("a string").parse().expect("milliseconds");
        assert!((expiration - Utc::now().timestamp_millis() - CHANNEL_LIFETIME_MS).abs() < 10_000);

        assert_eq!(google.notify("channel-2", "sync").await, 202);
        assert_eq!(google.notify("channel-2", "exists").await, 202);
        let seen = seen.lock().expect("seen").clone();
        let (headers, body) = &seen[1];
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert!(body.is_empty());
        assert_eq!(header("x-goog-channel-id"), "channel-2");
        assert_eq!(header("x-goog-resource-id"), channel["resourceId"].as_str().unwrap_or_default());
        assert_eq!(header("x-goog-resource-uri"), channel["resourceUri"].as_str().unwrap_or_default());
        assert_eq!(header("x-goog-resource-state"), "exists");
        assert_eq!(header("x-goog-message-number"), "2");
        assert!(headers.get("x-goog-channel-token").is_none());
        let expires = DateTime::parse_from_rfc2822(&header("x-goog-channel-expiration")).expect("an RFC 1123 date");
        assert_eq!(expires.timestamp(), expiration / 1000);
        assert_eq!(seen[0].0.get("x-goog-resource-state").map(|v| v.as_bytes()), Some(&b"sync"[..]));
    }

    #[tokio::test]
    async fn listing_by_ical_uid_returns_the_series_with_its_exceptions() {
        let (google, access) = with_calendar().await;
        let mut master = timed("series0001", 4);
        master["recurrence"] = json!(["RRULE:FREQ=DAILY;COUNT=3"]);
        google.put_event(ADA, master);
        let mut moved = timed("series0001_20260505T070000Z", 5);
        moved["recurringEventId"] = json!("series0001");
        moved["originalStartTime"] = json!({"dateTime": "2026-05-05T09:00:00+02:00"});
        let moved = google.put_event(ADA, moved);
        assert_eq!(moved["iCalUID"], "series0001@google.com");
        google.put_event(ADA, timed("other00001", 4));
        let query = [("iCalUID", "series0001@google.com"), ("showDeleted", "true"), ("singleEvents", "false")];
        let (status, listing) = list(&google, &access, &query).await;
        assert_eq!(status, 200);
        assert_eq!(ids(&listing), ["series0001", "series0001_20260505T070000Z"]);
        let sync_token = listing["nextSyncToken"].as_str().expect("a sync token");
        let (status, body) = list(&google, &access, &[("syncToken", sync_token), ("iCalUID", "x@google.com")]).await;
        assert_eq!((status, reason(&body)), (400, "syncTokenWithRequestRestrictions"));
    }

    #[test]
    fn sha256_matches_the_fips_example() {
        let digest: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
