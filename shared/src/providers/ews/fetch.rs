//! Reading items (protocol.md operations 4 and 5): `GetItem` for full properties, in batches of
//! at most ten ids (providers.md §5.2: EWS stops a batch after a minute), and `FindItem` with a
//! `CalendarView`, which lists the single items, occurrences and exceptions overlapping a range
//! (never masters), at most two years at a time and at most `MaxEntriesReturned` items: a view
//! that was cut short is split in two and each half asked again.

use chrono::{DateTime, Duration, Utc};

use super::client::EwsClient;
use super::errors::EwsError;
use super::items::{CalendarItem, ItemId, ItemType, instant};
use super::soap::{messages, text};
use crate::providers::caldav::xml::{Element, Ns, escape};

/// Ids per `GetItem`.
pub const GET_ITEM_BATCH: usize = 10;
/// Items per calendar view; more than this splits the range.
pub const VIEW_ENTRIES: usize = 500;
/// The longest range one calendar view may span (EWS refuses more than two years).
const MAX_VIEW_SPAN: Duration = Duration::days(700);
/// A range this short that still holds more than [`VIEW_ENTRIES`] items is not split further.
const MIN_VIEW_SPAN: Duration = Duration::minutes(1);

/// What to read with `GetItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemRef {
    Item(String),
    /// The recurring master of the occurrence or exception with this id.
    MasterOf(String),
}

impl ItemRef {
    fn xml(&self) -> String {
        match self {
            ItemRef::Item(id) => format!(r#"<t:ItemId Id="{}"/>"#, escape(id)),
            ItemRef::MasterOf(id) => format!(r#"<t:RecurringMasterItemId OccurrenceId="{}"/>"#, escape(id)),
        }
    }
}

/// An item of a calendar view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewEntry {
    pub id: ItemId,
    pub item_type: ItemType,
    pub uid: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

pub(crate) const ITEM_SHAPE: &str = r#"<m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:BodyType>Text</t:BodyType><t:AdditionalProperties><t:FieldURI FieldURI="calendar:UID"/><t:FieldURI FieldURI="calendar:StartTimeZoneId"/><t:FieldURI FieldURI="calendar:RecurrenceId"/><t:FieldURI FieldURI="calendar:ModifiedOccurrences"/><t:FieldURI FieldURI="calendar:DeletedOccurrences"/><t:FieldURI FieldURI="calendar:Recurrence"/></t:AdditionalProperties></m:ItemShape>"#;

const VIEW_SHAPE: &str = r#"<m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="calendar:CalendarItemType"/><t:FieldURI FieldURI="calendar:UID"/><t:FieldURI FieldURI="calendar:Start"/><t:FieldURI FieldURI="calendar:End"/></t:AdditionalProperties></m:ItemShape>"#;

fn view_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The calendar item of one successful `GetItemResponseMessage`.
fn item_of(message: &Element) -> Result<CalendarItem, EwsError> {
    let element = message
        .child(Ns::EwsMessages, "Items")
        .and_then(|items| items.child(Ns::EwsTypes, "CalendarItem"))
        .ok_or_else(|| EwsError::Malformed("GetItem returned no calendar item".into()))?;
    CalendarItem::read(element).map_err(|e| EwsError::Malformed(e.to_string()))
}

impl EwsClient {
    /// Reads `refs` in batches of [`GET_ITEM_BATCH`]; one result per ref, in order. A failure of
    /// the whole request (a busy server, dead credentials) fails the call; one item's failure
    /// (`ErrorItemNotFound`) is that item's result.
    #[tracing::instrument(skip_all, fields(items = refs.len()))]
    pub async fn get_items(&self, refs: &[ItemRef]) -> Result<Vec<Result<CalendarItem, EwsError>>, EwsError> {
        let mut results = Vec::with_capacity(refs.len());
        for batch in refs.chunks(GET_ITEM_BATCH) {
            match self.get_batch(batch).await {
                Ok(found) => results.extend(found),
                // A batch too big to read safely is read one item at a time; an item that is
                // too big alone is that item's failure.
                Err(EwsError::TooLarge(_)) if batch.len() > 1 => {
                    for one in batch {
                        match self.get_batch(std::slice::from_ref(one)).await {
                            Ok(found) => results.extend(found),
                            Err(e @ EwsError::TooLarge(_)) => results.push(Err(e)),
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(results)
    }

    async fn get_batch(&self, batch: &[ItemRef]) -> Result<Vec<Result<CalendarItem, EwsError>>, EwsError> {
        let ids: String = batch.iter().map(ItemRef::xml).collect();
        let body = format!("<m:GetItem>{ITEM_SHAPE}<m:ItemIds>{ids}</m:ItemIds></m:GetItem>");
        let response = self.call("GetItem", &body).await?;
        let answers = messages(&response);
        if answers.len() != batch.len() {
            return Err(EwsError::Malformed("GetItem answered a different number of items".into()));
        }
        let mut results = Vec::with_capacity(batch.len());
        for answer in answers {
            match answer {
                Ok(message) => results.push(item_of(message)),
                // The request as a whole cannot succeed now: fail it rather than lose items.
                Err(e @ (EwsError::Transient { .. } | EwsError::AccessGone(_) | EwsError::Unauthorized)) => {
                    return Err(e);
                }
                Err(e) => results.push(Err(e)),
            }
        }
        Ok(results)
    }

    /// Every item of `folder` overlapping `[start, end)` as the calendar view lists them (single
    /// items, occurrences and exceptions), each once.
    #[tracing::instrument(skip_all)]
    pub async fn calendar_view(
        &self,
        folder: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<Vec<ViewEntry>, EwsError> {
        let mut pending = Vec::new();
        let mut from = start;
        while from < end {
            let to = (from + MAX_VIEW_SPAN).min(end);
            pending.push((from, to));
            from = to;
        }
        pending.reverse();
        let mut entries: Vec<ViewEntry> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while let Some((from, to)) = pending.pop() {
            let (found, complete) = match self.view_once(folder, from, to).await {
                Err(EwsError::RangeTooBig) if to - from > MIN_VIEW_SPAN => (Vec::new(), false),
                other => other?,
            };
            if !complete && to - from > MIN_VIEW_SPAN {
                let middle = from + (to - from) / 2;
                // Earlier half first, so the entries stay in start order.
                pending.push((middle, to));
                pending.push((from, middle));
                continue;
            }
            if !complete {
                tracing::warn!(
                    "a calendar view holds more items in one minute than are read at once; the rest were left out"
                );
            }
            // An item overlapping both halves of a split range is listed by both.
            entries.extend(found.into_iter().filter(|e| seen.insert(e.id.id.clone())));
        }
        Ok(entries)
    }

    /// One `FindItem`; returns the entries and whether they are all the range holds.
    async fn view_once(
        &self,
        folder: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<(Vec<ViewEntry>, bool), EwsError> {
        let body = format!(
            r#"<m:FindItem Traversal="Shallow">{VIEW_SHAPE}<m:CalendarView MaxEntriesReturned="{VIEW_ENTRIES}" StartDate="{}" EndDate="{}"/><m:ParentFolderIds><t:FolderId Id="{}"/></m:ParentFolderIds></m:FindItem>"#,
            view_time(start),
            view_time(end),
            escape(folder)
        );
        let response = self.call("FindItem", &body).await?;
        let mut entries = Vec::new();
        let mut complete = true;
        for message in messages(&response) {
            let Some(root) = message?.child(Ns::EwsMessages, "RootFolder") else {
                return Err(EwsError::Malformed("FindItem returned no RootFolder".into()));
            };
            complete &= root.attribute("IncludesLastItemInRange").is_none_or(|v| v.eq_ignore_ascii_case("true"));
            let items = root.child(Ns::EwsTypes, "Items").into_iter().flat_map(|i| i.children.iter());
            for item in items.filter(|i| i.ns == Ns::EwsTypes) {
                let Some(id) = item.child(Ns::EwsTypes, "ItemId").and_then(ItemId::read) else { continue };
                entries.push(ViewEntry {
                    id,
                    item_type: match text(item, "CalendarItemType").as_deref() {
                        Some("Occurrence") => ItemType::Occurrence,
                        Some("Exception") => ItemType::Exception,
                        Some("RecurringMaster") => ItemType::RecurringMaster,
                        _ => ItemType::Single,
                    },
                    uid: text(item, "UID"),
                    start: text(item, "Start").and_then(|t| instant(&t)),
                    end: text(item, "End").and_then(|t| instant(&t)),
                });
            }
        }
        Ok((entries, complete))
    }
}
