-- Lifeboat catalog, schema version 6 (SQLite): multi-user authorization.
--
-- A resource guard belongs to an owner identity; its holders are the
-- owner and the members the holders add. A vault has at most one guard.
-- Critical operations on a guarded vault need an approved, unexpired
-- request of the caller (mua_requests), used once: the use is a
-- compare-and-set on `state`.

CREATE TABLE resource_guards (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL UNIQUE,
    owner_id      INTEGER NOT NULL REFERENCES identities (id),
    description   TEXT NOT NULL DEFAULT '',
    -- Comma-separated operation names (`disable-soft-delete`, …).
    critical_ops  TEXT NOT NULL,
    created       TEXT NOT NULL
);

CREATE TABLE resource_guard_members (
    guard_id     INTEGER NOT NULL REFERENCES resource_guards (id) ON DELETE CASCADE,
    identity_id  INTEGER NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    added        TEXT NOT NULL,
    PRIMARY KEY (guard_id, identity_id)
);

-- No cascade from the guard: a guard in use cannot be deleted.
CREATE TABLE vault_resource_guards (
    vault_id  INTEGER PRIMARY KEY REFERENCES vaults (id) ON DELETE CASCADE,
    guard_id  INTEGER NOT NULL REFERENCES resource_guards (id),
    attached  TEXT NOT NULL
);
CREATE INDEX vault_resource_guards_guard ON vault_resource_guards (guard_id);

-- state: Pending | Approved | Used | Rejected | Expired. expires_at: when a
-- pending request lapses, then (once approved) when the approval does.
CREATE TABLE mua_requests (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guard_id      INTEGER NOT NULL REFERENCES resource_guards (id) ON DELETE CASCADE,
    vault_id      INTEGER NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    operation     TEXT NOT NULL,
    target        TEXT NOT NULL DEFAULT '',
    requester_id  INTEGER NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    state         TEXT NOT NULL,
    requested     TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    decided_by    INTEGER REFERENCES identities (id) ON DELETE SET NULL,
    decided       TEXT,
    used          TEXT
);
CREATE INDEX mua_requests_guard ON mua_requests (guard_id, state);
CREATE INDEX mua_requests_use ON mua_requests (vault_id, requester_id, operation, target, state);
