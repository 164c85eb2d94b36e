-- A job runs at most once at a time: a run holds a lease (its runner and a heartbeat);
-- a second run of the job cannot be inserted while one is `running`.
ALTER TABLE runs ADD COLUMN runner TEXT;
ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;
-- For runs the scheduler started: the time it started them for.
ALTER TABLE runs ADD COLUMN scheduled_for TEXT;
UPDATE runs SET status = 'failed', error = 'interrupted: the process running it stopped'
    WHERE status = 'running';
CREATE UNIQUE INDEX one_running_run_per_job ON runs (job_id) WHERE status = 'running';
