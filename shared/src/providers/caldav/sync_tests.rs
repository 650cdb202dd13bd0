//! sync-collection truncation (RFC 6578 §3.6), which neither Radicale nor Xandikos produces:
//! a scripted server answers the first round with a 507 for the collection and the second with
//! the rest, and the client must merge both rounds under the final token.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{CalDavClient, Policy};

const ROUND_ONE: &str = r#"<D:multistatus xmlns:D="DAV:">
<D:response><D:href>/cal/a.ics</D:href><D:propstat><D:prop><D:getetag>"a1"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/cal/b.ics</D:href><D:propstat><D:prop><D:getetag>"b1"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:response><D:href>/cal/</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status></D:response>
<D:sync-token>t1</D:sync-token></D:multistatus>"#;

const ROUND_TWO: &str = r#"<D:multistatus xmlns:D="DAV:">
<D:response><D:href>/cal/b.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>
<D:response><D:href>/cal/c%20d.ics</D:href><D:propstat><D:prop><D:getetag>"c1"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
<D:sync-token>t2</D:sync-token></D:multistatus>"#;

/// Answers each request with ROUND_TWO when its body carries token `t1`, else ROUND_ONE, and
/// returns the bodies it received.
async fn scripted_server() -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move {
        let mut bodies = Vec::new();
        for _ in 0..2 {
            let Ok((mut socket, _)) = listener.accept().await else { break };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !String::from_utf8_lossy(&request).contains("</D:sync-collection>") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request).into_owned();
            let answer = if request.contains("<D:sync-token>t1</D:sync-token>") { ROUND_TWO } else { ROUND_ONE };
            bodies.push(request);
            let head = format!(
                "HTTP/1.1 207 Multi-Status\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                answer.len()
            );
            let _ = socket.write_all(head.as_bytes()).await;
            let _ = socket.write_all(answer.as_bytes()).await;
        }
        bodies
    });
    (url, server)
}

#[tokio::test]
async fn a_truncated_sync_collection_is_followed_to_the_end_and_merged() {
    let (url, server) = scripted_server().await;
    let client = CalDavClient::new(&url, "user", "secret", Policy::local()).expect("client");

    let mut result = client.sync_collection("/cal/", Some("t0")).await.expect("sync");
    result.changed.sort();

    assert_eq!(
        result.changed,
        vec![("/cal/a.ics".to_owned(), "\"a1\"".to_owned()), ("/cal/c%20d.ics".to_owned(), "\"c1\"".to_owned())]
    );
    assert_eq!(result.deleted, vec!["/cal/b.ics".to_owned()]);
    assert_eq!(result.new_token, "t2");
    assert_eq!(client.requests_sent(), 2);
    let bodies = server.await.expect("server task");
    assert!(
        bodies[0].contains("<D:sync-token>t0</D:sync-token>") && bodies[0].to_ascii_lowercase().contains("depth: 0")
    );
    assert!(bodies[1].contains("<D:sync-token>t1</D:sync-token>"));
}
