-- A file version that failed stays in the ledger as `failed`, with how many runs in a row
-- failed it the same way and how; after the job's `park_after_failures` it is `parked`
-- and no longer taken.
ALTER TABLE processed_files ADD COLUMN failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE processed_files ADD COLUMN last_error TEXT;
ALTER TABLE jobs ADD COLUMN park_after_failures BIGINT NOT NULL DEFAULT 3;
