-- Push channels calsync holds at a provider for one calendar (Google `events.watch`): the
-- provider calls back with the channel id and its token when the calendar changes. Only the
-- token's SHA-256 is kept. SQLite twin: ../sqlite/0007_provider_watches.sql.
CREATE TABLE provider_watches (
    channel_id        TEXT PRIMARY KEY,
    calendar_id       TEXT NOT NULL REFERENCES calendars (id),
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    resource_id       TEXT NOT NULL,
    token_hash        TEXT NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    last_notified_at  TIMESTAMPTZ
);
CREATE INDEX provider_watches_calendar_id ON provider_watches (calendar_id);
CREATE INDEX provider_watches_account_id ON provider_watches (account_id);
