//! Who may read what: the scope rules of the read endpoints, and the grant's own calendars, which
//! every `calendar_ids[]` (from a query string or a page token) is checked against.

use std::collections::HashMap;

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use crate::{
    api::{
        error::{ApiError, keys},
        extract::Grant,
    },
    domain::{AccountId, CalendarId, ProviderName, Scope},
    store::{Store, StoreError, StoreResult},
};

/// A read's failure: an API error, or a `calendar_ids[]` entry that is not one of the account's
/// calendars. The latter is a 404 (as for any id of another tenant) whose body names the field.
#[derive(Debug)]
pub(super) enum ReadError {
    Api(ApiError),
    UnknownCalendar,
}

impl From<ApiError> for ReadError {
    fn from(e: ApiError) -> Self {
        ReadError::Api(e)
    }
}

impl From<StoreError> for ReadError {
    fn from(e: StoreError) -> Self {
        ReadError::Api(e.into())
    }
}

impl IntoResponse for ReadError {
    fn into_response(self) -> Response {
        match self {
            ReadError::Api(e) => e.into_response(),
            ReadError::UnknownCalendar => {
                let body = json!({
                    "error": "not_found",
                    "errors": { "calendar_ids": [{ "key": keys::NOT_FOUND, "description": "unknown calendar" }] },
                });
                (StatusCode::NOT_FOUND, Json(body)).into_response()
            }
        }
    }
}

/// Event details need `read_events`, except an application reading only its own (managed) events.
/// A free/busy-only authorization is refused outright, `only_managed` or not, so no parameter can
/// turn it into a reader of event details.
pub(super) fn require_event_details(grant: &Grant, only_managed: bool) -> Result<(), ApiError> {
    if grant.authorization.scopes.is_free_busy_only() {
        return Err(ApiError::Forbidden(Scope::ReadEvents));
    }
    if only_managed { Ok(()) } else { grant.require(Scope::ReadEvents) }
}

/// What a read needs to know about one of the account's calendars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct CalendarAccess {
    /// Hosted by calsync (provider `cronofy`): its events are calsync's to change.
    pub(super) hosted: bool,
    pub(super) read_only: bool,
}

/// The account's calendars, by id.
#[derive(Debug, Clone, Default)]
pub(super) struct AccountCalendars(HashMap<CalendarId, CalendarAccess>);

impl AccountCalendars {
    pub(super) async fn load(store: &Store, account: &AccountId) -> StoreResult<Self> {
        let profiles = store.list_profiles(account).await?;
        let hosted = |profile_id| profiles.iter().any(|p| &p.id == profile_id && p.provider == ProviderName::Hosted);
        let calendars = store.list_calendars(account).await?;
        Ok(AccountCalendars(
            calendars
                .iter()
                .map(|c| (c.id.clone(), CalendarAccess { hosted: hosted(&c.profile_id), read_only: c.read_only }))
                .collect(),
        ))
    }

    /// Every id must be one of the account's calendars.
    pub(super) fn check(&self, ids: &[CalendarId]) -> Result<(), ReadError> {
        if ids.iter().all(|id| self.0.contains_key(id)) { Ok(()) } else { Err(ReadError::UnknownCalendar) }
    }

    pub(super) fn get(&self, id: &CalendarId) -> Option<CalendarAccess> {
        self.0.get(id).copied()
    }
}
