-- What to do about a failed file, as data (a setting and its value), beside its message.
ALTER TABLE run_files ADD COLUMN hint TEXT;
