-- Lifeboat catalog, schema version 7 (PostgreSQL): typed sources.
--
-- An item's source becomes the model's `Source` as JSON
-- (`{"workload":"path","path":"/srv/data"}`), so that a workload whose
-- source is more than one path needs no new column. `workload` and
-- `source` stay: the workload name for filters, the source's path for the
-- one-item-per-source lookup.

ALTER TABLE items ADD COLUMN source_spec JSONB NOT NULL DEFAULT '{}';
UPDATE items SET source_spec = CASE workload
    WHEN 'disk' THEN jsonb_build_object('workload', 'disk', 'image', source)
    ELSE jsonb_build_object('workload', workload, 'path', source)
END;
