-- Event and free/busy pages walk an account's events in (start_at, uid) order from a keyset
-- cursor; this index serves that order directly, so a page costs its own rows, not the account's.
CREATE INDEX events_account_start_uid ON events (account_id, start_at, uid);
