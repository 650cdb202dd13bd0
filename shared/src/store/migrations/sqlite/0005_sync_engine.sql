-- Partner events are pushed to their provider by PushEvent jobs. `pushed_hash` is the content
-- hash of the version last written to the provider (or `deleted`), so a duplicate job finds
-- nothing left to push and makes no request.
ALTER TABLE events ADD COLUMN pushed_hash TEXT;

-- Where a profile's calendars were last found (CalDAV's calendar home set), so the periodic
-- calendar list costs one request instead of repeating discovery each time.
ALTER TABLE profiles ADD COLUMN calendar_home TEXT;
