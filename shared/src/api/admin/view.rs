//! How the admin API shows an application, and the body fields shared by create and update.
//! Secret hashes never leave the store; a plain secret appears only in the response that made it.

use axum::{body::Bytes, extract::Request};
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};

use super::error::{AdminError, AdminResult};
use crate::{
    api::extract::{body_bytes, decode_json},
    domain::Application,
};

/// An application's public fields.
pub(super) fn application_json(app: &Application) -> Value {
    json!({
        "application_id": app.id.as_str(),
        "name": app.name,
        "client_id": app.client_id,
        "redirect_uris": app.redirect_uris,
        "sync_window": { "past_days": app.sync_past_days, "future_days": app.sync_future_days },
        "created_at": timestamp(app.created_at),
        "updated_at": timestamp(app.updated_at),
    })
}

/// UTC with second precision, as everywhere on the API.
pub(super) fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `sync_window` in a request; either bound may be left out.
#[derive(Debug, Default, Deserialize)]
pub(super) struct SyncWindow {
    pub(super) past_days: Option<i32>,
    pub(super) future_days: Option<i32>,
}

/// Reads and decodes a JSON body, answering problems in the admin error style.
pub(super) async fn json_body<T: DeserializeOwned>(request: Request) -> AdminResult<T> {
    let bytes: Bytes = body_bytes(request).await?;
    decode_json(&bytes).map_err(AdminError::from)
}
