-- A run's files, offered to every process on the catalog (`sluice worker`, `sluice serve`):
-- each is claimed by one worker at a time (SELECT … FOR UPDATE SKIP LOCKED), renewed by
-- its heartbeat; a file whose worker died is freed (orphaned) for another to settle.
CREATE TABLE run_tasks (
    run_id BIGINT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    job_id BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    file TEXT NOT NULL,
    content TEXT,
    reload BOOLEAN NOT NULL,
    fail BOOLEAN NOT NULL,
    generation INTEGER NOT NULL,
    worker TEXT,
    heartbeat_at TIMESTAMPTZ,
    orphaned BOOLEAN NOT NULL DEFAULT FALSE,
    done BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX run_tasks_open ON run_tasks (run_id, position) WHERE done = FALSE;
-- Which process loaded a file of a shared run.
ALTER TABLE run_files ADD COLUMN worker TEXT;
