//! The Google Calendar adapter (providers.md §2.7): `singleEvents=false`, `showDeleted=true`,
//! sync tokens, local expansion.
//!
//! A resource is a series: a single event, or a master with its exceptions. Incremental changes
//! come from `events.list` with the stored `syncToken`, paged, and the token of the last page is
//! the new cursor (the engine stores it with the changes, in one transaction). An exception that
//! changed alone is read with the rest of its series (`events.list?iCalUID=`), because the
//! engine replaces a resource whole. A cancelled event that is not an exception is a deletion; a
//! cancelled exception removes one instance. 410 means the token is dead: the engine lists the
//! calendar again and sweeps (never wipe and reload). Google has no calendar change marker, so a
//! no-change sync is the one `events.list` call with the token. The calendar list has its own
//! sync token, kept as the profile's calendar home: the poll asks only for what changed in it. A window advance lists only the
//! days it gained (`timeMin`/`timeMax`).
//!
//! Resource ids are `<calendar id>/<event id>`: deleting needs the calendar, and neither part
//! contains a `/`. Events calsync writes get their resource name, spelt in Google's base32hex
//! alphabet, as their id: a retried insert finds its own event instead of creating a second,
//! and since Google takes an id or an iCalUID at creation but not both, the partner event's
//! iCalendar UID is read back from the id, so the sync recognises its own writes.
//!
//! A mailbox reached through domain-wide delegation (Enterprise Connect) has no token set of
//! its own: each job mints a token for the mailbox with calsync's service account key (the JWT
//! bearer grant, `providers::google::delegation`), which is never stored, and every request
//! carries the mailbox's `quotaUser`. A domain that withdrew the delegation refuses the grant,
//! which disconnects the profile like a revoked refresh token.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use reqwest::Method;
use serde_json::{Value, json};

use super::provider::{
    CalendarListing, CalendarProvider, ChangeSet, ProviderError, RangeListing, RemoteCalendar, RemoteResource, Watch,
    Written, event_to_write,
};
use super::session::OAuthSession;
use super::window::SyncWindow;
use crate::crypto::Credentials;
use crate::domain::EventTime;
use crate::ical::Component;
use crate::providers::{
    OAuthClient,
    google::{
        client::{ApiError, GoogleClient},
        delegation::ServiceAccountKey,
        event,
    },
    oauth::{IdentityPlatform, needs_refresh},
};

/// Items per page: Google's maximum, so a calendar is read in as few requests as possible.
const PAGE: &str = "2500";
/// The channel lifetime asked for; Google grants up to about a week.
const WATCH_TTL_SECONDS: i64 = 7 * 24 * 3600;

/// One Google account.
#[derive(Debug)]
pub struct GoogleProvider {
    client: Mutex<GoogleClient>,
    tokens: Tokens,
    default_tz: Tz,
    /// Every event of a calendar as the last full listing returned it, so the listing that
    /// yields a cursor also serves the window fill that follows it.
    listed: Mutex<BTreeMap<String, Vec<Value>>>,
}

impl GoogleProvider {
    pub fn new(
        api_url: &str,
        platform: IdentityPlatform,
        oauth: Option<OAuthClient>,
        credentials: Credentials,
        default_tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Self, ProviderError> {
        let session = OAuthSession::new(platform, oauth, credentials, now)?;
        let client = GoogleClient::new(api_url, &session.access_token()).map_err(classify)?;
        Ok(Self {
            client: Mutex::new(client),
            tokens: Tokens::OAuth(session),
            default_tz,
            listed: Mutex::new(BTreeMap::new()),
        })
    }

    /// A mailbox of a Workspace domain that delegated the calendar scope to calsync's service
    /// account `key`: its token is minted at `token_url` by `refresh_credentials` (which the
    /// engine calls before any request) and never stored; `quota_user` is the mailbox's opaque
    /// id for Google's per-user quotas.
    pub fn delegated(
        api_url: &str,
        key: ServiceAccountKey,
        token_url: &str,
        mailbox: &str,
        quota_user: &str,
        default_tz: Tz,
        now: DateTime<Utc>,
    ) -> Result<Self, ProviderError> {
        let client = GoogleClient::new(api_url, "").map_err(classify)?.with_quota_user(quota_user);
        let session = DelegatedSession {
            key,
            token_url: token_url.to_owned(),
            mailbox: mailbox.to_owned(),
            token: Mutex::new(None),
            now,
        };
        Ok(Self {
            client: Mutex::new(client),
            tokens: Tokens::Delegated(session),
            default_tz,
            listed: Mutex::new(BTreeMap::new()),
        })
    }

    /// Switches the client to `access_token`; its request count carries on.
    fn replace_client(&self, access_token: &str) {
        let mut slot = self.client.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = slot.with_token(access_token);
    }

    fn client(&self) -> GoogleClient {
        self.client.lock().map(|c| c.clone()).unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// Every page of a listing at `segments` with `query`; returns the items and the last page's
    /// `nextSyncToken`.
    async fn list_all(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<(Vec<Value>, Option<String>), ProviderError> {
        let client = self.client();
        let mut items = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut q: Vec<(&str, &str)> = query.to_vec();
            if let Some(token) = page_token.as_deref() {
                q.push(("pageToken", token));
            }
            let page = client.send(Method::GET, client.url(segments, &q), None, None).await.map_err(classify)?;
            if let Some(found) = page["items"].as_array() {
                items.extend(found.iter().cloned());
            }
            match page["nextPageToken"].as_str() {
                Some(next) if !next.is_empty() => page_token = Some(next.to_owned()),
                _ => return Ok((items, page["nextSyncToken"].as_str().map(str::to_owned))),
            }
        }
    }

    /// The whole calendar (cancelled exceptions included), remembered for `list_range`.
    async fn full_listing(&self, calendar: &str) -> Result<(Vec<Value>, Option<String>), ProviderError> {
        let query = [("showDeleted", "true"), ("singleEvents", "false"), ("maxResults", PAGE)];
        let (items, token) = self.list_all(&["calendars", calendar, "events"], &query).await?;
        if let Ok(mut listed) = self.listed.lock() {
            listed.insert(calendar.to_owned(), items.clone());
        }
        Ok((items, token))
    }

    /// Groups events into series resources; deletions are returned apart.
    fn resources(&self, calendar: &str, items: Vec<Value>) -> (Vec<RemoteResource>, Vec<String>, usize) {
        let mut series: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut deleted = Vec::new();
        for item in items {
            let Some(id) = event::series_id(&item).map(str::to_owned) else { continue };
            if event::is_deletion(&item) {
                deleted.push(resource_id(calendar, &id));
            } else {
                series.entry(id).or_default().push(item);
            }
        }
        let mut resources = Vec::new();
        let mut skipped = 0;
        for (id, events) in series {
            // Only cancelled exceptions of a series whose master is gone: nothing to show.
            if events.iter().all(|e| e["status"] == "cancelled") {
                continue;
            }
            let etag = events
                .iter()
                .find(|e| e["recurringEventId"].is_null())
                .and_then(|e| e["etag"].as_str())
                .map(str::to_owned);
            let mut events = events;
            if let Some(uid) = partner_uid(&id) {
                for event in &mut events {
                    event["iCalUID"] = Value::String(uid.clone());
                }
            }
            match event::read_series(&events, self.default_tz) {
                Ok(parsed) => resources.push(RemoteResource {
                    remote_id: resource_id(calendar, &id),
                    etag,
                    series: parsed,
                    master_id: None,
                }),
                Err(error) => {
                    skipped += 1;
                    tracing::warn!(event_id = %id, %error, "a Google event could not be read and was skipped");
                }
            }
        }
        (resources, deleted, skipped)
    }

    /// The rest of every recurring series an incremental listing touched: the engine replaces a
    /// resource whole, so an exception that changed alone is read with its master and siblings.
    /// A cancelled exception may carry no iCalUID; its master then says which series it is.
    async fn complete_series(&self, calendar: &str, items: &mut Vec<Value>) -> Result<(), ProviderError> {
        let mut touched: BTreeMap<String, Option<String>> = BTreeMap::new();
        for item in items.iter().filter(|e| !event::is_deletion(e)) {
            let recurring = !item["recurringEventId"].is_null() || item["recurrence"].is_array();
            let Some(series) = event::series_id(item).filter(|_| recurring) else { continue };
            let uid = touched.entry(series.to_owned()).or_default();
            if uid.is_none() {
                *uid = item["iCalUID"].as_str().map(str::to_owned);
            }
        }
        let client = self.client();
        for (series, uid) in touched {
            let uid = match uid {
                Some(uid) => uid,
                None => {
                    let url = client.url(&["calendars", calendar, "events", &series], &[]);
                    match client.send(Method::GET, url, None, None).await {
                        Ok(master) => match master["iCalUID"].as_str() {
                            Some(uid) => uid.to_owned(),
                            None => continue,
                        },
                        // The master is gone: its deletion is in the listing or the next one.
                        Err(ApiError::NotFound) => continue,
                        Err(e) => return Err(classify(e)),
                    }
                }
            };
            let query = [("iCalUID", uid.as_str()), ("showDeleted", "true"), ("singleEvents", "false")];
            let (whole, _) = self.list_all(&["calendars", calendar, "events"], &query).await?;
            let ids: std::collections::BTreeSet<String> =
                whole.iter().filter_map(|e| e["id"].as_str().map(str::to_owned)).collect();
            items.retain(|e| e["id"].as_str().is_none_or(|id| !ids.contains(id)));
            items.extend(whole);
        }
        Ok(())
    }
}

/// The `quotaUser` of a delegated mailbox: opaque (a digest of its profile id, so neither the
/// address nor a calsync id goes to Google), stable, and within Google's 40 characters.
pub fn quota_user(profile: &crate::domain::ProfileId) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("calsync quotaUser {profile}").as_bytes());
    hex::encode(&digest[..16])
}

/// Where a provider's access token comes from.
#[derive(Debug)]
enum Tokens {
    /// The profile's own token set, refreshed at Google and stored again by the engine.
    OAuth(OAuthSession),
    /// A mailbox reached through domain-wide delegation.
    Delegated(DelegatedSession),
}

/// A delegated mailbox's token, minted with calsync's service account key for this job only.
#[derive(Debug)]
struct DelegatedSession {
    key: ServiceAccountKey,
    token_url: String,
    mailbox: String,
    token: Mutex<Option<Credentials>>,
    now: DateTime<Utc>,
}

impl DelegatedSession {
    /// Mints a token for the mailbox unless the one held is still good; the new access token.
    async fn mint_if_needed(&self) -> Result<Option<String>, ProviderError> {
        let held = self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if held.as_ref().is_some_and(|token| !needs_refresh(token, self.now)) {
            return Ok(None);
        }
        let http = crate::providers::http::service_client()
            .ok_or_else(|| ProviderError::Permanent("the HTTP client could not be built".into()))?;
        let minted = self.key.mint(&http, &self.token_url, &self.mailbox, self.now).await?;
        let Credentials::OauthTokenSet { access_token, .. } = &minted else {
            return Err(ProviderError::Permanent("the grant did not give a token".into()));
        };
        let access_token = access_token.clone();
        *self.token.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(minted);
        Ok(Some(access_token))
    }
}

fn resource_id(calendar: &str, event: &str) -> String {
    format!("{calendar}/{event}")
}

fn split_resource_id(remote_id: &str) -> Result<(&str, &str), ProviderError> {
    remote_id.rsplit_once('/').ok_or_else(|| ProviderError::Permanent("not a Google resource id".into()))
}

const BASE32HEX: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// The id calsync gives an event it writes: the resource name in base32hex (`0-9a-v`).
fn event_id_for(name: &str) -> String {
    let mut id = String::with_capacity(name.len() * 8 / 5 + 1);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in name.bytes() {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            id.push(char::from(BASE32HEX[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        id.push(char::from(BASE32HEX[((buffer << (5 - bits)) & 31) as usize]));
    }
    id
}

/// The iCalendar UID of a partner event calsync wrote, read back from its event id; `None` for
/// any other event.
fn partner_uid(event_id: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(event_id.len() * 5 / 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in event_id.bytes() {
        let value = BASE32HEX.iter().position(|&b| b == c)? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    let name = String::from_utf8(bytes).ok()?;
    name.strip_suffix(".ics").filter(|uid| uid.starts_with("calsync-")).map(str::to_owned)
}

fn classify(error: ApiError) -> ProviderError {
    error.for_sync("Google")
}

/// Google's `{"dateTime", "timeZone"}` or `{"date"}` for a time.
fn google_time(time: &EventTime) -> Value {
    match time {
        EventTime::Date(day) => json!({ "date": day.format("%Y-%m-%d").to_string() }),
        EventTime::Instant { at, tzid: Some(zone) } => {
            json!({ "dateTime": at.with_timezone(zone).to_rfc3339(), "timeZone": zone.name() })
        }
        EventTime::Instant { at, tzid: None } => json!({ "dateTime": at.to_rfc3339(), "timeZone": "UTC" }),
    }
}

/// The Google event for a component calsync writes.
fn google_event(id: &str, component: &Component) -> Value {
    let mut event = json!({
        "id": id,
        "start": google_time(&component.start),
        "end": google_time(&component.end),
        "status": if component.is_cancelled() { "cancelled" } else { "confirmed" },
        "transparency": if component.transparency == crate::domain::Transparency::Transparent { "transparent" } else { "opaque" },
        "visibility": if component.private { "private" } else { "default" },
        "summary": component.summary.clone().unwrap_or_default(),
        "description": component.description.clone().unwrap_or_default(),
        "location": component.location.as_ref().and_then(|l| l.description.clone()).unwrap_or_default(),
    });
    let mut recurrence: Vec<String> = component.rrule.iter().map(|r| format!("RRULE:{r}")).collect();
    for exdate in &component.exdates {
        recurrence.push(match exdate {
            EventTime::Date(day) => format!("EXDATE;VALUE=DATE:{}", day.format("%Y%m%d")),
            EventTime::Instant { at, .. } => format!("EXDATE:{}", at.format("%Y%m%dT%H%M%SZ")),
        });
    }
    if !recurrence.is_empty() {
        event["recurrence"] = json!(recurrence);
    }
    event
}

#[async_trait]
impl CalendarProvider for GoogleProvider {
    async fn refresh_credentials(&self) -> Result<Option<Credentials>, ProviderError> {
        match &self.tokens {
            Tokens::OAuth(session) => {
                let Some(renewed) = session.renew().await? else { return Ok(None) };
                self.replace_client(&session.access_token());
                Ok(Some(renewed))
            }
            // A delegated mailbox's token is nobody's to store.
            Tokens::Delegated(session) => {
                if let Some(access_token) = session.mint_if_needed().await? {
                    self.replace_client(&access_token);
                }
                Ok(None)
            }
        }
    }

    async fn list_calendars(&self, known_home: Option<&str>) -> Result<CalendarListing, ProviderError> {
        // `known_home` is the list's sync token: only what changed since, deletions included.
        let incremental = match known_home {
            Some(token) => {
                let query = [("syncToken", token), ("maxResults", "250")];
                match self.list_all(&["users", "me", "calendarList"], &query).await {
                    Ok(listing) => Some(listing),
                    Err(ProviderError::SyncTokenInvalid) => None,
                    Err(e) => return Err(e),
                }
            }
            None => None,
        };
        let partial = incremental.is_some();
        let (items, token) = match incremental {
            Some(listing) => listing,
            None => self.list_all(&["users", "me", "calendarList"], &[("maxResults", "250")]).await?,
        };
        let mut listing = CalendarListing { home: token, partial, ..CalendarListing::default() };
        for c in &items {
            let Some(id) = c["id"].as_str() else { continue };
            if c["deleted"] == true {
                listing.removed.push(id.to_owned());
                continue;
            }
            listing.calendars.push(RemoteCalendar {
                remote_id: id.to_owned(),
                name: c["summaryOverride"].as_str().or(c["summary"].as_str()).unwrap_or("Calendar").to_owned(),
                color: c["backgroundColor"].as_str().map(str::to_owned),
                read_only: !matches!(c["accessRole"].as_str(), Some("owner" | "writer")),
                is_primary: c["primary"] == true,
                change_marker: None,
            });
        }
        Ok(listing)
    }

    async fn change_marker(&self, _calendar: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    fn requests_sent(&self) -> u64 {
        self.client().requests_sent()
    }

    async fn current_cursor(&self, calendar: &str, _window: SyncWindow) -> Result<Option<String>, ProviderError> {
        let (_, token) = self.full_listing(calendar).await?;
        Ok(token)
    }

    async fn changes_since(
        &self,
        calendar: &str,
        cursor: &str,
        _window: SyncWindow,
    ) -> Result<ChangeSet, ProviderError> {
        let query = [("syncToken", cursor), ("showDeleted", "true"), ("singleEvents", "false"), ("maxResults", PAGE)];
        let (mut items, token) = match self.list_all(&["calendars", calendar, "events"], &query).await {
            Ok(listing) => listing,
            Err(ProviderError::SyncTokenInvalid) => {
                return Ok(ChangeSet { full_resync_required: true, ..ChangeSet::default() });
            }
            Err(e) => return Err(e),
        };
        self.complete_series(calendar, &mut items).await?;
        let (changed, deleted, skipped) = self.resources(calendar, items);
        Ok(ChangeSet { changed, deleted, cursor: token, full_resync_required: false, skipped })
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
            // The days a window advance gained: only what overlaps them, and every recurring
            // series among it read whole.
            None => {
                let (from, to) = (start.to_rfc3339(), end.to_rfc3339());
                let query = [
                    ("timeMin", from.as_str()),
                    ("timeMax", to.as_str()),
                    ("showDeleted", "true"),
                    ("singleEvents", "false"),
                    ("maxResults", PAGE),
                ];
                let (mut items, _) = self.list_all(&["calendars", calendar, "events"], &query).await?;
                self.complete_series(calendar, &mut items).await?;
                items
            }
        };
        let (mut resources, _, skipped) = self.resources(calendar, items);
        // The engine filters instances to the window; series that cannot reach it are dropped
        // here already (a single event ending before `start` or starting after `end`).
        resources.retain(|r| {
            let Some(master) = &r.series.master else { return true };
            if master.is_recurring() {
                return true;
            }
            let (from, to) = (instant(&master.start), instant(&master.end));
            !(to <= start || from >= end)
        });
        Ok(RangeListing { resources, skipped })
    }

    async fn write(
        &self,
        calendar: &str,
        name: &str,
        _known_id: Option<&str>,
        ics: &str,
        expected_etag: Option<&str>,
    ) -> Result<Written, ProviderError> {
        let (_, master) = event_to_write(ics, self.default_tz)?;
        let id = event_id_for(name);
        let body = google_event(&id, &master);
        let client = self.client();
        let answer = match expected_etag {
            None => {
                let url = client.url(&["calendars", calendar, "events"], &[]);
                client.send(Method::POST, url, Some(&body), None).await
            }
            Some(etag) => {
                let url = client.url(&["calendars", calendar, "events", &id], &[]);
                client.send(Method::PUT, url, Some(&body), Some(etag)).await
            }
        }
        .map_err(classify)?;
        Ok(Written { remote_id: resource_id(calendar, &id), etag: answer["etag"].as_str().map(str::to_owned) })
    }

    async fn version_of(
        &self,
        calendar: &str,
        name: &str,
        _known_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        let client = self.client();
        let url = client.url(&["calendars", calendar, "events", &event_id_for(name)], &[]);
        match client.send(Method::GET, url, None, None).await {
            Ok(found) => Ok(found["etag"].as_str().map(str::to_owned)),
            Err(ApiError::NotFound) => Ok(None),
            Err(e) => Err(classify(e)),
        }
    }

    fn push_path(&self) -> Option<&'static str> {
        Some(super::watch::GOOGLE_PUSH_PATH)
    }

    async fn watch(
        &self,
        calendar: &str,
        address: &str,
        channel_id: &str,
        token: &str,
    ) -> Result<Option<Watch>, ProviderError> {
        let client = self.client();
        let url = client.url(&["calendars", calendar, "events", "watch"], &[]);
        // Google caps the lifetime itself (about a week); what it grants is read back.
        let body = json!({"id": channel_id, "type": "web_hook", "address": address, "token": token,
                          "params": {"ttl": WATCH_TTL_SECONDS.to_string()}});
        let answer = client.send(Method::POST, url, Some(&body), None).await.map_err(classify)?;
        let resource_id = answer["resourceId"]
            .as_str()
            .ok_or_else(|| ProviderError::Permanent("a watch without a resourceId".into()))?;
        let expiration = answer["expiration"]
            .as_str()
            .and_then(|ms| ms.parse::<i64>().ok())
            .or_else(|| answer["expiration"].as_i64())
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .ok_or_else(|| ProviderError::Permanent("a watch without an expiration".into()))?;
        Ok(Some(Watch { resource_id: resource_id.to_owned(), expires_at: expiration }))
    }

    async fn unwatch(&self, channel_id: &str, resource_id: &str) -> Result<(), ProviderError> {
        let client = self.client();
        let url = client.url(&["channels", "stop"], &[]);
        let body = json!({"id": channel_id, "resourceId": resource_id});
        match client.send(Method::POST, url, Some(&body), None).await {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    async fn delete(&self, remote_id: &str, expected_etag: Option<&str>) -> Result<(), ProviderError> {
        let (calendar, id) = split_resource_id(remote_id)?;
        let client = self.client();
        let url = client.url(&["calendars", calendar, "events", id], &[]);
        match client.send(Method::DELETE, url, None, expected_etag).await {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }
}

fn instant(time: &EventTime) -> DateTime<Utc> {
    match time {
        EventTime::Instant { at, .. } => *at,
        EventTime::Date(day) => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_event_ids_are_stable_base32hex() {
        let id = event_id_for("3f2a.ics");
        assert_eq!(id, event_id_for("3f2a.ics"));
        assert!(id.chars().all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c)));
        assert_ne!(id, event_id_for("3f2b.ics"));
        let partner = event_id_for("calsync-8739a9fe59e95bdbb6e900d47200f3fb.ics");
        assert_eq!(partner_uid(&partner).as_deref(), Some("calsync-8739a9fe59e95bdbb6e900d47200f3fb"));
        assert_eq!(partner_uid("standup1"), None);
        assert_eq!(partner_uid(&id), None, "only calsync's own names");
    }

    #[test]
    fn a_mailboxs_quota_user_is_opaque_stable_and_short_enough() {
        let profile = crate::domain::ProfileId::generate();
        let quota_user = quota_user(&profile);
        assert_eq!(quota_user, super::quota_user(&profile));
        assert_eq!(quota_user.len(), 32);
        assert!(!quota_user.contains(profile.as_str()));
        assert_ne!(quota_user, super::quota_user(&crate::domain::ProfileId::generate()));
    }

    #[test]
    fn resource_ids_keep_the_calendar_for_deletes() {
        let id = resource_id("ada@gmail.example", "abc123");
        assert_eq!(split_resource_id(&id).unwrap(), ("ada@gmail.example", "abc123"));
    }
}
