-- Fairness to self-hosted calendar servers (Exchange, CalDAV): at most N jobs talk to one
-- server at a time, each holding one numbered slot (the primary key makes taking a slot atomic;
-- a slot whose holder died is taken over once it expires), and the requests sent to a server
-- are counted per minute against a budget. SQLite twin: ../sqlite/0008_server_budgets.sql.
CREATE TABLE server_slots (
    server      TEXT NOT NULL,
    slot        BIGINT NOT NULL,
    holder      TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (server, slot)
);
CREATE TABLE server_request_windows (
    server        TEXT NOT NULL,
    window_start  TIMESTAMPTZ NOT NULL,
    count         BIGINT NOT NULL,
    PRIMARY KEY (server, window_start)
);
