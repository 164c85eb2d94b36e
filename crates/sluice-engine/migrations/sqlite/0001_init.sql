-- A connection's config is JSON tagged by provider; its credential fields are sealed
-- (AES-256-GCM) before they are stored.
CREATE TABLE connections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    connection_id INTEGER NOT NULL REFERENCES connections (id),
    file_path_prefix TEXT NOT NULL DEFAULT '',
    file_pattern TEXT NOT NULL,
    file_format TEXT NOT NULL,
    file_format_options TEXT NOT NULL,
    load_latest_only INTEGER NOT NULL,
    schema TEXT NOT NULL,
    schema_fingerprint TEXT NOT NULL,
    destination TEXT NOT NULL,
    table_name TEXT NOT NULL,
    load_type TEXT NOT NULL,
    schedule TEXT NOT NULL,
    max_file_size INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    files_seen INTEGER NOT NULL DEFAULT 0,
    files_already_loaded INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX runs_job ON runs (job_id, id);

-- What happened to each file a run took up.
CREATE TABLE run_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    file_path TEXT NOT NULL,
    file_version TEXT NOT NULL,
    file_size_bytes INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    message TEXT,
    rows_loaded INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX run_files_run ON run_files (run_id);

-- The ledger: a file version is claimed (loading) before its load and marked loaded after.
CREATE TABLE processed_files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    file_path TEXT NOT NULL,
    file_version TEXT NOT NULL,
    file_size_bytes INTEGER NOT NULL,
    file_last_modified TEXT NOT NULL,
    etag TEXT,
    status TEXT NOT NULL,
    load_id TEXT NOT NULL,
    processed_at TEXT NOT NULL,
    rows_loaded INTEGER NOT NULL DEFAULT 0,
    run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    UNIQUE (job_id, file_path, file_version)
);
