//! Integrators, billing and applications.

use calsync_core::{
    Store,
    crypto::token_hash,
    domain::{BillingInfo, Integrator, IntegratorId},
    store::ApplicationUpdate,
};
use calsync_tests::fixtures::{application, at};
use chrono::Duration;

use super::on_both_backends;

on_both_backends!(
    an_application_authenticates_only_with_its_own_secret,
    a_rotated_secret_keeps_the_old_one_valid_until_the_grace_period_ends,
    an_application_update_changes_only_the_fields_given,
    integrator_billing_is_stored_and_replaced_but_never_duplicated,
);

async fn an_application_authenticates_only_with_its_own_secret(store: &Store) {
    let now = at("2026-05-01T10:00:00Z");
    let app = application(store, "Scheduler", "cs_secret_right", now).await;

    let found = store.authenticate_client(&app.client_id, "cs_secret_right", now).await.unwrap();
    assert_eq!(found.as_ref().map(|a| &a.id), Some(&app.id));
    assert_eq!(found.unwrap().sync_past_days, 42);
    assert!(store.authenticate_client(&app.client_id, "cs_secret_wrong", now).await.unwrap().is_none());
    assert!(store.authenticate_client("client_unknown", "cs_secret_right", now).await.unwrap().is_none());
}

async fn a_rotated_secret_keeps_the_old_one_valid_until_the_grace_period_ends(store: &Store) {
    let now = at("2026-05-01T10:00:00Z");
    let app = application(store, "Scheduler", "old-secret", now).await;
    let grace_end = now + Duration::hours(24);
    let sealed = b"sealed:new-secret".to_vec();
    assert!(store.rotate_client_secret(&app.id, &token_hash("new-secret"), &sealed, grace_end, now).await.unwrap());
    // Notifications are signed with both secrets during the grace period, then the new one only.
    let old = b"sealed:old-secret".to_vec();
    assert_eq!(store.signing_secrets(&app.id, now).await.unwrap(), vec![sealed.clone(), old]);
    assert_eq!(store.signing_secrets(&app.id, grace_end).await.unwrap(), vec![sealed.clone()]);

    for (secret, when, ok) in [
        ("new-secret", now, true),
        ("old-secret", grace_end - Duration::seconds(1), true),
        ("old-secret", grace_end, false),
        ("new-secret", grace_end + Duration::days(400), true),
    ] {
        let found = store.authenticate_client(&app.client_id, secret, when).await.unwrap();
        assert_eq!(found.is_some(), ok, "{secret} at {when}");
    }
}

async fn an_application_update_changes_only_the_fields_given(store: &Store) {
    let now = at("2026-05-01T10:00:00Z");
    let app = application(store, "Scheduler", "s", now).await;
    let later = now + Duration::minutes(5);
    let update = ApplicationUpdate { sync_future_days: Some(365), ..Default::default() };
    let updated = store.update_application(&app.id, &update, later).await.unwrap().unwrap();

    assert_eq!(updated.sync_future_days, 365);
    assert_eq!(updated.sync_past_days, 42);
    assert_eq!(updated.name, "Scheduler");
    assert_eq!(updated.redirect_uris, vec!["https://app.example/callback".to_owned()]);
    assert_eq!(updated.updated_at, later);
    assert_eq!(store.list_applications().await.unwrap(), vec![updated]);

    let unknown = calsync_core::domain::ApplicationId::generate();
    assert!(store.update_application(&unknown, &update, later).await.unwrap().is_none());
}

async fn integrator_billing_is_stored_and_replaced_but_never_duplicated(store: &Store) {
    let now = at("2026-05-01T10:00:00Z");
    let integrator = Integrator {
        id: IntegratorId::generate(),
        name: "Grace".into(),
        email: "grace@integrator.example".into(),
        company: Some("Acme".into()),
        phone: None,
        url: Some("https://acme.example".into()),
        created_at: now,
    };
    store.create_integrator(&integrator).await.unwrap();
    assert_eq!(store.get_integrator(&integrator.id).await.unwrap(), Some(integrator.clone()));

    let mut billing = BillingInfo {
        integrator_id: integrator.id.clone(),
        contact_name: "Grace".into(),
        contact_email: "billing@acme.example".into(),
        postal_address: "1 Main St".into(),
        company_name: "Acme Ltd".into(),
        tax_id: Some("GB123".into()),
        updated_at: now,
    };
    store.put_billing(&billing).await.unwrap();
    billing.postal_address = "2 High St".into();
    billing.updated_at = now + Duration::days(1);
    store.put_billing(&billing).await.unwrap();
    assert_eq!(store.get_billing(&integrator.id).await.unwrap(), Some(billing));
}
