//! SOAP 1.1 framing for EWS (protocol.md "Transport"): the envelope every request travels in,
//! with `RequestServerVersion` and, when acting for another mailbox, `ExchangeImpersonation`;
//! and the reading of answers down to the operation's response element and its response
//! messages, by namespace and local name, through the DTD-free, depth- and size-capped reader.

use crate::providers::caldav::xml::{Element, Ns, escape, read_document};

use super::errors::{EwsError, back_off, from_code, from_fault};

/// The schema version asked for: Exchange 2013 SP1 and later answer in it.
pub(crate) const SERVER_VERSION: &str = "Exchange2013_SP1";

/// A request envelope around `body` (operation elements using the `m:` and `t:` prefixes).
pub(crate) fn envelope(impersonate: Option<&str>, body: &str) -> String {
    let impersonation = impersonate
        .map(|mailbox| {
            format!(
                "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{}</t:PrimarySmtpAddress>\
                 </t:ConnectingSID></t:ExchangeImpersonation>",
                escape(mailbox)
            )
        })
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><soap:Header><t:RequestServerVersion Version="{SERVER_VERSION}"/>{impersonation}</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"#
    )
}

/// What a SOAP answer's body holds.
#[derive(Debug)]
pub(crate) enum Answer {
    /// The operation's response element (`m:GetItemResponse`, …).
    Response(Element),
    /// A SOAP fault.
    Fault(Element),
}

/// Reads an envelope down to its body's one element.
pub(crate) fn read_envelope(body: &[u8]) -> Result<Answer, EwsError> {
    let mut parts = Vec::new();
    let (ns, name) = read_document(body, |part| parts.push(part))?;
    if ns != Ns::Soap || name != "Envelope" {
        return Err(EwsError::Malformed("the answer is not a SOAP envelope".into()));
    }
    let body = parts
        .into_iter()
        .find(|p| p.is(Ns::Soap, "Body"))
        .ok_or_else(|| EwsError::Malformed("the SOAP envelope has no body".into()))?;
    let content =
        body.children.into_iter().next().ok_or_else(|| EwsError::Malformed("the SOAP body is empty".into()))?;
    if content.is(Ns::Soap, "Fault") { Ok(Answer::Fault(content)) } else { Ok(Answer::Response(content)) }
}

/// The response element of a 200 answer that must be `m:{operation}Response`; a fault in a 200
/// answer is classified like one in a 500.
pub(crate) fn read_response(body: &[u8], operation: &str) -> Result<Element, EwsError> {
    match read_envelope(body)? {
        Answer::Fault(fault) => Err(from_fault(&fault)),
        Answer::Response(response) => {
            let expected = format!("{operation}Response");
            if response.is(Ns::EwsMessages, &expected) {
                Ok(response)
            } else {
                Err(EwsError::Malformed(format!("expected m:{expected}")))
            }
        }
    }
}

/// Each response message of an operation answer, in order: the message itself when its class is
/// `Success`, the classified error otherwise (a `Warning` such as `ErrorBatchProcessingStopped`
/// is an error for the items it concerns).
pub(crate) fn messages(response: &Element) -> Vec<Result<&Element, EwsError>> {
    let Some(list) = response.child(Ns::EwsMessages, "ResponseMessages") else { return Vec::new() };
    list.children
        .iter()
        .filter(|m| m.ns == Ns::EwsMessages)
        .map(|message| {
            let code = message.child(Ns::EwsMessages, "ResponseCode").map_or("", Element::trimmed_text);
            let class = message.attribute("ResponseClass").unwrap_or("Success");
            if class == "Success" && (code.is_empty() || code == "NoError") {
                Ok(message)
            } else {
                let code = if code.is_empty() { "ErrorUnknown" } else { code };
                Err(from_code(code, back_off(message)))
            }
        })
        .collect()
}

/// The single response message of an operation on one folder or item.
pub(crate) fn single_message(response: &Element) -> Result<&Element, EwsError> {
    messages(response)
        .into_iter()
        .next()
        .unwrap_or_else(|| Err(EwsError::Malformed("the answer holds no response message".into())))
}

/// Text of a `t:` child, `None` when absent or empty.
pub(crate) fn text(element: &Element, name: &str) -> Option<String> {
    element.child(Ns::EwsTypes, name).map(Element::trimmed_text).filter(|t| !t.is_empty()).map(str::to_owned)
}

/// Whether a `t:` child holds `true`.
pub(crate) fn flag(element: &Element, name: &str) -> bool {
    element.child(Ns::EwsTypes, name).is_some_and(|e| e.trimmed_text().eq_ignore_ascii_case("true"))
}
