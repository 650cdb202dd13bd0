//! Identity endpoints through the API: userinfo, account, profiles, calendars, creating a
//! calendar and revoking a profile.

use std::time::Duration;

use calsync_core::{
    adapters::QueueName,
    crypto::Credentials,
    domain::{ProfileStatus, ProviderName},
    jobs::SyncJob,
};
use calsync_tests::api::TestApi;
use http::StatusCode;
use serde_json::{Value, json};

use super::{api_on_both_backends, reads::google_calendar};

api_on_both_backends!(
    userinfo_describes_the_account_its_authorization_profiles_and_calendars,
    account_needs_read_account_and_describes_the_account,
    profiles_report_connection_and_initial_sync,
    calendars_are_listed_with_their_profiles,
    a_calendar_created_on_a_hosted_profile_exists_at_once,
    a_calendar_created_on_a_provider_profile_is_pending_and_queues_a_calendar_list_sync,
    a_duplicate_calendar_name_is_refused_with_the_key_pycronofy_checks,
    calendar_creation_validates_every_field_and_stores_nothing_when_invalid,
    calendar_creation_needs_the_scope_and_a_live_profile_of_the_account,
    revoking_a_profile_disconnects_it_and_deletes_its_credentials,
    revoking_a_foreign_or_unknown_profile_is_not_found_and_changes_nothing,
);

const SCOPES: &str = "read_account read_events create_calendar";

/// Userinfo's and the calendar list's view of one calendar.
fn calendar_fields(id: &impl serde::Serialize, name: &str, primary: bool) -> Value {
    json!({
        "calendar_id": id, "calendar_name": name, "calendar_readonly": false, "calendar_deleted": false,
        "calendar_primary": primary, "calendar_integrated_conferencing_available": false,
        "calendar_attachments_available": false, "permission_level": "sandbox",
    })
}

fn with(mut base: Value, extra: Value) -> Value {
    base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    base
}

async fn userinfo_describes_the_account_its_authorization_profiles_and_calendars(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let (google, work) = google_calendar(api, &who, "Work").await;

    let (status, body) = api.get("/v1/userinfo", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "sub": who.account.id, "email": "ada@example.com", "name": "Ada Lovelace", "zoneinfo": "Europe/London",
            "cronofy.type": "account",
            "cronofy.data": {
                "authorization": {"scope": "read_account read_events create_calendar", "status": "active"},
                "profiles": [
                    {
                        "provider_name": "cronofy", "provider_service": "cronofy", "profile_id": who.profile.id,
                        "profile_name": "ada@example.com", "profile_connected": true,
                        "profile_initial_sync_required": false,
                        "profile_calendars": [calendar_fields(&who.calendar.id, "Calendar", true)],
                    },
                    {
                        "provider_name": "google", "provider_service": "gsuite", "profile_id": google.id,
                        "profile_name": "ada@work.example", "profile_connected": true,
                        "profile_initial_sync_required": true,
                        "profile_calendars": [calendar_fields(&work.id, "Work", false)],
                    },
                ],
            },
        })
    );

    // Any valid token may read it, whatever its scopes.
    let narrow = api.authorized(&app, "read_free_busy").await;
    let (status, body) = api.get("/v1/userinfo", &narrow.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["cronofy.data"]["authorization"], json!({"scope": "read_free_busy", "status": "active"}));
    assert_eq!(api.get("/v1/userinfo", "not-a-token").await.0, StatusCode::UNAUTHORIZED);
}

async fn account_needs_read_account_and_describes_the_account(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let (status, body) = api.get("/v1/account", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"account": {
            "account_id": who.account.id, "email": "ada@example.com", "name": "Ada Lovelace",
            "scope": "read_account read_events create_calendar", "default_tzid": "Europe/London",
        }})
    );

    let without = api.authorized(&app, "read_events").await;
    assert_eq!(
        api.get("/v1/account", &without.access_token).await,
        (StatusCode::FORBIDDEN, json!({"error": "insufficient_scope", "scope": "read_account"}))
    );
}

async fn profiles_report_connection_and_initial_sync(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let (google, work) = google_calendar(api, &who, "Work").await;
    let hosted = json!({
        "provider_name": "cronofy", "provider_service": "cronofy", "profile_id": who.profile.id,
        "profile_name": "ada@example.com", "profile_connected": true, "profile_initial_sync_required": false,
    });
    let google_json = |connected: bool, initial: bool| {
        json!({
            "provider_name": "google", "provider_service": "gsuite", "profile_id": google.id,
            "profile_name": "ada@work.example", "profile_connected": connected,
            "profile_initial_sync_required": initial,
        })
    };

    let (status, body) = api.get("/v1/profiles", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"profiles": [hosted, google_json(true, true)]}));

    // A failed sync is not the initial sync; a successful one is.
    let store = &api.state.store;
    let later = api.now() + chrono::Duration::minutes(5);
    store.record_sync_failure(&work.id, &who.account.id, "provider_throttled", later, api.now()).await.unwrap();
    assert_eq!(api.get("/v1/profiles", &who.access_token).await.1["profiles"][1], google_json(true, true));
    store.record_sync_success(&work.id, &who.account.id, Some("cursor-1"), api.now()).await.unwrap();
    assert_eq!(api.get("/v1/profiles", &who.access_token).await.1["profiles"][1], google_json(true, false));

    store.set_profile_status(&google.id, ProfileStatus::Disconnected, api.now()).await.unwrap();
    assert_eq!(api.get("/v1/profiles", &who.access_token).await.1["profiles"][1], google_json(false, false));
}

async fn calendars_are_listed_with_their_profiles(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    // Cronofy lists calendars for any authorization: no list_calendars scope needed.
    let who = api.authorized(&app, "read_free_busy").await;
    let (google, work) = google_calendar(api, &who, "Work").await;

    let (status, body) = api.get("/v1/calendars", &who.access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"calendars": [
            with(
                json!({"provider_name": "cronofy", "profile_id": who.profile.id, "profile_name": "ada@example.com"}),
                calendar_fields(&who.calendar.id, "Calendar", true),
            ),
            with(
                json!({"provider_name": "google", "profile_id": google.id, "profile_name": "ada@work.example"}),
                calendar_fields(&work.id, "Work", false),
            ),
        ]})
    );
}

async fn a_calendar_created_on_a_hosted_profile_exists_at_once(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;

    let (status, body) = api
        .post(
            "/v1/calendars",
            Some(&who.access_token),
            json!({"profile_id": who.profile.id, "name": "Bookings", "color": "#49BED8", "unknown": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["calendar"]["calendar_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("cal_"), "{id}");
    let expected = with(
        json!({"provider_name": "cronofy", "profile_id": who.profile.id, "profile_name": "ada@example.com"}),
        calendar_fields(&id, "Bookings", false),
    );
    assert_eq!(body, json!({"calendar": expected}));

    let (_, listed) = api.get("/v1/calendars", &who.access_token).await;
    assert_eq!(listed["calendars"][1], expected);
    let stored =
        api.state.store.get_calendar(&calsync_core::domain::CalendarId::parse(&id).unwrap()).await.unwrap().unwrap();
    assert!(stored.provider_calendar_id.starts_with("hosted:"), "{}", stored.provider_calendar_id);
    assert_eq!(stored.color.as_deref(), Some("#49BED8"));
    // Hosted profiles have nothing to sync upstream.
    let queued = api.state.queue.receive(QueueName::Sync, 10, Duration::from_millis(10)).await.unwrap();
    assert!(queued.is_empty(), "{queued:?}");
}

async fn a_calendar_created_on_a_provider_profile_is_pending_and_queues_a_calendar_list_sync(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let (google, _) = google_calendar(api, &who, "Work").await;

    let (status, body) =
        api.post("/v1/calendars", Some(&who.access_token), json!({"profile_id": google.id, "name": "Team"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["calendar"]["provider_name"], "google");
    let id = calsync_core::domain::CalendarId::parse(body["calendar"]["calendar_id"].as_str().unwrap()).unwrap();
    let stored = api.state.store.get_calendar(&id).await.unwrap().unwrap();
    assert_eq!(stored.provider_calendar_id, format!("pending:{id}"));
    assert_eq!(stored.profile_id, google.id);

    let queued = api.state.queue.receive(QueueName::Sync, 10, Duration::from_millis(10)).await.unwrap();
    let jobs: Vec<SyncJob> = queued.iter().map(|m| serde_json::from_str(&m.body).unwrap()).collect();
    assert_eq!(jobs, [SyncJob::SyncCalendarList { profile_id: google.id.clone() }]);
    assert_eq!(google.provider, ProviderName::Google);
}

async fn a_duplicate_calendar_name_is_refused_with_the_key_pycronofy_checks(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let (google, _) = google_calendar(api, &who, "Work").await;
    let body = json!({"profile_id": who.profile.id, "name": "Bookings"});
    assert_eq!(api.post("/v1/calendars", Some(&who.access_token), body.clone()).await.0, StatusCode::OK);
    let before = api.state.store.list_calendars(&who.account.id).await.unwrap();

    let duplicate = json!({"errors": {"name": [{
        "key": "errors.duplicate_calendar_name", "description": "the profile already has a calendar of this name",
    }]}});
    assert_eq!(
        api.post("/v1/calendars", Some(&who.access_token), body).await,
        (StatusCode::UNPROCESSABLE_ENTITY, duplicate.clone())
    );
    // The primary calendar's name clashes the same way.
    let primary = json!({"profile_id": who.profile.id, "name": "Calendar"});
    assert_eq!(api.post("/v1/calendars", Some(&who.access_token), primary).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(api.state.store.list_calendars(&who.account.id).await.unwrap(), before);

    // Names are unique per profile, not per account.
    let other_profile = json!({"profile_id": google.id, "name": "Bookings"});
    assert_eq!(api.post("/v1/calendars", Some(&who.access_token), other_profile).await.0, StatusCode::OK);
}

async fn calendar_creation_validates_every_field_and_stores_nothing_when_invalid(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let before = api.state.store.list_calendars(&who.account.id).await.unwrap();
    let e = |key: &str, description: &str| json!([{"key": key, "description": description}]);

    let cases = [
        (json!({}), json!({"profile_id": e("errors.required", "required"), "name": e("errors.required", "required")})),
        (
            json!({"profile_id": null, "name": "   ", "color": "blue"}),
            json!({
                "profile_id": e("errors.required", "required"), "name": e("errors.required", "required"),
                "color": e("errors.invalid", "must be a hex color such as #49BED8"),
            }),
        ),
        (
            json!({"profile_id": who.profile.id, "name": "x".repeat(256)}),
            json!({"name": e("errors.too_long", "must be at most 255 characters")}),
        ),
        (
            json!({"profile_id": who.profile.id, "name": 7}),
            json!({"name": e("errors.invalid_type", "invalid type: integer `7`, expected a string")}),
        ),
    ];
    for (body, errors) in cases {
        let (status, response) = api.post("/v1/calendars", Some(&who.access_token), body.clone()).await;
        assert_eq!((status, response), (StatusCode::UNPROCESSABLE_ENTITY, json!({"errors": errors})), "{body}");
    }
    // Exactly 255 characters is fine.
    let longest = json!({"profile_id": who.profile.id, "name": "é".repeat(255)});
    assert_eq!(api.post("/v1/calendars", Some(&who.access_token), longest).await.0, StatusCode::OK);
    assert_eq!(api.state.store.list_calendars(&who.account.id).await.unwrap().len(), before.len() + 1);
}

async fn calendar_creation_needs_the_scope_and_a_live_profile_of_the_account(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let stranger = api.authorized(&app, SCOPES).await;
    let reader = api.authorized(&app, "read_events").await;

    let body = json!({"profile_id": reader.profile.id, "name": "Mine"});
    assert_eq!(
        api.post("/v1/calendars", Some(&reader.access_token), body).await,
        (StatusCode::FORBIDDEN, json!({"error": "insufficient_scope", "scope": "create_calendar"}))
    );
    for profile_id in [stranger.profile.id.to_string(), "pro_unknown".to_owned(), "not-a-profile".to_owned()] {
        let body = json!({"profile_id": profile_id, "name": "Mine"});
        assert_eq!(
            api.post("/v1/calendars", Some(&who.access_token), body).await,
            (StatusCode::NOT_FOUND, json!({"error": "not_found"})),
            "{profile_id}"
        );
    }
    assert_eq!(api.state.store.list_calendars(&stranger.account.id).await.unwrap().len(), 1);

    api.state.store.set_profile_status(&who.profile.id, ProfileStatus::Disconnected, api.now()).await.unwrap();
    let body = json!({"profile_id": who.profile.id, "name": "Mine"});
    assert_eq!(
        api.post("/v1/calendars", Some(&who.access_token), body).await,
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({"errors": {"profile_id": [{"key": "errors.not_permitted", "description": "the profile is disconnected"}]}})
        )
    );
}

async fn revoking_a_profile_disconnects_it_and_deletes_its_credentials(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let (google, _) = google_calendar(api, &who, "Work").await;
    let credentials = Credentials::OauthTokenSet {
        access_token: "provider-access".into(),
        refresh_token: Some("provider-refresh".into()),
        expires_at: None,
        scope: None,
    };
    let sealed = api.state.vault.seal(&google.id, &credentials).unwrap();
    api.state.store.put_credentials(&google.id, &who.account.id, &sealed, api.now()).await.unwrap();

    let path = format!("/v1/profiles/{}/revoke", google.id);
    assert_eq!(api.post(&path, Some(&who.access_token), json!({})).await, (StatusCode::ACCEPTED, Value::Null));

    assert!(api.state.store.get_credentials(&google.id).await.unwrap().is_none());
    let profile = api.state.store.get_profile(&google.id).await.unwrap().unwrap();
    assert_eq!(profile.status, ProfileStatus::Disconnected);
    let (_, body) = api.get("/v1/profiles", &who.access_token).await;
    assert_eq!(body["profiles"][1]["profile_connected"], json!(false));
    assert_eq!(body["profiles"][0]["profile_connected"], json!(true));
    // Revoking again is still accepted.
    assert_eq!(api.post(&path, Some(&who.access_token), json!({})).await.0, StatusCode::ACCEPTED);
}

async fn revoking_a_foreign_or_unknown_profile_is_not_found_and_changes_nothing(api: &TestApi) {
    let (app, _) = api.application("Identity").await;
    let who = api.authorized(&app, SCOPES).await;
    let stranger = api.authorized(&app, SCOPES).await;

    for profile_id in [stranger.profile.id.to_string(), "pro_unknown".to_owned(), "nonsense".to_owned()] {
        let path = format!("/v1/profiles/{profile_id}/revoke");
        assert_eq!(
            api.post(&path, Some(&who.access_token), json!({})).await,
            (StatusCode::NOT_FOUND, json!({"error": "not_found"})),
            "{path}"
        );
    }
    let profile = api.state.store.get_profile(&stranger.profile.id).await.unwrap().unwrap();
    assert_eq!(profile.status, ProfileStatus::Active);
    assert_eq!(api.post("/v1/profiles/x/revoke", None, json!({})).await.0, StatusCode::UNAUTHORIZED);
}
