-- Lifeboat catalog, schema version 4 (PostgreSQL): soft delete and alerts.
-- A soft-deleted vault, item or recovery point keeps its row (and its data
-- in the store) with the time it was deleted and the time the sweep purges
-- it; NULL means not deleted.

ALTER TABLE vaults ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE vaults ADD COLUMN purge_at TIMESTAMPTZ;
ALTER TABLE items ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE items ADD COLUMN purge_at TIMESTAMPTZ;
ALTER TABLE points ADD COLUMN deleted_at TIMESTAMPTZ;
ALTER TABLE points ADD COLUMN purge_at TIMESTAMPTZ;
CREATE INDEX items_purge ON items (purge_at) WHERE purge_at IS NOT NULL;
CREATE INDEX points_purge ON points (purge_at) WHERE purge_at IS NOT NULL;

-- Security events of a vault (Azure's built-in security alerts): delete
-- backup data, upcoming purge, purge complete, soft delete disabled. An
-- alert names its item by name (the item row may be purged since).
-- dedup_key makes an alert that a sweep may raise repeatedly (upcoming
-- purge) one row.
CREATE TABLE alerts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    vault_id    BIGINT NOT NULL REFERENCES vaults (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    item_name   TEXT,
    time        TIMESTAMPTZ NOT NULL,
    message     TEXT NOT NULL,
    dedup_key   TEXT UNIQUE
);
CREATE INDEX alerts_vault_time ON alerts (vault_id, time, id);
