//! Discovery (RFC 4791 §6, RFC 5397, RFC 6764): from the URL the user gave to the principal and
//! its calendar home set.
//!
//! The given URL is asked for `current-user-principal` first (iCloud only works that way,
//! providers.md §4.1); when it names none, `/.well-known/caldav` on the same origin is tried,
//! following its redirect by hand (same origin only, so the password never leaves it); when
//! that fails too, the given URL itself is taken as the principal, as vdirsyncer does.

use http::Method;
use url::Url;

use super::client::CalDavClient;
use super::dav::Depth;
use super::errors::{CalDavError, Purpose, classify};
use super::xml::Ns;

/// Redirect hops followed from `/.well-known/caldav` (Radicale and Xandikos need one).
const MAX_WELL_KNOWN_REDIRECTS: usize = 3;

/// Where an account's calendars live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    pub principal: Url,
    pub home_set: Url,
}

impl CalDavClient {
    /// Finds the principal and the calendar home set.
    #[tracing::instrument(skip_all)]
    pub async fn discover(&self) -> Result<Discovery, CalDavError> {
        let base = self.base_url().clone();
        let principal = match self.current_user_principal(&base).await? {
            Some(principal) => principal,
            None => match self.well_known().await? {
                Some(context) => self.current_user_principal(&context).await?.unwrap_or(base),
                None => base,
            },
        };
        let body = propfind_body(r#"<C:calendar-home-set/>"#);
        let status = self.propfind(&principal, Depth::Zero, body, Purpose::Discovery).await?;
        let home = status
            .responses
            .iter()
            .find_map(|r| r.prop_href(Ns::CalDav, "calendar-home-set"))
            .ok_or_else(|| CalDavError::Malformed("the principal has no calendar-home-set".into()))?;
        Ok(Discovery { home_set: self.resolve_collection(&home)?, principal })
    }

    /// The principal `url` reports, `None` when it reports none or is not a DAV resource.
    async fn current_user_principal(&self, url: &Url) -> Result<Option<Url>, CalDavError> {
        let body = propfind_body("<D:current-user-principal/>");
        match self.propfind(url, Depth::Zero, body, Purpose::Discovery).await {
            Ok(status) => {
                let href = status.responses.iter().find_map(|r| r.prop_href(Ns::Dav, "current-user-principal"));
                href.map(|h| self.resolve_collection(&h)).transpose()
            }
            Err(CalDavError::NotFound | CalDavError::Permanent(..) | CalDavError::Malformed(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The context path `/.well-known/caldav` redirects to on the same origin, if any.
    async fn well_known(&self) -> Result<Option<Url>, CalDavError> {
        let mut url = self.resolve("/.well-known/caldav")?;
        for _ in 0..MAX_WELL_KNOWN_REDIRECTS {
            let reply = self.send(Method::GET, &url, &[], None).await?;
            if !reply.status.is_redirection() {
                if reply.status.is_success() {
                    return Ok(Some(url));
                }
                return match classify(reply.status, &reply.headers, &reply.body, Purpose::Discovery) {
                    error @ (CalDavError::AuthFailed | CalDavError::Transient { .. }) => Err(error),
                    _ => Ok(None),
                };
            }
            let Some(location) = reply.headers.get(http::header::LOCATION).and_then(|v| v.to_str().ok()) else {
                return Ok(None);
            };
            let next =
                url.join(location).map_err(|_| CalDavError::Malformed("a redirect Location is invalid".into()))?;
            if next.origin() != self.base_url().origin() {
                return Err(CalDavError::Refused("the well-known URL redirects to another origin".into()));
            }
            url = next;
        }
        Ok(None)
    }
}

/// A PROPFIND body asking for `props` (which may use the `D:`, `C:`, `CS:` and `A:` prefixes).
pub(crate) fn propfind_body(props: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:A="http://apple.com/ns/ical/"><D:prop>{props}</D:prop></D:propfind>"#
    )
}
