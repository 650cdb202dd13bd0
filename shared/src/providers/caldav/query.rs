//! Windowed reads: `calendar-query` with a VEVENT time-range (RFC 4791 §7.8, §9.9) for filling or
//! advancing the sync window, and a Depth 1 ETag listing for mark-and-sweep after a token dies.
//!
//! A time-range matches a resource when any instance overlaps the window, and the server then
//! returns the whole resource (master and overrides); calsync expands recurrences itself.

use chrono::{DateTime, Utc};

use super::client::{CalDavClient, href_key};
use super::dav::Depth;
use super::discovery::propfind_body;
use super::errors::CalDavError;
use super::errors::Purpose;
use super::sync::Resource;
use super::xml::Ns;

impl CalDavClient {
    /// The event resources with an instance overlapping `[start, end)`.
    #[tracing::instrument(skip_all)]
    pub async fn calendar_query(
        &self,
        calendar_href: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<Resource>, CalDavError> {
        let url = self.resolve_collection(calendar_href)?;
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{}" end="{}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
            utc_stamp(start),
            utc_stamp(end)
        );
        let status = self.report(&url, Depth::One, body, Purpose::Other).await?;
        Ok(status
            .responses
            .iter()
            .filter_map(|r| {
                let ics = r.prop(Ns::CalDav, "calendar-data")?.text.clone();
                Some(Resource { href: r.href()?.to_owned(), etag: r.prop_text(Ns::Dav, "getetag"), ics })
            })
            .filter(|r| !r.ics.trim().is_empty())
            .collect())
    }

    /// Every member's href and ETag (the collection itself and sub-collections left out).
    #[tracing::instrument(skip_all)]
    pub async fn list_etags(&self, calendar_href: &str) -> Result<Vec<(String, String)>, CalDavError> {
        let url = self.resolve_collection(calendar_href)?;
        let collection = href_key(&url);
        let body = propfind_body("<D:resourcetype/><D:getetag/>");
        let status = self.propfind(&url, Depth::One, body, Purpose::Other).await?;
        let mut members = Vec::new();
        for response in &status.responses {
            let Some(href) = response.href() else { continue };
            let is_collection =
                response.prop(Ns::Dav, "resourcetype").is_some_and(|t| t.child(Ns::Dav, "collection").is_some());
            if is_collection || href_key(&self.resolve(href)?) == collection {
                continue;
            }
            if let Some(etag) = response.prop_text(Ns::Dav, "getetag") {
                members.push((href.to_owned(), etag));
            }
        }
        Ok(members)
    }
}

/// RFC 5545 UTC date-time form, as time-range requires.
fn utc_stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}
