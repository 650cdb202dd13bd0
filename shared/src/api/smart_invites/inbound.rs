//! The parsing half of inbound replies: a raw MIME message (or a bare `.ics`) to the iTIP REPLY
//! it carries. Deliberately small and bounded: a size cap, multipart nesting of at most
//! [`MAX_DEPTH`] levels, base64, quoted-printable and identity transfer encodings only.

use base64::{Engine, engine::general_purpose::STANDARD};

use crate::domain::EventTime;

/// The largest message accepted (a reply is a few kilobytes; attachments are not wanted).
pub(super) const MAX_BYTES: usize = 512 * 1024;
/// How deep multiparts may nest (mixed → alternative → calendar is the usual shape).
const MAX_DEPTH: usize = 4;

/// What an iTIP REPLY or COUNTER says.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Reply {
    pub uid: String,
    /// The attendees it names, lower case without `mailto:`, with the status their PARTSTAT
    /// gives (`accepted`, `tentative` or `declined`), if any. A REPLY names the one who replied;
    /// a COUNTER may repeat the whole list.
    pub attendees: Vec<(String, Option<&'static str>)>,
    pub comment: Option<String>,
    /// A COUNTER's proposed start and end.
    pub proposal: Option<(EventTime, EventTime)>,
}

impl Reply {
    /// What `email` answered: its PARTSTAT, or for a counter-proposal without one, `tentative`
    /// (the recipient would come at another time). `None` when the message names no usable
    /// answer from `email`.
    pub(super) fn status_of(&self, email: &str) -> Option<&'static str> {
        let (_, status) = self.attendees.iter().find(|(a, _)| a == email)?;
        status.or(self.proposal.as_ref().map(|_| "tentative"))
    }
}

/// The `text/calendar` part of a MIME message, decoded; `None` when there is none.
pub(super) fn calendar_part(message: &[u8]) -> Option<String> {
    part(message, 0)
}

/// The `invite+<token>@` token of the first such address in the message's `To` header.
pub(super) fn reply_token(message: &[u8]) -> Option<String> {
    let (headers, _) = split(message);
    let to = header(&headers, "to")?;
    let at = to.to_ascii_lowercase().find("invite+")?;
    let rest = &to[at + "invite+".len()..];
    let token: String = rest.chars().take_while(|c| *c != '@').collect();
    (!token.is_empty() && rest.contains('@')).then_some(token)
}

/// The address in the message's `From` header, lower case (`Name <a@b>` or a bare `a@b`).
pub(super) fn sender(message: &[u8]) -> Option<String> {
    let (headers, _) = split(message);
    let from = header(&headers, "from")?;
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from.as_str(),
    };
    let address = address.trim().to_lowercase();
    address.contains('@').then_some(address)
}

fn part(message: &[u8], depth: usize) -> Option<String> {
    if depth > MAX_DEPTH {
        return None;
    }
    let (headers, body) = split(message);
    let content_type = header(&headers, "content-type").unwrap_or_else(|| "text/plain".to_owned());
    let media = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if media == "text/calendar" {
        let encoding = header(&headers, "content-transfer-encoding").unwrap_or_default().trim().to_ascii_lowercase();
        let decoded = match encoding.as_str() {
            "base64" => {
                STANDARD.decode(body.iter().filter(|b| !b.is_ascii_whitespace()).copied().collect::<Vec<_>>()).ok()?
            }
            "quoted-printable" => quoted_printable(body),
            _ => body.to_vec(),
        };
        return String::from_utf8(decoded).ok();
    }
    if !media.starts_with("multipart/") {
        return None;
    }
    let boundary = parameter(&content_type, "boundary")?;
    let delimiter = format!("--{boundary}");
    let text = String::from_utf8_lossy(body);
    text.split(delimiter.as_str())
        .skip(1)
        .take_while(|chunk| !chunk.starts_with("--"))
        .find_map(|chunk| part(chunk.trim_start_matches(['\r', '\n']).as_bytes(), depth + 1))
}

/// Headers (unfolded, one per entry) and the body after the blank line.
fn split(message: &[u8]) -> (Vec<String>, &[u8]) {
    let text = String::from_utf8_lossy(message);
    let (end, skip) = match (text.find("\r\n\r\n"), text.find("\n\n")) {
        (Some(a), Some(b)) if b < a => (b, 2),
        (Some(a), _) => (a, 4),
        (None, Some(b)) => (b, 2),
        (None, None) => (text.len(), 0),
    };
    let mut headers: Vec<String> = Vec::new();
    for line in text[..end].lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else {
            headers.push(line.to_owned());
        }
    }
    (headers, message.get(end + skip..).unwrap_or_default())
}

fn header(headers: &[String], name: &str) -> Option<String> {
    headers.iter().find_map(|h| {
        let (n, v) = h.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (n, v) = p.split_once('=')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'=' if body.get(i + 1..i + 3) == Some(b"\r\n") => i += 3,
            b'=' if body.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => {
                let hex = body.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

/// The REPLY or COUNTER in an iCalendar text: one VEVENT with a UID and at least one `mailto:`
/// ATTENDEE; a COUNTER also needs the DTSTART and DTEND it proposes. The error says what is wrong.
pub(super) fn parse_reply(ics: &str) -> Result<Reply, &'static str> {
    let unfolded = ics.replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", "").replace("\n\t", "");
    let mut method = None;
    let (mut uid, mut attendees, mut comment) = (None, Vec::new(), None);
    let mut in_event = false;
    for line in unfolded.lines().map(|l| l.trim_end_matches('\r')) {
        let Some((head, value)) = split_content_line(line) else { continue };
        let mut params = head.split(';');
        let name = params.next().unwrap_or_default().to_ascii_uppercase();
        match name.as_str() {
            "METHOD" => method = Some(value.trim().to_ascii_uppercase()),
            "BEGIN" if value.eq_ignore_ascii_case("VEVENT") => in_event = true,
            "END" if value.eq_ignore_ascii_case("VEVENT") => in_event = false,
            "UID" if in_event => uid = Some(value.trim().to_owned()),
            "COMMENT" if in_event => comment = Some(unescape(value)),
            "ATTENDEE" if in_event => {
                let address = value.trim();
                let Some(email) = address.get(..7).filter(|p| p.eq_ignore_ascii_case("mailto:")).map(|_| &address[7..])
                else {
                    continue;
                };
                let status = params.find_map(|p| {
                    let (n, v) = p.split_once('=')?;
                    if !n.eq_ignore_ascii_case("PARTSTAT") {
                        return None;
                    }
                    match v.trim_matches('"').to_ascii_uppercase().as_str() {
                        "ACCEPTED" => Some("accepted"),
                        "TENTATIVE" => Some("tentative"),
                        "DECLINED" => Some("declined"),
                        _ => None,
                    }
                });
                let email = email.trim().to_lowercase();
                if email.contains('@') {
                    attendees.push((email, status));
                }
            }
            _ => {}
        }
    }
    let counter = match method.as_deref() {
        Some("REPLY") => false,
        Some("COUNTER") => true,
        _ => return Err("the calendar is not an iTIP REPLY or COUNTER (METHOD:REPLY or METHOD:COUNTER)"),
    };
    let uid = uid.filter(|u| !u.is_empty()).ok_or("the reply has no VEVENT UID")?;
    if attendees.is_empty() {
        return Err("the reply has no mailto: ATTENDEE");
    }
    let proposal = if counter {
        // Times without a zone are read as UTC: the proposal is only reported, never scheduled.
        let series = crate::ical::parse_resource(ics, chrono_tz::Tz::UTC)
            .map_err(|_| "the counter-proposal's VEVENT cannot be read")?;
        let event = series.master.ok_or("the counter-proposal has no DTSTART and DTEND")?;
        if event.end.sort_key() < event.start.sort_key() {
            return Err("the counter-proposal ends before it starts");
        }
        Some((event.start, event.end))
    } else {
        None
    };
    Ok(Reply { uid, attendees, comment: comment.filter(|c| !c.is_empty()), proposal })
}

/// `NAME;PARAM=..:value`, the colon being the first one outside a quoted parameter value.
fn split_content_line(line: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => return Some((&line[..i], &line[i + 1..])),
            _ => {}
        }
    }
    None
}

fn unescape(value: &str) -> String {
    value.replace("\\n", "\n").replace("\\N", "\n").replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ICS: &str = "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:abc@x\r\nATTENDEE;CN=\"G: uest\";PARTSTAT=ACCEPTED:mailto:Guest@Example.com\r\nCOMMENT:See you\\, then\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn a_reply_is_read_from_a_bare_calendar() {
        let reply = parse_reply(ICS).unwrap();
        assert_eq!(reply.uid, "abc@x");
        assert_eq!(reply.attendees, vec![("guest@example.com".to_owned(), Some("accepted"))]);
        assert_eq!(reply.status_of("guest@example.com"), Some("accepted"));
        assert_eq!(reply.comment.as_deref(), Some("See you, then"));
        assert_eq!(reply.proposal, None);
        assert!(parse_reply(&ICS.replace("METHOD:REPLY", "METHOD:REQUEST")).is_err());
        assert_eq!(parse_reply(&ICS.replace("ACCEPTED", "NEEDS-ACTION")).unwrap().status_of("guest@example.com"), None);
    }

    #[test]
    fn a_counter_proposal_carries_its_times_and_counts_as_tentative_without_a_partstat() {
        let counter = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:COUNTER\r\nBEGIN:VEVENT\r\nUID:abc@x\r\n\
                       DTSTAMP:20260601T120000Z\r\nDTSTART;TZID=Europe/London:20261015T110000\r\n\
                       DTEND;TZID=Europe/London:20261015T113000\r\nATTENDEE:mailto:guest@example.com\r\n\
                       ATTENDEE;PARTSTAT=ACCEPTED:mailto:other@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let reply = parse_reply(counter).unwrap();
        assert_eq!(reply.status_of("guest@example.com"), Some("tentative"));
        assert_eq!(reply.status_of("other@example.com"), Some("accepted"));
        assert_eq!(reply.status_of("nobody@example.com"), None);
        let (start, end) = reply.proposal.expect("a proposal");
        let london: chrono_tz::Tz = "Europe/London".parse().unwrap();
        let at = |h| chrono::DateTime::parse_from_rfc3339(h).unwrap().to_utc();
        assert_eq!(start, EventTime::Instant { at: at("2026-10-15T10:00:00Z"), tzid: Some(london) });
        assert_eq!(end, EventTime::Instant { at: at("2026-10-15T10:30:00Z"), tzid: Some(london) });
        let no_times = counter.replace("DTSTART;TZID=Europe/London:20261015T110000\r\n", "");
        assert!(parse_reply(&no_times).is_err());
    }

    #[test]
    fn the_calendar_part_is_found_in_nested_multiparts_and_decoded() {
        let encoded = STANDARD.encode(ICS);
        let message = format!(
            "To: <invite+tok123@calsync.test>\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\nContent-Type: multipart/alternative;\r\n boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nYes\r\n--inner\r\nContent-Type: text/calendar; method=REPLY\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--inner--\r\n--outer--\r\n"
        );
        assert_eq!(reply_token(message.as_bytes()).as_deref(), Some("tok123"));
        assert_eq!(sender(message.as_bytes()), None);
        let from = format!("From: \"Guest, G.\" <Guest@Example.com>\r\n{message}");
        assert_eq!(sender(from.as_bytes()).as_deref(), Some("guest@example.com"));
        assert_eq!(calendar_part(message.as_bytes()).as_deref(), Some(ICS));
        let qp =
            "Content-Type: text/calendar\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nMETHOD=3AREPLY=\r\n\r\n";
        assert_eq!(calendar_part(qp.as_bytes()).as_deref(), Some("METHOD:REPLY\r\n"));
        assert_eq!(calendar_part(b"Content-Type: text/plain\r\n\r\nno"), None);
    }
}
