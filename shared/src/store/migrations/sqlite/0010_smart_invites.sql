-- Smart Invites: invitations an application creates with its own credentials for a recipient who
-- authorized nothing. One row per application, invite id and (lower-case) recipient email. The
-- stored `event` is the request's event object as validated, so a repeated body is recognised and
-- changes nothing; a changed one increments `sequence`. `uid` is stable per application and
-- invite id; `reply_token` is the opaque part of the reply address. `event_end` starts the
-- retention clock (30 days after the event's end). PostgreSQL twin: ../postgres/0010_smart_invites.sql.
CREATE TABLE smart_invites (
    application_id   TEXT NOT NULL REFERENCES applications (id),
    smart_invite_id  TEXT NOT NULL,
    recipient_email  TEXT NOT NULL,
    uid              TEXT NOT NULL,
    reply_token      TEXT NOT NULL UNIQUE,
    method           TEXT NOT NULL,
    sequence         INTEGER NOT NULL,
    status           TEXT NOT NULL,
    callback_url     TEXT,
    organizer        TEXT NOT NULL,
    event            TEXT NOT NULL,
    event_end        TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (application_id, smart_invite_id, recipient_email)
);
CREATE INDEX smart_invites_event_end ON smart_invites (event_end);
