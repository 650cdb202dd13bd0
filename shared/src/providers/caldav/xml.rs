//! Safe reading of the WebDAV XML that CalDAV servers send back, and of the SOAP that EWS servers
//! send back (reliability-security.md §4.6).
//!
//! A response comes from a server the user typed in, so it is hostile input: the reader never
//! processes a DTD (any `<!DOCTYPE` is an error, which rules out billion-laughs expansion and
//! external entities before they exist), knows only the five predefined entities and character
//! references, caps element depth, and is only ever handed a body whose size the client already
//! capped while downloading it. The document is read as a stream; only one child of the root (a
//! `DAV:response`) is held as a small tree at a time, and that tree has an element cap too.

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::ResolveResult;

/// Deepest element nesting accepted; real multistatus documents stay under ten levels.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most elements one child of the root may contain (a `DAV:response` holds a few dozen).
const MAX_ELEMENTS_PER_ITEM: usize = 10_000;
/// Longest entity name quoted back in an error, so a hostile name cannot bloat logs.
const MAX_QUOTED_NAME: usize = 40;

/// Why a response body was refused; the text is safe to log (it never quotes the body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("the response declares a DOCTYPE, which neither WebDAV nor EWS needs; refused without reading it")]
    DocType,
    #[error("the response body exceeds {limit} bytes")]
    TooLarge { limit: usize },
    #[error("the response nests elements deeper than {limit} levels")]
    TooDeep { limit: usize },
    #[error("one response element holds more than {limit} elements")]
    TooManyElements { limit: usize },
    #[error("the response references the undefined entity `{0}`")]
    UndefinedEntity(String),
    #[error("the response is not UTF-8")]
    NotUtf8,
    #[error("the response is not well-formed XML: {0}")]
    Syntax(String),
    #[error("expected a DAV:{expected} document, found `{found}`")]
    UnexpectedRoot { expected: &'static str, found: String },
}

/// The namespaces calsync reads; everything else is kept as `Other` and never matches a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ns {
    Dav,
    CalDav,
    CalendarServer,
    AppleIcal,
    /// SOAP 1.1 envelopes (EWS).
    Soap,
    /// EWS types (`t:`), messages (`m:`) and fault details (`e:`).
    EwsTypes,
    EwsMessages,
    EwsErrors,
    /// Exchange POX Autodiscover: the response envelope and its Outlook provider answer.
    Autodiscover,
    AutodiscoverOutlook,
    Other,
}

impl Ns {
    fn from_uri(uri: &str) -> Self {
        match uri {
            "DAV:" => Ns::Dav,
            "urn:ietf:params:xml:ns:caldav" => Ns::CalDav,
            "http://calendarserver.org/ns/" => Ns::CalendarServer,
            "http://apple.com/ns/ical/" => Ns::AppleIcal,
            "http://schemas.xmlsoap.org/soap/envelope/" => Ns::Soap,
            "http://schemas.microsoft.com/exchange/services/2006/types" => Ns::EwsTypes,
            "http://schemas.microsoft.com/exchange/services/2006/messages" => Ns::EwsMessages,
            "http://schemas.microsoft.com/exchange/services/2006/errors" => Ns::EwsErrors,
            "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006" => Ns::Autodiscover,
            "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a" => {
                Ns::AutodiscoverOutlook
            }
            _ => Ns::Other,
        }
    }
}

/// One element with its namespace, local name, attributes (local names), text and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub ns: Ns,
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn is(&self, ns: Ns, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    pub fn child(&self, ns: Ns, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub fn children_named<'a>(&'a self, ns: Ns, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn trimmed_text(&self) -> &str {
        self.text.trim()
    }
}

/// Reads `body` and hands each complete child of the root element to `visit`, then drops it.
/// Returns the root element's namespace and name.
pub fn read_document(body: &[u8], mut visit: impl FnMut(Element)) -> Result<(Ns, String), XmlError> {
    let text = std::str::from_utf8(body).map_err(|_| XmlError::NotUtf8)?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<(Ns, String)> = None;
    let mut elements_in_item = 0usize;
    loop {
        let (resolved, event) = reader.read_resolved_event().map_err(|e| XmlError::Syntax(e.to_string()))?;
        match event {
            Event::DocType(_) => return Err(XmlError::DocType),
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() && stack.is_empty() {
                    return Err(XmlError::Syntax("a second root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep { limit: MAX_DEPTH });
                }
                if !stack.is_empty() {
                    elements_in_item += 1;
                    if elements_in_item > MAX_ELEMENTS_PER_ITEM {
                        return Err(XmlError::TooManyElements { limit: MAX_ELEMENTS_PER_ITEM });
                    }
                }
                let element = new_element(&resolved, start)?;
                let empty = matches!(event, Event::Empty(_));
                stack.push(element);
                if empty {
                    close(&mut stack, &mut root, &mut elements_in_item, &mut visit);
                }
            }
            Event::End(_) => close(&mut stack, &mut root, &mut elements_in_item, &mut visit),
            Event::Text(t) => append_text(&mut stack, &t.xml10_content())?,
            Event::CData(c) => append_text(&mut stack, &c.xml10_content())?,
            Event::GeneralRef(r) => {
                let resolved = resolve_reference(&r)?;
                append_text(&mut stack, resolved.encode_utf8(&mut [0u8; 4]))?;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Syntax("the document ends inside an element".into()));
    }
    root.ok_or_else(|| XmlError::Syntax("the document has no root element".into()))
}

fn new_element(resolved: &ResolveResult<'_>, start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let ns = match resolved {
        ResolveResult::Bound(ns) => Ns::from_uri(ns.0),
        ResolveResult::Unbound | ResolveResult::Unknown(_) => Ns::Other,
    };
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| XmlError::Syntax(e.to_string()))?;
        let key = attribute.key.local_name().into_inner().to_owned();
        if attribute.key.as_ref().starts_with("xmlns") {
            continue;
        }
        let value = attribute
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| XmlError::Syntax(e.to_string()))?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        ns,
        name: start.local_name().into_inner().to_owned(),
        attributes,
        text: String::new(),
        children: Vec::new(),
    })
}

/// Closes the innermost element: attach it to its parent, hand it to `visit` when the parent is
/// the root, or record the root itself.
fn close(
    stack: &mut Vec<Element>,
    root: &mut Option<(Ns, String)>,
    elements_in_item: &mut usize,
    visit: &mut impl FnMut(Element),
) {
    let Some(element) = stack.pop() else { return };
    match stack.len() {
        0 => *root = Some((element.ns, element.name)),
        1 => {
            *elements_in_item = 0;
            visit(element);
        }
        _ => {
            if let Some(parent) = stack.last_mut() {
                parent.children.push(element);
            }
        }
    }
}

/// Text directly inside the root is inter-element whitespace and is dropped, which also keeps a
/// root full of text from being buffered twice.
fn append_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack {
        [] => {
            if text.trim().is_empty() {
                Ok(())
            } else {
                Err(XmlError::Syntax("text outside the root element".into()))
            }
        }
        [_root] => Ok(()),
        [.., innermost] => {
            innermost.text.push_str(text);
            Ok(())
        }
    }
}

fn resolve_reference(reference: &BytesRef<'_>) -> Result<char, XmlError> {
    if reference.is_char_ref() {
        return match reference.resolve_char_ref() {
            Ok(Some(c)) => Ok(c),
            _ => Err(XmlError::Syntax("invalid character reference".into())),
        };
    }
    let name = reference.xml10_content();
    match name.as_ref() {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        other => Err(XmlError::UndefinedEntity(other.chars().take(MAX_QUOTED_NAME).collect())),
    }
}

/// Escapes text for inclusion in a request body (element content or a double-quoted attribute).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}
