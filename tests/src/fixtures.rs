//! Builders for rows the tests need: an application, an account with a profile and a calendar.

use calsync_core::{
    Store,
    crypto::token_hash,
    domain::{
        Account, AccountId, Application, ApplicationId, Calendar, CalendarId, Profile, ProfileId, ProfileStatus,
        ProviderName, ProviderService,
    },
    store::NewApplication,
};
use chrono::{DateTime, Utc};

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).expect("valid RFC 3339 time").to_utc()
}

/// Creates an application whose client secret is `secret`. The store keeps the sealed copy as
/// opaque bytes, so the store suite stores a labelled stand-in for the vault's blob.
pub async fn application(store: &Store, name: &str, secret: &str, now: DateTime<Utc>) -> Application {
    store
        .create_application(&NewApplication {
            id: ApplicationId::generate(),
            integrator_id: None,
            name: name.to_owned(),
            client_id: format!("client_{}", calsync_core::domain::random_token(20)),
            client_secret_hash: token_hash(secret),
            client_secret_sealed: format!("sealed:{secret}").into_bytes(),
            redirect_uris: vec!["https://app.example/callback".to_owned()],
            sync_past_days: 42,
            sync_future_days: 201,
            created_at: now,
        })
        .await
        .expect("create application")
}

/// An account with one active iCloud profile and one primary calendar.
#[derive(Debug)]
pub struct Mailbox {
    pub account: Account,
    pub profile: Profile,
    pub calendar: Calendar,
}

pub async fn mailbox(store: &Store, now: DateTime<Utc>) -> Mailbox {
    let account = Account {
        id: AccountId::generate(),
        email: Some("ada@example.com".into()),
        name: Some("Ada".into()),
        default_tzid: "Europe/London".into(),
        created_at: now,
        authorizations_ended_at: None,
    };
    store.create_account(&account).await.expect("create account");
    let profile = Profile {
        id: ProfileId::generate(),
        account_id: account.id.clone(),
        provider: ProviderName::Apple,
        provider_service: ProviderService::Icloud,
        email: "ada@icloud.example".into(),
        name: Some("iCloud".into()),
        tzid: Some("Europe/London".into()),
        status: ProfileStatus::Active,
        server_url: Some("https://caldav.icloud.example".into()),
        created_at: now,
        updated_at: now,
    };
    store.create_profile(&profile).await.expect("create profile");
    let calendar = store
        .upsert_calendar(&Calendar {
            id: CalendarId::generate(),
            profile_id: profile.id.clone(),
            account_id: account.id.clone(),
            provider_calendar_id: "/calendars/ada/home/".into(),
            name: "Home".into(),
            is_primary: true,
            read_only: false,
            deleted: false,
            color: Some("#49BED8".into()),
            created_at: now,
            updated_at: now,
        })
        .await
        .expect("create calendar");
    Mailbox { account, profile, calendar }
}

/// A plain third-party event on `calendar`, as a sync would store it: confirmed, opaque, no
/// attendees. Tests override what they care about with struct update syntax.
pub fn third_party_event(
    calendar: &Calendar,
    provider_id: &str,
    summary: &str,
    start: calsync_core::domain::EventTime,
    end: calsync_core::domain::EventTime,
) -> calsync_core::store::EventUpsert {
    use calsync_core::domain::{AttendeeStatus, EventKind, EventStatus, Transparency};
    calsync_core::store::EventUpsert {
        calendar_id: calendar.id.clone(),
        profile_id: calendar.profile_id.clone(),
        account_id: calendar.account_id.clone(),
        kind: EventKind::ThirdParty,
        application_id: None,
        event_id: None,
        provider_id: Some(provider_id.to_owned()),
        ical_uid: None,
        etag: None,
        summary: Some(summary.to_owned()),
        description: None,
        start,
        end,
        recurrence_rule: None,
        series_id: None,
        original_start: None,
        location: None,
        attendees: vec![],
        organizer: None,
        categories: vec![],
        color: None,
        url: None,
        reminders: vec![],
        event_private: false,
        participation_status: AttendeeStatus::Unknown,
        transparency: Transparency::Opaque,
        status: EventStatus::Confirmed,
        deleted: false,
        provider_created_at: None,
        provider_updated_at: None,
    }
}
