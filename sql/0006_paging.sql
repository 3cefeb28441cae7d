-- Keyed paging of an organization's members and groups (store/lists.rs) asks for rows of one
-- organization after a rowid, in rowid order. An index on the organization alone holds
-- exactly that order (its entries end with the rowid), so a page is a seek and 100 steps; the
-- other indexes starting with `org_id` put a column in between, and SQLite sorted the whole
-- organization for every page.
CREATE INDEX users_by_org ON users (org_id);
CREATE INDEX groups_by_org ON groups (org_id);
