-- Rows a file sent to its table's quarantine table (<table>_rejected) instead of loading.
ALTER TABLE run_files ADD COLUMN rows_rejected BIGINT NOT NULL DEFAULT 0;
