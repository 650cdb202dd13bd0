//! The EWS client's reading and classification on fixed SOAP documents: responses parsed by
//! namespace whatever the prefixes, errors classified (a busy server's `BackOffMilliseconds`
//! included) without quoting the server's words, recurrences turned into RRULEs and back, and
//! hostile documents (a DOCTYPE, deep nesting) refused before they cost anything.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use reqwest::StatusCode;

use super::autodiscover::ews_url_of;
use super::errors::{EwsError, from_status};
use super::folders::CalendarFolder;
use super::items::{CalendarItem, ItemType, Pattern, RangeEnd, Recurrence, WeekIndex};
use super::series::{read_series, to_ics};
use super::soap::{Answer, envelope, messages, read_envelope, read_response, single_message};
use super::write::{ItemFields, recurrence, recurrence_xml};
use crate::domain::{AttendeeStatus, EventTime};
use crate::ical::{expand, parse_resource};
use crate::providers::caldav::xml::{Element, Ns, XmlError};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// A response envelope with unusual prefixes, to show they do not matter.
fn soap(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ServerVersionInfo xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" MajorVersion="15"/></s:Header><s:Body xmlns:mm="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:tt="http://schemas.microsoft.com/exchange/services/2006/types">{body}</s:Body></s:Envelope>"#
    )
}

fn response(operation: &str, messages: &str) -> Element {
    let body = soap(&format!(
        "<mm:{operation}Response><mm:ResponseMessages>{messages}</mm:ResponseMessages></mm:{operation}Response>"
    ));
    read_response(body.as_bytes(), operation).expect("a response")
}

fn fault(code: &str, detail: &str) -> Element {
    let body = soap(&format!(
        r#"<s:Fault><faultcode xmlns:a="http://schemas.microsoft.com/exchange/services/2006/types">a:{code}</faultcode><faultstring xml:lang="en-US">The server is too busy, hunter2.</faultstring><detail><e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">{code}</e:ResponseCode><e:Message xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">hunter2</e:Message>{detail}</detail></s:Fault>"#
    ));
    match read_envelope(body.as_bytes()).unwrap() {
        Answer::Fault(fault) => fault,
        Answer::Response(other) => panic!("not a fault: {other:?}"),
    }
}

fn error_message(operation: &str, code: &str) -> String {
    format!(
        r#"<mm:{operation}ResponseMessage ResponseClass="Error"><mm:MessageText>hunter2 secret text</mm:MessageText><mm:ResponseCode>{code}</mm:ResponseCode><mm:DescriptiveLinkKey>0</mm:DescriptiveLinkKey></mm:{operation}ResponseMessage>"#
    )
}

#[test]
fn requests_carry_the_server_version_and_an_escaped_impersonation_header() {
    let own = envelope(None, "<m:GetFolder/>");
    assert!(own.contains(r#"<t:RequestServerVersion Version="Exchange2013_SP1"/>"#), "{own}");
    assert!(!own.contains("ExchangeImpersonation"));
    let acting = envelope(Some("ada&co@corp.example"), "<m:GetFolder/>");
    assert!(
        acting.contains(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>ada&amp;co@corp.example</t:PrimarySmtpAddress>"
        ),
        "{acting}"
    );
    // The request itself is well-formed XML in the SOAP namespace.
    let parsed = read_envelope(acting.as_bytes()).unwrap();
    assert!(matches!(parsed, Answer::Response(e) if e.is(Ns::Other, "GetFolder") || e.name == "GetFolder"));
}

#[test]
fn a_busy_fault_is_transient_for_exactly_its_back_off_and_never_quotes_the_server() {
    let detail = r#"<t:MessageXml xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><t:Value Name="Policy">MaxConcurrency</t:Value><t:Value Name="BackOffMilliseconds">5000</t:Value></t:MessageXml>"#;
    let busy = fault("ErrorServerBusy", detail);
    let error = from_status(StatusCode::INTERNAL_SERVER_ERROR, None, Some(&busy));
    assert_eq!(
        error,
        EwsError::Transient { retry_after: Some(Duration::from_millis(5000)), reason: "ErrorServerBusy".into() }
    );
    assert!(!error.to_string().contains("hunter2"), "{error}");
    // A wait longer than an hour is honoured for an hour.
    let long = detail.replace("5000", "86400000");
    let capped = from_status(StatusCode::INTERNAL_SERVER_ERROR, None, Some(&fault("ErrorServerBusy", &long)));
    assert!(matches!(capped, EwsError::Transient { retry_after: Some(wait), .. } if wait == Duration::from_secs(3600)));
}

#[test]
fn http_failures_are_classified_by_status_and_fault_code() {
    assert_eq!(from_status(StatusCode::UNAUTHORIZED, None, None), EwsError::Unauthorized);
    let wait = Some(Duration::from_secs(30));
    assert_eq!(
        from_status(StatusCode::SERVICE_UNAVAILABLE, wait, None),
        EwsError::Transient { retry_after: wait, reason: "HTTP 503".into() }
    );
    for code in [
        "ErrorImpersonateUserDenied",
        "ErrorImpersonationDenied",
        "ErrorImpersonationFailed",
        "ErrorNonExistentMailbox",
    ] {
        let error = from_status(StatusCode::INTERNAL_SERVER_ERROR, None, Some(&fault(code, "")));
        assert_eq!(error, EwsError::AccessGone(code.into()), "{code}");
    }
    // A fault saying the request is wrong is not retried; an unknown one on a 500 is.
    let schema = from_status(StatusCode::INTERNAL_SERVER_ERROR, None, Some(&fault("ErrorSchemaValidation", "")));
    assert_eq!(schema, EwsError::Failed("ErrorSchemaValidation".into()));
    let odd = from_status(StatusCode::INTERNAL_SERVER_ERROR, None, Some(&fault("ErrorSomethingNew", "")));
    assert!(matches!(odd, EwsError::Transient { retry_after: None, .. }), "{odd:?}");
    assert!(matches!(from_status(StatusCode::FOUND, None, None), EwsError::Failed(_)));
    assert!(matches!(from_status(StatusCode::FORBIDDEN, None, None), EwsError::Failed(_)));
}

#[test]
fn response_messages_are_classified_one_by_one_without_their_text() {
    let ok = r#"<mm:GetItemResponseMessage ResponseClass="Success"><mm:ResponseCode>NoError</mm:ResponseCode><mm:Items/></mm:GetItemResponseMessage>"#;
    let busy = r#"<mm:GetItemResponseMessage ResponseClass="Error"><mm:MessageText>busy</mm:MessageText><mm:ResponseCode>ErrorServerBusy</mm:ResponseCode><mm:MessageXml><tt:Value Name="BackOffMilliseconds">250</tt:Value></mm:MessageXml></mm:GetItemResponseMessage>"#;
    let all = [
        ok.to_owned(),
        error_message("GetItem", "ErrorItemNotFound"),
        error_message("GetItem", "ErrorIrresolvableConflict"),
        error_message("GetItem", "ErrorInvalidSyncStateData"),
        error_message("GetItem", "ErrorAccessDenied"),
        error_message("GetItem", "ErrorCalendarViewRangeTooBig"),
        error_message("GetItem", "ErrorInvalidIdMalformed"),
        busy.to_owned(),
    ]
    .concat();
    let answer = response("GetItem", &all);
    let results: Vec<Result<(), EwsError>> = messages(&answer).into_iter().map(|r| r.map(|_| ())).collect();
    assert_eq!(
        results,
        vec![
            Ok(()),
            Err(EwsError::NotFound),
            Err(EwsError::Conflict),
            Err(EwsError::SyncStateInvalid),
            Err(EwsError::AccessGone("ErrorAccessDenied".into())),
            Err(EwsError::RangeTooBig),
            Err(EwsError::Failed("ErrorInvalidIdMalformed".into())),
            Err(EwsError::Transient {
                retry_after: Some(Duration::from_millis(250)),
                reason: "ErrorServerBusy".into()
            }),
        ]
    );
    for result in results {
        if let Err(e) = result {
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }
}

#[test]
fn an_answer_for_another_operation_or_not_soap_is_malformed() {
    let body = soap("<mm:GetFolderResponse/>");
    assert!(matches!(read_response(body.as_bytes(), "GetItem"), Err(EwsError::Malformed(_))));
    let html = "<html><body>Outlook Web App</body></html>";
    assert!(matches!(read_response(html.as_bytes(), "GetItem"), Err(EwsError::Malformed(_))));
}

#[test]
fn a_doctype_is_refused_before_any_entity_is_expanded() {
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&lol2;</s:Body></s:Envelope>"#;
    let refused = read_response(laughs.as_bytes(), "GetItem").unwrap_err();
    assert_eq!(refused, EwsError::Malformed(XmlError::DocType.to_string()));
    let external = r#"<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>&x;</s:Body></s:Envelope>"#;
    assert_eq!(read_envelope(external.as_bytes()).unwrap_err(), EwsError::Malformed(XmlError::DocType.to_string()));
}

#[test]
fn deep_nesting_is_refused_at_the_depth_cap() {
    let depth = 200;
    let nested = format!("{}{}", "<tt:X>".repeat(depth), "</tt:X>".repeat(depth));
    let body = soap(&format!("<mm:GetItemResponse>{nested}</mm:GetItemResponse>"));
    let refused = read_response(body.as_bytes(), "GetItem").unwrap_err();
    assert!(matches!(&refused, EwsError::Malformed(reason) if reason.contains("deeper")), "{refused:?}");
}

#[test]
fn too_many_elements_in_one_answer_is_too_large_not_malformed() {
    let many = "<tt:X/>".repeat(10_001);
    let body = soap(&format!("<mm:GetItemResponse>{many}</mm:GetItemResponse>"));
    assert!(matches!(read_response(body.as_bytes(), "GetItem"), Err(EwsError::TooLarge(_))));
}

#[test]
fn folders_list_with_their_rights() {
    let folder = |id: &str, name: &str, modify: &str, class: &str| {
        format!(
            r#"<tt:CalendarFolder><tt:FolderId Id="{id}" ChangeKey="ck-{id}"/><tt:DisplayName>{name}</tt:DisplayName><tt:FolderClass>{class}</tt:FolderClass><tt:EffectiveRights><tt:CreateContents>true</tt:CreateContents><tt:Modify>{modify}</tt:Modify></tt:EffectiveRights></tt:CalendarFolder>"#
        )
    };
    let get = response(
        "GetFolder",
        &format!(
            r#"<mm:GetFolderResponseMessage ResponseClass="Success"><mm:ResponseCode>NoError</mm:ResponseCode><mm:Folders>{}</mm:Folders></mm:GetFolderResponseMessage>"#,
            folder("AAMkCal", "Calendar", "true", "IPF.Appointment")
        ),
    );
    let message = single_message(&get).unwrap();
    let primary: Vec<CalendarFolder> =
        message.child(Ns::EwsMessages, "Folders").unwrap().children.iter().filter_map(CalendarFolder::read).collect();
    assert_eq!(primary.len(), 1);
    assert_eq!(
        (primary[0].id.as_str(), primary[0].name.as_deref(), primary[0].writable),
        ("AAMkCal", Some("Calendar"), true)
    );
    let found = response(
        "FindFolder",
        &format!(
            r#"<mm:FindFolderResponseMessage ResponseClass="Success"><mm:ResponseCode>NoError</mm:ResponseCode><mm:RootFolder TotalItemsInView="2" IncludesLastItemInRange="true"><tt:Folders>{}{}</tt:Folders></mm:RootFolder></mm:FindFolderResponseMessage>"#,
            folder("AAMkShared", "Team &amp; friends", "false", "IPF.Appointment"),
            folder("AAMkNotes", "Notes", "true", "IPF.StickyNote")
        ),
    );
    let root = single_message(&found).unwrap().child(Ns::EwsMessages, "RootFolder").unwrap();
    let listed: Vec<CalendarFolder> =
        root.child(Ns::EwsTypes, "Folders").unwrap().children.iter().filter_map(CalendarFolder::read).collect();
    assert_eq!(listed.len(), 1, "only calendars");
    assert_eq!((listed[0].name.as_deref(), listed[0].writable), (Some("Team & friends"), false));
}

#[test]
fn a_sync_page_lists_creates_updates_and_deletes_in_order() {
    let page = response(
        "SyncFolderItems",
        r#"<mm:SyncFolderItemsResponseMessage ResponseClass="Success"><mm:ResponseCode>NoError</mm:ResponseCode><mm:SyncState>H4sIAAAA+/==</mm:SyncState><mm:IncludesLastItemInRange>false</mm:IncludesLastItemInRange><mm:Changes><tt:Create><tt:CalendarItem><tt:ItemId Id="A1" ChangeKey="c1"/></tt:CalendarItem></tt:Create><tt:ReadFlagChange><tt:ItemId Id="M9"/><tt:IsRead>true</tt:IsRead></tt:ReadFlagChange><tt:Update><tt:CalendarItem><tt:ItemId Id="B2" ChangeKey="c2"/></tt:CalendarItem></tt:Update><tt:Delete><tt:ItemId Id="C3" ChangeKey="c3"/></tt:Delete></mm:Changes></mm:SyncFolderItemsResponseMessage>"#,
    );
    let (changes, state, last) = super::sync::read_page(single_message(&page).unwrap()).unwrap();
    use super::sync::Change;
    let ids: Vec<String> = changes
        .iter()
        .map(|c| match c {
            Change::Changed(id) => format!("+{}:{}", id.id, id.change_key.as_deref().unwrap_or("")),
            Change::Deleted(id) => format!("-{id}"),
        })
        .collect();
    assert_eq!(ids, ["+A1:c1", "+B2:c2", "-C3"]);
    assert_eq!(state, "H4sIAAAA+/==");
    assert!(!last);
}

const MASTER: &str = r#"<tt:CalendarItem><tt:ItemId Id="M1" ChangeKey="ck-m1"/><tt:Subject>Weekly review; team, all</tt:Subject><tt:Body BodyType="Text">Agenda
first line</tt:Body><tt:DateTimeCreated>2026-04-01T08:00:00Z</tt:DateTimeCreated><tt:LastModifiedTime>2026-04-20T08:00:00Z</tt:LastModifiedTime><tt:Sensitivity>Private</tt:Sensitivity><tt:UID>040000008200E00074C5B7101A82E008</tt:UID><tt:Start>2026-05-04T07:00:00Z</tt:Start><tt:End>2026-05-04T08:00:00Z</tt:End><tt:IsAllDayEvent>false</tt:IsAllDayEvent><tt:LegacyFreeBusyStatus>Busy</tt:LegacyFreeBusyStatus><tt:Location>Room 1</tt:Location><tt:IsCancelled>false</tt:IsCancelled><tt:CalendarItemType>RecurringMaster</tt:CalendarItemType><tt:Organizer><tt:Mailbox><tt:Name>Ada</tt:Name><tt:EmailAddress>ada@corp.example</tt:EmailAddress></tt:Mailbox></tt:Organizer><tt:RequiredAttendees><tt:Attendee><tt:Mailbox><tt:Name>Grace</tt:Name><tt:EmailAddress>grace@corp.example</tt:EmailAddress></tt:Mailbox><tt:ResponseType>Accept</tt:ResponseType></tt:Attendee></tt:RequiredAttendees><tt:OptionalAttendees><tt:Attendee><tt:Mailbox><tt:EmailAddress>alan@corp.example</tt:EmailAddress></tt:Mailbox><tt:ResponseType>Tentative</tt:ResponseType></tt:Attendee></tt:OptionalAttendees><tt:Recurrence><tt:WeeklyRecurrence><tt:Interval>1</tt:Interval><tt:DaysOfWeek>Monday Wednesday</tt:DaysOfWeek></tt:WeeklyRecurrence><tt:EndDateRecurrence><tt:StartDate>2026-05-04Z</tt:StartDate><tt:EndDate>2026-05-20Z</tt:EndDate></tt:EndDateRecurrence></tt:Recurrence><tt:ModifiedOccurrences><tt:Occurrence><tt:ItemId Id="X1" ChangeKey="ck-x1"/><tt:Start>2026-05-06T12:00:00Z</tt:Start><tt:End>2026-05-06T13:00:00Z</tt:End><tt:OriginalStart>2026-05-06T07:00:00Z</tt:OriginalStart></tt:Occurrence></tt:ModifiedOccurrences><tt:DeletedOccurrences><tt:DeletedOccurrence><tt:Start>2026-05-11T07:00:00Z</tt:Start></tt:DeletedOccurrence></tt:DeletedOccurrences><tt:StartTimeZoneId>W. Europe Standard Time</tt:StartTimeZoneId></tt:CalendarItem>"#;

const EXCEPTION: &str = r#"<tt:CalendarItem><tt:ItemId Id="X1" ChangeKey="ck-x1"/><tt:Subject>Weekly review (moved)</tt:Subject><tt:UID>040000008200E00074C5B7101A82E008</tt:UID><tt:RecurrenceId>2026-05-06T07:00:00Z</tt:RecurrenceId><tt:Start>2026-05-06T12:00:00Z</tt:Start><tt:End>2026-05-06T13:00:00Z</tt:End><tt:IsAllDayEvent>false</tt:IsAllDayEvent><tt:CalendarItemType>Exception</tt:CalendarItemType><tt:StartTimeZoneId>W. Europe Standard Time</tt:StartTimeZoneId></tt:CalendarItem>"#;

fn item(xml: &str) -> CalendarItem {
    let answer = response(
        "GetItem",
        &format!(
            r#"<mm:GetItemResponseMessage ResponseClass="Success"><mm:ResponseCode>NoError</mm:ResponseCode><mm:Items>{xml}</mm:Items></mm:GetItemResponseMessage>"#
        ),
    );
    let message = single_message(&answer).unwrap();
    CalendarItem::read(message.child(Ns::EwsMessages, "Items").unwrap().child(Ns::EwsTypes, "CalendarItem").unwrap())
        .unwrap()
}

#[test]
fn a_master_reads_with_its_recurrence_people_and_occurrences() {
    let master = item(MASTER);
    assert_eq!(master.item_type(), ItemType::RecurringMaster);
    assert_eq!(master.id.as_ref().map(|i| (i.id.as_str(), i.change_key.as_deref())), Some(("M1", Some("ck-m1"))));
    assert_eq!(master.body.as_deref(), Some("Agenda\nfirst line"));
    assert_eq!(master.start_zone.as_deref(), Some("W. Europe Standard Time"));
    assert_eq!(
        master.recurrence,
        Some(Recurrence {
            pattern: Pattern::Weekly { interval: 1, days: vec![chrono::Weekday::Mon, chrono::Weekday::Wed] },
            start_date: NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            end: RangeEnd::EndDate(NaiveDate::from_ymd_opt(2026, 5, 20).unwrap()),
        })
    );
    assert_eq!(master.attendees.len(), 2);
    assert!(master.attendees[1].optional);
    assert_eq!(master.modified_occurrences[0].original_start, Some(at("2026-05-06T07:00:00Z")));
    assert_eq!(master.deleted_occurrences, [at("2026-05-11T07:00:00Z")]);
}

#[test]
fn a_series_expands_with_its_moved_and_deleted_occurrences_in_its_own_zone() {
    let master = item(MASTER);
    let exception = item(EXCEPTION);
    let ics = to_ics(&master, std::slice::from_ref(&exception), Tz::UTC).unwrap();
    // Until the end of 20 May in Berlin, in UTC.
    assert!(ics.contains("RRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260520T215959Z\r\n"), "{ics}");
    assert!(ics.contains("DTSTART;TZID=Europe/Berlin:20260504T090000\r\n"), "{ics}");
    assert!(ics.contains("EXDATE:20260511T070000Z\r\n"), "{ics}");
    assert!(ics.contains("SUMMARY:Weekly review\\; team\\, all\r\n"), "{ics}");

    let series = read_series(&master, &[exception], Tz::UTC).unwrap();
    assert_eq!(series.uid, "040000008200E00074C5B7101A82E008");
    let root = series.master.as_ref().unwrap();
    assert!(root.private);
    assert_eq!(
        root.attendees.iter().map(|a| a.status).collect::<Vec<_>>(),
        [AttendeeStatus::Accepted, AttendeeStatus::Tentative]
    );
    let expansion = expand(&series, at("2026-05-01T00:00:00Z"), at("2026-06-01T00:00:00Z"));
    let starts: Vec<(DateTime<Utc>, Option<&str>)> = expansion
        .occurrences
        .iter()
        .filter(|o| !o.event.is_cancelled())
        .map(|o| (o.start.sort_key(), o.event.summary.as_deref()))
        .collect();
    let review = Some("Weekly review; team, all");
    assert_eq!(
        starts,
        [
            (at("2026-05-04T07:00:00Z"), review),
            (at("2026-05-06T12:00:00Z"), Some("Weekly review (moved)")),
            (at("2026-05-13T07:00:00Z"), review),
            (at("2026-05-18T07:00:00Z"), review),
            (at("2026-05-20T07:00:00Z"), review),
        ]
    );
}

#[test]
fn an_all_day_item_is_a_date_in_its_zone() {
    let xml = r#"<tt:CalendarItem><tt:ItemId Id="D1" ChangeKey="k"/><tt:Subject>Holiday</tt:Subject><tt:UID>holiday-1</tt:UID><tt:Start>2026-05-05T22:00:00Z</tt:Start><tt:End>2026-05-06T22:00:00Z</tt:End><tt:IsAllDay>true</tt:IsAllDay><tt:LegacyFreeBusyStatus>Free</tt:LegacyFreeBusyStatus><tt:CalendarItemType>Single</tt:CalendarItemType><tt:StartTimeZoneId>W. Europe Standard Time</tt:StartTimeZoneId></tt:CalendarItem>"#;
    let series = read_series(&item(xml), &[], Tz::UTC).unwrap();
    let master = series.master.unwrap();
    assert_eq!(master.start, EventTime::Date(NaiveDate::from_ymd_opt(2026, 5, 6).unwrap()));
    assert_eq!(master.end, EventTime::Date(NaiveDate::from_ymd_opt(2026, 5, 7).unwrap()));
    assert_eq!(master.transparency, crate::domain::Transparency::Transparent);
    // Without a zone, the profile's zone places it; a few hours off still lands on the day.
    let zoneless = xml.replace("<tt:StartTimeZoneId>W. Europe Standard Time</tt:StartTimeZoneId>", "");
    let series = read_series(&item(&zoneless), &[], Tz::UTC).unwrap();
    assert_eq!(series.master.unwrap().start, EventTime::Date(NaiveDate::from_ymd_opt(2026, 5, 6).unwrap()));
}

#[test]
fn recurrence_patterns_become_rrules() {
    let day = |d| NaiveDate::from_ymd_opt(2026, 5, d).unwrap();
    let series = |recurrence: Recurrence, all_day: bool| {
        let master = CalendarItem {
            id: Some(super::items::ItemId { id: "M".into(), change_key: None }),
            item_type: Some(ItemType::RecurringMaster),
            start: Some(at("2026-05-04T07:00:00Z")),
            end: Some(at("2026-05-04T08:00:00Z")),
            all_day,
            recurrence: Some(recurrence),
            ..CalendarItem::default()
        };
        let ics = to_ics(&master, &[], Tz::UTC).unwrap();
        ics.lines().find_map(|l| l.strip_prefix("RRULE:")).unwrap().to_owned()
    };
    let cases = [
        (Pattern::Daily { interval: 2 }, RangeEnd::Count(5), false, "FREQ=DAILY;INTERVAL=2;COUNT=5"),
        (Pattern::AbsoluteMonthly { interval: 1, day: 4 }, RangeEnd::Never, false, "FREQ=MONTHLY;BYMONTHDAY=4"),
        (
            Pattern::RelativeMonthly { interval: 1, days: vec![chrono::Weekday::Tue], index: WeekIndex::Second },
            RangeEnd::Never,
            false,
            "FREQ=MONTHLY;BYDAY=2TU",
        ),
        (
            Pattern::RelativeMonthly {
                interval: 3,
                days: vec![chrono::Weekday::Sat, chrono::Weekday::Sun],
                index: WeekIndex::Last,
            },
            RangeEnd::Never,
            false,
            "FREQ=MONTHLY;INTERVAL=3;BYDAY=SA,SU;BYSETPOS=-1",
        ),
        (Pattern::AbsoluteYearly { day: 4, month: 5 }, RangeEnd::Never, false, "FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=4"),
        (
            Pattern::Weekly { interval: 1, days: vec![chrono::Weekday::Mon] },
            RangeEnd::EndDate(day(25)),
            false,
            "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260525T235959Z",
        ),
        (
            Pattern::Weekly { interval: 1, days: vec![chrono::Weekday::Mon] },
            RangeEnd::EndDate(day(25)),
            true,
            "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260525",
        ),
    ];
    for (pattern, end, all_day, expected) in cases {
        let rule = series(Recurrence { pattern, start_date: day(4), end }, all_day);
        assert_eq!(rule, expected);
    }
}

#[test]
fn rules_calsync_writes_become_ews_recurrences_and_read_back_the_same() {
    let start = EventTime::Instant { at: at("2026-05-04T07:00:00Z"), tzid: Some(chrono_tz::Europe::Berlin) };
    for rule in [
        "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6",
        "FREQ=DAILY;INTERVAL=2",
        "FREQ=MONTHLY;BYMONTHDAY=4",
        "FREQ=MONTHLY;BYDAY=-1FR",
        "FREQ=YEARLY;BYMONTH=5;BYMONTHDAY=4",
    ] {
        let recurrence = recurrence(rule, &start).unwrap();
        let master = CalendarItem {
            id: Some(super::items::ItemId { id: "M".into(), change_key: None }),
            item_type: Some(ItemType::RecurringMaster),
            start: Some(at("2026-05-04T07:00:00Z")),
            end: Some(at("2026-05-04T08:00:00Z")),
            start_zone: Some("Europe/Berlin".into()),
            recurrence: Some(recurrence.clone()),
            ..CalendarItem::default()
        };
        let ics = to_ics(&master, &[], Tz::UTC).unwrap();
        assert!(ics.contains(&format!("RRULE:{rule}\r\n")), "{rule}: {ics}");
        let xml = recurrence_xml(&recurrence);
        assert!(xml.starts_with("<t:Recurrence><t:"), "{xml}");
    }
    let weekly = recurrence_xml(&recurrence("FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20260531T215959Z", &start).unwrap());
    assert_eq!(
        weekly,
        "<t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek>\
         </t:WeeklyRecurrence><t:EndDateRecurrence><t:StartDate>2026-05-04</t:StartDate><t:EndDate>2026-05-31</t:EndDate>\
         </t:EndDateRecurrence></t:Recurrence>"
    );
    for unsupported in
        ["FREQ=WEEKLY;BYHOUR=9", "FREQ=MONTHLY;BYDAY=MO,TU", "FREQ=HOURLY", "FREQ=DAILY;COUNT=2;UNTIL=20260601"]
    {
        assert!(recurrence(unsupported, &start).is_err(), "{unsupported}");
    }
}

#[test]
fn a_partner_event_is_written_in_schema_order_with_its_uid() {
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:calsync-abc\r\nDTSTAMP:20260501T000000Z\r\nDTSTART:20260504T090000Z\r\nDTEND:20260504T100000Z\r\nSUMMARY:Plan <b> & do\r\nLOCATION:Room 2\r\nATTENDEE;CN=Grace:mailto:grace@corp.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let series = parse_resource(ics, Tz::UTC).unwrap();
    let fields = ItemFields::from_component(series.master.as_ref().unwrap(), &series.uid).unwrap();
    let xml = fields.item_xml();
    let order = [
        "<t:Subject>",
        "<t:Sensitivity>",
        "<t:Body",
        "<t:UID>",
        "<t:Start>",
        "<t:End>",
        "<t:IsAllDayEvent>",
        "<t:LegacyFreeBusyStatus>",
        "<t:Location>",
        "<t:RequiredAttendees>",
    ];
    let positions: Vec<usize> =
        order.iter().map(|tag| xml.find(tag).unwrap_or_else(|| panic!("{tag} in {xml}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{xml}");
    assert!(xml.contains("<t:Subject>Plan &lt;b&gt; &amp; do</t:Subject>"), "{xml}");
    assert!(xml.contains("<t:UID>calsync-abc</t:UID><t:Start>2026-05-04T09:00:00Z</t:Start>"), "{xml}");
    // A UTC time is shown in UTC.
    assert!(xml.ends_with(r#"<t:StartTimeZone Id="UTC"/><t:EndTimeZone Id="UTC"/></t:CalendarItem>"#), "{xml}");
    assert_eq!(fields.invitations(), "SendToAllAndSaveCopy");
}

/// The fields of a partner event's single VEVENT.
fn fields_of(vevent: &str) -> ItemFields {
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:calsync-abc\r\nDTSTAMP:20260501T000000Z\r\n{vevent}SUMMARY:Review\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let series = parse_resource(&ics, Tz::UTC).unwrap();
    ItemFields::from_component(series.master.as_ref().unwrap(), &series.uid).unwrap()
}

const LONDON_WEEKLY: &str = "DTSTART;TZID=Europe/London:20260323T090000\r\nDTEND;TZID=Europe/London:20260323T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\n";

#[test]
fn a_zoned_series_is_created_with_its_windows_zones_after_its_recurrence() {
    let fields = fields_of(LONDON_WEEKLY);
    assert_eq!((fields.start_zone.as_str(), fields.end_zone.as_str()), ("GMT Standard Time", "GMT Standard Time"));
    assert_eq!(
        fields.create_xml("AAMkCal&1"),
        concat!(
            r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:FolderId Id="AAMkCal&amp;1"/>"#,
            r#"</m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Review</t:Subject>"#,
            r#"<t:Sensitivity>Normal</t:Sensitivity><t:Body BodyType="Text"></t:Body><t:UID>calsync-abc</t:UID>"#,
            "<t:Start>2026-03-23T09:00:00Z</t:Start><t:End>2026-03-23T10:00:00Z</t:End>",
            "<t:IsAllDayEvent>false</t:IsAllDayEvent><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus>",
            "<t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday</t:DaysOfWeek>",
            "</t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2026-03-23</t:StartDate></t:NoEndRecurrence>",
            r#"</t:Recurrence><t:StartTimeZone Id="GMT Standard Time"/><t:EndTimeZone Id="GMT Standard Time"/>"#,
            "</t:CalendarItem></m:Items></m:CreateItem>",
        )
    );
}

#[test]
fn an_update_sets_the_zones_before_the_times_they_are_read_with() {
    let berlin = "DTSTART;TZID=Europe/Berlin:20260504T090000\r\nDTEND;TZID=Europe/London:20260504T090000\r\n";
    let fields = fields_of(berlin);
    let set = |uri: &str, xml: &str| {
        format!(
            r#"<t:SetItemField><t:FieldURI FieldURI="{uri}"/><t:CalendarItem>{xml}</t:CalendarItem></t:SetItemField>"#
        )
    };
    let delete = |uri: &str| format!(r#"<t:DeleteItemField><t:FieldURI FieldURI="{uri}"/></t:DeleteItemField>"#);
    let updates = [
        set("item:Subject", "<t:Subject>Review</t:Subject>"),
        set("item:Sensitivity", "<t:Sensitivity>Normal</t:Sensitivity>"),
        set("item:Body", r#"<t:Body BodyType="Text"></t:Body>"#),
        set("calendar:StartTimeZone", r#"<t:StartTimeZone Id="W. Europe Standard Time"/>"#),
        set("calendar:EndTimeZone", r#"<t:EndTimeZone Id="GMT Standard Time"/>"#),
        set("calendar:Start", "<t:Start>2026-05-04T07:00:00Z</t:Start>"),
        set("calendar:End", "<t:End>2026-05-04T08:00:00Z</t:End>"),
        set("calendar:IsAllDayEvent", "<t:IsAllDayEvent>false</t:IsAllDayEvent>"),
        set("calendar:LegacyFreeBusyStatus", "<t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus>"),
        delete("calendar:Location"),
        delete("calendar:RequiredAttendees"),
        delete("calendar:Recurrence"),
    ]
    .concat();
    let expected = |item_id: &str| {
        format!(
            r#"<m:UpdateItem ConflictResolution="NeverOverwrite" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange>{item_id}<t:Updates>{updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        )
    };
    assert_eq!(fields.update_xml("AAMk1", Some("ck\"1")), expected(r#"<t:ItemId Id="AAMk1" ChangeKey="ck&quot;1"/>"#));
    assert_eq!(fields.update_xml("AAMk1", None), expected(r#"<t:ItemId Id="AAMk1"/>"#));
}

#[test]
fn all_day_events_utc_times_and_zones_windows_cannot_name_are_written_in_utc() {
    // All-day: the dates as UTC midnights, in UTC.
    let holiday = fields_of("DTSTART;VALUE=DATE:20260506\r\nDTEND;VALUE=DATE:20260507\r\n");
    assert!(holiday.all_day);
    assert_eq!((holiday.start, holiday.end), (at("2026-05-06T00:00:00Z"), at("2026-05-07T00:00:00Z")));
    assert_eq!((holiday.start_zone.as_str(), holiday.end_zone.as_str()), ("UTC", "UTC"));
    let utc = fields_of("DTSTART:20260506T090000Z\r\nDTEND:20260506T100000Z\r\n");
    assert_eq!((utc.start_zone.as_str(), utc.end_zone.as_str()), ("UTC", "UTC"));
    // Troll (UTC+2 in summer) has no Windows id: UTC, and the series' days are UTC days too, so
    // the pattern starts on the day Exchange will count from.
    let troll = fields_of(
        "DTSTART;TZID=Antarctica/Troll:20260506T010000\r\nDTEND;TZID=Antarctica/Troll:20260506T020000\r\nRRULE:FREQ=DAILY;COUNT=2\r\n",
    );
    assert_eq!((troll.start_zone.as_str(), troll.end_zone.as_str()), ("UTC", "UTC"));
    assert_eq!(troll.start, at("2026-05-05T23:00:00Z"));
    assert_eq!(troll.recurrence.unwrap().start_date, NaiveDate::from_ymd_opt(2026, 5, 5).unwrap());
}

#[test]
fn the_lookup_for_an_earlier_create_covers_the_first_occurrence_with_a_margin() {
    let single = fields_of("DTSTART:20260506T090000Z\r\nDTEND:20260506T100000Z\r\n");
    assert_eq!(single.lookup_span(), (at("2026-05-05T09:00:00Z"), at("2026-05-07T10:00:00Z")));
    // A series' first occurrence may come on a later day of its first week.
    let series = fields_of(LONDON_WEEKLY);
    assert_eq!(series.lookup_span(), (at("2026-03-22T09:00:00Z"), at("2026-03-31T10:00:00Z")));
}

#[test]
fn autodiscover_prefers_the_external_url_and_an_unknown_address_finds_none() {
    let answer = r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"><User><DisplayName>Ada</DisplayName><AutoDiscoverSMTPAddress>ada@corp.example</AutoDiscoverSMTPAddress></User><Account><AccountType>email</AccountType><Action>settings</Action><Protocol><Type>EXCH</Type><EwsUrl>https://internal.corp.example/EWS/Exchange.asmx</EwsUrl></Protocol><Protocol><Type>EXPR</Type><EwsUrl>https://mail.corp.example/EWS/Exchange.asmx</EwsUrl></Protocol></Account></Response></Autodiscover>"#;
    assert_eq!(ews_url_of(answer.as_bytes()).unwrap().as_deref(), Some("https://mail.corp.example/EWS/Exchange.asmx"));
    let internal_only = answer.replace("<Type>EXPR</Type>", "<Type>WEB</Type>");
    assert_eq!(
        ews_url_of(internal_only.as_bytes()).unwrap().as_deref(),
        Some("https://internal.corp.example/EWS/Exchange.asmx")
    );
    let unknown = r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"><Response><Error Time="1" Id="2"><ErrorCode>500</ErrorCode><Message>The email address can't be found.</Message></Error></Response></Autodiscover>"#;
    assert_eq!(ews_url_of(unknown.as_bytes()).unwrap(), None);
    assert!(matches!(ews_url_of(b"<html/>"), Err(EwsError::Malformed(_))));
}
