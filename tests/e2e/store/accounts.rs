//! Accounts, profiles, calendars, sealed credentials and authorizations.

use calsync_core::{
    Store,
    crypto::{Credentials, CryptoError, Keyring, Vault, token_hash},
    domain::{AuthorizationId, ProfileStatus, Scopes},
    store::NewAuthorization,
};
use calsync_tests::fixtures::{application, at, mailbox};
use chrono::Duration;

use super::on_both_backends;

on_both_backends!(
    an_account_its_profile_and_calendar_read_back_as_written,
    upserting_a_calendar_again_keeps_its_id_and_updates_its_fields,
    credentials_are_stored_sealed_and_open_only_for_their_own_profile,
    ending_the_last_authorization_starts_the_retention_clock_and_a_new_one_stops_it,
    an_access_token_finds_only_a_live_unexpired_authorization,
);

async fn an_account_its_profile_and_calendar_read_back_as_written(store: &Store) {
    let now = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, now).await;
    assert_eq!(store.get_account(&m.account.id).await.unwrap(), Some(m.account.clone()));
    assert_eq!(store.get_profile(&m.profile.id).await.unwrap(), Some(m.profile.clone()));
    assert_eq!(store.list_profiles(&m.account.id).await.unwrap(), vec![m.profile.clone()]);
    assert_eq!(store.get_calendar(&m.calendar.id).await.unwrap(), Some(m.calendar.clone()));

    assert!(store.set_profile_status(&m.profile.id, ProfileStatus::Disconnected, now).await.unwrap());
    assert_eq!(store.get_profile(&m.profile.id).await.unwrap().unwrap().status, ProfileStatus::Disconnected);
}

async fn upserting_a_calendar_again_keeps_its_id_and_updates_its_fields(store: &Store) {
    let now = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, now).await;
    let mut again = m.calendar.clone();
    again.id = calsync_core::domain::CalendarId::generate();
    again.name = "Home (renamed)".into();
    again.updated_at = now + Duration::hours(1);
    let stored = store.upsert_calendar(&again).await.unwrap();

    assert_eq!(stored.id, m.calendar.id);
    assert_eq!(stored.name, "Home (renamed)");
    assert_eq!(stored.created_at, now);
    assert_eq!(store.list_calendars(&m.account.id).await.unwrap(), vec![stored]);
}

async fn credentials_are_stored_sealed_and_open_only_for_their_own_profile(store: &Store) {
    let now = at("2026-05-01T10:00:00Z");
    let vault = Vault::new(Keyring::generate());
    let a = mailbox(store, now).await;
    let b = mailbox(store, now).await;
    let secret =
        Credentials::AppSpecificPassword { email: "ada@icloud.example".into(), password: "abcd-efgh-ijkl-mnop".into() };
    store
        .put_credentials(&a.profile.id, &a.account.id, &vault.seal(&a.profile.id, &secret).unwrap(), now)
        .await
        .unwrap();

    let sealed = store.get_credentials(&a.profile.id).await.unwrap().unwrap();
    assert_eq!(vault.open(&a.profile.id, &sealed).unwrap(), secret);
    assert_eq!(vault.open(&b.profile.id, &sealed), Err(CryptoError::Decrypt));
    assert!(store.get_credentials(&b.profile.id).await.unwrap().is_none());

    assert!(store.delete_credentials(&a.profile.id).await.unwrap());
    assert!(store.get_credentials(&a.profile.id).await.unwrap().is_none());
}

fn new_authorization(
    app: &calsync_core::domain::Application,
    account: &calsync_core::domain::AccountId,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> NewAuthorization {
    NewAuthorization {
        id: AuthorizationId::generate(),
        application_id: app.id.clone(),
        account_id: account.clone(),
        scopes: Scopes::parse("read_events create_event").unwrap(),
        access_token_hash: token_hash(&format!("access-{token}")),
        refresh_token_hash: token_hash(&format!("refresh-{token}")),
        access_token_expires_at: now + Duration::hours(3),
        created_at: now,
    }
}

async fn ending_the_last_authorization_starts_the_retention_clock_and_a_new_one_stops_it(store: &Store) {
    let t0 = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, t0).await;
    let app1 = application(store, "One", "s1", t0).await;
    let app2 = application(store, "Two", "s2", t0).await;
    let first = store.create_authorization(&new_authorization(&app1, &m.account.id, "1", t0)).await.unwrap();
    let second = store.create_authorization(&new_authorization(&app2, &m.account.id, "2", t0)).await.unwrap();

    let t1 = t0 + Duration::days(1);
    assert!(store.terminate_authorization(&first.id, t1).await.unwrap());
    assert_eq!(
        store.get_account(&m.account.id).await.unwrap().unwrap().authorizations_ended_at,
        None,
        "one still live"
    );

    let t2 = t0 + Duration::days(2);
    assert!(store.terminate_authorization(&second.id, t2).await.unwrap());
    assert!(
        !store.terminate_authorization(&second.id, t2 + Duration::days(1)).await.unwrap(),
        "ending twice is a no-op"
    );
    assert_eq!(store.get_account(&m.account.id).await.unwrap().unwrap().authorizations_ended_at, Some(t2));

    let t3 = t0 + Duration::days(10);
    store.create_authorization(&new_authorization(&app1, &m.account.id, "3", t3)).await.unwrap();
    assert_eq!(store.get_account(&m.account.id).await.unwrap().unwrap().authorizations_ended_at, None);
    let all = store.list_authorizations(&m.account.id).await.unwrap();
    assert_eq!(all.iter().filter(|a| a.terminated_at.is_none()).count(), 1);
}

async fn an_access_token_finds_only_a_live_unexpired_authorization(store: &Store) {
    let now = at("2026-05-01T10:00:00Z");
    let m = mailbox(store, now).await;
    let app = application(store, "One", "s1", now).await;
    let auth = store.create_authorization(&new_authorization(&app, &m.account.id, "x", now)).await.unwrap();
    let hash = token_hash("access-x");

    assert_eq!(store.find_authorization_by_access_token(&hash, now).await.unwrap(), Some(auth.clone()));
    assert_eq!(
        store.find_authorization_by_access_token(&hash, now + Duration::hours(3)).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.find_authorization_by_refresh_token(&token_hash("refresh-x")).await.unwrap().map(|a| a.id),
        Some(auth.id.clone())
    );

    let new_hash = token_hash("access-y");
    assert!(store.replace_access_token(&auth.id, &new_hash, now + Duration::hours(6)).await.unwrap());
    assert_eq!(store.find_authorization_by_access_token(&hash, now).await.unwrap(), None, "old token replaced");
    assert!(store.find_authorization_by_access_token(&new_hash, now + Duration::hours(4)).await.unwrap().is_some());

    store.terminate_authorization(&auth.id, now).await.unwrap();
    assert_eq!(store.find_authorization_by_access_token(&new_hash, now).await.unwrap(), None, "terminated");
    assert_eq!(store.find_authorization_by_refresh_token(&token_hash("refresh-x")).await.unwrap(), None);
}
