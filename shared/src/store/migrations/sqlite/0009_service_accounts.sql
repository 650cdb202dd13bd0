-- Enterprise Connect: an organisation's service account, authorized once for one application,
-- through which that application authorizes the organisation's mailboxes. The row holds the
-- service account's sealed credentials (AAD bound to the service account's id), never a
-- mailbox user's; it belongs to the service account's own calsync account, so erasing that
-- account erases it. `provider` is a provider name (`exchange` now; `google` and `office365` need
-- no migration). PostgreSQL twin: ../postgres/0009_service_accounts.sql.
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
    wrapped_key      BLOB NOT NULL,
    ciphertext       BLOB NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
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

-- A service account's own authorization code names no profile. SQLite cannot drop a NOT NULL,
-- so the table is rebuilt with the same columns in the same order (nothing references it).
CREATE TABLE oauth_codes_rebuilt (
    code_hash       TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL REFERENCES applications (id),
    account_id      TEXT NOT NULL REFERENCES accounts (id),
    profile_id      TEXT REFERENCES profiles (id),
    redirect_uri    TEXT NOT NULL,
    scopes          TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    used_at         TEXT
);
INSERT INTO oauth_codes_rebuilt (code_hash, application_id, account_id, profile_id, redirect_uri, scopes, created_at,
                                 expires_at, used_at)
    SELECT code_hash, application_id, account_id, profile_id, redirect_uri, scopes, created_at, expires_at, used_at
    FROM oauth_codes;
DROP TABLE oauth_codes;
ALTER TABLE oauth_codes_rebuilt RENAME TO oauth_codes;
CREATE INDEX oauth_codes_expires_at ON oauth_codes (expires_at);
CREATE INDEX oauth_codes_account_id ON oauth_codes (account_id);
