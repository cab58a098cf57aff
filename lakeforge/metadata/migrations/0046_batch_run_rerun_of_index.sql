-- Reruns are found by the batch they rerun: the Raw zone asks whether batch N or one of its
-- reruns already landed a source (`b.batch_id = N OR b.rerun_of = N`), and deleting a batch sets
-- `rerun_of` to NULL on its reruns (the foreign key). Without an index both read the whole run
-- log, which grows by every batch. Most batches are no rerun, so only reruns are indexed.
SET search_path TO lakeforge_log, public;

CREATE INDEX IF NOT EXISTS batch_run_rerun_of_idx ON batch_run (rerun_of) WHERE rerun_of IS NOT NULL;
