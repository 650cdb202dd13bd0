-- Partner events are pushed to their provider by PushEvent jobs. `pushed_hash` is the content
-- hash of the version last written to the provider (or of the deletion), so a duplicate job
-- finds nothing left to push and makes no request.
ALTER TABLE events ADD COLUMN pushed_hash TEXT;
