//! Change detection and fetching: the `getctag` short-circuit, RFC 6578 `sync-collection` and
//! RFC 4791 `calendar-multiget` (providers.md §4.2).

use std::collections::HashMap;

use super::client::{CalDavClient, href_key};
use super::dav::Depth;
use super::discovery::propfind_body;
use super::errors::{CalDavError, Purpose};
use super::multistatus::Response;
use super::xml::{Ns, escape};

/// Truncated sync-collection answers followed before giving up; each round lists at least one
/// change, so this only trips on a server that truncates without advancing.
const MAX_SYNC_ROUNDS: usize = 1_000;
/// Hrefs per calendar-multiget request.
pub const MULTIGET_BATCH: usize = 50;

/// What changed in a collection since a sync token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncResult {
    /// Members created or modified, with their new ETag.
    pub changed: Vec<(String, String)>,
    /// Members removed.
    pub deleted: Vec<String>,
    /// The token to send next time (store it only after applying these changes).
    pub new_token: String,
}

/// One calendar object resource. `ics` is the server's iCalendar text, untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub href: String,
    pub etag: Option<String>,
    pub ics: String,
}

/// The answer to a multiget: the resources fetched, and the requested hrefs the server returned
/// no calendar data for (gone since the listing, or not readable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multiget {
    pub resources: Vec<Resource>,
    pub missing: Vec<String>,
}

impl CalDavClient {
    /// The collection's `getctag`, for the "did anything change?" short-circuit.
    #[tracing::instrument(skip_all)]
    pub async fn ctag(&self, calendar_href: &str) -> Result<Option<String>, CalDavError> {
        let url = self.resolve_collection(calendar_href)?;
        let status = self.propfind(&url, Depth::Zero, propfind_body("<CS:getctag/>"), Purpose::Other).await?;
        Ok(status.responses.iter().find_map(|r| r.prop_text(Ns::CalendarServer, "getctag")))
    }

    /// Lists the members changed or removed since `token` (everything when `None`), following
    /// truncated answers (a 507 for the collection itself, RFC 6578 §3.6) until complete.
    #[tracing::instrument(skip_all)]
    pub async fn sync_collection(&self, calendar_href: &str, token: Option<&str>) -> Result<SyncResult, CalDavError> {
        let url = self.resolve_collection(calendar_href)?;
        let collection = href_key(&url);
        // href key → (href as sent, new ETag or None when removed); later rounds overwrite.
        let mut members: HashMap<String, (String, Option<String>)> = HashMap::new();
        let mut token = token.map(str::to_owned);
        for _ in 0..MAX_SYNC_ROUNDS {
            let body = format!(
                r#"<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>{}</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#,
                escape(token.as_deref().unwrap_or(""))
            );
            // Without a token there is nothing to invalidate, so a 403 then is a real refusal.
            let purpose = if token.is_some() { Purpose::SyncCollection } else { Purpose::Other };
            let status = self.report(&url, Depth::Zero, body, purpose).await?;
            let new_token = status
                .sync_token
                .ok_or_else(|| CalDavError::Malformed("the sync-collection answer has no sync-token".into()))?;
            let mut truncated = false;
            for response in &status.responses {
                let Some(href) = response.href() else { continue };
                let key = href_key(&self.resolve(href)?);
                if key == collection || response.status == Some(507) {
                    truncated |= response.status == Some(507);
                    continue;
                }
                if let Some(change) = member_change(response) {
                    members.insert(key, (href.to_owned(), change));
                }
            }
            if !truncated {
                let mut result = SyncResult { new_token, ..SyncResult::default() };
                for (href, etag) in members.into_values() {
                    match etag {
                        Some(etag) => result.changed.push((href, etag)),
                        None => result.deleted.push(href),
                    }
                }
                return Ok(result);
            }
            if token.as_deref() == Some(new_token.as_str()) {
                return Err(CalDavError::Malformed(
                    "a truncated sync-collection answer did not advance the token".into(),
                ));
            }
            token = Some(new_token);
        }
        Err(CalDavError::Malformed("sync-collection stayed truncated after too many rounds".into()))
    }

    /// Fetches the iCalendar text of `hrefs` (members of `calendar_href`) in batches.
    #[tracing::instrument(skip_all, fields(count = hrefs.len()))]
    pub async fn multiget(&self, calendar_href: &str, hrefs: &[String]) -> Result<Multiget, CalDavError> {
        let url = self.resolve_collection(calendar_href)?;
        let mut out = Multiget::default();
        for batch in hrefs.chunks(MULTIGET_BATCH) {
            let mut wanted: HashMap<String, &String> = HashMap::new();
            let mut body = String::from(
                r#"<?xml version="1.0" encoding="utf-8"?><C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>"#,
            );
            for href in batch {
                wanted.insert(href_key(&self.resolve(href)?), href);
                body.push_str(&format!("<D:href>{}</D:href>", escape(href)));
            }
            body.push_str("</C:calendar-multiget>");
            let status = self.report(&url, Depth::One, body, Purpose::Other).await?;
            for response in &status.responses {
                let Some(href) = response.href() else { continue };
                let Some(requested) = self.requested(&wanted, href) else { continue };
                let Some(ics) = response.prop(Ns::CalDav, "calendar-data").map(|e| e.text.clone()) else { continue };
                if ics.trim().is_empty() {
                    continue;
                }
                let requested = requested.clone();
                wanted.retain(|_, h| **h != requested);
                out.resources.push(Resource { href: requested, etag: response.prop_text(Ns::Dav, "getetag"), ics });
            }
            out.missing.extend(wanted.into_values().cloned());
        }
        Ok(out)
    }

    /// The requested href a response belongs to: the same path, or else the same last segment,
    /// because servers may answer for shared calendars under another collection URL.
    fn requested<'a>(&self, wanted: &HashMap<String, &'a String>, href: &str) -> Option<&'a String> {
        let key = href_key(&self.resolve(href).ok()?);
        if let Some(found) = wanted.get(&key) {
            return Some(*found);
        }
        let segment = last_segment(&key);
        let mut by_segment = wanted.iter().filter(|(k, _)| last_segment(k) == segment);
        match (by_segment.next(), by_segment.next()) {
            (Some((_, href)), None) => Some(*href),
            _ => None,
        }
    }
}

/// `Some(Some(etag))` for a changed member, `Some(None)` for a removed one, `None` for a
/// response that says neither (e.g. a sub-collection without an ETag).
fn member_change(response: &Response) -> Option<Option<String>> {
    if response.status == Some(404) {
        return Some(None);
    }
    response.prop_text(Ns::Dav, "getetag").map(Some)
}

fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}
