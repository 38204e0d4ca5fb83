-- Lifeboat catalog, schema version 1 (SQLite).
-- Times are fixed-width RFC 3339 UTC text ('2026-01-02T03:04:05.123456+00:00'),
-- so text order is time order. JSON columns hold JSON text.

CREATE TABLE vaults (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    redundancy  TEXT NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    created     TEXT NOT NULL
);

CREATE TABLE policies (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id    INTEGER NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    document    TEXT NOT NULL,
    created     TEXT NOT NULL,
    updated     TEXT NOT NULL,
    UNIQUE (vault_id, name)
);

CREATE TABLE items (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id            INTEGER NOT NULL REFERENCES vaults (id),
    name                TEXT NOT NULL,
    workload            TEXT NOT NULL,
    source              TEXT NOT NULL,
    policy_name         TEXT,
    state               TEXT NOT NULL,
    last_backup_time    TEXT,
    last_backup_status  TEXT,
    next_run            TEXT,
    health              TEXT NOT NULL,
    settings            TEXT NOT NULL DEFAULT '{}',
    created             TEXT NOT NULL,
    UNIQUE (vault_id, name),
    FOREIGN KEY (vault_id, policy_name) REFERENCES policies (vault_id, name)
);
CREATE INDEX items_policy ON items (vault_id, policy_name);
CREATE INDEX items_next_run ON items (next_run) WHERE next_run IS NOT NULL;

CREATE TABLE points (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id     INTEGER NOT NULL REFERENCES vaults (id),
    item_id      INTEGER NOT NULL REFERENCES items (id),
    store_id     TEXT NOT NULL,
    time         TEXT NOT NULL,
    consistency  TEXT NOT NULL,
    tier         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    added_bytes  INTEGER NOT NULL,
    rule_tags    TEXT NOT NULL DEFAULT '[]',
    expiry       TEXT,
    UNIQUE (vault_id, store_id)
);
CREATE INDEX points_item_time ON points (item_id, time, id);
CREATE INDEX points_expiry ON points (expiry) WHERE expiry IS NOT NULL;

CREATE TABLE jobs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    vault_id          INTEGER NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    item_id           INTEGER REFERENCES items (id) ON DELETE SET NULL,
    job_type          TEXT NOT NULL,
    state             TEXT NOT NULL,
    slot_key          TEXT,
    owner             TEXT,
    lease_until       TEXT,
    attempt           INTEGER NOT NULL DEFAULT 0,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    queued_at         TEXT NOT NULL,
    start_time        TEXT,
    end_time          TEXT,
    progress          TEXT NOT NULL DEFAULT '{}',
    tasks             TEXT NOT NULL DEFAULT '[]',
    warnings          TEXT NOT NULL DEFAULT '[]',
    errors            TEXT NOT NULL DEFAULT '[]',
    params            TEXT NOT NULL DEFAULT '{}',
    UNIQUE (item_id, slot_key)
);
CREATE INDEX jobs_state_time ON jobs (state, queued_at, id);
CREATE INDEX jobs_time ON jobs (queued_at, id);
CREATE INDEX jobs_item_time ON jobs (item_id, queued_at, id);
CREATE INDEX jobs_vault_time ON jobs (vault_id, queued_at, id);
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE lease_until IS NOT NULL;

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created    TEXT NOT NULL,
    last_used  TEXT
);
