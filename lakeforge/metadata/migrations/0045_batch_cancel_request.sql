-- A cancel of a batch is a request the process running it honours between tables and zones, so
-- it is stored where every runner (API thread, local workspace notebook, Databricks task) reads
-- the run log. ``cancelled_by`` names who asked; a batch that ends cancelled keeps both.
SET search_path TO lakeforge_log, public;

ALTER TABLE batch_run ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE batch_run ADD COLUMN cancelled_by text;
