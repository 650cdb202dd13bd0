//! Turning provider resources into one calendar's cache writes, without writing yet: each
//! resource is filtered to the window and expanded into one cached event per occurrence (keyed
//! by the occurrence's stable instance id, so a moved or cancelled instance changes one row), and
//! the series' cached instances it no longer yields are tombstoned. The writes collect into a
//! [`SyncCommit`] that the store applies in one transaction together with the new cursor.
//!
//! Resources that hold the calendar's partner events (written there by a push) are recognised by
//! their iCalendar UID, or by the id the push recorded where the service chooses ids and keeps
//! no UID of ours (Graph), and never imported as third-party events; only their new version is
//! kept, and their removal on the server deletes the partner event.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::provider::RemoteResource;
use super::window::SyncWindow;
use crate::domain::{ApplicationId, AttendeeStatus, Calendar, EventKind, EventTime, EventUid, Profile};
use crate::ical::{Occurrence, Series, expand};
use crate::state::AppState;
use crate::store::{EventUpsert, PartnerCopy, StoreError, SyncCommit};

/// The writes of one sync of one calendar, being planned.
pub(super) struct Plan<'a> {
    state: &'a AppState,
    calendar: &'a Calendar,
    profile: &'a Profile,
    pub(super) window: SyncWindow,
    /// The calendar's partner events by iCalendar UID.
    partners: HashMap<String, PartnerCopy>,
    /// The iCalendar UIDs of partner events by the provider id their push recorded.
    partner_ids: HashMap<String, String>,
    commit: SyncCommit,
    /// Provider ids planned for upsert, which no tombstone may hit.
    upserted: HashSet<String>,
    /// Third-party events to tombstone, with their provider id.
    tombstones: Vec<(EventUid, String)>,
    tombstoned: HashSet<EventUid>,
    /// Resources that could not be read.
    pub(super) skipped: usize,
    /// Applications whose partner events this sync removes (deleted at the provider).
    pub(super) managed_by: HashSet<ApplicationId>,
}

impl<'a> Plan<'a> {
    pub(super) async fn new(
        state: &'a AppState,
        calendar: &'a Calendar,
        profile: &'a Profile,
        window: SyncWindow,
    ) -> Result<Self, StoreError> {
        let partners = state.store.partner_copies(&calendar.id).await?;
        let partner_ids = partners.iter().filter_map(|p| Some((p.provider_id.clone()?, p.ical_uid.clone()))).collect();
        Ok(Plan {
            partner_ids,
            state,
            calendar,
            profile,
            window,
            partners: partners.into_iter().map(|p| (p.ical_uid.clone(), p)).collect(),
            commit: SyncCommit::default(),
            upserted: HashSet::new(),
            tombstones: Vec::new(),
            tombstoned: HashSet::new(),
            skipped: 0,
            managed_by: HashSet::new(),
        })
    }

    /// The planned writes, with left-window marking from `window_start` when given.
    pub(super) fn finish(&mut self, window_start: Option<DateTime<Utc>>) -> SyncCommit {
        self.commit.window_start = window_start;
        // An instance both tombstoned (through an old resource) and upserted (through a new one)
        // stays live: the upsert is the newer truth.
        let upserted = &self.upserted;
        self.commit.tombstones = std::mem::take(&mut self.tombstones)
            .into_iter()
            .filter(|(_, provider_id)| !upserted.contains(provider_id))
            .map(|(event, _)| event)
            .collect();
        std::mem::take(&mut self.commit)
    }

    /// Plans the resource's occurrences in the window and the tombstones of the series' cached
    /// instances it no longer yields (an added EXDATE, a cancelled or moved-away instance).
    /// Returns the occurrence ids planned.
    pub(super) async fn apply(&mut self, resource: &RemoteResource) -> Result<HashSet<String>, StoreError> {
        let series = &resource.series;
        let written = self.partner_of(&series.uid).or_else(|| self.partner_of(&resource.remote_id));
        if let Some(partner) = written {
            // The resource a push wrote: keep its version for the next conditional write.
            if !partner.deleted && partner.etag != resource.etag {
                self.commit.partner_etags.push((partner.uid.clone(), resource.etag.clone()));
            }
            return Ok(HashSet::new());
        }
        if resource.master_id.as_deref().and_then(|id| self.partner_of(id)).is_some() {
            // An instance of a series a push wrote: part of the partner event, not imported.
            return Ok(HashSet::new());
        }
        let expansion = expand(series, self.window.start, self.window.end);
        if expansion.truncated {
            tracing::warn!("a recurring series has more instances than are cached; the rest were left out");
        }
        let mut planned = HashSet::new();
        for occurrence in &expansion.occurrences {
            self.commit.upserts.push(self.upsert_for(series, resource.etag.as_deref(), occurrence));
            self.upserted.insert(occurrence.id.clone());
            planned.insert(occurrence.id.clone());
        }
        // Only within the window: instances that merely aged out of it are not deletions.
        let window = Some((self.window.start, self.window.end));
        self.tombstone_series(&series.uid, &planned, window).await?;
        Ok(planned)
    }

    /// Plans the removal of everything resource `uid` held: the cached events of a third-party
    /// series, or the partner event whose resource was deleted on the server.
    pub(super) async fn remove(&mut self, uid: &str) -> Result<(), StoreError> {
        if let Some(partner) = self.partner_of(uid).cloned() {
            if !partner.deleted && self.tombstoned.insert(partner.uid.clone()) {
                self.commit.partner_removals.push(partner.uid);
                self.managed_by.insert(partner.application_id);
            }
            return Ok(());
        }
        self.tombstone_series(uid, &HashSet::new(), None).await
    }

    /// Plans tombstones for the calendar's live third-party events overlapping the window whose
    /// provider id is not in `seen` (the sweep after a full listing).
    pub(super) async fn sweep(&mut self, seen: &HashSet<String>) -> Result<(), StoreError> {
        let live = self
            .state
            .store
            .live_provider_events_in_range(&self.calendar.id, self.window.start, self.window.end)
            .await?;
        for (event, provider_id) in live {
            if !seen.contains(&provider_id) {
                self.tombstone(event, provider_id);
            }
        }
        Ok(())
    }

    /// The partner event whose iCalendar UID, or recorded provider id, is `key`.
    fn partner_of(&self, key: &str) -> Option<&PartnerCopy> {
        let uid = self.partner_ids.get(key).map_or(key, String::as_str);
        self.partners.get(uid)
    }

    fn tombstone(&mut self, event: EventUid, provider_id: String) {
        if self.tombstoned.insert(event.clone()) {
            self.tombstones.push((event, provider_id));
        }
    }

    /// Plans tombstones for the cached events of iCalendar UID `uid` whose instance id is not in
    /// `keep` (those overlapping `overlapping` only, when given).
    async fn tombstone_series(
        &mut self,
        uid: &str,
        keep: &HashSet<String>,
        overlapping: Option<(DateTime<Utc>, DateTime<Utc>)>,
    ) -> Result<(), StoreError> {
        let live = self.state.store.live_provider_events_of_series(&self.calendar.id, uid, overlapping).await?;
        for (event, provider_id) in live {
            if !keep.contains(&provider_id) {
                self.tombstone(event, provider_id);
            }
        }
        Ok(())
    }

    fn upsert_for(&self, series: &Series, etag: Option<&str>, occurrence: &Occurrence<'_>) -> EventUpsert {
        let event = occurrence.event;
        let recurring = occurrence.original_start.is_some();
        let own_email = self.profile.email.to_ascii_lowercase();
        let participation_status = event
            .attendees
            .iter()
            .find(|a| a.email.to_ascii_lowercase() == own_email)
            .map_or(AttendeeStatus::Unknown, |a| a.status);
        EventUpsert {
            calendar_id: self.calendar.id.clone(),
            profile_id: self.calendar.profile_id.clone(),
            account_id: self.calendar.account_id.clone(),
            kind: EventKind::ThirdParty,
            application_id: None,
            event_id: None,
            provider_id: Some(occurrence.id.clone()),
            ical_uid: Some(series.uid.clone()),
            etag: etag.map(str::to_owned),
            summary: event.summary.clone(),
            description: event.description.clone(),
            start: occurrence.start.clone(),
            end: occurrence.end.clone(),
            // Every instance of a series (overrides included) carries the series' rule.
            recurrence_rule: if recurring { series.master.as_ref().and_then(|m| m.rrule.clone()) } else { None },
            series_id: recurring.then(|| series.uid.clone()),
            original_start: occurrence.original_start.as_ref().map(EventTime::sort_key),
            location: event.location.clone(),
            attendees: event.attendees.clone(),
            organizer: event.organizer.clone(),
            categories: event.categories.clone(),
            color: event.color.clone(),
            url: event.url.clone(),
            reminders: event.reminders.clone(),
            event_private: event.private,
            participation_status,
            transparency: event.transparency,
            status: event.status,
            deleted: false,
            provider_created_at: event.created,
            provider_updated_at: event.last_modified,
        }
    }
}
