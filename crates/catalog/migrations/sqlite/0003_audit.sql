-- Lifeboat catalog, schema version 3 (SQLite): the audit log.
--
-- Append-only and hash-chained (crates/catalog/src/audit.rs): each row's
-- `hash` is a keyed BLAKE3 MAC over its fields and `prev_hash`, the hash
-- of the row before it. `seq` is given by the appender, head.seq + 1, in
-- the transaction that moves the head, so it has no gaps. The head row
-- keeps the newest seq and hash under a MAC of its own, so deleting the
-- newest rows is detected too.

CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    time          TEXT NOT NULL,
    principal     TEXT NOT NULL,      -- token name, or 'anonymous'
    principal_id  INTEGER,            -- token id; NULL for anonymous
    source        TEXT NOT NULL,      -- the peer address
    operation     TEXT NOT NULL,      -- OpenAPI operationId, or 'METHOD (unknown route)'
    target        TEXT NOT NULL,      -- the request path
    phase         TEXT NOT NULL,      -- 'attempt' | 'result'
    status        INTEGER,            -- HTTP status; NULL for an attempt
    error_code    TEXT,               -- the answer's error code, if any
    request_id    TEXT NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log (time, seq);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL,
    mac   TEXT NOT NULL               -- '' while the log is empty
);
INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, 0, '', '');
