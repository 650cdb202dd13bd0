-- Pending end-user authorization requests: what an application asked for on /oauth/authorize,
-- kept while the user picks a calendar service. The page's forms carry only the random request
-- id, so nothing the browser sends back can change the client, redirect URI, scopes or state.
-- The id is stored as its SHA-256, like tokens. SQLite twin: ../sqlite/0003_authorize_requests.sql.

CREATE TABLE authorize_requests (
    id_hash         TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications (id),
    redirect_uri    TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    state           TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    -- Set by the one submission that completes the request; later submissions are refused.
    used_at         TIMESTAMPTZ
);
CREATE INDEX authorize_requests_expires_at ON authorize_requests (expires_at);
CREATE INDEX authorize_requests_application_id ON authorize_requests (application_id);
