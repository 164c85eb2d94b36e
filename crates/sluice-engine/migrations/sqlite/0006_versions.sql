-- A file version's content identity (the store's MD5, or one computed while reading), the
-- loaded file of the same content it was found to repeat, and how many times a person
-- forgot it (its next load gets a new load id).
ALTER TABLE processed_files ADD COLUMN content TEXT;
ALTER TABLE processed_files ADD COLUMN same_as TEXT;
ALTER TABLE processed_files ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
CREATE INDEX processed_files_content ON processed_files (job_id, content);
-- A job's file policies as JSON: changed files, settle time, ready marker, lineage. Jobs
-- stored before them read '{}': append changed files as new rows, no lineage.
ALTER TABLE jobs ADD COLUMN policies TEXT NOT NULL DEFAULT '{}';
-- Every change made to a job after it was created: when, and each field's old and new value.
CREATE TABLE job_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    changed_at TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX job_changes_job ON job_changes (job_id, id);
