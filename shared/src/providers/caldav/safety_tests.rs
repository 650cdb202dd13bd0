//! Hostile and quirky responses (reliability-security.md R38): each attack is refused quickly,
//! without expanding anything or contacting anyone, and the quirks map to the right error.

use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::errors::{Purpose, classify};
use super::xml::{Ns, XmlError, read_document};
use super::{CalDavClient, CalDavError, MAX_BODY_BYTES, Policy, parse_multistatus};

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<D:multistatus xmlns:D="DAV:"><D:response><D:href>&lol9;</D:href></D:response></D:multistatus>"#;

fn assert_fast<T>(started: Instant, result: T) -> T {
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    result
}

#[test]
fn a_billion_laughs_response_is_refused_at_its_doctype() {
    let started = Instant::now();
    let result = assert_fast(started, parse_multistatus(BILLION_LAUGHS.as_bytes()));
    assert_eq!(result, Err(XmlError::DocType));
}

#[test]
fn an_entity_reference_without_a_doctype_is_refused_not_expanded() {
    let body = r#"<D:multistatus xmlns:D="DAV:"><D:response><D:href>&lol9;</D:href></D:response></D:multistatus>"#;
    assert_eq!(parse_multistatus(body.as_bytes()), Err(XmlError::UndefinedEntity("lol9".into())));
}

#[tokio::test]
async fn an_xxe_response_is_refused_and_fetches_nothing() {
    // A listener the external entity points at: it must never see a connection.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    for system_id in ["file:///etc/passwd".to_owned(), format!("http://127.0.0.1:{port}/")] {
        let body = format!(
            r#"<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "{system_id}">]><D:multistatus xmlns:D="DAV:"><D:response><D:href>&xxe;</D:href></D:response></D:multistatus>"#
        );
        let started = Instant::now();
        assert_eq!(assert_fast(started, parse_multistatus(body.as_bytes())), Err(XmlError::DocType));
    }
    let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
    assert!(accepted.is_err(), "the parser contacted the entity's URL");
}

#[test]
fn ten_thousand_nested_elements_are_refused_at_the_depth_cap() {
    let body = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let started = Instant::now();
    let result = assert_fast(started, read_document(body.as_bytes(), |_| {}));
    assert_eq!(result, Err(XmlError::TooDeep { limit: 64 }));
}

/// Serves one response: a 207 header (with a Content-Length when `declare_length`) followed by
/// 50 MB of XML, and reports how many body bytes it managed to write before the client hung up.
async fn serve_fifty_megabytes(declare_length: bool) -> (String, tokio::task::JoinHandle<usize>) {
    const TOTAL: usize = 50 * 1024 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else { return 0 };
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let length = if declare_length { format!("Content-Length: {TOTAL}\r\n") } else { String::new() };
        let head =
            format!("HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\n{length}Connection: close\r\n\r\n");
        if socket.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = "<D:x xmlns:D=\"DAV:\"/>".repeat(3_000);
        let mut written = 0;
        while written < TOTAL {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            written += chunk.len();
        }
        written
    });
    (url, server)
}

#[tokio::test]
async fn a_fifty_megabyte_response_is_abandoned_at_the_size_cap() {
    for declare_length in [true, false] {
        let (url, server) = serve_fifty_megabytes(declare_length).await;
        let client = CalDavClient::new(&url, "user", "secret", Policy::local()).expect("client");
        let started = Instant::now();
        let result = client.ctag("/").await;
        assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
        assert_eq!(result, Err(CalDavError::Malformed(format!("the response body exceeds {MAX_BODY_BYTES} bytes"))));
        let written = server.await.expect("server task");
        assert!(written < 50 * 1024 * 1024, "the client read the whole body ({written} bytes)");
    }
}

#[test]
fn a_normal_multistatus_is_read_by_namespace_whatever_the_prefixes() {
    let body = r#"<?xml version='1.0' encoding='utf-8'?>
<ns0:multistatus xmlns:ns0="DAV:" xmlns:ns1="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/">
  <ns0:response><ns0:href>/u/cal/a%40b.ics</ns0:href>
    <ns0:propstat><ns0:status>HTTP/1.1 200 OK</ns0:status><ns0:prop>
      <ns0:getetag>"e1"</ns0:getetag>
      <ns1:calendar-data>BEGIN:VCALENDAR&#13;
SUMMARY:Fish &amp; chips<![CDATA[ <raw> ]]>&#13;
END:VCALENDAR</ns1:calendar-data>
    </ns0:prop></ns0:propstat>
    <ns0:propstat><ns0:status>HTTP/1.1 404 Not Found</ns0:status><ns0:prop><cs:getctag/></ns0:prop></ns0:propstat>
  </ns0:response>
  <ns0:response><ns0:href>/u/cal/gone.ics</ns0:href><ns0:status>HTTP/1.1 404 Not Found</ns0:status></ns0:response>
  <ns0:sync-token>http://example/sync/7</ns0:sync-token>
</ns0:multistatus>"#;
    let status = parse_multistatus(body.as_bytes()).expect("parses");
    assert_eq!(status.sync_token.as_deref(), Some("http://example/sync/7"));
    assert_eq!(status.responses.len(), 2);
    let first = &status.responses[0];
    assert_eq!(first.href(), Some("/u/cal/a%40b.ics"));
    assert_eq!(first.prop_text(Ns::Dav, "getetag").as_deref(), Some("\"e1\""));
    assert_eq!(
        first.prop(Ns::CalDav, "calendar-data").map(|e| e.text.as_str()),
        Some("BEGIN:VCALENDAR\r\nSUMMARY:Fish & chips <raw> \r\nEND:VCALENDAR")
    );
    // A property reported under 404 is absent, not empty.
    assert_eq!(first.prop(Ns::CalendarServer, "getctag"), None);
    assert_eq!(status.responses[1].status, Some(404));
    assert_eq!(status.responses[1].propstats, vec![]);
}

#[test]
fn a_document_that_is_not_a_multistatus_is_malformed() {
    let body = r#"<D:error xmlns:D="DAV:"><D:valid-sync-token/></D:error>"#;
    assert_eq!(
        parse_multistatus(body.as_bytes()),
        Err(XmlError::UnexpectedRoot { expected: "multistatus", found: "error".into() })
    );
}

#[test]
fn sync_token_refusals_map_to_sync_token_invalid_whatever_the_status() {
    let headers = HeaderMap::new();
    let radicale = br#"<?xml version='1.0' encoding='utf-8'?><error xmlns="DAV:"><valid-sync-token /></error>"#;
    for code in [403, 409, 410, 412] {
        let status = StatusCode::from_u16(code).expect("status");
        assert_eq!(classify(status, &headers, b"", Purpose::SyncCollection), CalDavError::SyncTokenInvalid);
    }
    // Detected by the error element even under an unexpected status.
    assert_eq!(
        classify(StatusCode::BAD_REQUEST, &headers, radicale, Purpose::SyncCollection),
        CalDavError::SyncTokenInvalid
    );
    assert_eq!(
        classify(StatusCode::BAD_REQUEST, &headers, radicale, Purpose::Other),
        CalDavError::Permanent(400, "Bad Request".into())
    );
}

#[test]
fn statuses_are_classified_for_the_sync_engine() {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("120"));
    let classify = |code: u16, purpose| classify(StatusCode::from_u16(code).expect("status"), &headers, b"", purpose);
    assert_eq!(
        classify(429, Purpose::Other),
        CalDavError::Transient { retry_after: Some(Duration::from_secs(120)), reason: "HTTP 429".into() }
    );
    assert_eq!(
        classify(503, Purpose::Other),
        CalDavError::Transient { retry_after: Some(Duration::from_secs(120)), reason: "HTTP 503".into() }
    );
    assert_eq!(classify(401, Purpose::Other), CalDavError::AuthFailed);
    assert_eq!(classify(403, Purpose::Discovery), CalDavError::AuthFailed);
    assert_eq!(classify(403, Purpose::Other), CalDavError::Permanent(403, "Forbidden".into()));
    assert_eq!(classify(404, Purpose::Other), CalDavError::NotFound);
    assert_eq!(classify(412, Purpose::Write), CalDavError::PreconditionFailed);
}

#[test]
fn plain_http_is_refused_unless_the_policy_allows_it() {
    assert_eq!(
        CalDavClient::new("http://calendar.example/", "u", "p", Policy::default()).err(),
        Some(CalDavError::Refused("plain HTTP is not allowed; use https".into()))
    );
    assert!(CalDavClient::new("http://127.0.0.1:1/", "u", "p", Policy::local()).is_ok());
    assert_eq!(
        CalDavClient::new("https://u:p@calendar.example/", "u", "p", Policy::default()).err(),
        Some(CalDavError::Refused("the server URL must not embed credentials".into()))
    );
}

#[tokio::test]
async fn outside_local_mode_servers_on_non_public_addresses_are_refused_before_and_after_resolution() {
    let refused = Some(CalDavError::Refused("the server's address is not on the public internet".into()));
    for url in ["https://169.254.169.254/", "https://[::ffff:127.0.0.1]/", "https://10.0.0.1/", "https://2130706433/"] {
        assert_eq!(CalDavClient::new(url, "u", "p", Policy::production()).err(), refused, "{url}");
    }
    // A name is checked where the connection is made: `localhost` resolves to loopback only.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let client =
        CalDavClient::new(&format!("https://localhost:{port}/"), "u", "p", Policy::production()).expect("client");
    assert_eq!(client.ctag("/cal/").await.err(), refused);
    // An href the server sends is held to the same rule.
    let public = CalDavClient::new("https://calendar.example/", "u", "p", Policy::production()).expect("client");
    assert_eq!(public.ctag("https://169.254.169.254/cal/").await.err(), refused);
}

#[tokio::test]
async fn a_server_that_is_not_listening_is_a_transient_failure() {
    // Bind then drop a listener so the port is known to be closed.
    let port = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("addr").port();
    let client = CalDavClient::new(&format!("http://127.0.0.1:{port}/"), "u", "p", Policy::local()).expect("client");
    assert_eq!(
        client.ctag("/cal/").await,
        Err(CalDavError::Transient { retry_after: None, reason: "could not connect".into() })
    );
}
