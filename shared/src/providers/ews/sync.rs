//! `SyncFolderItems` (protocol.md operation 3, providers.md §5.1): the folder's changes since a
//! sync state, ids only, single items and recurring masters (never occurrences). A round is
//! followed until `IncludesLastItemInRange`; the last state is the cursor, sent back exactly.

use super::client::EwsClient;
use super::errors::EwsError;
use super::items::ItemId;
use super::soap::single_message;
use crate::providers::caldav::xml::{Element, Ns, escape};

/// Changes asked for per request: EWS's maximum.
pub const MAX_CHANGES: u32 = 512;
/// Requests one round may take, against a server that never says it is done.
const MAX_ROUND_REQUESTS: usize = 10_000;

/// One change, in the order the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Created or updated.
    Changed(ItemId),
    Deleted(String),
}

/// A whole round of changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncRound {
    pub changes: Vec<Change>,
    /// The state to start the next round from.
    pub state: String,
    /// Requests the round took.
    pub requests: usize,
}

/// One page: its changes, the state after it, and whether it was the last.
pub(super) fn read_page(message: &Element) -> Result<(Vec<Change>, String, bool), EwsError> {
    let state = message
        .child(Ns::EwsMessages, "SyncState")
        .map(|s| s.trimmed_text().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| EwsError::Malformed("SyncFolderItems returned no SyncState".into()))?;
    let last = message
        .child(Ns::EwsMessages, "IncludesLastItemInRange")
        .is_none_or(|e| e.trimmed_text().eq_ignore_ascii_case("true"));
    let mut changes = Vec::new();
    for change in message.child(Ns::EwsMessages, "Changes").into_iter().flat_map(|c| c.children.iter()) {
        if change.ns != Ns::EwsTypes {
            continue;
        }
        match change.name.as_str() {
            "Create" | "Update" => {
                let id =
                    change.children.iter().find_map(|item| item.child(Ns::EwsTypes, "ItemId")).and_then(ItemId::read);
                if let Some(id) = id {
                    changes.push(Change::Changed(id));
                }
            }
            "Delete" => {
                if let Some(id) = change.child(Ns::EwsTypes, "ItemId").and_then(ItemId::read) {
                    changes.push(Change::Deleted(id.id));
                }
            }
            // ReadFlagChange and anything newer say nothing about events.
            _ => {}
        }
    }
    Ok((changes, state, last))
}

impl EwsClient {
    /// Every change to `folder` since `state` (from the beginning when `None`), following the
    /// round until the server has nothing more.
    #[tracing::instrument(skip_all)]
    pub async fn sync_folder_items(&self, folder: &str, state: Option<&str>) -> Result<SyncRound, EwsError> {
        let mut round = SyncRound { state: state.unwrap_or_default().to_owned(), ..SyncRound::default() };
        let mut state = state.map(str::to_owned);
        while round.requests < MAX_ROUND_REQUESTS {
            let state_element =
                state.as_deref().map(|s| format!("<m:SyncState>{}</m:SyncState>", escape(s))).unwrap_or_default();
            let body = format!(
                r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:FolderId Id="{}"/></m:SyncFolderId>{state_element}<m:MaxChangesReturned>{MAX_CHANGES}</m:MaxChangesReturned><m:SyncScope>NormalItems</m:SyncScope></m:SyncFolderItems>"#,
                escape(folder)
            );
            let response = self.call("SyncFolderItems", &body).await?;
            round.requests += 1;
            let (changes, next, last) = read_page(single_message(&response)?)?;
            round.changes.extend(changes);
            round.state.clone_from(&next);
            state = Some(next);
            if last {
                return Ok(round);
            }
        }
        Err(EwsError::Malformed("SyncFolderItems never reached the last item".into()))
    }
}
