//! The two WebDAV documents calsync reads: a `DAV:multistatus` (RFC 4918 §14.16, with the
//! RFC 6578 `DAV:sync-token`) and a `DAV:error` precondition body (RFC 4918 §16).
//!
//! Servers differ in element order (Xandikos puts `status` before `prop`), prefixes and
//! whitespace, so everything is looked up by namespace and local name, never by position.

use super::xml::{Element, Ns, XmlError, read_document};

/// A parsed `DAV:multistatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multistatus {
    pub responses: Vec<Response>,
    pub sync_token: Option<String>,
}

/// One `DAV:response`: its href(s), the response-level status (used for removed members and
/// truncation) or the per-property statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub hrefs: Vec<String>,
    pub status: Option<u16>,
    pub propstats: Vec<Propstat>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Propstat {
    pub status: u16,
    pub props: Vec<Element>,
}

impl Response {
    pub fn href(&self) -> Option<&str> {
        self.hrefs.first().map(String::as_str)
    }

    /// A property the server reported with a 2xx status.
    pub fn prop(&self, ns: Ns, name: &str) -> Option<&Element> {
        self.propstats
            .iter()
            .filter(|p| (200..300).contains(&p.status))
            .flat_map(|p| p.props.iter())
            .find(|e| e.is(ns, name))
    }

    /// A property's trimmed text, `None` when absent or empty.
    pub fn prop_text(&self, ns: Ns, name: &str) -> Option<String> {
        self.prop(ns, name).map(|e| e.trimmed_text().to_owned()).filter(|t| !t.is_empty())
    }

    /// The `DAV:href` inside a property such as `current-user-principal`.
    pub fn prop_href(&self, ns: Ns, name: &str) -> Option<String> {
        self.prop(ns, name)
            .and_then(|e| e.child(Ns::Dav, "href"))
            .map(|h| h.trimmed_text().to_owned())
            .filter(|t| !t.is_empty())
    }
}

/// Parses a `DAV:multistatus` body.
pub fn parse_multistatus(body: &[u8]) -> Result<Multistatus, XmlError> {
    let mut out = Multistatus::default();
    let root = read_document(body, |child| {
        if child.is(Ns::Dav, "response") {
            out.responses.push(response(&child));
        } else if child.is(Ns::Dav, "sync-token") {
            let token = child.trimmed_text();
            if !token.is_empty() {
                out.sync_token = Some(token.to_owned());
            }
        }
    })?;
    if root != (Ns::Dav, "multistatus".to_owned()) {
        return Err(XmlError::UnexpectedRoot { expected: "multistatus", found: root.1 });
    }
    Ok(out)
}

/// The precondition names of a `DAV:error` body (e.g. `valid-sync-token`), or nothing when the
/// body is not one: error bodies are advisory, so an unreadable one never hides the status code.
pub fn error_conditions(body: &[u8]) -> Vec<(Ns, String)> {
    let mut names = Vec::new();
    match read_document(body, |child| names.push((child.ns, child.name))) {
        Ok((Ns::Dav, root)) if root == "error" => names,
        _ => Vec::new(),
    }
}

fn response(element: &Element) -> Response {
    Response {
        hrefs: element
            .children_named(Ns::Dav, "href")
            .map(|h| h.trimmed_text().to_owned())
            .filter(|h| !h.is_empty())
            .collect(),
        status: element.child(Ns::Dav, "status").and_then(|s| status_code(s.trimmed_text())),
        propstats: element
            .children_named(Ns::Dav, "propstat")
            .filter_map(|p| {
                // A propstat without a readable status says nothing reliable about its properties.
                let status = status_code(p.child(Ns::Dav, "status")?.trimmed_text())?;
                let props = p.child(Ns::Dav, "prop").map(|prop| prop.children.clone()).unwrap_or_default();
                Some(Propstat { status, props })
            })
            .collect(),
    }
}

/// The code of a status line such as `HTTP/1.1 404 Not Found`.
fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok().filter(|c| (100..600).contains(c))
}
