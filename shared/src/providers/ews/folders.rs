//! The mailbox's calendar folders (protocol.md operations 1 and 2): the default calendar from
//! `GetFolder`, the calendars beneath it from a shallow `FindFolder`.

use super::client::EwsClient;
use super::errors::EwsError;
use super::soap::{flag, messages, single_message, text};
use crate::providers::caldav::xml::{Element, Ns};

/// A calendar folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarFolder {
    pub id: String,
    pub change_key: Option<String>,
    pub name: Option<String>,
    /// `EffectiveRights/Modify`: whether the account may change what the folder holds.
    pub writable: bool,
}

impl CalendarFolder {
    pub(super) fn read(element: &Element) -> Option<Self> {
        let id = element.child(Ns::EwsTypes, "FolderId")?;
        // Only calendars: other folder classes can sit under the calendar too.
        if text(element, "FolderClass").is_some_and(|class| !class.starts_with("IPF.Appointment")) {
            return None;
        }
        Some(CalendarFolder {
            id: id.attribute("Id").filter(|i| !i.is_empty())?.to_owned(),
            change_key: id.attribute("ChangeKey").map(str::to_owned),
            name: text(element, "DisplayName"),
            writable: element.child(Ns::EwsTypes, "EffectiveRights").is_some_and(|r| flag(r, "Modify")),
        })
    }
}

const FOLDER_SHAPE: &str = "<m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>";

impl EwsClient {
    /// The mailbox's default calendar.
    #[tracing::instrument(skip_all)]
    pub async fn calendar_folder(&self) -> Result<CalendarFolder, EwsError> {
        let body = format!(
            r#"<m:GetFolder>{FOLDER_SHAPE}<m:FolderIds><t:DistinguishedFolderId Id="calendar"/></m:FolderIds></m:GetFolder>"#
        );
        let response = self.call("GetFolder", &body).await?;
        let message = single_message(&response)?;
        message
            .child(Ns::EwsMessages, "Folders")
            .and_then(|folders| folders.children.iter().find_map(CalendarFolder::read))
            .ok_or_else(|| EwsError::Malformed("GetFolder returned no calendar folder".into()))
    }

    /// The calendars directly beneath the default calendar.
    #[tracing::instrument(skip_all)]
    pub async fn calendar_subfolders(&self) -> Result<Vec<CalendarFolder>, EwsError> {
        let body = format!(
            r#"<m:FindFolder Traversal="Shallow">{FOLDER_SHAPE}<m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindFolder>"#
        );
        let response = self.call("FindFolder", &body).await?;
        let mut found = Vec::new();
        for message in messages(&response) {
            let folders = message?
                .child(Ns::EwsMessages, "RootFolder")
                .and_then(|root| root.child(Ns::EwsTypes, "Folders"))
                .into_iter()
                .flat_map(|folders| folders.children_named(Ns::EwsTypes, "CalendarFolder"));
            found.extend(folders.filter_map(CalendarFolder::read));
        }
        Ok(found)
    }
}
