//! Calendar items as EWS describes them (`t:CalendarItem`, protocol.md operation 4), read
//! leniently: an element with no value is absent, an unknown value falls back to the default.
//! Recurrences are kept as their pattern and range so that they can be turned into an RRULE
//! (reading) and built from one (writing).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc, Weekday};

use super::soap::{flag, text};
use crate::providers::caldav::xml::{Element, Ns};

/// Why an item could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    #[error("the item has no `{0}`")]
    Missing(&'static str),
    #[error("the item's `{0}` is malformed")]
    Malformed(&'static str),
}

/// An item's id and version (`ChangeKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemId {
    pub id: String,
    pub change_key: Option<String>,
}

impl ItemId {
    /// Reads a `t:ItemId`-shaped element.
    pub fn read(element: &Element) -> Option<Self> {
        let id = element.attribute("Id").filter(|id| !id.is_empty())?;
        Some(ItemId { id: id.to_owned(), change_key: element.attribute("ChangeKey").map(str::to_owned) })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    Single,
    Occurrence,
    Exception,
    RecurringMaster,
}

impl ItemType {
    fn parse(text: &str) -> Self {
        match text {
            "Occurrence" => ItemType::Occurrence,
            "Exception" => ItemType::Exception,
            "RecurringMaster" => ItemType::RecurringMaster,
            _ => ItemType::Single,
        }
    }
}

/// A mailbox named in an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: Option<String>,
    pub email: String,
}

/// An attendee and their answer (`ResponseType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttendeeEntry {
    pub person: Person,
    pub response: Option<String>,
    pub optional: bool,
}

/// A modified occurrence as its master lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OccurrenceRef {
    pub id: ItemId,
    pub start: Option<DateTime<Utc>>,
    pub original_start: Option<DateTime<Utc>>,
}

/// Which weekday of the month a relative pattern means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeekIndex {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

impl WeekIndex {
    pub fn position(self) -> i8 {
        match self {
            WeekIndex::First => 1,
            WeekIndex::Second => 2,
            WeekIndex::Third => 3,
            WeekIndex::Fourth => 4,
            WeekIndex::Last => -1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            WeekIndex::First => "First",
            WeekIndex::Second => "Second",
            WeekIndex::Third => "Third",
            WeekIndex::Fourth => "Fourth",
            WeekIndex::Last => "Last",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "First" => WeekIndex::First,
            "Second" => WeekIndex::Second,
            "Third" => WeekIndex::Third,
            "Fourth" => WeekIndex::Fourth,
            "Last" => WeekIndex::Last,
            _ => return None,
        })
    }
}

/// A recurrence pattern (`t:DailyRecurrence`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Daily {
        interval: u32,
    },
    Weekly {
        interval: u32,
        days: Vec<Weekday>,
    },
    AbsoluteMonthly {
        interval: u32,
        day: u32,
    },
    /// `days` holds one weekday, or the group `Day`, `Weekday` or `WeekendDay` stands for.
    RelativeMonthly {
        interval: u32,
        days: Vec<Weekday>,
        index: WeekIndex,
    },
    AbsoluteYearly {
        day: u32,
        month: u32,
    },
    RelativeYearly {
        days: Vec<Weekday>,
        index: WeekIndex,
        month: u32,
    },
}

/// How a recurrence ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEnd {
    Never,
    /// The last day an occurrence may start on, in the series' zone.
    EndDate(NaiveDate),
    Count(u32),
}

/// A master's `t:Recurrence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub pattern: Pattern,
    pub start_date: NaiveDate,
    pub end: RangeEnd,
}

/// One `t:CalendarItem` as GetItem returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CalendarItem {
    pub id: Option<ItemId>,
    pub item_type: Option<ItemType>,
    pub uid: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub location: Option<String>,
    pub sensitivity: Option<String>,
    pub free_busy: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub all_day: bool,
    pub cancelled: bool,
    pub recurrence_id: Option<DateTime<Utc>>,
    pub created: Option<DateTime<Utc>>,
    pub last_modified: Option<DateTime<Utc>>,
    /// A Windows zone name, e.g. "W. Europe Standard Time".
    pub start_zone: Option<String>,
    pub organizer: Option<Person>,
    pub attendees: Vec<AttendeeEntry>,
    pub recurrence: Option<Recurrence>,
    pub modified_occurrences: Vec<OccurrenceRef>,
    /// Original starts of the deleted occurrences.
    pub deleted_occurrences: Vec<DateTime<Utc>>,
}

impl CalendarItem {
    pub fn item_type(&self) -> ItemType {
        self.item_type.unwrap_or(ItemType::Single)
    }

    /// Reads a `t:CalendarItem`.
    pub fn read(element: &Element) -> Result<Self, ItemError> {
        let time = |name: &'static str| -> Result<Option<DateTime<Utc>>, ItemError> {
            text(element, name).map(|t| instant(&t).ok_or(ItemError::Malformed(name))).transpose()
        };
        let body = element.child(Ns::EwsTypes, "Body").map(|b| b.text.trim().to_owned()).filter(|b| !b.is_empty());
        let recurrence = element.child(Ns::EwsTypes, "Recurrence").map(read_recurrence).transpose()?;
        let attendees = ["RequiredAttendees", "OptionalAttendees"]
            .into_iter()
            .flat_map(|list| {
                let optional = list == "OptionalAttendees";
                element
                    .child(Ns::EwsTypes, list)
                    .into_iter()
                    .flat_map(|l| l.children_named(Ns::EwsTypes, "Attendee"))
                    .filter_map(move |a| {
                        let person = a.child(Ns::EwsTypes, "Mailbox").and_then(read_person)?;
                        Some(AttendeeEntry { person, response: text(a, "ResponseType"), optional })
                    })
            })
            .collect();
        let modified_occurrences = element
            .child(Ns::EwsTypes, "ModifiedOccurrences")
            .into_iter()
            .flat_map(|list| list.children_named(Ns::EwsTypes, "Occurrence"))
            .filter_map(|o| {
                Some(OccurrenceRef {
                    id: o.child(Ns::EwsTypes, "ItemId").and_then(ItemId::read)?,
                    start: text(o, "Start").and_then(|t| instant(&t)),
                    original_start: text(o, "OriginalStart").and_then(|t| instant(&t)),
                })
            })
            .collect();
        let deleted_occurrences = element
            .child(Ns::EwsTypes, "DeletedOccurrences")
            .into_iter()
            .flat_map(|list| list.children_named(Ns::EwsTypes, "DeletedOccurrence"))
            .filter_map(|o| text(o, "Start").and_then(|t| instant(&t)))
            .collect();
        Ok(CalendarItem {
            id: element.child(Ns::EwsTypes, "ItemId").and_then(ItemId::read),
            item_type: text(element, "CalendarItemType").map(|t| ItemType::parse(&t)),
            uid: text(element, "UID"),
            subject: text(element, "Subject"),
            body,
            location: text(element, "Location"),
            sensitivity: text(element, "Sensitivity"),
            free_busy: text(element, "LegacyFreeBusyStatus"),
            start: time("Start")?,
            end: time("End")?,
            // The schema's name is IsAllDayEvent; IsAllDay is read too.
            all_day: flag(element, "IsAllDayEvent") || flag(element, "IsAllDay"),
            cancelled: flag(element, "IsCancelled"),
            recurrence_id: time("RecurrenceId")?,
            created: time("DateTimeCreated")?,
            last_modified: time("LastModifiedTime")?,
            start_zone: text(element, "StartTimeZoneId").or_else(|| {
                element.child(Ns::EwsTypes, "StartTimeZone").and_then(|z| z.attribute("Id")).map(str::to_owned)
            }),
            organizer: element
                .child(Ns::EwsTypes, "Organizer")
                .and_then(|o| o.child(Ns::EwsTypes, "Mailbox"))
                .and_then(read_person),
            attendees,
            recurrence,
            modified_occurrences,
            deleted_occurrences,
        })
    }
}

fn read_person(mailbox: &Element) -> Option<Person> {
    let email = text(mailbox, "EmailAddress")?;
    Some(Person { name: text(mailbox, "Name"), email })
}

/// An EWS `xs:dateTime`: UTC with `Z` as asked for, an offset, or (leniently) no zone read as UTC.
pub(super) fn instant(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.to_utc());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc())
}

/// An EWS `xs:date`: `2026-05-05`, optionally followed by `Z` or an offset, which is ignored.
pub(super) fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

pub(crate) const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "Monday"),
    (Weekday::Tue, "Tuesday"),
    (Weekday::Wed, "Wednesday"),
    (Weekday::Thu, "Thursday"),
    (Weekday::Fri, "Friday"),
    (Weekday::Sat, "Saturday"),
    (Weekday::Sun, "Sunday"),
];

pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `"Monday Wednesday"`, or one of the groups relative patterns use.
fn weekdays(text: &str) -> Option<Vec<Weekday>> {
    let all = || WEEKDAYS.iter().map(|(d, _)| *d);
    let mut days = Vec::new();
    for word in text.split_whitespace() {
        match word {
            "Day" => days.extend(all()),
            "Weekday" => days.extend(all().take(5)),
            "WeekendDay" => days.extend([Weekday::Sat, Weekday::Sun]),
            name => days.push(WEEKDAYS.iter().find(|(_, n)| *n == name)?.0),
        }
    }
    (!days.is_empty()).then_some(days)
}

fn read_recurrence(element: &Element) -> Result<Recurrence, ItemError> {
    let malformed = || ItemError::Malformed("Recurrence");
    let number = |e: &Element, name: &str| -> Result<u32, ItemError> {
        text(e, name).and_then(|t| t.parse().ok()).ok_or_else(malformed)
    };
    let interval = |e: &Element| -> Result<u32, ItemError> {
        text(e, "Interval").map_or(Ok(1), |t| t.parse().map_err(|_| malformed())).map(|n: u32| n.max(1))
    };
    let month = |e: &Element| -> Result<u32, ItemError> {
        let name = text(e, "Month").ok_or_else(malformed)?;
        MONTHS.iter().position(|m| *m == name).map(|i| i as u32 + 1).ok_or_else(malformed)
    };
    let days = |e: &Element| text(e, "DaysOfWeek").and_then(|t| weekdays(&t)).ok_or_else(malformed);
    let index = |e: &Element| text(e, "DayOfWeekIndex").and_then(|t| WeekIndex::parse(&t)).ok_or_else(malformed);
    let mut pattern = None;
    let mut range = None;
    for part in element.children.iter().filter(|c| c.ns == Ns::EwsTypes) {
        match part.name.as_str() {
            "DailyRecurrence" => pattern = Some(Pattern::Daily { interval: interval(part)? }),
            "WeeklyRecurrence" => pattern = Some(Pattern::Weekly { interval: interval(part)?, days: days(part)? }),
            "AbsoluteMonthlyRecurrence" => {
                pattern = Some(Pattern::AbsoluteMonthly { interval: interval(part)?, day: number(part, "DayOfMonth")? })
            }
            "RelativeMonthlyRecurrence" => {
                pattern =
                    Some(Pattern::RelativeMonthly { interval: interval(part)?, days: days(part)?, index: index(part)? })
            }
            "AbsoluteYearlyRecurrence" => {
                pattern = Some(Pattern::AbsoluteYearly { day: number(part, "DayOfMonth")?, month: month(part)? })
            }
            "RelativeYearlyRecurrence" => {
                pattern = Some(Pattern::RelativeYearly { days: days(part)?, index: index(part)?, month: month(part)? })
            }
            "NoEndRecurrence" | "EndDateRecurrence" | "NumberedRecurrence" => {
                let start = text(part, "StartDate").and_then(|t| date(&t)).ok_or_else(malformed)?;
                let end = match part.name.as_str() {
                    "EndDateRecurrence" => {
                        RangeEnd::EndDate(text(part, "EndDate").and_then(|t| date(&t)).ok_or_else(malformed)?)
                    }
                    "NumberedRecurrence" => RangeEnd::Count(number(part, "NumberOfOccurrences")?),
                    _ => RangeEnd::Never,
                };
                range = Some((start, end));
            }
            // Regeneration patterns belong to tasks; anything else is not a calendar pattern.
            _ => return Err(malformed()),
        }
    }
    let (pattern, (start_date, end)) = pattern.zip(range).ok_or_else(malformed)?;
    Ok(Recurrence { pattern, start_date, end })
}
