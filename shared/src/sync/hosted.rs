//! The adapter for calendars calsync hosts itself (application calendars and "calsync calendar"
//! profiles): the same engine runs over them, but there is no remote side. The calendar list is
//! what the store holds, nothing ever changes remotely (a constant change marker ends every sync
//! after the first at one step with no writes), and writes are accepted in place, so partner
//! events are pushed, window advances mark what left the window, and the jobs behave as for
//! any other provider.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::provider::{
    CalendarListing, CalendarProvider, ChangeSet, ProviderError, RangeListing, RemoteCalendar, Written,
};
use super::window::SyncWindow;
use crate::crypto::Credentials;
use crate::domain::Calendar;

/// The change marker of every hosted calendar: nothing changes behind calsync's back.
const MARKER: &str = "hosted";

/// One hosted profile's calendars.
#[derive(Debug, Clone)]
pub struct HostedProvider {
    calendars: Vec<Calendar>,
}

impl HostedProvider {
    /// An adapter over the profile's stored calendars.
    pub fn new(calendars: Vec<Calendar>) -> Self {
        Self { calendars }
    }
}

#[async_trait]
impl CalendarProvider for HostedProvider {
    async fn refresh_credentials(&self) -> Result<Option<Credentials>, ProviderError> {
        Ok(None)
    }

    async fn list_calendars(&self, _known_home: Option<&str>) -> Result<CalendarListing, ProviderError> {
        let calendars = self
            .calendars
            .iter()
            .filter(|c| !c.deleted)
            .map(|c| RemoteCalendar {
                remote_id: c.provider_calendar_id.clone(),
                name: c.name.clone(),
                color: c.color.clone(),
                read_only: c.read_only,
                is_primary: c.is_primary,
                change_marker: Some(MARKER.to_owned()),
            })
            .collect();
        Ok(CalendarListing { calendars, ..CalendarListing::default() })
    }

    async fn change_marker(&self, _calendar: &str) -> Result<Option<String>, ProviderError> {
        Ok(Some(MARKER.to_owned()))
    }

    fn requests_sent(&self) -> u64 {
        0
    }

    async fn current_cursor(&self, _calendar: &str, _window: SyncWindow) -> Result<Option<String>, ProviderError> {
        Ok(Some(MARKER.to_owned()))
    }

    async fn changes_since(
        &self,
        _calendar: &str,
        _cursor: &str,
        _window: SyncWindow,
    ) -> Result<ChangeSet, ProviderError> {
        Ok(ChangeSet { cursor: Some(MARKER.to_owned()), ..ChangeSet::default() })
    }

    async fn list_range(
        &self,
        _calendar: &str,
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
    ) -> Result<RangeListing, ProviderError> {
        // Hosted events live only in the store, as partner events: there is nothing third-party.
        Ok(RangeListing::default())
    }

    async fn write(
        &self,
        _calendar: &str,
        name: &str,
        _known_id: Option<&str>,
        _ics: &str,
        _expected_etag: Option<&str>,
    ) -> Result<Written, ProviderError> {
        Ok(Written { remote_id: name.to_owned(), etag: None })
    }

    async fn version_of(
        &self,
        _calendar: &str,
        _name: &str,
        _known_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn delete(&self, _remote_id: &str, _expected_etag: Option<&str>) -> Result<(), ProviderError> {
        Ok(())
    }
}
