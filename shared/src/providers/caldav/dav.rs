//! The two WebDAV requests everything else is built from, PROPFIND and REPORT, each expecting a
//! `207 Multi-Status` and classifying anything else.

use http::{HeaderName, Method};
use url::Url;

use super::client::{CalDavClient, XML};
use super::errors::{CalDavError, Purpose, classify};
use super::multistatus::{Multistatus, parse_multistatus};

/// The `Depth` header of a PROPFIND or REPORT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Depth {
    Zero,
    One,
}

impl Depth {
    fn header(self) -> &'static str {
        match self {
            Depth::Zero => "0",
            Depth::One => "1",
        }
    }
}

impl CalDavClient {
    pub(crate) async fn propfind(
        &self,
        url: &Url,
        depth: Depth,
        body: String,
        purpose: Purpose,
    ) -> Result<Multistatus, CalDavError> {
        self.multistatus(Method::from_bytes(b"PROPFIND").map_err(|_| method_error())?, url, depth, body, purpose).await
    }

    pub(crate) async fn report(
        &self,
        url: &Url,
        depth: Depth,
        body: String,
        purpose: Purpose,
    ) -> Result<Multistatus, CalDavError> {
        self.multistatus(Method::from_bytes(b"REPORT").map_err(|_| method_error())?, url, depth, body, purpose).await
    }

    async fn multistatus(
        &self,
        method: Method,
        url: &Url,
        depth: Depth,
        body: String,
        purpose: Purpose,
    ) -> Result<Multistatus, CalDavError> {
        let depth_header = HeaderName::from_static("depth");
        let reply = self.send(method, url, &[(depth_header, depth.header())], Some((XML, body))).await?;
        if reply.status.as_u16() != 207 {
            // A 200 is not a multistatus either: some servers answer unknown methods with a page.
            if reply.status.is_success() {
                return Err(CalDavError::Malformed(format!(
                    "expected 207 Multi-Status, got {}",
                    reply.status.as_u16()
                )));
            }
            return Err(classify(reply.status, &reply.headers, &reply.body, purpose));
        }
        Ok(parse_multistatus(&reply.body)?)
    }
}

fn method_error() -> CalDavError {
    CalDavError::Refused("invalid HTTP method".into())
}
