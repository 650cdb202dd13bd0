//! Writing items (protocol.md operations 6-8): `CreateItem` in a calendar folder, `UpdateItem`
//! under the ChangeKey the item was last seen with (`NeverOverwrite`: a stale one answers
//! `ErrorIrresolvableConflict`), and `DeleteItem`. Elements go in the schema's order, which EWS
//! validates: Subject, Sensitivity, Body, UID, Start, End, IsAllDayEvent, LegacyFreeBusyStatus,
//! Location, RequiredAttendees, Recurrence, StartTimeZone, EndTimeZone.
//!
//! What calsync writes is a partner event's master component; its RRULE becomes an EWS pattern
//! for the rules the API accepts (daily, weekly on days, monthly on a day or a weekday of the
//! month, yearly on a date, with an interval and a count or an end), and anything else is refused
//! rather than written differently.
//!
//! Times travel in UTC, each with its zone as a Windows id (`StartTimeZone`/`EndTimeZone`, the
//! Exchange 2010+ form): Exchange expands a series at the wall-clock time of its start zone, so a
//! weekly 09:00 Europe/London event stays at 09:00 across daylight-saving changes, and Outlook
//! shows it in that zone. A zone Windows has no id for, a UTC time and an all-day event (dates
//! written as UTC midnights) go as `UTC`.
//!
//! EWS has nothing like Graph's `transactionId` to make a create idempotent, and `calendar:UID`
//! cannot be used in a FindItem restriction. So before creating, [`EwsClient::find_written`]
//! reads the calendar view around the event's first occurrence, which lists each item's UID: an
//! item found there was made by an earlier create whose answer was lost, and is updated instead.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};

use super::client::EwsClient;
use super::errors::EwsError;
use super::fetch::ItemRef;
use super::items::{ItemId, ItemType, MONTHS, Pattern, RangeEnd, Recurrence, WEEKDAYS, WeekIndex};
use super::soap::single_message;
use crate::domain::{EventTime, Transparency};
use crate::ical::{Component, windows_zone};
use crate::providers::caldav::xml::{Element, Ns, escape};

/// Why a component cannot be written as an item.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unwritable {
    #[error("the event's recurrence cannot be written to Exchange")]
    Recurrence,
    #[error("the event's excluded or extra dates cannot be written to Exchange")]
    ExtraDates,
}

/// The fields calsync writes to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFields {
    pub subject: String,
    pub body: String,
    pub private: bool,
    pub uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub all_day: bool,
    pub free: bool,
    pub location: Option<String>,
    /// Attendees' addresses and names.
    pub attendees: Vec<(String, Option<String>)>,
    pub recurrence: Option<Recurrence>,
    /// The Windows ids of the zones the start and the end are shown in; a series recurs at the
    /// wall-clock time of its start zone.
    pub start_zone: String,
    pub end_zone: String,
}

/// How far before the first occurrence and after its end the calendar view looking for an
/// earlier write of the event reaches: an all-day item placed a few hours off is still found.
const LOOKUP_MARGIN: Duration = Duration::days(1);
/// How much further the view reaches for a series: Exchange's first occurrence is the first day
/// of the pattern, which for a weekly rule may come up to six days after the event's start.
const LOOKUP_SERIES_REACH: Duration = Duration::days(7);

fn utc(time: &EventTime) -> DateTime<Utc> {
    match time {
        EventTime::Instant { at, .. } => *at,
        EventTime::Date(day) => day.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_default(),
    }
}

/// The day a time falls on where it is shown: its zone's local date, UTC without one.
fn local_day(time: &EventTime) -> NaiveDate {
    match time {
        EventTime::Date(day) => *day,
        EventTime::Instant { at, tzid: Some(zone) } => at.with_timezone(zone).date_naive(),
        EventTime::Instant { at, tzid: None } => at.date_naive(),
    }
}

/// A time as Exchange will show it: the Windows id of its zone, and the time with the zone it
/// will be shown in (UTC in place of a zone Windows has no id for, so that a series' days are
/// counted where Exchange counts them).
fn shown(time: &EventTime) -> (&'static str, EventTime) {
    match time {
        EventTime::Instant { at, tzid: Some(zone) } => match windows_zone(*zone) {
            Some(id) => (id, time.clone()),
            None => {
                tracing::warn!(tzid = zone.name(), "the event's zone has no Windows id; it is written in UTC");
                ("UTC", EventTime::Instant { at: *at, tzid: None })
            }
        },
        EventTime::Instant { tzid: None, .. } | EventTime::Date(_) => ("UTC", time.clone()),
    }
}

impl ItemFields {
    /// The fields for a component, with `uid` as the item's UID (so the sync recognises it).
    pub fn from_component(component: &Component, uid: &str) -> Result<Self, Unwritable> {
        if !component.exdates.is_empty() || !component.rdates.is_empty() {
            return Err(Unwritable::ExtraDates);
        }
        let (start_zone, start) = shown(&component.start);
        // An end given without a zone (in UTC, or as a duration) is shown in the start's zone.
        let end_zone = match &component.end {
            EventTime::Instant { tzid: None, .. } => start_zone,
            end => shown(end).0,
        };
        let recurrence = component.rrule.as_deref().map(|rule| recurrence(rule, &start)).transpose()?;
        Ok(ItemFields {
            subject: component.summary.clone().unwrap_or_default(),
            body: component.description.clone().unwrap_or_default(),
            private: component.private,
            uid: uid.to_owned(),
            start: utc(&component.start),
            end: utc(&component.end),
            all_day: matches!(component.start, EventTime::Date(_)),
            free: component.transparency == Transparency::Transparent,
            location: component.location.as_ref().and_then(|l| l.description.clone()).filter(|l| !l.is_empty()),
            attendees: component.attendees.iter().map(|a| (a.email.clone(), a.display_name.clone())).collect(),
            recurrence,
            start_zone: start_zone.to_owned(),
            end_zone: end_zone.to_owned(),
        })
    }

    /// Each field as the `t:` element(s) `UpdateItem` sets, with its FieldURI; `None` for a field
    /// to delete. `UID` is fixed at creation and not among them. The zones come before the times:
    /// Exchange keeps an item's local times when its zone changes, so a zone set after the times
    /// would move them (Microsoft's own example sets the zones first).
    fn updates(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("item:Subject", Some(element("Subject", &self.subject))),
            ("item:Sensitivity", Some(element("Sensitivity", sensitivity(self.private)))),
            ("item:Body", Some(body(&self.body))),
            ("calendar:StartTimeZone", Some(zone("StartTimeZone", &self.start_zone))),
            ("calendar:EndTimeZone", Some(zone("EndTimeZone", &self.end_zone))),
            ("calendar:Start", Some(element("Start", &time(self.start)))),
            ("calendar:End", Some(element("End", &time(self.end)))),
            ("calendar:IsAllDayEvent", Some(element("IsAllDayEvent", if self.all_day { "true" } else { "false" }))),
            ("calendar:LegacyFreeBusyStatus", Some(element("LegacyFreeBusyStatus", free_busy(self.free)))),
            ("calendar:Location", self.location.as_deref().map(|l| element("Location", l))),
            ("calendar:RequiredAttendees", (!self.attendees.is_empty()).then(|| attendees(&self.attendees))),
            ("calendar:Recurrence", self.recurrence.as_ref().map(recurrence_xml)),
        ]
    }

    /// The whole `t:CalendarItem` for `CreateItem`.
    pub(super) fn item_xml(&self) -> String {
        let mut xml = String::from("<t:CalendarItem>");
        xml.push_str(&element("Subject", &self.subject));
        xml.push_str(&element("Sensitivity", sensitivity(self.private)));
        xml.push_str(&body(&self.body));
        xml.push_str(&element("UID", &self.uid));
        xml.push_str(&element("Start", &time(self.start)));
        xml.push_str(&element("End", &time(self.end)));
        xml.push_str(&element("IsAllDayEvent", if self.all_day { "true" } else { "false" }));
        xml.push_str(&element("LegacyFreeBusyStatus", free_busy(self.free)));
        if let Some(location) = &self.location {
            xml.push_str(&element("Location", location));
        }
        if !self.attendees.is_empty() {
            xml.push_str(&attendees(&self.attendees));
        }
        if let Some(recurrence) = &self.recurrence {
            xml.push_str(&recurrence_xml(recurrence));
        }
        xml.push_str(&zone("StartTimeZone", &self.start_zone));
        xml.push_str(&zone("EndTimeZone", &self.end_zone));
        xml.push_str("</t:CalendarItem>");
        xml
    }

    /// The `m:CreateItem` request making the item in `folder`.
    pub(super) fn create_xml(&self, folder: &str) -> String {
        format!(
            r#"<m:CreateItem SendMeetingInvitations="{}"><m:SavedItemFolderId><t:FolderId Id="{}"/></m:SavedItemFolderId><m:Items>{}</m:Items></m:CreateItem>"#,
            self.invitations(),
            escape(folder),
            self.item_xml()
        )
    }

    /// The `m:UpdateItem` request replacing the item's fields, under `change_key` when known.
    pub(super) fn update_xml(&self, id: &str, change_key: Option<&str>) -> String {
        let mut updates = String::new();
        for (uri, value) in self.updates() {
            match value {
                Some(xml) => updates.push_str(&format!(
                    r#"<t:SetItemField><t:FieldURI FieldURI="{uri}"/><t:CalendarItem>{xml}</t:CalendarItem></t:SetItemField>"#
                )),
                None => updates.push_str(&format!(r#"<t:DeleteItemField><t:FieldURI FieldURI="{uri}"/></t:DeleteItemField>"#)),
            }
        }
        let change_key = change_key.map(|ck| format!(r#" ChangeKey="{}""#, escape(ck))).unwrap_or_default();
        format!(
            r#"<m:UpdateItem ConflictResolution="NeverOverwrite" SendMeetingInvitationsOrCancellations="{}"><m:ItemChanges><t:ItemChange><t:ItemId Id="{}"{change_key}/><t:Updates>{updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#,
            self.invitations(),
            escape(id)
        )
    }

    /// The span the calendar view looking for an earlier write of the item covers.
    pub(super) fn lookup_span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let reach = if self.recurrence.is_some() { LOOKUP_SERIES_REACH } else { Duration::zero() };
        (self.start - LOOKUP_MARGIN, self.end.max(self.start) + LOOKUP_MARGIN + reach)
    }

    pub(super) fn invitations(&self) -> &'static str {
        if self.attendees.is_empty() { "SendToNone" } else { "SendToAllAndSaveCopy" }
    }
}

fn element(name: &str, value: &str) -> String {
    format!("<t:{name}>{}</t:{name}>", escape(value))
}

/// A `t:StartTimeZone`/`t:EndTimeZone` naming a Windows zone by id; Exchange 2010 and later
/// fill in the zone's rules themselves.
fn zone(name: &str, id: &str) -> String {
    format!(r#"<t:{name} Id="{}"/>"#, escape(id))
}

fn body(text: &str) -> String {
    format!(r#"<t:Body BodyType="Text">{}</t:Body>"#, escape(text))
}

fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn sensitivity(private: bool) -> &'static str {
    if private { "Private" } else { "Normal" }
}

fn free_busy(free: bool) -> &'static str {
    if free { "Free" } else { "Busy" }
}

fn attendees(list: &[(String, Option<String>)]) -> String {
    let mut xml = String::from("<t:RequiredAttendees>");
    for (email, name) in list {
        xml.push_str("<t:Attendee><t:Mailbox>");
        if let Some(name) = name {
            xml.push_str(&element("Name", name));
        }
        xml.push_str(&element("EmailAddress", email));
        xml.push_str("</t:Mailbox></t:Attendee>");
    }
    xml.push_str("</t:RequiredAttendees>");
    xml
}

fn weekday_name(day: Weekday) -> &'static str {
    WEEKDAYS.iter().find(|(d, _)| *d == day).map_or("Monday", |(_, name)| name)
}

fn days_xml(days: &[Weekday]) -> String {
    let names: Vec<&str> = days.iter().map(|d| weekday_name(*d)).collect();
    element("DaysOfWeek", &names.join(" "))
}

fn month_name(month: u32) -> &'static str {
    MONTHS.get(month.saturating_sub(1) as usize).copied().unwrap_or("January")
}

/// A `t:Recurrence` element.
pub(crate) fn recurrence_xml(recurrence: &Recurrence) -> String {
    let interval = |n: u32| element("Interval", &n.to_string());
    let pattern = match &recurrence.pattern {
        Pattern::Daily { interval: n } => format!("<t:DailyRecurrence>{}</t:DailyRecurrence>", interval(*n)),
        Pattern::Weekly { interval: n, days } => {
            format!("<t:WeeklyRecurrence>{}{}</t:WeeklyRecurrence>", interval(*n), days_xml(days))
        }
        Pattern::AbsoluteMonthly { interval: n, day } => format!(
            "<t:AbsoluteMonthlyRecurrence>{}{}</t:AbsoluteMonthlyRecurrence>",
            interval(*n),
            element("DayOfMonth", &day.to_string())
        ),
        Pattern::RelativeMonthly { interval: n, days, index } => format!(
            "<t:RelativeMonthlyRecurrence>{}{}{}</t:RelativeMonthlyRecurrence>",
            interval(*n),
            days_xml(days),
            element("DayOfWeekIndex", index.name())
        ),
        Pattern::AbsoluteYearly { day, month } => format!(
            "<t:AbsoluteYearlyRecurrence>{}{}</t:AbsoluteYearlyRecurrence>",
            element("DayOfMonth", &day.to_string()),
            element("Month", month_name(*month))
        ),
        Pattern::RelativeYearly { days, index, month } => format!(
            "<t:RelativeYearlyRecurrence>{}{}{}</t:RelativeYearlyRecurrence>",
            days_xml(days),
            element("DayOfWeekIndex", index.name()),
            element("Month", month_name(*month))
        ),
    };
    let start = element("StartDate", &recurrence.start_date.format("%Y-%m-%d").to_string());
    let range = match recurrence.end {
        RangeEnd::Never => format!("<t:NoEndRecurrence>{start}</t:NoEndRecurrence>"),
        RangeEnd::EndDate(last) => format!(
            "<t:EndDateRecurrence>{start}{}</t:EndDateRecurrence>",
            element("EndDate", &last.format("%Y-%m-%d").to_string())
        ),
        RangeEnd::Count(count) => format!(
            "<t:NumberedRecurrence>{start}{}</t:NumberedRecurrence>",
            element("NumberOfOccurrences", &count.to_string())
        ),
    };
    format!("<t:Recurrence>{pattern}{range}</t:Recurrence>")
}

fn weekday_code(code: &str) -> Option<Weekday> {
    Some(match code {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

/// `2TU` / `-1FR` as a week index and a weekday.
fn positioned_day(code: &str) -> Option<(WeekIndex, Weekday)> {
    let split = code.len().checked_sub(2)?;
    let (position, day) = code.split_at(split);
    let index = match position.trim_start_matches('+') {
        "1" => WeekIndex::First,
        "2" => WeekIndex::Second,
        "3" => WeekIndex::Third,
        "4" => WeekIndex::Fourth,
        "-1" => WeekIndex::Last,
        _ => return None,
    };
    Some((index, weekday_code(day)?))
}

/// The EWS recurrence for an RRULE of a series starting at `start`.
pub(super) fn recurrence(rule: &str, start: &EventTime) -> Result<Recurrence, Unwritable> {
    let parts: BTreeMap<&str, &str> = rule.split(';').filter_map(|p| p.split_once('=')).collect();
    if parts.keys().any(|k| !matches!(*k, "FREQ" | "INTERVAL" | "BYDAY" | "BYMONTHDAY" | "BYMONTH" | "COUNT" | "UNTIL"))
    {
        return Err(Unwritable::Recurrence);
    }
    let first = local_day(start);
    let interval: u32 = parts.get("INTERVAL").map_or(Ok(1), |n| n.parse()).map_err(|_| Unwritable::Recurrence)?;
    let number = |key: &str, default: u32| -> Result<u32, Unwritable> {
        parts.get(key).map_or(Ok(default), |n| n.parse().map_err(|_| Unwritable::Recurrence))
    };
    let by_day = parts.get("BYDAY").map(|list| list.split(',').collect::<Vec<_>>());
    let pattern = match (parts.get("FREQ").copied(), by_day.as_deref()) {
        (Some("DAILY"), None) if !parts.contains_key("BYMONTHDAY") && !parts.contains_key("BYMONTH") => {
            Pattern::Daily { interval }
        }
        (Some("WEEKLY"), days) if !parts.contains_key("BYMONTHDAY") && !parts.contains_key("BYMONTH") => {
            let days = match days {
                None => vec![first.weekday()],
                Some(codes) => {
                    codes.iter().map(|c| weekday_code(c)).collect::<Option<_>>().ok_or(Unwritable::Recurrence)?
                }
            };
            Pattern::Weekly { interval, days }
        }
        (Some("MONTHLY"), None) if !parts.contains_key("BYMONTH") => {
            Pattern::AbsoluteMonthly { interval, day: number("BYMONTHDAY", first.day())? }
        }
        (Some("MONTHLY"), Some([one])) if !parts.contains_key("BYMONTHDAY") && !parts.contains_key("BYMONTH") => {
            let (index, day) = positioned_day(one).ok_or(Unwritable::Recurrence)?;
            Pattern::RelativeMonthly { interval, days: vec![day], index }
        }
        (Some("YEARLY"), None) if interval == 1 => Pattern::AbsoluteYearly {
            day: number("BYMONTHDAY", first.day())?,
            month: number("BYMONTH", first.month())?,
        },
        (Some("YEARLY"), Some([one])) if interval == 1 && !parts.contains_key("BYMONTHDAY") => {
            let (index, day) = positioned_day(one).ok_or(Unwritable::Recurrence)?;
            Pattern::RelativeYearly { days: vec![day], index, month: number("BYMONTH", first.month())? }
        }
        _ => return Err(Unwritable::Recurrence),
    };
    let end = match (parts.get("COUNT"), parts.get("UNTIL")) {
        (Some(count), None) => RangeEnd::Count(count.parse().map_err(|_| Unwritable::Recurrence)?),
        (None, Some(until)) => RangeEnd::EndDate(until_day(until, start).ok_or(Unwritable::Recurrence)?),
        (None, None) => RangeEnd::Never,
        (Some(_), Some(_)) => return Err(Unwritable::Recurrence),
    };
    Ok(Recurrence { pattern, start_date: first, end })
}

/// The last day an UNTIL lets an occurrence start on, in the series' zone.
fn until_day(until: &str, start: &EventTime) -> Option<NaiveDate> {
    if until.len() == 8 {
        return NaiveDate::parse_from_str(until, "%Y%m%d").ok();
    }
    let at = chrono::NaiveDateTime::parse_from_str(until.trim_end_matches('Z'), "%Y%m%dT%H%M%S").ok()?.and_utc();
    Some(local_day(&match start {
        EventTime::Instant { tzid, .. } => EventTime::Instant { at, tzid: *tzid },
        EventTime::Date(_) => EventTime::Instant { at, tzid: None },
    }))
}

/// The item id a `CreateItem` or `UpdateItem` response message names.
fn written_id(message: &Element) -> Result<ItemId, EwsError> {
    message
        .child(Ns::EwsMessages, "Items")
        .and_then(|items| items.children.iter().find_map(|item| item.child(Ns::EwsTypes, "ItemId")))
        .and_then(ItemId::read)
        .ok_or_else(|| EwsError::Malformed("the write returned no item id".into()))
}

impl EwsClient {
    /// Creates an item in `folder`; meeting invitations go out when it has attendees.
    #[tracing::instrument(skip_all)]
    pub async fn create_item(&self, folder: &str, fields: &ItemFields) -> Result<ItemId, EwsError> {
        let response = self.call("CreateItem", &fields.create_xml(folder)).await?;
        written_id(single_message(&response)?)
    }

    /// Replaces the item's fields, only if it still has `change_key` (whatever it has without
    /// one).
    #[tracing::instrument(skip_all)]
    pub async fn update_item(
        &self,
        id: &str,
        change_key: Option<&str>,
        fields: &ItemFields,
    ) -> Result<ItemId, EwsError> {
        let response = self.call("UpdateItem", &fields.update_xml(id, change_key)).await?;
        written_id(single_message(&response)?)
    }

    /// The item of `folder` an earlier create of `fields` made, when there is one: the single
    /// item or recurring master carrying `fields.uid` among those the calendar view lists around
    /// the first occurrence (see the module doc for why a view and not a search). An occurrence
    /// found leads to its master, read with `GetItem` for its id and ChangeKey. Costs one
    /// `FindItem` before every create, and one `GetItem` more when a series is found.
    #[tracing::instrument(skip_all)]
    pub async fn find_written(&self, folder: &str, fields: &ItemFields) -> Result<Option<ItemId>, EwsError> {
        let (from, to) = fields.lookup_span();
        let entries = self.calendar_view(folder, from, to).await?;
        let mut ours = entries.into_iter().filter(|e| e.uid.as_deref() == Some(fields.uid.as_str()));
        let Some(entry) = ours.next() else { return Ok(None) };
        if matches!(entry.item_type, ItemType::Single | ItemType::RecurringMaster) {
            return Ok(Some(entry.id));
        }
        match self.get_items(&[ItemRef::MasterOf(entry.id.id)]).await?.pop() {
            Some(Ok(master)) => Ok(master.id),
            // Deleted since the view listed it.
            Some(Err(EwsError::NotFound)) | None => Ok(None),
            Some(Err(e)) => Err(e),
        }
    }

    /// Moves the item to Deleted Items; one that is already gone counts as deleted.
    #[tracing::instrument(skip_all)]
    pub async fn delete_item(&self, id: &str, change_key: Option<&str>) -> Result<(), EwsError> {
        let change_key = change_key.map(|ck| format!(r#" ChangeKey="{}""#, escape(ck))).unwrap_or_default();
        let body = format!(
            r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{}"{change_key}/></m:ItemIds></m:DeleteItem>"#,
            escape(id)
        );
        let response = self.call("DeleteItem", &body).await?;
        match single_message(&response) {
            Ok(_) | Err(EwsError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
