//! Application calendars: calendars calsync hosts for an application itself, keyed by the
//! application's own `application_calendar_id` (cronofy-api.md §5.5).
//!
//! The first call for a key creates a hosted account, profile and primary calendar; every call
//! issues a new authorization with `read_write` scopes and ends the ones issued before it. So
//! an application calendar has one live authorization at a time, a repeated call works as a
//! fresh sign-in that retires leaked or forgotten tokens, and old authorizations do not pile up.

use chrono::{DateTime, Utc};

use super::{ApplicationCalendar, TokenResponse, new_account, token_response};
use crate::{
    domain::{
        Application, ApplicationCalendarId, Calendar, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService,
        Scopes,
    },
    store::{Store, StoreResult},
    tokens,
};

const MAX_KEY_LEN: usize = 256;

/// Checks an `application_calendar_id`: 1 to 256 characters, no control characters.
pub fn validate_application_calendar_id(value: &str) -> Result<&str, &'static str> {
    if value.trim().is_empty() {
        Err("must not be empty")
    } else if value.chars().count() > MAX_KEY_LEN {
        Err("must be at most 256 characters")
    } else if value.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else {
        Ok(value)
    }
}

/// Returns tokens for `application`'s calendar `key`, creating the calendar on first use.
pub async fn application_calendar(
    store: &Store,
    application: &Application,
    key: &str,
    now: DateTime<Utc>,
) -> StoreResult<TokenResponse> {
    let calendar = match store.find_application_calendar(&application.id, key).await? {
        Some(calendar) => calendar,
        None => create(store, application, key, now).await?,
    };

    // Issue the new authorization before ending the old ones, so the account's retention
    // clock never starts in between. Only authorizations seen before issuing are ended: of two
    // concurrent calls, at least the later one's tokens stay live.
    let previous: Vec<_> = store
        .list_authorizations(&calendar.account_id)
        .await?
        .into_iter()
        .filter(|a| a.application_id == application.id && a.terminated_at.is_none())
        .collect();
    let scopes = Scopes::parse("read_write").unwrap_or_default();
    let issued = tokens::issue(store, application, &calendar.account_id, scopes, now).await?;
    for authorization in previous {
        store.terminate_authorization(&authorization.id, now).await?;
    }
    token_response(store, application, &issued, Some(&calendar.profile_id)).await
}

/// Creates the hosted account, profile, primary calendar and the application-calendar row. When
/// a concurrent call won the race for the key, its calendar is returned and the account made
/// here, which no authorization ever reaches, is left to the retention rules.
async fn create(
    store: &Store,
    application: &Application,
    key: &str,
    now: DateTime<Utc>,
) -> StoreResult<ApplicationCalendar> {
    let account = new_account(None, now);
    store.create_account(&account).await?;
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: account.id.clone(),
        provider: ProviderName::Hosted,
        provider_service: ProviderService::Hosted,
        // Cronofy names an application calendar's profile after the application's key.
        email: key.to_owned(),
        name: None,
        tzid: None,
        status: ProfileStatus::Active,
        server_url: None,
        created_at: now,
        updated_at: now,
    };
    store.create_profile(&profile).await?;
    let calendar =
        store.upsert_calendar(&Calendar::new_hosted(&profile.id, &account.id, "Calendar", true, now)).await?;
    store
        .create_application_calendar(&ApplicationCalendar {
            id: ApplicationCalendarId::generate(),
            application_id: application.id.clone(),
            application_calendar_id: key.to_owned(),
            account_id: account.id,
            profile_id: profile.id,
            calendar_id: calendar.id,
            created_at: now,
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_calendar_ids_are_bounded_printable_text() {
        assert_eq!(validate_application_calendar_id("my-calendar"), Ok("my-calendar"));
        assert!(validate_application_calendar_id(" ").is_err());
        assert!(validate_application_calendar_id("a\nb").is_err());
        assert!(validate_application_calendar_id(&"x".repeat(257)).is_err());
        assert!(validate_application_calendar_id(&"x".repeat(256)).is_ok());
    }
}
