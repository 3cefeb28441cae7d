-- The directory: users (members) and groups, per organization.
--
-- Each resource keeps its attributes as one canonical JSON document in `attrs` (attribute
-- names spelled as in the schema, extension attributes under their schema URN; no id, meta,
-- schemas, password or computed groups). The other columns are derived from `attrs` on every
-- write and exist for uniqueness constraints and indexed lookups of the equality filters that
-- identity providers send. `*_key` columns hold the Unicode-lower-cased value for attributes
-- that compare case-insensitively.

ALTER TABLE organizations ADD COLUMN seat_limit INTEGER CHECK (seat_limit IS NULL OR seat_limit >= 0);

CREATE TABLE users (
    id               TEXT PRIMARY KEY NOT NULL,     -- UUID v4
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_name        TEXT NOT NULL,
    user_name_key    TEXT NOT NULL,
    external_id      TEXT,                          -- caseExact
    email_key        TEXT,                          -- member email: primary, work, first, or userName if an email
    display_name     TEXT,
    display_name_key TEXT,
    active           INTEGER NOT NULL CHECK (active IN (0, 1)),
    attrs            TEXT NOT NULL,
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_by_user_name ON users (org_id, user_name_key);
CREATE UNIQUE INDEX users_by_external_id ON users (org_id, external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX users_by_email ON users (org_id, email_key) WHERE email_key IS NOT NULL;
CREATE INDEX users_by_display_name ON users (org_id, display_name_key);
CREATE INDEX users_by_org_active ON users (org_id, active);

-- Every email value of every user, for indexed `emails.value eq` / `emails[type eq …]` filters.
-- (No primary key: in a STRICT table its columns could not hold the NULL of an untyped email.)
CREATE TABLE user_emails (
    value_key TEXT NOT NULL,                        -- lower-cased email value
    user_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    type_key  TEXT                                  -- lower-cased type, if any
) STRICT;

CREATE INDEX user_emails_by_value ON user_emails (value_key, user_id);
CREATE INDEX user_emails_by_user ON user_emails (user_id);

CREATE TABLE groups (
    id               TEXT PRIMARY KEY NOT NULL,
    org_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_name     TEXT NOT NULL,
    display_name_key TEXT NOT NULL,
    external_id      TEXT,
    attrs            TEXT NOT NULL,                 -- canonical JSON without members
    version          INTEGER NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;

CREATE INDEX groups_by_display_name ON groups (org_id, display_name_key);
CREATE UNIQUE INDEX groups_by_external_id ON groups (org_id, external_id) WHERE external_id IS NOT NULL;

-- Membership as a join table: adding or removing one member never rewrites the whole list.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display  TEXT,                                  -- the member's `display` as last sent, if any
    PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID, STRICT;

CREATE INDEX group_members_by_user ON group_members (user_id, group_id);
