-- Lifeboat catalog, schema version 1 (PostgreSQL).

CREATE TABLE vaults (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    redundancy  TEXT NOT NULL,
    settings    JSONB NOT NULL DEFAULT '{}',
    created     TIMESTAMPTZ NOT NULL
);

CREATE TABLE policies (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault_id    BIGINT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    document    JSONB NOT NULL,
    created     TIMESTAMPTZ NOT NULL,
    updated     TIMESTAMPTZ NOT NULL,
    UNIQUE (vault_id, name)
);

CREATE TABLE items (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault_id            BIGINT NOT NULL REFERENCES vaults (id),
    name                TEXT NOT NULL,
    workload            TEXT NOT NULL,
    source              TEXT NOT NULL,
    policy_name         TEXT,
    state               TEXT NOT NULL,
    last_backup_time    TIMESTAMPTZ,
    last_backup_status  TEXT,
    next_run            TIMESTAMPTZ,
    health              TEXT NOT NULL,
    settings            JSONB NOT NULL DEFAULT '{}',
    created             TIMESTAMPTZ NOT NULL,
    UNIQUE (vault_id, name),
    FOREIGN KEY (vault_id, policy_name) REFERENCES policies (vault_id, name)
);
CREATE INDEX items_policy ON items (vault_id, policy_name);
CREATE INDEX items_next_run ON items (next_run) WHERE next_run IS NOT NULL;

CREATE TABLE points (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault_id     BIGINT NOT NULL REFERENCES vaults (id),
    item_id      BIGINT NOT NULL REFERENCES items (id),
    store_id     TEXT NOT NULL,
    time         TIMESTAMPTZ NOT NULL,
    consistency  TEXT NOT NULL,
    tier         TEXT NOT NULL,
    size         BIGINT NOT NULL,
    added_bytes  BIGINT NOT NULL,
    rule_tags    JSONB NOT NULL DEFAULT '[]',
    expiry       TIMESTAMPTZ,
    UNIQUE (vault_id, store_id)
);
CREATE INDEX points_item_time ON points (item_id, time, id);
CREATE INDEX points_expiry ON points (expiry) WHERE expiry IS NOT NULL;

CREATE TABLE jobs (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault_id          BIGINT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    item_id           BIGINT REFERENCES items (id) ON DELETE SET NULL,
    job_type          TEXT NOT NULL,
    state             TEXT NOT NULL,
    slot_key          TEXT,
    owner             TEXT,
    lease_until       TIMESTAMPTZ,
    attempt           INTEGER NOT NULL DEFAULT 0,
    cancel_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    queued_at         TIMESTAMPTZ NOT NULL,
    start_time        TIMESTAMPTZ,
    end_time          TIMESTAMPTZ,
    progress          JSONB NOT NULL DEFAULT '{}',
    tasks             JSONB NOT NULL DEFAULT '[]',
    warnings          JSONB NOT NULL DEFAULT '[]',
    errors            JSONB NOT NULL DEFAULT '[]',
    params            JSONB NOT NULL DEFAULT '{}',
    UNIQUE (item_id, slot_key)
);
CREATE INDEX jobs_state_time ON jobs (state, queued_at, id);
CREATE INDEX jobs_time ON jobs (queued_at, id);
CREATE INDEX jobs_item_time ON jobs (item_id, queued_at, id);
CREATE INDEX jobs_vault_time ON jobs (vault_id, queued_at, id);
CREATE INDEX jobs_lease ON jobs (lease_until) WHERE lease_until IS NOT NULL;

CREATE TABLE tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    role       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created    TIMESTAMPTZ NOT NULL,
    last_used  TIMESTAMPTZ
);
