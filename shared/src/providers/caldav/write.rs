//! Conditional writes: PUT with `If-None-Match: *` (create) or `If-Match` (update), and DELETE,
//! so a write never silently overwrites a change made on the server in the meantime.

use http::{HeaderName, Method};

use super::client::{CalDavClient, encode_segment};
use super::errors::{CalDavError, Purpose, classify};

const ICALENDAR: &str = "text/calendar; charset=utf-8";

/// The condition a PUT is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Only if no resource exists at the href (`If-None-Match: *`).
    Create,
    /// Only if the resource still has this ETag (`If-Match`).
    Update(String),
}

/// Where a PUT stored the resource, and its new ETag when the server sent one (servers that
/// rewrite the data on store may omit it; list or multiget to learn it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    pub href: String,
    pub etag: Option<String>,
}

impl CalDavClient {
    /// The href a member `name` of `calendar_href` has, the one `put` writes to.
    pub fn member_href(&self, calendar_href: &str, name: &str) -> Result<String, CalDavError> {
        Ok(self.member_url(calendar_href, name)?.path().to_owned())
    }

    fn member_url(&self, calendar_href: &str, name: &str) -> Result<url::Url, CalDavError> {
        if name.is_empty() || name == "." || name == ".." {
            return Err(CalDavError::Refused("the resource name is empty or a dot segment".into()));
        }
        self.resolve_collection(calendar_href)?
            .join(&encode_segment(name))
            .map_err(|_| CalDavError::Refused("the resource name does not form a valid URL".into()))
    }

    /// Stores `ics` as the member `name` (e.g. `<uid>.ics`) of `calendar_href`.
    #[tracing::instrument(skip_all)]
    pub async fn put(
        &self,
        calendar_href: &str,
        name: &str,
        ics: &str,
        precondition: Precondition,
    ) -> Result<PutOutcome, CalDavError> {
        let url = self.member_url(calendar_href, name)?;
        let condition = match &precondition {
            Precondition::Create => (HeaderName::from_static("if-none-match"), "*"),
            Precondition::Update(etag) => (HeaderName::from_static("if-match"), etag.as_str()),
        };
        let reply = self.send(Method::PUT, &url, &[condition], Some((ICALENDAR, ics.to_owned()))).await?;
        if !reply.status.is_success() {
            return Err(classify(reply.status, &reply.headers, &reply.body, Purpose::Write));
        }
        let etag = reply.headers.get(http::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(PutOutcome { href: url.path().to_owned(), etag })
    }

    /// Deletes a member, only if it still has `etag` when one is given. A member that is already
    /// gone counts as deleted.
    #[tracing::instrument(skip_all)]
    pub async fn delete(&self, href: &str, etag: Option<&str>) -> Result<(), CalDavError> {
        let url = self.resolve(href)?;
        let condition: Vec<(HeaderName, &str)> =
            etag.map(|e| (HeaderName::from_static("if-match"), e)).into_iter().collect();
        let reply = self.send(Method::DELETE, &url, &condition, None).await?;
        if reply.status.is_success() || reply.status.as_u16() == 404 {
            return Ok(());
        }
        Err(classify(reply.status, &reply.headers, &reply.body, Purpose::Write))
    }
}
