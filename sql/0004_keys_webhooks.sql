-- The directory flows on: named, scoped API keys (many per organization) and webhooks
-- delivered from a durable outbox.

-- Keys: any number per organization, each with a name, a scope and an optional expiry. The
-- table is rebuilt to drop the one-key-per-organization UNIQUE constraint; an existing key
-- keeps working as `default` with scope `provision`.
CREATE TABLE api_keys_v4 (
    key_id       TEXT PRIMARY KEY NOT NULL,          -- public lookup id carried inside the token
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL CHECK (scope IN ('provision', 'read')),
    phc          TEXT NOT NULL,                      -- argon2id PHC string of the whole token
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,                      -- "cli", "admin", or "unknown" (migrated)
    expires_at   TEXT,                               -- NULL: never
    last_used_at TEXT                                -- coarse: written at most once a minute
) STRICT;

INSERT INTO api_keys_v4 (key_id, org_id, name, scope, phc, created_at, created_by)
    SELECT key_id, org_id, 'default', 'provision', phc, created_at, 'unknown' FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v4 RENAME TO api_keys;
CREATE INDEX api_keys_by_org ON api_keys (org_id, created_at);

-- Receivers of an organization's changes (Standard Webhooks). The signing secret must be
-- kept in clear to sign with: protect the database file like the secrets it holds.
CREATE TABLE webhook_endpoints (
    id                  TEXT PRIMARY KEY NOT NULL,   -- "ep_" + random, public
    org_id              TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url                 TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    event_types         TEXT,                        -- JSON array of types; NULL: all
    enabled             INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    disabled_reason     TEXT,                        -- why it was disabled automatically
    secret              TEXT NOT NULL,               -- "whsec_<base64>"
    previous_secret     TEXT,                        -- still signs until previous_until
    previous_until      TEXT,
    failing_since       TEXT,                        -- first failure of the current streak
    expired             INTEGER NOT NULL DEFAULT 0,  -- undelivered messages removed by retention
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL
) STRICT;

CREATE INDEX webhook_endpoints_by_org ON webhook_endpoints (org_id);

-- One message per change, written in the change's transaction; the body is final (what the
-- receiver gets on every attempt), `msg_id` is its `webhook-id`. A message is deleted once
-- every endpoint has it, so the table holds only what is undelivered: it has no index besides
-- its key (every index costs each SCIM write), and the rare lookups by `msg_id` or age
-- (a manual retry, hourly retention) read it whole.
CREATE TABLE webhook_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,    -- order of the changes
    msg_id     TEXT NOT NULL,                        -- "msg_" + 128 random bits
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    type       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    body       TEXT NOT NULL
) STRICT;

-- What each endpoint still has to receive: delivered rows are deleted, so this table holds
-- only the backlog ('pending', in message order) and messages given up on ('failed'). The
-- key's order is each endpoint's queue order; its head is the first 'pending' row.
CREATE TABLE webhook_deliveries (
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id      INTEGER NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    PRIMARY KEY (endpoint_id, message_id)
) WITHOUT ROWID, STRICT;

CREATE INDEX webhook_deliveries_by_message ON webhook_deliveries (message_id);

-- The log of attempts, newest kept per endpoint, for the page and `webhook deliveries`.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    msg_id      TEXT NOT NULL,
    type        TEXT NOT NULL,
    at          TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    outcome     TEXT NOT NULL,                       -- delivered, failed, gone
    status      INTEGER,                             -- HTTP status, when one came back
    duration_ms INTEGER NOT NULL,
    detail      TEXT                                 -- the error, or the response's first bytes
) STRICT;

CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, id);
