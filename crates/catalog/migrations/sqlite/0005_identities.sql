-- Lifeboat catalog, schema version 5 (SQLite): identities, role
-- assignments, token expiry and revocation.
--
-- Tokens made before this version have no identity: they keep working with
-- the role in their own `role` column (`Administrator` = Owner at server
-- scope) and never expire. Tokens made from now on belong to an identity,
-- whose role assignments decide what they may do.

CREATE TABLE identities (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    name      TEXT NOT NULL UNIQUE,
    kind      TEXT NOT NULL,
    created   TEXT NOT NULL,
    disabled  TEXT
);

-- vault_id NULL: the whole server.
CREATE TABLE role_assignments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    identity_id  INTEGER NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    vault_id     INTEGER REFERENCES vaults (id) ON DELETE CASCADE,
    created      TEXT NOT NULL
);
CREATE UNIQUE INDEX role_assignments_server ON role_assignments (identity_id, role)
    WHERE vault_id IS NULL;
CREATE UNIQUE INDEX role_assignments_vault ON role_assignments (identity_id, role, vault_id)
    WHERE vault_id IS NOT NULL;
CREATE INDEX role_assignments_vault_id ON role_assignments (vault_id);

ALTER TABLE tokens ADD COLUMN identity_id INTEGER REFERENCES identities (id) ON DELETE CASCADE;
ALTER TABLE tokens ADD COLUMN expires TEXT;
ALTER TABLE tokens ADD COLUMN revoked TEXT;
CREATE INDEX tokens_identity ON tokens (identity_id);
