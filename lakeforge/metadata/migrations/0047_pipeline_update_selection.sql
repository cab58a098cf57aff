-- A pipeline update may refresh only some tables: start update's `full_refresh_selection` and
-- `refresh_selection`, or a job run's `pipeline_params` for its pipeline task (a rerun through the
-- job fully refreshes the rerun sources' Silver tables). The update keeps both lists, and GET
-- update returns them, as Databricks does. Empty lists: a full graph update.
SET search_path TO lakeforge_workspace, public;

ALTER TABLE pipeline_update ADD COLUMN full_refresh_selection text[] NOT NULL DEFAULT '{}';
ALTER TABLE pipeline_update ADD COLUMN refresh_selection text[] NOT NULL DEFAULT '{}';
