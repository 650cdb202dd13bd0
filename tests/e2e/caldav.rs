//! The CalDAV client against real Radicale and Xandikos servers (started by infra/caldav.sh):
//! every test runs on both, since their status codes and href spellings differ.

use calsync_core::providers::caldav::{CalDavClient, CalDavError, Precondition};
use calsync_tests::caldav::{Server, event, fresh_calendar};
use calsync_tests::fixtures::at;

macro_rules! caldav_on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod radicale {
            $(#[tokio::test] async fn $name() { super::$name(calsync_tests::caldav::Server::Radicale).await })*
        }
        mod xandikos {
            $(#[tokio::test] async fn $name() { super::$name(calsync_tests::caldav::Server::Xandikos).await })*
        }
    };
}

caldav_on_both_servers!(
    discovery_finds_the_principal_and_calendar_home_set,
    a_new_calendar_is_listed_with_its_ctag_and_sync_token,
    sync_collection_reports_creations_updates_and_deletions_and_multiget_fetches_them,
    a_stale_if_match_or_an_existing_resource_is_a_precondition_failure,
    an_invalid_sync_token_is_reported_as_sync_token_invalid,
    calendar_query_returns_only_resources_overlapping_the_window,
    multiget_reports_hrefs_without_data_as_missing,
    list_etags_matches_the_etags_sync_collection_reports,
    deleting_a_resource_that_is_already_gone_succeeds,
);

async fn put_new(client: &CalDavClient, calendar: &str, uid: &str, start: &str, end: &str) -> String {
    let ics = event(uid, &format!("Event {uid}"), start, end);
    client.put(calendar, &format!("{uid}.ics"), &ics, Precondition::Create).await.expect("PUT").href
}

async fn etag_of(client: &CalDavClient, calendar: &str, href: &str) -> String {
    let listed = client.list_etags(calendar).await.expect("list etags");
    listed.into_iter().find(|(h, _)| h == href).map(|(_, etag)| etag).expect("the resource is listed")
}

fn sorted(mut hrefs: Vec<String>) -> Vec<String> {
    hrefs.sort();
    hrefs
}

async fn discovery_finds_the_principal_and_calendar_home_set(server: Server) {
    let client = server.client();
    let found = client.discover().await.expect("discovery");
    assert_eq!(found.principal.path(), server.principal_path());
    assert_eq!(found.home_set.path(), server.home_set_path());
}

async fn a_new_calendar_is_listed_with_its_ctag_and_sync_token(server: Server) {
    let client = server.client();
    let home = client.discover().await.expect("discovery").home_set;
    let calendar = fresh_calendar(server, &client).await;
    let listed = client.list_calendars(home.as_str()).await.expect("list calendars");
    let found = listed.iter().find(|c| c.href == calendar).expect("the new calendar is listed");
    assert_eq!(found.display_name.as_deref(), Some("Test calendar"));
    assert!(found.ctag.as_deref().is_some_and(|t| !t.is_empty()), "ctag: {:?}", found.ctag);
    assert!(found.sync_token.as_deref().is_some_and(|t| !t.is_empty()), "sync-token: {:?}", found.sync_token);
    assert!(!found.read_only);
    // The ctag short-circuit reads the same value.
    assert_eq!(client.ctag(&calendar).await.expect("ctag"), found.ctag);
}

async fn sync_collection_reports_creations_updates_and_deletions_and_multiget_fetches_them(server: Server) {
    let client = server.client();
    let calendar = fresh_calendar(server, &client).await;
    let a = put_new(&client, &calendar, "a", "20260510T090000Z", "20260510T100000Z").await;
    let b = put_new(&client, &calendar, "b", "20260511T090000Z", "20260511T100000Z").await;
    let c = put_new(&client, &calendar, "c", "20260512T090000Z", "20260512T100000Z").await;

    // A full listing names the three, and multiget returns their text.
    let first = client.sync_collection(&calendar, None).await.expect("initial sync");
    let hrefs: Vec<String> = first.changed.iter().map(|(h, _)| h.clone()).collect();
    assert_eq!(sorted(hrefs.clone()), sorted(vec![a.clone(), b.clone(), c.clone()]));
    assert_eq!(first.deleted, Vec::<String>::new());
    let fetched = client.multiget(&calendar, &hrefs).await.expect("multiget");
    assert_eq!(fetched.missing, Vec::<String>::new());
    assert_eq!(fetched.resources.len(), 3);
    for resource in &fetched.resources {
        let uid = resource.href.trim_end_matches(".ics").rsplit('/').next().expect("segment");
        assert!(resource.ics.contains(&format!("UID:{uid}")), "{} lacks its UID", resource.href);
        let listed_etag = first.changed.iter().find(|(h, _)| *h == resource.href).map(|(_, e)| e.clone());
        assert_eq!(resource.etag, listed_etag);
    }

    // Nothing changed: one request, nothing listed.
    let before = client.requests_sent();
    let idle = client.sync_collection(&calendar, Some(&first.new_token)).await.expect("idle sync");
    assert_eq!(client.requests_sent() - before, 1);
    assert_eq!((idle.changed.len(), idle.deleted.len()), (0, 0));

    // An update under the current ETag shows up alone, with a new ETag.
    let old_etag = etag_of(&client, &calendar, &b).await;
    let updated = event("b", "Renamed", "20260511T090000Z", "20260511T110000Z");
    client.put(&calendar, "b.ics", &updated, Precondition::Update(old_etag.clone())).await.expect("update");
    let after_update = client.sync_collection(&calendar, Some(&idle.new_token)).await.expect("sync after update");
    assert_eq!(after_update.changed.iter().map(|(h, _)| h.clone()).collect::<Vec<_>>(), vec![b.clone()]);
    assert_ne!(after_update.changed[0].1, old_etag);
    assert_eq!(after_update.deleted, Vec::<String>::new());

    // A deletion shows up as deleted.
    client.delete(&c, None).await.expect("delete");
    let after_delete =
        client.sync_collection(&calendar, Some(&after_update.new_token)).await.expect("sync after delete");
    assert_eq!(after_delete.changed, Vec::<(String, String)>::new());
    assert_eq!(after_delete.deleted, vec![c.clone()]);
}

async fn a_stale_if_match_or_an_existing_resource_is_a_precondition_failure(server: Server) {
    let client = server.client();
    let calendar = fresh_calendar(server, &client).await;
    let href = put_new(&client, &calendar, "p", "20260510T090000Z", "20260510T100000Z").await;
    let ics = event("p", "Changed elsewhere", "20260510T090000Z", "20260510T100000Z");

    let stale = client.put(&calendar, "p.ics", &ics, Precondition::Update("\"not-the-etag\"".into())).await;
    assert_eq!(stale, Err(CalDavError::PreconditionFailed));
    let exists = client.put(&calendar, "p.ics", &ics, Precondition::Create).await;
    assert_eq!(exists, Err(CalDavError::PreconditionFailed));
    assert_eq!(client.delete(&href, Some("\"not-the-etag\"")).await, Err(CalDavError::PreconditionFailed));

    // Nothing was written: the resource still has its original text.
    let fetched = client.multiget(&calendar, std::slice::from_ref(&href)).await.expect("multiget");
    assert!(fetched.resources[0].ics.contains("SUMMARY:Event p"));
}

async fn an_invalid_sync_token_is_reported_as_sync_token_invalid(server: Server) {
    let client = server.client();
    let calendar = fresh_calendar(server, &client).await;
    let result = client.sync_collection(&calendar, Some("http://calsync.invalid/sync/1")).await;
    assert_eq!(result, Err(CalDavError::SyncTokenInvalid));
}

async fn calendar_query_returns_only_resources_overlapping_the_window(server: Server) {
    let client = server.client();
    let calendar = fresh_calendar(server, &client).await;
    put_new(&client, &calendar, "before", "20260501T080000Z", "20260501T090000Z").await;
    let overlapping = put_new(&client, &calendar, "overlap", "20260501T093000Z", "20260501T103000Z").await;
    let inside = put_new(&client, &calendar, "inside", "20260501T110000Z", "20260501T113000Z").await;
    put_new(&client, &calendar, "after", "20260501T120000Z", "20260501T130000Z").await;

    let found = client
        .calendar_query(&calendar, at("2026-05-01T10:00:00Z"), at("2026-05-01T12:00:00Z"))
        .await
        .expect("calendar-query");
    let hrefs: Vec<String> = found.iter().map(|r| r.href.clone()).collect();
    assert_eq!(sorted(hrefs), sorted(vec![overlapping, inside]));
    assert!(found.iter().all(|r| r.ics.contains("BEGIN:VEVENT") && r.etag.is_some()));
}

async fn multiget_reports_hrefs_without_data_as_missing(server: Server) {
    let client = server.client();
    let calendar = fresh_calendar(server, &client).await;
    let present = put_new(&client, &calendar, "present", "20260510T090000Z", "20260510T100000Z").await;
    let absent = format!("{calendar}absent.ics");
    let fetched = client.multiget(&calendar, &[present.clone(), absent.clone()]).await.expect("multiget");
    assert_eq!(fetched.resources.iter().map(|r| r.href.clone()).collect::<Vec<_>>(), vec![present]);
    assert_eq!(fetched.missing, vec![absent]);
}

async fn list_etags_matches_the_etags_sync_collection_reports(server: Server) {
    let client = server.client();
    let calendar = fresh_calendar(server, &client).await;
    put_new(&client, &calendar, "x", "20260510T090000Z", "20260510T100000Z").await;
    put_new(&client, &calendar, "y", "20260511T090000Z", "20260511T100000Z").await;
    let mut listed = client.list_etags(&calendar).await.expect("list etags");
    let mut synced = client.sync_collection(&calendar, None).await.expect("sync").changed;
    listed.sort();
    synced.sort();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed, synced);
}

async fn deleting_a_resource_that_is_already_gone_succeeds(server: Server) {
    let client = server.client();
    let calendar = fresh_calendar(server, &client).await;
    let href = put_new(&client, &calendar, "d", "20260510T090000Z", "20260510T100000Z").await;
    client.delete(&href, None).await.expect("first delete");
    assert_eq!(client.delete(&href, None).await, Ok(()));
    assert_eq!(client.list_etags(&calendar).await.expect("list"), Vec::<(String, String)>::new());
}

#[tokio::test]
async fn radicale_rejects_a_wrong_password_as_auth_failed() {
    let client = Server::Radicale.client_with_password("wrong-password");
    assert_eq!(client.discover().await, Err(CalDavError::AuthFailed));
    let calendar = format!("{}anything/", Server::Radicale.home_set_path());
    assert_eq!(client.sync_collection(&calendar, None).await, Err(CalDavError::AuthFailed));
}
