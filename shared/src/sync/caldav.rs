//! The CalDAV adapter (iCloud and generic CalDAV profiles) over [`CalDavClient`]: calendars come
//! from discovery plus the home set listing, changes from RFC 6578 `sync-collection` followed by
//! `calendar-multiget`, range listings from `calendar-query`.
//!
//! A resource that cannot be parsed is skipped with its reason logged (never its content) and
//! counted, so one bad event never blocks the rest of a calendar.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::provider::{
    CalendarListing, CalendarProvider, ChangeSet, ProviderError, RangeListing, RemoteCalendar, RemoteResource, Written,
};
use super::window::SyncWindow;
use crate::crypto::Credentials;
use crate::ical::parse_resource;
use crate::providers::caldav::{
    CalDavClient, CalDavError, Policy, Precondition, RemoteCalendar as CalDavCalendar, Resource,
};

/// One CalDAV account.
#[derive(Debug, Clone)]
pub struct CalDavProvider {
    client: CalDavClient,
    /// The zone floating times are read in (the profile's zone).
    default_tz: Tz,
}

impl CalDavProvider {
    /// An adapter for the server at `server_url` with the profile's opened credentials.
    pub fn new(
        server_url: &str,
        credentials: &Credentials,
        policy: Policy,
        default_tz: Tz,
    ) -> Result<Self, ProviderError> {
        let (username, password) = match credentials {
            Credentials::AppSpecificPassword { email, password } => (email.as_str(), password.as_str()),
            Credentials::Password { email, password, username } => {
                (username.as_deref().unwrap_or(email.as_str()), password.as_str())
            }
            _ => return Err(ProviderError::Permanent("the profile's credentials are not a CalDAV password".into())),
        };
        let client = CalDavClient::new(server_url, username, password, policy).map_err(classify)?;
        Ok(Self { client, default_tz })
    }

    /// Parses fetched resources, skipping (and logging) the unreadable ones.
    fn parse(&self, resources: Vec<Resource>) -> (Vec<RemoteResource>, usize) {
        let mut parsed = Vec::with_capacity(resources.len());
        let mut skipped = 0;
        for resource in resources {
            match parse_resource(&resource.ics, self.default_tz) {
                Ok(series) => parsed.push(RemoteResource {
                    remote_id: resource.href,
                    etag: resource.etag,
                    series,
                    master_id: None,
                }),
                Err(error) => {
                    skipped += 1;
                    // The reason and the resource's id, never its content.
                    tracing::warn!(href = %resource.href, %error, "a calendar resource could not be read and was skipped");
                }
            }
        }
        (parsed, skipped)
    }
}

impl CalDavProvider {
    /// Finds the calendar home set from the server URL and lists the calendars under it.
    async fn discover_and_list(&self) -> Result<(String, Vec<CalDavCalendar>), ProviderError> {
        let discovery = self.client.discover().await.map_err(classify)?;
        let home = discovery.home_set.as_str().to_owned();
        let listed = self.client.list_calendars(&home).await.map_err(classify)?;
        Ok((home, listed))
    }
}

/// Maps the client's classification onto the engine's.
fn classify(error: CalDavError) -> ProviderError {
    match error {
        CalDavError::Transient { retry_after, reason } => ProviderError::Transient { retry_after, reason },
        CalDavError::AuthFailed => ProviderError::CredentialsDead,
        CalDavError::SyncTokenInvalid => ProviderError::SyncTokenInvalid,
        CalDavError::PreconditionFailed => ProviderError::Conflict,
        other => ProviderError::Permanent(other.to_string()),
    }
}

/// The collection's name when the server gives none: its last path segment.
fn fallback_name(href: &str) -> String {
    href.trim_end_matches('/').rsplit('/').next().unwrap_or(href).to_owned()
}

#[async_trait]
impl CalendarProvider for CalDavProvider {
    async fn refresh_credentials(&self) -> Result<Option<Credentials>, ProviderError> {
        // CalDAV servers take the account's (app-specific) password itself: nothing expires.
        Ok(None)
    }

    async fn list_calendars(&self, known_home: Option<&str>) -> Result<CalendarListing, ProviderError> {
        // The home set found last time spares the discovery requests. If it stopped working (the
        // account moved), or lists nothing (some servers answer any path with an empty listing),
        // discover again rather than take every calendar for deleted.
        let (home, listed) = match known_home {
            Some(home) => match self.client.list_calendars(home).await {
                Ok(listed) if !listed.is_empty() => (home.to_owned(), listed),
                Ok(_) => self.discover_and_list().await?,
                Err(CalDavError::AuthFailed) => return Err(ProviderError::CredentialsDead),
                Err(CalDavError::Transient { retry_after, reason }) => {
                    return Err(ProviderError::Transient { retry_after, reason });
                }
                Err(_) => self.discover_and_list().await?,
            },
            None => self.discover_and_list().await?,
        };
        let calendars = listed
            .into_iter()
            .map(|c| RemoteCalendar {
                name: c.display_name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| fallback_name(&c.href)),
                remote_id: c.href,
                color: c.color,
                read_only: c.read_only,
                // CalDAV has no primary calendar; the account's hosted calendar keeps that role.
                is_primary: false,
                change_marker: c.ctag,
            })
            .collect();
        Ok(CalendarListing { calendars, home: Some(home), ..CalendarListing::default() })
    }

    async fn change_marker(&self, calendar: &str) -> Result<Option<String>, ProviderError> {
        // Radicale and Xandikos both report `getctag`; a server without it is synced in full each time.
        self.client.ctag(calendar).await.map_err(classify)
    }

    fn requests_sent(&self) -> u64 {
        self.client.requests_sent()
    }

    async fn current_cursor(&self, calendar: &str, _window: SyncWindow) -> Result<Option<String>, ProviderError> {
        // An initial sync-collection lists hrefs and ETags only, and returns the current token.
        let result = self.client.sync_collection(calendar, None).await.map_err(classify)?;
        Ok(Some(result.new_token))
    }

    async fn changes_since(
        &self,
        calendar: &str,
        cursor: &str,
        _window: SyncWindow,
    ) -> Result<ChangeSet, ProviderError> {
        let result = self.client.sync_collection(calendar, Some(cursor)).await.map_err(classify)?;
        let hrefs: Vec<String> = result.changed.into_iter().map(|(href, _)| href).collect();
        let fetched = self.client.multiget(calendar, &hrefs).await.map_err(classify)?;
        let (changed, skipped) = self.parse(fetched.resources);
        let mut deleted = result.deleted;
        // Listed as changed but gone by the time it was fetched: deleted in the meantime.
        deleted.extend(fetched.missing);
        Ok(ChangeSet { changed, deleted, cursor: Some(result.new_token), full_resync_required: false, skipped })
    }

    async fn list_range(
        &self,
        calendar: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<RangeListing, ProviderError> {
        let resources = self.client.calendar_query(calendar, start, end).await.map_err(classify)?;
        let (resources, skipped) = self.parse(resources);
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
        let precondition = match expected_etag {
            Some(etag) => Precondition::Update(etag.to_owned()),
            None => Precondition::Create,
        };
        let outcome = self.client.put(calendar, name, ics, precondition).await.map_err(classify)?;
        Ok(Written { remote_id: outcome.href, etag: outcome.etag })
    }

    async fn version_of(
        &self,
        calendar: &str,
        name: &str,
        _known_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        let href = self.client.member_href(calendar, name).map_err(classify)?;
        let fetched = self.client.multiget(calendar, &[href]).await.map_err(classify)?;
        Ok(fetched.resources.into_iter().next().and_then(|r| r.etag))
    }

    async fn delete(&self, remote_id: &str, expected_etag: Option<&str>) -> Result<(), ProviderError> {
        self.client.delete(remote_id, expected_etag).await.map_err(classify)
    }
}
