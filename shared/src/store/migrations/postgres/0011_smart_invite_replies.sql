-- Smart Invite replies and their callbacks. A recipient's reply keeps its comment and, for a
-- counter-proposal (METHOD:COUNTER), the proposed start and end (`{"start":{time,tzid},"end":…}`).
-- SQLite twin: ../sqlite/0011_smart_invite_replies.sql.
ALTER TABLE smart_invites ADD COLUMN reply_comment TEXT;
ALTER TABLE smart_invites ADD COLUMN reply_proposal JSONB;

-- A notification goes either to a channel (about an account) or, for a Smart Invite reply, to the
-- invite's callback URL: then it has no channel and no account, carries its destination and the
-- body as it was when the reply arrived (so each reply is reported as it was), and belongs to the
-- recipient's invite row, whose retention purge takes it along.
ALTER TABLE notifications ALTER COLUMN channel_id DROP NOT NULL;
ALTER TABLE notifications ALTER COLUMN account_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN smart_invite_token TEXT REFERENCES smart_invites (reply_token);
ALTER TABLE notifications ADD COLUMN callback_url TEXT;
ALTER TABLE notifications ADD COLUMN body TEXT;
ALTER TABLE notifications ADD CONSTRAINT notifications_one_destination CHECK (
    (channel_id IS NOT NULL AND account_id IS NOT NULL AND smart_invite_token IS NULL)
    OR (channel_id IS NULL AND account_id IS NULL AND smart_invite_token IS NOT NULL
        AND callback_url IS NOT NULL AND body IS NOT NULL)
);
CREATE INDEX notifications_smart_invite_token ON notifications (smart_invite_token) WHERE smart_invite_token IS NOT NULL;
