//! A fake Microsoft for the end-to-end tests: one loopback HTTP server that speaks the Microsoft
//! identity platform's OAuth 2.0 v2 endpoints (authorize and token, any tenant segment, `common`
//! being the one production uses) and the Microsoft Graph v1.0 calendar wire format (me, calendars,
//! calendarView and its delta with skip and delta tokens, events, subscriptions with their validation
//! handshake), scripted from Rust. Production code is written against Microsoft's documentation
//! and runs against this fake, so the fake keeps Microsoft's field names, status codes and error
//! bodies; where Microsoft does more (recurrence, ID tokens, PKCE, scope checks) the fake does less
//! rather than invent behaviour.
//!
//! Application permissions (Enterprise Connect for Office 365): the v2 admin consent endpoint
//! (`/{tenant}/v2.0/adminconsent`, a work account's administrator consenting for its tenant),
//! client credentials grants for consented tenants (app tokens bound to the tenant, no refresh
//! token), `GET /organization` with the tenant's verified domains, and `/users/{id or
//! userPrincipalName}/…` for every route served under `/me/…`: a delegated token reaches only
//! its own user there, an app token only mailboxes of its tenant (403 ErrorAccessDenied
//! otherwise), and `/me` is refused to app tokens. Every work account belongs to
//! [`WORK_TENANT`] unless its domain is one of a tenant added with [`FakeMicrosoft::add_tenant`].

use crate::fake_http::{basic_credentials, param, parse_pairs, percent_decode, percent_encode, random};
use std::{
    collections::{HashMap, HashSet},
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
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use reqwest::Url;
use serde_json::{Map, Value, json};

/// The application (client) id the fake knows; any other is unknown to the directory.
pub const CLIENT_ID: &str = "00000000-0000-0000-0000-00000000ca15";
/// The client secret of [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "test-microsoft-secret";
/// The account the authorize endpoint signs in as until [`FakeMicrosoft::sign_in_as`] says otherwise.
pub const DEFAULT_ACCOUNT: &str = "ada@contoso.example";

/// The identity platform's access tokens live an hour less a second.
const ACCESS_TOKEN_SECONDS: u64 = 3599;
/// What [`FakeMicrosoft::issue_tokens`] grants.
const ISSUED_SCOPE: &str = "offline_access Calendars.ReadWrite User.Read openid profile email";
const DEFAULT_PAGE_SIZE: usize = 50;
/// Graph's documented maximum lifetime of a subscription to Outlook events: 10,080 minutes.
const MAX_SUBSCRIPTION_MINUTES: i64 = 10_080;
/// Graph gives a notification endpoint 10 seconds to answer the validation request.
const VALIDATION_TIMEOUT: Duration = Duration::from_secs(10);
/// The tenant Microsoft accounts (Outlook.com) belong to, as notifications report it.
const CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
/// The (made-up) Office 365 tenant of every work account of the fake (see [`FakeMicrosoft::add_tenant`]).
pub const WORK_TENANT: &str = "5b1c0e7a-2f4d-4c8e-9a6b-3d2e1f0a9b8c";
/// [`WORK_TENANT`]'s verified domains, its default domain first.
pub const WORK_DOMAINS: [&str; 2] = ["contoso.example", "contoso.onmicrosoft.com"];
/// Graph answers successful OData requests with this content type.
const ODATA_JSON: &str =
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";

/// One request the fake received, as the tests inspect it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path as sent, percent-encoding kept.
    pub path: String,
    /// The query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// Every preference of the `Prefer` headers, one per entry (`odata.maxpagesize=2`,
    /// `outlook.timezone="UTC"`, `IdType="ImmutableId"`).
    pub prefer: Vec<String>,
    /// The fields of an `application/x-www-form-urlencoded` body (the token endpoint's), decoded.
    pub form: Vec<(String, String)>,
    /// The body when it is JSON.
    pub body: Option<Value>,
    pub if_match: Option<String>,
}

/// A Graph change notification subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub resource: String,
    pub change_type: String,
    pub notification_url: String,
    pub lifecycle_notification_url: Option<String>,
    pub client_state: Option<String>,
    pub expiration: DateTime<Utc>,
}

/// A running fake Microsoft. Clones share the same server and state.
#[derive(Debug, Clone)]
pub struct FakeMicrosoft {
    /// The base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl FakeMicrosoft {
    /// Starts one on a random loopback port.
    pub async fn start() -> Self {
        let (listener, url) = crate::fake_http::listen().await;
        let shared = Arc::new(Mutex::new(Shared::new(url.clone())));
        crate::fake_http::serve(listener, Router::new().fallback(handle).with_state(shared.clone()));
        FakeMicrosoft { url, shared }
    }

    fn state(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().expect("fake Microsoft state")
    }

    /// The identity platform's v2 authorization endpoint of the `common` tenant.
    pub fn authorize_url(&self) -> String {
        format!("{}/common/oauth2/v2.0/authorize", self.url)
    }

    /// The identity platform's v2 token endpoint of the `common` tenant.
    pub fn token_url(&self) -> String {
        format!("{}/common/oauth2/v2.0/token", self.url)
    }

    /// Microsoft Graph's base URL, `{url}/v1.0`.
    pub fn graph_url(&self) -> String {
        format!("{}/v1.0", self.url)
    }

    /// The account the next sign-in uses; `personal` accounts (Outlook.com) vs work (Office 365).
    pub fn sign_in_as(&self, email: &str, display_name: &str, personal: bool) {
        let mut state = self.state();
        let account = state.account(email);
        account.display_name = display_name.to_owned();
        if account.personal != personal {
            account.personal = personal;
            account.id = user_id(personal);
        }
        state.signed_in = email.to_owned();
    }

    /// Issues tokens for `email` directly (as if a sign-in with offline_access had happened):
    /// (access_token, refresh_token).
    pub fn issue_tokens(&self, email: &str) -> (String, String) {
        let mut state = self.state();
        state.account(email);
        (state.mint_access(email), state.mint_refresh(email, ISSUED_SCOPE))
    }

    /// Makes every access token of the fake expire now (next Graph call with one gets 401).
    /// Tokens issued afterwards are valid again.
    pub fn expire_access_tokens(&self) {
        for token in self.state().access_tokens.values_mut() {
            token.expired = true;
        }
    }

    /// Adds a work or school tenant whose verified domains are `domains` (the first is its
    /// default): accounts at those domains belong to it.
    pub fn add_tenant(&self, id: &str, domains: &[&str]) {
        let domains = domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        self.state().tenants.push(Tenant { id: id.to_owned(), domains, consented: false });
    }

    /// The next admin consent is declined by the administrator.
    pub fn decline_next_consent(&self) {
        self.state().decline_consent = true;
    }

    /// Whether the tenant's administrator consented to the application's permissions.
    pub fn consented(&self, tenant: &str) -> bool {
        self.state().tenants.iter().any(|t| t.id == tenant && t.consented)
    }

    /// The tenant's administrator removes the application (its service principal): client
    /// credentials grants for the tenant answer invalid_client with AADSTS7000229. App tokens
    /// already issued keep working until they expire, as Microsoft's do.
    pub fn revoke_consent(&self, tenant: &str) {
        for found in self.state().tenants.iter_mut().filter(|t| t.id == tenant) {
            found.consented = false;
        }
    }

    /// An application access policy (Exchange Online's `New-ApplicationAccessPolicy`) keeps app
    /// tokens away from `email`'s mailbox: Graph answers them 403 ErrorAccessDenied there.
    pub fn restrict_app_access(&self, email: &str) {
        self.state().restricted.insert(email.to_owned());
    }

    /// Revokes a refresh token (the user removed the app's consent): redeeming it answers
    /// invalid_grant with AADSTS50173.
    pub fn revoke(&self, refresh_token: &str) {
        if let Some(token) = self.state().refresh_tokens.get_mut(refresh_token) {
            token.revoked = true;
        }
    }

    /// The next `n` Graph requests (not identity platform requests) answer 429 with
    /// `Retry-After: retry_after_secs`.
    pub fn throttle_next(&self, n: usize, retry_after_secs: u64) {
        self.state().throttle = Throttle { remaining: n, retry_after: retry_after_secs };
    }

    /// Adds a calendar owned by `email` and returns its id. A default calendar takes over from
    /// the account's previous default.
    pub fn add_calendar(&self, email: &str, name: &str, is_default: bool, can_edit: bool) -> String {
        let mut state = self.state();
        state.account(email);
        if is_default {
            for calendar in state.calendars.iter_mut().filter(|c| c.owner == email) {
                calendar.is_default = false;
            }
        }
        let id = graph_id("AAMkAGI2");
        state.calendars.push(Calendar {
            id: id.clone(),
            owner: email.to_owned(),
            name: name.to_owned(),
            is_default,
            can_edit,
            change_key: random(),
            version: 0,
            events: HashMap::new(),
        });
        id
    }

    /// A change made in Outlook: inserts or replaces a single event (no recurrence support) with
    /// the `id` the JSON carries (one is generated when absent); the fake sets the fields Graph
    /// sets. Returns the event as Graph would, times in UTC.
    pub fn put_event(&self, calendar_id: &str, event: Value) -> Value {
        let Value::Object(mut fields) = event else { panic!("an event is a JSON object") };
        let id = match fields.remove("id") {
            Some(Value::String(id)) => id,
            _ => graph_id("AAMkAGI2"),
        };
        let ical_uid = fields.remove("iCalUId").and_then(|v| v.as_str().map(str::to_owned));
        // An event Graph returned, edited, can come back: its server fields are set anew.
        let fields = writable_fields(&fields);
        // Checked before taking the lock, so a bad event does not poison the fake's state.
        let times = event_times(&fields).unwrap_or_else(|error| panic!("event {id}: {}", error.message));
        let index = self.calendar_index(calendar_id);
        let mut state = self.state();
        state.save(index, &id, fields, times, ical_uid);
        state.event_json(index, &id, &Zone::utc()).unwrap_or(Value::Null)
    }

    /// The index of a calendar; panics (with the lock released) when there is none.
    fn calendar_index(&self, calendar_id: &str) -> usize {
        let index = self.state().calendar_index(calendar_id);
        index.unwrap_or_else(|| panic!("no calendar {calendar_id}: add_calendar first"))
    }

    /// A deletion made in Outlook: the event is gone, and delta queries report it `@removed`.
    pub fn delete_event(&self, calendar_id: &str, event_id: &str) {
        let index = self.calendar_index(calendar_id);
        let exists = self.state().calendars[index].events.contains_key(event_id);
        assert!(exists, "no event {event_id} in {calendar_id}");
        self.state().remove(index, event_id);
    }

    /// Every event the calendar holds, as Graph returns them (times in UTC), oldest change first.
    pub fn events(&self, calendar_id: &str) -> Vec<Value> {
        let state = self.state();
        let Some(index) = state.calendar_index(calendar_id) else { return Vec::new() };
        state.ordered_events(index).iter().filter_map(|id| state.event_json(index, id, &Zone::utc())).collect()
    }

    /// Makes every delta and skip token issued so far unknown: their next use answers 410
    /// SyncStateNotFound.
    pub fn expire_delta_tokens(&self) {
        let mut state = self.state();
        state.deltas.clear();
        state.pages.clear();
    }

    /// Sets the fake's clock, by which subscription expirations are judged, to `now` (it then
    /// runs on from there), so tests on a fixed clock can subscribe.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.state().clock_offset = now - Utc::now();
    }

    /// Page size when the request sets none (default 50); `Prefer: odata.maxpagesize=N` (and
    /// `$top` for the calendar list) override it per request.
    pub fn set_page_size(&self, n: usize) {
        assert!(n > 0, "a page holds at least one item");
        self.state().page_size = n;
    }

    /// Every request the fake received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Graph requests only (paths under /v1.0), counted.
    pub fn api_request_count(&self) -> usize {
        self.state().requests.iter().filter(|r| r.path.starts_with("/v1.0/") || r.path == "/v1.0").count()
    }

    /// Subscriptions created and not deleted.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.state().subscriptions.iter().map(|s| s.subscription.clone()).collect()
    }

    /// Graph's validation handshake: POSTs to `{notification_url}?validationToken=<token>` with an
    /// empty body and returns the answer's status (0 when unreachable), body text and content type.
    pub async fn validate(&self, notification_url: &str, token: &str) -> (u16, String, Option<String>) {
        send_validation(notification_url, token).await
    }

    /// Sends a change notification for a subscription the way Graph does (JSON body
    /// `{"value":[{subscriptionId, clientState, changeType, resource,
    /// subscriptionExpirationDateTime, tenantId}]}`) and returns the status the receiver answered,
    /// or 0 when it could not be reached. Panics on an unknown subscription.
    pub async fn notify(&self, subscription_id: &str, change_type: &str) -> u16 {
        let (subscription, tenant) = self.subscription_and_tenant(subscription_id);
        let body = json!({"value": [{
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": notification_time(subscription.expiration),
            "changeType": change_type,
            "resource": subscription.resource,
            "clientState": subscription.client_state,
            "tenantId": tenant,
        }]});
        post_notification(&subscription.notification_url, &body).await
    }

    /// Sends a lifecycle notification (`lifecycleEvent` being "reauthorizationRequired",
    /// "subscriptionRemoved" or "missed") to the subscription's lifecycle URL and returns the
    /// status, or 0 when unreachable. Panics on an unknown subscription or one without that URL.
    pub async fn lifecycle(&self, subscription_id: &str, event: &str) -> u16 {
        assert!(
            matches!(event, "reauthorizationRequired" | "subscriptionRemoved" | "missed"),
            "unknown lifecycle event {event}"
        );
        let (subscription, tenant) = self.subscription_and_tenant(subscription_id);
        let url = subscription
            .lifecycle_notification_url
            .clone()
            .unwrap_or_else(|| panic!("subscription {subscription_id} has no lifecycleNotificationUrl"));
        let body = json!({"value": [{
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": notification_time(subscription.expiration),
            "tenantId": tenant,
            "clientState": subscription.client_state,
            "lifecycleEvent": event,
        }]});
        post_notification(&url, &body).await
    }

    fn subscription_and_tenant(&self, subscription_id: &str) -> (Subscription, &'static str) {
        let found = {
            let mut state = self.state();
            let stored = state.subscriptions.iter().find(|s| s.subscription.id == subscription_id).cloned();
            stored.map(|stored| {
                let tenant = if state.account(&stored.owner).personal { CONSUMER_TENANT } else { WORK_TENANT };
                (stored.subscription, tenant)
            })
        };
        found.unwrap_or_else(|| panic!("no subscription {subscription_id}"))
    }
}

#[derive(Debug)]
struct Shared {
    url: String,
    signed_in: String,
    accounts: HashMap<String, Account>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, AccessToken>,
    refresh_tokens: HashMap<String, RefreshToken>,
    /// In the order they were added, which is the order Graph lists them in.
    calendars: Vec<Calendar>,
    deltas: HashMap<String, DeltaState>,
    pages: HashMap<String, DeltaPage>,
    subscriptions: Vec<StoredSubscription>,
    page_size: usize,
    /// How far the fake's clock is from the real one (see [`FakeMicrosoft::set_now`]).
    clock_offset: chrono::Duration,
    throttle: Throttle,
    requests: Vec<Request>,
    tenants: Vec<Tenant>,
    decline_consent: bool,
    /// Mailboxes app tokens may not reach (application access policies).
    restricted: HashSet<String>,
    /// The mailbox root of the Graph request being served (`me` or `users/{id}`), which the
    /// links it answers with start from.
    root: String,
}

/// A work or school tenant.
#[derive(Debug, Clone)]
struct Tenant {
    id: String,
    /// Verified domains, the default first.
    domains: Vec<String>,
    /// Whether its administrator consented to the application's permissions.
    consented: bool,
}

/// Who a Graph access token speaks for.
#[derive(Debug, Clone)]
enum Caller {
    /// A delegated token: the signed-in user.
    User(String),
    /// An application token of a tenant.
    App(String),
}

#[derive(Debug, Clone)]
struct Account {
    display_name: String,
    personal: bool,
    /// Graph's user id: a GUID for work accounts, 16 hex digits for Microsoft accounts.
    id: String,
}

/// An authorization code and what it was issued for.
#[derive(Debug)]
struct Grant {
    email: String,
    redirect_uri: String,
    scope: String,
    used: bool,
}

#[derive(Debug)]
struct AccessToken {
    /// The user of a delegated token; empty for an app token.
    email: String,
    /// The tenant of an app token.
    tenant: Option<String>,
    expires_at: Instant,
    expired: bool,
}

#[derive(Debug)]
struct RefreshToken {
    email: String,
    scope: String,
    revoked: bool,
    /// Redeemed once: the identity platform rotated it, so it is no longer valid.
    redeemed: bool,
}

#[derive(Debug)]
struct Calendar {
    id: String,
    owner: String,
    name: String,
    is_default: bool,
    can_edit: bool,
    change_key: String,
    /// The change counter delta tokens are made of: every change bumps it and stamps the event.
    version: u64,
    events: HashMap<String, StoredEvent>,
}

#[derive(Debug, Clone)]
struct StoredEvent {
    /// What the client (or the test) set, start and end as sent; the server's fields are added
    /// when the event is rendered.
    fields: Map<String, Value>,
    times: Times,
    stamp: u64,
    created: DateTime<Utc>,
    modified: DateTime<Utc>,
    change_key: String,
    ical_uid: String,
}

/// An event's span; an all-day event's dates are midnights in UTC.
#[derive(Debug, Clone, Copy)]
struct Times {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    all_day: bool,
}

impl Times {
    fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && self.end > start
    }
}

/// What a delta token stands for: the calendar and window of the query, the calendar version it
/// was issued at, and which events the client then had in the window (to report removals).
#[derive(Debug, Clone)]
struct DeltaState {
    calendar_id: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    version: u64,
    known: HashSet<String>,
}

/// What a skip token stands for: a delta round's items, where the next page starts, and the
/// delta state its last page hands out.
#[derive(Debug, Clone)]
struct DeltaPage {
    items: Vec<DeltaItem>,
    offset: usize,
    next: DeltaState,
}

#[derive(Debug, Clone)]
enum DeltaItem {
    Changed(String),
    Removed(String),
}

#[derive(Debug, Clone)]
struct StoredSubscription {
    subscription: Subscription,
    /// The account that created it.
    owner: String,
}

#[derive(Debug, Default)]
struct Throttle {
    remaining: usize,
    retry_after: u64,
}

/// A subscription request that passed the checks and now needs the validation handshake, which
/// happens without the state lock held.
#[derive(Debug)]
struct PendingSubscription {
    owner: String,
    subscription: Subscription,
}

/// What serving a request under the lock comes to.
#[derive(Debug)]
enum Outcome {
    Done(Response),
    Validate(PendingSubscription),
}

async fn handle(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match serve_locked(&shared, &method, &uri, &headers, &body) {
        Outcome::Done(response) => response,
        Outcome::Validate(pending) => {
            let mut urls = vec![pending.subscription.notification_url.clone()];
            urls.extend(pending.subscription.lifecycle_notification_url.clone());
            for url in urls {
                if !handshake(&url).await {
                    let message = "Subscription validation request failed. Response must exactly match \
                                   validationToken query parameter.";
                    return graph_error(StatusCode::BAD_REQUEST, "ValidationError", message);
                }
            }
            let Ok(mut shared) = shared.lock() else { return poisoned() };
            shared.create_subscription(pending)
        }
    }
}

fn serve_locked(shared: &Mutex<Shared>, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Outcome {
    match shared.lock() {
        Ok(mut shared) => shared.serve(method, uri, headers, body),
        Err(_) => Outcome::Done(poisoned()),
    }
}

fn poisoned() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, "fake Microsoft state poisoned").into_response()
}

/// The preferences of a request that change Graph's answers.
#[derive(Debug, Default)]
struct Preferences {
    max_page_size: Option<usize>,
    time_zone: Option<String>,
}

impl Preferences {
    fn of(request: &Request) -> Self {
        let mut preferences = Preferences::default();
        for preference in &request.prefer {
            let Some((name, value)) = preference.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "odata.maxpagesize" => preferences.max_page_size = value.parse().ok().filter(|n| *n > 0),
                "outlook.timezone" => preferences.time_zone = Some(value.to_owned()),
                _ => {}
            }
        }
        preferences
    }

    /// The zone to answer times in: the preferred one when the fake knows it, else UTC.
    fn zone(&self) -> Zone {
        self.time_zone
            .as_deref()
            .and_then(|name| zone_named(name).map(|tz| Zone { name: name.to_owned(), tz }))
            .unwrap_or_else(Zone::utc)
    }
}

/// A zone to render event times in, with the name the client used for it.
#[derive(Debug, Clone)]
struct Zone {
    name: String,
    tz: chrono_tz::Tz,
}

impl Zone {
    fn utc() -> Self {
        Zone { name: "UTC".to_owned(), tz: chrono_tz::UTC }
    }
}

impl Shared {
    fn new(url: String) -> Self {
        Shared {
            url,
            signed_in: DEFAULT_ACCOUNT.to_owned(),
            accounts: HashMap::new(),
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            calendars: Vec::new(),
            deltas: HashMap::new(),
            pages: HashMap::new(),
            subscriptions: Vec::new(),
            page_size: DEFAULT_PAGE_SIZE,
            clock_offset: chrono::Duration::zero(),
            throttle: Throttle::default(),
            requests: Vec::new(),
            tenants: vec![Tenant {
                id: WORK_TENANT.to_owned(),
                domains: WORK_DOMAINS.iter().map(|d| (*d).to_owned()).collect(),
                consented: false,
            }],
            decline_consent: false,
            restricted: HashSet::new(),
            root: "me".to_owned(),
        }
    }

    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    fn graph_url(&self) -> String {
        format!("{}/v1.0", self.url)
    }

    /// The account of `email`, made up (a work account named after the address) on first use.
    fn account(&mut self, email: &str) -> &mut Account {
        self.accounts.entry(email.to_owned()).or_insert_with(|| Account {
            display_name: email.split('@').next().unwrap_or(email).to_owned(),
            personal: false,
            id: user_id(false),
        })
    }

    fn mint_access(&mut self, email: &str) -> String {
        let token = format!("EwB{}", random());
        let expires_at = Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECONDS);
        let access = AccessToken { email: email.to_owned(), tenant: None, expires_at, expired: false };
        self.access_tokens.insert(token.clone(), access);
        token
    }

    /// An application token of `tenant`.
    fn mint_app_token(&mut self, tenant: &str) -> String {
        let token = format!("eyJ0eXAiOiJKV1Qi.{}", random());
        let expires_at = Instant::now() + Duration::from_secs(ACCESS_TOKEN_SECONDS);
        let access = AccessToken { email: String::new(), tenant: Some(tenant.to_owned()), expires_at, expired: false };
        self.access_tokens.insert(token.clone(), access);
        token
    }

    /// The tenant a user belongs to.
    fn tenant_of(&mut self, email: &str) -> String {
        if self.account(email).personal {
            return CONSUMER_TENANT.to_owned();
        }
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
        let found = self.tenants.iter().find(|t| t.domains.contains(&domain));
        found.map_or_else(|| WORK_TENANT.to_owned(), |t| t.id.clone())
    }

    fn mint_refresh(&mut self, email: &str, scope: &str) -> String {
        let token = format!("M.C5{}", random());
        let refresh =
            RefreshToken { email: email.to_owned(), scope: scope.to_owned(), revoked: false, redeemed: false };
        self.refresh_tokens.insert(token.clone(), refresh);
        token
    }

    fn serve(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Outcome {
        let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let is_form = header(header::CONTENT_TYPE)
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let prefer = headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect();
        let request = Request {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(parse_pairs).unwrap_or_default(),
            authorization: header(header::AUTHORIZATION),
            prefer,
            form: if is_form { parse_pairs(&String::from_utf8_lossy(body)) } else { Vec::new() },
            body: serde_json::from_slice(body).ok(),
            if_match: header(header::IF_MATCH),
        };
        self.requests.push(request.clone());
        let segments: Vec<String> =
            uri.path().trim_start_matches('/').split('/').map(|s| percent_decode(s, false)).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            // Any tenant segment (common, organizations, consumers, a tenant id) works alike.
            [_, "oauth2", "v2.0", "authorize"] if method == Method::GET => Outcome::Done(self.authorize(&request)),
            [tenant, "oauth2", "v2.0", "token"] if method == Method::POST => {
                Outcome::Done(self.token(tenant, &request))
            }
            [tenant, "v2.0", "adminconsent"] if method == Method::GET => {
                Outcome::Done(self.admin_consent(tenant, &request))
            }
            ["v1.0", rest @ ..] => self.graph(method, &request, !body.is_empty(), rest),
            _ => Outcome::Done((StatusCode::NOT_FOUND, "Not Found").into_response()),
        }
    }

    // Identity platform

    fn authorize(&mut self, request: &Request) -> Response {
        let param = |name: &str| param(&request.query, name);
        let Some(client_id) = param("client_id") else {
            return bad_authorize("AADSTS900144: The request body must contain the following parameter: 'client_id'.");
        };
        if client_id != CLIENT_ID {
            return bad_authorize(&format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
            ));
        }
        if param("response_type") != Some("code") {
            return bad_authorize("AADSTS700054: response_type 'id_token' is not enabled for the application.");
        }
        if !matches!(param("response_mode"), None | Some("query")) {
            return bad_authorize("The fake Microsoft answers with response_mode=query only.");
        }
        let Some(redirect_uri) = param("redirect_uri") else {
            return bad_authorize(
                "AADSTS900144: The request body must contain the following parameter: 'redirect_uri'.",
            );
        };
        let Ok(mut location) = Url::parse(redirect_uri) else {
            return bad_authorize(&format!(
                "AADSTS50011: The redirect URI '{redirect_uri}' specified in the request does not match the \
                 redirect URIs configured for the application '{CLIENT_ID}'."
            ));
        };
        let Some(scope) = param("scope").filter(|s| !s.trim().is_empty()) else {
            return bad_authorize("AADSTS900144: The request body must contain the following parameter: 'scope'.");
        };
        let code = format!("M.C5_{}", random());
        let grant = Grant {
            email: self.signed_in.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scope.split_whitespace().collect::<Vec<_>>().join(" "),
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

    /// The v2 admin consent endpoint: the signed-in work account's administrator consents for
    /// its tenant, and goes back to `redirect_uri` with `admin_consent=True`, `tenant` and `state`
    /// (or `error=access_denied` when declined).
    fn admin_consent(&mut self, tenant: &str, request: &Request) -> Response {
        let param = |name: &str| param(&request.query, name);
        let Some(client_id) = param("client_id") else {
            return bad_authorize("AADSTS900144: The request body must contain the following parameter: 'client_id'.");
        };
        if client_id != CLIENT_ID {
            return bad_authorize(&format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
            ));
        }
        let Some(Ok(mut location)) = param("redirect_uri").map(Url::parse) else {
            return bad_authorize(&format!(
                "AADSTS50011: The redirect URI specified in the request does not match the redirect URIs configured                  for the application '{CLIENT_ID}'."
            ));
        };
        let Some(scope) = param("scope").filter(|s| !s.trim().is_empty()) else {
            return bad_authorize("AADSTS900144: The request body must contain the following parameter: 'scope'.");
        };
        let email = self.signed_in.clone();
        let own_tenant = self.tenant_of(&email);
        if own_tenant == CONSUMER_TENANT {
            return bad_authorize(&format!(
                "AADSTS50020: User account '{email}' from identity provider 'live.com' does not exist in tenant                  'Microsoft Services' and cannot access the application '{CLIENT_ID}' in that tenant."
            ));
        }
        if !matches!(tenant, "organizations" | "common") && !tenant.eq_ignore_ascii_case(&own_tenant) {
            return bad_authorize(&format!(
                "AADSTS50020: User account '{email}' does not exist in tenant '{tenant}' and cannot access the                  application '{CLIENT_ID}' in that tenant."
            ));
        }
        {
            let mut pairs = location.query_pairs_mut();
            if std::mem::take(&mut self.decline_consent) {
                pairs
                    .append_pair("error", "access_denied")
                    .append_pair("error_description", "AADSTS65004: User declined to consent to access the app.");
            } else {
                for found in self.tenants.iter_mut().filter(|t| t.id == own_tenant) {
                    found.consented = true;
                }
                pairs
                    .append_pair("admin_consent", "True")
                    .append_pair("tenant", &own_tenant)
                    .append_pair("scope", scope);
            }
            if let Some(state) = param("state") {
                pairs.append_pair("state", state);
            }
        }
        (StatusCode::FOUND, [(header::LOCATION, location.to_string())]).into_response()
    }

    /// A client credentials grant at a tenant's token endpoint: an app token for a tenant whose
    /// administrator consented.
    fn client_credentials(&mut self, tenant: &str, scope: Option<&str>) -> Response {
        if matches!(tenant, "common" | "organizations" | "consumers") {
            let description = "No tenant-identifying information found in either the request or implied by any                                provided credentials.";
            return aad_error(StatusCode::BAD_REQUEST, "invalid_request", 50059, description);
        }
        if !scope.is_some_and(|s| s.trim().ends_with("/.default")) {
            let description = format!(
                "The provided value for scope {} is not valid. Client credential flows must have a scope value                  with /.default suffixed to the resource identifier (application ID URI).",
                scope.unwrap_or_default()
            );
            return aad_error(StatusCode::BAD_REQUEST, "invalid_scope", 1002012, &description);
        }
        let Some(found) =
            self.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(tenant) || t.domains.iter().any(|d| d == tenant))
        else {
            let description = format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing                  into the correct cloud."
            );
            return aad_error(StatusCode::BAD_REQUEST, "invalid_request", 90002, &description);
        };
        if !found.consented {
            let description = format!(
                "The client application {CLIENT_ID} is missing service principal in the tenant {}. See                  instructions here: https://go.microsoft.com/fwlink/?linkid=2225119",
                found.id
            );
            return aad_error(StatusCode::BAD_REQUEST, "invalid_client", 7000229, &description);
        }
        let id = found.id.clone();
        let body = json!({
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_SECONDS,
            "ext_expires_in": ACCESS_TOKEN_SECONDS,
            "access_token": self.mint_app_token(&id),
        });
        oauth_json(StatusCode::OK, body)
    }

    fn token(&mut self, tenant: &str, request: &Request) -> Response {
        let field = |name: &str| param(&request.form, name);
        let (client_id, client_secret) = match request.authorization.as_deref().and_then(basic_credentials) {
            Some((id, secret)) => (Some(id), Some(secret)),
            None => (field("client_id").map(str::to_owned), field("client_secret").map(str::to_owned)),
        };
        match client_id.as_deref() {
            Some(CLIENT_ID) => {}
            None => {
                let description = "The request body must contain the following parameter: 'client_id'.";
                return aad_error(StatusCode::BAD_REQUEST, "invalid_request", 900144, description);
            }
            Some(other) => {
                let description = format!(
                    "Application with identifier '{other}' was not found in the directory '{WORK_TENANT}'. This \
                     can happen if the application has not been installed by the administrator of the tenant or \
                     consented to by any user in the tenant. You might have sent your authentication request to \
                     the wrong tenant."
                );
                return aad_error(StatusCode::BAD_REQUEST, "unauthorized_client", 700016, &description);
            }
        }
        match client_secret.as_deref() {
            Some(CLIENT_SECRET) => {}
            None => {
                let description = "The request body must contain the following parameter: 'client_assertion' or \
                                   'client_secret'.";
                return aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000218, description);
            }
            Some(_) => {
                let description = format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client \
                     secret value, not the client secret ID, for a secret added to app '{CLIENT_ID}'."
                );
                return aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 7000215, &description);
            }
        }
        match field("grant_type") {
            Some("authorization_code") => self.exchange_code(field("code"), field("redirect_uri")),
            Some("refresh_token") => self.redeem_refresh(field("refresh_token")),
            Some("client_credentials") => self.client_credentials(tenant, field("scope")),
            Some(other) => {
                let description = format!("The app requested an unsupported grant type '{other}'.");
                aad_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", 70003, &description)
            }
            None => {
                let description = "The request body must contain the following parameter: 'grant_type'.";
                aad_error(StatusCode::BAD_REQUEST, "invalid_request", 900144, description)
            }
        }
    }

    fn exchange_code(&mut self, code: Option<&str>, redirect_uri: Option<&str>) -> Response {
        let Some(grant) = code.and_then(|c| self.codes.get_mut(c)) else {
            return invalid_grant(70000, "The provided value for the 'code' parameter is not valid.");
        };
        if grant.used || Some(grant.redirect_uri.as_str()) != redirect_uri {
            return invalid_grant(70000, "The provided value for the 'code' parameter is not valid.");
        }
        grant.used = true;
        let (email, scope) = (grant.email.clone(), grant.scope.clone());
        self.tokens_for(&email, &scope)
    }

    /// Refresh tokens rotate: redeeming one answers a new one and the old one stops working.
    fn redeem_refresh(&mut self, refresh_token: Option<&str>) -> Response {
        let Some(token) = refresh_token.and_then(|t| self.refresh_tokens.get_mut(t)) else {
            return invalid_grant(70000, "The provided value for the 'refresh_token' parameter is not valid.");
        };
        if token.revoked {
            return invalid_grant(
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user \
                 might have changed or reset their password.",
            );
        }
        if token.redeemed {
            return invalid_grant(70000, "The provided value for the 'refresh_token' parameter is not valid.");
        }
        token.redeemed = true;
        let (email, scope) = (token.email.clone(), token.scope.clone());
        self.tokens_for(&email, &scope)
    }

    /// The token endpoint's success: a refresh token only when the grant included offline_access,
    /// whose name the granted scope does not repeat.
    fn tokens_for(&mut self, email: &str, scope: &str) -> Response {
        let offline = scope.split_whitespace().any(|s| s.eq_ignore_ascii_case("offline_access"));
        let granted: Vec<&str> =
            scope.split_whitespace().filter(|s| !s.eq_ignore_ascii_case("offline_access")).collect();
        let mut body = json!({
            "token_type": "Bearer",
            "scope": granted.join(" "),
            "expires_in": ACCESS_TOKEN_SECONDS,
            "ext_expires_in": ACCESS_TOKEN_SECONDS,
            "access_token": self.mint_access(email),
        });
        if offline {
            body["refresh_token"] = Value::String(self.mint_refresh(email, scope));
        }
        oauth_json(StatusCode::OK, body)
    }

    // Graph

    fn graph(&mut self, method: &Method, request: &Request, has_body: bool, path: &[&str]) -> Outcome {
        if self.throttle.remaining > 0 {
            self.throttle.remaining -= 1;
            return Outcome::Done(throttled(self.throttle.retry_after));
        }
        let caller = match self.caller_of(request.authorization.as_deref()) {
            Ok(caller) => caller,
            Err(message) => return Outcome::Done(unauthenticated(message)),
        };
        if method == Method::GET && path.len() == 1 && path[0].eq_ignore_ascii_case("organization") {
            return Outcome::Done(self.organization(&caller));
        }
        let (email, path) = match self.act_as(&caller, path, request.body.as_ref()) {
            Ok(found) => found,
            Err(error) => return Outcome::Done(error.into_response()),
        };
        let path = path.as_slice();
        // Graph's path segments are case-insensitive; ids are not.
        let words: Vec<String> = path.iter().map(|s| s.to_ascii_lowercase()).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let preferences = Preferences::of(request);
        let body = if has_body { request.body.as_ref().map(Some).ok_or(()) } else { Ok(None) };
        let Ok(body) = body else {
            return Outcome::Done(graph_error(
                StatusCode::BAD_REQUEST,
                "UnableToDeserializePostBody",
                "were unable to deserialize ",
            ));
        };
        let response = match (method.as_str(), words.as_slice()) {
            ("GET", ["me"]) => self.me(&email),
            ("GET", ["me", "calendars"]) => self.list_calendars(&email, request, &preferences),
            ("GET", ["me", "calendars", _]) => match self.owned_calendar(&email, path[2]) {
                Some(index) => odata(StatusCode::OK, self.calendar_json(index)),
                None => item_not_found(),
            },
            ("GET", ["me", "calendars", _, "calendarview", "delta"]) => {
                self.delta(&email, path[2], request, &preferences)
            }
            ("GET", ["me", "calendars", _, "calendarview"]) => {
                self.calendar_view(&email, path[2], request, &preferences)
            }
            ("POST", ["me", "calendars", _, "events"]) => match self.owned_calendar(&email, path[2]) {
                Some(index) => self.create_event(index, body, &preferences),
                None => item_not_found(),
            },
            ("POST", ["me", "events"] | ["me", "calendar", "events"]) => {
                match self.calendars.iter().position(|c| c.owner == email && c.is_default) {
                    Some(index) => self.create_event(index, body, &preferences),
                    None => item_not_found(),
                }
            }
            (_, ["me", "events", _] | ["me", "calendars", _, "events", _]) => {
                let event_id = path[path.len() - 1];
                let Some(index) = self.calendar_holding(&email, event_id) else {
                    return Outcome::Done(item_not_found());
                };
                match method.as_str() {
                    "GET" => match self.event_json(index, event_id, &preferences.zone()) {
                        Some(event) => odata(StatusCode::OK, event),
                        None => item_not_found(),
                    },
                    "PATCH" => self.update_event(index, event_id, body, request, &preferences),
                    "DELETE" => self.delete_event(index, event_id, request),
                    _ => method_not_allowed(),
                }
            }
            ("POST", ["subscriptions"]) => return self.check_subscription(&email, body),
            ("GET", ["subscriptions"]) => {
                let value: Vec<Value> = self
                    .subscriptions
                    .iter()
                    .filter(|s| s.owner == email)
                    .map(|s| self.subscription_json(&s.subscription))
                    .collect();
                let context = format!("{}/$metadata#subscriptions", self.graph_url());
                odata(StatusCode::OK, json!({"@odata.context": context, "value": value}))
            }
            (_, ["subscriptions", _]) => self.subscription(method, &email, path[1], body),
            _ => graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Resource not found for the segment '{}'.", path.last().copied().unwrap_or_default()),
            ),
        };
        Outcome::Done(response)
    }

    /// Who a request acts for, and its path as the user's own: `/users/{id or
    /// userPrincipalName}/…` becomes `/me/…` of that user when the caller may reach it (its own
    /// user for a delegated token, a mailbox of its tenant for an app token). App tokens reach
    /// subscriptions of their tenant's mailboxes and are refused `/me`.
    fn act_as<'p>(
        &mut self,
        caller: &Caller,
        path: &[&'p str],
        body: Option<&Value>,
    ) -> Result<(String, Vec<&'p str>), GraphError> {
        self.root = "me".to_owned();
        let first = path.first().map(|s| s.to_ascii_lowercase()).unwrap_or_default();
        if first == "users" && path.len() >= 2 {
            let target = self.user_named(path[1]).ok_or_else(|| {
                GraphError::new(
                    StatusCode::NOT_FOUND,
                    "ErrorInvalidUser",
                    format!("The requested user '{}' is invalid.", path[1]),
                )
            })?;
            self.may_reach(caller, &target)?;
            self.root = format!("users/{}", percent_encode(path[1]));
            let mut rewritten = vec!["me"];
            rewritten.extend_from_slice(&path[2..]);
            return Ok((target, rewritten));
        }
        let tenant = match caller {
            Caller::User(email) => return Ok((email.clone(), path.to_vec())),
            Caller::App(tenant) => tenant,
        };
        if first == "me" {
            let message = "/me request is only valid with delegated authentication flow.";
            return Err(GraphError::new(StatusCode::BAD_REQUEST, "BadRequest", message));
        }
        if first != "subscriptions" {
            return Ok((String::new(), path.to_vec()));
        }
        // The mailbox a subscription is for: the one its resource names, or its creator's.
        let owner = match path.get(1) {
            None => body
                .and_then(|b| b["resource"].as_str())
                .and_then(|r| {
                    let parts: Vec<&str> = r.trim_start_matches('/').split('/').collect();
                    (parts.len() > 1 && parts[0].eq_ignore_ascii_case("users")).then(|| parts[1].to_owned())
                })
                .and_then(|id| self.user_named(&id)),
            Some(id) => self.subscriptions.iter().find(|s| s.subscription.id == *id).map(|s| s.owner.clone()),
        };
        match owner {
            Some(owner) if self.tenant_of(&owner) == *tenant => Ok((owner, path.to_vec())),
            Some(_) => Err(denied()),
            None => Ok((String::new(), path.to_vec())),
        }
    }

    /// A user by Graph id or userPrincipalName.
    fn user_named(&self, id: &str) -> Option<String> {
        self.accounts.iter().find(|(email, a)| email.eq_ignore_ascii_case(id) || a.id == id).map(|(e, _)| e.clone())
    }

    fn may_reach(&mut self, caller: &Caller, target: &str) -> Result<(), GraphError> {
        let allowed = match caller {
            Caller::User(email) => email == target,
            Caller::App(tenant) => self.tenant_of(target) == *tenant && !self.restricted.contains(target),
        };
        if allowed { Ok(()) } else { Err(denied()) }
    }

    /// `GET /organization`: the caller's tenant with its verified domains.
    fn organization(&mut self, caller: &Caller) -> Response {
        let tenant = match caller {
            Caller::App(tenant) => tenant.clone(),
            Caller::User(email) => self.tenant_of(email),
        };
        let value: Vec<Value> = self
            .tenants
            .iter()
            .filter(|t| t.id == tenant)
            .map(|t| {
                let domains: Vec<Value> = t
                    .domains
                    .iter()
                    .enumerate()
                    .map(|(i, name)| {
                        json!({
                            "capabilities": "Email, OfficeCommunicationsOnline",
                            "isDefault": i == 0,
                            "isInitial": name.ends_with(".onmicrosoft.com"),
                            "name": name,
                            "type": "Managed",
                        })
                    })
                    .collect();
                let name = t.domains.first().and_then(|d| d.split('.').next()).unwrap_or_default().to_owned();
                json!({"id": t.id, "displayName": name, "tenantType": "AAD", "verifiedDomains": domains})
            })
            .collect();
        let context = format!("{}/$metadata#organization", self.graph_url());
        odata(StatusCode::OK, json!({"@odata.context": context, "value": value}))
    }

    /// Who a `Bearer` access token speaks for, or the message Graph's 401 carries.
    fn caller_of(&self, authorization: Option<&str>) -> Result<Caller, &'static str> {
        let token = authorization
            .and_then(|a| a.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty());
        let Some(token) = token else { return Err("Access token is empty.") };
        match self.access_tokens.get(token) {
            Some(token) if !token.expired && Instant::now() < token.expires_at => Ok(match &token.tenant {
                Some(tenant) => Caller::App(tenant.clone()),
                None => Caller::User(token.email.clone()),
            }),
            _ => Err("Access token has expired or is not yet valid."),
        }
    }

    fn me(&mut self, email: &str) -> Response {
        let context = format!("{}/$metadata#users/$entity", self.graph_url());
        let account = self.account(email).clone();
        // Outlook.com accounts have no Exchange `mail` attribute; the address is their UPN.
        let mail = if account.personal { Value::Null } else { Value::String(email.to_owned()) };
        odata(
            StatusCode::OK,
            json!({
                "@odata.context": context,
                "businessPhones": [],
                "displayName": account.display_name,
                "givenName": null,
                "jobTitle": null,
                "mail": mail,
                "mobilePhone": null,
                "officeLocation": null,
                "preferredLanguage": null,
                "surname": null,
                "userPrincipalName": email,
                "id": account.id,
            }),
        )
    }

    fn calendar_index(&self, calendar_id: &str) -> Option<usize> {
        self.calendars.iter().position(|c| c.id == calendar_id)
    }

    fn owned_calendar(&self, email: &str, calendar_id: &str) -> Option<usize> {
        self.calendars.iter().position(|c| c.id == calendar_id && c.owner == email)
    }

    /// The calendar of `email` that holds the event.
    fn calendar_holding(&self, email: &str, event_id: &str) -> Option<usize> {
        self.calendars.iter().position(|c| c.owner == email && c.events.contains_key(event_id))
    }

    fn calendar_json(&self, index: usize) -> Value {
        let calendar = &self.calendars[index];
        let owner_name = self.accounts.get(&calendar.owner).map(|a| a.display_name.clone()).unwrap_or_default();
        json!({
            "id": calendar.id,
            "name": calendar.name,
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": calendar.is_default,
            "changeKey": calendar.change_key,
            "canShare": calendar.can_edit,
            "canViewPrivateItems": calendar.can_edit,
            "canEdit": calendar.can_edit,
            "isRemovable": !calendar.is_default,
            "isTallyingResponses": calendar.is_default,
            "allowedOnlineMeetingProviders": [],
            "defaultOnlineMeetingProvider": "none",
            "owner": {"name": owner_name, "address": calendar.owner},
        })
    }

    fn list_calendars(&mut self, email: &str, request: &Request, preferences: &Preferences) -> Response {
        let number = |name: &str| param(&request.query, name).map(|v| v.parse::<usize>());
        let top = match number("$top") {
            None => None,
            Some(Ok(n)) if n > 0 => Some(n),
            Some(_) => return invalid_parameter("Invalid value for $top."),
        };
        let skip = match number("$skip") {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => return invalid_parameter("Invalid value for $skip."),
        };
        let size = top.or(preferences.max_page_size).unwrap_or(self.page_size);
        let owned: Vec<usize> = (0..self.calendars.len()).filter(|i| self.calendars[*i].owner == email).collect();
        let value: Vec<Value> = owned.iter().skip(skip).take(size).map(|i| self.calendar_json(*i)).collect();
        let context = format!("{}/$metadata#users('{}')/calendars", self.graph_url(), percent_encode(email));
        let mut body = json!({"@odata.context": context, "value": value});
        if skip + size < owned.len() {
            let mut next = format!("{}/{}/calendars?$skip={}", self.graph_url(), self.root, skip + size);
            if let Some(top) = top {
                next.push_str(&format!("&$top={top}"));
            }
            body["@odata.nextLink"] = Value::String(next);
        }
        odata(StatusCode::OK, body)
    }

    fn delta(&mut self, email: &str, calendar_id: &str, request: &Request, preferences: &Preferences) -> Response {
        let param = |name: &str| param(&request.query, name);
        let Some(index) = self.owned_calendar(email, calendar_id) else { return item_not_found() };
        if let Some(token) = param("$skiptoken") {
            return match self.pages.get(token) {
                Some(page) if page.next.calendar_id == calendar_id => {
                    let page = page.clone();
                    self.delta_page(index, page, preferences)
                }
                _ => sync_state_not_found(),
            };
        }
        let since = match param("$deltatoken") {
            Some(token) => match self.deltas.get(token) {
                Some(state) if state.calendar_id == calendar_id => Some(state.clone()),
                _ => return sync_state_not_found(),
            },
            None => None,
        };
        let (start, end) = match &since {
            Some(state) => (state.start, state.end),
            None => {
                let bound = |name: &str| param(name).and_then(parse_query_time);
                match (bound("startDateTime"), bound("endDateTime")) {
                    (Some(start), Some(end)) => (start, end),
                    _ => {
                        return invalid_parameter(
                            "This request requires a time window specified by the query string parameters \
                             StartDateTime and EndDateTime.",
                        );
                    }
                }
            }
        };
        let calendar = &self.calendars[index];
        let in_window: HashSet<String> =
            calendar.events.iter().filter(|(_, e)| e.times.overlaps(start, end)).map(|(id, _)| id.clone()).collect();
        let mut items: Vec<DeltaItem> = self
            .ordered_events(index)
            .into_iter()
            .filter(|id| in_window.contains(id))
            .filter(|id| since.as_ref().is_none_or(|s| calendar.events.get(id).is_some_and(|e| e.stamp > s.version)))
            .map(DeltaItem::Changed)
            .collect();
        if let Some(since) = &since {
            // Deleted since, or moved out of the window: either way Graph says "deleted".
            let mut gone: Vec<&String> = since.known.iter().filter(|id| !in_window.contains(*id)).collect();
            gone.sort();
            items.extend(gone.into_iter().cloned().map(DeltaItem::Removed));
        }
        let next =
            DeltaState { calendar_id: calendar_id.to_owned(), start, end, version: calendar.version, known: in_window };
        self.delta_page(index, DeltaPage { items, offset: 0, next }, preferences)
    }

    /// A plain `calendarView`: the events overlapping the window, paged with `$skip`.
    fn calendar_view(
        &mut self,
        email: &str,
        calendar_id: &str,
        request: &Request,
        preferences: &Preferences,
    ) -> Response {
        let Some(index) = self.owned_calendar(email, calendar_id) else { return item_not_found() };
        let raw = |name: &str| param(&request.query, name);
        let bound = |name: &str| raw(name).and_then(parse_query_time);
        let (Some(start), Some(end)) = (bound("startDateTime"), bound("endDateTime")) else {
            return invalid_parameter(
                "This request requires a time window specified by the query string parameters StartDateTime and \
                 EndDateTime.",
            );
        };
        let skip = match raw("$skip").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => return invalid_parameter("Invalid value for $skip."),
        };
        let size = preferences.max_page_size.unwrap_or(self.page_size);
        let calendar = &self.calendars[index];
        let mut ids: Vec<&String> =
            calendar.events.iter().filter(|(_, e)| e.times.overlaps(start, end)).map(|(id, _)| id).collect();
        ids.sort_by_key(|id| (calendar.events[*id].times.start, (*id).clone()));
        let total = ids.len();
        let zone = preferences.zone();
        let value: Vec<Value> =
            ids.into_iter().skip(skip).take(size).filter_map(|id| self.event_json(index, id, &zone)).collect();
        let context = format!("{}/$metadata#Collection(event)", self.graph_url());
        let mut body = json!({"@odata.context": context, "value": value});
        if skip + size < total {
            let next = format!(
                "{}/{}/calendars/{}/calendarView?startDateTime={}&endDateTime={}&$skip={}",
                self.graph_url(),
                self.root,
                percent_encode(calendar_id),
                percent_encode(raw("startDateTime").unwrap_or_default()),
                percent_encode(raw("endDateTime").unwrap_or_default()),
                skip + size
            );
            body["@odata.nextLink"] = Value::String(next);
        }
        odata(StatusCode::OK, body)
    }

    fn delta_page(&mut self, index: usize, page: DeltaPage, preferences: &Preferences) -> Response {
        let size = preferences.max_page_size.unwrap_or(self.page_size);
        let zone = preferences.zone();
        let end = (page.offset + size).min(page.items.len());
        let value: Vec<Value> = page.items[page.offset..end]
            .iter()
            .map(|item| match item {
                DeltaItem::Changed(id) => self.event_json(index, id, &zone).unwrap_or_else(|| removed(id)),
                DeltaItem::Removed(id) => removed(id),
            })
            .collect();
        let base = format!(
            "{}/{}/calendars/{}/calendarView/delta",
            self.graph_url(),
            self.root,
            percent_encode(&page.next.calendar_id)
        );
        let context = format!("{}/$metadata#Collection(event)", self.graph_url());
        let mut body = json!({"@odata.context": context, "value": value});
        let token = random();
        if end < page.items.len() {
            body["@odata.nextLink"] = Value::String(format!("{base}?$skiptoken={token}"));
            self.pages.insert(token, DeltaPage { offset: end, ..page });
        } else {
            body["@odata.deltaLink"] = Value::String(format!("{base}?$deltatoken={token}"));
            self.deltas.insert(token, page.next);
        }
        let mut response = odata(StatusCode::OK, body);
        let mut applied = vec![format!("outlook.timezone=\"{}\"", zone.name)];
        if let Some(n) = preferences.max_page_size {
            applied.insert(0, format!("odata.maxpagesize={n}"));
        }
        if let Ok(value) = HeaderValue::from_str(&applied.join(", ")) {
            response.headers_mut().insert("preference-applied", value);
        }
        response
    }

    fn create_event(&mut self, index: usize, body: Option<&Value>, preferences: &Preferences) -> Response {
        if !self.calendars[index].can_edit {
            return access_denied();
        }
        let Some(Value::Object(fields)) = body else { return unable_to_deserialize() };
        let fields = writable_fields(fields);
        // A create retried with the same transactionId gets the event the first one made.
        if let Some(transaction) = fields.get("transactionId").and_then(Value::as_str) {
            let calendar = &self.calendars[index];
            let earlier = calendar
                .events
                .iter()
                .find(|(_, e)| e.fields.get("transactionId").and_then(Value::as_str) == Some(transaction));
            if let Some(event) =
                earlier.map(|(id, _)| id.clone()).and_then(|id| self.event_json(index, &id, &preferences.zone()))
            {
                return odata(StatusCode::CREATED, event);
            }
        }
        let times = match event_times(&fields) {
            Ok(times) => times,
            Err(error) => return error.into_response(),
        };
        let id = graph_id("AAMkAGI2");
        self.save(index, &id, fields, times, None);
        match self.event_json(index, &id, &preferences.zone()) {
            Some(event) => odata(StatusCode::CREATED, event),
            None => item_not_found(),
        }
    }

    fn update_event(
        &mut self,
        index: usize,
        event_id: &str,
        body: Option<&Value>,
        request: &Request,
        preferences: &Preferences,
    ) -> Response {
        if !self.calendars[index].can_edit {
            return access_denied();
        }
        if let Err(error) = self.precondition(index, event_id, request.if_match.as_deref()) {
            return error.into_response();
        }
        let Some(Value::Object(changes)) = body else { return unable_to_deserialize() };
        let Some(stored) = self.calendars[index].events.get(event_id) else { return item_not_found() };
        let mut fields = stored.fields.clone();
        for (key, value) in writable_fields(changes) {
            if value.is_null() {
                fields.remove(&key);
            } else {
                fields.insert(key, value);
            }
        }
        let times = match event_times(&fields) {
            Ok(times) => times,
            Err(error) => return error.into_response(),
        };
        self.save(index, event_id, fields, times, None);
        match self.event_json(index, event_id, &preferences.zone()) {
            Some(event) => odata(StatusCode::OK, event),
            None => item_not_found(),
        }
    }

    fn delete_event(&mut self, index: usize, event_id: &str, request: &Request) -> Response {
        if !self.calendars[index].can_edit {
            return access_denied();
        }
        if let Err(error) = self.precondition(index, event_id, request.if_match.as_deref()) {
            return error.into_response();
        }
        self.remove(index, event_id);
        StatusCode::NO_CONTENT.into_response()
    }

    /// The If-Match rule: when sent it must be the event's current etag (`W/"changeKey"`), its
    /// bare change key, or `*`.
    fn precondition(&self, index: usize, event_id: &str, if_match: Option<&str>) -> Result<(), GraphError> {
        let Some(if_match) = if_match.map(str::trim) else { return Ok(()) };
        let Some(stored) = self.calendars[index].events.get(event_id) else {
            return Err(GraphError::new(
                StatusCode::NOT_FOUND,
                "ErrorItemNotFound",
                "The specified object was not found in the store.",
            ));
        };
        if if_match == "*" || if_match == etag(&stored.change_key) || if_match == stored.change_key {
            return Ok(());
        }
        Err(GraphError::new(
            StatusCode::PRECONDITION_FAILED,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the request \
             does not match the current change key for the item.",
        ))
    }

    // Subscriptions

    /// Checks a subscription request; the handshake and the creation follow without the lock.
    fn check_subscription(&mut self, email: &str, body: Option<&Value>) -> Outcome {
        let Some(body) = body.filter(|b| b.is_object()) else { return Outcome::Done(unable_to_deserialize()) };
        let text = |key: &str| body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        let missing = |key: &str| {
            Outcome::Done(graph_error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                &format!("Subscription property '{key}' is required."),
            ))
        };
        let Some(change_type) = text("changeType") else { return missing("changeType") };
        if !change_type.split(',').all(|c| matches!(c.trim(), "created" | "updated" | "deleted")) {
            let message = format!("Invalid 'changeType' attribute: '{change_type}'.");
            return Outcome::Done(graph_error(StatusCode::BAD_REQUEST, "InvalidRequest", &message));
        }
        let Some(notification_url) = text("notificationUrl") else { return missing("notificationUrl") };
        let Some(resource) = text("resource") else { return missing("resource") };
        let Some(expiration) = text("expirationDateTime") else { return missing("expirationDateTime") };
        let expiration = match check_expiration(&expiration, self.now()) {
            Ok(expiration) => expiration,
            Err(error) => return Outcome::Done(error.into_response()),
        };
        let subscription = Subscription {
            id: uuid::Uuid::new_v4().to_string(),
            resource,
            change_type,
            notification_url,
            lifecycle_notification_url: text("lifecycleNotificationUrl"),
            client_state: text("clientState"),
            expiration,
        };
        self.account(email);
        Outcome::Validate(PendingSubscription { owner: email.to_owned(), subscription })
    }

    fn create_subscription(&mut self, pending: PendingSubscription) -> Response {
        let mut answer = self.subscription_json(&pending.subscription);
        answer["@odata.context"] = Value::String(format!("{}/$metadata#subscriptions/$entity", self.graph_url()));
        let creator = self.account(&pending.owner).id.clone();
        answer["creatorId"] = Value::String(creator);
        self.subscriptions.push(StoredSubscription { subscription: pending.subscription, owner: pending.owner });
        odata(StatusCode::CREATED, answer)
    }

    fn subscription_json(&self, subscription: &Subscription) -> Value {
        let creator = self.subscriptions.iter().find(|s| s.subscription.id == subscription.id).map(|s| &s.owner);
        let creator = creator.and_then(|email| self.accounts.get(email)).map(|a| a.id.clone());
        json!({
            "id": subscription.id,
            "resource": subscription.resource,
            "applicationId": CLIENT_ID,
            "changeType": subscription.change_type,
            "clientState": subscription.client_state,
            "notificationUrl": subscription.notification_url,
            "notificationQueryOptions": null,
            "lifecycleNotificationUrl": subscription.lifecycle_notification_url,
            "expirationDateTime": graph_instant(subscription.expiration),
            "creatorId": creator,
            "includeResourceData": null,
            "latestSupportedTlsVersion": "v1_2",
            "encryptionCertificate": null,
            "encryptionCertificateId": null,
            "notificationUrlAppId": null,
        })
    }

    /// GET, PATCH (renewal) and DELETE of one subscription of the account.
    fn subscription(&mut self, method: &Method, email: &str, id: &str, body: Option<&Value>) -> Response {
        let Some(position) = self.subscriptions.iter().position(|s| s.subscription.id == id && s.owner == email) else {
            return graph_error(StatusCode::NOT_FOUND, "ResourceNotFound", "The object was not found.");
        };
        match method.as_str() {
            "GET" => {
                let subscription = self.subscriptions[position].subscription.clone();
                odata(StatusCode::OK, self.subscription_json(&subscription))
            }
            "PATCH" => {
                let Some(text) = body.and_then(|b| b.get("expirationDateTime")).and_then(Value::as_str) else {
                    return graph_error(
                        StatusCode::BAD_REQUEST,
                        "InvalidRequest",
                        "Subscription property 'expirationDateTime' is required.",
                    );
                };
                match check_expiration(text, self.now()) {
                    Ok(expiration) => {
                        self.subscriptions[position].subscription.expiration = expiration;
                        let subscription = self.subscriptions[position].subscription.clone();
                        odata(StatusCode::OK, self.subscription_json(&subscription))
                    }
                    Err(error) => error.into_response(),
                }
            }
            "DELETE" => {
                self.subscriptions.remove(position);
                StatusCode::NO_CONTENT.into_response()
            }
            _ => method_not_allowed(),
        }
    }

    // Storage shared by Graph and the control methods

    /// Stores an event (new or replacing) with a new change key and stamp.
    fn save(&mut self, index: usize, id: &str, fields: Map<String, Value>, times: Times, ical_uid: Option<String>) {
        let now = Utc::now();
        let calendar = &mut self.calendars[index];
        calendar.version += 1;
        let previous = calendar.events.get(id);
        let stored = StoredEvent {
            created: previous.map_or(now, |p| p.created),
            ical_uid: ical_uid.or_else(|| previous.map(|p| p.ical_uid.clone())).unwrap_or_else(new_ical_uid),
            fields,
            times,
            stamp: calendar.version,
            modified: now,
            change_key: change_key(),
        };
        calendar.events.insert(id.to_owned(), stored);
    }

    fn remove(&mut self, index: usize, event_id: &str) {
        let calendar = &mut self.calendars[index];
        if calendar.events.remove(event_id).is_some() {
            calendar.version += 1;
        }
    }

    /// The calendar's event ids, oldest change first.
    fn ordered_events(&self, index: usize) -> Vec<String> {
        let mut events: Vec<(&String, &StoredEvent)> = self.calendars[index].events.iter().collect();
        events.sort_by(|a, b| (a.1.stamp, a.0).cmp(&(b.1.stamp, b.0)));
        events.into_iter().map(|(id, _)| id.clone()).collect()
    }

    /// An event as Graph returns it, times in `zone`.
    fn event_json(&self, index: usize, event_id: &str, zone: &Zone) -> Option<Value> {
        let calendar = &self.calendars[index];
        let stored = calendar.events.get(event_id)?;
        let owner = self.accounts.get(&calendar.owner).map(|a| a.display_name.clone()).unwrap_or_default();
        let mut event = json!({
            "categories": [],
            "transactionId": null,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": true,
            "hasAttachments": false,
            "subject": "",
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": false,
            "isCancelled": false,
            "isOrganizer": true,
            "responseRequested": true,
            "seriesMasterId": null,
            "showAs": "busy",
            "type": "singleInstance",
            "onlineMeetingUrl": null,
            "isOnlineMeeting": false,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": true,
            "isDraft": false,
            "hideAttendees": false,
            "recurrence": null,
            "onlineMeeting": null,
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
            "body": {"contentType": "html", "content": ""},
            "location": {"displayName": "", "locationType": "default", "uniqueIdType": "unknown",
                         "address": {}, "coordinates": {}},
            "locations": [],
            "attendees": [],
            "organizer": {"emailAddress": {"name": owner, "address": calendar.owner}},
        });
        let Value::Object(map) = &mut event else { return None };
        for (key, value) in &stored.fields {
            map.insert(key.clone(), value.clone());
        }
        let original_zone = |key: &str| {
            stored.fields.get(key).and_then(|t| t.get("timeZone")).and_then(Value::as_str).unwrap_or("UTC").to_owned()
        };
        let preview = map.get("body").and_then(|b| b.get("content")).and_then(Value::as_str).map(body_preview);
        let server = [
            ("@odata.etag", json!(etag(&stored.change_key))),
            ("id", json!(event_id)),
            ("createdDateTime", json!(graph_instant(stored.created))),
            ("lastModifiedDateTime", json!(graph_instant(stored.modified))),
            ("changeKey", json!(stored.change_key)),
            ("iCalUId", json!(stored.ical_uid)),
            ("bodyPreview", json!(preview.unwrap_or_default())),
            ("originalStartTimeZone", json!(original_zone("start"))),
            ("originalEndTimeZone", json!(original_zone("end"))),
            ("isAllDay", json!(stored.times.all_day)),
            ("start", render_time(stored.times.start, stored.times.all_day, zone)),
            ("end", render_time(stored.times.end, stored.times.all_day, zone)),
            (
                "webLink",
                json!(format!(
                    "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item",
                    percent_encode(event_id)
                )),
            ),
        ];
        for (key, value) in server {
            map.insert(key.to_owned(), value);
        }
        Some(event)
    }
}

/// The properties a client may set: Graph ignores read-only ones in the fake rather than fail.
fn writable_fields(fields: &Map<String, Value>) -> Map<String, Value> {
    const READ_ONLY: [&str; 9] = [
        "id",
        "@odata.etag",
        "@odata.context",
        "changeKey",
        "createdDateTime",
        "lastModifiedDateTime",
        "iCalUId",
        "bodyPreview",
        "webLink",
    ];
    fields.iter().filter(|(key, _)| !READ_ONLY.contains(&key.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The span of an event from its `start`, `end` and `isAllDay`.
fn event_times(fields: &Map<String, Value>) -> Result<Times, GraphError> {
    let all_day = fields.get("isAllDay").and_then(Value::as_bool).unwrap_or(false);
    let when = |key: &str| -> Result<DateTime<Utc>, GraphError> {
        let Some(value) = fields.get(key).filter(|v| v.is_object()) else {
            return Err(GraphError::new(
                StatusCode::BAD_REQUEST,
                "ErrorInvalidRequest",
                "Your request can't be completed. The start and end times are required.",
            ));
        };
        parse_date_time_zone(value, all_day)
    };
    let (start, end) = (when("start")?, when("end")?);
    if end < start {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "Your request can't be completed. The end time must be after the start time.",
        ));
    }
    Ok(Times { start, end, all_day })
}

/// A `dateTimeTimeZone`: a local `dateTime` in `timeZone` (Windows or IANA name, UTC when absent).
/// All-day events keep their dates, as midnights in UTC.
fn parse_date_time_zone(value: &Value, all_day: bool) -> Result<DateTime<Utc>, GraphError> {
    let Some(text) = value.get("dateTime").and_then(Value::as_str) else { return Err(unable_to_deserialize_error()) };
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.to_utc());
    }
    let naive =
        NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| unable_to_deserialize_error())?;
    if all_day {
        return Ok(naive.date().and_time(chrono::NaiveTime::MIN).and_utc());
    }
    let name = value.get("timeZone").and_then(Value::as_str).unwrap_or("UTC");
    let Some(zone) = zone_named(name) else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "TimeZoneNotSupportedException",
            format!(
                "A valid TimeZone value must be specified. The following TimeZone value is not supported: '{name}'."
            ),
        ));
    };
    zone.from_local_datetime(&naive).earliest().map(|t| t.to_utc()).ok_or_else(unable_to_deserialize_error)
}

/// A zone by the Windows name Outlook uses (the common ones) or by its IANA name.
fn zone_named(name: &str) -> Option<chrono_tz::Tz> {
    let iana = match name {
        "UTC" | "Coordinated Universal Time" | "tzone://Microsoft/Utc" => "UTC",
        "GMT Standard Time" => "Europe/London",
        "W. Europe Standard Time" => "Europe/Berlin",
        "Romance Standard Time" => "Europe/Paris",
        "Central Europe Standard Time" => "Europe/Budapest",
        "Central European Standard Time" => "Europe/Warsaw",
        "E. Europe Standard Time" => "Europe/Chisinau",
        "FLE Standard Time" => "Europe/Kiev",
        "Eastern Standard Time" => "America/New_York",
        "Central Standard Time" => "America/Chicago",
        "Mountain Standard Time" => "America/Denver",
        "Pacific Standard Time" => "America/Los_Angeles",
        "Tokyo Standard Time" => "Asia/Tokyo",
        "India Standard Time" => "Asia/Kolkata",
        "China Standard Time" => "Asia/Shanghai",
        "AUS Eastern Standard Time" => "Australia/Sydney",
        other => other,
    };
    iana.parse().ok()
}

/// A `dateTimeTimeZone` as Graph writes it: seven fraction digits, no offset.
fn render_time(instant: DateTime<Utc>, all_day: bool, zone: &Zone) -> Value {
    let local = if all_day { instant.naive_utc() } else { instant.with_timezone(&zone.tz).naive_local() };
    let fraction = local.and_utc().timestamp_subsec_nanos() / 100;
    json!({"dateTime": format!("{}.{fraction:07}", local.format("%Y-%m-%dT%H:%M:%S")), "timeZone": zone.name})
}

/// An instant as Graph writes it: `2026-05-04T09:00:00.1234567Z`.
fn graph_instant(instant: DateTime<Utc>) -> String {
    let fraction = instant.timestamp_subsec_nanos() / 100;
    format!("{}.{fraction:07}Z", instant.format("%Y-%m-%dT%H:%M:%S"))
}

/// An instant as notifications write it: `2026-05-04T09:00:00.1234567+00:00`.
fn notification_time(instant: DateTime<Utc>) -> String {
    let fraction = instant.timestamp_subsec_nanos() / 100;
    format!("{}.{fraction:07}+00:00", instant.format("%Y-%m-%dT%H:%M:%S"))
}

/// startDateTime and endDateTime: ISO 8601, with an offset or (then UTC) without.
fn parse_query_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc()))
}

/// A subscription's requested expiration, within Graph's limit for events.
fn check_expiration(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, GraphError> {
    let Some(expiration) = parse_query_time(text) else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            format!("Invalid 'expirationDateTime' attribute: '{text}'."),
        ));
    };
    if expiration > now + chrono::Duration::minutes(MAX_SUBSCRIPTION_MINUTES) {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ExtensionError",
            "Subscription expiration can only be 10070 minutes in the future.",
        ));
    }
    if expiration <= now {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ExtensionError",
            "Subscription expiration must be in the future.",
        ));
    }
    Ok(expiration)
}

/// Text of an HTML body, whitespace collapsed, cut to Graph's 255 characters.
fn body_preview(content: &str) -> String {
    let mut text = String::with_capacity(content.len());
    let mut in_tag = false;
    for c in content.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(255).collect()
}

fn removed(id: &str) -> Value {
    json!({"@odata.type": "#microsoft.graph.event", "id": id, "@removed": {"reason": "deleted"}})
}

// Notifications

/// Graph's validation token: text with spaces and punctuation, like the real one.
fn validation_token() -> String {
    format!("Validation: Testing client application reachability for subscription Request-Id: {}", uuid::Uuid::new_v4())
}

/// The handshake of a subscription request: the endpoint must answer 200 within 10 seconds, with
/// the decoded token as a text/plain body.
async fn handshake(url: &str) -> bool {
    let token = validation_token();
    let (status, body, content_type) = send_validation(url, &token).await;
    status == 200
        && body == token
        && content_type.is_some_and(|t| t.trim().to_ascii_lowercase().starts_with("text/plain"))
}

async fn send_validation(url: &str, token: &str) -> (u16, String, Option<String>) {
    let Ok(mut url) = Url::parse(url) else { return (0, String::new(), None) };
    url.query_pairs_mut().append_pair("validationToken", token);
    let request =
        notification_client().post(url).header(header::CONTENT_TYPE, "text/plain; charset=utf-8").body("").send().await;
    let Ok(response) = request else { return (0, String::new(), None) };
    let status = response.status().as_u16();
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.text().await.unwrap_or_default();
    (status, body, content_type)
}

async fn post_notification(url: &str, body: &Value) -> u16 {
    let request = notification_client()
        .post(url)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(body.to_string())
        .send()
        .await;
    request.map_or(0, |response| response.status().as_u16())
}

/// Graph follows no redirects when it calls a notification endpoint, and waits 10 seconds at most.
fn notification_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(VALIDATION_TIMEOUT)
        .build()
        .unwrap_or_default()
}

// Responses

/// A Graph OData answer.
fn odata(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, ODATA_JSON)], body.to_string()).into_response()
}

/// The token endpoint's answers, which the identity platform marks uncacheable.
fn oauth_json(status: StatusCode, body: Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store, no-cache"), (header::PRAGMA, "no-cache")], Json(body)).into_response()
}

/// The identity platform's error body: the AADSTS code leads the description, which ends with the
/// trace and correlation ids and a timestamp, as Microsoft writes them.
fn aad_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let (trace, correlation) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());
    let timestamp = Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    oauth_json(
        status,
        json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {description}\r\nTrace ID: {trace}\r\nCorrelation ID: {correlation}\r\nTimestamp: {timestamp}"
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

fn invalid_grant(code: u32, description: &str) -> Response {
    aad_error(StatusCode::BAD_REQUEST, "invalid_grant", code, description)
}

/// The authorize endpoint shows errors to the user as a page; here as text.
fn bad_authorize(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, message.to_owned()).into_response()
}

/// Graph's error body: `{"error":{"code","message"}}`.
fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

/// A Graph error on its way to becoming a response (small enough to travel in a `Result`).
#[derive(Debug)]
struct GraphError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl GraphError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        GraphError { status, code, message: message.into() }
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        graph_error(self.status, self.code, &self.message)
    }
}

fn unable_to_deserialize_error() -> GraphError {
    GraphError::new(StatusCode::BAD_REQUEST, "UnableToDeserializePostBody", "were unable to deserialize ")
}

fn unable_to_deserialize() -> Response {
    unable_to_deserialize_error().into_response()
}

fn item_not_found() -> Response {
    graph_error(StatusCode::NOT_FOUND, "ErrorItemNotFound", "The specified object was not found in the store.")
}

fn invalid_parameter(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "ErrorInvalidParameter", message)
}

/// Graph's refusal of a mailbox the token may not reach.
fn denied() -> GraphError {
    GraphError::new(StatusCode::FORBIDDEN, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

fn access_denied() -> Response {
    graph_error(StatusCode::FORBIDDEN, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

fn method_not_allowed() -> Response {
    graph_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

fn sync_state_not_found() -> Response {
    graph_error(StatusCode::GONE, "SyncStateNotFound", "The sync state generation is not found.")
}

fn throttled(retry_after: u64) -> Response {
    let mut response = graph_error(
        StatusCode::TOO_MANY_REQUESTS,
        "ApplicationThrottled",
        "Application is over its MailboxConcurrency limit.",
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

fn unauthenticated(message: &str) -> Response {
    let body = json!({"error": {
        "code": "InvalidAuthenticationToken",
        "message": message,
        "innerError": {
            "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
            "request-id": uuid::Uuid::new_v4().to_string(),
            "client-request-id": uuid::Uuid::new_v4().to_string(),
        },
    }});
    let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", \
             client_id=\"00000003-0000-0000-c000-000000000000\"",
        ),
    );
    response
}

// Identifiers and encodings

/// An Exchange item id as Graph shows them: URL-safe base64 with a fixed prefix, ending in `=`.
fn graph_id(prefix: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bits = [uuid::Uuid::new_v4().as_u128(), uuid::Uuid::new_v4().as_u128()];
    let body: String =
        bits.iter().flat_map(|b| (0..21).map(move |i| ALPHABET[((b >> (i * 6)) & 63) as usize] as char)).collect();
    format!("{prefix}{body}AAA=")
}

/// A change key as Exchange makes them: base64 of 16 bytes.
fn change_key() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bits = uuid::Uuid::new_v4().as_u128();
    let body: String = (0..21).map(|i| ALPHABET[((bits >> (i * 6)) & 63) as usize] as char).collect();
    format!("DwAAABYAAA{body}==")
}

fn etag(change_key: &str) -> String {
    format!("W/\"{change_key}\"")
}

/// Outlook's iCalendar UIDs: the fixed Outlook prefix and a hex tail.
fn new_ical_uid() -> String {
    format!("040000008200E00074C5B7101A82E00800000000{}", uuid::Uuid::new_v4().simple().to_string().to_uppercase())
}

fn user_id(personal: bool) -> String {
    if personal { random()[..16].to_owned() } else { uuid::Uuid::new_v4().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::Receiver;

    const ADA: &str = "ada@contoso.example";
    const REDIRECT: &str = "http://127.0.0.1:9/callback?from=microsoft";

    fn client() -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("an HTTP client")
    }

    /// A fake with Ada's default calendar and an access token for her.
    async fn with_calendar() -> (FakeMicrosoft, String, String) {
        let microsoft = FakeMicrosoft::start().await;
        let calendar = microsoft.add_calendar(ADA, "Calendar", true, true);
        let (access, _) = microsoft.issue_tokens(ADA);
        (microsoft, access, calendar)
    }

    fn timed(id: &str, day: u32) -> Value {
        json!({"id": id, "subject": format!("Event {id}"),
               "start": {"dateTime": format!("2026-05-{day:02}T09:00:00"), "timeZone": "W. Europe Standard Time"},
               "end": {"dateTime": format!("2026-05-{day:02}T10:00:00"), "timeZone": "W. Europe Standard Time"}})
    }

    async fn token(microsoft: &FakeMicrosoft, form: &[(&str, &str)]) -> (u16, Value) {
        let response = client().post(microsoft.token_url()).form(form).send().await.expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn refresh(microsoft: &FakeMicrosoft, refresh_token: &str) -> (u16, Value) {
        token(
            microsoft,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("scope", "offline_access Calendars.ReadWrite"),
            ],
        )
        .await
    }

    /// GETs a Graph URL (absolute, as next and delta links are) with the given preferences.
    async fn get(url: &str, access: &str, prefer: &[&str]) -> (u16, Value) {
        let mut request = client().get(url).bearer_auth(access);
        for preference in prefer {
            request = request.header("Prefer", *preference);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    fn ids(page: &Value) -> Vec<String> {
        page["value"].as_array().into_iter().flatten().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect()
    }

    fn code(body: &Value) -> &str {
        body["error"]["code"].as_str().unwrap_or_default()
    }

    #[tokio::test]
    async fn a_sign_in_redirects_with_code_and_state_and_offline_access_brings_a_refresh_token() {
        let microsoft = FakeMicrosoft::start().await;
        microsoft.sign_in_as("grace@outlook.example", "Grace Hopper", true);
        let state = "a b&c=d/é?";
        let response = client()
            .get(microsoft.authorize_url())
            .query(&[
                ("client_id", CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "offline_access Calendars.ReadWrite User.Read"),
                ("state", state),
                ("response_mode", "query"),
                ("prompt", "select_account"),
            ])
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::FOUND);
        let location = response.headers()[header::LOCATION].to_str().expect("a location").to_owned();
        assert!(location.starts_with("http://127.0.0.1:9/callback?from=microsoft&"), "{location}");
        let query: Vec<(String, String)> = Url::parse(&location).expect("a URL").query_pairs().into_owned().collect();
        assert_eq!(param(&query, "state"), Some(state));
        let code = param(&query, "code").expect("a code").to_owned();

        let exchange = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        let (status, tokens) = token(&microsoft, &exchange).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 3599);
        assert_eq!(tokens["ext_expires_in"], 3599);
        assert_eq!(tokens["scope"], "Calendars.ReadWrite User.Read");
        assert!(tokens["refresh_token"].is_string(), "{tokens}");
        let access = tokens["access_token"].as_str().expect("an access token");

        let (status, me) = get(&format!("{}/me", microsoft.graph_url()), access, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(me["displayName"], "Grace Hopper");
        assert_eq!(me["mail"], Value::Null);
        assert_eq!(me["userPrincipalName"], "grace@outlook.example");

        let (status, again) = token(&microsoft, &exchange).await;
        assert_eq!((status, again["error"].as_str()), (400, Some("invalid_grant")));
        assert_eq!(again["error_codes"], json!([70000]));
        assert!(again["error_description"].as_str().is_some_and(|d| d.starts_with("AADSTS70000: ")));
    }

    #[tokio::test]
    async fn a_code_without_offline_access_or_for_another_redirect_uri_gets_no_refresh_token() {
        let microsoft = FakeMicrosoft::start().await;
        let authorize = || {
            client()
                .get(microsoft.authorize_url())
                .query(&[
                    ("client_id", CLIENT_ID),
                    ("response_type", "code"),
                    ("redirect_uri", REDIRECT),
                    ("scope", "User.Read"),
                ])
                .send()
        };
        let code_of = |response: reqwest::Response| {
            let location = response.headers()[header::LOCATION].to_str().expect("a location").to_owned();
            let query: Vec<(String, String)> =
                Url::parse(&location).expect("a URL").query_pairs().into_owned().collect();
            param(&query, "code").expect("a code").to_owned()
        };
        let code = code_of(authorize().await.expect("the fake answers"));
        let mut exchange = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ];
        let (status, body) = token(&microsoft, &exchange).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
        exchange[2].1 = REDIRECT;
        let (status, tokens) = token(&microsoft, &exchange).await;
        assert_eq!(status, 200, "{tokens}");
        assert!(tokens.get("refresh_token").is_none(), "{tokens}");

        let response = client()
            .get(microsoft.authorize_url())
            .query(&[("client_id", "someone-else"), ("response_type", "code"), ("redirect_uri", REDIRECT)])
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.text().await.expect("text").starts_with("AADSTS700016"));
    }

    #[tokio::test]
    async fn refreshing_rotates_the_refresh_token_and_the_old_one_then_fails_with_aadsts70000() {
        let microsoft = FakeMicrosoft::start().await;
        let (_, first) = microsoft.issue_tokens(ADA);
        let (status, tokens) = refresh(&microsoft, &first).await;
        assert_eq!(status, 200, "{tokens}");
        let second = tokens["refresh_token"].as_str().expect("a new refresh token").to_owned();
        assert_ne!(second, first);
        assert!(tokens["access_token"].is_string());

        let (status, body) = refresh(&microsoft, &first).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_codes"], json!([70000]));
        assert!(body["error_description"].as_str().is_some_and(|d| d.starts_with("AADSTS70000: ")), "{body}");

        let (status, _) = refresh(&microsoft, &second).await;
        assert_eq!(status, 200);
    }

    #[tokio::test]
    async fn a_revoked_refresh_token_fails_with_aadsts50173() {
        let microsoft = FakeMicrosoft::start().await;
        let (_, refresh_token) = microsoft.issue_tokens(ADA);
        microsoft.revoke(&refresh_token);
        let (status, body) = refresh(&microsoft, &refresh_token).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");
        assert_eq!(body["error_codes"], json!([50173]));
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(
            description.starts_with("AADSTS50173: The provided grant has expired due to it being revoked"),
            "{description}"
        );
    }

    #[tokio::test]
    async fn a_wrong_client_secret_is_refused_with_aadsts7000215() {
        let microsoft = FakeMicrosoft::start().await;
        let (_, refresh_token) = microsoft.issue_tokens(ADA);
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.as_str()),
            ("client_id", CLIENT_ID),
            ("client_secret", "nope"),
        ];
        let (status, body) = token(&microsoft, &form).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "invalid_client");
        assert_eq!(body["error_codes"], json!([7000215]));
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| d.starts_with("AADSTS7000215: Invalid client secret provided."))
        );
    }

    #[tokio::test]
    async fn me_reports_mail_for_a_work_account_and_an_expired_token_gets_graphs_401() {
        let (microsoft, access, _) = with_calendar().await;
        let me_url = format!("{}/me", microsoft.graph_url());
        let (status, me) = get(&me_url, &access, &[]).await;
        assert_eq!(status, 200);
        assert_eq!((me["mail"].as_str(), me["userPrincipalName"].as_str()), (Some(ADA), Some(ADA)));
        assert!(me["id"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()));
        microsoft.expire_access_tokens();
        let (status, body) = get(&me_url, &access, &[]).await;
        assert_eq!(status, 401);
        assert_eq!(code(&body), "InvalidAuthenticationToken");
        assert_eq!(body["error"]["message"], "Access token has expired or is not yet valid.");
        assert!(
            body["error"]["innerError"]["request-id"].is_string() && body["error"]["innerError"]["date"].is_string()
        );
    }

    #[tokio::test]
    async fn the_calendar_list_pages_with_next_links() {
        let (microsoft, access, default) = with_calendar().await;
        let shared = microsoft.add_calendar(ADA, "Team", false, false);
        microsoft.add_calendar("grace@contoso.example", "Grace", true, true);
        let (status, page) =
            get(&format!("{}/me/calendars", microsoft.graph_url()), &access, &["odata.maxpagesize=1"]).await;
        assert_eq!(status, 200);
        assert_eq!(ids(&page), [default.as_str()]);
        assert_eq!(page["value"][0]["isDefaultCalendar"], true);
        assert_eq!(page["value"][0]["owner"]["address"], ADA);
        let next = page["@odata.nextLink"].as_str().expect("a next link");
        let (_, page) = get(next, &access, &["odata.maxpagesize=1"]).await;
        assert_eq!(ids(&page), [shared.as_str()]);
        assert_eq!(page["value"][0]["canEdit"], false);
        assert!(page.get("@odata.nextLink").is_none());
    }

    #[tokio::test]
    async fn a_calendar_view_delta_pages_to_a_delta_link_and_then_returns_changes_and_removals() {
        let (microsoft, access, calendar) = with_calendar().await;
        for (day, id) in ["AAMkEvent1=", "AAMkEvent2=", "AAMkEvent3=", "AAMkEvent4="].iter().enumerate() {
            microsoft.put_event(&calendar, timed(id, day as u32 + 4));
        }
        microsoft.put_event(&calendar, timed("AAMkOutside=", 28));
        let first = format!(
            "{}/me/calendars/{}/calendarView/delta?startDateTime=2026-05-01T00:00:00Z&endDateTime=2026-05-20T00:00:00Z",
            microsoft.graph_url(),
            percent_encode(&calendar)
        );
        let prefer = ["odata.maxpagesize=3", "outlook.timezone=\"UTC\"", "IdType=\"ImmutableId\""];
        let (status, page) = get(&first, &access, &prefer).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids(&page), ["AAMkEvent1=", "AAMkEvent2=", "AAMkEvent3="]);
        let event = &page["value"][0];
        assert_eq!(event["start"], json!({"dateTime": "2026-05-04T07:00:00.0000000", "timeZone": "UTC"}));
        assert_eq!(event["originalStartTimeZone"], "W. Europe Standard Time");
        assert_eq!(event["@odata.etag"], format!("W/\"{}\"", event["changeKey"].as_str().unwrap_or_default()));
        assert_eq!(event["type"], "singleInstance");
        let next = page["@odata.nextLink"].as_str().expect("a next link");
        assert!(next.starts_with(&microsoft.graph_url()) && next.contains("$skiptoken="), "{next}");
        let (_, page) = get(next, &access, &prefer).await;
        assert_eq!(ids(&page), ["AAMkEvent4="]);
        let delta = page["@odata.deltaLink"].as_str().expect("a delta link").to_owned();
        assert!(delta.contains("$deltatoken="), "{delta}");
        assert!(microsoft.requests().iter().any(|r| r.prefer.iter().any(|p| p == "IdType=\"ImmutableId\"")));

        let mut renamed = timed("AAMkEvent2=", 5);
        renamed["subject"] = json!("Renamed in Outlook");
        microsoft.put_event(&calendar, renamed);
        microsoft.delete_event(&calendar, "AAMkEvent3=");
        microsoft.put_event(&calendar, timed("AAMkEvent4=", 25));
        microsoft.put_event(&calendar, timed("AAMkNew=", 12));
        microsoft.put_event(&calendar, timed("AAMkOutside=", 29));
        let (status, changes) = get(&delta, &access, &[]).await;
        assert_eq!(status, 200, "{changes}");
        assert_eq!(ids(&changes), ["AAMkEvent2=", "AAMkNew=", "AAMkEvent3=", "AAMkEvent4="]);
        assert_eq!(changes["value"][0]["subject"], "Renamed in Outlook");
        let removed = json!({"@odata.type": "#microsoft.graph.event", "id": "AAMkEvent3=",
                             "@removed": {"reason": "deleted"}});
        assert_eq!(changes["value"][2], removed);
        assert_eq!(changes["value"][3]["@removed"]["reason"], "deleted");
        let delta = changes["@odata.deltaLink"].as_str().expect("a delta link");
        let (_, nothing) = get(delta, &access, &[]).await;
        assert_eq!(ids(&nothing), Vec::<String>::new());
        assert_eq!(microsoft.events(&calendar).len(), 5);
    }

    #[tokio::test]
    async fn an_expired_delta_token_answers_410_and_a_first_round_needs_its_window() {
        let (microsoft, access, calendar) = with_calendar().await;
        microsoft.put_event(&calendar, timed("AAMkEvent1=", 4));
        let base = format!("{}/me/calendars/{}/calendarView/delta", microsoft.graph_url(), percent_encode(&calendar));
        let (status, body) = get(&base, &access, &[]).await;
        assert_eq!((status, code(&body)), (400, "ErrorInvalidParameter"));
        let window = format!("{base}?startDateTime=2026-05-01T00:00:00&endDateTime=2026-06-01T00:00:00");
        let (_, page) = get(&window, &access, &[]).await;
        let delta = page["@odata.deltaLink"].as_str().expect("a delta link");
        microsoft.expire_delta_tokens();
        let (status, body) = get(delta, &access, &[]).await;
        assert_eq!(status, 410);
        assert_eq!(
            body,
            json!({"error": {"code": "SyncStateNotFound", "message": "The sync state generation is not found."}})
        );
    }

    #[tokio::test]
    async fn a_throttled_request_answers_429_with_retry_after_and_then_graph_recovers() {
        let (microsoft, access, _) = with_calendar().await;
        microsoft.throttle_next(1, 7);
        let url = format!("{}/me/calendars", microsoft.graph_url());
        let response = client().get(&url).bearer_auth(&access).send().await.expect("the fake answers");
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "7");
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(
            body,
            json!({"error": {"code": "ApplicationThrottled",
                             "message": "Application is over its MailboxConcurrency limit."}})
        );
        assert_eq!(get(&url, &access, &[]).await.0, 200);
        let (status, _) = token(&microsoft, &[("grant_type", "refresh_token")]).await;
        assert_eq!(status, 400);
        assert_eq!(microsoft.api_request_count(), 2);
    }

    #[tokio::test]
    async fn events_are_created_patched_with_if_match_and_deleted() {
        let (microsoft, access, calendar) = with_calendar().await;
        let response = client()
            .post(format!("{}/me/calendars/{}/events", microsoft.graph_url(), percent_encode(&calendar)))
            .bearer_auth(&access)
            .json(&json!({"subject": "Planning", "isAllDay": true,
                          "body": {"contentType": "html", "content": "<p>Bring <b>notes</b></p>"},
                          "start": {"dateTime": "2026-05-06T00:00:00", "timeZone": "Europe/Berlin"},
                          "end": {"dateTime": "2026-05-07T00:00:00", "timeZone": "Europe/Berlin"}}))
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.expect("JSON");
        assert_eq!(created["start"], json!({"dateTime": "2026-05-06T00:00:00.0000000", "timeZone": "UTC"}));
        assert_eq!(created["bodyPreview"], "Bring notes");
        assert_eq!(created["organizer"]["emailAddress"]["address"], ADA);
        let id = created["id"].as_str().expect("an id").to_owned();
        let stale = created["@odata.etag"].as_str().expect("an etag").to_owned();

        let url = format!("{}/me/events/{}", microsoft.graph_url(), percent_encode(&id));
        let patch = |etag: String| {
            client()
                .patch(&url)
                .bearer_auth(&access)
                .header(header::IF_MATCH, etag)
                .json(&json!({"subject": "Retro"}))
                .send()
        };
        let response = patch(stale.clone()).await.expect("the fake answers");
        assert_eq!(response.status(), StatusCode::OK);
        let patched: Value = response.json().await.expect("JSON");
        assert_eq!((patched["subject"].as_str(), patched["isAllDay"].as_bool()), (Some("Retro"), Some(true)));
        assert_ne!(patched["@odata.etag"].as_str(), Some(stale.as_str()));

        let response = patch(stale).await.expect("the fake answers");
        assert_eq!(response.status(), StatusCode::PRECONDITION_FAILED);
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(code(&body), "ErrorIrresolvableConflict");
        assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("does not match the current change key")));

        let (status, fetched) = get(&url, &access, &[]).await;
        assert_eq!((status, fetched["subject"].as_str()), (200, Some("Retro")));
        let deleted = client().delete(&url).bearer_auth(&access).send().await.expect("the fake answers");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let again = client().delete(&url).bearer_auth(&access).send().await.expect("the fake answers");
        assert_eq!(again.status(), StatusCode::NOT_FOUND);
        let body: Value = again.json().await.expect("JSON");
        assert_eq!(code(&body), "ErrorItemNotFound");
    }

    /// An endpoint that answers Graph's validation request properly, and takes notifications.
    async fn echo_server() -> (String, Arc<Mutex<Vec<Value>>>) {
        let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}/notify?tenant=1", listener.local_addr().expect("addr"));
        let app =
            Router::new().fallback(|State(seen): State<Arc<Mutex<Vec<Value>>>>, uri: Uri, body: Bytes| async move {
                let query = uri.query().map(parse_pairs).unwrap_or_default();
                match param(&query, "validationToken") {
                    Some(token) => {
                        (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], token.to_owned()).into_response()
                    }
                    None => {
                        seen.lock().expect("seen").push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                        StatusCode::ACCEPTED.into_response()
                    }
                }
            });
        let app = app.with_state(seen.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (url, seen)
    }

    async fn subscribe(microsoft: &FakeMicrosoft, access: &str, body: &Value) -> (u16, Value) {
        let response = client()
            .post(format!("{}/subscriptions", microsoft.graph_url()))
            .bearer_auth(access)
            .json(body)
            .send()
            .await
            .expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn a_subscription_needs_an_endpoint_that_echoes_the_validation_token() {
        let (microsoft, access, _) = with_calendar().await;
        let silent = Receiver::start(&[]).await;
        let expiration = (Utc::now() + chrono::Duration::days(2)).to_rfc3339();
        let request = |url: &str, expiration: &str| {
            json!({"changeType": "created,updated,deleted", "notificationUrl": url, "resource": "me/events",
                   "expirationDateTime": expiration, "clientState": "s3cret"})
        };
        let (status, body) = subscribe(&microsoft, &access, &request(&silent.url, &expiration)).await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"error": {"code": "ValidationError", "message": "Subscription validation request failed. \
                   Response must exactly match validationToken query parameter."}})
        );
        let validation = &silent.received()[0];
        assert!(validation.body.is_empty());
        assert!(microsoft.subscriptions().is_empty());

        let (url, seen) = echo_server().await;
        let too_far = (Utc::now() + chrono::Duration::minutes(10_081)).to_rfc3339();
        let (status, body) = subscribe(&microsoft, &access, &request(&url, &too_far)).await;
        assert_eq!((status, code(&body)), (400, "ExtensionError"));

        let mut with_lifecycle = request(&url, &expiration);
        with_lifecycle["lifecycleNotificationUrl"] = json!(url);
        let (status, created) = subscribe(&microsoft, &access, &with_lifecycle).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["clientState"], "s3cret");
        assert_eq!(created["applicationId"], CLIENT_ID);
        assert_eq!(created["notificationUrl"], url);
        let id = created["id"].as_str().expect("an id").to_owned();
        assert_eq!(microsoft.subscriptions()[0].client_state.as_deref(), Some("s3cret"));

        let (status, text, content_type) = microsoft.validate(&url, "a b&c").await;
        assert_eq!((status, text.as_str(), content_type.as_deref()), (200, "a b&c", Some("text/plain")));
        assert_eq!(microsoft.notify(&id, "updated").await, 202);
        assert_eq!(microsoft.lifecycle(&id, "reauthorizationRequired").await, 202);
        let seen = seen.lock().expect("seen").clone();
        assert_eq!(seen[0]["value"][0]["subscriptionId"], id);
        assert_eq!(seen[0]["value"][0]["clientState"], "s3cret");
        assert_eq!(seen[0]["value"][0]["changeType"], "updated");
        assert_eq!(seen[0]["value"][0]["tenantId"], WORK_TENANT);
        assert_eq!(seen[1]["value"][0]["lifecycleEvent"], "reauthorizationRequired");

        let sub_url = format!("{}/subscriptions/{id}", microsoft.graph_url());
        let renewed = (Utc::now() + chrono::Duration::days(6)).to_rfc3339();
        let response = client()
            .patch(&sub_url)
            .bearer_auth(&access)
            .json(&json!({"expirationDateTime": renewed}))
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(microsoft.subscriptions()[0].expiration > Utc::now() + chrono::Duration::days(5));
        let deleted = client().delete(&sub_url).bearer_auth(&access).send().await.expect("the fake answers");
        assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
        let again = client().delete(&sub_url).bearer_auth(&access).send().await.expect("the fake answers");
        assert_eq!(again.status(), StatusCode::NOT_FOUND);
        let body: Value = again.json().await.expect("JSON");
        assert_eq!(code(&body), "ResourceNotFound");
    }

    /// A client credentials grant at `tenant`'s token endpoint.
    async fn app_token(microsoft: &FakeMicrosoft, tenant: &str) -> (u16, Value) {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("scope", "https://graph.microsoft.com/.default"),
        ];
        let url = format!("{}/{tenant}/oauth2/v2.0/token", microsoft.url);
        let response = client().post(url).form(&form).send().await.expect("the fake answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn an_admin_consent_lets_app_tokens_of_the_tenant_reach_its_mailboxes_only() {
        let (microsoft, own, calendar) = with_calendar().await;
        microsoft.add_tenant("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", &["fabrikam.example"]);
        microsoft.add_calendar("eve@fabrikam.example", "Calendar", true, true);
        let (grace, _) = microsoft.issue_tokens("grace@contoso.example");

        // No consent yet: no app token.
        let (status, body) = app_token(&microsoft, WORK_TENANT).await;
        assert_eq!((status, body["error_codes"].clone()), (400, json!([7000229])), "{body}");

        // A work account's administrator consents for its tenant.
        microsoft.sign_in_as("admin@contoso.example", "Admin", false);
        let consent = format!(
            "{}/organizations/v2.0/adminconsent?client_id={CLIENT_ID}&scope={}&redirect_uri={}&state=s1",
            microsoft.url,
            percent_encode("https://graph.microsoft.com/.default"),
            percent_encode(REDIRECT)
        );
        let answer = client().get(&consent).send().await.expect("the fake answers");
        assert_eq!(answer.status(), StatusCode::FOUND);
        let location = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
        let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
        assert_eq!((query["admin_consent"].as_str(), query["tenant"].as_str()), ("True", WORK_TENANT));
        assert_eq!(query["state"], "s1");

        let (status, body) = app_token(&microsoft, WORK_TENANT).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("refresh_token").is_none());
        let app = body["access_token"].as_str().unwrap().to_owned();
        let graph = microsoft.graph_url();

        // The tenant's mailboxes, by address or id; not another tenant's, and not /me.
        let (status, page) = get(&format!("{graph}/users/{ADA}/calendars"), &app, &[]).await;
        assert_eq!((status, ids(&page)), (200, vec![calendar.clone()]));
        let (status, organization) = get(&format!("{graph}/organization"), &app, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(organization["value"][0]["verifiedDomains"][0]["name"], json!("contoso.example"));
        assert_eq!(organization["value"][0]["verifiedDomains"][0]["isDefault"], json!(true));
        let (status, body) = get(&format!("{graph}/users/eve@fabrikam.example/calendars"), &app, &[]).await;
        assert_eq!((status, code(&body)), (403, "ErrorAccessDenied"));
        let (status, body) = get(&format!("{graph}/users/nobody@contoso.example/calendars"), &app, &[]).await;
        assert_eq!((status, code(&body)), (404, "ErrorInvalidUser"));
        let (status, _) = get(&format!("{graph}/me/calendars"), &app, &[]).await;
        assert_eq!(status, 400);

        // A delegated token reaches its own user only.
        let (status, _) = get(&format!("{graph}/users/{ADA}/calendars"), &own, &[]).await;
        assert_eq!(status, 200);
        let (status, body) = get(&format!("{graph}/users/{ADA}/calendars"), &grace, &[]).await;
        assert_eq!((status, code(&body)), (403, "ErrorAccessDenied"));

        // Once the administrator removes the application, grants are refused.
        microsoft.revoke_consent(WORK_TENANT);
        let (status, body) = app_token(&microsoft, WORK_TENANT).await;
        assert_eq!((status, body["error"].clone()), (400, json!("invalid_client")));
    }

    #[tokio::test]
    async fn a_declined_admin_consent_goes_back_with_an_error_and_grants_nothing() {
        let microsoft = FakeMicrosoft::start().await;
        microsoft.decline_next_consent();
        let consent = format!(
            "{}/organizations/v2.0/adminconsent?client_id={CLIENT_ID}&scope=x&redirect_uri={}&state=s2",
            microsoft.url,
            percent_encode(REDIRECT)
        );
        let answer = client().get(&consent).send().await.expect("the fake answers");
        let location = Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap();
        let query: HashMap<String, String> = location.query_pairs().into_owned().collect();
        assert_eq!(query["error"], "access_denied");
        assert!(!query.contains_key("tenant"));
        assert!(!microsoft.consented(WORK_TENANT));
    }
}
