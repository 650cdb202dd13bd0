//! The Microsoft Graph adapter for Office 365 and Outlook.com (providers.md §3): one
//! `calendarView/delta` feed per calendar over a window padded beyond the sync window.
//!
//! Graph expands series itself, so a resource is one instance (a single event, an occurrence or
//! an exception), keyed by its immutable id. A delta round is followed page by page to its
//! `@odata.deltaLink`; the cursor is that link with the range it covers, and the engine stores
//! it with the changes, in one transaction. The range cannot slide, so once the sync window
//! comes within a week of the range's end (or reaches before its start), `changes_since` asks
//! the engine to list the window again and sweep, which starts a new round: a re-baseline, about
//! weekly. Between rounds, the daily window advance reads the days it gained with a plain
//! `calendarView`. A no-change sync is the one delta request.
//!
//! `@removed` does not mean deleted: Graph also reports events that left the range, and events
//! outside it that changed. Each removed id is looked up: one that is gone is a deletion, one
//! that still exists is a changed resource, which the engine keeps where it overlaps the window
//! (an instance cached before but now outside it leaves the cache; one that merely aged out of
//! the window is not touched). Replays within a round are folded, the last state winning.
//!
//! Writes create events with `POST` (carrying a `transactionId` derived from the resource name,
//! so Graph drops a retried create) and update them with `PATCH` under `If-Match`; Graph chooses
//! event ids, which the push records, so the sync recognises partner events by that id.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration, Utc};
use chrono_tz::Tz;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::provider::{
    CalendarListing, CalendarProvider, ChangeSet, ProviderError, RangeListing, RemoteCalendar, RemoteResource, Watch,
    Written, event_to_write,
};
use super::session::OAuthSession;
use super::window::SyncWindow;
use crate::crypto::Credentials;
use crate::domain::{EventTime, Transparency};
use crate::ical::Component;
use crate::providers::{
    OAuthClient,
    graph::{
        client::{ApiError, GraphClient},
        event,
    },
    oauth::{IdentityPlatform, needs_refresh},
};

/// How far the delta range reaches before the sync window.
const PAST_PADDING: Duration = Duration::days(7);
/// How far the delta range reaches beyond the sync window.
const FUTURE_PADDING: Duration = Duration::days(14);
/// A range whose end is closer than this to the window's end is re-baselined.
const REBASELINE_MARGIN: Duration = Duration::days(7);
/// Subscriptions are asked for just under Graph's maximum for Outlook events (10,080 minutes).
const SUBSCRIPTION_MINUTES: i64 = 10_080 - 60;
/// Delta links are followed at most this many pages, against a server that never ends a round.
const MAX_PAGES: usize = 10_000;

/// What the engine stores as the token: the round's delta link and the range it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DeltaCursor {
    link: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// How the adapter holds its token: a profile's own delegated token set (refreshed with its
/// refresh token), or an Office 365 tenant's application token (Enterprise Connect), renewed by
/// a new client credentials grant for the tenant.
#[derive(Debug)]
enum Auth {
    Delegated(OAuthSession),
    Application {
        platform: IdentityPlatform,
        client: Option<OAuthClient>,
        tenant: String,
        credentials: Mutex<Credentials>,
        now: DateTime<Utc>,
    },
}

impl Auth {
    fn now(&self) -> DateTime<Utc> {
        match self {
            Auth::Delegated(session) => session.now(),
            Auth::Application { now, .. } => *now,
        }
    }

    fn access_token(&self) -> String {
        match self {
            Auth::Delegated(session) => session.access_token(),
            Auth::Application { credentials, .. } => {
                match &*credentials.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) {
                    Credentials::OauthTokenSet { access_token, .. } => access_token.clone(),
                    _ => String::new(),
                }
            }
        }
    }

    /// A renewed token set when the current one is near expiry; `None` when it is not.
    async fn renew(&self) -> Result<Option<Credentials>, ProviderError> {
        let Auth::Application { platform, client, tenant, credentials, now } = self else {
            let Auth::Delegated(session) = self else { return Ok(None) };
            return session.renew().await;
        };
        let current = credentials.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if !needs_refresh(&current, *now) {
            return Ok(None);
        }
        let Some(client) = client else {
            return Err(ProviderError::Permanent("no OAuth client is configured for Microsoft".into()));
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| ProviderError::Permanent("the HTTP client could not be built".into()))?;
        let renewed = platform.client_credentials(&http, client, tenant, *now).await?;
        *credentials.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = renewed.clone();
        Ok(Some(renewed))
    }
}

/// One Microsoft account: the signed-in user's own (`me`), or a mailbox of an Office 365 tenant
/// reached with the tenant's application token (`users/{address}`).
#[derive(Debug)]
pub struct GraphProvider {
    client: Mutex<GraphClient>,
    session: Auth,
    /// The path every request starts with: `me`, or `users/{address}`.
    root: Vec<String>,
    /// The instances of a calendar the last delta round returned, so the round that yields a
    /// cursor also serves the window fill that follows it.
    listed: Mutex<BTreeMap<String, Vec<Value>>>,
}

impl GraphProvider {
    pub fn new(
        graph_url: &str,
        platform: IdentityPlatform,
        oauth: Option<OAuthClient>,
        credentials: Credentials,
        now: DateTime<Utc>,
    ) -> Result<Self, ProviderError> {
        let session = Auth::Delegated(OAuthSession::new(platform, oauth, credentials, now)?);
        Self::build(graph_url, session, vec!["me".to_owned()])
    }

    /// A mailbox of an Office 365 tenant, with the tenant's application token (Enterprise
    /// Connect): every path is under `users/{mailbox}`, and the token is renewed by a client
    /// credentials grant for `tenant`.
    pub fn for_mailbox(
        graph_url: &str,
        platform: IdentityPlatform,
        oauth: Option<OAuthClient>,
        credentials: Credentials,
        tenant: &str,
        mailbox: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, ProviderError> {
        if !matches!(credentials, Credentials::OauthTokenSet { .. }) {
            return Err(ProviderError::Permanent("the service account's credentials are not a token set".into()));
        }
        let session = Auth::Application {
            platform,
            client: oauth,
            tenant: tenant.to_owned(),
            credentials: Mutex::new(credentials),
            now,
        };
        Self::build(graph_url, session, vec!["users".to_owned(), mailbox.to_owned()])
    }

    fn build(graph_url: &str, session: Auth, root: Vec<String>) -> Result<Self, ProviderError> {
        let client = GraphClient::new(graph_url, &session.access_token()).map_err(classify)?;
        Ok(Self { client: Mutex::new(client), session, root, listed: Mutex::new(BTreeMap::new()) })
    }

    /// The URL of `rest` under the mailbox's root.
    fn at(&self, client: &GraphClient, rest: &[&str], query: &[(&str, &str)]) -> Url {
        let mut segments: Vec<&str> = self.root.iter().map(String::as_str).collect();
        segments.extend_from_slice(rest);
        client.url(&segments, query)
    }

    /// Graph's refusals, classified; for a tenant's application token a 403 also means the
    /// tenant no longer lets calsync reach the mailbox, so the profile is disconnected.
    fn classify(&self, error: ApiError) -> ProviderError {
        let app = matches!(self.session, Auth::Application { .. });
        match error {
            ApiError::Refused(reason) if app && reason.starts_with("HTTP 403") => ProviderError::CredentialsDead,
            other => classify(other),
        }
    }

    fn client(&self) -> GraphClient {
        self.client.lock().map(|c| c.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Every page from `url` on: the items and the round's delta link (absent for listings that
    /// are not delta queries).
    async fn follow(&self, url: Url) -> Result<(Vec<Value>, Option<String>), ProviderError> {
        let client = self.client();
        let mut items = Vec::new();
        let mut next = url;
        for _ in 0..MAX_PAGES {
            let page = client.send(Method::GET, next, None, None).await.map_err(|e| self.classify(e))?;
            if let Some(found) = page["value"].as_array() {
                items.extend(found.iter().cloned());
            }
            match page["@odata.nextLink"].as_str() {
                Some(link) => next = link_url(&client, link)?,
                None => return Ok((items, page["@odata.deltaLink"].as_str().map(str::to_owned))),
            }
        }
        Err(ProviderError::Transient { retry_after: None, reason: "a Graph listing did not end".into() })
    }

    /// Looks up every id a round reported `@removed`: gone ones are deletions, the others come
    /// back as their current state.
    async fn resolve_removals(&self, removed: Vec<String>) -> Result<(Vec<Value>, Vec<String>), ProviderError> {
        let client = self.client();
        let (mut existing, mut gone) = (Vec::new(), Vec::new());
        for id in removed {
            match client.send(Method::GET, self.at(&client, &["events", &id], &[]), None, None).await {
                Ok(found) if found["isCancelled"] != true => existing.push(found),
                Ok(_) | Err(ApiError::NotFound) => gone.push(id),
                Err(e) => return Err(self.classify(e)),
            }
        }
        Ok((existing, gone))
    }
}

fn link_url(client: &GraphClient, link: &str) -> Result<Url, ProviderError> {
    let url = Url::parse(link).map_err(|_| ProviderError::Permanent("Graph sent a link that is not a URL".into()))?;
    if !client.owns(&url) {
        return Err(ProviderError::Permanent("Graph sent a link outside Graph".into()));
    }
    Ok(url)
}

/// Graph's query times: UTC, whole seconds.
fn query_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Folds a round's entries (replays included, the last winning) into changed instances and
/// removed ids.
fn fold(items: Vec<Value>) -> (Vec<Value>, Vec<String>) {
    let mut last: BTreeMap<String, Value> = BTreeMap::new();
    for item in items {
        if let Some(id) = item["id"].as_str() {
            last.insert(id.to_owned(), item);
        }
    }
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    for (id, item) in last {
        // A cancelled occurrence is a removed instance of a series that lives on.
        if event::removed_id(&item).is_some() || item["isCancelled"] == true {
            removed.push(id);
        } else {
            changed.push(item);
        }
    }
    (changed, removed)
}

/// Reads instances into resources; the unreadable are logged and counted.
fn resources(items: &[Value]) -> (Vec<RemoteResource>, usize) {
    let mut read = Vec::new();
    let mut skipped = 0;
    for item in items {
        match event::read_instance(item) {
            Ok(series) => read.push(RemoteResource {
                remote_id: series.uid.clone(),
                etag: item["@odata.etag"].as_str().or(item["changeKey"].as_str()).map(str::to_owned),
                master_id: item["seriesMasterId"].as_str().map(str::to_owned),
                series,
            }),
            Err(error) => {
                skipped += 1;
                tracing::warn!(%error, "a Graph event could not be read and was skipped");
            }
        }
    }
    (read, skipped)
}

fn classify(error: ApiError) -> ProviderError {
    error.for_sync("Microsoft")
}

/// Graph's `{"dateTime", "timeZone"}` for a time: local time in the event's zone (IANA names
/// are accepted), midnight for all-day dates.
fn graph_time(time: &EventTime) -> Value {
    match time {
        EventTime::Date(day) => {
            json!({ "dateTime": format!("{}T00:00:00", day.format("%Y-%m-%d")), "timeZone": "UTC" })
        }
        EventTime::Instant { at, tzid: Some(zone) } => {
            json!({ "dateTime": at.with_timezone(zone).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": zone.name() })
        }
        EventTime::Instant { at, tzid: None } => {
            json!({ "dateTime": at.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC" })
        }
    }
}

const WEEKDAYS: [(&str, &str); 7] = [
    ("MO", "monday"),
    ("TU", "tuesday"),
    ("WE", "wednesday"),
    ("TH", "thursday"),
    ("FR", "friday"),
    ("SA", "saturday"),
    ("SU", "sunday"),
];

/// Graph's `patternedRecurrence` for an RRULE, for the rules calsync's API accepts (daily,
/// weekly on days, monthly and yearly on the start's date, with an interval, a count or an end).
fn patterned_recurrence(rule: &str, start: &EventTime) -> Result<Value, ProviderError> {
    let unsupported = || ProviderError::Permanent("the event's recurrence cannot be written to Microsoft".into());
    let (first_day, zone) = match start {
        EventTime::Date(day) => (*day, "UTC".to_owned()),
        EventTime::Instant { at, tzid: Some(zone) } => (at.with_timezone(zone).date_naive(), zone.name().to_owned()),
        EventTime::Instant { at, tzid: None } => (at.date_naive(), "UTC".to_owned()),
    };
    let parts: BTreeMap<&str, &str> = rule.split(';').filter_map(|p| p.split_once('=')).collect();
    let interval: u32 = parts.get("INTERVAL").map_or(Ok(1), |n| n.parse()).map_err(|_| unsupported())?;
    let weekday = WEEKDAYS[first_day.weekday().num_days_from_monday() as usize].1;
    let mut pattern = match parts.get("FREQ").copied() {
        Some("DAILY") => json!({"type": "daily"}),
        Some("WEEKLY") => {
            let days: Vec<&str> = match parts.get("BYDAY") {
                None => vec![weekday],
                Some(list) => list
                    .split(',')
                    .map(|d| WEEKDAYS.iter().find(|(code, _)| *code == d).map(|(_, name)| *name))
                    .collect::<Option<_>>()
                    .ok_or_else(unsupported)?,
            };
            json!({"type": "weekly", "daysOfWeek": days, "firstDayOfWeek": "monday"})
        }
        Some("MONTHLY") => json!({"type": "absoluteMonthly", "dayOfMonth": first_day.day()}),
        Some("YEARLY") => json!({"type": "absoluteYearly", "dayOfMonth": first_day.day(), "month": first_day.month()}),
        _ => return Err(unsupported()),
    };
    if parts.keys().any(|k| !matches!(*k, "FREQ" | "INTERVAL" | "BYDAY" | "COUNT" | "UNTIL"))
        || (parts.contains_key("BYDAY") && parts.get("FREQ") != Some(&"WEEKLY"))
    {
        return Err(unsupported());
    }
    pattern["interval"] = json!(interval);
    let start_date = first_day.format("%Y-%m-%d").to_string();
    let range = match (parts.get("COUNT"), parts.get("UNTIL")) {
        (Some(count), None) => {
            let n: u32 = count.parse().map_err(|_| unsupported())?;
            json!({"type": "numbered", "startDate": start_date, "numberOfOccurrences": n, "recurrenceTimeZone": zone})
        }
        (None, Some(until)) => {
            let day =
                chrono::NaiveDate::parse_from_str(until.get(..8).unwrap_or(""), "%Y%m%d").map_err(|_| unsupported())?;
            json!({"type": "endDate", "startDate": start_date, "endDate": day.format("%Y-%m-%d").to_string(), "recurrenceTimeZone": zone})
        }
        (None, None) => json!({"type": "noEnd", "startDate": start_date, "recurrenceTimeZone": zone}),
        (Some(_), Some(_)) => return Err(unsupported()),
    };
    Ok(json!({"pattern": pattern, "range": range}))
}

/// The Graph event for a component calsync writes.
fn graph_event(component: &Component) -> Result<Value, ProviderError> {
    if !component.exdates.is_empty() || !component.rdates.is_empty() {
        return Err(ProviderError::Permanent(
            "the event's excluded or extra dates cannot be written to Microsoft".into(),
        ));
    }
    let all_day = matches!(component.start, EventTime::Date(_));
    let mut event = json!({
        "subject": component.summary.clone().unwrap_or_default(),
        "body": {"contentType": "text", "content": component.description.clone().unwrap_or_default()},
        "start": graph_time(&component.start),
        "end": graph_time(&component.end),
        "isAllDay": all_day,
        "location": {"displayName": component.location.as_ref().and_then(|l| l.description.clone()).unwrap_or_default()},
        "showAs": if component.transparency == Transparency::Transparent { "free" } else { "busy" },
        "sensitivity": if component.private { "private" } else { "normal" },
    });
    if let Some(rule) = &component.rrule {
        event["recurrence"] = patterned_recurrence(rule, &component.start)?;
    }
    Ok(event)
}

#[async_trait]
impl CalendarProvider for GraphProvider {
    async fn refresh_credentials(&self) -> Result<Option<Credentials>, ProviderError> {
        let Some(renewed) = self.session.renew().await? else { return Ok(None) };
        let mut slot = self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = slot.with_token(&self.session.access_token());
        Ok(Some(renewed))
    }

    async fn list_calendars(&self, _known_home: Option<&str>) -> Result<CalendarListing, ProviderError> {
        let client = self.client();
        let (items, _) = self.follow(self.at(&client, &["calendars"], &[])).await?;
        let calendars = items
            .iter()
            .filter_map(|c| {
                Some(RemoteCalendar {
                    remote_id: c["id"].as_str()?.to_owned(),
                    name: c["name"].as_str().filter(|n| !n.is_empty()).unwrap_or("Calendar").to_owned(),
                    color: c["hexColor"].as_str().filter(|h| !h.is_empty()).map(str::to_owned),
                    read_only: c["canEdit"] != true,
                    is_primary: c["isDefaultCalendar"] == true,
                    change_marker: None,
                })
            })
            .collect();
        Ok(CalendarListing { calendars, ..CalendarListing::default() })
    }

    async fn change_marker(&self, _calendar: &str) -> Result<Option<String>, ProviderError> {
        // A calendar's `changeKey` moves with its properties, not its events.
        Ok(None)
    }

    fn requests_sent(&self) -> u64 {
        self.client().requests_sent()
    }

    async fn current_cursor(&self, calendar: &str, window: SyncWindow) -> Result<Option<String>, ProviderError> {
        let (start, end) = (window.start - PAST_PADDING, window.end + FUTURE_PADDING);
        let client = self.client();
        let query = [("startDateTime", query_time(start)), ("endDateTime", query_time(end))];
        let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = self.at(&client, &["calendars", calendar, "calendarView", "delta"], &query);
        let (items, link) = self.follow(url).await?;
        let (changed, _) = fold(items);
        if let Ok(mut listed) = self.listed.lock() {
            listed.insert(calendar.to_owned(), changed);
        }
        let Some(link) = link else {
            return Err(ProviderError::Transient {
                retry_after: None,
                reason: "a Graph delta round ended without a delta link".into(),
            });
        };
        let cursor = DeltaCursor { link, start, end };
        serde_json::to_string(&cursor).map(Some).map_err(|_| ProviderError::Permanent("cursor".into()))
    }

    async fn changes_since(
        &self,
        _calendar: &str,
        cursor: &str,
        window: SyncWindow,
    ) -> Result<ChangeSet, ProviderError> {
        let resync = || Ok(ChangeSet { full_resync_required: true, ..ChangeSet::default() });
        let Ok(cursor) = serde_json::from_str::<DeltaCursor>(cursor) else { return resync() };
        if window.start < cursor.start || window.end + REBASELINE_MARGIN > cursor.end {
            return resync();
        }
        let client = self.client();
        let (items, link) = match self.follow(link_url(&client, &cursor.link)?).await {
            Ok(round) => round,
            Err(ProviderError::SyncTokenInvalid) => return resync(),
            Err(e) => return Err(e),
        };
        let (mut changed, removed) = fold(items);
        let (existing, deleted) = self.resolve_removals(removed).await?;
        changed.extend(existing);
        let (changed, skipped) = resources(&changed);
        let next = link.map(|link| DeltaCursor { link, ..cursor });
        let next = match next {
            Some(next) => Some(serde_json::to_string(&next).map_err(|_| ProviderError::Permanent("cursor".into()))?),
            None => None,
        };
        Ok(ChangeSet { changed, deleted, cursor: next, full_resync_required: false, skipped })
    }

    async fn list_range(
        &self,
        calendar: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<RangeListing, ProviderError> {
        let cached = self.listed.lock().ok().and_then(|mut l| l.remove(calendar));
        let items = match cached {
            Some(items) => items,
            None => {
                let client = self.client();
                let query = [("startDateTime", query_time(start)), ("endDateTime", query_time(end))];
                let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let (items, _) =
                    self.follow(self.at(&client, &["calendars", calendar, "calendarView"], &query)).await?;
                fold(items).0
            }
        };
        let (resources, skipped) = resources(&items);
        Ok(RangeListing { resources, skipped })
    }

    async fn write(
        &self,
        calendar: &str,
        name: &str,
        known_id: Option<&str>,
        ics: &str,
        expected_etag: Option<&str>,
    ) -> Result<Written, ProviderError> {
        let (_, master) = event_to_write(ics, Tz::UTC)?;
        let mut body = graph_event(&master)?;
        let client = self.client();
        let answer = match (known_id, expected_etag) {
            (Some(id), Some(etag)) => {
                let url = self.at(&client, &["events", id], &[]);
                match client.send(Method::PATCH, url, Some(&body), Some(etag)).await {
                    // Deleted at Microsoft since: the push creates it again.
                    Err(ApiError::NotFound) => return Err(ProviderError::Conflict),
                    other => other,
                }
            }
            _ => {
                // Graph keeps the first event created with a transaction id and answers a
                // retried create with it.
                body["transactionId"] = json!(name.trim_end_matches(".ics"));
                let url = self.at(&client, &["calendars", calendar, "events"], &[]);
                client.send(Method::POST, url, Some(&body), None).await
            }
        }
        .map_err(|e| self.classify(e))?;
        let id = answer["id"].as_str().ok_or_else(|| ProviderError::Permanent("Graph returned no event id".into()))?;
        let etag = answer["@odata.etag"].as_str().or(answer["changeKey"].as_str()).map(str::to_owned);
        Ok(Written { remote_id: id.to_owned(), etag })
    }

    async fn version_of(
        &self,
        _calendar: &str,
        _name: &str,
        known_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        let Some(id) = known_id else { return Ok(None) };
        let client = self.client();
        match client.send(Method::GET, self.at(&client, &["events", id], &[]), None, None).await {
            Ok(found) => Ok(found["@odata.etag"].as_str().or(found["changeKey"].as_str()).map(str::to_owned)),
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(self.classify(e)),
        }
    }

    async fn delete(&self, remote_id: &str, expected_etag: Option<&str>) -> Result<(), ProviderError> {
        let client = self.client();
        let url = self.at(&client, &["events", remote_id], &[]);
        match client.send(Method::DELETE, url, None, expected_etag).await {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(self.classify(e)),
        }
    }

    fn push_path(&self) -> Option<&'static str> {
        Some(super::watch::MICROSOFT_PUSH_PATH)
    }

    async fn watch(
        &self,
        calendar: &str,
        address: &str,
        channel_id: &str,
        token: &str,
    ) -> Result<Option<Watch>, ProviderError> {
        let client = self.client();
        let expires = self.session.now() + Duration::minutes(SUBSCRIPTION_MINUTES);
        // Graph's notifications name its subscription id, not ours: the channel is in the path.
        let body = json!({
            "changeType": "created,updated,deleted",
            "notificationUrl": format!("{address}/{channel_id}"),
            "lifecycleNotificationUrl": format!("{address}/{channel_id}/lifecycle"),
            "resource": format!("{}/calendars/{calendar}/events", self.root.join("/")),
            "expirationDateTime": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "clientState": token,
        });
        let answer = client
            .send(Method::POST, client.url(&["subscriptions"], &[]), Some(&body), None)
            .await
            .map_err(|e| self.classify(e))?;
        let id =
            answer["id"].as_str().ok_or_else(|| ProviderError::Permanent("a subscription without an id".into()))?;
        let granted = answer["expirationDateTime"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(expires, |t| t.to_utc());
        Ok(Some(Watch { resource_id: id.to_owned(), expires_at: granted }))
    }

    async fn unwatch(&self, _channel_id: &str, resource_id: &str) -> Result<(), ProviderError> {
        let client = self.client();
        match client.send(Method::DELETE, client.url(&["subscriptions", resource_id], &[]), None, None).await {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(self.classify(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> EventTime {
        EventTime::Date(NaiveDate::from_ymd_opt(y, m, d).unwrap())
    }

    #[test]
    fn replays_fold_to_the_last_state_and_cancelled_instances_are_removals() {
        let items = vec![
            json!({"id": "a", "subject": "first"}),
            json!({"id": "b", "isCancelled": true}),
            json!({"id": "a", "subject": "second"}),
            json!({"id": "c", "@removed": {"reason": "deleted"}}),
            json!({"id": "d", "@removed": {"reason": "deleted"}}),
            json!({"id": "d", "subject": "back"}),
        ];
        let (changed, removed) = fold(items);
        let subjects: Vec<(&str, &str)> =
            changed.iter().map(|e| (e["id"].as_str().unwrap(), e["subject"].as_str().unwrap())).collect();
        assert_eq!(subjects, [("a", "second"), ("d", "back")]);
        assert_eq!(removed, ["b", "c"]);
    }

    #[test]
    fn the_rules_the_api_accepts_become_graph_recurrence_patterns() {
        let monday = day(2026, 5, 4);
        assert_eq!(
            patterned_recurrence("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR", &monday).unwrap(),
            json!({"pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "friday"], "firstDayOfWeek": "monday"},
                   "range": {"type": "noEnd", "startDate": "2026-05-04", "recurrenceTimeZone": "UTC"}})
        );
        let berlin = EventTime::Instant {
            at: DateTime::parse_from_rfc3339("2026-05-04T22:30:00Z").unwrap().to_utc(),
            tzid: Some(chrono_tz::Europe::Berlin),
        };
        assert_eq!(
            patterned_recurrence("FREQ=MONTHLY;COUNT=3", &berlin).unwrap(),
            json!({"pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 5},
                   "range": {"type": "numbered", "startDate": "2026-05-05", "numberOfOccurrences": 3, "recurrenceTimeZone": "Europe/Berlin"}})
        );
        assert_eq!(
            patterned_recurrence("FREQ=YEARLY;UNTIL=20300101T000000Z", &monday).unwrap()["range"],
            json!({"type": "endDate", "startDate": "2026-05-04", "endDate": "2030-01-01", "recurrenceTimeZone": "UTC"})
        );
        for refused in ["FREQ=HOURLY", "FREQ=MONTHLY;BYDAY=1MO", "FREQ=DAILY;BYSETPOS=1", "FREQ=WEEKLY;BYDAY=XX"] {
            assert!(patterned_recurrence(refused, &monday).is_err(), "{refused}");
        }
    }

    #[test]
    fn delta_cursors_round_trip_and_a_foreign_cursor_is_not_one() {
        let cursor = DeltaCursor {
            link: "https://graph.microsoft.com/v1.0/me/calendars/A/calendarView/delta?$deltatoken=x".into(),
            start: DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc(),
            end: DateTime::parse_from_rfc3339("2026-09-01T00:00:00Z").unwrap().to_utc(),
        };
        let text = serde_json::to_string(&cursor).unwrap();
        assert_eq!(serde_json::from_str::<DeltaCursor>(&text).unwrap(), cursor);
        assert!(serde_json::from_str::<DeltaCursor>("\"a google sync token\"").is_err());
    }
}
