-- Smart Invite replies and their callbacks. A recipient's reply keeps its comment and, for a
-- counter-proposal (METHOD:COUNTER), the proposed start and end (`{"start":{time,tzid},"end":…}`).
-- PostgreSQL twin: ../postgres/0011_smart_invite_replies.sql.
ALTER TABLE smart_invites ADD COLUMN reply_comment TEXT;
ALTER TABLE smart_invites ADD COLUMN reply_proposal TEXT;

-- A notification goes either to a channel (about an account) or, for a Smart Invite reply, to the
-- invite's callback URL: then it has no channel and no account, carries its destination and the
-- body as it was when the reply arrived (so each reply is reported as it was), and belongs to the
-- recipient's invite row, whose retention purge takes it along. SQLite cannot drop NOT NULL in
-- place, so the table is rebuilt (nothing references it).
CREATE TABLE notifications_v11 (
    id                 TEXT PRIMARY KEY,
    channel_id         TEXT REFERENCES channels (id),
    application_id     TEXT NOT NULL REFERENCES applications (id),
    account_id         TEXT REFERENCES accounts (id),
    kind               TEXT NOT NULL,
    changes_since      TEXT,
    created_at         TEXT NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    last_attempt_at    TEXT,
    last_status        TEXT,
    last_latency_ms    INTEGER,
    next_attempt_at    TEXT,
    -- A delivery in progress holds the notification until this time, so two copies of one job
    -- never both send it.
    claimed_until      TEXT,
    delivered_at       TEXT,
    abandoned_at       TEXT,
    smart_invite_token TEXT REFERENCES smart_invites (reply_token),
    callback_url       TEXT,
    body               TEXT,
    CONSTRAINT notifications_one_destination CHECK (
        (channel_id IS NOT NULL AND account_id IS NOT NULL AND smart_invite_token IS NULL)
        OR (channel_id IS NULL AND account_id IS NULL AND smart_invite_token IS NOT NULL
            AND callback_url IS NOT NULL AND body IS NOT NULL)
    )
);
INSERT INTO notifications_v11 (id, channel_id, application_id, account_id, kind, changes_since, created_at,
    attempts, last_attempt_at, last_status, last_latency_ms, next_attempt_at, claimed_until, delivered_at,
    abandoned_at)
SELECT id, channel_id, application_id, account_id, kind, changes_since, created_at, attempts, last_attempt_at,
    last_status, last_latency_ms, next_attempt_at, claimed_until, delivered_at, abandoned_at
FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_v11 RENAME TO notifications;
CREATE INDEX notifications_channel_id ON notifications (channel_id);
CREATE INDEX notifications_account_id ON notifications (account_id);
-- Deliveries still pending, for the sweep that requeues jobs lost between the row and the queue.
CREATE INDEX notifications_pending ON notifications (created_at) WHERE delivered_at IS NULL AND abandoned_at IS NULL;
CREATE INDEX notifications_smart_invite_token ON notifications (smart_invite_token) WHERE smart_invite_token IS NOT NULL;
