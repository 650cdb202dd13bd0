//! Real CalDAV servers for the CalDAV client tests: Radicale and Xandikos as started by
//! `infra/caldav.sh`, a client per server, a fresh calendar per test, and literal events.

use calsync_core::providers::caldav::{CalDavClient, Policy};

/// The two servers every CalDAV test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    Radicale,
    Xandikos,
}

/// Where a server listens and the account to use on it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    pub username: String,
    pub password: String,
}

fn required(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: start the CalDAV test servers with `eval \"$(infra/caldav.sh)\"` \
             (infra/test.sh does this) and run the tests again"
        ),
    }
}

/// The Radicale account named like an Apple ID, which stands in for iCloud in the tests (the
/// test API's `CALSYNC_ICLOUD_CALDAV_URL` is Radicale's URL): its email and password.
pub fn apple_id() -> (String, String) {
    (required("CALSYNC_TEST_RADICALE_APPLE_ID"), required("CALSYNC_TEST_RADICALE_APPLE_PASSWORD"))
}

impl Server {
    pub fn endpoint(self) -> Endpoint {
        match self {
            Server::Radicale => Endpoint {
                url: required("CALSYNC_TEST_RADICALE_URL"),
                username: required("CALSYNC_TEST_RADICALE_USER"),
                password: required("CALSYNC_TEST_RADICALE_PASSWORD"),
            },
            // Xandikos runs without authentication (its Basic auth needs HTTPS); the client still
            // sends credentials, which it ignores, and its principal is `/calsync/`.
            Server::Xandikos => Endpoint {
                url: required("CALSYNC_TEST_XANDIKOS_URL"),
                username: "calsync".to_owned(),
                password: "unused".to_owned(),
            },
        }
    }

    /// The account's principal path on this server.
    pub fn principal_path(self) -> String {
        format!("/{}/", self.endpoint().username)
    }

    /// The calendar home set path each server reports for that principal.
    pub fn home_set_path(self) -> String {
        match self {
            Server::Radicale => self.principal_path(),
            Server::Xandikos => format!("{}calendars/", self.principal_path()),
        }
    }

    /// A client for the server's account over plain HTTP (loopback only).
    pub fn client(self) -> CalDavClient {
        let endpoint = self.endpoint();
        CalDavClient::new(&endpoint.url, &endpoint.username, &endpoint.password, Policy::local())
            .expect("a client for the local server")
    }

    /// A client with a password the server rejects.
    pub fn client_with_password(self, password: &str) -> CalDavClient {
        let endpoint = self.endpoint();
        CalDavClient::new(&endpoint.url, &endpoint.username, password, Policy::local())
            .expect("a client for the local server")
    }
}

/// Creates a calendar no other test uses and returns its path (ending in `/`).
pub async fn fresh_calendar(server: Server, client: &CalDavClient) -> String {
    let segment = format!("test-{}", uuid::Uuid::new_v4().simple());
    let url = client.make_calendar(&server.home_set_path(), &segment, "Test calendar").await.expect("MKCALENDAR");
    url.path().to_owned()
}

/// A one-off event from `start` to `end` (UTC `YYYYMMDDTHHMMSSZ`), as literal iCalendar text.
pub fn event(uid: &str, summary: &str, start: &str, end: &str) -> String {
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//calsync//tests//EN",
        "BEGIN:VEVENT",
        &format!("UID:{uid}"),
        "DTSTAMP:20260501T100000Z",
        &format!("DTSTART:{start}"),
        &format!("DTEND:{end}"),
        &format!("SUMMARY:{summary}"),
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\r\n")
}
