-- The admin page: signed-in sessions, and indexes for the page's event-log views and for
-- event retention.

-- One row per signed-in browser. Only the SHA-256 of the session cookie is stored, so a copy
-- of the database does not let anyone sign in. `csrf_token` is sent back by the page in the
-- X-CSRF-Token header of every state-changing request.
CREATE TABLE admin_sessions (
    token_hash   BLOB PRIMARY KEY NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
) STRICT;

-- Event log filtered by type or by member, newest first.
CREATE INDEX events_by_org_type ON events (org_id, type, id);
CREATE INDEX events_by_org_member ON events (org_id, member_id, id) WHERE member_id IS NOT NULL;
-- Provisioning activity: the newest SCIM change and changes per day.
CREATE INDEX events_by_org_actor_at ON events (org_id, actor, at);
-- Retention: pruning events older than N days reads only what it deletes.
CREATE INDEX events_by_at ON events (at);
