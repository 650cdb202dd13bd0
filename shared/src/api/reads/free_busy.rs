//! `GET /v1/free_busy` and `GET /v1/free_busy/pages/{token}`: when the account's calendars are
//! taken, without any event detail (cronofy-api.md §4.2, §5.2).
//!
//! The store reads `FreeBusyBlock`s, a type with no content fields, through a query whose column
//! list has none either; this handler could not leak a summary if it tried.

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::{
    access::{AccountCalendars, ReadError},
    event_json::time_json,
    query::{Feature, PAGE_SIZE, ReadQuery},
};
use crate::{
    api::{
        extract::{Grant, Params},
        pages::{page_count, pages_json},
    },
    domain::Scope,
    state::AppState,
};

/// First page: the query comes from the query string.
pub(super) async fn get(State(state): State<AppState>, grant: Grant, params: Params) -> Result<Json<Value>, ReadError> {
    // `read_events` implies `read_free_busy` (see `Grant::require`).
    grant.require(Scope::ReadFreeBusy)?;
    let query = ReadQuery::from_params(&params, Feature::FreeBusy, &grant.application, state.clock.now())?;
    respond(&state, &grant, &query).await
}

/// Later pages: the whole query comes from the token; query parameters are ignored.
pub(super) async fn page(
    State(state): State<AppState>,
    grant: Grant,
    Path(token): Path<String>,
) -> Result<Json<Value>, ReadError> {
    grant.require(Scope::ReadFreeBusy)?;
    let query = ReadQuery::from_token(&token, Feature::FreeBusy, &grant.application, state.clock.now())?;
    respond(&state, &grant, &query).await
}

async fn respond(state: &AppState, grant: &Grant, query: &ReadQuery) -> Result<Json<Value>, ReadError> {
    let calendars = AccountCalendars::load(&state.store, grant.account_id()).await?;
    calendars.check(&query.calendar_ids)?;
    let selection = query.selection(grant)?;

    // The count runs on the first page only; later pages carry it in their token.
    let total = match query.total {
        Some(total) => total,
        None => page_count(state.store.count_free_busy(&selection).await?, PAGE_SIZE.into()),
    };
    let (blocks, cursor) = state.store.list_free_busy_page(&selection, PAGE_SIZE, query.after.as_ref()).await?;

    let (next_page, total) = query.paging(&state.config.public_url, total, cursor);
    let localized = if query.localized_times { Some(query.tz()?) } else { None };
    let blocks: Vec<Value> = blocks
        .iter()
        .map(|b| {
            json!({
                "calendar_id": b.calendar_id,
                "start": time_json(&b.start, localized),
                "end": time_json(&b.end, localized),
                "free_busy_status": b.status.as_str(),
            })
        })
        .collect();
    Ok(Json(json!({ "pages": pages_json(query.page, total, next_page), "free_busy": blocks })))
}
