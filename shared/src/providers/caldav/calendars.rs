//! Calendar collections under a home set: listing them (PROPFIND Depth 1) and creating one
//! (MKCALENDAR, RFC 4791 §5.3.1; both Radicale and Xandikos 0.4 accept it).

use http::Method;
use url::Url;

use super::client::{CalDavClient, XML, encode_segment};
use super::dav::Depth;
use super::discovery::propfind_body;
use super::errors::{CalDavError, Purpose, classify};
use super::multistatus::Response;
use super::xml::{Ns, escape};

/// A calendar collection as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCalendar {
    /// The collection's href exactly as the server spelled it.
    pub href: String,
    pub display_name: Option<String>,
    /// Apple's `calendar-color`, usually `#RRGGBB` or `#RRGGBBAA`.
    pub color: Option<String>,
    /// Apple's `getctag`: changes whenever any member changes.
    pub ctag: Option<String>,
    /// RFC 6578 `DAV:sync-token`; absent when the server does not support sync-collection.
    pub sync_token: Option<String>,
    /// No `write`, `write-content` or `all` privilege for the current user. A server that does
    /// not report privileges is assumed writable; it still refuses a write it does not allow.
    pub read_only: bool,
}

const CALENDAR_PROPS: &str = "<D:resourcetype/><D:displayname/><A:calendar-color/><CS:getctag/><D:sync-token/>\
<D:current-user-privilege-set/><C:supported-calendar-component-set/>";

impl CalDavClient {
    /// The event calendars under `home_set` (collections holding only tasks or journals are left out).
    #[tracing::instrument(skip_all)]
    pub async fn list_calendars(&self, home_set: &str) -> Result<Vec<RemoteCalendar>, CalDavError> {
        let url = self.resolve_collection(home_set)?;
        let status = self.propfind(&url, Depth::One, propfind_body(CALENDAR_PROPS), Purpose::Other).await?;
        Ok(status.responses.iter().filter_map(remote_calendar).collect())
    }

    /// Creates an event calendar named `segment` under `home_set` and returns its URL.
    #[tracing::instrument(skip_all)]
    pub async fn make_calendar(&self, home_set: &str, segment: &str, display_name: &str) -> Result<Url, CalDavError> {
        let home = self.resolve_collection(home_set)?;
        let url = home
            .join(&format!("{}/", encode_segment(segment)))
            .map_err(|_| CalDavError::Refused("the calendar name does not form a valid URL".into()))?;
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>{}</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#,
            escape(display_name)
        );
        let method =
            Method::from_bytes(b"MKCALENDAR").map_err(|_| CalDavError::Refused("invalid HTTP method".into()))?;
        let reply = self.send(method, &url, &[], Some((XML, body))).await?;
        if reply.status.is_success() {
            Ok(url)
        } else {
            Err(classify(reply.status, &reply.headers, &reply.body, Purpose::Other))
        }
    }
}

fn remote_calendar(response: &Response) -> Option<RemoteCalendar> {
    let resource_type = response.prop(Ns::Dav, "resourcetype")?;
    resource_type.child(Ns::CalDav, "calendar")?;
    if let Some(components) = response.prop(Ns::CalDav, "supported-calendar-component-set") {
        let mut names = components.children_named(Ns::CalDav, "comp").filter_map(|c| c.attribute("name"));
        // An empty set is how some servers spell "not restricted".
        if !components.children.is_empty() && !names.any(|n| n.eq_ignore_ascii_case("VEVENT")) {
            return None;
        }
    }
    let read_only = response.prop(Ns::Dav, "current-user-privilege-set").is_some_and(|set| {
        !set.children_named(Ns::Dav, "privilege")
            .flat_map(|p| p.children.iter())
            .any(|p| p.ns == Ns::Dav && matches!(p.name.as_str(), "write" | "write-content" | "all"))
    });
    Some(RemoteCalendar {
        href: response.href()?.to_owned(),
        display_name: response.prop_text(Ns::Dav, "displayname"),
        color: response.prop_text(Ns::AppleIcal, "calendar-color"),
        ctag: response.prop_text(Ns::CalendarServer, "getctag"),
        sync_token: response.prop_text(Ns::Dav, "sync-token"),
        read_only,
    })
}
