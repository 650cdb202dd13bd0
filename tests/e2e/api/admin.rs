//! The admin API (`/admin/v1/applications`): create, list, show, update and secret rotation,
//! authenticated by the admin token and answering errors as `{code, message, field?}`.

use calsync_tests::api::TestApi;
use chrono::Duration;
use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::api_on_both_backends;

const ADMIN: &str = "admin-test-token";

async fn admin(api: &TestApi, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    api.request(method, path, Some(ADMIN), body).await
}

async fn create(api: &TestApi, body: Value) -> Value {
    let (status, created) = admin(api, Method::POST, "/admin/v1/applications", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

async fn listed(api: &TestApi) -> Value {
    let (status, list) = admin(api, Method::GET, "/admin/v1/applications", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

api_on_both_backends!(
    an_operator_forgets_an_end_user_and_reads_the_gdpr_report,
    creating_an_application_shows_its_secret_once_and_lists_it_without,
    an_application_is_found_by_its_id_or_its_client_id,
    an_update_changes_only_the_given_fields,
    invalid_input_is_422_naming_the_field_and_stores_nothing,
    every_admin_route_requires_the_admin_token,
    rotating_the_secret_keeps_the_old_one_working_for_a_day,
);

async fn creating_an_application_shows_its_secret_once_and_lists_it_without(api: &TestApi) {
    let created = create(
        api,
        json!({
            "name": "  Scheduler  ",
            "redirect_uris": ["https://scheduler.example/callback", "http://localhost:3000/cb"],
            "sync_window": { "past_days": 7 },
            "unknown": "ignored",
        }),
    )
    .await;

    let application = &created["application"];
    let id = application["application_id"].as_str().unwrap();
    let client_id = application["client_id"].as_str().unwrap();
    assert!(id.starts_with("app_"), "{id}");
    assert_eq!(client_id.len(), 32, "{client_id}");
    assert_eq!(
        application,
        &json!({
            "application_id": id,
            "name": "Scheduler",
            "client_id": client_id,
            "redirect_uris": ["https://scheduler.example/callback", "http://localhost:3000/cb"],
            "sync_window": { "past_days": 7, "future_days": 201 },
            "created_at": "2026-05-01T10:00:00Z",
            "updated_at": "2026-05-01T10:00:00Z",
        })
    );
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.starts_with("csk_") && secret.len() == 44, "{secret}");
    assert_eq!(created.as_object().unwrap().len(), 2, "only the application and its secret: {created}");

    // The secret authenticates the client; the listing never shows it again.
    let authenticated = api.state.store.authenticate_client(client_id, secret, api.now()).await.unwrap();
    assert_eq!(authenticated.map(|a| a.id.to_string()), Some(id.to_owned()));
    assert_eq!(listed(api).await, json!({ "applications": [application] }));
}

async fn an_application_is_found_by_its_id_or_its_client_id(api: &TestApi) {
    let first = create(api, json!({ "name": "First", "redirect_uris": ["https://one.example/cb"] })).await;
    create(api, json!({ "name": "Second", "redirect_uris": ["https://two.example/cb"] })).await;
    let application = &first["application"];

    for key in [&application["application_id"], &application["client_id"]] {
        let (status, body) =
            admin(api, Method::GET, &format!("/admin/v1/applications/{}", key.as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, json!({ "application": application }));
    }

    for unknown in ["app_00000000000000000000000000", "no-such-client"] {
        let (status, body) = admin(api, Method::GET, &format!("/admin/v1/applications/{unknown}"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
        assert_eq!(
            body,
            json!({ "code": "application_not_found", "message": "no application has this id or client id" })
        );
    }
    assert_eq!(listed(api).await["applications"].as_array().unwrap().len(), 2);
}

async fn an_update_changes_only_the_given_fields(api: &TestApi) {
    let created = create(api, json!({ "name": "Before", "redirect_uris": ["https://app.example/cb"] })).await;
    let id = created["application"]["application_id"].as_str().unwrap().to_owned();
    api.clock.advance(Duration::minutes(5));

    let (status, body) = admin(
        api,
        Method::PATCH,
        &format!("/admin/v1/applications/{id}"),
        Some(json!({ "name": "After", "redirect_uris": null, "sync_window": { "future_days": 30 } })),
    )
    .await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let mut expected = created["application"].clone();
    expected["name"] = json!("After");
    expected["sync_window"] = json!({ "past_days": 42, "future_days": 30 });
    expected["updated_at"] = json!("2026-05-01T10:05:00Z");
    assert_eq!(body, json!({ "application": expected }));
    assert_eq!(listed(api).await, json!({ "applications": [expected] }));

    let (status, body) = admin(
        api,
        Method::PATCH,
        &format!("/admin/v1/applications/{}", expected["client_id"].as_str().unwrap()),
        Some(json!({ "redirect_uris": ["https://new.example/cb"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["application"]["redirect_uris"], json!(["https://new.example/cb"]));

    let (status, body) =
        admin(api, Method::PATCH, "/admin/v1/applications/app_00000000000000000000000000", Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "application_not_found");
}

async fn invalid_input_is_422_naming_the_field_and_stores_nothing(api: &TestApi) {
    let cases = [
        (json!({ "redirect_uris": ["https://app.example/cb"] }), "name", "name: required"),
        (json!({ "name": "App" }), "redirect_uris", "redirect_uris: required"),
        (
            json!({ "name": "  ", "redirect_uris": ["https://app.example/cb"] }),
            "name",
            "name: must be 1 to 200 characters",
        ),
        (json!({ "name": "App", "redirect_uris": [] }), "redirect_uris", "redirect_uris: at least one is required"),
        (
            json!({ "name": "App", "redirect_uris": ["http://app.example/cb"] }),
            "redirect_uris",
            "redirect_uris: must use https (http is allowed only for localhost)",
        ),
        (
            json!({ "name": "App", "redirect_uris": ["https://app.example/cb"], "sync_window": { "future_days": 4000 } }),
            "sync_window.future_days",
            "sync_window.future_days: must be between 0 and 3650",
        ),
        (
            json!({ "name": "App", "redirect_uris": ["https://app.example/cb"], "sync_window": { "past_days": -1 } }),
            "sync_window.past_days",
            "sync_window.past_days: must be between 0 and 3650",
        ),
        (
            json!({ "name": "App", "redirect_uris": "https://app.example/cb" }),
            "redirect_uris",
            "redirect_uris: invalid type: string \"https://app.example/cb\", expected a sequence",
        ),
    ];
    for (body, field, message) in cases {
        let (status, error) = admin(api, Method::POST, "/admin/v1/applications", Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error, json!({ "code": "invalid_request", "message": message, "field": field }), "{body}");
    }
    let (status, error) = api.request(Method::POST, "/admin/v1/applications", Some(ADMIN), None).await;
    assert_eq!((status, error["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("name")));
    assert_eq!(listed(api).await, json!({ "applications": [] }));

    // An update is validated whole before anything is saved.
    let created = create(api, json!({ "name": "Kept", "redirect_uris": ["https://app.example/cb"] })).await;
    let id = created["application"]["application_id"].as_str().unwrap();
    let (status, error) = admin(
        api,
        Method::PATCH,
        &format!("/admin/v1/applications/{id}"),
        Some(json!({ "name": "Changed", "redirect_uris": ["ftp://app.example/cb"] })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        error,
        json!({ "code": "invalid_request", "message": "redirect_uris: must be an absolute https URL", "field": "redirect_uris" })
    );
    assert_eq!(listed(api).await, json!({ "applications": [created["application"]] }));
}

async fn every_admin_route_requires_the_admin_token(api: &TestApi) {
    let (app, secret) = api.application("Integrator").await;
    let id = app.id.to_string();
    let routes = [
        (
            Method::POST,
            "/admin/v1/applications".to_owned(),
            Some(json!({ "name": "X", "redirect_uris": ["https://x.example/cb"] })),
        ),
        (Method::GET, "/admin/v1/applications".to_owned(), None),
        (Method::GET, format!("/admin/v1/applications/{id}"), None),
        (Method::PATCH, format!("/admin/v1/applications/{id}"), Some(json!({ "name": "Taken over" }))),
        (Method::POST, format!("/admin/v1/applications/{id}/rotate_secret"), None),
    ];
    for (method, path, body) in routes {
        for bearer in [None, Some("wrong-token"), Some(secret.as_str())] {
            let (status, error) = api.request(method.clone(), &path, bearer, body.clone()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} with {bearer:?}");
            assert_eq!(error, json!({ "code": "unauthorized", "message": "a valid admin token is required" }));
        }
    }
    // Nothing changed: one application, its name and secret intact.
    let stored = api.state.store.list_applications().await.unwrap();
    assert_eq!(stored.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["Integrator"]);
    assert!(api.state.store.authenticate_client(&app.client_id, &secret, api.now()).await.unwrap().is_some());
}

async fn rotating_the_secret_keeps_the_old_one_working_for_a_day(api: &TestApi) {
    let (app, old_secret) = api.application("Rotating").await;
    api.clock.advance(Duration::hours(1));

    let (status, body) =
        admin(api, Method::POST, &format!("/admin/v1/applications/{}/rotate_secret", app.client_id), None).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    let new_secret = body["client_secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("csk_") && new_secret != old_secret);
    assert_eq!(body["previous_secret_expires_at"], "2026-05-02T11:00:00Z");
    assert_eq!(body["application"]["application_id"], app.id.to_string());
    assert_eq!(body["application"]["updated_at"], "2026-05-01T11:00:00Z");
    assert_eq!(body.as_object().unwrap().len(), 3, "{body}");

    let store = &api.state.store;
    let client_id = app.client_id.as_str();
    let works =
        |secret: String, at| async move { store.authenticate_client(client_id, &secret, at).await.unwrap().is_some() };
    let now = api.now();
    assert!(works(old_secret.clone(), now).await);
    assert!(works(new_secret.clone(), now).await);
    let after_grace = now + Duration::hours(24) + Duration::seconds(1);
    assert!(!works(old_secret, after_grace).await);
    assert!(works(new_secret, after_grace).await);

    let (status, body) =
        admin(api, Method::POST, "/admin/v1/applications/app_00000000000000000000000000/rotate_secret", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "application_not_found");
}

async fn an_operator_forgets_an_end_user_and_reads_the_gdpr_report(api: &TestApi) {
    let (app, _) = api.application("Planner").await;
    let who = api.authorized(&app, "read_events").await;
    let body = json!({"email": "Ada@Example.com", "requested_by": "dpo@integrator.example"});
    assert_eq!(api.request(Method::POST, "/admin/v1/gdpr_requests", None, Some(body.clone())).await.0, 401);

    let (status, created) = admin(api, Method::POST, "/admin/v1/gdpr_requests", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let entry = &created["gdpr_requests"][0];
    assert_eq!(entry["account_id"], json!(who.account.id));
    assert_eq!(entry["requested_by"], json!("dpo@integrator.example"));
    assert!(api.state.store.get_account(&who.account.id).await.unwrap().is_none());
    assert!(!created.to_string().contains("Ada@Example.com") && !created.to_string().contains("ada@example.com"));

    let id = entry["id"].as_str().unwrap();
    let (status, shown) = admin(api, Method::GET, &format!("/admin/v1/gdpr_requests/{id}"), None).await;
    assert_eq!((status, &shown["gdpr_request"]), (StatusCode::OK, entry));
    let (status, listed) = admin(api, Method::GET, "/admin/v1/gdpr_requests", None).await;
    assert_eq!((status, listed), (StatusCode::OK, json!({ "gdpr_requests": [entry] })));

    // Operators record their progress on external systems.
    let path = format!("/admin/v1/gdpr_requests/{id}");
    let progress = json!({"system": "crm", "status": "done", "note": "removed from the CRM"});
    let (status, updated) = admin(api, Method::PATCH, &path, Some(progress)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let expected = json!({"status": "done", "note": "removed from the CRM"});
    assert_eq!(updated["gdpr_request"]["external_progress"]["crm"], expected);
    for bad in [
        json!({"system": "crm", "status": "finished"}),
        json!({"system": "removed_rows", "status": "done"}),
        json!({"status": "done"}),
    ] {
        assert_eq!(admin(api, Method::PATCH, &path, Some(bad)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let entry = &updated["gdpr_request"];

    // Filed again by account id: the same record. Unknown people and ids are 404s; a request
    // must name exactly one of account_id and email, and its operator.
    let again = json!({"account_id": who.account.id, "requested_by": "dpo"});
    let (status, repeated) = admin(api, Method::POST, "/admin/v1/gdpr_requests", Some(again)).await;
    assert_eq!((status, &repeated["gdpr_requests"][0]), (StatusCode::CREATED, entry));
    let nobody = json!({"email": "nobody@example.com", "requested_by": "dpo"});
    let (status, body) = admin(api, Method::POST, "/admin/v1/gdpr_requests", Some(nobody)).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::NOT_FOUND, json!("end_user_not_found")));
    let (status, _) = admin(api, Method::GET, "/admin/v1/gdpr_requests/gdpr_unknown00000000000000000", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in [
        json!({"requested_by": "dpo"}),
        json!({"email": "a@b.c", "account_id": "acc_x", "requested_by": "dpo"}),
        json!({"email": "a@b.c"}),
    ] {
        let (status, body) = admin(api, Method::POST, "/admin/v1/gdpr_requests", Some(bad.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
}
