//! `GET /v1/events` and `GET /v1/events/pages/{token}`: the account's cached events, a page at a
//! time (cronofy-api.md §4.1, §5.1).

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::{
    access::{AccountCalendars, ReadError, require_event_details},
    event_json::EventView,
    query::{Feature, PAGE_SIZE, ReadQuery},
};
use crate::{
    api::{
        extract::{Grant, Params},
        pages::{page_count, pages_json},
    },
    state::AppState,
};

/// First page: the query comes from the query string.
pub(super) async fn get(State(state): State<AppState>, grant: Grant, params: Params) -> Result<Json<Value>, ReadError> {
    // Scopes before parameters: a caller without access learns nothing from validation errors.
    require_event_details(&grant, params.bool("only_managed")?.unwrap_or(false))?;
    let query = ReadQuery::from_params(&params, Feature::Events, &grant.application, state.clock.now())?;
    respond(&state, &grant, &query).await
}

/// Later pages: the whole query comes from the token; query parameters are ignored.
pub(super) async fn page(
    State(state): State<AppState>,
    grant: Grant,
    Path(token): Path<String>,
) -> Result<Json<Value>, ReadError> {
    let query = ReadQuery::from_token(&token, Feature::Events, &grant.application, state.clock.now())?;
    require_event_details(&grant, query.only_managed)?;
    respond(&state, &grant, &query).await
}

async fn respond(state: &AppState, grant: &Grant, query: &ReadQuery) -> Result<Json<Value>, ReadError> {
    let calendars = AccountCalendars::load(&state.store, grant.account_id()).await?;
    calendars.check(&query.calendar_ids)?;
    let selection = query.selection(grant)?;

    // The count runs on the first page only; later pages carry it in their token.
    let total = match query.total {
        Some(total) => total,
        None => page_count(state.store.count_events(&selection).await?, PAGE_SIZE.into()),
    };
    let (events, cursor) = state.store.list_events_page(&selection, PAGE_SIZE, query.after.as_ref()).await?;

    let (next_page, total) = query.paging(&state.config.public_url, total, cursor);
    let view = EventView {
        application: &grant.application.id,
        calendars: &calendars,
        localized: if query.localized_times { Some(query.tz()?) } else { None },
        include_geo: query.include_geo,
    };
    let events: Vec<Value> = events.iter().map(|e| view.json(e)).collect();
    Ok(Json(json!({ "pages": pages_json(query.page, total, next_page), "events": events })))
}
