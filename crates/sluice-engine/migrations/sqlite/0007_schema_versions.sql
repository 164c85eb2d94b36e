-- Every version of a job's schema: accepted (the job's schema now or before) or proposed
-- (a refused file's columns, waiting for a person), with the difference of the file that
-- caused it, the change it made to the table, and when and how it was accepted.
CREATE TABLE schema_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    schema TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    diff TEXT,
    change TEXT NOT NULL DEFAULT '{}',
    file_path TEXT,
    file_fingerprint TEXT,
    how TEXT NOT NULL,
    created_at TEXT NOT NULL,
    accepted_at TEXT,
    UNIQUE (job_id, version)
);
-- Jobs created before versions were kept: their schema is their first version.
INSERT INTO schema_versions (job_id, version, status, schema, fingerprint, how, created_at, accepted_at)
SELECT id, 1, 'accepted', schema, schema_fingerprint, 'created', created_at, created_at FROM jobs;
