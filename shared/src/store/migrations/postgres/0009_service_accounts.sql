-- Enterprise Connect: an organisation's service account, authorized once for one application,
-- through which that application authorizes the organisation's mailboxes. The row holds the
-- service account's sealed credentials (AAD bound to the service account's id), never a
-- mailbox user's; it belongs to the service account's own calsync account, so erasing that
-- account erases it. `provider` is a provider name (`exchange` now; `google` and `office365` need
-- no migration). SQLite twin: ../sqlite/0009_service_accounts.sql.
CREATE TABLE service_accounts (
    id               TEXT PRIMARY KEY,
    application_id   TEXT NOT NULL REFERENCES applications (id),
    account_id       TEXT NOT NULL UNIQUE REFERENCES accounts (id),
    provider         TEXT NOT NULL,
    -- Lower case, so one organisation's account is one row per application.
    email            TEXT NOT NULL,
    server_url       TEXT,
    delegated_scope  TEXT NOT NULL,
    credential_kind  TEXT NOT NULL,
    key_id           TEXT NOT NULL,
    wrapped_key      BYTEA NOT NULL,
    ciphertext       BYTEA NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL,
    UNIQUE (application_id, provider, email)
);

-- A mailbox profile reached through a service account has no credentials row of its own. No
-- foreign key: erasing the service account's account must not wait for other accounts'
-- profiles; a profile whose service account is gone is disconnected at its next sync. One
-- profile per service account and (lower-case) mailbox address.
ALTER TABLE profiles ADD COLUMN service_account_id TEXT;
CREATE UNIQUE INDEX profiles_service_account_mailbox ON profiles (service_account_id, email)
    WHERE service_account_id IS NOT NULL;

-- An Enterprise Connect request keeps the delegated scope while the page is open.
ALTER TABLE authorize_requests ADD COLUMN delegated_scope TEXT;

-- A service account's own authorization code names no profile.
ALTER TABLE oauth_codes ALTER COLUMN profile_id DROP NOT NULL;
