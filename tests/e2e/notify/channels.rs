//! The channels API: create (with its `verification` notification, signed so both SDKs accept
//! it), list, close, and the checks on what is asked.

use calsync_core::domain::{Channel, ChannelFilters, ChannelId};
use calsync_core::jobs::JobOutcome;
use calsync_tests::api::TestApi;
use calsync_tests::receiver::Receiver;
use serde_json::json;

use super::{deliver_queued, open_channel, sdks_accept};
use crate::api::api_on_both_backends;

api_on_both_backends!(
    a_channel_is_opened_verified_listed_and_closed,
    channel_requests_are_checked_and_refused_ones_store_nothing,
);

async fn a_channel_is_opened_verified_listed_and_closed(api: &TestApi) {
    let (app, secret) = api.application("Notified").await;
    let who = api.authorized(&app, "read_events").await;
    let receiver = Receiver::start(&[]).await;

    // Opened: the channel comes back, and a verification notification follows.
    let filters = json!({"calendar_ids": [who.calendar.id], "only_managed": false});
    let body = open_channel(api, &who, &receiver.url, filters.clone()).await;
    let channel_id = body["channel"]["channel_id"].as_str().expect("a channel id").to_owned();
    assert!(channel_id.starts_with("chn_"));
    let channel = json!({"channel_id": channel_id, "callback_url": receiver.url, "filters": filters});
    assert_eq!(body, json!({ "channel": channel }));
    let delivered = deliver_queued(api).await;
    assert_eq!(delivered.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>(), vec![JobOutcome::Done]);
    assert_eq!(receiver.bodies(), vec![json!({"notification": {"type": "verification"}, "channel": channel})]);
    let received = &receiver.received()[0];
    assert_eq!(received.content_type.as_deref(), Some("application/json; charset=utf-8"));
    let signature = received.signature.as_deref().expect("a signature header");
    assert_eq!(sdks_accept(&secret, signature, &received.body), (true, true));
    assert_eq!(sdks_accept("cs_not-the-secret", signature, &received.body), (false, false));

    // Listed for its application only.
    let (status, listed) = api.get("/v1/channels", &who.access_token).await;
    assert_eq!(status, 200);
    assert_eq!(listed, json!({ "channels": [channel] }));
    let (other_app, _) = api.application("Other").await;
    let other = api.authorized(&other_app, "read_events").await;
    assert_eq!(api.get("/v1/channels", &other.access_token).await.1, json!({"channels": []}));

    // Closed by its own application; anyone else's attempt, or a second one, is a 404.
    let path = format!("/v1/channels/{channel_id}");
    assert_eq!(api.delete(&path, &other.access_token, json!({})).await.0, 404);
    assert_eq!(api.delete(&path, &who.access_token, json!({})).await.0, 202);
    assert_eq!(api.delete(&path, &who.access_token, json!({})).await.0, 404);
    assert_eq!(api.get("/v1/channels", &who.access_token).await.1, json!({"channels": []}));
    let id = ChannelId::parse(&channel_id).unwrap();
    assert_eq!(api.state.store.channel_close_reason(&id).await.unwrap().as_deref(), Some("closed by the application"));
}

async fn channel_requests_are_checked_and_refused_ones_store_nothing(api: &TestApi) {
    let (app, _) = api.application("Notified").await;
    let who = api.authorized(&app, "read_events").await;
    let long = format!("https://hooks.example/{}", "x".repeat(120));
    let cases = [
        (json!({}), "callback_url", "errors.required"),
        (json!({"callback_url": 42}), "callback_url", "errors.invalid_type"),
        (json!({"callback_url": "not a url"}), "callback_url", "errors.invalid"),
        (json!({"callback_url": long}), "callback_url", "errors.invalid"),
        (json!({"callback_url": "ftp://hooks.example/x"}), "callback_url", "errors.invalid"),
        (json!({"callback_url": "https://user:pw@hooks.example/x"}), "callback_url", "errors.invalid"),
        (
            json!({"callback_url": "http://127.0.0.1:9/", "filters": {"calendar_ids": []}}),
            "filters.calendar_ids",
            "errors.invalid",
        ),
        (
            json!({"callback_url": "http://127.0.0.1:9/", "filters": {"calendar_ids": ["cal_unknown0000000000000000"]}}),
            "filters.calendar_ids",
            "errors.not_found",
        ),
        (
            json!({"callback_url": "http://127.0.0.1:9/", "filters": {"only_managed": "yes"}}),
            "filters.only_managed",
            "errors.invalid_type",
        ),
        (json!({"callback_url": "http://127.0.0.1:9/", "filters": []}), "filters", "errors.invalid_type"),
    ];
    for (body, field, key) in cases {
        let (status, reply) = api.post("/v1/channels", Some(&who.access_token), body.clone()).await;
        assert_eq!(status, 422, "{body}: {reply}");
        assert_eq!(reply["errors"][field][0]["key"], json!(key), "{body}: {reply}");
    }
    // Another account's calendar is as unknown as a made-up one.
    let other = api.authorized(&app, "read_events").await;
    let foreign = json!({"callback_url": "http://127.0.0.1:9/", "filters": {"calendar_ids": [other.calendar.id]}});
    assert_eq!(api.post("/v1/channels", Some(&who.access_token), foreign).await.0, 422);
    assert_eq!(api.state.store.count_account_channels(&who.account.id).await.unwrap(), 0);
    assert!(deliver_queued(api).await.is_empty());

    // An account has at most 128 open channels.
    for _ in 0..128 {
        let channel = Channel {
            id: ChannelId::generate(),
            application_id: app.id.clone(),
            account_id: who.account.id.clone(),
            callback_url: "http://127.0.0.1:9/".into(),
            filters: ChannelFilters::default(),
            created_at: api.now(),
            closed_at: None,
        };
        api.state.store.create_channel(&channel).await.unwrap();
    }
    let (status, reply) =
        api.post("/v1/channels", Some(&who.access_token), json!({"callback_url": "http://127.0.0.1:9/"})).await;
    assert_eq!(status, 422, "{reply}");
    assert_eq!(api.state.store.count_account_channels(&who.account.id).await.unwrap(), 128);
}
