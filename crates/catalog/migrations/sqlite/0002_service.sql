-- Lifeboat catalog, schema version 2 (SQLite): what the service needs.

-- How a point came to be and the retention behind its `expiry` (which is the
-- expiry in force: NULL while a hold keeps the point).
ALTER TABLE points ADD COLUMN slot_key TEXT;        -- scheduled: the slot's local key
ALTER TABLE points ADD COLUMN retain_until TEXT;    -- on-demand: the user's retain-until
ALTER TABLE points ADD COLUMN rule_name TEXT;       -- the rule that decides the expiry
ALTER TABLE points ADD COLUMN rule_expiry TEXT;     -- the expiry the rules give
ALTER TABLE points ADD COLUMN hold TEXT;            -- retain-data | latest-point
CREATE INDEX points_item_slot ON points (item_id, slot_key) WHERE slot_key IS NOT NULL;

-- Vault-wide periodic jobs (sweeps, GC) have no item: the (item_id,
-- slot_key) constraint does not see them (NULLs are distinct), so they get
-- their own, and several servers enqueue one sweep per vault and slot.
CREATE UNIQUE INDEX jobs_vault_slot ON jobs (vault_id, job_type, slot_key)
    WHERE item_id IS NULL AND slot_key IS NOT NULL
      AND job_type IN ('ExpirySweep', 'GarbageCollection');
CREATE INDEX jobs_owner ON jobs (owner) WHERE owner IS NOT NULL;
