//! Drives the API in-process: a state on a fresh database (SQLite or PostgreSQL) with a fixed
//! clock, helpers to create applications and authorized accounts, and typed request helpers.
//! `TestApi::served` also listens on a loopback port for SDKs and browsers.

use std::sync::Arc;

use axum::body::Body;
use calsync_core::{
    AppState, Config, FixedClock,
    apps::{self, ApplicationRequest},
    domain::{
        Account, AccountId, Application, Calendar, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService,
        Scopes,
    },
    tokens,
};
use chrono::{DateTime, Utc};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::db::{Backend, TestDb};

/// The default "now" of API tests.
pub fn test_now() -> DateTime<Utc> {
    crate::fixtures::at("2026-05-01T10:00:00Z")
}

/// An API over its own database.
#[derive(Debug)]
pub struct TestApi {
    pub state: AppState,
    pub clock: FixedClock,
    pub base_url: String,
    db: TestDb,
    _dir: tempfile::TempDir,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// An account authorized for an application, with one calsync-hosted calendar.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub account: Account,
    pub profile: Profile,
    pub calendar: Calendar,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApi {
    /// In-process only (call it with `request`), clock fixed at `test_now()`.
    pub async fn new(backend: Backend) -> Self {
        Self::build(backend, None, FixedClock::new(test_now())).await
    }

    /// Also listening on 127.0.0.1 (public URL = that address), clock fixed at `now`.
    pub async fn served(backend: Backend, now: DateTime<Utc>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let mut api =
            Self::build(backend, Some(format!("http://{}", listener.local_addr().unwrap())), FixedClock::new(now))
                .await;
        let app = calsync_core::api::app(api.state.clone());
        api.server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
        api
    }

    async fn build(backend: Backend, public_url: Option<String>, clock: FixedClock) -> Self {
        let db = TestDb::new(backend).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().display().to_string();
        let url = db.url.clone();
        let public = public_url.clone().unwrap_or_else(|| "http://calsync.test".to_owned());
        let config = Config::from_lookup(|name| match name {
            "CALSYNC_MODE" => Some("local".to_owned()),
            "CALSYNC_DATA_DIR" => Some(data_dir.clone()),
            "CALSYNC_DATABASE_URL" => Some(url.clone()),
            "CALSYNC_PUBLIC_URL" => Some(public.clone()),
            "CALSYNC_ADMIN_TOKEN" => Some("admin-test-token".to_owned()),
            // High enough that only the rate-limit tests meet them; those set their own state.
            "CALSYNC_RATE_LIMIT_PER_SECOND" => Some("100000".to_owned()),
            "CALSYNC_RATE_LIMIT_PER_MINUTE" => Some("1000000".to_owned()),
            // Scheduled fan-outs queue their jobs at once, so tests can run them.
            "CALSYNC_JOB_SPREAD_SECONDS" => Some("0".to_owned()),
            // Radicale stands in for Apple's CalDAV server (infra/caldav.sh).
            "CALSYNC_ICLOUD_CALDAV_URL" => std::env::var("CALSYNC_TEST_RADICALE_URL").ok(),
            _ => None,
        })
        .expect("test configuration");
        let state = AppState::build_with_clock(config, Arc::new(clock.clone())).await.expect("build state");
        Self { base_url: public_url.unwrap_or_default(), state, clock, db, _dir: dir, server: None }
    }

    /// The URL of the database behind the API.
    pub fn db_url(&self) -> &str {
        &self.db.url
    }

    pub fn now(&self) -> DateTime<Utc> {
        use calsync_core::Clock;
        self.clock.now()
    }

    /// Creates an application; returns it with its client secret.
    pub async fn application(&self, name: &str) -> (Application, String) {
        let request = ApplicationRequest {
            name: name.to_owned(),
            redirect_uris: vec!["https://app.example/callback".to_owned()],
            sync_past_days: None,
            sync_future_days: None,
        };
        let created =
            apps::create(&self.state.store, &self.state.vault, request, self.now()).await.expect("create application");
        (created.application, created.client_secret)
    }

    /// An account with one hosted profile and primary calendar, authorized for `application`.
    pub async fn authorized(&self, application: &Application, scopes: &str) -> Authorized {
        let store = &self.state.store;
        let now = self.now();
        let account = Account {
            id: AccountId::generate(),
            email: Some("ada@example.com".into()),
            name: Some("Ada Lovelace".into()),
            default_tzid: "Europe/London".into(),
            created_at: now,
            authorizations_ended_at: None,
        };
        store.create_account(&account).await.unwrap();
        let profile = Profile {
            id: ProfileId::generate(),
            account_id: account.id.clone(),
            provider: ProviderName::Hosted,
            provider_service: ProviderService::Hosted,
            email: "ada@example.com".into(),
            name: Some("Ada Lovelace".into()),
            tzid: Some("Europe/London".into()),
            status: ProfileStatus::Active,
            server_url: None,
            created_at: now,
            updated_at: now,
        };
        store.create_profile(&profile).await.unwrap();
        let calendar = store
            .upsert_calendar(&Calendar::new_hosted(&profile.id, &account.id, "Calendar", true, now))
            .await
            .unwrap();
        let issued = tokens::issue(store, application, &account.id, Scopes::parse(scopes).unwrap(), now).await.unwrap();
        Authorized {
            account,
            profile,
            calendar,
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
        }
    }

    /// Sends a request in-process; returns the status and the JSON body (`Null` when empty).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = bearer {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(json) => builder.header("content-type", "application/json").body(Body::from(json.to_string())),
            None => builder.body(Body::empty()),
        }
        .unwrap();
        let response = calsync_core::api::app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, json)
    }

    /// POSTs a raw body with its content type in-process; returns the status and the JSON body.
    pub async fn post_raw(&self, path: &str, bearer: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {bearer}"))
            .header("content-type", content_type)
            .body(Body::from(body.to_owned()))
            .unwrap();
        let response = calsync_core::api::app(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, bearer: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, Some(bearer), None).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, bearer, Some(body)).await
    }

    pub async fn delete(&self, path: &str, bearer: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::DELETE, path, Some(bearer), Some(body)).await
    }

    /// Stops the server and drops the database.
    pub async fn cleanup(self) {
        if let Some(server) = self.server {
            server.abort();
        }
        self.state.store.close().await;
        self.db.cleanup().await;
    }
}

/// An end-user with a row in every table that can hold their data: an application calendar
/// (account, profile, calendar, authorization), a timed and an all-day event (and so request
/// logs), a sync state, a channel, sealed credentials, an authorization code, a provider push
/// channel and a service account.
#[derive(Debug)]
pub struct EndUserEverywhere {
    pub application: Application,
    pub access_token: String,
    pub account: AccountId,
    pub profile: Profile,
    pub calendar: Calendar,
    /// The channel's callback endpoint, kept alive with the value.
    pub receiver: crate::receiver::Receiver,
}

impl TestApi {
    /// Seeds `EndUserEverywhere` through the API and the store.
    pub async fn end_user_everywhere(&self) -> EndUserEverywhere {
        use calsync_core::authorization::NewAuthorizationCode;
        use calsync_core::crypto::{Credentials, token_hash};
        use serde_json::json;

        let (application, secret) = self.application("Planner").await;
        let body =
            json!({"client_id": application.client_id, "client_secret": secret, "application_calendar_id": "ada-cal"});
        let (status, tokens) = self.post("/v1/application_calendars", None, body).await;
        assert_eq!(status, 200, "{tokens}");
        let access_token = tokens["access_token"].as_str().expect("an access token").to_owned();
        let store = &self.state.store;
        let authorization =
            store.find_authorization_by_access_token(&token_hash(&access_token), self.now()).await.unwrap();
        let account = authorization.expect("the application calendar's authorization").account_id;
        let profile = store.list_profiles(&account).await.unwrap().remove(0);
        let calendar = store.list_calendars(&account).await.unwrap().remove(0);

        let timed = json!({
            "event_id": "e1", "summary": "Private", "description": "Ünïcode ✓",
            "start": "2026-05-04T09:00:00Z", "end": "2026-05-04T10:00:00Z",
            "attendees": {"invite": [{"email": "grace@example.com", "display_name": "Grace"}]},
            "location": {"description": "Room 1"}
        });
        let all_day = json!({"event_id": "e2", "summary": "Holiday", "start": "2026-05-06", "end": "2026-05-07"});
        for event in [timed, all_day] {
            let path = format!("/v1/calendars/{}/events", calendar.id);
            let (status, body) = self.post(&path, Some(&access_token), event).await;
            assert_eq!(status, 202, "{body}");
        }
        store.record_sync_success(&calendar.id, &account, Some("cursor"), self.now()).await.unwrap();
        let receiver = crate::receiver::Receiver::start(&[]).await;
        let (status, _) = self.post("/v1/channels", Some(&access_token), json!({"callback_url": receiver.url})).await;
        assert_eq!(status, 200);
        let credentials =
            Credentials::AppSpecificPassword { email: "ada@icloud.example".into(), password: "abcd".into() };
        let sealed = self.state.vault.seal(&profile.id, &credentials).unwrap();
        store.put_credentials(&profile.id, &account, &sealed, self.now()).await.unwrap();
        store
            .create_authorization_code(&NewAuthorizationCode {
                code_hash: token_hash("a-code"),
                application_id: application.id.clone(),
                account_id: account.clone(),
                profile_id: Some(profile.id.clone()),
                redirect_uri: "https://app.example/callback".into(),
                scopes: Scopes::parse("read_events").unwrap(),
                created_at: self.now(),
                expires_at: self.now() + chrono::Duration::minutes(10),
            })
            .await
            .unwrap();
        // A service account whose own account this is (Enterprise Connect).
        let service_account = calsync_core::domain::ServiceAccount {
            id: calsync_core::domain::ServiceAccountId::generate(),
            application_id: application.id.clone(),
            account_id: account.clone(),
            provider: ProviderName::Exchange,
            email: "svc@corp.example".into(),
            server_url: Some("https://mail.corp.example/EWS/Exchange.asmx".into()),
            delegated_scopes: Scopes::parse("read_events").unwrap(),
            created_at: self.now(),
            updated_at: self.now(),
        };
        let credentials = Credentials::ServiceAccount {
            provider: ProviderName::Exchange,
            principal: "svc@corp.example".into(),
            secret: "svc-password".into(),
            username: None,
            tenant: None,
        };
        let sealed = self.state.vault.seal_service_account(&service_account.id, &credentials).unwrap();
        store.create_service_account(&service_account, &sealed).await.unwrap();
        // A push channel at the provider for the calendar.
        store
            .put_watch(&calsync_core::store::ProviderWatch {
                channel_id: "channel-ada".into(),
                calendar_id: calendar.id.clone(),
                account_id: account.clone(),
                resource_id: "resource-ada".into(),
                token_hash: token_hash("channel-token"),
                expires_at: self.now() + chrono::Duration::days(7),
                created_at: self.now(),
                last_notified_at: None,
            })
            .await
            .unwrap();
        EndUserEverywhere { application, access_token, account, profile, calendar, receiver }
    }
}
