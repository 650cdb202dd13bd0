-- Push notifications are signed with the application's client secret (Cronofy-HMAC-SHA256), so
-- the secret is also kept sealed under the keyring (AES-256-GCM, bound to the application); the
-- hash stays the only thing authentication compares against.
ALTER TABLE applications ADD COLUMN client_secret_sealed BYTEA;
ALTER TABLE applications ADD COLUMN previous_secret_sealed BYTEA;

-- Why a channel was closed: by the application, or after its endpoint kept failing.
ALTER TABLE channels ADD COLUMN close_reason TEXT;

-- One notification to one channel and its delivery: attempts, the last status and latency (never
-- the body), and when it was delivered, so a redelivered job sends nothing.
CREATE TABLE notifications (
    id                TEXT PRIMARY KEY,
    channel_id        TEXT NOT NULL REFERENCES channels (id),
    application_id    TEXT NOT NULL REFERENCES applications (id),
    account_id        TEXT NOT NULL REFERENCES accounts (id),
    kind              TEXT NOT NULL,
    changes_since     TIMESTAMPTZ,
    created_at        TIMESTAMPTZ NOT NULL,
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_attempt_at   TIMESTAMPTZ,
    last_status       TEXT,
    last_latency_ms   INTEGER,
    next_attempt_at   TIMESTAMPTZ,
    -- A delivery in progress holds the notification until this time, so two copies of one job
    -- never both send it.
    claimed_until     TIMESTAMPTZ,
    delivered_at      TIMESTAMPTZ,
    abandoned_at      TIMESTAMPTZ
);
CREATE INDEX notifications_channel_id ON notifications (channel_id);
CREATE INDEX notifications_account_id ON notifications (account_id);
-- Deliveries still pending, for the sweep that requeues jobs lost between the row and the queue.
CREATE INDEX notifications_pending ON notifications (created_at) WHERE delivered_at IS NULL AND abandoned_at IS NULL;
CREATE INDEX channels_account_open ON channels (account_id) WHERE closed_at IS NULL;
