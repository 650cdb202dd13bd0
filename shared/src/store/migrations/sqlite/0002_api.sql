-- The integrator API: authorization codes, application calendars, rate-limit windows, and the
-- upsert fields the API accepts. PostgreSQL twin: ../postgres/0002_api.sql.

ALTER TABLE events ADD COLUMN url TEXT;
ALTER TABLE events ADD COLUMN reminders TEXT NOT NULL DEFAULT '[]';
ALTER TABLE events ADD COLUMN event_private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN participation_status TEXT NOT NULL DEFAULT 'unknown';

-- Smart Invites and other application-authenticated calls present the client secret alone.
CREATE INDEX applications_client_secret_hash ON applications (client_secret_hash);
CREATE INDEX applications_previous_secret_hash ON applications (previous_secret_hash) WHERE previous_secret_hash IS NOT NULL;

-- OAuth authorization codes: single use, ten minutes, stored hashed.
CREATE TABLE oauth_codes (
    code_hash       TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications (id),
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    profile_id      TEXT NOT NULL REFERENCES profiles (id),
    redirect_uri    TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
);
CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);
CREATE INDEX oauth_codes_account_id ON oauth_codes (account_id);

-- Calendars hosted by calsync for one application, keyed by the application's own id.
CREATE TABLE application_calendars (
    id                       TEXT PRIMARY KEY,
    application_id           TEXT NOT NULL REFERENCES applications (id),
    application_calendar_id  TEXT NOT NULL,
    account_id               TEXT NOT NULL REFERENCES accounts (id),
    profile_id               TEXT NOT NULL REFERENCES profiles (id),
    calendar_id              TEXT NOT NULL REFERENCES calendars (id),
    created_at               TEXT NOT NULL,
    UNIQUE (application_id, application_calendar_id)
);
CREATE INDEX application_calendars_account_id ON application_calendars (account_id);

-- Fixed-window request counters per application (per second and per minute).
CREATE TABLE rate_limit_windows (
    application_id  TEXT NOT NULL,
    window_key      TEXT NOT NULL,
    count           INTEGER NOT NULL,
    expires_at      TEXT NOT NULL,
    PRIMARY KEY (application_id, window_key)
);
CREATE INDEX rate_limit_windows_expires_at ON rate_limit_windows (expires_at);
