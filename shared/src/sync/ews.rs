//! The Exchange adapter (providers.md §5.6) over [`EwsClient`]: `SyncFolderItems` (ids only) as
//! the change detector, `GetItem` for what changed, `FindItem` with a `CalendarView` for window
//! listings, local expansion.
//!
//! A resource is a series: a single item, or a recurring master with its modified occurrences
//! (read with `GetItem` too, since the engine replaces a resource whole), keyed by the item's
//! `ItemId` with its `ChangeKey` as the version. `SyncFolderItems` reports single items and
//! masters only, and an edited occurrence as an update of its master, so a no-change sync is the
//! one `SyncFolderItems` request and the sync state is the cursor. A state the server no longer
//! knows makes the engine list the window again and sweep. A window listing reads the calendar
//! view (single items, occurrences, exceptions), and each series once, through its master
//! (`RecurringMasterItemId`).
//!
//! The EWS endpoint is found once (protocol.md "Autodiscover") and kept as the profile's calendar
//! home, so discovery is not repeated. Writes create items with the partner event's iCalendar
//! UID (so the sync recognises them) and its zone (so a series keeps its wall-clock time), and
//! update them under their ChangeKey; a write to an item deleted at Exchange meanwhile is a
//! conflict, so the push creates it again. Before creating, the item an earlier push may have
//! made without learning of it (its answer lost to a timeout) is looked for by UID and updated
//! instead, so a retried push does not make a second one ([`EwsClient::find_written`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::provider::{
    CalendarListing, CalendarProvider, ChangeSet, ProviderError, RangeListing, RemoteCalendar, RemoteResource, Written,
    event_to_write,
};
use super::window::SyncWindow;
use crate::crypto::Credentials;

use crate::providers::caldav::Policy;
use crate::providers::ews::{
    CalendarFolder, CalendarItem, Change, EwsAccount, EwsClient, EwsError, ItemFields, ItemRef, ItemType, Login,
    read_series,
};

/// One Exchange mailbox.
#[derive(Debug)]
pub struct EwsProvider {
    account: EwsAccount,
    /// The mailbox's address, which Autodiscover is asked about.
    email: String,
    /// What the profile was connected with: an EWS endpoint, a server's base URL, or nothing.
    server_url: Option<String>,
    /// The zone all-day items are placed in when Exchange names none (the profile's zone).
    default_tz: Tz,
    /// The endpoint, once known (remembered on the profile, or discovered by this adapter).
    client: Mutex<Option<EwsClient>>,
}

impl EwsProvider {
    /// An adapter for the mailbox `email` with the profile's opened credentials. `known_endpoint`
    /// is the EWS URL an earlier listing found (the profile's calendar home); `impersonate` the
    /// mailbox a service account acts for.
    pub fn new(
        email: &str,
        server_url: Option<&str>,
        credentials: &Credentials,
        impersonate: Option<&str>,
        policy: Policy,
        default_tz: Tz,
        known_endpoint: Option<&str>,
    ) -> Result<Self, ProviderError> {
        let login = Login::from_credentials(credentials)
            .ok_or_else(|| ProviderError::Permanent("the profile's credentials are not an Exchange password".into()))?;
        let account = EwsAccount::new(login, impersonate, policy).map_err(classify)?;
        // An endpoint the policy no longer admits is discovered again.
        let client = known_endpoint.and_then(|url| account.client(url).ok());
        Ok(Self {
            account,
            email: email.to_owned(),
            server_url: server_url.map(str::to_owned),
            default_tz,
            client: Mutex::new(client),
        })
    }

    fn remember(&self, client: &EwsClient) {
        if let Ok(mut slot) = self.client.lock() {
            *slot = Some(client.clone());
        }
    }

    /// The client for the mailbox's endpoint, discovering it when it is not known yet.
    async fn client(&self) -> Result<EwsClient, ProviderError> {
        if let Some(client) = self.client.lock().ok().and_then(|slot| slot.clone()) {
            return Ok(client);
        }
        let client = self.discover().await?;
        self.remember(&client);
        Ok(client)
    }

    async fn discover(&self) -> Result<EwsClient, ProviderError> {
        self.account.discover(self.server_url.as_deref(), &self.email).await.map_err(classify)
    }

    /// The default calendar and those beneath it.
    async fn calendars_at(client: &EwsClient) -> Result<Vec<RemoteCalendar>, EwsError> {
        let primary = client.calendar_folder().await?;
        let others = client.calendar_subfolders().await?;
        let remote = |folder: CalendarFolder, is_primary: bool| RemoteCalendar {
            remote_id: folder.id,
            name: folder.name.filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "Calendar".to_owned()),
            color: None,
            read_only: !folder.writable,
            is_primary,
            change_marker: None,
        };
        let primary_id = primary.id.clone();
        let mut calendars = vec![remote(primary, true)];
        calendars.extend(others.into_iter().filter(|f| f.id != primary_id).map(|f| remote(f, false)));
        Ok(calendars)
    }

    /// Reads `refs` and the modified occurrences of the masters among them as series resources.
    /// Returns the resources, the ids of items found gone, and how many could not be read.
    async fn read_resources(
        &self,
        client: &EwsClient,
        refs: &[ItemRef],
    ) -> Result<(Vec<RemoteResource>, Vec<String>, usize), ProviderError> {
        let fetched = client.get_items(refs).await.map_err(classify)?;
        let mut items = Vec::new();
        let mut gone = Vec::new();
        let mut skipped = 0;
        for (wanted, result) in refs.iter().zip(fetched) {
            match result {
                Ok(item) => items.push(item),
                // Changed, then deleted before it was read: a deletion. A series whose master is
                // gone is not listed.
                Err(EwsError::NotFound) => {
                    if let ItemRef::Item(id) = wanted {
                        gone.push(id.clone());
                    }
                }
                Err(error) => {
                    skipped += 1;
                    tracing::warn!(%error, "an Exchange item could not be read and was skipped");
                }
            }
        }
        // Each series once, even when several of its occurrences led to it.
        let mut seen = HashSet::new();
        items.retain(|item| item.id.as_ref().is_some_and(|id| seen.insert(id.id.clone())));

        let exception_ids: Vec<ItemRef> = items
            .iter()
            .filter(|item| item.item_type() == ItemType::RecurringMaster)
            .flat_map(|master| master.modified_occurrences.iter().map(|o| ItemRef::Item(o.id.id.clone())))
            .collect();
        let mut exceptions: HashMap<String, CalendarItem> = HashMap::new();
        for (wanted, result) in exception_ids.iter().zip(client.get_items(&exception_ids).await.map_err(classify)?) {
            let ItemRef::Item(id) = wanted else { continue };
            match result {
                Ok(exception) => {
                    exceptions.insert(id.clone(), exception);
                }
                // Left out, the instance shows at its original time until the next read.
                Err(error) => tracing::warn!(%error, "a modified occurrence could not be read"),
            }
        }

        let mut resources = Vec::with_capacity(items.len());
        for item in items {
            let Some(id) = item.id.clone() else { continue };
            if matches!(item.item_type(), ItemType::Occurrence | ItemType::Exception) {
                // Occurrences belong to their master's resource.
                skipped += 1;
                tracing::warn!("Exchange listed an occurrence where an item or master was expected; skipped");
                continue;
            }
            let own: Vec<CalendarItem> =
                item.modified_occurrences.iter().filter_map(|o| exceptions.remove(&o.id.id)).collect();
            match read_series(&item, &own, self.default_tz) {
                Ok(series) => {
                    resources.push(RemoteResource { remote_id: id.id, etag: id.change_key, series, master_id: None });
                }
                Err(error) => {
                    skipped += 1;
                    // The reason and the item's id, never its content.
                    tracing::warn!(item_id = %id.id, %error, "an Exchange item could not be read and was skipped");
                }
            }
        }
        Ok((resources, gone, skipped))
    }
}

/// Maps the client's classification onto the engine's.
fn classify(error: EwsError) -> ProviderError {
    match error {
        EwsError::Unauthorized | EwsError::AccessGone(_) => ProviderError::CredentialsDead,
        EwsError::Transient { retry_after, reason } => ProviderError::Transient { retry_after, reason },
        EwsError::SyncStateInvalid => ProviderError::SyncTokenInvalid,
        EwsError::Conflict => ProviderError::Conflict,
        EwsError::NotFound => ProviderError::Permanent("the calendar or item does not exist at Exchange".into()),
        other => ProviderError::Permanent(other.to_string()),
    }
}

/// The last change of each item, in the order of their last changes.
fn fold(changes: Vec<Change>) -> (Vec<String>, Vec<String>) {
    let mut last: BTreeMap<String, (usize, bool)> = BTreeMap::new();
    for (order, change) in changes.into_iter().enumerate() {
        match change {
            Change::Changed(id) => last.insert(id.id, (order, false)),
            Change::Deleted(id) => last.insert(id, (order, true)),
        };
    }
    let mut ordered: Vec<(usize, bool, String)> =
        last.into_iter().map(|(id, (order, gone))| (order, gone, id)).collect();
    ordered.sort();
    let (deleted, changed): (Vec<_>, Vec<_>) = ordered.into_iter().partition(|(_, gone, _)| *gone);
    (changed.into_iter().map(|(_, _, id)| id).collect(), deleted.into_iter().map(|(_, _, id)| id).collect())
}

#[async_trait]
impl CalendarProvider for EwsProvider {
    async fn refresh_credentials(&self) -> Result<Option<Credentials>, ProviderError> {
        // Exchange takes the password itself: nothing expires.
        Ok(None)
    }

    async fn list_calendars(&self, known_home: Option<&str>) -> Result<CalendarListing, ProviderError> {
        // The endpoint found last time spares discovery. If it stopped answering as EWS (the
        // mailbox moved), discover again rather than take every calendar for deleted.
        if let Some(client) = known_home.and_then(|home| self.account.client(home).ok()) {
            match Self::calendars_at(&client).await {
                Ok(calendars) => {
                    self.remember(&client);
                    let home = Some(client.endpoint().as_str().to_owned());
                    return Ok(CalendarListing { calendars, home, ..CalendarListing::default() });
                }
                Err(e @ (EwsError::Unauthorized | EwsError::AccessGone(_) | EwsError::Transient { .. })) => {
                    return Err(classify(e));
                }
                Err(error) => tracing::info!(%error, "the remembered EWS endpoint failed; discovering again"),
            }
        }
        let client = self.discover().await?;
        let calendars = Self::calendars_at(&client).await.map_err(classify)?;
        self.remember(&client);
        let home = Some(client.endpoint().as_str().to_owned());
        Ok(CalendarListing { calendars, home, ..CalendarListing::default() })
    }

    async fn change_marker(&self, _calendar: &str) -> Result<Option<String>, ProviderError> {
        // A folder's ChangeKey moves with its properties, not its items; SyncFolderItems is the
        // one-request check instead.
        Ok(None)
    }

    fn requests_sent(&self) -> u64 {
        self.account.requests_sent()
    }

    async fn current_cursor(&self, calendar: &str, _window: SyncWindow) -> Result<Option<String>, ProviderError> {
        // A round from no state lists ids only, and ends with the folder's current state.
        let client = self.client().await?;
        let round = client.sync_folder_items(calendar, None).await.map_err(classify)?;
        Ok(Some(round.state))
    }

    async fn changes_since(
        &self,
        calendar: &str,
        cursor: &str,
        _window: SyncWindow,
    ) -> Result<ChangeSet, ProviderError> {
        let client = self.client().await?;
        let round = match client.sync_folder_items(calendar, Some(cursor)).await {
            Ok(round) => round,
            Err(EwsError::SyncStateInvalid) => {
                return Ok(ChangeSet { full_resync_required: true, ..ChangeSet::default() });
            }
            Err(e) => return Err(classify(e)),
        };
        let (changed, mut deleted) = fold(round.changes);
        let refs: Vec<ItemRef> = changed.into_iter().map(ItemRef::Item).collect();
        let (changed, gone, skipped) = self.read_resources(&client, &refs).await?;
        deleted.extend(gone);
        Ok(ChangeSet { changed, deleted, cursor: Some(round.state), full_resync_required: false, skipped })
    }

    async fn list_range(
        &self,
        calendar: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<RangeListing, ProviderError> {
        let client = self.client().await?;
        let entries = client.calendar_view(calendar, start, end).await.map_err(classify)?;
        let mut refs = Vec::new();
        let mut series = HashSet::new();
        for entry in entries {
            match entry.item_type {
                ItemType::Single | ItemType::RecurringMaster => refs.push(ItemRef::Item(entry.id.id)),
                // One master per series, however many of its instances the range holds.
                ItemType::Occurrence | ItemType::Exception => {
                    let key = entry.uid.unwrap_or_else(|| entry.id.id.clone());
                    if series.insert(key) {
                        refs.push(ItemRef::MasterOf(entry.id.id));
                    }
                }
            }
        }
        let (resources, _, skipped) = self.read_resources(&client, &refs).await?;
        Ok(RangeListing { resources, skipped })
    }

    async fn write(
        &self,
        calendar: &str,
        _name: &str,
        known_id: Option<&str>,
        ics: &str,
        expected_etag: Option<&str>,
    ) -> Result<Written, ProviderError> {
        let (uid, master) = event_to_write(ics, self.default_tz)?;
        let fields = ItemFields::from_component(&master, &uid).map_err(|e| ProviderError::Permanent(e.to_string()))?;
        let client = self.client().await?;
        let written = match (known_id, expected_etag) {
            (Some(id), Some(change_key)) => match client.update_item(id, Some(change_key), &fields).await {
                // Deleted at Exchange since: the push creates it again.
                Err(EwsError::NotFound) => return Err(ProviderError::Conflict),
                other => other,
            },
            // EWS creates are not idempotent: an earlier create whose answer was lost left its
            // item behind, carrying our UID. Update that one rather than make a second.
            _ => match client.find_written(calendar, &fields).await.map_err(classify)? {
                Some(found) => match client.update_item(&found.id, found.change_key.as_deref(), &fields).await {
                    // Deleted since the view listed it.
                    Err(EwsError::NotFound) => client.create_item(calendar, &fields).await,
                    other => other,
                },
                None => client.create_item(calendar, &fields).await,
            },
        }
        .map_err(classify)?;
        Ok(Written { remote_id: written.id, etag: written.change_key })
    }

    async fn version_of(
        &self,
        _calendar: &str,
        _name: &str,
        known_id: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        let Some(id) = known_id else { return Ok(None) };
        let client = self.client().await?;
        let mut found = client.get_items(&[ItemRef::Item(id.to_owned())]).await.map_err(classify)?;
        match found.pop() {
            Some(Ok(item)) => Ok(item.id.and_then(|id| id.change_key)),
            Some(Err(EwsError::NotFound)) | None => Ok(None),
            Some(Err(e)) => Err(classify(e)),
        }
    }

    async fn delete(&self, remote_id: &str, expected_etag: Option<&str>) -> Result<(), ProviderError> {
        let client = self.client().await?;
        client.delete_item(remote_id, expected_etag).await.map_err(classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::ews::ItemId;

    fn changed(id: &str) -> Change {
        Change::Changed(ItemId { id: id.into(), change_key: None })
    }

    #[test]
    fn a_round_folds_to_each_items_last_change() {
        let round = vec![
            changed("a"),
            changed("b"),
            Change::Deleted("a".into()),
            changed("c"),
            changed("b"),
            Change::Deleted("d".into()),
        ];
        assert_eq!(fold(round), (vec!["c".to_owned(), "b".to_owned()], vec!["a".to_owned(), "d".to_owned()]));
    }

    #[test]
    fn ews_failures_map_onto_the_engines_classes() {
        use std::time::Duration;
        let wait = Some(Duration::from_millis(5000));
        assert_eq!(classify(EwsError::Unauthorized), ProviderError::CredentialsDead);
        assert_eq!(classify(EwsError::AccessGone("ErrorImpersonateUserDenied".into())), ProviderError::CredentialsDead);
        assert_eq!(
            classify(EwsError::Transient { retry_after: wait, reason: "ErrorServerBusy".into() }),
            ProviderError::Transient { retry_after: wait, reason: "ErrorServerBusy".into() }
        );
        assert_eq!(classify(EwsError::SyncStateInvalid), ProviderError::SyncTokenInvalid);
        assert_eq!(classify(EwsError::Conflict), ProviderError::Conflict);
        assert!(matches!(classify(EwsError::Failed("ErrorInvalidRequest".into())), ProviderError::Permanent(_)));
    }

    #[test]
    fn only_password_credentials_make_an_exchange_adapter() {
        let password =
            Credentials::Password { email: "ada@corp.example".into(), password: "pw".into(), username: None };
        let made = EwsProvider::new("ada@corp.example", None, &password, None, Policy::local(), Tz::UTC, None);
        assert!(made.is_ok());
        let oauth =
            Credentials::OauthTokenSet { access_token: "t".into(), refresh_token: None, expires_at: None, scope: None };
        let refused = EwsProvider::new("ada@corp.example", None, &oauth, None, Policy::local(), Tz::UTC, None);
        assert!(matches!(refused, Err(ProviderError::Permanent(_))));
    }
}
