-- Foundation: organizations, their SCIM API keys, the event log and appliance settings.
-- Timestamps are UTC RFC 3339 strings of fixed width ("2026-11-23T07:22:18.123Z") so that
-- text order is time order and indexes on them serve range queries.

CREATE TABLE organizations (
    id           TEXT PRIMARY KEY NOT NULL,          -- UUID v4, lower-case, hyphenated
    name         TEXT NOT NULL,
    scim_enabled INTEGER NOT NULL DEFAULT 1 CHECK (scim_enabled IN (0, 1)),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
) STRICT;

CREATE INDEX organizations_by_name ON organizations (name);

-- One current key per organization: rotation replaces the row, so a rotated key's
-- lookup id no longer exists and the old key fails on its first indexed read.
CREATE TABLE api_keys (
    key_id     TEXT PRIMARY KEY NOT NULL,            -- public lookup id carried inside the token
    org_id     TEXT NOT NULL UNIQUE REFERENCES organizations (id) ON DELETE CASCADE,
    phc        TEXT NOT NULL,                        -- argon2id PHC string of the whole token
    created_at TEXT NOT NULL
) STRICT;

CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    type       TEXT NOT NULL,                        -- Bitwarden event names, e.g. OrganizationUser_Invited
    actor      TEXT NOT NULL,                        -- "SCIM", "cli" or "admin"
    key_id     TEXT,                                 -- the API key used, for SCIM changes
    member_id  TEXT,
    group_id   TEXT,
    summary    TEXT NOT NULL
) STRICT;

CREATE INDEX events_by_org ON events (org_id, id);

-- Small key/value store for appliance-wide settings (e.g. the public URL `serve` last ran with,
-- so that CLI commands print SCIM URLs that match the running server).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
