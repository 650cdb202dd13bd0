//! Server-side request forgery (reliability-security.md R37) with a production-strict callback
//! client whose DNS answers the test controls: every address on the list is refused when a
//! channel is registered, and a name that resolved to a public address at registration but to a
//! private one at delivery is refused when the delivery connects, giving the notification up and
//! closing the channel.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use calsync_core::jobs::JobOutcome;
use calsync_core::notify::CallbackClient;
use calsync_tests::api::TestApi;
use calsync_tests::db::Backend;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde_json::json;

use super::deliver_queued;

/// A resolver whose answers the test sets and changes.
#[derive(Debug, Clone, Default)]
struct FlippingResolver {
    answers: Arc<Mutex<HashMap<String, IpAddr>>>,
}

impl FlippingResolver {
    fn set(&self, name: &str, ip: &str) {
        self.answers.lock().unwrap().insert(name.to_owned(), ip.parse().unwrap());
    }
}

impl Resolve for FlippingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let answer = self.answers.lock().unwrap().get(name.as_str()).copied();
        Box::pin(async move {
            let ip = answer.ok_or_else(|| Box::<dyn std::error::Error + Send + Sync>::from("no such name"))?;
            Ok(Box::new(std::iter::once(SocketAddr::new(ip, 443))) as Addrs)
        })
    }
}

mod on {
    use calsync_tests::db::Backend;

    #[tokio::test]
    async fn sqlite() {
        super::private_and_translated_addresses_are_refused_at_registration_and_at_delivery(Backend::Sqlite).await;
    }

    #[tokio::test]
    async fn postgres() {
        super::private_and_translated_addresses_are_refused_at_registration_and_at_delivery(Backend::Postgres).await;
    }
}

async fn private_and_translated_addresses_are_refused_at_registration_and_at_delivery(backend: Backend) {
    let mut api = TestApi::new(backend).await;
    let resolver = FlippingResolver::default();
    resolver.set("hooks.example", "93.184.216.34");
    resolver.set("internal.example", "10.1.2.3");
    resolver.set("metadata.example", "169.254.169.254");
    api.state.callbacks = CallbackClient::strict_with_resolver(Arc::new(resolver.clone())).unwrap();
    let (app, _) = api.application("Notified").await;
    let who = api.authorized(&app, "read_events").await;

    // Registration.
    let refused = [
        "https://169.254.169.254/latest/meta-data/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://10.0.0.1/",
        "https://100.64.0.1/",
        "https://0.0.0.0/",
        "https://[fd00:ec2::254]/",
        "https://[64:ff9b::a9fe:a9fe]/",
        "https://[2002:a9fe:a9fe::]/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0251.0376.0251.0376/",
        "https://internal.example/hook",
        "https://metadata.example/hook",
        "https://unknown.example/hook",
        "http://hooks.example/hook",
    ];
    for url in refused {
        let (status, reply) = api.post("/v1/channels", Some(&who.access_token), json!({"callback_url": url})).await;
        assert_eq!(status, 422, "{url}: {reply}");
        assert_eq!(reply["errors"]["callback_url"][0]["key"], json!("errors.invalid"), "{url}: {reply}");
    }
    assert_eq!(api.state.store.count_account_channels(&who.account.id).await.unwrap(), 0);

    // A public name is accepted; by delivery time it resolves to a private address, and the
    // connection is refused there: the notification is given up and the channel closed.
    let (status, reply) =
        api.post("/v1/channels", Some(&who.access_token), json!({"callback_url": "https://hooks.example/hook"})).await;
    assert_eq!(status, 200, "{reply}");
    resolver.set("hooks.example", "127.0.0.1");
    let outcomes: Vec<JobOutcome> = deliver_queued(&api).await.into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes, vec![JobOutcome::Skipped("delivery given up; channel closed")]);
    let channel_id = reply["channel"]["channel_id"].as_str().unwrap();
    let id = calsync_core::domain::ChannelId::parse(channel_id).unwrap();
    let notifications = api.state.store.list_channel_notifications(&id).await.unwrap();
    assert_eq!(notifications[0].last_status.as_deref(), Some("refused"));
    assert_eq!(
        api.state.store.channel_close_reason(&id).await.unwrap().as_deref(),
        Some("the callback URL leads to an address that is not allowed")
    );
    api.cleanup().await;
}
