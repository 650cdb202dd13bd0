-- calsync schema, SQLite. The PostgreSQL twin is ../postgres/0001_init.sql; keep them in step.
-- Every table holding end-user data carries the keys and timestamps retention and erasure use,
-- indexed. Times are RFC 3339 UTC text (as sqlx writes chrono values, so they sort as text), written by the application clock (never now()).

CREATE TABLE integrators (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    company     TEXT,
    phone       TEXT,
    url         TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Billing records are kept permanently; card details are never stored.
CREATE TABLE integrator_billing (
    integrator_id   TEXT PRIMARY KEY REFERENCES integrators (id),
    contact_name    TEXT NOT NULL,
    contact_email   TEXT NOT NULL,
    postal_address  TEXT NOT NULL,
    company_name    TEXT NOT NULL,
    tax_id          TEXT,
    updated_at      TEXT NOT NULL
);

CREATE TABLE applications (
    id                          TEXT PRIMARY KEY,
    integrator_id               TEXT REFERENCES integrators (id),
    name                        TEXT NOT NULL,
    client_id                   TEXT NOT NULL UNIQUE,
    client_secret_hash          TEXT NOT NULL,
    -- The secret replaced by the last rotation stays valid until this time.
    previous_secret_hash        TEXT,
    previous_secret_expires_at  TEXT,
    redirect_uris               TEXT NOT NULL,
    sync_past_days              INTEGER NOT NULL DEFAULT 42 CHECK (sync_past_days BETWEEN 0 AND 3650),
    sync_future_days            INTEGER NOT NULL DEFAULT 201 CHECK (sync_future_days BETWEEN 0 AND 3650),
    created_at                  TEXT NOT NULL,
    updated_at                  TEXT NOT NULL
);

CREATE TABLE accounts (
    id                       TEXT PRIMARY KEY,
    email                    TEXT,
    name                     TEXT,
    default_tzid             TEXT NOT NULL,
    created_at               TEXT NOT NULL,
    -- Set when the last active authorization ends, cleared by a new one: starts the
    -- third-party event, credential and account-structure retention clocks.
    authorizations_ended_at  TEXT
);
CREATE INDEX accounts_authorizations_ended_at ON accounts (authorizations_ended_at) WHERE authorizations_ended_at IS NOT NULL;

CREATE TABLE profiles (
    id                TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    provider          TEXT NOT NULL,
    provider_service  TEXT NOT NULL,
    email             TEXT NOT NULL,
    name              TEXT,
    tzid              TEXT,
    status            TEXT NOT NULL,
    server_url        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX profiles_account_id ON profiles (account_id);

CREATE TABLE calendars (
    id                    TEXT PRIMARY KEY,
    profile_id            TEXT NOT NULL REFERENCES profiles (id),
    account_id            TEXT NOT NULL REFERENCES accounts (id),
    provider_calendar_id  TEXT NOT NULL,
    name                  TEXT NOT NULL,
    is_primary            INTEGER NOT NULL,
    read_only             INTEGER NOT NULL,
    deleted               INTEGER NOT NULL,
    color                 TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    UNIQUE (profile_id, provider_calendar_id)
);
CREATE INDEX calendars_account_id ON calendars (account_id);

-- Envelope-encrypted provider credentials, one row per profile.
CREATE TABLE credentials (
    profile_id   TEXT PRIMARY KEY REFERENCES profiles (id),
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    kind         TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    wrapped_key  BLOB NOT NULL,
    ciphertext   BLOB NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX credentials_account_id ON credentials (account_id);

CREATE TABLE authorizations (
    id                       TEXT PRIMARY KEY,
    application_id           TEXT NOT NULL REFERENCES applications (id),
    account_id               TEXT NOT NULL REFERENCES accounts (id),
    scopes                   TEXT NOT NULL,
    access_token_hash        TEXT NOT NULL UNIQUE,
    refresh_token_hash       TEXT NOT NULL UNIQUE,
    access_token_expires_at  TEXT NOT NULL,
    created_at               TEXT NOT NULL,
    terminated_at            TEXT
);
CREATE INDEX authorizations_account_id ON authorizations (account_id);
CREATE INDEX authorizations_application_account ON authorizations (application_id, account_id);
CREATE INDEX authorizations_terminated_at ON authorizations (terminated_at) WHERE terminated_at IS NOT NULL;

CREATE TABLE events (
    uid                  TEXT PRIMARY KEY,
    calendar_id          TEXT NOT NULL REFERENCES calendars (id),
    profile_id           TEXT NOT NULL REFERENCES profiles (id),
    account_id           TEXT NOT NULL REFERENCES accounts (id),
    kind                 TEXT NOT NULL,
    application_id       TEXT REFERENCES applications (id),
    event_id             TEXT,
    provider_id          TEXT,
    ical_uid             TEXT,
    etag                 TEXT,
    content_hash         TEXT NOT NULL,
    summary              TEXT,
    description          TEXT,
    start_at             TEXT NOT NULL,
    start_date           TEXT,
    start_tzid           TEXT,
    end_at               TEXT NOT NULL,
    end_date             TEXT,
    end_tzid             TEXT,
    all_day              INTEGER NOT NULL,
    recurrence_rule      TEXT,
    series_id            TEXT,
    original_start       TEXT,
    location             TEXT,
    attendees            TEXT NOT NULL,
    organizer            TEXT,
    categories           TEXT NOT NULL,
    color                TEXT,
    transparency         TEXT NOT NULL,
    status               TEXT NOT NULL,
    deleted              INTEGER NOT NULL,
    provider_created_at  TEXT,
    provider_updated_at  TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    last_modified        TEXT NOT NULL,
    left_window_at       TEXT,
    CHECK (kind <> 'partner' OR (application_id IS NOT NULL AND event_id IS NOT NULL))
);
CREATE UNIQUE INDEX events_calendar_provider_id ON events (calendar_id, provider_id) WHERE provider_id IS NOT NULL;
CREATE UNIQUE INDEX events_calendar_application_event_id ON events (calendar_id, application_id, event_id) WHERE event_id IS NOT NULL;
CREATE INDEX events_account_id ON events (account_id);
CREATE INDEX events_calendar_last_modified ON events (calendar_id, last_modified);
CREATE INDEX events_calendar_start ON events (calendar_id, start_at);
CREATE INDEX events_left_window_at ON events (left_window_at) WHERE left_window_at IS NOT NULL;
CREATE INDEX events_application_id ON events (application_id) WHERE application_id IS NOT NULL;

CREATE TABLE sync_states (
    calendar_id      TEXT PRIMARY KEY REFERENCES calendars (id),
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    cursor           TEXT,
    last_success_at  TEXT,
    last_error       TEXT,
    error_count      INTEGER NOT NULL DEFAULT 0,
    backoff_until    TEXT,
    lease_owner      TEXT,
    lease_until      TEXT,
    updated_at       TEXT NOT NULL
);
CREATE INDEX sync_states_account_id ON sync_states (account_id);

CREATE TABLE channels (
    id              TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications (id),
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    callback_url    TEXT NOT NULL,
    filters         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    closed_at       TEXT
);
CREATE INDEX channels_account_id ON channels (account_id);
CREATE INDEX channels_application_account ON channels (application_id, account_id);

-- Integrator-facing request logs, kept up to 90 days. No bodies, no query strings.
CREATE TABLE request_logs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    application_id  TEXT REFERENCES applications (id),
    account_id      TEXT REFERENCES accounts (id),
    request_id      TEXT NOT NULL,
    method          TEXT NOT NULL,
    path            TEXT NOT NULL,
    status          INTEGER NOT NULL,
    duration_ms     INTEGER NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE INDEX request_logs_created_at ON request_logs (created_at);
CREATE INDEX request_logs_account_id ON request_logs (account_id) WHERE account_id IS NOT NULL;

-- Right-to-be-forgotten requests: the GDPR report. Holds opaque ids only, no personal data.
CREATE TABLE gdpr_requests (
    id                 TEXT PRIMARY KEY,
    account_id         TEXT NOT NULL,
    requested_by       TEXT NOT NULL,
    requested_at       TEXT NOT NULL,
    completed_at       TEXT,
    rows_removed       INTEGER,
    backups_expire_by  TEXT,
    external_progress  TEXT NOT NULL,
    notes              TEXT
);

-- Every erasure, by opaque id, so a restore of an older backup can replay it. Append-only.
CREATE TABLE erasure_ledger (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    entity_kind  TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    request_id   TEXT,
    erased_at    TEXT NOT NULL
);
CREATE INDEX erasure_ledger_entity ON erasure_ledger (entity_kind, entity_id);

-- Scheduled job runs keyed by slot, so a duplicate invocation for a slot does nothing twice.
CREATE TABLE job_runs (
    job          TEXT NOT NULL,
    slot         TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    details      TEXT NOT NULL,
    PRIMARY KEY (job, slot)
);
