//! A fake Exchange for the end-to-end tests: one loopback HTTP server that speaks the Exchange Web
//! Services subset calsync uses, as pinned in `shared/src/providers/ews/protocol.md` (SOAP 1.1 with
//! the Exchange 2013 SP1 schema: GetFolder, FindFolder, SyncFolderItems, GetItem, FindItem with a
//! CalendarView, CreateItem, UpdateItem, DeleteItem), POX Autodiscover, HTTP Basic auth and a
//! service account's impersonation of mailboxes, scripted from Rust. Production code is written
//! against Microsoft's documentation and runs against this fake, so the fake keeps Microsoft's
//! element names, response codes, message texts and fault shapes. It reads requests by namespace
//! and local name, never by prefix, refuses any body with a DOCTYPE (400, once authenticated), and
//! refuses what Exchange's schema validation refuses among the things it reads: a `CalendarItem`
//! child that is unknown or out of schema order, an unknown FieldURI, a value outside an
//! enumeration (HTTP 500, SOAP fault ErrorSchemaValidation).
//!
//! Where `protocol.md` and Microsoft's schema (types.xsd, Exchange 2013 SP1) could be read
//! differently, the fake follows the schema: the all-day flag is `t:IsAllDayEvent` (FieldURI
//! `calendar:IsAllDayEvent`), not `t:IsAllDay`; and in `t:CalendarItem` (ItemType's sequence, then
//! CalendarItemType's) `t:Sensitivity` comes before `t:Body`, and `t:StartTimeZone` and
//! `t:EndTimeZone` after `t:Recurrence`. A request with `t:IsAllDay`, or with these out of order,
//! gets the ErrorSchemaValidation fault Exchange would answer.
//!
//! Time zones are Windows ids, as Exchange 2010 and later take them (`t:StartTimeZone Id="GMT
//! Standard Time"` and `t:EndTimeZone Id`, FieldURIs `calendar:StartTimeZone` and
//! `calendar:EndTimeZone`; or `t:StartTimeZoneId`). The fake knows each Windows id by the IANA
//! zone CLDR names for it (`WINDOWS_ZONES`) and reads only the `Id` (a full definition's Periods
//! and Transitions are ignored); an id it does not know answers ErrorTimeZone for that item. As
//! Exchange does, setting an item's zone in UpdateItem without its times keeps its local start
//! (or end) time and moves the UTC one; changes apply in order, so a Start set after the zone in
//! the same ItemChange wins, and one set before it is moved (clients send the zones first, as
//! Microsoft's example does).
//!
//! Where Exchange does more, the fake does less rather than invent behaviour:
//! - Recurrence: the four absolute patterns only (daily, weekly, absolute monthly, absolute
//!   yearly; relative and regenerating patterns answer ErrorInvalidRequest), with the three
//!   ranges. **A series recurs at the wall-clock time of its start zone**: an occurrence starts on
//!   each pattern date (a date in that zone) at the master's local time of day there, so a weekly
//!   09:00 `GMT Standard Time` series is at 09:00 UTC in winter and 08:00 UTC in summer; a master
//!   without a zone expands in UTC. A local time a daylight-saving change skips is read with the
//!   offset before the change (01:30 becomes 02:30 BST), a repeated one is its first occurrence.
//!   Weeks start on `FirstDayOfWeek` (Sunday when absent); a day of month past the month's end
//!   falls on its last day. A master's Start is kept as sent (not moved to the first occurrence),
//!   and all-day items keep the times sent (no snapping to midnight in a zone). Changing a
//!   master's recurrence drops its exceptions and deleted occurrences; changing its times or its
//!   zone keeps them.
//! - Folders: the mailbox's calendar and its direct sub-calendars only. `DistinguishedFolderId`
//!   knows only `calendar` (a `Mailbox` child is ignored); folder shapes are ignored (every folder
//!   answer has the same fields); FindFolder does not page; folder change keys never change.
//! - Ids are opaque; any id the fake does not hold answers ErrorItemNotFound (no
//!   ErrorInvalidIdMalformed), ids of another mailbox are not found, `OccurrenceItemId`
//!   (instance indexes) is not supported (ErrorItemNotFound), `RecurringMasterItemId` resolves
//!   occurrence and exception ids only.
//! - Shapes: `Default` is treated as `AllProperties`; `ExtendedFieldURI`/`IndexedFieldURI` are
//!   ignored; FindItem never returns Body, Recurrence or the occurrence lists, and without a
//!   CalendarView lists the folder's items unexpanded and unpaged. Bodies are stored with the type
//!   sent and never converted between HTML and Text.
//! - Meetings: nothing is sent to anyone; `SendMeetingInvitations`,
//!   `SendMeetingInvitationsOrCancellations` and `SendMeetingCancellations` are required where
//!   Exchange requires them and recorded ([`CalendarItem::meeting_invitations`], [`Request::operation_attributes`]);
//!   attendees keep the response type they were given. The organizer is the mailbox owner unless
//!   [`FakeExchange::put_item`] says otherwise.
//! - UpdateItem: `AutoResolve` behaves like `NeverOverwrite` (a stale ChangeKey is a conflict
//!   unless `AlwaysOverwrite`); no AppendToItemField. CreateItem needs Start and End
//!   (ErrorInvalidRequest without), ignores read-only elements rather than refusing them, and lets
//!   two items of a folder share a UID.
//! - SyncFolderItems: no `Ignore`, no `ReadFlagChange`, no hierarchy sync; no notifications
//!   (push, pull or streaming) at all; no SOAP Autodiscover (`GetUserSettings`).
//! - Auth and limits: Basic only (no NTLM, Negotiate or OAuth); impersonation by
//!   `PrimarySmtpAddress` (or `SmtpAddress`) only, both failures as SOAP faults; `X-AnchorMailbox`
//!   and `RequestServerVersion` are recorded, not required; throttling happens only when scripted
//!   ([`FakeExchange::server_busy_next`]); `TimeZoneContext` is ignored and times are answered in UTC.
//!
//! An answer can be lost when scripted ([`FakeExchange::lose_next_answers`]): the next requests
//! for an operation take effect, but are answered HTTP 504 with an empty body, as a proxy in front
//! of Exchange does when it stops waiting for an answer Exchange then completes. The client cannot
//! tell whether its change was made.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, MutexGuard},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveDateTime, Offset, SubsecRound, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;

/// Where the fake serves EWS under its base URL: Exchange's conventional path.
pub const EWS_PATH: &str = "/EWS/Exchange.asmx";
/// Where the fake serves POX Autodiscover under its base URL.
pub const AUTODISCOVER_PATH: &str = "/autodiscover/autodiscover.xml";

const SOAP_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const TYPES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const MESSAGES_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
const ERRORS_NS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";
const AUTODISCOVER_REQUEST_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
const AUTODISCOVER_RESPONSE_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
const OUTLOOK_RESPONSE_NS: &str = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
const XML_CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// SyncFolderItems' `MaxChangesReturned` is 1 to 512 in the schema.
const MAX_SYNC_CHANGES: usize = 512;
/// Deepest element nesting the request reader accepts.
const MAX_DEPTH: usize = 100;
/// Most pattern steps one expansion takes (a daily pattern over 270 years).
const MAX_PATTERN_STEPS: u32 = 100_000;
/// Exchange's folder class of calendars and item class of calendar items.
const FOLDER_CLASS: &str = "IPF.Appointment";
const ITEM_CLASS: &str = "IPM.Appointment";

/// One request the fake received, as the tests inspect it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path as sent.
    pub path: String,
    /// The SOAP operation: the local name of the first element in `soap:Body` (`GetItem`), when
    /// the body was read that far. None for Autodiscover.
    pub operation: Option<String>,
    /// The operation element's attributes by local name (`SendMeetingInvitations`,
    /// `ConflictResolution`, `Traversal`, `DeleteType`…).
    pub operation_attributes: Vec<(String, String)>,
    /// `RequestServerVersion/@Version` of the SOAP header.
    pub server_version: Option<String>,
    /// The mailbox the request acted on (its address as added), when it got that far.
    pub mailbox: Option<String>,
    /// Whether it acted on that mailbox through `ExchangeImpersonation`.
    pub impersonated: bool,
    /// The user name of the Basic credentials, as sent.
    pub user: Option<String>,
    /// The `X-AnchorMailbox` header.
    pub anchor_mailbox: Option<String>,
    pub content_type: Option<String>,
    /// The body, as text.
    pub body: String,
}

/// A person on an item: organizer or attendee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attendee {
    pub name: String,
    pub email: String,
    /// Unknown, Organizer, Tentative, Accept, Decline or NoResponseReceived.
    pub response_type: String,
}

impl Attendee {
    /// An attendee who has not answered (`Unknown`).
    pub fn new(name: &str, email: &str) -> Self {
        Attendee { name: name.to_owned(), email: email.to_owned(), response_type: "Unknown".to_owned() }
    }
}

/// A recurrence pattern of the four the fake expands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    Daily {
        interval: u32,
    },
    /// `first_day_of_week` decides where an `interval` > 1 counts weeks from (Sunday when None).
    Weekly {
        interval: u32,
        days: Vec<Weekday>,
        first_day_of_week: Option<Weekday>,
    },
    AbsoluteMonthly {
        interval: u32,
        day_of_month: u32,
    },
    /// `month` is 1 to 12.
    AbsoluteYearly {
        day_of_month: u32,
        month: u32,
    },
}

/// How long a pattern runs; dates are the pattern's own, in the master's start zone (UTC without
/// one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecurrenceRange {
    NoEnd { start: NaiveDate },
    EndDate { start: NaiveDate, end: NaiveDate },
    Numbered { start: NaiveDate, count: u32 },
}

/// A master's `t:Recurrence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub pattern: Pattern,
    pub range: RecurrenceRange,
}

/// A calendar item as the fake stores it: what [`FakeExchange::put_item`] takes (its server fields
/// are set anew) and what [`FakeExchange::items`] returns. Times are UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarItem {
    /// Set by the fake. `put_item` with the id of an item already in the folder replaces it; with
    /// another id it creates an item with that id.
    pub item_id: String,
    /// Set by the fake: new on every change.
    pub change_key: String,
    pub subject: String,
    pub body: String,
    /// `Text` or `HTML`, as sent.
    pub body_type: String,
    /// Normal, Personal, Private or Confidential.
    pub sensitivity: String,
    pub reminder_is_set: bool,
    /// Generated when empty.
    pub uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub is_all_day: bool,
    /// Free, Tentative, Busy, OOF, WorkingElsewhere or NoData.
    pub legacy_free_busy_status: String,
    pub location: String,
    pub is_cancelled: bool,
    /// None: the mailbox owner.
    pub organizer: Option<Attendee>,
    pub required_attendees: Vec<Attendee>,
    pub optional_attendees: Vec<Attendee>,
    /// Some on a recurring master.
    pub recurrence: Option<Recurrence>,
    /// A Windows zone id (`GMT Standard Time`): where the start is shown, and the zone a master's
    /// occurrences recur in (see the module doc). None: UTC.
    pub start_time_zone_id: Option<String>,
    /// A Windows zone id: where the end is shown (stored only). None: UTC.
    pub end_time_zone_id: Option<String>,
    /// On an exception: the start of the occurrence it replaces.
    pub original_start: Option<DateTime<Utc>>,
    /// On a master: its exceptions, by original start (read-only for `put_item`).
    pub modified_occurrences: Vec<CalendarItem>,
    /// On a master: the original starts of its deleted occurrences (read-only for `put_item`).
    pub deleted_occurrences: Vec<DateTime<Utc>>,
    /// Set by the fake.
    pub created: DateTime<Utc>,
    /// Set by the fake.
    pub last_modified: DateTime<Utc>,
    /// `SendMeetingInvitations` of the CreateItem that made it, or
    /// `SendMeetingInvitationsOrCancellations` of the last UpdateItem that sent one.
    pub meeting_invitations: Option<String>,
}

impl Default for CalendarItem {
    fn default() -> Self {
        CalendarItem {
            item_id: String::new(),
            change_key: String::new(),
            subject: String::new(),
            body: String::new(),
            body_type: "Text".to_owned(),
            sensitivity: "Normal".to_owned(),
            reminder_is_set: true,
            uid: String::new(),
            start: DateTime::default(),
            end: DateTime::default(),
            is_all_day: false,
            legacy_free_busy_status: "Busy".to_owned(),
            location: String::new(),
            is_cancelled: false,
            organizer: None,
            required_attendees: Vec::new(),
            optional_attendees: Vec::new(),
            recurrence: None,
            start_time_zone_id: None,
            end_time_zone_id: None,
            original_start: None,
            modified_occurrences: Vec::new(),
            deleted_occurrences: Vec::new(),
            created: DateTime::default(),
            last_modified: DateTime::default(),
            meeting_invitations: None,
        }
    }
}

impl CalendarItem {
    /// A single item; set the other public fields (or use [`CalendarItem::recurring`]) as needed.
    pub fn new(subject: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        CalendarItem { subject: subject.to_owned(), start, end, ..CalendarItem::default() }
    }

    /// The same item as a recurring master.
    pub fn recurring(self, pattern: Pattern, range: RecurrenceRange) -> Self {
        CalendarItem { recurrence: Some(Recurrence { pattern, range }), ..self }
    }
}

/// A running fake Exchange. Clones share the same server and state.
#[derive(Debug, Clone)]
pub struct FakeExchange {
    /// The base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl FakeExchange {
    /// Starts one on a random loopback port.
    pub async fn start() -> Self {
        let (listener, url) = crate::fake_http::listen().await;
        let shared = Arc::new(Mutex::new(Shared::new(url.clone())));
        crate::fake_http::serve(listener, Router::new().fallback(handle).with_state(shared.clone()));
        FakeExchange { url, shared }
    }

    fn state(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().expect("fake Exchange state")
    }

    /// The EWS endpoint, `{url}/EWS/Exchange.asmx`, which Autodiscover answers too.
    pub fn ews_url(&self) -> String {
        format!("{}{EWS_PATH}", self.url)
    }

    /// The POX Autodiscover endpoint, `{url}/autodiscover/autodiscover.xml`.
    pub fn autodiscover_url(&self) -> String {
        format!("{}{AUTODISCOVER_PATH}", self.url)
    }

    /// An account that signs in with Basic auth as its `username` or its email, and its mailbox
    /// (with the default calendar). Adding an existing address replaces its credentials.
    pub fn add_account(&self, email: &str, password: &str, username: Option<&str>) {
        let mut state = self.state();
        state.ensure_mailbox(email);
        state.accounts.retain(|a| !a.email.eq_ignore_ascii_case(email));
        state.accounts.push(Account {
            email: email.to_owned(),
            password: password.to_owned(),
            username: username.map(str::to_owned),
        });
    }

    /// A mailbox nobody signs in to (reachable by impersonation and known to Autodiscover).
    pub fn add_mailbox(&self, email: &str) {
        self.state().ensure_mailbox(email);
    }

    /// An account with the ApplicationImpersonation right over `mailboxes` (which may be added
    /// before or after).
    pub fn add_service_account(&self, email: &str, password: &str, mailboxes: &[&str]) {
        self.add_account(email, password, None);
        for mailbox in mailboxes {
            self.grant_impersonation(email, mailbox);
        }
    }

    /// Lets `service` impersonate `mailbox`.
    pub fn grant_impersonation(&self, service: &str, mailbox: &str) {
        self.state().grants.insert((key(service), key(mailbox)));
    }

    /// Takes the right back: impersonating `mailbox` then answers ErrorImpersonateUserDenied.
    pub fn revoke_impersonation(&self, service: &str, mailbox: &str) {
        self.state().grants.remove(&(key(service), key(mailbox)));
    }

    /// Changes an account's password (the old one then answers 401). Panics on an unknown account.
    pub fn set_password(&self, email: &str, password: &str) {
        let mut state = self.state();
        let account = state.accounts.iter_mut().find(|a| a.email.eq_ignore_ascii_case(email));
        match account {
            Some(account) => account.password = password.to_owned(),
            None => {
                drop(state);
                panic!("no account {email}: add_account first");
            }
        }
    }

    /// The name Autodiscover and organizers show (the address' local part until set).
    pub fn set_display_name(&self, email: &str, display_name: &str) {
        self.state().ensure_mailbox(email).display_name = display_name.to_owned();
    }

    /// The id of the mailbox's default calendar folder.
    pub fn calendar_id(&self, mailbox: &str) -> String {
        let id = self.state().mailboxes.get(&key(mailbox)).map(|m| m.folders[0].id.clone());
        id.unwrap_or_else(|| panic!("no mailbox {mailbox}: add_account or add_mailbox first"))
    }

    /// Adds a calendar under the mailbox's calendar folder and returns its folder id.
    pub fn add_calendar(&self, mailbox: &str, name: &str, can_edit: bool) -> String {
        let result = self.state().control_mailbox(mailbox).map(|m| {
            let folder = Folder::new(name, Some(0), can_edit);
            let id = folder.id.clone();
            m.folders.push(folder);
            id
        });
        result.unwrap_or_else(|error| panic!("{error}"))
    }

    /// A change made in Outlook: stores a single item or a recurring master in the folder
    /// (a folder id, or `calendar` for the default calendar) and returns its ItemId. The fake sets
    /// the change key, times of creation and change, and the UID when empty.
    pub fn put_item(&self, mailbox: &str, folder: &str, item: CalendarItem) -> String {
        let result = self.state().put_item(mailbox, folder, item);
        result.unwrap_or_else(|error| panic!("{error}"))
    }

    /// A change made in Outlook to one occurrence of a master: it becomes an exception (ItemId
    /// [`FakeExchange::occurrence_id`]) at `start`..`end`, with a new subject when given. Returns
    /// the exception's ItemId. Panics when `original_start` is no occurrence of the master.
    pub fn modify_occurrence(
        &self,
        mailbox: &str,
        master_id: &str,
        original_start: DateTime<Utc>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        subject: Option<&str>,
    ) -> String {
        let result = self.state().modify_occurrence(mailbox, master_id, original_start, start, end, subject);
        result.unwrap_or_else(|error| panic!("{error}"))
    }

    /// A deletion made in Outlook of one occurrence (or exception): it joins DeletedOccurrences.
    pub fn delete_occurrence(&self, mailbox: &str, master_id: &str, original_start: DateTime<Utc>) {
        let result = self.state().delete_occurrence(mailbox, master_id, original_start);
        result.unwrap_or_else(|error| panic!("{error}"))
    }

    /// A deletion made in Outlook of a single item or a whole series.
    pub fn delete_item(&self, mailbox: &str, item_id: &str) {
        let result = self.state().control_delete(mailbox, item_id);
        result.unwrap_or_else(|error| panic!("{error}"))
    }

    /// The single items and masters of a folder (or `calendar`), oldest change first.
    pub fn items(&self, mailbox: &str, folder: &str) -> Vec<CalendarItem> {
        let state = self.state();
        let Some(mailbox) = state.mailboxes.get(&key(mailbox)) else { return Vec::new() };
        let Ok(index) = folder_position(mailbox, folder) else { return Vec::new() };
        let mut stored: Vec<&Stored> = mailbox.folders[index].items.iter().collect();
        stored.sort_by_key(|s| s.stamp);
        stored.into_iter().map(|s| s.item.clone()).collect()
    }

    /// A single item, master or exception of the mailbox by ItemId.
    pub fn item(&self, mailbox: &str, item_id: &str) -> Option<CalendarItem> {
        let state = self.state();
        let mailbox = state.mailboxes.get(&key(mailbox))?;
        mailbox.folders.iter().flat_map(|f| &f.items).find_map(|s| {
            if s.item.item_id == item_id {
                return Some(s.item.clone());
            }
            s.item.modified_occurrences.iter().find(|e| e.item_id == item_id).cloned()
        })
    }

    /// The ItemId of a master's occurrence (or exception) originally starting at `original_start`:
    /// the same every time, as Exchange's are.
    pub fn occurrence_id(&self, master_id: &str, original_start: DateTime<Utc>) -> String {
        occurrence_id(master_id, original_start)
    }

    /// The next `n` EWS requests (after authentication) answer the ErrorServerBusy SOAP fault with
    /// `BackOffMilliseconds` = `backoff_ms`.
    pub fn server_busy_next(&self, n: usize, backoff_ms: u64) {
        self.state().busy = Busy { remaining: n, backoff_ms };
    }

    /// The next `n` EWS requests for `operation` (`CreateItem`…) take effect, but their answers
    /// are lost on the way back: the fake answers HTTP 504 Gateway Timeout with an empty body.
    pub fn lose_next_answers(&self, operation: &str, n: usize) {
        self.state().lost = Lost { operation: operation.to_owned(), remaining: n };
    }

    /// Makes every SyncState issued so far unknown: its next use answers ErrorInvalidSyncStateData.
    pub fn invalidate_sync_states(&self) {
        self.state().sync_epoch += 1;
    }

    /// Every request the fake received, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// Requests to the EWS endpoint, counted (Autodiscover's not included).
    pub fn ews_request_count(&self) -> usize {
        self.state().requests.iter().filter(|r| is_ews_path(&r.path)).count()
    }

    /// EWS requests for one operation (`SyncFolderItems`, `GetItem`…), counted.
    pub fn operation_count(&self, operation: &str) -> usize {
        let state = self.state();
        state.requests.iter().filter(|r| is_ews_path(&r.path) && r.operation.as_deref() == Some(operation)).count()
    }
}

// State

#[derive(Debug)]
struct Shared {
    url: String,
    accounts: Vec<Account>,
    /// By lower-case address.
    mailboxes: HashMap<String, Mailbox>,
    /// (service account, mailbox), lower case.
    grants: HashSet<(String, String)>,
    busy: Busy,
    lost: Lost,
    /// Part of every SyncState; [`FakeExchange::invalidate_sync_states`] moves it on.
    sync_epoch: u64,
    requests: Vec<Request>,
}

#[derive(Debug)]
struct Account {
    email: String,
    password: String,
    username: Option<String>,
}

#[derive(Debug, Default)]
struct Busy {
    remaining: usize,
    backoff_ms: u64,
}

/// Answers to lose: see [`FakeExchange::lose_next_answers`].
#[derive(Debug, Default)]
struct Lost {
    operation: String,
    remaining: usize,
}

impl Lost {
    /// Whether the answer to this `operation` is lost (and one fewer is left to lose).
    fn take(&mut self, operation: &str) -> bool {
        let lose = self.remaining > 0 && self.operation == operation;
        if lose {
            self.remaining -= 1;
        }
        lose
    }
}

#[derive(Debug)]
struct Mailbox {
    email: String,
    display_name: String,
    /// The message folder root, the default calendar's parent.
    root_id: String,
    root_change_key: String,
    /// The default calendar first, then its sub-calendars.
    folders: Vec<Folder>,
}

impl Mailbox {
    fn new(email: &str) -> Self {
        Mailbox {
            email: email.to_owned(),
            display_name: email.split('@').next().unwrap_or(email).to_owned(),
            root_id: new_folder_id(),
            root_change_key: new_change_key(),
            folders: vec![Folder::new("Calendar", None, true)],
        }
    }
}

#[derive(Debug)]
struct Folder {
    id: String,
    change_key: String,
    name: String,
    /// The index of the parent folder in the mailbox; None for the default calendar (the root).
    parent: Option<usize>,
    can_edit: bool,
    /// The change counter SyncStates are made of: every change moves it on and stamps the item.
    counter: u64,
    items: Vec<Stored>,
    tombstones: Vec<Tombstone>,
}

#[derive(Debug)]
struct Stored {
    item: CalendarItem,
    /// The counter at its last change.
    stamp: u64,
    /// The counter at its creation (a change after a state is a Create when this is after it).
    created_stamp: u64,
}

#[derive(Debug)]
struct Tombstone {
    id: String,
    change_key: String,
    stamp: u64,
    created_stamp: u64,
}

impl Folder {
    fn new(name: &str, parent: Option<usize>, can_edit: bool) -> Self {
        Folder {
            id: new_folder_id(),
            change_key: new_change_key(),
            name: name.to_owned(),
            parent,
            can_edit,
            counter: 0,
            items: Vec::new(),
            tombstones: Vec::new(),
        }
    }

    fn tick(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// Stores a new item (its id, UID and server fields already set) and returns its id.
    fn insert(&mut self, item: CalendarItem) -> String {
        let stamp = self.tick();
        let id = item.item_id.clone();
        self.tombstones.retain(|t| t.id != id);
        self.items.push(Stored { item, stamp, created_stamp: stamp });
        id
    }

    /// Replaces the item at `index` with a changed version; returns its id and new change key.
    fn replace(&mut self, index: usize, mut item: CalendarItem) -> (String, String) {
        let stamp = self.tick();
        item.change_key = new_change_key();
        item.last_modified = now();
        let stored = &mut self.items[index];
        stored.item = item;
        stored.stamp = stamp;
        (stored.item.item_id.clone(), stored.item.change_key.clone())
    }

    fn remove(&mut self, index: usize) {
        let stored = self.items.remove(index);
        let stamp = self.tick();
        self.tombstones.push(Tombstone {
            id: stored.item.item_id,
            change_key: stored.item.change_key,
            stamp,
            created_stamp: stored.created_stamp,
        });
    }

    /// Stores an exception of the master at `index` (a change of the master too); returns the
    /// exception's id and change key.
    fn save_exception(&mut self, index: usize, mut exception: CalendarItem) -> (String, String) {
        let stamp = self.tick();
        let now = now();
        exception.change_key = new_change_key();
        exception.last_modified = now;
        let answer = (exception.item_id.clone(), exception.change_key.clone());
        let stored = &mut self.items[index];
        let master = &mut stored.item;
        master.modified_occurrences.retain(|e| e.original_start != exception.original_start);
        master.modified_occurrences.push(exception);
        master.modified_occurrences.sort_by_key(|e| e.original_start);
        master.change_key = new_change_key();
        master.last_modified = now;
        stored.stamp = stamp;
        answer
    }

    fn delete_occurrence(&mut self, index: usize, original: DateTime<Utc>) {
        let stamp = self.tick();
        let stored = &mut self.items[index];
        let master = &mut stored.item;
        master.modified_occurrences.retain(|e| e.original_start != Some(original));
        if !master.deleted_occurrences.contains(&original) {
            master.deleted_occurrences.push(original);
            master.deleted_occurrences.sort();
        }
        master.change_key = new_change_key();
        master.last_modified = now();
        stored.stamp = stamp;
    }
}

/// Where an ItemId points: a single item or master, or an occurrence (exception or not) of a
/// master.
#[derive(Debug, Clone, Copy)]
enum Found {
    Item { folder: usize, index: usize },
    Occurrence { folder: usize, index: usize, original: DateTime<Utc> },
}

impl Found {
    fn position(self) -> (usize, usize) {
        match self {
            Found::Item { folder, index } | Found::Occurrence { folder, index, .. } => (folder, index),
        }
    }

    /// The master of an occurrence; None for anything else.
    fn master(self) -> Option<Found> {
        match self {
            Found::Occurrence { folder, index, .. } => Some(Found::Item { folder, index }),
            Found::Item { .. } => None,
        }
    }
}

fn key(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

fn is_ews_path(path: &str) -> bool {
    path.eq_ignore_ascii_case(EWS_PATH)
}

fn folder_position(mailbox: &Mailbox, folder: &str) -> Result<usize, String> {
    if folder.eq_ignore_ascii_case("calendar") {
        return Ok(0);
    }
    let index = mailbox.folders.iter().position(|f| f.id == folder);
    index.ok_or_else(|| format!("no folder {folder} in {}", mailbox.email))
}

/// The folder and index of a single item or master by id.
fn locate(mailbox: &Mailbox, item_id: &str) -> Option<(usize, usize)> {
    mailbox
        .folders
        .iter()
        .enumerate()
        .find_map(|(folder, f)| f.items.iter().position(|s| s.item.item_id == item_id).map(|index| (folder, index)))
}

/// A new exception of `master` for the occurrence originally at `original`, before any change.
fn new_exception(master: &CalendarItem, original: DateTime<Utc>) -> CalendarItem {
    CalendarItem {
        item_id: occurrence_id(&master.item_id, original),
        start: original,
        end: original + (master.end - master.start),
        recurrence: None,
        original_start: Some(original),
        modified_occurrences: Vec::new(),
        deleted_occurrences: Vec::new(),
        ..master.clone()
    }
}

impl Shared {
    fn new(url: String) -> Self {
        Shared {
            url,
            accounts: Vec::new(),
            mailboxes: HashMap::new(),
            grants: HashSet::new(),
            busy: Busy::default(),
            lost: Lost::default(),
            sync_epoch: 0,
            requests: Vec::new(),
        }
    }

    fn ensure_mailbox(&mut self, email: &str) -> &mut Mailbox {
        self.mailboxes.entry(key(email)).or_insert_with(|| Mailbox::new(email.trim()))
    }

    fn control_mailbox(&mut self, mailbox: &str) -> Result<&mut Mailbox, String> {
        let found = self.mailboxes.get_mut(&key(mailbox));
        found.ok_or_else(|| format!("no mailbox {mailbox}: add_account or add_mailbox first"))
    }

    /// The mailbox key of the account the Basic credentials sign in.
    fn authenticate(&self, credentials: Option<&(String, String)>) -> Option<String> {
        let (user, password) = credentials?;
        let account = self.accounts.iter().find(|a| {
            let named = a.email.eq_ignore_ascii_case(user)
                || a.username.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(user));
            named && a.password == *password
        })?;
        Some(key(&account.email))
    }

    // Control

    fn put_item(&mut self, mailbox: &str, folder: &str, mut item: CalendarItem) -> Result<String, String> {
        if item.end < item.start {
            return Err(format!("item {:?}: End is before Start", item.subject));
        }
        if let Some(recurrence) = &item.recurrence {
            validate_recurrence(recurrence).map_err(|error| format!("item {:?}: {error}", item.subject))?;
        }
        for id in [&item.start_time_zone_id, &item.end_time_zone_id].into_iter().flatten() {
            if windows_zone(id).is_none() {
                return Err(format!("item {:?}: {id:?} is no Windows zone id the fake knows", item.subject));
            }
        }
        let mailbox = self.control_mailbox(mailbox)?;
        let target = folder_position(mailbox, folder)?;
        let existing = if item.item_id.is_empty() { None } else { locate(mailbox, &item.item_id) };
        item.original_start = None;
        match existing {
            Some((folder, _)) if folder != target => {
                Err(format!("item {} is in another folder: the fake does not move items", item.item_id))
            }
            Some((folder, index)) => {
                let previous = &mailbox.folders[folder].items[index].item;
                if item.uid.is_empty() {
                    item.uid = previous.uid.clone();
                }
                item.created = previous.created;
                if item.recurrence == previous.recurrence {
                    item.modified_occurrences = previous.modified_occurrences.clone();
                    item.deleted_occurrences = previous.deleted_occurrences.clone();
                } else {
                    item.modified_occurrences.clear();
                    item.deleted_occurrences.clear();
                }
                Ok(mailbox.folders[folder].replace(index, item).0)
            }
            None => {
                if item.item_id.is_empty() {
                    item.item_id = new_item_id();
                }
                if item.uid.is_empty() {
                    item.uid = new_uid();
                }
                let now = now();
                item.modified_occurrences.clear();
                item.deleted_occurrences.clear();
                item.change_key = new_change_key();
                item.created = now;
                item.last_modified = now;
                Ok(mailbox.folders[target].insert(item))
            }
        }
    }

    fn control_master(&mut self, mailbox: &str, master_id: &str) -> Result<(&mut Folder, usize), String> {
        let mailbox = self.control_mailbox(mailbox)?;
        let (folder, index) = locate(mailbox, master_id).ok_or_else(|| format!("no item {master_id}"))?;
        if mailbox.folders[folder].items[index].item.recurrence.is_none() {
            return Err(format!("item {master_id} is not a recurring master"));
        }
        Ok((&mut mailbox.folders[folder], index))
    }

    fn modify_occurrence(
        &mut self,
        mailbox: &str,
        master_id: &str,
        original: DateTime<Utc>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        subject: Option<&str>,
    ) -> Result<String, String> {
        if end < start {
            return Err("the exception's End is before its Start".to_owned());
        }
        let (folder, index) = self.control_master(mailbox, master_id)?;
        let master = &folder.items[index].item;
        if master.deleted_occurrences.contains(&original) {
            return Err(format!("the occurrence at {original} of {master_id} is deleted"));
        }
        let existing = master.modified_occurrences.iter().find(|e| e.original_start == Some(original)).cloned();
        if existing.is_none() && !is_instance(master, original) {
            return Err(format!("{original} is no occurrence of {master_id}"));
        }
        let mut exception = existing.unwrap_or_else(|| new_exception(master, original));
        exception.start = start;
        exception.end = end;
        if let Some(subject) = subject {
            exception.subject = subject.to_owned();
        }
        Ok(folder.save_exception(index, exception).0)
    }

    fn delete_occurrence(&mut self, mailbox: &str, master_id: &str, original: DateTime<Utc>) -> Result<(), String> {
        let (folder, index) = self.control_master(mailbox, master_id)?;
        let master = &folder.items[index].item;
        let known = master.modified_occurrences.iter().any(|e| e.original_start == Some(original))
            || (!master.deleted_occurrences.contains(&original) && is_instance(master, original));
        if !known {
            return Err(format!("{original} is no occurrence of {master_id}"));
        }
        folder.delete_occurrence(index, original);
        Ok(())
    }

    fn control_delete(&mut self, mailbox: &str, item_id: &str) -> Result<(), String> {
        let mailbox = self.control_mailbox(mailbox)?;
        let (folder, index) = locate(mailbox, item_id).ok_or_else(|| format!("no item {item_id}"))?;
        mailbox.folders[folder].remove(index);
        Ok(())
    }

    // Lookups for the operations

    fn mailbox(&self, mailbox: &str) -> &Mailbox {
        self.mailboxes.get(mailbox).expect("a mailbox the request resolved")
    }

    fn mailbox_mut(&mut self, mailbox: &str) -> &mut Mailbox {
        self.mailboxes.get_mut(mailbox).expect("a mailbox the request resolved")
    }

    /// The folder a `t:FolderId` or `t:DistinguishedFolderId` names in the mailbox.
    fn resolve_folder(&self, mailbox: &str, id: &Node) -> Result<usize, Failure> {
        if id.is(TYPES_NS, "DistinguishedFolderId") {
            return if id.attr("Id") == Some("calendar") { Ok(0) } else { Err(folder_not_found()) };
        }
        if !id.is(TYPES_NS, "FolderId") {
            return Err(folder_not_found());
        }
        let wanted = id.attr("Id").unwrap_or_default();
        if let Some(index) = self.mailbox(mailbox).folders.iter().position(|f| f.id == wanted) {
            return Ok(index);
        }
        if self.mailboxes.values().any(|m| m.folders.iter().any(|f| f.id == wanted)) {
            return Err(access_denied());
        }
        Err(folder_not_found())
    }

    /// What an ItemId names in the mailbox: a single item or master, or a live occurrence or
    /// exception of a master.
    fn find_item(&self, mailbox: &str, id: &str) -> Option<Found> {
        let mailbox = self.mailbox(mailbox);
        if let Some((folder, index)) = locate(mailbox, id) {
            return Some(Found::Item { folder, index });
        }
        let (master_id, original) = parse_occurrence_id(id)?;
        let (folder, index) = locate(mailbox, &master_id)?;
        let master = &mailbox.folders[folder].items[index].item;
        let live = master.recurrence.is_some()
            && !master.deleted_occurrences.contains(&original)
            && (master.modified_occurrences.iter().any(|e| e.original_start == Some(original))
                || is_instance(master, original));
        live.then_some(Found::Occurrence { folder, index, original })
    }

    /// The item an `t:ItemId` or `t:RecurringMasterItemId` element names.
    fn find_target(&self, mailbox: &str, id: &Node) -> Option<Found> {
        if id.ns != TYPES_NS {
            return None;
        }
        match id.name.as_str() {
            "ItemId" => self.find_item(mailbox, id.attr("Id")?),
            "RecurringMasterItemId" => self.find_item(mailbox, id.attr("OccurrenceId")?)?.master(),
            _ => None,
        }
    }

    // HTTP

    fn serve(&mut self, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Response {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let credentials = header("authorization").as_deref().and_then(basic_auth);
        let mut request = Request {
            method: method.to_string(),
            path: uri.path().to_owned(),
            operation: None,
            operation_attributes: Vec::new(),
            server_version: None,
            mailbox: None,
            impersonated: false,
            user: credentials.as_ref().map(|(user, _)| user.clone()),
            anchor_mailbox: header("x-anchormailbox"),
            content_type: header("content-type"),
            body: String::from_utf8_lossy(body).into_owned(),
        };
        let response = if is_ews_path(uri.path()) {
            self.ews(method, credentials.as_ref(), body, &mut request)
        } else if uri.path().eq_ignore_ascii_case(AUTODISCOVER_PATH) {
            self.autodiscover(method, credentials.as_ref(), body)
        } else {
            (StatusCode::NOT_FOUND, "Not Found").into_response()
        };
        self.requests.push(request);
        response
    }

    fn realm(&self) -> String {
        self.url.trim_start_matches("http://").split(':').next().unwrap_or("localhost").to_owned()
    }

    fn ews(
        &mut self,
        method: &Method,
        credentials: Option<&(String, String)>,
        body: &[u8],
        request: &mut Request,
    ) -> Response {
        if method != Method::POST {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        let Some(account) = self.authenticate(credentials) else { return unauthorized(&self.realm()) };
        if has_doctype(body) {
            return doctype_refused();
        }
        let document = match std::str::from_utf8(body) {
            Ok(text) => parse_xml(text),
            Err(_) => Err(XmlError::Syntax("the body is not UTF-8".to_owned())),
        };
        let document = match document {
            Ok(document) => document,
            Err(XmlError::DocType) => return doctype_refused(),
            Err(XmlError::Syntax(error)) => return Fault::schema(&error).into_response(),
        };
        if !document.is(SOAP_NS, "Envelope") {
            let violation = format!(
                "The root element '{}' in namespace '{}' is not a SOAP 1.1 Envelope.",
                document.name, document.ns
            );
            return Fault::schema(&violation).into_response();
        }
        let soap_header = document.child(SOAP_NS, "Header");
        let Some(operation) = document.child(SOAP_NS, "Body").and_then(|b| b.children.first()) else {
            return Fault::schema("The SOAP Body holds no operation.").into_response();
        };
        request.operation = Some(operation.name.clone());
        request.operation_attributes = operation.attributes.clone();
        request.server_version = soap_header
            .and_then(|h| h.child(TYPES_NS, "RequestServerVersion"))
            .and_then(|v| v.attr("Version"))
            .map(str::to_owned);
        if self.busy.remaining > 0 {
            self.busy.remaining -= 1;
            return Fault::server_busy(self.busy.backoff_ms).into_response();
        }

        // The mailbox: the account's own, or the one it impersonates.
        let mailbox = match soap_header.and_then(|h| h.child(TYPES_NS, "ExchangeImpersonation")) {
            None => account,
            Some(impersonation) => {
                let sid = impersonation.child(TYPES_NS, "ConnectingSID");
                let address = sid
                    .and_then(|s| s.child(TYPES_NS, "PrimarySmtpAddress").or_else(|| s.child(TYPES_NS, "SmtpAddress")))
                    .map(Node::value)
                    .unwrap_or_default();
                let wanted = key(address);
                if wanted.is_empty() || !self.mailboxes.contains_key(&wanted) {
                    return Fault::new(
                        "ErrorNonExistentMailbox",
                        "The SMTP address has no mailbox associated with it.",
                    )
                    .into_response();
                }
                if wanted != account && !self.grants.contains(&(account, wanted.clone())) {
                    return Fault::new(
                        "ErrorImpersonateUserDenied",
                        "The account does not have permission to impersonate the requested user.",
                    )
                    .into_response();
                }
                request.impersonated = true;
                wanted
            }
        };
        request.mailbox = Some(self.mailbox(&mailbox).email.clone());

        if operation.ns != MESSAGES_NS {
            return Fault::new("ErrorInvalidRequest", "The request is invalid.").into_response();
        }
        let answer = match operation.name.as_str() {
            "GetFolder" => self.get_folder(&mailbox, operation),
            "FindFolder" => self.find_folder(&mailbox, operation),
            "SyncFolderItems" => self.sync_folder_items(&mailbox, operation),
            "GetItem" => self.get_item(&mailbox, operation),
            "FindItem" => self.find_item_operation(&mailbox, operation),
            "CreateItem" => self.create_item(&mailbox, operation),
            "UpdateItem" => self.update_item(&mailbox, operation),
            "DeleteItem" => self.delete_item(&mailbox, operation),
            _ => Err(Fault::new("ErrorInvalidRequest", "The request is invalid.")),
        };
        match answer {
            // Done, but the answer never reaches the client.
            Ok(_) if self.lost.take(&operation.name) => StatusCode::GATEWAY_TIMEOUT.into_response(),
            Ok(body) => xml_response(StatusCode::OK, envelope(&body)),
            Err(fault) => fault.into_response(),
        }
    }

    // Autodiscover

    fn autodiscover(&mut self, method: &Method, credentials: Option<&(String, String)>, body: &[u8]) -> Response {
        if method != Method::POST {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        if self.authenticate(credentials).is_none() {
            return unauthorized(&self.realm());
        }
        if has_doctype(body) {
            return doctype_refused();
        }
        let document = std::str::from_utf8(body).ok().and_then(|text| parse_xml(text).ok());
        let request = document
            .as_ref()
            .filter(|d| d.is(AUTODISCOVER_REQUEST_NS, "Autodiscover"))
            .and_then(|d| d.child(AUTODISCOVER_REQUEST_NS, "Request"));
        let schema = request.and_then(|r| r.child(AUTODISCOVER_REQUEST_NS, "AcceptableResponseSchema"));
        let address = request.and_then(|r| r.child(AUTODISCOVER_REQUEST_NS, "EMailAddress")).map(Node::value);
        let (Some(address), Some(OUTLOOK_RESPONSE_NS)) = (address, schema.map(Node::value)) else {
            return xml_response(StatusCode::OK, autodiscover_error(600, "Invalid Request"));
        };
        let Some(mailbox) = self.mailboxes.get(&key(address)) else {
            return xml_response(StatusCode::OK, autodiscover_error(500, "The e-mail address cannot be found."));
        };
        let ews = esc(&format!("{}{EWS_PATH}", self.url));
        let protocol = |kind: &str| format!("<Protocol><Type>{kind}</Type><EwsUrl>{ews}</EwsUrl></Protocol>");
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"{AUTODISCOVER_RESPONSE_NS}\"><Response \
             xmlns=\"{OUTLOOK_RESPONSE_NS}\"><User><DisplayName>{}</DisplayName><AutoDiscoverSMTPAddress>{}\
             </AutoDiscoverSMTPAddress></User><Account><AccountType>email</AccountType><Action>settings</Action>{}{}\
             </Account></Response></Autodiscover>",
            esc(&mailbox.display_name),
            esc(&mailbox.email),
            protocol("EXCH"),
            protocol("EXPR"),
        );
        xml_response(StatusCode::OK, body)
    }

    // Operations

    fn get_folder(&self, mailbox: &str, operation: &Node) -> Result<String, Fault> {
        const KIND: &str = "GetFolder";
        let ids = required(operation, MESSAGES_NS, "FolderIds")?;
        let messages: Vec<String> = ids
            .children
            .iter()
            .map(|id| match self.resolve_folder(mailbox, id) {
                Ok(index) => {
                    let folder = render_folder(self.mailbox(mailbox), index);
                    success(KIND, &format!("<m:Folders>{folder}</m:Folders>"))
                }
                Err(failure) => error_message(KIND, &failure, "<m:Folders/>"),
            })
            .collect();
        Ok(operation_response(KIND, &messages))
    }

    fn find_folder(&self, mailbox: &str, operation: &Node) -> Result<String, Fault> {
        const KIND: &str = "FindFolder";
        let traversal = operation.attr("Traversal").ok_or_else(|| missing_attribute("Traversal"))?;
        enumeration(traversal, &["Shallow", "Deep", "SoftDeleted"], "FolderQueryTraversalType")?;
        let parents = required(operation, MESSAGES_NS, "ParentFolderIds")?;
        let messages: Vec<String> = parents
            .children
            .iter()
            .map(|id| match self.resolve_folder(mailbox, id) {
                Ok(parent) => {
                    let owner = self.mailbox(mailbox);
                    let children: Vec<usize> = (0..owner.folders.len())
                        .filter(|i| traversal != "SoftDeleted" && owner.folders[*i].parent == Some(parent))
                        .collect();
                    let folders: String = children.iter().map(|i| render_folder(owner, *i)).collect();
                    let folders = if folders.is_empty() { "<t:Folders/>".to_owned() } else { format!("<t:Folders>{folders}</t:Folders>") };
                    success(
                        KIND,
                        &format!(
                            "<m:RootFolder TotalItemsInView=\"{}\" IncludesLastItemInRange=\"true\">{folders}</m:RootFolder>",
                            children.len()
                        ),
                    )
                }
                Err(failure) => error_message(KIND, &failure, ""),
            })
            .collect();
        Ok(operation_response(KIND, &messages))
    }

    fn sync_folder_items(&self, mailbox: &str, operation: &Node) -> Result<String, Fault> {
        const KIND: &str = "SyncFolderItems";
        let folder_id = required(operation, MESSAGES_NS, "SyncFolderId")?
            .children
            .first()
            .ok_or_else(|| Fault::schema("The element 'SyncFolderId' has incomplete content."))?;
        let max_text = required(operation, MESSAGES_NS, "MaxChangesReturned")?.value();
        let Some(max) = max_text.parse::<usize>().ok().filter(|n| (1..=MAX_SYNC_CHANGES).contains(n)) else {
            return Err(Fault::schema(&format!(
                "The 'http://schemas.microsoft.com/exchange/services/2006/messages:MaxChangesReturned' element is \
                 invalid - The value '{max_text}' is invalid according to its datatype \
                 'http://schemas.microsoft.com/exchange/services/2006/types:MaxSyncChangesReturnedType'."
            )));
        };
        if let Some(scope) = operation.child(MESSAGES_NS, "SyncScope") {
            enumeration(scope.value(), &["NormalItems", "NormalAndAssociatedItems"], "SyncFolderItemsScopeType")?;
        }
        let index = match self.resolve_folder(mailbox, folder_id) {
            Ok(index) => index,
            Err(failure) => {
                let failure = if failure.code == "ErrorFolderNotFound" {
                    Failure::new("ErrorSyncFolderNotFound", "The specified folder could not be found in the store.")
                } else {
                    failure
                };
                return Ok(operation_response(KIND, &[error_message(KIND, &failure, "")]));
            }
        };
        let folder = &self.mailbox(mailbox).folders[index];
        let state = operation.child(MESSAGES_NS, "SyncState").map(Node::value).filter(|s| !s.is_empty());
        let since = match state {
            None => 0,
            Some(state) => match parse_sync_state(state) {
                Some((id, counter, epoch))
                    if id == folder.id && epoch == self.sync_epoch && counter <= folder.counter =>
                {
                    counter
                }
                _ => return Ok(operation_response(KIND, &[error_message(KIND, &invalid_sync_state(), "")])),
            },
        };

        // Every change since the state, in change order: items changed (created or not since) and
        // items deleted that the state knew.
        let mut changes: Vec<(u64, String)> = Vec::new();
        for stored in folder.items.iter().filter(|s| s.stamp > since) {
            let kind = if stored.created_stamp > since { "Create" } else { "Update" };
            let id = item_id_element(&stored.item.item_id, &stored.item.change_key);
            changes.push((stored.stamp, format!("<t:{kind}><t:CalendarItem>{id}</t:CalendarItem></t:{kind}>")));
        }
        for tombstone in folder.tombstones.iter().filter(|t| t.stamp > since && t.created_stamp <= since) {
            let id = item_id_element(&tombstone.id, &tombstone.change_key);
            changes.push((tombstone.stamp, format!("<t:Delete>{id}</t:Delete>")));
        }
        changes.sort_by_key(|(stamp, _)| *stamp);
        let complete = changes.len() <= max;
        changes.truncate(max);
        let counter = if complete { folder.counter } else { changes.last().map_or(since, |(stamp, _)| *stamp) };
        let changes: String = changes.into_iter().map(|(_, xml)| xml).collect();
        let changes =
            if changes.is_empty() { "<m:Changes/>".to_owned() } else { format!("<m:Changes>{changes}</m:Changes>") };
        let body = format!(
            "<m:SyncState>{}</m:SyncState><m:IncludesLastItemInRange>{complete}</m:IncludesLastItemInRange>{changes}",
            sync_state(&folder.id, counter, self.sync_epoch)
        );
        Ok(operation_response(KIND, &[success(KIND, &body)]))
    }

    fn get_item(&self, mailbox: &str, operation: &Node) -> Result<String, Fault> {
        const KIND: &str = "GetItem";
        let shape = Shape::parse(required(operation, MESSAGES_NS, "ItemShape")?, false)?;
        let ids = required(operation, MESSAGES_NS, "ItemIds")?;
        let messages: Vec<String> = ids
            .children
            .iter()
            .map(|id| match self.find_target(mailbox, id) {
                Some(found) => {
                    success(KIND, &format!("<m:Items>{}</m:Items>", self.render_item(mailbox, found, &shape)))
                }
                None => error_message(KIND, &item_not_found(), "<m:Items/>"),
            })
            .collect();
        Ok(operation_response(KIND, &messages))
    }

    fn find_item_operation(&self, mailbox: &str, operation: &Node) -> Result<String, Fault> {
        const KIND: &str = "FindItem";
        let shape = Shape::parse(required(operation, MESSAGES_NS, "ItemShape")?, true)?;
        let parents = required(operation, MESSAGES_NS, "ParentFolderIds")?;
        let mut folders = Vec::new();
        for id in &parents.children {
            match self.resolve_folder(mailbox, id) {
                Ok(index) => folders.push(index),
                Err(failure) => return Ok(operation_response(KIND, &[error_message(KIND, &failure, "")])),
            }
        }
        let owner = self.mailbox(mailbox);
        // (start, end, id, what) of every entry of the view.
        let mut entries: Vec<(DateTime<Utc>, DateTime<Utc>, String, Found)> = Vec::new();
        let view = operation.child(MESSAGES_NS, "CalendarView");
        let max = match view {
            Some(view) => {
                let bound = |name: &str| -> Result<DateTime<Utc>, Fault> {
                    let text = view.attr(name).ok_or_else(|| missing_attribute(name))?;
                    parse_time(text)
                        .ok_or_else(|| invalid_value(name, text, "http://www.w3.org/2001/XMLSchema:dateTime"))
                };
                let (start, end) = (bound("StartDate")?, bound("EndDate")?);
                let max = match view.attr("MaxEntriesReturned") {
                    None => None,
                    Some(text) => Some(text.parse::<usize>().map_err(|_| {
                        invalid_value("MaxEntriesReturned", text, "http://www.w3.org/2001/XMLSchema:int")
                    })?),
                };
                if end < start {
                    return Ok(operation_response(KIND, &[error_message(KIND, &end_before_start(), "")]));
                }
                if start.checked_add_months(Months::new(24)).is_none_or(|limit| end > limit) {
                    return Ok(operation_response(KIND, &[error_message(KIND, &range_too_big(), "")]));
                }
                for &folder in &folders {
                    for (index, stored) in owner.folders[folder].items.iter().enumerate() {
                        let item = &stored.item;
                        if item.recurrence.is_none() {
                            if overlaps(item.start, item.end, start, end) {
                                entries.push((
                                    item.start,
                                    item.end,
                                    item.item_id.clone(),
                                    Found::Item { folder, index },
                                ));
                            }
                            continue;
                        }
                        let duration = item.end - item.start;
                        for original in instance_starts(item, end) {
                            let replaced = item.deleted_occurrences.contains(&original)
                                || item.modified_occurrences.iter().any(|e| e.original_start == Some(original));
                            if !replaced && overlaps(original, original + duration, start, end) {
                                let id = occurrence_id(&item.item_id, original);
                                entries.push((
                                    original,
                                    original + duration,
                                    id,
                                    Found::Occurrence { folder, index, original },
                                ));
                            }
                        }
                        for exception in &item.modified_occurrences {
                            let Some(original) = exception.original_start else { continue };
                            if overlaps(exception.start, exception.end, start, end) {
                                let found = Found::Occurrence { folder, index, original };
                                entries.push((exception.start, exception.end, exception.item_id.clone(), found));
                            }
                        }
                    }
                }
                max
            }
            // Without a view: the folder's items as stored, masters unexpanded.
            None => {
                for &folder in &folders {
                    for (index, stored) in owner.folders[folder].items.iter().enumerate() {
                        let item = &stored.item;
                        entries.push((item.start, item.end, item.item_id.clone(), Found::Item { folder, index }));
                    }
                }
                None
            }
        };
        entries.sort_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        let total = entries.len();
        let complete = max.is_none_or(|max| total <= max);
        let items: String = entries
            .iter()
            .take(max.unwrap_or(total))
            .map(|(_, _, _, found)| self.render_item(mailbox, *found, &shape))
            .collect();
        let items = if items.is_empty() { "<t:Items/>".to_owned() } else { format!("<t:Items>{items}</t:Items>") };
        let body = format!(
            "<m:RootFolder TotalItemsInView=\"{total}\" IncludesLastItemInRange=\"{complete}\">{items}</m:RootFolder>"
        );
        Ok(operation_response(KIND, &[success(KIND, &body)]))
    }

    fn create_item(&mut self, mailbox: &str, operation: &Node) -> Result<String, Fault> {
        const KIND: &str = "CreateItem";
        let invitations = operation.attr("SendMeetingInvitations");
        if let Some(value) = invitations {
            enumeration(
                value,
                &["SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy"],
                "CalendarItemCreateOrDeleteOperationType",
            )?;
        }
        let folder_id = operation.child(MESSAGES_NS, "SavedItemFolderId").and_then(|s| s.children.first());
        let items = required(operation, MESSAGES_NS, "Items")?;
        // Exchange validates the whole request before it creates anything.
        let mut parsed = Vec::new();
        for item in &items.children {
            parsed.push(if item.is(TYPES_NS, "CalendarItem") { Some(ItemFields::parse(item)?) } else { None });
        }
        let folder = match folder_id {
            None => Ok(0),
            Some(id) => self.resolve_folder(mailbox, id),
        };
        let messages: Vec<String> = parsed
            .into_iter()
            .map(|fields| {
                let created = self.create_one(mailbox, folder.clone(), fields, invitations);
                match created {
                    Ok((id, change_key)) => success(
                        KIND,
                        &format!(
                            "<m:Items><t:CalendarItem>{}</t:CalendarItem></m:Items>",
                            item_id_element(&id, &change_key)
                        ),
                    ),
                    Err(failure) => error_message(KIND, &failure, "<m:Items/>"),
                }
            })
            .collect();
        Ok(operation_response(KIND, &messages))
    }

    fn create_one(
        &mut self,
        mailbox: &str,
        folder: Result<usize, Failure>,
        fields: Option<ItemFields>,
        invitations: Option<&str>,
    ) -> Result<(String, String), Failure> {
        let fields = fields.ok_or_else(|| invalid_request("The fake Exchange creates calendar items only."))?;
        let folder = folder?;
        let invitations = invitations.ok_or_else(|| {
            Failure::new(
                "ErrorSendMeetingInvitationsRequired",
                "SendMeetingInvitations attribute is required for Calendar items.",
            )
        })?;
        if !self.mailbox(mailbox).folders[folder].can_edit {
            return Err(access_denied());
        }
        let (Some(start), Some(end)) = (fields.start, fields.end) else {
            return Err(invalid_request("The fake Exchange needs the Start and End of a new calendar item."));
        };
        let now = now();
        let mut item = CalendarItem {
            item_id: new_item_id(),
            change_key: new_change_key(),
            start,
            end,
            created: now,
            last_modified: now,
            meeting_invitations: Some(invitations.to_owned()),
            ..CalendarItem::default()
        };
        fields.apply(&mut item)?;
        if item.end < item.start {
            return Err(end_before_start());
        }
        if item.uid.is_empty() {
            item.uid = new_uid();
        }
        let change_key = item.change_key.clone();
        let id = self.mailbox_mut(mailbox).folders[folder].insert(item);
        Ok((id, change_key))
    }

    fn update_item(&mut self, mailbox: &str, operation: &Node) -> Result<String, Fault> {
        const KIND: &str = "UpdateItem";
        let resolution = operation.attr("ConflictResolution").ok_or_else(|| missing_attribute("ConflictResolution"))?;
        enumeration(resolution, &["NeverOverwrite", "AutoResolve", "AlwaysOverwrite"], "ConflictResolutionType")?;
        let invitations = operation.attr("SendMeetingInvitationsOrCancellations");
        if let Some(value) = invitations {
            enumeration(
                value,
                &[
                    "SendToNone",
                    "SendOnlyToAll",
                    "SendOnlyToChanged",
                    "SendToAllAndSaveCopy",
                    "SendToChangedAndSaveCopy",
                ],
                "CalendarItemUpdateOperationType",
            )?;
        }
        let changes = required(operation, MESSAGES_NS, "ItemChanges")?;
        // Exchange validates the whole request before it changes anything.
        let mut planned = Vec::new();
        for change in changes.children_named(TYPES_NS, "ItemChange") {
            let target = change
                .children
                .iter()
                .find(|c| {
                    c.ns == TYPES_NS
                        && matches!(c.name.as_str(), "ItemId" | "OccurrenceItemId" | "RecurringMasterItemId")
                })
                .ok_or_else(|| Fault::schema("The element 'ItemChange' has incomplete content."))?;
            let updates = required(change, TYPES_NS, "Updates")?;
            let mut list = Vec::new();
            for update in &updates.children {
                let uri = update
                    .child(TYPES_NS, "FieldURI")
                    .and_then(|f| f.attr("FieldURI"))
                    .ok_or_else(|| Fault::schema(&format!("The element '{}' has incomplete content.", update.name)))?;
                let Some(element) = UPDATABLE.iter().find(|(u, _)| *u == uri).map(|(_, e)| *e) else {
                    return Err(field_uri_fault(uri));
                };
                list.push(match update.name.as_str() {
                    "SetItemField" => {
                        let item = required(update, TYPES_NS, "CalendarItem")?;
                        Update::Set { uri: uri.to_owned(), element, fields: Box::new(ItemFields::parse(item)?) }
                    }
                    "DeleteItemField" => Update::Delete { uri: uri.to_owned() },
                    "AppendToItemField" => Update::Append,
                    other => {
                        return Err(Fault::schema(&format!(
                            "The element 'Updates' has invalid child element '{other}'."
                        )));
                    }
                });
            }
            planned.push((target, list));
        }
        let messages: Vec<String> = planned
            .into_iter()
            .map(|(target, updates)| match self.apply_change(mailbox, target, &updates, resolution, invitations) {
                Ok((id, change_key)) => success(
                    KIND,
                    &format!(
                        "<m:Items><t:CalendarItem>{}</t:CalendarItem></m:Items><m:ConflictResults><t:Count>0</t:Count>\
                         </m:ConflictResults>",
                        item_id_element(&id, &change_key)
                    ),
                ),
                Err(failure) => error_message(KIND, &failure, "<m:Items/>"),
            })
            .collect();
        Ok(operation_response(KIND, &messages))
    }

    fn apply_change(
        &mut self,
        mailbox: &str,
        target: &Node,
        updates: &[Update],
        resolution: &str,
        invitations: Option<&str>,
    ) -> Result<(String, String), Failure> {
        let found = self.find_target(mailbox, target).ok_or_else(item_not_found)?;
        let (folder, index) = found.position();
        let folder = &mut self.mailbox_mut(mailbox).folders[folder];
        if !folder.can_edit {
            return Err(access_denied());
        }
        // What the changes apply to: a single item or master, or an occurrence's exception (made
        // from the master when the occurrence has none yet).
        let stored = &folder.items[index].item;
        let (mut item, current_key) = match found {
            Found::Item { .. } => (stored.clone(), stored.change_key.clone()),
            Found::Occurrence { original, .. } => {
                match stored.modified_occurrences.iter().find(|e| e.original_start == Some(original)) {
                    Some(exception) => (exception.clone(), exception.change_key.clone()),
                    None => (new_exception(stored, original), stored.change_key.clone()),
                }
            }
        };
        if target.attr("ChangeKey").is_some_and(|sent| sent != current_key) && resolution != "AlwaysOverwrite" {
            return Err(conflict());
        }
        let occurrence = matches!(found, Found::Occurrence { .. });
        let previous_recurrence = item.recurrence.clone();
        for update in updates {
            update.apply(&mut item, occurrence)?;
        }
        if item.end < item.start {
            return Err(end_before_start());
        }
        if let Some(recurrence) = &item.recurrence {
            validate_recurrence(recurrence).map_err(|text| Failure::new("ErrorCalendarInvalidRecurrence", &text))?;
        }
        if let Some(invitations) = invitations {
            item.meeting_invitations = Some(invitations.to_owned());
        }
        if occurrence {
            return Ok(folder.save_exception(index, item));
        }
        if item.recurrence != previous_recurrence {
            item.modified_occurrences.clear();
            item.deleted_occurrences.clear();
        }
        Ok(folder.replace(index, item))
    }

    fn delete_item(&mut self, mailbox: &str, operation: &Node) -> Result<String, Fault> {
        const KIND: &str = "DeleteItem";
        let delete_type = operation.attr("DeleteType").ok_or_else(|| missing_attribute("DeleteType"))?;
        enumeration(delete_type, &["HardDelete", "SoftDelete", "MoveToDeletedItems"], "DisposalType")?;
        let cancellations = operation.attr("SendMeetingCancellations");
        if let Some(value) = cancellations {
            enumeration(
                value,
                &["SendToNone", "SendOnlyToAll", "SendToAllAndSaveCopy"],
                "CalendarItemCreateOrDeleteOperationType",
            )?;
        }
        let ids = required(operation, MESSAGES_NS, "ItemIds")?;
        let messages: Vec<String> = ids
            .children
            .iter()
            .map(|id| {
                let result = self.delete_one(mailbox, id, cancellations.is_some());
                match result {
                    Ok(()) => success(KIND, ""),
                    Err(failure) => error_message(KIND, &failure, ""),
                }
            })
            .collect();
        Ok(operation_response(KIND, &messages))
    }

    fn delete_one(&mut self, mailbox: &str, id: &Node, cancellations: bool) -> Result<(), Failure> {
        let found = self.find_target(mailbox, id).ok_or_else(item_not_found)?;
        if !cancellations {
            return Err(Failure::new(
                "ErrorSendMeetingCancellationsRequired",
                "SendMeetingCancellations attribute is required for Calendar items.",
            ));
        }
        let (folder, index) = found.position();
        let folder = &mut self.mailbox_mut(mailbox).folders[folder];
        if !folder.can_edit {
            return Err(access_denied());
        }
        match found {
            Found::Item { .. } => folder.remove(index),
            Found::Occurrence { original, .. } => folder.delete_occurrence(index, original),
        }
        Ok(())
    }

    // Rendering

    /// A `t:CalendarItem` with the properties the shape asks for, in schema order.
    fn render_item(&self, mailbox: &str, found: Found, shape: &Shape) -> String {
        let owner = self.mailbox(mailbox);
        let (folder_index, index) = found.position();
        let folder = &owner.folders[folder_index];
        let stored = &folder.items[index].item;
        let (kind, fields, id, change_key, start, end, original) = match found {
            Found::Item { .. } => {
                let kind = if stored.recurrence.is_some() { "RecurringMaster" } else { "Single" };
                (kind, stored, stored.item_id.clone(), &stored.change_key, stored.start, stored.end, None)
            }
            Found::Occurrence { original, .. } => {
                match stored.modified_occurrences.iter().find(|e| e.original_start == Some(original)) {
                    Some(e) => ("Exception", e, e.item_id.clone(), &e.change_key, e.start, e.end, Some(original)),
                    None => {
                        let id = occurrence_id(&stored.item_id, original);
                        let end = original + (stored.end - stored.start);
                        ("Occurrence", stored, id, &stored.change_key, original, end, Some(original))
                    }
                }
            }
        };
        let wants = |uri: &str| shape.wants(uri);
        let mut x = format!("<t:CalendarItem>{}", item_id_element(&id, change_key));
        if wants("item:ParentFolderId") {
            x += &format!("<t:ParentFolderId Id=\"{}\" ChangeKey=\"{}\"/>", esc(&folder.id), esc(&folder.change_key));
        }
        if wants("item:ItemClass") {
            x += &format!("<t:ItemClass>{ITEM_CLASS}</t:ItemClass>");
        }
        if wants("item:Subject") && !fields.subject.is_empty() {
            x += &format!("<t:Subject>{}</t:Subject>", esc(&fields.subject));
        }
        if wants("item:Sensitivity") {
            x += &format!("<t:Sensitivity>{}</t:Sensitivity>", esc(&fields.sensitivity));
        }
        if wants("item:Body") && !fields.body.is_empty() {
            x += &format!("<t:Body BodyType=\"{}\">{}</t:Body>", esc(&fields.body_type), esc(&fields.body));
        }
        if wants("item:DateTimeCreated") {
            x += &format!("<t:DateTimeCreated>{}</t:DateTimeCreated>", ews_time(fields.created));
        }
        if wants("item:ReminderIsSet") {
            x += &format!("<t:ReminderIsSet>{}</t:ReminderIsSet>", fields.reminder_is_set);
        }
        if wants("item:LastModifiedTime") {
            x += &format!("<t:LastModifiedTime>{}</t:LastModifiedTime>", ews_time(fields.last_modified));
        }
        if wants("calendar:UID") {
            x += &format!("<t:UID>{}</t:UID>", esc(&stored.uid));
        }
        if let Some(original) = original.filter(|_| wants("calendar:RecurrenceId")) {
            x += &format!("<t:RecurrenceId>{}</t:RecurrenceId>", ews_time(original));
        }
        if wants("calendar:Start") {
            x += &format!("<t:Start>{}</t:Start>", ews_time(start));
        }
        if wants("calendar:End") {
            x += &format!("<t:End>{}</t:End>", ews_time(end));
        }
        if let Some(original) = original.filter(|_| wants("calendar:OriginalStart")) {
            x += &format!("<t:OriginalStart>{}</t:OriginalStart>", ews_time(original));
        }
        if wants("calendar:IsAllDayEvent") {
            x += &format!("<t:IsAllDayEvent>{}</t:IsAllDayEvent>", fields.is_all_day);
        }
        if wants("calendar:LegacyFreeBusyStatus") {
            x += &format!("<t:LegacyFreeBusyStatus>{}</t:LegacyFreeBusyStatus>", esc(&fields.legacy_free_busy_status));
        }
        if wants("calendar:Location") && !fields.location.is_empty() {
            x += &format!("<t:Location>{}</t:Location>", esc(&fields.location));
        }
        let meeting = !fields.required_attendees.is_empty() || !fields.optional_attendees.is_empty();
        if wants("calendar:IsMeeting") {
            x += &format!("<t:IsMeeting>{meeting}</t:IsMeeting>");
        }
        if wants("calendar:IsCancelled") {
            x += &format!("<t:IsCancelled>{}</t:IsCancelled>", fields.is_cancelled);
        }
        if wants("calendar:CalendarItemType") {
            x += &format!("<t:CalendarItemType>{kind}</t:CalendarItemType>");
        }
        if wants("calendar:Organizer") {
            let owner_as_organizer = Attendee {
                name: owner.display_name.clone(),
                email: owner.email.clone(),
                response_type: "Organizer".to_owned(),
            };
            let organizer = fields.organizer.as_ref().unwrap_or(&owner_as_organizer);
            x += &format!("<t:Organizer>{}</t:Organizer>", render_mailbox(organizer));
        }
        for (uri, element, attendees) in [
            ("calendar:RequiredAttendees", "RequiredAttendees", &fields.required_attendees),
            ("calendar:OptionalAttendees", "OptionalAttendees", &fields.optional_attendees),
        ] {
            if wants(uri) && !attendees.is_empty() {
                let list: String = attendees
                    .iter()
                    .map(|a| {
                        format!(
                            "<t:Attendee>{}<t:ResponseType>{}</t:ResponseType></t:Attendee>",
                            render_mailbox(a),
                            esc(&a.response_type)
                        )
                    })
                    .collect();
                x += &format!("<t:{element}>{list}</t:{element}>");
            }
        }
        if kind == "RecurringMaster" {
            if let Some(recurrence) = stored.recurrence.as_ref().filter(|_| wants("calendar:Recurrence")) {
                x += &render_recurrence(recurrence);
            }
            if wants("calendar:ModifiedOccurrences") && !stored.modified_occurrences.is_empty() {
                let list: String = stored
                    .modified_occurrences
                    .iter()
                    .map(|e| {
                        format!(
                            "<t:Occurrence>{}<t:Start>{}</t:Start><t:End>{}</t:End><t:OriginalStart>{}</t:OriginalStart>\
                             </t:Occurrence>",
                            item_id_element(&e.item_id, &e.change_key),
                            ews_time(e.start),
                            ews_time(e.end),
                            e.original_start.map(ews_time).unwrap_or_default()
                        )
                    })
                    .collect();
                x += &format!("<t:ModifiedOccurrences>{list}</t:ModifiedOccurrences>");
            }
            if wants("calendar:DeletedOccurrences") && !stored.deleted_occurrences.is_empty() {
                let list: String = stored
                    .deleted_occurrences
                    .iter()
                    .map(|d| format!("<t:DeletedOccurrence><t:Start>{}</t:Start></t:DeletedOccurrence>", ews_time(*d)))
                    .collect();
                x += &format!("<t:DeletedOccurrences>{list}</t:DeletedOccurrences>");
            }
        }
        if let Some(zone) = fields.start_time_zone_id.as_ref().filter(|_| wants("calendar:StartTimeZoneId")) {
            x += &format!("<t:StartTimeZoneId>{}</t:StartTimeZoneId>", esc(zone));
        }
        x + "</t:CalendarItem>"
    }
}

fn render_folder(mailbox: &Mailbox, index: usize) -> String {
    let folder = &mailbox.folders[index];
    let (parent_id, parent_key) = match folder.parent {
        Some(parent) => (&mailbox.folders[parent].id, &mailbox.folders[parent].change_key),
        None => (&mailbox.root_id, &mailbox.root_change_key),
    };
    let children = mailbox.folders.iter().filter(|f| f.parent == Some(index)).count();
    let edit = folder.can_edit;
    format!(
        "<t:CalendarFolder><t:FolderId Id=\"{}\" ChangeKey=\"{}\"/><t:ParentFolderId Id=\"{}\" ChangeKey=\"{}\"/>\
         <t:FolderClass>{FOLDER_CLASS}</t:FolderClass><t:DisplayName>{}</t:DisplayName><t:TotalCount>{}</t:TotalCount>\
         <t:ChildFolderCount>{children}</t:ChildFolderCount><t:EffectiveRights><t:CreateAssociated>{edit}\
         </t:CreateAssociated><t:CreateContents>{edit}</t:CreateContents><t:CreateHierarchy>{edit}</t:CreateHierarchy>\
         <t:Delete>{edit}</t:Delete><t:Modify>{edit}</t:Modify><t:Read>true</t:Read><t:ViewPrivateItems>{edit}\
         </t:ViewPrivateItems></t:EffectiveRights></t:CalendarFolder>",
        esc(&folder.id),
        esc(&folder.change_key),
        esc(parent_id),
        esc(parent_key),
        esc(&folder.name),
        folder.items.len(),
    )
}

fn render_mailbox(person: &Attendee) -> String {
    format!(
        "<t:Mailbox><t:Name>{}</t:Name><t:EmailAddress>{}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>\
         <t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>",
        esc(&person.name),
        esc(&person.email)
    )
}

fn render_recurrence(recurrence: &Recurrence) -> String {
    let pattern = match &recurrence.pattern {
        Pattern::Daily { interval } => {
            format!("<t:DailyRecurrence><t:Interval>{interval}</t:Interval></t:DailyRecurrence>")
        }
        Pattern::Weekly { interval, days, first_day_of_week } => {
            let days: Vec<&str> = days.iter().map(|d| weekday_name(*d)).collect();
            let first = first_day_of_week
                .map(|d| format!("<t:FirstDayOfWeek>{}</t:FirstDayOfWeek>", weekday_name(d)))
                .unwrap_or_default();
            format!(
                "<t:WeeklyRecurrence><t:Interval>{interval}</t:Interval><t:DaysOfWeek>{}</t:DaysOfWeek>{first}\
                 </t:WeeklyRecurrence>",
                days.join(" ")
            )
        }
        Pattern::AbsoluteMonthly { interval, day_of_month } => format!(
            "<t:AbsoluteMonthlyRecurrence><t:Interval>{interval}</t:Interval><t:DayOfMonth>{day_of_month}</t:DayOfMonth>\
             </t:AbsoluteMonthlyRecurrence>"
        ),
        Pattern::AbsoluteYearly { day_of_month, month } => format!(
            "<t:AbsoluteYearlyRecurrence><t:DayOfMonth>{day_of_month}</t:DayOfMonth><t:Month>{}</t:Month>\
             </t:AbsoluteYearlyRecurrence>",
            MONTHS.get((*month as usize).wrapping_sub(1)).copied().unwrap_or_default()
        ),
    };
    let date = |d: NaiveDate| format!("{}Z", d.format("%Y-%m-%d"));
    let range = match &recurrence.range {
        RecurrenceRange::NoEnd { start } => {
            format!("<t:NoEndRecurrence><t:StartDate>{}</t:StartDate></t:NoEndRecurrence>", date(*start))
        }
        RecurrenceRange::EndDate { start, end } => format!(
            "<t:EndDateRecurrence><t:StartDate>{}</t:StartDate><t:EndDate>{}</t:EndDate></t:EndDateRecurrence>",
            date(*start),
            date(*end)
        ),
        RecurrenceRange::Numbered { start, count } => format!(
            "<t:NumberedRecurrence><t:StartDate>{}</t:StartDate><t:NumberOfOccurrences>{count}</t:NumberOfOccurrences>\
             </t:NumberedRecurrence>",
            date(*start)
        ),
    };
    format!("<t:Recurrence>{pattern}{range}</t:Recurrence>")
}

/// Whether an item at `start`..`end` shows in a view of `from`..`to` (a zero-length item at its
/// instant).
fn overlaps(start: DateTime<Utc>, end: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    start < to && (end > from || (start == end && start >= from))
}

// Request shapes and item fields

/// An ItemShape: the base shape and the additional FieldURIs.
#[derive(Debug)]
struct Shape {
    all: bool,
    extra: HashSet<String>,
    /// FindItem's: Body, Recurrence and the occurrence lists are never returned.
    find: bool,
}

impl Shape {
    fn parse(shape: &Node, find: bool) -> Result<Self, Fault> {
        let base = required(shape, TYPES_NS, "BaseShape")?.value();
        let all = match base {
            "IdOnly" => false,
            "Default" | "AllProperties" => true,
            other => {
                return Err(invalid_value(
                    "BaseShape",
                    other,
                    "http://schemas.microsoft.com/exchange/services/2006/types:DefaultShapeNamesType",
                ));
            }
        };
        let mut extra = HashSet::new();
        if let Some(properties) = shape.child(TYPES_NS, "AdditionalProperties") {
            for field in properties.children_named(TYPES_NS, "FieldURI") {
                let uri = field.attr("FieldURI").unwrap_or_default();
                if !READABLE.contains(&uri) && !UPDATABLE.iter().any(|(u, _)| *u == uri) {
                    return Err(field_uri_fault(uri));
                }
                extra.insert(uri.to_owned());
            }
        }
        Ok(Shape { all, extra, find })
    }

    fn wants(&self, uri: &str) -> bool {
        const GET_ITEM_ONLY: [&str; 4] =
            ["item:Body", "calendar:Recurrence", "calendar:ModifiedOccurrences", "calendar:DeletedOccurrences"];
        if self.find && GET_ITEM_ONLY.contains(&uri) {
            return false;
        }
        self.all || self.extra.contains(uri)
    }
}

/// The FieldURIs SetItemField and DeleteItemField may name, with the element each stands for.
const UPDATABLE: &[(&str, &str)] = &[
    ("item:Subject", "Subject"),
    ("item:Sensitivity", "Sensitivity"),
    ("item:Body", "Body"),
    ("item:ReminderIsSet", "ReminderIsSet"),
    ("calendar:UID", "UID"),
    ("calendar:Start", "Start"),
    ("calendar:End", "End"),
    ("calendar:IsAllDayEvent", "IsAllDayEvent"),
    ("calendar:LegacyFreeBusyStatus", "LegacyFreeBusyStatus"),
    ("calendar:Location", "Location"),
    ("calendar:RequiredAttendees", "RequiredAttendees"),
    ("calendar:OptionalAttendees", "OptionalAttendees"),
    ("calendar:Recurrence", "Recurrence"),
    ("calendar:StartTimeZone", "StartTimeZone"),
    ("calendar:EndTimeZone", "EndTimeZone"),
];

/// The further FieldURIs a shape may ask for.
const READABLE: &[&str] = &[
    "item:ItemId",
    "item:ParentFolderId",
    "item:ItemClass",
    "item:DateTimeCreated",
    "item:LastModifiedTime",
    "calendar:RecurrenceId",
    "calendar:OriginalStart",
    "calendar:IsMeeting",
    "calendar:IsCancelled",
    "calendar:CalendarItemType",
    "calendar:Organizer",
    "calendar:ModifiedOccurrences",
    "calendar:DeletedOccurrences",
    "calendar:StartTimeZoneId",
];

/// The children of `t:CalendarItem` in the order of the Exchange 2013 SP1 schema (ItemType's, then
/// CalendarItemType's). Anything else, or anything out of this order, fails schema validation.
const CALENDAR_ITEM_ELEMENTS: &[&str] = &[
    "MimeContent",
    "ItemId",
    "ParentFolderId",
    "ItemClass",
    "Subject",
    "Sensitivity",
    "Body",
    "Attachments",
    "DateTimeReceived",
    "Size",
    "Categories",
    "Importance",
    "InReplyTo",
    "IsSubmitted",
    "IsDraft",
    "IsFromMe",
    "IsResend",
    "IsUnmodified",
    "InternetMessageHeaders",
    "DateTimeSent",
    "DateTimeCreated",
    "ResponseObjects",
    "ReminderDueBy",
    "ReminderIsSet",
    "ReminderNextTime",
    "ReminderMinutesBeforeStart",
    "DisplayCc",
    "DisplayTo",
    "HasAttachments",
    "ExtendedProperty",
    "Culture",
    "EffectiveRights",
    "LastModifiedName",
    "LastModifiedTime",
    "IsAssociated",
    "WebClientReadFormQueryString",
    "WebClientEditFormQueryString",
    "ConversationId",
    "UniqueBody",
    "Flag",
    "StoreEntryId",
    "InstanceKey",
    "NormalizedBody",
    "EntityExtractionResult",
    "PolicyTag",
    "ArchiveTag",
    "RetentionDate",
    "Preview",
    "RightsManagementLicenseData",
    "PredictedActionReasons",
    "IsClutter",
    "BlockStatus",
    "HasBlockedImages",
    "TextBody",
    "IconIndex",
    "UID",
    "RecurrenceId",
    "DateTimeStamp",
    "Start",
    "End",
    "OriginalStart",
    "IsAllDayEvent",
    "LegacyFreeBusyStatus",
    "Location",
    "When",
    "IsMeeting",
    "IsCancelled",
    "IsRecurring",
    "MeetingRequestWasSent",
    "IsResponseRequested",
    "CalendarItemType",
    "MyResponseType",
    "Organizer",
    "RequiredAttendees",
    "OptionalAttendees",
    "Resources",
    "ConflictingMeetingCount",
    "AdjacentMeetingCount",
    "ConflictingMeetings",
    "AdjacentMeetings",
    "Duration",
    "TimeZone",
    "AppointmentReplyTime",
    "AppointmentSequenceNumber",
    "AppointmentState",
    "Recurrence",
    "FirstOccurrence",
    "LastOccurrence",
    "ModifiedOccurrences",
    "DeletedOccurrences",
    "MeetingTimeZone",
    "StartTimeZone",
    "EndTimeZone",
    "ConferenceType",
    "AllowNewTimeProposal",
    "IsOnlineMeeting",
    "MeetingWorkspaceUrl",
    "NetShowUrl",
    "EnhancedLocation",
    "StartWallClock",
    "EndWallClock",
    "StartTimeZoneId",
    "EndTimeZoneId",
    "IntendedFreeBusyStatus",
    "JoinOnlineMeetingUrl",
    "OnlineMeetingSettings",
    "IsOrganizer",
];

const MONTHS: [&str; 12] = [
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

/// Each Windows zone id and the IANA zone CLDR's `windowsZones.xml` maps it to for the world
/// (territory 001): the zone Exchange's definition of that id follows.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("Afghanistan Standard Time", "Asia/Kabul"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("Aleutian Standard Time", "America/Adak"),
    ("Altai Standard Time", "Asia/Barnaul"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Argentina Standard Time", "America/Buenos_Aires"),
    ("Astrakhan Standard Time", "Europe/Astrakhan"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Aus Central W. Standard Time", "Australia/Eucla"),
    ("Azerbaijan Standard Time", "Asia/Baku"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Bahia Standard Time", "America/Bahia"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Belarus Standard Time", "Europe/Minsk"),
    ("Bougainville Standard Time", "Pacific/Bougainville"),
    ("Canada Central Standard Time", "America/Regina"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("Caucasus Standard Time", "Asia/Yerevan"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Central Asia Standard Time", "Asia/Bishkek"),
    ("Central Brazilian Standard Time", "America/Cuiaba"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("Central Pacific Standard Time", "Pacific/Guadalcanal"),
    ("Central Standard Time", "America/Chicago"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Chatham Islands Standard Time", "Pacific/Chatham"),
    ("China Standard Time", "Asia/Shanghai"),
    ("Cuba Standard Time", "America/Havana"),
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("Easter Island Standard Time", "Pacific/Easter"),
    ("Eastern Standard Time", "America/New_York"),
    ("Eastern Standard Time (Mexico)", "America/Cancun"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Fiji Standard Time", "Pacific/Fiji"),
    ("GMT Standard Time", "Europe/London"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Georgian Standard Time", "Asia/Tbilisi"),
    ("Greenland Standard Time", "America/Godthab"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Haiti Standard Time", "America/Port-au-Prince"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("India Standard Time", "Asia/Calcutta"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("Jordan Standard Time", "Asia/Amman"),
    ("Kaliningrad Standard Time", "Europe/Kaliningrad"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Libya Standard Time", "Africa/Tripoli"),
    ("Line Islands Standard Time", "Pacific/Kiritimati"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("Magadan Standard Time", "Asia/Magadan"),
    ("Magallanes Standard Time", "America/Punta_Arenas"),
    ("Marquesas Standard Time", "Pacific/Marquesas"),
    ("Mauritius Standard Time", "Indian/Mauritius"),
    ("Middle East Standard Time", "Asia/Beirut"),
    ("Montevideo Standard Time", "America/Montevideo"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("Mountain Standard Time", "America/Denver"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("Myanmar Standard Time", "Asia/Rangoon"),
    ("N. Central Asia Standard Time", "Asia/Novosibirsk"),
    ("Namibia Standard Time", "Africa/Windhoek"),
    ("Nepal Standard Time", "Asia/Katmandu"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Norfolk Standard Time", "Pacific/Norfolk"),
    ("North Asia East Standard Time", "Asia/Irkutsk"),
    ("North Asia Standard Time", "Asia/Krasnoyarsk"),
    ("North Korea Standard Time", "Asia/Pyongyang"),
    ("Omsk Standard Time", "Asia/Omsk"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("Paraguay Standard Time", "America/Asuncion"),
    ("Qyzylorda Standard Time", "Asia/Qyzylorda"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Russia Time Zone 10", "Asia/Srednekolymsk"),
    ("Russia Time Zone 11", "Asia/Kamchatka"),
    ("Russia Time Zone 3", "Europe/Samara"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("Saint Pierre Standard Time", "America/Miquelon"),
    ("Sakhalin Standard Time", "Asia/Sakhalin"),
    ("Samoa Standard Time", "Pacific/Apia"),
    ("Sao Tome Standard Time", "Africa/Sao_Tome"),
    ("Saratov Standard Time", "Europe/Saratov"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("South Sudan Standard Time", "Africa/Juba"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Sudan Standard Time", "Africa/Khartoum"),
    ("Syria Standard Time", "Asia/Damascus"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("Tocantins Standard Time", "America/Araguaina"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("Tomsk Standard Time", "Asia/Tomsk"),
    ("Tonga Standard Time", "Pacific/Tongatapu"),
    ("Transbaikal Standard Time", "Asia/Chita"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Turks And Caicos Standard Time", "America/Grand_Turk"),
    ("US Eastern Standard Time", "America/Indianapolis"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("UTC", "Etc/UTC"),
    ("UTC+12", "Etc/GMT-12"),
    ("UTC+13", "Etc/GMT-13"),
    ("UTC-02", "Etc/GMT+2"),
    ("UTC-08", "Etc/GMT+8"),
    ("UTC-09", "Etc/GMT+9"),
    ("UTC-11", "Etc/GMT+11"),
    ("Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Vladivostok Standard Time", "Asia/Vladivostok"),
    ("Volgograd Standard Time", "Europe/Volgograd"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("W. Mongolia Standard Time", "Asia/Hovd"),
    ("West Asia Standard Time", "Asia/Tashkent"),
    ("West Bank Standard Time", "Asia/Hebron"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Yakutsk Standard Time", "Asia/Yakutsk"),
    ("Yukon Standard Time", "America/Whitehorse"),
];

/// What a `t:CalendarItem` of a request sets.
#[derive(Debug, Default)]
struct ItemFields {
    /// The local names of its children, in order.
    present: Vec<String>,
    subject: Option<String>,
    sensitivity: Option<String>,
    body: Option<(String, String)>,
    reminder_is_set: Option<bool>,
    uid: Option<String>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    is_all_day: Option<bool>,
    free_busy: Option<String>,
    location: Option<String>,
    required_attendees: Option<Vec<Attendee>>,
    optional_attendees: Option<Vec<Attendee>>,
    /// An unsupported or invalid pattern fails the item, not the request.
    recurrence: Option<Result<Recurrence, Failure>>,
    start_time_zone_id: Option<String>,
    end_time_zone_id: Option<String>,
}

impl ItemFields {
    fn parse(item: &Node) -> Result<Self, Fault> {
        check_schema_order(item)?;
        let mut fields = ItemFields::default();
        for child in &item.children {
            fields.present.push(child.name.clone());
            match child.name.as_str() {
                "Subject" => fields.subject = Some(child.text.clone()),
                "Sensitivity" => {
                    let value = enumeration(
                        child.value(),
                        &["Normal", "Personal", "Private", "Confidential"],
                        "SensitivityChoicesType",
                    )?;
                    fields.sensitivity = Some(value.to_owned());
                }
                "Body" => {
                    let kind = child.attr("BodyType").ok_or_else(|| missing_attribute("BodyType"))?;
                    let kind = enumeration(kind, &["HTML", "Text"], "BodyTypeType")?;
                    fields.body = Some((kind.to_owned(), child.text.clone()));
                }
                "ReminderIsSet" => fields.reminder_is_set = Some(boolean(child)?),
                "UID" => fields.uid = Some(child.value().to_owned()),
                "Start" => fields.start = Some(date_time(child)?),
                "End" => fields.end = Some(date_time(child)?),
                "IsAllDayEvent" => fields.is_all_day = Some(boolean(child)?),
                "LegacyFreeBusyStatus" => {
                    let statuses = ["Free", "Tentative", "Busy", "OOF", "WorkingElsewhere", "NoData"];
                    fields.free_busy = Some(enumeration(child.value(), &statuses, "LegacyFreeBusyType")?.to_owned());
                }
                "Location" => fields.location = Some(child.text.clone()),
                "RequiredAttendees" => fields.required_attendees = Some(attendees(child)?),
                "OptionalAttendees" => fields.optional_attendees = Some(attendees(child)?),
                "Recurrence" => fields.recurrence = Some(parse_recurrence(child)?),
                "StartTimeZone" => fields.start_time_zone_id = child.attr("Id").map(str::to_owned),
                "StartTimeZoneId" => fields.start_time_zone_id = Some(child.value().to_owned()),
                "EndTimeZone" => fields.end_time_zone_id = child.attr("Id").map(str::to_owned),
                "EndTimeZoneId" => fields.end_time_zone_id = Some(child.value().to_owned()),
                // Valid in the schema; the fake keeps none of it.
                _ => {}
            }
        }
        Ok(fields)
    }

    fn apply(&self, item: &mut CalendarItem) -> Result<(), Failure> {
        if let Some(Err(failure)) = &self.recurrence {
            return Err(failure.clone());
        }
        for id in [&self.start_time_zone_id, &self.end_time_zone_id].into_iter().flatten() {
            if windows_zone(id).is_none() {
                return Err(Failure::new("ErrorTimeZone", "The time zone isn't valid."));
            }
        }
        let set = |target: &mut String, value: &Option<String>| {
            if let Some(value) = value {
                target.clone_from(value);
            }
        };
        set(&mut item.subject, &self.subject);
        set(&mut item.sensitivity, &self.sensitivity);
        set(&mut item.uid, &self.uid);
        set(&mut item.legacy_free_busy_status, &self.free_busy);
        set(&mut item.location, &self.location);
        if let Some((kind, text)) = &self.body {
            item.body_type.clone_from(kind);
            item.body.clone_from(text);
        }
        if let Some(value) = self.reminder_is_set {
            item.reminder_is_set = value;
        }
        if let Some(value) = self.start {
            item.start = value;
        }
        if let Some(value) = self.end {
            item.end = value;
        }
        if let Some(value) = self.is_all_day {
            item.is_all_day = value;
        }
        if let Some(value) = &self.required_attendees {
            item.required_attendees.clone_from(value);
        }
        if let Some(value) = &self.optional_attendees {
            item.optional_attendees.clone_from(value);
        }
        if let Some(Ok(value)) = &self.recurrence {
            item.recurrence = Some(value.clone());
        }
        if let Some(value) = &self.start_time_zone_id {
            item.start_time_zone_id = Some(value.clone());
        }
        if let Some(value) = &self.end_time_zone_id {
            item.end_time_zone_id = Some(value.clone());
        }
        Ok(())
    }
}

/// One entry of an ItemChange's Updates.
#[derive(Debug)]
enum Update {
    Set { uri: String, element: &'static str, fields: Box<ItemFields> },
    Delete { uri: String },
    Append,
}

impl Update {
    fn apply(&self, item: &mut CalendarItem, occurrence: bool) -> Result<(), Failure> {
        match self {
            Update::Set { uri, element, fields } => {
                // Exactly one property, the one the FieldURI names.
                if fields.present.len() != 1 || fields.present[0] != *element {
                    return Err(Failure::new(
                        "ErrorIncorrectUpdatePropertyCount",
                        "An object within a change description must contain one and only one property to modify.",
                    ));
                }
                if occurrence && uri == "calendar:Recurrence" {
                    return Err(Failure::new("ErrorInvalidPropertySet", "Set action is invalid for property."));
                }
                let (start_zone, end_zone) = (item.start_time_zone_id.clone(), item.end_time_zone_id.clone());
                fields.apply(item)?;
                // A new zone alone keeps the local time: the UTC time moves.
                match uri.as_str() {
                    "calendar:StartTimeZone" => {
                        item.start =
                            keep_local_time(item.start, start_zone.as_deref(), item.start_time_zone_id.as_deref());
                    }
                    "calendar:EndTimeZone" => {
                        item.end = keep_local_time(item.end, end_zone.as_deref(), item.end_time_zone_id.as_deref());
                    }
                    _ => {}
                }
                Ok(())
            }
            Update::Delete { uri } => {
                match uri.as_str() {
                    "item:Subject" => item.subject.clear(),
                    "item:Body" => item.body.clear(),
                    "calendar:Location" => item.location.clear(),
                    "calendar:RequiredAttendees" => item.required_attendees.clear(),
                    "calendar:OptionalAttendees" => item.optional_attendees.clear(),
                    "calendar:StartTimeZone" => item.start_time_zone_id = None,
                    "calendar:EndTimeZone" => item.end_time_zone_id = None,
                    "calendar:Recurrence" if !occurrence => item.recurrence = None,
                    _ => return Err(Failure::new("ErrorInvalidPropertyDelete", "The property cannot be deleted.")),
                }
                Ok(())
            }
            Update::Append => Err(invalid_request("The fake Exchange does not support AppendToItemField.")),
        }
    }
}

fn check_schema_order(item: &Node) -> Result<(), Fault> {
    let mut last: Option<usize> = None;
    for child in &item.children {
        let position =
            if child.ns == TYPES_NS { CALENDAR_ITEM_ELEMENTS.iter().position(|n| *n == child.name) } else { None };
        let in_order = match (position, last) {
            (Some(p), Some(l)) => p > l || (p == l && child.name == "ExtendedProperty"),
            (Some(_), None) => true,
            (None, _) => false,
        };
        if !in_order {
            return Err(Fault::schema(&format!(
                "The element 'CalendarItem' in namespace '{TYPES_NS}' has invalid child element '{}' in namespace '{}'.",
                child.name, child.ns
            )));
        }
        last = position;
    }
    Ok(())
}

fn attendees(list: &Node) -> Result<Vec<Attendee>, Fault> {
    let mut out = Vec::new();
    for attendee in list.children_named(TYPES_NS, "Attendee") {
        let mailbox = required(attendee, TYPES_NS, "Mailbox")?;
        let text = |name: &str| mailbox.child(TYPES_NS, name).map(|n| n.value().to_owned()).unwrap_or_default();
        let response_type = match attendee.child(TYPES_NS, "ResponseType") {
            Some(value) => enumeration(
                value.value(),
                &["Unknown", "Organizer", "Tentative", "Accept", "Decline", "NoResponseReceived"],
                "ResponseTypeType",
            )?
            .to_owned(),
            None => "Unknown".to_owned(),
        };
        out.push(Attendee { name: text("Name"), email: text("EmailAddress"), response_type });
    }
    Ok(out)
}

fn parse_recurrence(node: &Node) -> Result<Result<Recurrence, Failure>, Fault> {
    let incomplete = || Fault::schema("The element 'Recurrence' has incomplete content.");
    let (Some(pattern), Some(range)) = (node.children.first(), node.children.get(1)) else { return Err(incomplete()) };
    let number = |parent: &Node, name: &str| -> Result<u32, Fault> {
        let text = required(parent, TYPES_NS, name)?.value();
        text.parse().map_err(|_| invalid_value(name, text, "http://www.w3.org/2001/XMLSchema:int"))
    };
    let pattern = match (pattern.ns == TYPES_NS, pattern.name.as_str()) {
        (true, "DailyRecurrence") => Pattern::Daily { interval: number(pattern, "Interval")? },
        (true, "WeeklyRecurrence") => {
            let text = required(pattern, TYPES_NS, "DaysOfWeek")?.value();
            let mut days = Vec::new();
            for name in text.split_whitespace() {
                let named = weekdays_named(name).ok_or_else(|| invalid_value("DaysOfWeek", name, "DayOfWeekType"))?;
                days.extend(named.iter().filter(|d| !days.contains(*d)).copied().collect::<Vec<_>>());
            }
            let first_day_of_week = match pattern.child(TYPES_NS, "FirstDayOfWeek") {
                Some(first) => Some(
                    weekdays_named(first.value())
                        .filter(|d| d.len() == 1)
                        .map(|d| d[0])
                        .ok_or_else(|| invalid_value("FirstDayOfWeek", first.value(), "DayOfWeekType"))?,
                ),
                None => None,
            };
            Pattern::Weekly { interval: number(pattern, "Interval")?, days, first_day_of_week }
        }
        (true, "AbsoluteMonthlyRecurrence") => Pattern::AbsoluteMonthly {
            interval: number(pattern, "Interval")?,
            day_of_month: number(pattern, "DayOfMonth")?,
        },
        (true, "AbsoluteYearlyRecurrence") => {
            let month_name = required(pattern, TYPES_NS, "Month")?.value();
            let month = MONTHS
                .iter()
                .position(|m| *m == month_name)
                .ok_or_else(|| invalid_value("Month", month_name, "MonthNamesType"))?;
            Pattern::AbsoluteYearly { day_of_month: number(pattern, "DayOfMonth")?, month: month as u32 + 1 }
        }
        (
            true,
            name @ ("RelativeYearlyRecurrence"
            | "RelativeMonthlyRecurrence"
            | "DailyRegeneration"
            | "WeeklyRegeneration"
            | "MonthlyRegeneration"
            | "YearlyRegeneration"),
        ) => return Ok(Err(invalid_request(&format!("The fake Exchange does not support {name}.")))),
        _ => {
            return Err(Fault::schema(&format!(
                "The element 'Recurrence' has invalid child element '{}'.",
                pattern.name
            )));
        }
    };
    let date = |parent: &Node, name: &str| -> Result<NaiveDate, Fault> {
        let text = required(parent, TYPES_NS, name)?.value();
        parse_date(text).ok_or_else(|| invalid_value(name, text, "http://www.w3.org/2001/XMLSchema:date"))
    };
    let range = match (range.ns == TYPES_NS, range.name.as_str()) {
        (true, "NoEndRecurrence") => RecurrenceRange::NoEnd { start: date(range, "StartDate")? },
        (true, "EndDateRecurrence") => {
            RecurrenceRange::EndDate { start: date(range, "StartDate")?, end: date(range, "EndDate")? }
        }
        (true, "NumberedRecurrence") => {
            RecurrenceRange::Numbered { start: date(range, "StartDate")?, count: number(range, "NumberOfOccurrences")? }
        }
        _ => {
            return Err(Fault::schema(&format!(
                "The element 'Recurrence' has invalid child element '{}'.",
                range.name
            )));
        }
    };
    let recurrence = Recurrence { pattern, range };
    Ok(validate_recurrence(&recurrence)
        .map(|()| recurrence)
        .map_err(|text| Failure::new("ErrorCalendarInvalidRecurrence", &text)))
}

fn validate_recurrence(recurrence: &Recurrence) -> Result<(), String> {
    let valid = match &recurrence.pattern {
        Pattern::Daily { interval } => *interval >= 1,
        Pattern::Weekly { interval, days, .. } => *interval >= 1 && !days.is_empty(),
        Pattern::AbsoluteMonthly { interval, day_of_month } => *interval >= 1 && (1..=31).contains(day_of_month),
        Pattern::AbsoluteYearly { day_of_month, month } => (1..=31).contains(day_of_month) && (1..=12).contains(month),
    };
    let range = match recurrence.range {
        RecurrenceRange::NoEnd { .. } => true,
        RecurrenceRange::EndDate { start, end } => end >= start,
        RecurrenceRange::Numbered { count, .. } => count >= 1,
    };
    if valid && range { Ok(()) } else { Err("The recurrence pattern is invalid.".to_owned()) }
}

fn weekdays_named(name: &str) -> Option<Vec<Weekday>> {
    use Weekday::*;
    Some(match name {
        "Sunday" => vec![Sun],
        "Monday" => vec![Mon],
        "Tuesday" => vec![Tue],
        "Wednesday" => vec![Wed],
        "Thursday" => vec![Thu],
        "Friday" => vec![Fri],
        "Saturday" => vec![Sat],
        "Day" => vec![Sun, Mon, Tue, Wed, Thu, Fri, Sat],
        "Weekday" => vec![Mon, Tue, Wed, Thu, Fri],
        "WeekendDay" => vec![Sat, Sun],
        _ => return None,
    })
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Sun => "Sunday",
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
    }
}

// Time zones and recurrence expansion

/// The IANA zone of a Windows zone id, as CLDR maps each id for the world (territory 001).
fn windows_zone(id: &str) -> Option<Tz> {
    WINDOWS_ZONES.iter().find(|(windows, _)| *windows == id).and_then(|(_, iana)| iana.parse().ok())
}

/// The zone a Windows id (None: UTC) names; UTC for one the fake does not know.
fn zone_or_utc(id: Option<&str>) -> Tz {
    id.and_then(windows_zone).unwrap_or(Tz::UTC)
}

/// The instant a local time names in `zone`: a time a daylight-saving change repeats is its
/// first occurrence; one it skips is read with the offset in force the day before, which moves
/// it past the gap.
fn wall_clock(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at.with_timezone(&Utc),
        LocalResult::None => {
            let before = zone.offset_from_utc_datetime(&(local - chrono::Duration::days(1))).fix();
            (local - chrono::Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
        }
    }
}

/// `at` once its zone changes from `from` to `to` (Windows ids) and its local time stays.
fn keep_local_time(at: DateTime<Utc>, from: Option<&str>, to: Option<&str>) -> DateTime<Utc> {
    wall_clock(at.with_timezone(&zone_or_utc(from)).naive_local(), zone_or_utc(to))
}

/// The original starts of a master's occurrences that start before `until`, deleted ones
/// included: the pattern's dates within the range, at the master's local time of day in its
/// start zone (UTC without one).
fn instance_starts(item: &CalendarItem, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let Some(recurrence) = &item.recurrence else { return Vec::new() };
    let (first, last, count) = match recurrence.range {
        RecurrenceRange::NoEnd { start } => (start, None, None),
        RecurrenceRange::EndDate { start, end } => (start, Some(end), None),
        RecurrenceRange::Numbered { start, count } => (start, None, Some(count as usize)),
    };
    let zone = zone_or_utc(item.start_time_zone_id.as_deref());
    let time = item.start.with_timezone(&zone).time();
    let mut starts = Vec::new();
    // Takes the pattern's dates in order; false once past the range or `until`.
    let mut offer = |date: NaiveDate| -> bool {
        if date < first {
            return true;
        }
        if last.is_some_and(|last| date > last) || count.is_some_and(|count| starts.len() >= count) {
            return false;
        }
        let start = wall_clock(date.and_time(time), zone);
        if start >= until {
            return false;
        }
        starts.push(start);
        true
    };
    match &recurrence.pattern {
        Pattern::Daily { interval } => {
            let step = Days::new(u64::from((*interval).max(1)));
            let mut date = first;
            for _ in 0..MAX_PATTERN_STEPS {
                if !offer(date) {
                    break;
                }
                let Some(next) = date.checked_add_days(step) else { break };
                date = next;
            }
        }
        Pattern::Weekly { interval, days, first_day_of_week } => {
            let week_start = first_day_of_week.unwrap_or(Weekday::Sun);
            let back = (first.weekday().num_days_from_sunday() + 7 - week_start.num_days_from_sunday()) % 7;
            let Some(mut week) = first.checked_sub_days(Days::new(u64::from(back))) else { return Vec::new() };
            let step = Days::new(7 * u64::from((*interval).max(1)));
            'weeks: for _ in 0..MAX_PATTERN_STEPS {
                for offset in 0..7 {
                    let Some(date) = week.checked_add_days(Days::new(offset)) else { break 'weeks };
                    if days.contains(&date.weekday()) && !offer(date) {
                        break 'weeks;
                    }
                }
                let Some(next) = week.checked_add_days(step) else { break };
                week = next;
            }
        }
        Pattern::AbsoluteMonthly { interval, day_of_month } => {
            let Some(month_one) = first.with_day(1) else { return Vec::new() };
            for k in 0..MAX_PATTERN_STEPS {
                let Some(months) = k.checked_mul((*interval).max(1)) else { break };
                let Some(month) = month_one.checked_add_months(Months::new(months)) else { break };
                let day = (*day_of_month).min(days_in_month(month.year(), month.month()));
                let Some(date) = month.with_day(day) else { break };
                if !offer(date) {
                    break;
                }
            }
        }
        Pattern::AbsoluteYearly { day_of_month, month } => {
            for year in first.year()..first.year().saturating_add(10_000) {
                let Some(month_one) = NaiveDate::from_ymd_opt(year, *month, 1) else { break };
                let day = (*day_of_month).min(days_in_month(year, *month));
                let Some(date) = month_one.with_day(day) else { break };
                if !offer(date) {
                    break;
                }
            }
        }
    }
    starts
}

/// Whether `original` is an occurrence start of the master's pattern (deleted or not).
fn is_instance(master: &CalendarItem, original: DateTime<Utc>) -> bool {
    instance_starts(master, original + chrono::Duration::seconds(1)).last() == Some(&original)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    NaiveDate::from_ymd_opt(next_year, next_month, 1).and_then(|d| d.pred_opt()).map_or(28, |d| d.day())
}

// Errors

/// A per-item (or per-folder) error: a response message with ResponseClass="Error".
#[derive(Debug, Clone)]
struct Failure {
    code: &'static str,
    text: String,
}

impl Failure {
    fn new(code: &'static str, text: &str) -> Self {
        Failure { code, text: text.to_owned() }
    }
}

fn item_not_found() -> Failure {
    Failure::new("ErrorItemNotFound", "The specified object was not found in the store.")
}

fn folder_not_found() -> Failure {
    Failure::new("ErrorFolderNotFound", "The specified folder could not be found in the store.")
}

fn access_denied() -> Failure {
    Failure::new("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
}

fn invalid_sync_state() -> Failure {
    Failure::new("ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.")
}

fn conflict() -> Failure {
    Failure::new(
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in the request does not \
         match the current change key for the item.",
    )
}

fn range_too_big() -> Failure {
    Failure::new("ErrorCalendarViewRangeTooBig", "The specified view range exceeds the maximum range of two years.")
}

fn end_before_start() -> Failure {
    Failure::new("ErrorCalendarEndDateIsEarlierThanStartDate", "EndDate is earlier than StartDate")
}

fn invalid_request(text: &str) -> Failure {
    Failure::new("ErrorInvalidRequest", text)
}

/// A SOAP fault: HTTP 500, what Exchange answers when it cannot even start on the operations.
#[derive(Debug)]
struct Fault {
    code: &'static str,
    faultstring: String,
    message: String,
    /// The `t:MessageXml` element, or empty.
    message_xml: String,
}

impl Fault {
    fn new(code: &'static str, message: &str) -> Self {
        Fault { code, faultstring: message.to_owned(), message: message.to_owned(), message_xml: String::new() }
    }

    fn server_busy(backoff_ms: u64) -> Self {
        Fault {
            message_xml: format!(
                "<t:MessageXml xmlns:t=\"{TYPES_NS}\"><t:Value Name=\"BackOffMilliseconds\">{backoff_ms}</t:Value>\
                 </t:MessageXml>"
            ),
            ..Fault::new("ErrorServerBusy", "The server cannot service this request right now. Try again later.")
        }
    }

    fn schema(violation: &str) -> Self {
        Fault {
            code: "ErrorSchemaValidation",
            faultstring: format!("The request failed schema validation: {violation}"),
            message: "The request failed schema validation.".to_owned(),
            message_xml: format!(
                "<t:MessageXml xmlns:t=\"{TYPES_NS}\"><t:Violation>{}</t:Violation></t:MessageXml>",
                esc(violation)
            ),
        }
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Body><s:Fault><faultcode \
             xmlns:a=\"{TYPES_NS}\">a:{code}</faultcode><faultstring xml:lang=\"en-US\">{}</faultstring><detail>\
             <e:ResponseCode xmlns:e=\"{ERRORS_NS}\">{code}</e:ResponseCode><e:Message xmlns:e=\"{ERRORS_NS}\">{}\
             </e:Message>{}</detail></s:Fault></s:Body></s:Envelope>",
            esc(&self.faultstring),
            esc(&self.message),
            self.message_xml,
            code = self.code,
        );
        xml_response(StatusCode::INTERNAL_SERVER_ERROR, body)
    }
}

fn required<'a>(parent: &'a Node, ns: &str, name: &str) -> Result<&'a Node, Fault> {
    parent.child(ns, name).ok_or_else(|| {
        Fault::schema(&format!(
            "The element '{}' in namespace '{}' has incomplete content. List of possible elements expected: '{name}' in \
             namespace '{ns}'.",
            parent.name, parent.ns
        ))
    })
}

fn missing_attribute(name: &str) -> Fault {
    Fault::schema(&format!("The required attribute '{name}' is missing."))
}

fn invalid_value(name: &str, value: &str, datatype: &str) -> Fault {
    Fault::schema(&format!(
        "The '{name}' element or attribute is invalid - The value '{value}' is invalid according to its datatype \
         '{datatype}'."
    ))
}

/// A value of an enumeration of the schema, or the fault Exchange answers for any other.
fn enumeration<'a>(value: &'a str, allowed: &[&str], datatype: &str) -> Result<&'a str, Fault> {
    if allowed.contains(&value) {
        return Ok(value);
    }
    Err(Fault::schema(&format!(
        "The value '{value}' is invalid according to its datatype \
         'http://schemas.microsoft.com/exchange/services/2006/types:{datatype}' - The Enumeration constraint failed."
    )))
}

fn field_uri_fault(uri: &str) -> Fault {
    Fault::schema(&format!(
        "The 'FieldURI' attribute is invalid - The value '{uri}' is invalid according to its datatype \
         'http://schemas.microsoft.com/exchange/services/2006/types:UnindexedFieldURIType' - The Enumeration \
         constraint failed."
    ))
}

fn boolean(node: &Node) -> Result<bool, Fault> {
    match node.value() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(invalid_value(&node.name, other, "http://www.w3.org/2001/XMLSchema:boolean")),
    }
}

fn date_time(node: &Node) -> Result<DateTime<Utc>, Fault> {
    parse_time(node.value())
        .ok_or_else(|| invalid_value(&node.name, node.value(), "http://www.w3.org/2001/XMLSchema:dateTime"))
}

// Responses

fn xml_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, XML_CONTENT_TYPE)], body).into_response()
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Header><h:ServerVersionInfo \
         MajorVersion=\"15\" MinorVersion=\"0\" MajorBuildNumber=\"847\" MinorBuildNumber=\"32\" \
         xmlns:h=\"{TYPES_NS}\"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    )
}

fn operation_response(kind: &str, messages: &[String]) -> String {
    format!(
        "<m:{kind}Response xmlns:m=\"{MESSAGES_NS}\" xmlns:t=\"{TYPES_NS}\"><m:ResponseMessages>{}</m:ResponseMessages>\
         </m:{kind}Response>",
        messages.concat()
    )
}

fn success(kind: &str, inner: &str) -> String {
    format!(
        "<m:{kind}ResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode>{inner}\
         </m:{kind}ResponseMessage>"
    )
}

fn error_message(kind: &str, failure: &Failure, trailer: &str) -> String {
    format!(
        "<m:{kind}ResponseMessage ResponseClass=\"Error\"><m:MessageText>{}</m:MessageText><m:ResponseCode>{}\
         </m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>{trailer}</m:{kind}ResponseMessage>",
        esc(&failure.text),
        failure.code
    )
}

fn item_id_element(id: &str, change_key: &str) -> String {
    format!("<t:ItemId Id=\"{}\" ChangeKey=\"{}\"/>", esc(id), esc(change_key))
}

fn autodiscover_error(code: u16, message: &str) -> String {
    let now = Utc::now();
    let time = format!("{}.{:07}", now.format("%H:%M:%S"), now.timestamp_subsec_nanos() / 100);
    let id = uuid::Uuid::new_v4().as_u128() % 4_000_000_000;
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"{AUTODISCOVER_RESPONSE_NS}\"><Response><Error \
         Time=\"{time}\" Id=\"{id}\"><ErrorCode>{code}</ErrorCode><Message>{message}</Message><DebugData/></Error>\
         </Response></Autodiscover>"
    )
}

/// IIS's answer to missing or wrong credentials: 401, a Basic challenge, no body.
fn unauthorized(realm: &str) -> Response {
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    if let Ok(value) = HeaderValue::from_str(&format!("Basic realm=\"{realm}\"")) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// EWS never needs a DTD (reliability-security.md §4.6): a body declaring one is refused unread.
fn doctype_refused() -> Response {
    (StatusCode::BAD_REQUEST, "Bad Request: a DOCTYPE is not allowed").into_response()
}

fn has_doctype(body: &[u8]) -> bool {
    body.windows(9).any(|w| w.eq_ignore_ascii_case(b"<!DOCTYPE"))
}

// Identifiers, times and encodings

fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(0)
}

/// `2026-05-04T09:00:00Z`, as the fake writes every time.
fn ews_time(instant: DateTime<Utc>) -> String {
    instant.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An xs:dateTime: with `Z` or an offset, or without (taken as UTC).
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc()))
}

/// An xs:date: `2026-05-05`, `2026-05-05Z` or `2026-05-05+02:00` (the zone is dropped).
fn parse_date(text: &str) -> Option<NaiveDate> {
    let (date, zone) = text.trim().split_at_checked(10)?;
    let offset = zone.len() == 6
        && matches!(zone.as_bytes()[0], b'+' | b'-')
        && zone.as_bytes()[3] == b':'
        && zone.bytes().enumerate().all(|(i, b)| matches!(i, 0 | 3) || b.is_ascii_digit());
    if !(zone.is_empty() || zone == "Z" || offset) {
        return None;
    }
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

fn random_chars(n: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(n);
    while out.len() < n {
        let bits = uuid::Uuid::new_v4().as_u128();
        out.extend((0..21).map(|i| ALPHABET[((bits >> (i * 6)) & 63) as usize] as char).take(n - out.len()));
    }
    out
}

/// An Exchange item id: base64 with Exchange's mailbox prefix.
fn new_item_id() -> String {
    format!("AAMkAGI2{}AAA=", random_chars(60))
}

fn new_folder_id() -> String {
    format!("AQMkADAw{}AAAA", random_chars(40))
}

/// A change key as Exchange makes them: base64 of 20 bytes.
fn new_change_key() -> String {
    format!("DwAAABYAAAA{}", random_chars(17))
}

/// A UID as Exchange generates them (a Global Object Id in hex).
fn new_uid() -> String {
    let hex: String = uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase();
    format!("040000008200E00074C5B7101A82E00800000000{hex}")
}

const OCCURRENCE_PREFIX: &str = "AAMkOcc";

fn occurrence_id(master_id: &str, original: DateTime<Utc>) -> String {
    format!("{OCCURRENCE_PREFIX}{}", base64_encode(format!("{master_id}|{}", original.timestamp()).as_bytes()))
}

fn parse_occurrence_id(id: &str) -> Option<(String, DateTime<Utc>)> {
    let decoded = String::from_utf8(base64_decode(id.strip_prefix(OCCURRENCE_PREFIX)?)?).ok()?;
    let (master, seconds) = decoded.rsplit_once('|')?;
    Some((master.to_owned(), DateTime::from_timestamp(seconds.parse().ok()?, 0)?))
}

const SYNC_STATE_PREFIX: &str = "calsync-fake-ews-sync";

fn sync_state(folder_id: &str, counter: u64, epoch: u64) -> String {
    base64_encode(format!("{SYNC_STATE_PREFIX}|{folder_id}|{counter}|{epoch}").as_bytes())
}

/// (folder id, counter, epoch) of a SyncState the fake issued.
fn parse_sync_state(state: &str) -> Option<(String, u64, u64)> {
    let decoded = String::from_utf8(base64_decode(state)?).ok()?;
    let mut parts = decoded.rsplitn(3, '|');
    let epoch = parts.next()?.parse().ok()?;
    let counter = parts.next()?.parse().ok()?;
    let folder = parts.next()?.strip_prefix(SYNC_STATE_PREFIX)?.strip_prefix('|')?;
    Some((folder.to_owned(), counter, epoch))
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() { BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// Standard base64 (padding optional); None on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text.trim_end_matches('=').bytes() {
        let value = BASE64.iter().position(|b| *b == c)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

/// `Basic base64(user:password)`, taken as sent (HTTP Basic does not percent-encode).
fn basic_auth(authorization: &str) -> Option<(String, String)> {
    let (scheme, encoded) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(base64_decode(encoded.trim())?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

// Reading XML

/// One element of a request: its namespace (resolved), local name, attributes by local name
/// (namespace declarations left out), text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Node {
    ns: String,
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    fn child(&self, ns: &str, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    fn children_named<'a>(&'a self, ns: &'a str, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn value(&self) -> &str {
        self.text.trim()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum XmlError {
    DocType,
    Syntax(String),
}

/// A small namespace-aware reader: elements, attributes, text, CDATA, comments and processing
/// instructions; the five predefined entities and character references only; no DTD at all.
fn parse_xml(text: &str) -> Result<Node, XmlError> {
    struct Open {
        node: Node,
        qname: String,
        declared: usize,
    }
    fn syntax(what: &str) -> XmlError {
        XmlError::Syntax(format!("The request is not well-formed XML: {what}."))
    }
    fn close(node: Node, stack: &mut [Open], root: &mut Option<Node>) -> Result<(), XmlError> {
        match stack.last_mut() {
            Some(parent) => parent.node.children.push(node),
            None if root.is_none() => *root = Some(node),
            None => return Err(syntax("a second root element")),
        }
        Ok(())
    }

    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut bindings: Vec<(String, String)> =
        vec![("xml".to_owned(), "http://www.w3.org/XML/1998/namespace".to_owned())];
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut pos = 0;
    while pos < text.len() {
        let rest = &text[pos..];
        if rest.starts_with("<?") {
            pos += rest.find("?>").ok_or_else(|| syntax("an unterminated processing instruction"))? + 2;
        } else if rest.starts_with("<!--") {
            pos += rest.find("-->").ok_or_else(|| syntax("an unterminated comment"))? + 3;
        } else if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").ok_or_else(|| syntax("an unterminated CDATA section"))?;
            let open = stack.last_mut().ok_or_else(|| syntax("text outside the root element"))?;
            open.node.text.push_str(&cdata[..end]);
            pos += 9 + end + 3;
        } else if rest.starts_with("<!") {
            if rest.get(2..9).is_some_and(|word| word.eq_ignore_ascii_case("DOCTYPE")) {
                return Err(XmlError::DocType);
            }
            return Err(syntax("a markup declaration"));
        } else if let Some(end_tag) = rest.strip_prefix("</") {
            let end = end_tag.find('>').ok_or_else(|| syntax("an unterminated end tag"))?;
            let qname = end_tag[..end].trim();
            let open = stack.pop().ok_or_else(|| syntax("an end tag without a start tag"))?;
            if open.qname != qname {
                return Err(syntax(&format!("</{qname}> closes <{}>", open.qname)));
            }
            bindings.truncate(bindings.len() - open.declared);
            close(open.node, &mut stack, &mut root)?;
            pos += 2 + end + 1;
        } else if rest.starts_with('<') {
            let StartTag { length, qname, attributes: raw, empty } = start_tag(rest)?;
            if stack.len() >= MAX_DEPTH {
                return Err(syntax("elements nested too deep"));
            }
            let mut declared = 0;
            let mut attributes = Vec::new();
            for (name, value) in raw {
                if name == "xmlns" {
                    bindings.push((String::new(), value));
                    declared += 1;
                } else if let Some(prefix) = name.strip_prefix("xmlns:") {
                    bindings.push((prefix.to_owned(), value));
                    declared += 1;
                } else {
                    let local = name.rsplit_once(':').map_or(name, |(_, local)| local);
                    attributes.push((local.to_owned(), value));
                }
            }
            let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
            let ns = match bindings.iter().rev().find(|(p, _)| p == prefix) {
                Some((_, uri)) => uri.clone(),
                None if prefix.is_empty() => String::new(),
                None => return Err(syntax(&format!("the undeclared prefix '{prefix}'"))),
            };
            let node = Node { ns, name: local.to_owned(), attributes, text: String::new(), children: Vec::new() };
            if empty {
                bindings.truncate(bindings.len() - declared);
                close(node, &mut stack, &mut root)?;
            } else {
                stack.push(Open { node, qname: qname.to_owned(), declared });
            }
            pos += length;
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let chunk = &rest[..end];
            match stack.last_mut() {
                Some(open) => open.node.text.push_str(&decode_entities(chunk)?),
                None if chunk.trim().is_empty() => {}
                None => return Err(syntax("text outside the root element")),
            }
            pos += end;
        }
    }
    if let Some(open) = stack.last() {
        return Err(syntax(&format!("<{}> is never closed", open.qname)));
    }
    root.ok_or_else(|| syntax("no root element"))
}

/// A start tag as read: its length in the text, qualified name, attributes by qualified name
/// (values decoded) and whether it closes itself (`/>`).
#[derive(Debug)]
struct StartTag<'a> {
    length: usize,
    qname: &'a str,
    attributes: Vec<(&'a str, String)>,
    empty: bool,
}

/// The start tag at the beginning of `rest`.
fn start_tag(rest: &str) -> Result<StartTag<'_>, XmlError> {
    let unterminated = || XmlError::Syntax("The request is not well-formed XML: an unterminated start tag.".to_owned());
    let bytes = rest.as_bytes();
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let mut i = 1;
    while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'/' | b'>') {
        i += 1;
    }
    let qname = &rest[1..i];
    if qname.is_empty() {
        return Err(unterminated());
    }
    let mut attributes = Vec::new();
    loop {
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        match bytes.get(i) {
            None => return Err(unterminated()),
            Some(b'>') => return Ok(StartTag { length: i + 1, qname, attributes, empty: false }),
            Some(b'/') if bytes.get(i + 1) == Some(&b'>') => {
                return Ok(StartTag { length: i + 2, qname, attributes, empty: true });
            }
            Some(b'/') => return Err(unterminated()),
            Some(_) => {
                let start = i;
                while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'=' | b'>' | b'/') {
                    i += 1;
                }
                let name = &rest[start..i];
                while i < bytes.len() && is_space(bytes[i]) {
                    i += 1;
                }
                if bytes.get(i) != Some(&b'=') {
                    return Err(unterminated());
                }
                i += 1;
                while i < bytes.len() && is_space(bytes[i]) {
                    i += 1;
                }
                let quote = match bytes.get(i) {
                    Some(q @ (b'"' | b'\'')) => *q as char,
                    _ => return Err(unterminated()),
                };
                let value_start = i + 1;
                let length = rest[value_start..].find(quote).ok_or_else(unterminated)?;
                let raw = &rest[value_start..value_start + length];
                if raw.contains('<') {
                    return Err(unterminated());
                }
                attributes.push((name, decode_entities(raw)?));
                i = value_start + length + 1;
            }
        }
    }
}

fn decode_entities(text: &str) -> Result<String, XmlError> {
    if !text.contains('&') {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find(';').filter(|end| *end <= 40);
        let Some(end) = end else {
            return Err(XmlError::Syntax(
                "The request is not well-formed XML: an unterminated entity reference.".to_owned(),
            ));
        };
        let entity = &after[..end];
        let character = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => {
                let code = match entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => entity.strip_prefix('#').and_then(|decimal| decimal.parse().ok()),
                };
                code.and_then(char::from_u32)
            }
        };
        let Some(character) = character else {
            return Err(XmlError::Syntax(format!(
                "The request is not well-formed XML: the undefined entity '&{entity};'."
            )));
        };
        out.push(character);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

async fn handle(
    State(shared): State<Arc<Mutex<Shared>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match shared.lock() {
        Ok(mut shared) => shared.serve(&method, &uri, &headers, &body),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "fake Exchange state poisoned").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADA: &str = "ada@corp.example";
    const ADA_PASSWORD: &str = "Tr0ub4dor&3+x";
    const SERVICE: &str = "svc-calsync@corp.example";
    const SERVICE_PASSWORD: &str = "service-secret";
    const GRACE: &str = "grace@corp.example";

    fn utc(text: &str) -> DateTime<Utc> {
        parse_time(text).expect("a test time")
    }

    fn date(text: &str) -> NaiveDate {
        parse_date(text).expect("a test date")
    }

    /// A fake with Ada's account (signing in as CORP\ada or her address) and her calendar id.
    async fn with_ada() -> (FakeExchange, String) {
        let exchange = FakeExchange::start().await;
        exchange.add_account(ADA, ADA_PASSWORD, Some("CORP\\ada"));
        exchange.set_display_name(ADA, "Ada Lovelace");
        let calendar = exchange.calendar_id(ADA);
        (exchange, calendar)
    }

    /// A SOAP 1.1 request as the contract has the client write it.
    fn soap(header: &str, body: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{SOAP_NS}\" xmlns:t=\"{TYPES_NS}\" \
             xmlns:m=\"{MESSAGES_NS}\"><soap:Header><t:RequestServerVersion Version=\"Exchange2013_SP1\"/>{header}\
             </soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>"
        )
    }

    fn impersonating(address: &str) -> String {
        format!(
            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>{address}</t:PrimarySmtpAddress>\
             </t:ConnectingSID></t:ExchangeImpersonation>"
        )
    }

    async fn post(
        url: &str,
        user: &str,
        password: &str,
        body: String,
        anchor: Option<&str>,
    ) -> (u16, HeaderMap, String) {
        let mut request = reqwest::Client::new()
            .post(url)
            .basic_auth(user, Some(password))
            .header(header::CONTENT_TYPE, XML_CONTENT_TYPE)
            .body(body);
        if let Some(anchor) = anchor {
            request = request.header("X-AnchorMailbox", anchor);
        }
        let response = request.send().await.expect("the fake answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (status, headers, response.text().await.expect("a body"))
    }

    /// Sends an operation as Ada; answers the status and the parsed response message(s).
    async fn ada(exchange: &FakeExchange, body: &str) -> (u16, Node) {
        let (status, _, text) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, soap("", body), None).await;
        (status, parse_xml(&text).unwrap_or_else(|e| panic!("{e:?} in {text}")))
    }

    /// The response messages of an operation's answer.
    fn messages(document: &Node) -> Vec<&Node> {
        let body = document.child(SOAP_NS, "Body").expect("a SOAP Body");
        let response = body.children.first().expect("an operation response");
        let list = response.child(MESSAGES_NS, "ResponseMessages").expect("ResponseMessages");
        list.children.iter().collect()
    }

    fn only_message(document: &Node) -> &Node {
        let list = messages(document);
        assert_eq!(list.len(), 1, "{document:?}");
        list[0]
    }

    fn code(message: &Node) -> &str {
        message.child(MESSAGES_NS, "ResponseCode").map(Node::value).unwrap_or_default()
    }

    fn text_of<'a>(node: &'a Node, path: &[&str]) -> &'a str {
        let mut current = node;
        for name in path {
            let child = current.child(TYPES_NS, name).or_else(|| current.child(MESSAGES_NS, name));
            current = child.unwrap_or_else(|| panic!("no {name} in {current:?}"));
        }
        current.value()
    }

    fn calendar_item(message: &Node) -> &Node {
        message.child(MESSAGES_NS, "Items").and_then(|i| i.child(TYPES_NS, "CalendarItem")).expect("an item")
    }

    fn item_id(item: &Node) -> (String, String) {
        let id = item.child(TYPES_NS, "ItemId").expect("an ItemId");
        (id.attr("Id").unwrap_or_default().to_owned(), id.attr("ChangeKey").unwrap_or_default().to_owned())
    }

    fn sync(folder: &str, state: Option<&str>, max: usize) -> String {
        let state = state.map(|s| format!("<m:SyncState>{s}</m:SyncState>")).unwrap_or_default();
        format!(
            "<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId>\
             <t:FolderId Id=\"{folder}\"/></m:SyncFolderId>{state}<m:MaxChangesReturned>{max}</m:MaxChangesReturned>\
             <m:SyncScope>NormalItems</m:SyncScope></m:SyncFolderItems>"
        )
    }

    /// (change kind, item id) of a SyncFolderItems message, and its state and IncludesLastItemInRange.
    fn sync_answer(message: &Node) -> (Vec<(String, String)>, String, String) {
        let changes = message.child(MESSAGES_NS, "Changes").expect("Changes");
        let list = changes
            .children
            .iter()
            .map(|change| {
                let holder = change.child(TYPES_NS, "CalendarItem").unwrap_or(change);
                (change.name.clone(), item_id(holder).0)
            })
            .collect();
        let state = message.child(MESSAGES_NS, "SyncState").expect("SyncState").value().to_owned();
        let last = message.child(MESSAGES_NS, "IncludesLastItemInRange").expect("IncludesLast").value().to_owned();
        (list, state, last)
    }

    fn get_items(ids: &str) -> String {
        format!(
            "<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:BodyType>Text</t:BodyType>\
             <t:AdditionalProperties><t:FieldURI FieldURI=\"calendar:UID\"/><t:FieldURI FieldURI=\"calendar:StartTimeZoneId\"/>\
             <t:FieldURI FieldURI=\"calendar:RecurrenceId\"/><t:FieldURI FieldURI=\"calendar:ModifiedOccurrences\"/>\
             <t:FieldURI FieldURI=\"calendar:DeletedOccurrences\"/><t:FieldURI FieldURI=\"calendar:Recurrence\"/>\
             </t:AdditionalProperties></m:ItemShape><m:ItemIds>{ids}</m:ItemIds></m:GetItem>"
        )
    }

    fn find_view(folder: &str, start: &str, end: &str, max: Option<usize>) -> String {
        let max = max.map(|n| format!(" MaxEntriesReturned=\"{n}\"")).unwrap_or_default();
        format!(
            "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>\
             <t:FieldURI FieldURI=\"calendar:CalendarItemType\"/><t:FieldURI FieldURI=\"calendar:UID\"/>\
             <t:FieldURI FieldURI=\"calendar:Start\"/><t:FieldURI FieldURI=\"calendar:End\"/></t:AdditionalProperties>\
             </m:ItemShape><m:CalendarView{max} StartDate=\"{start}\" EndDate=\"{end}\"/><m:ParentFolderIds>\
             <t:FolderId Id=\"{folder}\"/></m:ParentFolderIds></m:FindItem>"
        )
    }

    /// Ada's weekly Monday and Wednesday stand-up from 4 May 2026, six times, its 6 May occurrence
    /// moved to 7 May 14:00 and renamed, its 11 May occurrence deleted; (master id, exception id).
    fn standup(exchange: &FakeExchange, calendar: &str) -> (String, String) {
        let pattern = Pattern::Weekly { interval: 1, days: vec![Weekday::Mon, Weekday::Wed], first_day_of_week: None };
        let range = RecurrenceRange::Numbered { start: date("2026-05-04"), count: 6 };
        let mut item = CalendarItem::new("Stand-up", utc("2026-05-04T09:00:00Z"), utc("2026-05-04T09:15:00Z"))
            .recurring(pattern, range);
        item.start_time_zone_id = Some("W. Europe Standard Time".to_owned());
        item.uid = "standup-uid".to_owned();
        let master = exchange.put_item(ADA, calendar, item);
        let moved = exchange.modify_occurrence(
            ADA,
            &master,
            utc("2026-05-06T09:00:00Z"),
            utc("2026-05-07T14:00:00Z"),
            utc("2026-05-07T14:15:00Z"),
            Some("Stand-up (moved)"),
        );
        exchange.delete_occurrence(ADA, &master, utc("2026-05-11T09:00:00Z"));
        (master, moved)
    }

    #[tokio::test]
    async fn wrong_credentials_answer_401_with_a_basic_challenge_and_no_body() {
        let (exchange, _) = with_ada().await;
        let get_folder = soap(
            "",
            "<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:FolderIds>\
             <t:DistinguishedFolderId Id=\"calendar\"/></m:FolderIds></m:GetFolder>",
        );
        let (status, headers, body) = post(&exchange.ews_url(), ADA, "wrong", get_folder.clone(), None).await;
        assert_eq!((status, body.as_str()), (401, ""));
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Basic realm=\"127.0.0.1\"");

        // The Windows user name signs in too, and a password with '+' and '&' is taken as sent.
        let (status, _, _) = post(&exchange.ews_url(), "corp\\ADA", ADA_PASSWORD, get_folder.clone(), None).await;
        assert_eq!(status, 200);
        exchange.set_password(ADA, "new password");
        let (status, _, _) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, get_folder.clone(), None).await;
        assert_eq!(status, 401);
        let (status, _, _) = post(&exchange.ews_url(), ADA, "new password", get_folder, None).await;
        assert_eq!(status, 200);

        let requests = exchange.requests();
        assert_eq!(requests[0].user.as_deref(), Some(ADA));
        assert_eq!(requests[0].mailbox, None);
        assert_eq!(requests[1].user.as_deref(), Some("corp\\ADA"));
        assert_eq!(requests[1].mailbox.as_deref(), Some(ADA));
        assert_eq!(requests[1].server_version.as_deref(), Some("Exchange2013_SP1"));
        assert_eq!(exchange.ews_request_count(), 4);
        assert_eq!(exchange.operation_count("GetFolder"), 2);
    }

    #[tokio::test]
    async fn autodiscover_answers_the_ews_url_for_known_addresses_and_error_500_for_others() {
        let (exchange, _) = with_ada().await;
        exchange.add_mailbox(GRACE);
        let request = |address: &str| {
            format!(
                "<Autodiscover xmlns=\"{AUTODISCOVER_REQUEST_NS}\"><Request><EMailAddress>{address}</EMailAddress>\
                 <AcceptableResponseSchema>{OUTLOOK_RESPONSE_NS}</AcceptableResponseSchema></Request></Autodiscover>"
            )
        };
        let url = exchange.autodiscover_url();
        let (status, headers, body) = post(&url, ADA, ADA_PASSWORD, request(ADA), None).await;
        assert_eq!(status, 200);
        assert_eq!(headers[header::CONTENT_TYPE], XML_CONTENT_TYPE);
        let ews = exchange.ews_url();
        assert_eq!(
            body,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/\
                 autodiscover/responseschema/2006\"><Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/\
                 outlook/responseschema/2006a\"><User><DisplayName>Ada Lovelace</DisplayName><AutoDiscoverSMTPAddress>\
                 ada@corp.example</AutoDiscoverSMTPAddress></User><Account><AccountType>email</AccountType><Action>\
                 settings</Action><Protocol><Type>EXCH</Type><EwsUrl>{ews}</EwsUrl></Protocol><Protocol><Type>EXPR\
                 </Type><EwsUrl>{ews}</EwsUrl></Protocol></Account></Response></Autodiscover>"
            )
        );
        assert!(ews.ends_with("/EWS/Exchange.asmx"));

        // Another mailbox of the organisation is known too; an unknown address is error 500.
        let (_, _, body) = post(&url, ADA, ADA_PASSWORD, request(GRACE), None).await;
        assert!(body.contains("<AutoDiscoverSMTPAddress>grace@corp.example</AutoDiscoverSMTPAddress>"), "{body}");
        let (status, _, body) = post(&url, ADA, ADA_PASSWORD, request("nobody@corp.example"), None).await;
        assert_eq!(status, 200);
        let document = parse_xml(&body).expect("XML");
        let error = document
            .child(AUTODISCOVER_RESPONSE_NS, "Response")
            .and_then(|r| r.child(AUTODISCOVER_RESPONSE_NS, "Error"))
            .expect("an Error");
        assert_eq!(error.child(AUTODISCOVER_RESPONSE_NS, "ErrorCode").map(Node::value), Some("500"));
        assert_eq!(
            error.child(AUTODISCOVER_RESPONSE_NS, "Message").map(Node::value),
            Some("The e-mail address cannot be found.")
        );
        let (status, _, body) = post(&url, ADA, "wrong", request(ADA), None).await;
        assert_eq!((status, body.as_str()), (401, ""));
        assert_eq!(exchange.ews_request_count(), 0);
        assert!(exchange.requests().iter().all(|r| r.operation.is_none() && r.path == AUTODISCOVER_PATH));
    }

    #[tokio::test]
    async fn sync_folder_items_pages_by_max_changes_then_reports_changes_since_and_then_nothing() {
        let (exchange, calendar) = with_ada().await;
        let day = |d: u32| utc(&format!("2026-05-{d:02}T09:00:00Z"));
        let a = exchange.put_item(ADA, &calendar, CalendarItem::new("A", day(4), day(4)));
        let b = exchange.put_item(ADA, &calendar, CalendarItem::new("B", day(5), day(5)));
        let c = exchange.put_item(ADA, &calendar, CalendarItem::new("C", day(6), day(6)));

        let (status, first) = ada(&exchange, &sync(&calendar, None, 2)).await;
        assert_eq!(status, 200);
        let message = only_message(&first);
        assert_eq!((message.attr("ResponseClass"), code(message)), (Some("Success"), "NoError"));
        let (changes, state, last) = sync_answer(message);
        assert_eq!(changes, [("Create".to_owned(), a.clone()), ("Create".to_owned(), b.clone())]);
        assert_eq!(last, "false");
        let change_key = message
            .child(MESSAGES_NS, "Changes")
            .and_then(|c| c.child(TYPES_NS, "Create"))
            .map(|c| item_id(c.child(TYPES_NS, "CalendarItem").expect("an item")).1);
        assert_eq!(change_key, Some(exchange.items(ADA, &calendar)[0].change_key.clone()));

        let (_, second) = ada(&exchange, &sync(&calendar, Some(&state), 2)).await;
        let (changes, state, last) = sync_answer(only_message(&second));
        assert_eq!((changes, last.as_str()), (vec![("Create".to_owned(), c.clone())], "true"));
        let (_, third) = ada(&exchange, &sync(&calendar, Some(&state), 2)).await;
        let (changes, same_state, last) = sync_answer(only_message(&third));
        assert_eq!((changes.len(), last.as_str(), same_state.as_str()), (0, "true", state.as_str()));

        // Changes in Outlook: B renamed, A deleted, D added, a master whose occurrence moves.
        let mut renamed = exchange.items(ADA, &calendar)[1].clone();
        renamed.subject = "B, renamed".to_owned();
        assert_eq!(exchange.put_item(ADA, &calendar, renamed), b);
        exchange.delete_item(ADA, &a);
        let d = exchange.put_item(ADA, &calendar, CalendarItem::new("D", day(7), day(7)));
        let (master, _) = standup(&exchange, &calendar);
        let (_, fourth) = ada(&exchange, &sync(&calendar, Some(&state), 512)).await;
        let (changes, state, last) = sync_answer(only_message(&fourth));
        let expected = [("Update", &b), ("Delete", &a), ("Create", &d), ("Create", &master)];
        let expected: Vec<(String, String)> = expected.iter().map(|(k, id)| (k.to_string(), id.to_string())).collect();
        assert_eq!((changes, last.as_str()), (expected, "true"));
        let (_, fifth) = ada(&exchange, &sync(&calendar, Some(&state), 512)).await;
        assert_eq!(sync_answer(only_message(&fifth)).0, Vec::<(String, String)>::new());

        // An occurrence changed later is an Update of its master (never of the occurrence).
        exchange.delete_occurrence(ADA, &master, utc("2026-05-13T09:00:00Z"));
        let (_, sixth) = ada(&exchange, &sync(&calendar, Some(&state), 512)).await;
        assert_eq!(sync_answer(only_message(&sixth)).0, [("Update".to_owned(), master)]);
    }

    #[tokio::test]
    async fn an_unknown_or_malformed_sync_state_answers_error_invalid_sync_state_data() {
        let (exchange, calendar) = with_ada().await;
        let other = exchange.add_calendar(ADA, "Holidays", true);
        let (_, _, body) = post(
            &exchange.ews_url(),
            ADA,
            ADA_PASSWORD,
            soap("", &sync(&calendar, Some("bm90IGEgc3RhdGU="), 10)),
            None,
        )
        .await;
        assert_eq!(
            body,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Header>\
                 <h:ServerVersionInfo MajorVersion=\"15\" MinorVersion=\"0\" MajorBuildNumber=\"847\" \
                 MinorBuildNumber=\"32\" xmlns:h=\"{TYPES_NS}\"/></s:Header><s:Body><m:SyncFolderItemsResponse \
                 xmlns:m=\"{MESSAGES_NS}\" xmlns:t=\"{TYPES_NS}\"><m:ResponseMessages>\
                 <m:SyncFolderItemsResponseMessage ResponseClass=\"Error\"><m:MessageText>Synchronization state data is \
                 corrupt or otherwise invalid.</m:MessageText><m:ResponseCode>ErrorInvalidSyncStateData</m:ResponseCode>\
                 <m:DescriptiveLinkKey>0</m:DescriptiveLinkKey></m:SyncFolderItemsResponseMessage></m:ResponseMessages>\
                 </m:SyncFolderItemsResponse></s:Body></s:Envelope>"
            )
        );
        let (_, first) = ada(&exchange, &sync(&calendar, None, 10)).await;
        let (_, state, _) = sync_answer(only_message(&first));
        // A state of another folder, a truncated one, and one the server forgot.
        let (_, answer) = ada(&exchange, &sync(&other, Some(&state), 10)).await;
        assert_eq!(code(only_message(&answer)), "ErrorInvalidSyncStateData");
        let (_, answer) = ada(&exchange, &sync(&calendar, Some(&state[..state.len() - 4]), 10)).await;
        assert_eq!(code(only_message(&answer)), "ErrorInvalidSyncStateData");
        let (_, answer) = ada(&exchange, &sync(&calendar, Some(&state), 10)).await;
        assert_eq!(code(only_message(&answer)), "NoError");
        exchange.invalidate_sync_states();
        let (_, answer) = ada(&exchange, &sync(&calendar, Some(&state), 10)).await;
        assert_eq!(code(only_message(&answer)), "ErrorInvalidSyncStateData");
        // A full resync (no state) works again.
        let (_, answer) = ada(&exchange, &sync(&calendar, None, 10)).await;
        assert_eq!(code(only_message(&answer)), "NoError");
    }

    #[tokio::test]
    async fn get_item_of_a_master_lists_its_modified_and_deleted_occurrences_and_resolves_occurrence_ids() {
        let (exchange, calendar) = with_ada().await;
        let (master, moved) = standup(&exchange, &calendar);
        assert_eq!(moved, exchange.occurrence_id(&master, utc("2026-05-06T09:00:00Z")));
        let (status, document) = ada(&exchange, &get_items(&format!("<t:ItemId Id=\"{master}\"/>"))).await;
        assert_eq!(status, 200);
        let item = calendar_item(only_message(&document));
        assert_eq!(item_id(item), (master.clone(), exchange.items(ADA, &calendar)[0].change_key.clone()));
        assert_eq!(text_of(item, &["Subject"]), "Stand-up");
        assert_eq!(text_of(item, &["CalendarItemType"]), "RecurringMaster");
        assert_eq!(text_of(item, &["UID"]), "standup-uid");
        assert_eq!(text_of(item, &["Start"]), "2026-05-04T09:00:00Z");
        assert_eq!(text_of(item, &["End"]), "2026-05-04T09:15:00Z");
        assert_eq!(text_of(item, &["IsAllDayEvent"]), "false");
        assert_eq!(text_of(item, &["LegacyFreeBusyStatus"]), "Busy");
        assert_eq!(text_of(item, &["Sensitivity"]), "Normal");
        assert_eq!(text_of(item, &["StartTimeZoneId"]), "W. Europe Standard Time");
        assert_eq!(text_of(item, &["Organizer", "Mailbox", "EmailAddress"]), ADA);
        assert_eq!(text_of(item, &["Organizer", "Mailbox", "Name"]), "Ada Lovelace");
        assert!(item.child(TYPES_NS, "RecurrenceId").is_none());
        assert_eq!(text_of(item, &["Recurrence", "WeeklyRecurrence", "DaysOfWeek"]), "Monday Wednesday");
        assert_eq!(text_of(item, &["Recurrence", "WeeklyRecurrence", "Interval"]), "1");
        assert_eq!(text_of(item, &["Recurrence", "NumberedRecurrence", "StartDate"]), "2026-05-04Z");
        assert_eq!(text_of(item, &["Recurrence", "NumberedRecurrence", "NumberOfOccurrences"]), "6");
        let modified = item.child(TYPES_NS, "ModifiedOccurrences").expect("ModifiedOccurrences");
        assert_eq!(modified.children.len(), 1);
        let occurrence = &modified.children[0];
        assert_eq!(item_id(occurrence).0, moved);
        assert_eq!(text_of(occurrence, &["Start"]), "2026-05-07T14:00:00Z");
        assert_eq!(text_of(occurrence, &["End"]), "2026-05-07T14:15:00Z");
        assert_eq!(text_of(occurrence, &["OriginalStart"]), "2026-05-06T09:00:00Z");
        let deleted = item.child(TYPES_NS, "DeletedOccurrences").expect("DeletedOccurrences");
        let starts: Vec<&str> = deleted.children.iter().map(|d| text_of(d, &["Start"])).collect();
        assert_eq!(starts, ["2026-05-11T09:00:00Z"]);
        // Schema order: ItemId, Subject, Sensitivity, ..., UID, Start, End, ..., Recurrence, ModifiedOccurrences.
        let order: Vec<&str> = item.children.iter().map(|c| c.name.as_str()).collect();
        let position = |name: &str| order.iter().position(|n| *n == name).unwrap_or(usize::MAX);
        assert!(position("Subject") < position("Sensitivity") && position("UID") < position("Start"));
        assert!(
            position("CalendarItemType") < position("Recurrence")
                && position("Recurrence") < position("ModifiedOccurrences")
        );

        // A batch: the exception, its master, a plain occurrence, a deleted one, and nonsense.
        let plain = exchange.occurrence_id(&master, utc("2026-05-13T09:00:00Z"));
        let gone = exchange.occurrence_id(&master, utc("2026-05-11T09:00:00Z"));
        let never = exchange.occurrence_id(&master, utc("2026-05-12T09:00:00Z"));
        let ids = format!(
            "<t:ItemId Id=\"{moved}\"/><t:RecurringMasterItemId OccurrenceId=\"{moved}\"/><t:ItemId Id=\"{plain}\"/>\
             <t:ItemId Id=\"{gone}\"/><t:ItemId Id=\"{never}\"/><t:ItemId Id=\"AAMkNothing=\"/>"
        );
        let (_, document) = ada(&exchange, &get_items(&ids)).await;
        let list = messages(&document);
        assert_eq!(list.len(), 6);
        let exception = calendar_item(list[0]);
        assert_eq!(item_id(exception).0, moved);
        assert_eq!(text_of(exception, &["CalendarItemType"]), "Exception");
        assert_eq!(text_of(exception, &["Subject"]), "Stand-up (moved)");
        assert_eq!(text_of(exception, &["RecurrenceId"]), "2026-05-06T09:00:00Z");
        assert_eq!(text_of(exception, &["Start"]), "2026-05-07T14:00:00Z");
        assert_eq!(text_of(exception, &["UID"]), "standup-uid");
        assert!(exception.child(TYPES_NS, "Recurrence").is_none());
        assert_eq!(item_id(calendar_item(list[1])).0, master);
        let occurrence = calendar_item(list[2]);
        assert_eq!(text_of(occurrence, &["CalendarItemType"]), "Occurrence");
        assert_eq!(text_of(occurrence, &["RecurrenceId"]), "2026-05-13T09:00:00Z");
        assert_eq!(text_of(occurrence, &["Start"]), "2026-05-13T09:00:00Z");
        assert_eq!(text_of(occurrence, &["End"]), "2026-05-13T09:15:00Z");
        assert_eq!(text_of(occurrence, &["Subject"]), "Stand-up");
        for missing in &list[3..] {
            assert_eq!(missing.attr("ResponseClass"), Some("Error"));
            assert_eq!(code(missing), "ErrorItemNotFound");
            assert_eq!(
                missing.child(MESSAGES_NS, "MessageText").map(Node::value),
                Some("The specified object was not found in the store.")
            );
            assert_eq!(missing.child(MESSAGES_NS, "DescriptiveLinkKey").map(Node::value), Some("0"));
        }
    }

    #[tokio::test]
    async fn find_item_expands_occurrences_in_the_view_and_cuts_at_max_entries_returned() {
        let (exchange, calendar) = with_ada().await;
        let (master, moved) = standup(&exchange, &calendar);
        let single = exchange.put_item(
            ADA,
            &calendar,
            CalendarItem::new("Lunch", utc("2026-05-05T12:00:00Z"), utc("2026-05-05T13:00:00Z")),
        );
        exchange.put_item(
            ADA,
            &calendar,
            CalendarItem::new("Later", utc("2026-07-01T12:00:00Z"), utc("2026-07-01T13:00:00Z")),
        );
        let entries = |document: &Node| -> Vec<(String, String, String)> {
            let root = only_message(document).child(MESSAGES_NS, "RootFolder").expect("RootFolder");
            let items = root.child(TYPES_NS, "Items").expect("Items");
            items
                .children
                .iter()
                .map(|i| {
                    (item_id(i).0, text_of(i, &["CalendarItemType"]).to_owned(), text_of(i, &["Start"]).to_owned())
                })
                .collect()
        };
        let root_attributes = |document: &Node| {
            let root = only_message(document).child(MESSAGES_NS, "RootFolder").expect("RootFolder");
            (root.attr("TotalItemsInView").map(str::to_owned), root.attr("IncludesLastItemInRange").map(str::to_owned))
        };
        let occurrence = |start: &str| exchange.occurrence_id(&master, utc(start));
        let expected = vec![
            (occurrence("2026-05-04T09:00:00Z"), "Occurrence".to_owned(), "2026-05-04T09:00:00Z".to_owned()),
            (single.clone(), "Single".to_owned(), "2026-05-05T12:00:00Z".to_owned()),
            (moved.clone(), "Exception".to_owned(), "2026-05-07T14:00:00Z".to_owned()),
            (occurrence("2026-05-13T09:00:00Z"), "Occurrence".to_owned(), "2026-05-13T09:00:00Z".to_owned()),
            (occurrence("2026-05-18T09:00:00Z"), "Occurrence".to_owned(), "2026-05-18T09:00:00Z".to_owned()),
            (occurrence("2026-05-20T09:00:00Z"), "Occurrence".to_owned(), "2026-05-20T09:00:00Z".to_owned()),
        ];
        let (status, document) =
            ada(&exchange, &find_view(&calendar, "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", None)).await;
        assert_eq!(status, 200);
        assert_eq!(entries(&document), expected);
        assert_eq!(root_attributes(&document), (Some("6".to_owned()), Some("true".to_owned())));
        let first = &only_message(&document).child(MESSAGES_NS, "RootFolder").expect("root").children[0].children[0];
        assert_eq!(text_of(first, &["UID"]), "standup-uid");
        assert_eq!(text_of(first, &["End"]), "2026-05-04T09:15:00Z");
        assert!(first.child(TYPES_NS, "Subject").is_none(), "IdOnly plus the additional properties only");

        let (_, document) =
            ada(&exchange, &find_view(&calendar, "2026-05-01T00:00:00Z", "2026-06-01T00:00:00Z", Some(3))).await;
        assert_eq!(entries(&document), expected[..3]);
        assert_eq!(root_attributes(&document), (Some("6".to_owned()), Some("false".to_owned())));
        // The client splits the range and gets the rest.
        let (_, document) =
            ada(&exchange, &find_view(&calendar, "2026-05-07T14:15:00Z", "2026-06-01T00:00:00Z", Some(3))).await;
        assert_eq!(entries(&document), expected[3..]);

        // An occurrence overlapping the start of the view is in it; one ending at it is not.
        let (_, document) =
            ada(&exchange, &find_view(&calendar, "2026-05-04T09:10:00Z", "2026-05-04T09:20:00Z", None)).await;
        assert_eq!(entries(&document).len(), 1);
        let (_, document) =
            ada(&exchange, &find_view(&calendar, "2026-05-04T09:15:00Z", "2026-05-04T10:00:00Z", None)).await;
        assert_eq!(entries(&document).len(), 0);

        let (_, document) =
            ada(&exchange, &find_view(&calendar, "2026-01-01T00:00:00Z", "2028-01-01T00:00:01Z", None)).await;
        let message = only_message(&document);
        assert_eq!((message.attr("ResponseClass"), code(message)), (Some("Error"), "ErrorCalendarViewRangeTooBig"));
        let (_, document) =
            ada(&exchange, &find_view(&calendar, "2026-01-01T00:00:00Z", "2028-01-01T00:00:00Z", None)).await;
        assert_eq!(code(only_message(&document)), "NoError");
    }

    #[test]
    fn the_four_patterns_expand_in_utc_within_their_ranges() {
        let expand = |pattern: Pattern, range: RecurrenceRange, start: &str, until: &str| -> Vec<String> {
            let item = CalendarItem::new("x", utc(start), utc(start)).recurring(pattern, range);
            instance_starts(&item, utc(until)).into_iter().map(ews_time).collect()
        };
        let daily = expand(
            Pattern::Daily { interval: 3 },
            RecurrenceRange::EndDate { start: date("2026-05-30"), end: date("2026-06-06") },
            "2026-05-30T23:30:00Z",
            "2027-01-01T00:00:00Z",
        );
        assert_eq!(daily, ["2026-05-30T23:30:00Z", "2026-06-02T23:30:00Z", "2026-06-05T23:30:00Z"]);
        let every_other_week = expand(
            Pattern::Weekly {
                interval: 2,
                days: vec![Weekday::Tue, Weekday::Fri],
                first_day_of_week: Some(Weekday::Mon),
            },
            RecurrenceRange::Numbered { start: date("2026-05-08"), count: 4 },
            "2026-05-08T07:00:00Z",
            "2027-01-01T00:00:00Z",
        );
        // From Friday 8 May: that week's Friday, then Tuesday and Friday of every second week.
        assert_eq!(
            every_other_week,
            ["2026-05-08T07:00:00Z", "2026-05-19T07:00:00Z", "2026-05-22T07:00:00Z", "2026-06-02T07:00:00Z"]
        );
        let monthly = expand(
            Pattern::AbsoluteMonthly { interval: 1, day_of_month: 31 },
            RecurrenceRange::NoEnd { start: date("2026-01-31") },
            "2026-01-31T10:00:00Z",
            "2026-05-01T00:00:00Z",
        );
        assert_eq!(
            monthly,
            ["2026-01-31T10:00:00Z", "2026-02-28T10:00:00Z", "2026-03-31T10:00:00Z", "2026-04-30T10:00:00Z"]
        );
        let yearly = expand(
            Pattern::AbsoluteYearly { day_of_month: 29, month: 2 },
            RecurrenceRange::Numbered { start: date("2027-01-01"), count: 2 },
            "2027-02-28T00:00:00Z",
            "2040-01-01T00:00:00Z",
        );
        assert_eq!(yearly, ["2027-02-28T00:00:00Z", "2028-02-29T00:00:00Z"]);
    }

    #[test]
    fn a_series_recurs_at_the_wall_clock_time_of_its_start_zone_across_daylight_saving() {
        let expand = |pattern: Pattern, range: RecurrenceRange, start: &str, zone: &str, until: &str| -> Vec<String> {
            let mut item = CalendarItem::new("x", utc(start), utc(start)).recurring(pattern, range);
            item.start_time_zone_id = Some(zone.to_owned());
            instance_starts(&item, utc(until)).into_iter().map(ews_time).collect()
        };
        // Mondays at 09:00 in London: 09:00 UTC in winter, 08:00 UTC in summer.
        let mondays = expand(
            Pattern::Weekly { interval: 1, days: vec![Weekday::Mon], first_day_of_week: None },
            RecurrenceRange::NoEnd { start: date("2026-03-23") },
            "2026-03-23T09:00:00Z",
            "GMT Standard Time",
            "2026-11-03T00:00:00Z",
        );
        assert_eq!(mondays.len(), 33);
        assert_eq!(mondays[..2], ["2026-03-23T09:00:00Z", "2026-03-30T08:00:00Z"]);
        assert_eq!(mondays[30..], ["2026-10-19T08:00:00Z", "2026-10-26T09:00:00Z", "2026-11-02T09:00:00Z"]);
        // Daily at 01:30, which 29 March skips in London: read with the offset before the gap.
        let nightly = expand(
            Pattern::Daily { interval: 1 },
            RecurrenceRange::Numbered { start: date("2026-03-28"), count: 3 },
            "2026-03-28T01:30:00Z",
            "GMT Standard Time",
            "2027-01-01T00:00:00Z",
        );
        assert_eq!(nightly, ["2026-03-28T01:30:00Z", "2026-03-29T01:30:00Z", "2026-03-30T00:30:00Z"]);
        // The pattern's dates are the zone's: 23:30 UTC on Sunday is Monday in Berlin.
        let berlin = expand(
            Pattern::Weekly { interval: 1, days: vec![Weekday::Mon], first_day_of_week: None },
            RecurrenceRange::Numbered { start: date("2026-01-05"), count: 2 },
            "2026-01-04T23:30:00Z",
            "W. Europe Standard Time",
            "2027-01-01T00:00:00Z",
        );
        assert_eq!(berlin, ["2026-01-04T23:30:00Z", "2026-01-11T23:30:00Z"]);
        // Every Windows id the fake knows names a zone chrono-tz has.
        for (windows, iana) in WINDOWS_ZONES {
            assert!(iana.parse::<Tz>().is_ok(), "{windows}: {iana}");
        }
    }

    #[tokio::test]
    async fn time_zones_are_windows_ids_in_schema_order_and_a_new_zone_alone_keeps_the_local_time() {
        let (exchange, calendar) = with_ada().await;
        let create = |zones: &str| {
            format!(
                "<m:CreateItem SendMeetingInvitations=\"SendToNone\"><m:SavedItemFolderId><t:FolderId Id=\"{calendar}\"/>\
                 </m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Review</t:Subject>\
                 <t:Start>2026-03-23T09:00:00Z</t:Start><t:End>2026-03-23T10:00:00Z</t:End><t:Recurrence>\
                 <t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday</t:DaysOfWeek></t:WeeklyRecurrence>\
                 <t:NumberedRecurrence><t:StartDate>2026-03-23</t:StartDate><t:NumberOfOccurrences>3</t:NumberOfOccurrences>\
                 </t:NumberedRecurrence></t:Recurrence>{zones}</t:CalendarItem></m:Items></m:CreateItem>"
            )
        };
        let london = "<t:StartTimeZone Id=\"GMT Standard Time\"/><t:EndTimeZone Id=\"GMT Standard Time\"/>";
        let (_, document) = ada(&exchange, &create(london)).await;
        let message = only_message(&document);
        assert_eq!(code(message), "NoError");
        let id = item_id(calendar_item(message)).0;
        let stored = exchange.item(ADA, &id).expect("the series");
        assert_eq!(stored.start_time_zone_id.as_deref(), Some("GMT Standard Time"));
        assert_eq!(stored.end_time_zone_id.as_deref(), Some("GMT Standard Time"));
        // The view expands it in London: the week after the change it starts an hour earlier in UTC.
        let (_, document) =
            ada(&exchange, &find_view(&calendar, "2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z", None)).await;
        let view = only_message(&document);
        let items = view.child(MESSAGES_NS, "RootFolder").and_then(|r| r.child(TYPES_NS, "Items")).expect("Items");
        let starts: Vec<&str> = items.children.iter().map(|i| text_of(i, &["Start"])).collect();
        assert_eq!(starts, ["2026-03-23T09:00:00Z", "2026-03-30T08:00:00Z", "2026-04-06T08:00:00Z"]);

        // Zones before the recurrence, or the end's before the start's: a schema violation.
        let (end_first, before_recurrence) = (
            "<t:EndTimeZone Id=\"GMT Standard Time\"/><t:StartTimeZone Id=\"GMT Standard Time\"/>",
            create(london).replace(london, "").replace("<t:Recurrence>", &format!("{london}<t:Recurrence>")),
        );
        for body in [create(end_first), before_recurrence] {
            let (status, _, answer) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, soap("", &body), None).await;
            assert_eq!(status, 500, "{body}");
            assert!(answer.contains("a:ErrorSchemaValidation"), "{answer}");
        }
        // An id that names no Windows zone fails the item.
        let (_, document) = ada(&exchange, &create("<t:StartTimeZone Id=\"Europe/London\"/>")).await;
        let message = only_message(&document);
        assert_eq!((message.attr("ResponseClass"), code(message)), (Some("Error"), "ErrorTimeZone"));

        // Berlin alone: the same local 09:00 there, an hour earlier in UTC. With the Start set
        // after it, the Start sent.
        let update = |extra: &str| {
            format!(
                "<m:UpdateItem ConflictResolution=\"AlwaysOverwrite\" SendMeetingInvitationsOrCancellations=\"SendToNone\">\
                 <m:ItemChanges><t:ItemChange><t:ItemId Id=\"{id}\"/><t:Updates><t:SetItemField>\
                 <t:FieldURI FieldURI=\"calendar:StartTimeZone\"/><t:CalendarItem><t:StartTimeZone \
                 Id=\"W. Europe Standard Time\"/></t:CalendarItem></t:SetItemField><t:SetItemField>\
                 <t:FieldURI FieldURI=\"calendar:EndTimeZone\"/><t:CalendarItem><t:EndTimeZone \
                 Id=\"W. Europe Standard Time\"/></t:CalendarItem></t:SetItemField>{extra}</t:Updates></t:ItemChange>\
                 </m:ItemChanges></m:UpdateItem>"
            )
        };
        let (_, document) = ada(&exchange, &update("")).await;
        assert_eq!(code(only_message(&document)), "NoError");
        let stored = exchange.item(ADA, &id).expect("the series");
        assert_eq!((stored.start, stored.end), (utc("2026-03-23T08:00:00Z"), utc("2026-03-23T09:00:00Z")));
        assert_eq!(stored.start_time_zone_id.as_deref(), Some("W. Europe Standard Time"));
        let start = "<t:SetItemField><t:FieldURI FieldURI=\"calendar:Start\"/><t:CalendarItem>\
                     <t:Start>2026-03-23T09:00:00Z</t:Start></t:CalendarItem></t:SetItemField>";
        let (_, document) = ada(&exchange, &update(start)).await;
        assert_eq!(code(only_message(&document)), "NoError");
        assert_eq!(exchange.item(ADA, &id).map(|i| i.start), Some(utc("2026-03-23T09:00:00Z")));
    }

    #[tokio::test]
    async fn a_lost_answer_still_makes_the_change() {
        let (exchange, calendar) = with_ada().await;
        let create = format!(
            "<m:CreateItem SendMeetingInvitations=\"SendToNone\"><m:SavedItemFolderId><t:FolderId Id=\"{calendar}\"/>\
             </m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Review</t:Subject>\
             <t:Start>2026-05-04T09:00:00Z</t:Start><t:End>2026-05-04T10:00:00Z</t:End></t:CalendarItem></m:Items>\
             </m:CreateItem>"
        );
        exchange.lose_next_answers("CreateItem", 1);
        let (status, _, body) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, soap("", &create), None).await;
        assert_eq!((status, body.as_str()), (504, ""));
        assert_eq!(exchange.items(ADA, &calendar).len(), 1, "made, though the client never heard");
        let (status, document) = ada(&exchange, &create).await;
        assert_eq!((status, code(only_message(&document))), (200, "NoError"));
        assert_eq!(exchange.items(ADA, &calendar).len(), 2);
    }

    #[tokio::test]
    async fn create_update_with_a_stale_change_key_conflicts_and_delete_answers_not_found_once_gone() {
        let (exchange, calendar) = with_ada().await;
        let create = format!(
            "<m:CreateItem SendMeetingInvitations=\"SendToAllAndSaveCopy\"><m:SavedItemFolderId><t:FolderId Id=\"{calendar}\"/>\
             </m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Review &amp; plan</t:Subject>\
             <t:Sensitivity>Private</t:Sensitivity><t:Body BodyType=\"Text\">Bring notes</t:Body>\
             <t:ReminderIsSet>false</t:ReminderIsSet><t:UID>client-uid-1@calsync</t:UID>\
             <t:Start>2026-05-04T11:00:00+02:00</t:Start><t:End>2026-05-04T10:00:00Z</t:End>\
             <t:IsAllDayEvent>false</t:IsAllDayEvent><t:LegacyFreeBusyStatus>Tentative</t:LegacyFreeBusyStatus>\
             <t:Location>Room 1</t:Location><t:RequiredAttendees><t:Attendee><t:Mailbox><t:Name>Grace</t:Name>\
             <t:EmailAddress>{GRACE}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees>\
             </t:CalendarItem></m:Items></m:CreateItem>"
        );
        let (status, document) = ada(&exchange, &create).await;
        assert_eq!(status, 200);
        let message = only_message(&document);
        assert_eq!(code(message), "NoError");
        let (id, first_key) = item_id(calendar_item(message));
        let stored = exchange.item(ADA, &id).expect("the new item");
        assert_eq!(stored.uid, "client-uid-1@calsync");
        assert_eq!(stored.subject, "Review & plan");
        assert_eq!((stored.start, stored.end), (utc("2026-05-04T09:00:00Z"), utc("2026-05-04T10:00:00Z")));
        assert_eq!(stored.meeting_invitations.as_deref(), Some("SendToAllAndSaveCopy"));
        assert_eq!(stored.required_attendees, [Attendee::new("Grace", GRACE)]);
        assert_eq!((stored.sensitivity.as_str(), stored.legacy_free_busy_status.as_str()), ("Private", "Tentative"));
        assert_eq!(stored.change_key, first_key);

        let update = |change_key: &str, resolution: &str| {
            format!(
                "<m:UpdateItem ConflictResolution=\"{resolution}\" SendMeetingInvitationsOrCancellations=\"SendToNone\">\
                 <m:ItemChanges><t:ItemChange><t:ItemId Id=\"{id}\" ChangeKey=\"{change_key}\"/><t:Updates>\
                 <t:SetItemField><t:FieldURI FieldURI=\"item:Subject\"/><t:CalendarItem><t:Subject>Retro</t:Subject>\
                 </t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI=\"calendar:End\"/>\
                 <t:CalendarItem><t:End>2026-05-04T10:30:00Z</t:End></t:CalendarItem></t:SetItemField>\
                 <t:DeleteItemField><t:FieldURI FieldURI=\"calendar:Location\"/></t:DeleteItemField></t:Updates>\
                 </t:ItemChange></m:ItemChanges></m:UpdateItem>"
            )
        };
        let (_, document) = ada(&exchange, &update(&first_key, "NeverOverwrite")).await;
        let message = only_message(&document);
        assert_eq!(code(message), "NoError");
        let (same_id, second_key) = item_id(calendar_item(message));
        assert_eq!(same_id, id);
        assert_ne!(second_key, first_key);
        assert_eq!(text_of(message, &["ConflictResults", "Count"]), "0");
        let stored = exchange.item(ADA, &id).expect("the item");
        assert_eq!((stored.subject.as_str(), stored.location.as_str()), ("Retro", ""));
        assert_eq!(stored.end, utc("2026-05-04T10:30:00Z"));
        assert_eq!(stored.meeting_invitations.as_deref(), Some("SendToNone"));

        let (_, document) = ada(&exchange, &update(&first_key, "NeverOverwrite")).await;
        let message = only_message(&document);
        assert_eq!((message.attr("ResponseClass"), code(message)), (Some("Error"), "ErrorIrresolvableConflict"));
        assert!(text_of(message, &["MessageText"]).contains("does not match the current change key"));
        assert_eq!(exchange.item(ADA, &id).map(|i| i.change_key), Some(second_key.clone()));
        let (_, document) = ada(&exchange, &update(&first_key, "AlwaysOverwrite")).await;
        assert_eq!(code(only_message(&document)), "NoError");

        let delete = format!(
            "<m:DeleteItem DeleteType=\"MoveToDeletedItems\" SendMeetingCancellations=\"SendToNone\"><m:ItemIds>\
             <t:ItemId Id=\"{id}\"/></m:ItemIds></m:DeleteItem>"
        );
        let (_, document) = ada(&exchange, &delete).await;
        assert_eq!(code(only_message(&document)), "NoError");
        assert!(exchange.items(ADA, &calendar).is_empty());
        let (_, document) = ada(&exchange, &delete).await;
        let message = only_message(&document);
        assert_eq!((message.attr("ResponseClass"), code(message)), (Some("Error"), "ErrorItemNotFound"));
        let requests = exchange.requests();
        let deletion = requests.iter().find(|r| r.operation.as_deref() == Some("DeleteItem")).expect("a DeleteItem");
        assert!(
            deletion.operation_attributes.contains(&("SendMeetingCancellations".to_owned(), "SendToNone".to_owned()))
        );
    }

    #[tokio::test]
    async fn updating_an_occurrence_makes_an_exception_and_deleting_one_adds_a_deleted_occurrence() {
        let (exchange, calendar) = with_ada().await;
        let (master, _) = standup(&exchange, &calendar);
        let occurrence = exchange.occurrence_id(&master, utc("2026-05-13T09:00:00Z"));
        let update = format!(
            "<m:UpdateItem ConflictResolution=\"AutoResolve\" SendMeetingInvitationsOrCancellations=\"SendToNone\">\
             <m:ItemChanges><t:ItemChange><t:ItemId Id=\"{occurrence}\"/><t:Updates><t:SetItemField>\
             <t:FieldURI FieldURI=\"calendar:Start\"/><t:CalendarItem><t:Start>2026-05-13T10:00:00Z</t:Start>\
             </t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI=\"calendar:End\"/><t:CalendarItem>\
             <t:End>2026-05-13T10:15:00Z</t:End></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange>\
             </m:ItemChanges></m:UpdateItem>"
        );
        let (_, document) = ada(&exchange, &update).await;
        let message = only_message(&document);
        assert_eq!(code(message), "NoError");
        assert_eq!(item_id(calendar_item(message)).0, occurrence);
        let stored = exchange.item(ADA, &master).expect("the master");
        let starts: Vec<_> = stored.modified_occurrences.iter().map(|e| (e.original_start, e.start)).collect();
        assert_eq!(
            starts,
            [
                (Some(utc("2026-05-06T09:00:00Z")), utc("2026-05-07T14:00:00Z")),
                (Some(utc("2026-05-13T09:00:00Z")), utc("2026-05-13T10:00:00Z")),
            ]
        );
        let last = exchange.occurrence_id(&master, utc("2026-05-20T09:00:00Z"));
        let delete = format!(
            "<m:DeleteItem DeleteType=\"MoveToDeletedItems\" SendMeetingCancellations=\"SendToNone\"><m:ItemIds>\
             <t:ItemId Id=\"{last}\"/></m:ItemIds></m:DeleteItem>"
        );
        let (_, document) = ada(&exchange, &delete).await;
        assert_eq!(code(only_message(&document)), "NoError");
        let stored = exchange.item(ADA, &master).expect("the master");
        assert_eq!(stored.deleted_occurrences, [utc("2026-05-11T09:00:00Z"), utc("2026-05-20T09:00:00Z")]);
    }

    #[tokio::test]
    async fn calendar_items_are_validated_against_the_schema_like_exchange_does() {
        let (exchange, calendar) = with_ada().await;
        let create = |children: &str| {
            format!(
                "<m:CreateItem SendMeetingInvitations=\"SendToNone\"><m:SavedItemFolderId><t:DistinguishedFolderId \
                 Id=\"calendar\"/></m:SavedItemFolderId><m:Items><t:CalendarItem>{children}</t:CalendarItem></m:Items>\
                 </m:CreateItem>"
            )
        };
        let times = "<t:Start>2026-05-04T09:00:00Z</t:Start><t:End>2026-05-04T10:00:00Z</t:End>";
        // `IsAllDay` is not an EWS element (it is IsAllDayEvent), and Body comes after Sensitivity.
        for children in [
            format!("<t:Subject>x</t:Subject>{times}<t:IsAllDay>false</t:IsAllDay>"),
            format!(
                "<t:Subject>x</t:Subject><t:Body BodyType=\"Text\">b</t:Body><t:Sensitivity>Normal</t:Sensitivity>{times}"
            ),
            format!("<t:Subject>x</t:Subject><t:Sensitivity>Secret</t:Sensitivity>{times}"),
        ] {
            let (status, _, body) =
                post(&exchange.ews_url(), ADA, ADA_PASSWORD, soap("", &create(&children)), None).await;
            assert_eq!(status, 500, "{children}");
            let document = parse_xml(&body).expect("XML");
            let fault = document.child(SOAP_NS, "Body").and_then(|b| b.child(SOAP_NS, "Fault")).expect("a Fault");
            assert_eq!(fault.child("", "faultcode").map(Node::value), Some("a:ErrorSchemaValidation"));
            let detail = fault.child("", "detail").expect("detail");
            assert_eq!(detail.child(ERRORS_NS, "ResponseCode").map(Node::value), Some("ErrorSchemaValidation"));
        }
        assert!(exchange.items(ADA, &calendar).is_empty());

        // The same item in schema order, all day, and a FieldURI the schema does not know.
        let children = format!(
            "<t:Subject>x</t:Subject><t:Sensitivity>Normal</t:Sensitivity><t:Body BodyType=\"Text\">b</t:Body>{times}\
             <t:IsAllDayEvent>true</t:IsAllDayEvent>"
        );
        let (_, document) = ada(&exchange, &create(&children)).await;
        let id = item_id(calendar_item(only_message(&document))).0;
        assert!(exchange.item(ADA, &id).is_some_and(|i| i.is_all_day));
        let update = format!(
            "<m:UpdateItem ConflictResolution=\"NeverOverwrite\"><m:ItemChanges><t:ItemChange><t:ItemId Id=\"{id}\"/>\
             <t:Updates><t:SetItemField><t:FieldURI FieldURI=\"calendar:IsAllDay\"/><t:CalendarItem><t:IsAllDayEvent>\
             false</t:IsAllDayEvent></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges>\
             </m:UpdateItem>"
        );
        let (status, _, body) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, soap("", &update), None).await;
        assert_eq!(status, 500);
        assert!(body.contains("a:ErrorSchemaValidation") && body.contains("calendar:IsAllDay"), "{body}");
        // Without SendMeetingInvitations a calendar item is refused per item.
        let (_, document) =
            ada(&exchange, &create(&children).replace(" SendMeetingInvitations=\"SendToNone\"", "")).await;
        assert_eq!(code(only_message(&document)), "ErrorSendMeetingInvitationsRequired");
    }

    #[tokio::test]
    async fn a_service_account_acts_on_mailboxes_it_may_impersonate_and_is_refused_others() {
        let (exchange, calendar) = with_ada().await;
        exchange.add_service_account(SERVICE, SERVICE_PASSWORD, &[ADA]);
        exchange.add_mailbox(GRACE);
        let get_folder = "<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>\
                          <m:FolderIds><t:DistinguishedFolderId Id=\"calendar\"/></m:FolderIds></m:GetFolder>";
        let as_service = |address: &str| soap(&impersonating(address), get_folder);
        let url = exchange.ews_url();
        let (status, _, body) = post(&url, SERVICE, SERVICE_PASSWORD, as_service(ADA), Some(ADA)).await;
        assert_eq!(status, 200);
        let document = parse_xml(&body).expect("XML");
        let message = only_message(&document);
        assert_eq!(code(message), "NoError");
        let folder =
            message.child(MESSAGES_NS, "Folders").and_then(|f| f.child(TYPES_NS, "CalendarFolder")).expect("a folder");
        assert_eq!(folder.child(TYPES_NS, "FolderId").and_then(|f| f.attr("Id")), Some(calendar.as_str()));
        assert_eq!(text_of(folder, &["FolderClass"]), "IPF.Appointment");
        assert_eq!(text_of(folder, &["DisplayName"]), "Calendar");
        assert_eq!(text_of(folder, &["EffectiveRights", "Modify"]), "true");
        let request = exchange.requests().pop().expect("a request");
        assert_eq!(request.mailbox.as_deref(), Some(ADA));
        assert!(request.impersonated);
        assert_eq!((request.user.as_deref(), request.anchor_mailbox.as_deref()), (Some(SERVICE), Some(ADA)));

        let (status, _, body) = post(&url, SERVICE, SERVICE_PASSWORD, as_service(GRACE), Some(GRACE)).await;
        assert_eq!(status, 500);
        assert_eq!(
            body,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Body><s:Fault><faultcode \
                 xmlns:a=\"{TYPES_NS}\">a:ErrorImpersonateUserDenied</faultcode><faultstring xml:lang=\"en-US\">The \
                 account does not have permission to impersonate the requested user.</faultstring><detail>\
                 <e:ResponseCode xmlns:e=\"{ERRORS_NS}\">ErrorImpersonateUserDenied</e:ResponseCode><e:Message \
                 xmlns:e=\"{ERRORS_NS}\">The account does not have permission to impersonate the requested user.\
                 </e:Message></detail></s:Fault></s:Body></s:Envelope>"
            )
        );
        let request = exchange.requests().pop().expect("a request");
        assert_eq!((request.mailbox, request.impersonated), (None, false));
        exchange.grant_impersonation(SERVICE, GRACE);
        let (status, _, _) = post(&url, SERVICE, SERVICE_PASSWORD, as_service(GRACE), Some(GRACE)).await;
        assert_eq!(status, 200);
        exchange.revoke_impersonation(SERVICE, GRACE);
        let (status, _, _) = post(&url, SERVICE, SERVICE_PASSWORD, as_service(GRACE), Some(GRACE)).await;
        assert_eq!(status, 500);

        let (status, _, body) = post(&url, SERVICE, SERVICE_PASSWORD, as_service("nobody@corp.example"), None).await;
        assert_eq!(status, 500);
        assert!(
            body.contains("a:ErrorNonExistentMailbox") && body.contains("The SMTP address has no mailbox"),
            "{body}"
        );
        // Ada cannot impersonate anyone; without impersonation the service acts on its own mailbox.
        let (status, _, _) = post(&url, ADA, ADA_PASSWORD, as_service(GRACE), None).await;
        assert_eq!(status, 500);
        let (status, _, _) = post(&url, SERVICE, SERVICE_PASSWORD, soap("", get_folder), None).await;
        assert_eq!(status, 200);
        let request = exchange.requests().pop().expect("a request");
        assert_eq!((request.mailbox.as_deref(), request.impersonated), (Some(SERVICE), false));
        // A folder id of Ada's is not the service account's.
        let (_, _, body) = post(&url, SERVICE, SERVICE_PASSWORD, soap("", &sync(&calendar, None, 10)), None).await;
        assert!(body.contains("<m:ResponseCode>ErrorAccessDenied</m:ResponseCode>"), "{body}");
    }

    #[tokio::test]
    async fn a_busy_server_answers_the_server_busy_fault_with_back_off_milliseconds() {
        let (exchange, calendar) = with_ada().await;
        exchange.server_busy_next(1, 5000);
        let request = soap("", &sync(&calendar, None, 10));
        let (status, headers, body) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, request.clone(), None).await;
        assert_eq!(status, 500);
        assert_eq!(headers[header::CONTENT_TYPE], XML_CONTENT_TYPE);
        assert_eq!(
            body,
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope xmlns:s=\"{SOAP_NS}\"><s:Body><s:Fault><faultcode \
                 xmlns:a=\"{TYPES_NS}\">a:ErrorServerBusy</faultcode><faultstring xml:lang=\"en-US\">The server cannot \
                 service this request right now. Try again later.</faultstring><detail><e:ResponseCode \
                 xmlns:e=\"{ERRORS_NS}\">ErrorServerBusy</e:ResponseCode><e:Message xmlns:e=\"{ERRORS_NS}\">The server \
                 cannot service this request right now. Try again later.</e:Message><t:MessageXml xmlns:t=\"{TYPES_NS}\">\
                 <t:Value Name=\"BackOffMilliseconds\">5000</t:Value></t:MessageXml></detail></s:Fault></s:Body>\
                 </s:Envelope>"
            )
        );
        let (status, _, _) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, request, None).await;
        assert_eq!(status, 200);
        assert_eq!((exchange.ews_request_count(), exchange.operation_count("SyncFolderItems")), (2, 2));
    }

    #[tokio::test]
    async fn requests_are_read_by_namespace_not_prefix_and_a_doctype_is_refused() {
        let (exchange, calendar) = with_ada().await;
        let holidays = exchange.add_calendar(ADA, "Holidays", false);
        // Default namespaces and unusual prefixes, as other SOAP stacks write them.
        let body = format!(
            "<?xml version=\"1.0\"?><!-- a comment --><e:Envelope xmlns:e=\"{SOAP_NS}\"><e:Header>\
             <RequestServerVersion xmlns=\"{TYPES_NS}\" Version=\"Exchange2013_SP1\"/></e:Header><e:Body>\
             <FindFolder xmlns=\"{MESSAGES_NS}\" Traversal=\"Shallow\"><FolderShape><BaseShape xmlns=\"{TYPES_NS}\">\
             AllProperties</BaseShape></FolderShape><ParentFolderIds><ns9:DistinguishedFolderId xmlns:ns9=\"{TYPES_NS}\" \
             Id='calendar'/></ParentFolderIds></FindFolder></e:Body></e:Envelope>"
        );
        let (status, _, text) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, body, None).await;
        assert_eq!(status, 200, "{text}");
        let document = parse_xml(&text).expect("XML");
        let message = only_message(&document);
        let root = message.child(MESSAGES_NS, "RootFolder").expect("RootFolder");
        assert_eq!((root.attr("TotalItemsInView"), root.attr("IncludesLastItemInRange")), (Some("1"), Some("true")));
        let folder =
            root.child(TYPES_NS, "Folders").and_then(|f| f.child(TYPES_NS, "CalendarFolder")).expect("a folder");
        assert_eq!(folder.child(TYPES_NS, "FolderId").and_then(|f| f.attr("Id")), Some(holidays.as_str()));
        assert_eq!(folder.child(TYPES_NS, "ParentFolderId").and_then(|f| f.attr("Id")), Some(calendar.as_str()));
        assert_eq!(text_of(folder, &["DisplayName"]), "Holidays");
        assert_eq!(text_of(folder, &["EffectiveRights", "Modify"]), "false");

        // A prefix bound to another namespace is not EWS.
        let wrong = soap("", "<t:GetFolder/>");
        let (status, _, text) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, wrong, None).await;
        assert_eq!(status, 500);
        assert!(text.contains("a:ErrorInvalidRequest"), "{text}");

        let doctype =
            format!("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]>{}", soap("", &sync(&calendar, None, 1)));
        let (status, _, _) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, doctype, None).await;
        assert_eq!(status, 400);
        let entity = soap("", &sync(&calendar, None, 1)).replace("NormalItems", "&xxe;");
        let (status, _, text) = post(&exchange.ews_url(), ADA, ADA_PASSWORD, entity, None).await;
        assert_eq!(status, 500);
        assert!(text.contains("a:ErrorSchemaValidation"), "{text}");
    }

    #[test]
    fn the_reader_resolves_namespaces_and_entities_and_refuses_dtds() {
        let node = parse_xml("<a xmlns='urn:a' xmlns:b='urn:b'><b:c x:y='1 &lt; 2' xmlns:x='urn:x'>&#x41;&amp;<![CDATA[<z>]]></b:c><d/></a>")
            .expect("well-formed");
        let c = node.child("urn:b", "c").expect("c");
        assert_eq!((c.text.as_str(), c.attr("y")), ("A&<z>", Some("1 < 2")));
        assert!(node.child("urn:a", "d").is_some());
        assert_eq!(parse_xml("<!DOCTYPE a><a/>"), Err(XmlError::DocType));
        assert!(matches!(parse_xml("<a><b></a>"), Err(XmlError::Syntax(_))));
        assert!(matches!(parse_xml("<p:a/>"), Err(XmlError::Syntax(_))));
        assert!(matches!(parse_xml("<a>&lol;</a>"), Err(XmlError::Syntax(_))));
        let state = sync_state("AQMkADAwfolder", 7, 2);
        assert_eq!(parse_sync_state(&state), Some(("AQMkADAwfolder".to_owned(), 7, 2)));
        assert_eq!(base64_decode(&base64_encode(b"ab")), Some(b"ab".to_vec()));
    }
}
