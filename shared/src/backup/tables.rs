//! The tables a backup holds, their columns and how each column's values are written.
//!
//! One list serves both backends: SQLite declares timestamps and JSON as text, so the kind of a
//! column cannot be read from the database, and a backup taken on one backend must restore into
//! the other. A test compares this list with the live schema of both backends, so a migration
//! that adds a table or a column fails until the backup knows how to carry it. Tables are in
//! restore order: every table comes after the tables its foreign keys name.

/// How a column's values are carried in a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Text,
    /// INTEGER and BIGINT, carried as 64-bit.
    Integer,
    Boolean,
    /// RFC 3339 in UTC.
    Timestamp,
    /// `YYYY-MM-DD`.
    Date,
    /// JSON text with sorted keys and no spaces, so both backends write it identically.
    Json,
    /// Base64.
    Bytes,
}

/// One column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
}

/// One table: its name, primary key (rows are written in key order) and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub key: &'static [&'static str],
    pub columns: &'static [Column],
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column { name, kind }
}

use Kind::{Boolean, Bytes, Date, Integer, Json, Text, Timestamp};

/// Every table but sqlx's own migration record (the manifest carries the schema version).
pub const TABLES: &[Table] = &[
    Table {
        name: "integrators",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("name", Text),
            col("email", Text),
            col("company", Text),
            col("phone", Text),
            col("url", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
    },
    Table {
        name: "integrator_billing",
        key: &["integrator_id"],
        columns: &[
            col("integrator_id", Text),
            col("contact_name", Text),
            col("contact_email", Text),
            col("postal_address", Text),
            col("company_name", Text),
            col("tax_id", Text),
            col("updated_at", Timestamp),
        ],
    },
    Table {
        name: "applications",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("integrator_id", Text),
            col("name", Text),
            col("client_id", Text),
            col("client_secret_hash", Text),
            col("previous_secret_hash", Text),
            col("previous_secret_expires_at", Timestamp),
            col("redirect_uris", Json),
            col("sync_past_days", Integer),
            col("sync_future_days", Integer),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
            col("client_secret_sealed", Bytes),
            col("previous_secret_sealed", Bytes),
        ],
    },
    Table {
        name: "accounts",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("email", Text),
            col("name", Text),
            col("default_tzid", Text),
            col("created_at", Timestamp),
            col("authorizations_ended_at", Timestamp),
        ],
    },
    Table {
        name: "service_accounts",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("application_id", Text),
            col("account_id", Text),
            col("provider", Text),
            col("email", Text),
            col("server_url", Text),
            col("delegated_scope", Text),
            col("credential_kind", Text),
            col("key_id", Text),
            col("wrapped_key", Bytes),
            col("ciphertext", Bytes),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
    },
    Table {
        name: "profiles",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("account_id", Text),
            col("provider", Text),
            col("provider_service", Text),
            col("email", Text),
            col("name", Text),
            col("tzid", Text),
            col("status", Text),
            col("server_url", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
            col("calendar_home", Text),
            col("service_account_id", Text),
        ],
    },
    Table {
        name: "calendars",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("profile_id", Text),
            col("account_id", Text),
            col("provider_calendar_id", Text),
            col("name", Text),
            col("is_primary", Boolean),
            col("read_only", Boolean),
            col("deleted", Boolean),
            col("color", Text),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
    },
    Table {
        name: "credentials",
        key: &["profile_id"],
        columns: &[
            col("profile_id", Text),
            col("account_id", Text),
            col("kind", Text),
            col("key_id", Text),
            col("wrapped_key", Bytes),
            col("ciphertext", Bytes),
            col("updated_at", Timestamp),
        ],
    },
    Table {
        name: "authorizations",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("application_id", Text),
            col("account_id", Text),
            col("scopes", Text),
            col("access_token_hash", Text),
            col("refresh_token_hash", Text),
            col("access_token_expires_at", Timestamp),
            col("created_at", Timestamp),
            col("terminated_at", Timestamp),
        ],
    },
    Table {
        name: "oauth_codes",
        key: &["code_hash"],
        columns: &[
            col("code_hash", Text),
            col("application_id", Text),
            col("account_id", Text),
            col("profile_id", Text),
            col("redirect_uri", Text),
            col("scopes", Text),
            col("created_at", Timestamp),
            col("expires_at", Timestamp),
            col("used_at", Timestamp),
        ],
    },
    Table {
        name: "application_calendars",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("application_id", Text),
            col("application_calendar_id", Text),
            col("account_id", Text),
            col("profile_id", Text),
            col("calendar_id", Text),
            col("created_at", Timestamp),
        ],
    },
    Table {
        name: "events",
        key: &["uid"],
        columns: &[
            col("uid", Text),
            col("calendar_id", Text),
            col("profile_id", Text),
            col("account_id", Text),
            col("kind", Text),
            col("application_id", Text),
            col("event_id", Text),
            col("provider_id", Text),
            col("ical_uid", Text),
            col("etag", Text),
            col("content_hash", Text),
            col("summary", Text),
            col("description", Text),
            col("start_at", Timestamp),
            col("start_date", Date),
            col("start_tzid", Text),
            col("end_at", Timestamp),
            col("end_date", Date),
            col("end_tzid", Text),
            col("all_day", Boolean),
            col("recurrence_rule", Text),
            col("series_id", Text),
            col("original_start", Timestamp),
            col("location", Json),
            col("attendees", Json),
            col("organizer", Json),
            col("categories", Json),
            col("color", Text),
            col("transparency", Text),
            col("status", Text),
            col("deleted", Boolean),
            col("provider_created_at", Timestamp),
            col("provider_updated_at", Timestamp),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
            col("last_modified", Timestamp),
            col("left_window_at", Timestamp),
            col("url", Text),
            col("reminders", Json),
            col("event_private", Boolean),
            col("participation_status", Text),
            col("pushed_hash", Text),
        ],
    },
    Table {
        name: "sync_states",
        key: &["calendar_id"],
        columns: &[
            col("calendar_id", Text),
            col("account_id", Text),
            col("cursor", Text),
            col("last_success_at", Timestamp),
            col("last_error", Text),
            col("error_count", Integer),
            col("backoff_until", Timestamp),
            col("lease_owner", Text),
            col("lease_until", Timestamp),
            col("updated_at", Timestamp),
        ],
    },
    Table {
        name: "provider_watches",
        key: &["channel_id"],
        columns: &[
            col("channel_id", Text),
            col("calendar_id", Text),
            col("account_id", Text),
            col("resource_id", Text),
            col("token_hash", Text),
            col("expires_at", Timestamp),
            col("created_at", Timestamp),
            col("last_notified_at", Timestamp),
        ],
    },
    Table {
        name: "channels",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("application_id", Text),
            col("account_id", Text),
            col("callback_url", Text),
            col("filters", Json),
            col("created_at", Timestamp),
            col("closed_at", Timestamp),
            col("close_reason", Text),
        ],
    },
    Table {
        name: "notifications",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("channel_id", Text),
            col("application_id", Text),
            col("account_id", Text),
            col("kind", Text),
            col("changes_since", Timestamp),
            col("created_at", Timestamp),
            col("attempts", Integer),
            col("last_attempt_at", Timestamp),
            col("last_status", Text),
            col("last_latency_ms", Integer),
            col("next_attempt_at", Timestamp),
            col("claimed_until", Timestamp),
            col("delivered_at", Timestamp),
            col("abandoned_at", Timestamp),
        ],
    },
    Table {
        name: "request_logs",
        key: &["id"],
        columns: &[
            col("id", Integer),
            col("application_id", Text),
            col("account_id", Text),
            col("request_id", Text),
            col("method", Text),
            col("path", Text),
            col("status", Integer),
            col("duration_ms", Integer),
            col("created_at", Timestamp),
        ],
    },
    Table {
        name: "authorize_requests",
        key: &["id_hash"],
        columns: &[
            col("id_hash", Text),
            col("application_id", Text),
            col("redirect_uri", Text),
            col("scopes", Text),
            col("state", Text),
            col("created_at", Timestamp),
            col("expires_at", Timestamp),
            col("used_at", Timestamp),
            col("delegated_scope", Text),
        ],
    },
    Table {
        name: "rate_limit_windows",
        key: &["application_id", "window_key"],
        columns: &[
            col("application_id", Text),
            col("window_key", Text),
            col("count", Integer),
            col("expires_at", Timestamp),
        ],
    },
    Table {
        name: "server_slots",
        key: &["server", "slot"],
        columns: &[col("server", Text), col("slot", Integer), col("holder", Text), col("expires_at", Timestamp)],
    },
    Table {
        name: "server_request_windows",
        key: &["server", "window_start"],
        columns: &[col("server", Text), col("window_start", Timestamp), col("count", Integer)],
    },
    Table {
        name: "gdpr_requests",
        key: &["id"],
        columns: &[
            col("id", Text),
            col("account_id", Text),
            col("requested_by", Text),
            col("requested_at", Timestamp),
            col("completed_at", Timestamp),
            col("rows_removed", Integer),
            col("backups_expire_by", Timestamp),
            col("external_progress", Json),
            col("notes", Text),
        ],
    },
    Table {
        name: "erasure_ledger",
        key: &["seq"],
        columns: &[
            col("seq", Integer),
            col("entity_kind", Text),
            col("entity_id", Text),
            col("request_id", Text),
            col("erased_at", Timestamp),
        ],
    },
    Table {
        name: "job_runs",
        key: &["job", "slot"],
        columns: &[
            col("job", Text),
            col("slot", Text),
            col("status", Text),
            col("started_at", Timestamp),
            col("finished_at", Timestamp),
            col("details", Json),
        ],
    },
];
