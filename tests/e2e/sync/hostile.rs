//! Bad data from a server, through the whole sync: a scripted CalDAV server (real Radicale and
//! Xandikos refuse to store broken iCalendar) serves one calendar holding a good event beside a
//! broken, an oversized and an ambiguous resource; the bad ones are skipped with their reasons
//! logged and counted, and the rest of the calendar syncs. A response that is hostile as a whole
//! (a billion-laughs DOCTYPE) fails that calendar's sync at once with the failure recorded, and
//! nothing is written.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use axum::{Router, body::Bytes, http::Method, response::IntoResponse};
use calsync_core::domain::{Calendar, CalendarId, Profile, ProfileId, ProfileStatus, ProviderName, ProviderService};
use calsync_core::jobs::JobOutcome;
use calsync_core::sync::sync_calendar_reporting;
use calsync_tests::api::TestApi;
use calsync_tests::db::Backend;
use http::StatusCode;

use super::snapshot;

mod on {
    use calsync_tests::db::Backend;

    #[tokio::test]
    async fn sqlite_broken_resources() {
        super::broken_resources_are_skipped_and_the_rest_of_the_calendar_syncs(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_broken_resources() {
        super::broken_resources_are_skipped_and_the_rest_of_the_calendar_syncs(Backend::Postgres).await;
    }

    #[tokio::test]
    async fn sqlite_hostile_response() {
        super::a_hostile_response_fails_the_calendar_at_once_and_is_recorded(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres_hostile_response() {
        super::a_hostile_response_fails_the_calendar_at_once_and_is_recorded(Backend::Postgres).await;
    }
}

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<D:multistatus xmlns:D="DAV:"><D:response><D:href>&lol9;</D:href></D:response></D:multistatus>"#;

fn vevent(uid: &str, summary: &str, start: &str, end: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260501T100000Z\r\n\
         DTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// What the scripted server's calendar-query answers with.
fn resources() -> Vec<(&'static str, String)> {
    let good = vevent("hostile-good", "Standup", "20260504T090000Z", "20260504T093000Z");
    // Cut off in the middle of its event.
    let broken = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:hostile-broken\r\nDTSTART:2026".to_owned();
    // Three megabytes of description: over the per-resource cap.
    let oversized = vevent("hostile-big", "Big", "20260505T090000Z", "20260505T093000Z")
        .replace("SUMMARY:Big", &format!("SUMMARY:Big\r\nDESCRIPTION:{}", "x".repeat(3 * 1024 * 1024)));
    // Two UIDs in one resource, which RFC 4791 forbids.
    let ambiguous = vevent("hostile-one", "One", "20260506T090000Z", "20260506T093000Z").replace(
        "END:VCALENDAR",
        "BEGIN:VEVENT\r\nUID:hostile-two\r\nDTSTAMP:20260501T100000Z\r\nDTSTART:20260507T090000Z\r\n\
         DTEND:20260507T093000Z\r\nSUMMARY:Two\r\nEND:VEVENT\r\nEND:VCALENDAR",
    );
    vec![("good.ics", good), ("broken.ics", broken), ("big.ics", oversized), ("two.ics", ambiguous)]
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A CalDAV server with one calendar at `/cal/`, answering the requests of a first sync: the
/// change marker, an initial sync-collection and a calendar-query, which is `hostile` or not.
async fn scripted_server(hostile: bool) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let answer = Arc::new(move |method: Method, body: Bytes| {
        let body = String::from_utf8_lossy(&body).into_owned();
        let xml = |text: String| {
            (StatusCode::MULTI_STATUS, [("content-type", "application/xml; charset=utf-8")], text).into_response()
        };
        if method.as_str() == "PROPFIND" {
            return xml(r#"<D:multistatus xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:response><D:href>/cal/</D:href><D:propstat><D:prop><CS:getctag>"c1"</CS:getctag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"#.to_owned());
        }
        if body.contains("sync-collection") {
            return xml(
                r#"<D:multistatus xmlns:D="DAV:"><D:sync-token>http://scripted/sync/1</D:sync-token></D:multistatus>"#
                    .to_owned(),
            );
        }
        if hostile {
            return xml(BILLION_LAUGHS.to_owned());
        }
        let responses: String = resources()
            .into_iter()
            .map(|(name, ics)| {
                format!(
                    r#"<D:response><D:href>/cal/{name}</D:href><D:propstat><D:prop><D:getetag>"{name}"</D:getetag><C:calendar-data>{}</C:calendar-data></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"#,
                    escape(&ics)
                )
            })
            .collect();
        xml(format!(
            r#"<D:multistatus xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">{responses}</D:multistatus>"#
        ))
    });
    let app = Router::new().fallback(move |method: Method, body: Bytes| {
        let answer = answer.clone();
        async move { answer(method, body) }
    });
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, server)
}

/// An account with a CalDAV profile on the scripted server at `url`, and its calendar `/cal/`.
async fn scripted_calendar(api: &TestApi, url: &str) -> Calendar {
    let (app, _) = api.application("Syncer").await;
    let who = api.authorized(&app, "read_events").await;
    let now = api.now();
    let profile = Profile {
        id: ProfileId::generate(),
        provider: ProviderName::CalDav,
        provider_service: ProviderService::CalDav,
        status: ProfileStatus::Active,
        server_url: Some(url.to_owned()),
        ..who.profile.clone()
    };
    api.state.store.create_profile(&profile).await.unwrap();
    let credentials = calsync_core::crypto::Credentials::Password {
        email: "ada@example.com".into(),
        password: "secret".into(),
        username: None,
    };
    let sealed = api.state.vault.seal(&profile.id, &credentials).unwrap();
    api.state.store.put_credentials(&profile.id, &who.account.id, &sealed, now).await.unwrap();
    let calendar = Calendar {
        id: CalendarId::generate(),
        profile_id: profile.id.clone(),
        provider_calendar_id: "/cal/".into(),
        name: "Scripted".into(),
        is_primary: false,
        ..who.calendar.clone()
    };
    api.state.store.upsert_calendar(&calendar).await.unwrap()
}

async fn broken_resources_are_skipped_and_the_rest_of_the_calendar_syncs(backend: Backend) {
    let api = TestApi::new(backend).await;
    let (url, server) = scripted_server(false).await;
    let calendar = scripted_calendar(&api, &url).await;

    let (outcome, report) = sync_calendar_reporting(&api.state, &calendar.id).await.expect("the sync");
    assert_eq!(outcome, JobOutcome::Done);
    assert_eq!((report.changed, report.skipped, report.full_resync), (1, 3, true));
    let (events, state) = snapshot(&api, &calendar).await;
    let summaries: Vec<Option<String>> = events.into_iter().map(|e| e.summary).collect();
    assert_eq!(summaries, vec![Some("Standup".to_owned())]);
    let state = state.expect("a sync state");
    assert_eq!((state.last_error, state.last_success_at), (None, Some(api.now())));

    server.abort();
    api.cleanup().await;
}

async fn a_hostile_response_fails_the_calendar_at_once_and_is_recorded(backend: Backend) {
    let api = TestApi::new(backend).await;
    let (url, server) = scripted_server(true).await;
    let calendar = scripted_calendar(&api, &url).await;

    let started = Instant::now();
    let (outcome, report) = sync_calendar_reporting(&api.state, &calendar.id).await.expect("the sync");
    assert!(started.elapsed() < StdDuration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(outcome, JobOutcome::Skipped("the provider failed permanently; recorded"));
    assert_eq!((report.changed, report.deleted), (0, 0));
    let (events, state) = snapshot(&api, &calendar).await;
    assert!(events.is_empty());
    let state = state.expect("a sync state");
    assert_eq!((state.last_error.as_deref(), state.cursor), (Some("provider_error"), None));
    assert_eq!(state.backoff_until, Some(api.now() + chrono::Duration::hours(1)));

    server.abort();
    api.cleanup().await;
}
