-- A job's schedule is read in its timezone; a paused job is not started by the scheduler;
-- alerts holds its notification targets and thresholds (JSON).
ALTER TABLE jobs ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE jobs ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN alerts TEXT NOT NULL DEFAULT '{}';

-- A run waits `queued` while another run of its job holds the lease; at most one waits.
ALTER TABLE runs ADD COLUMN queued_at TEXT;
CREATE UNIQUE INDEX one_queued_run_per_job ON runs (job_id) WHERE status = 'queued';

-- What a run did, line by line, for `sluice runs show` and the UI.
CREATE TABLE run_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX run_log_run ON run_log (run_id, id);

-- Alerts are sent once per incident: an incident opens when its condition starts (and the
-- alert goes out) and closes when it ends; while it is open, nothing more is sent.
CREATE TABLE alert_incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    key TEXT NOT NULL DEFAULT '',
    summary TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_at TEXT,
    notified_at TEXT,
    notify_error TEXT
);
CREATE UNIQUE INDEX one_open_incident ON alert_incidents (job_id, kind, key) WHERE closed_at IS NULL;
