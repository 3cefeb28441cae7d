-- The LDAP view of each organization: its base DN, and POSIX ids for members and groups.

-- The root of the organization's LDAP tree (e.g. "dc=acme"), unique across the appliance so
-- that a bind or search names one organization. `ldap_base_key` is its normalised form
-- (lower case, no spaces around separators), which lookups and the uniqueness rule use.
-- Organizations get a default from their name when the store opens (see store/orgs.rs).
ALTER TABLE organizations ADD COLUMN ldap_base_dn TEXT;
ALTER TABLE organizations ADD COLUMN ldap_base_key TEXT;
CREATE UNIQUE INDEX organizations_by_ldap_base ON organizations (ldap_base_key)
    WHERE ldap_base_key IS NOT NULL;

-- uidNumber / gidNumber: one counter per organization, shared by members and groups, that
-- only grows, so a number is allocated once and never reused (not even after a deletion).
ALTER TABLE organizations ADD COLUMN next_posix_id INTEGER NOT NULL DEFAULT 10000;
ALTER TABLE users ADD COLUMN posix_id INTEGER;
ALTER TABLE groups ADD COLUMN posix_id INTEGER;

-- Existing members, then groups, numbered in creation order.
UPDATE users SET posix_id = numbered.n
FROM (SELECT id, 9999 + row_number() OVER (PARTITION BY org_id ORDER BY created_at, id) AS n
      FROM users) AS numbered
WHERE numbered.id = users.id;
UPDATE groups SET posix_id = numbered.n
FROM (SELECT g.id,
             9999 + (SELECT count(*) FROM users u WHERE u.org_id = g.org_id)
                  + row_number() OVER (PARTITION BY g.org_id ORDER BY g.created_at, g.id) AS n
      FROM groups g) AS numbered
WHERE numbered.id = groups.id;
UPDATE organizations SET next_posix_id = 10000
    + (SELECT count(*) FROM users u WHERE u.org_id = organizations.id)
    + (SELECT count(*) FROM groups g WHERE g.org_id = organizations.id);

CREATE UNIQUE INDEX users_by_posix_id ON users (org_id, posix_id) WHERE posix_id IS NOT NULL;
CREATE UNIQUE INDEX groups_by_posix_id ON groups (org_id, posix_id) WHERE posix_id IS NOT NULL;
