-- The local workspace's own state: jobs, runs, pipelines, updates and workspace files, kept apart
-- from LakeForge's metadata so the stand-in for Databricks never mixes with what it stands in for.
CREATE SCHEMA IF NOT EXISTS lakeforge_workspace;
SET search_path TO lakeforge_workspace, public;

-- Ids look like Databricks ids (large integers), which catches code that assumes small ones.
CREATE SEQUENCE job_id_seq START WITH 100000000001;
CREATE SEQUENCE run_id_seq START WITH 500000000001;

CREATE TABLE job (
    job_id            bigint      PRIMARY KEY DEFAULT nextval('job_id_seq'),
    creator_user_name text        NOT NULL,
    -- The job's settings exactly as Databricks reports them (defaults filled in).
    settings          jsonb       NOT NULL,
    created_time      bigint      NOT NULL,
    last_run_number   integer     NOT NULL DEFAULT 0
);
CREATE INDEX job_name_idx ON job (lower(settings->>'name'));

CREATE TABLE job_run (
    run_id               bigint      PRIMARY KEY DEFAULT nextval('run_id_seq'),
    job_id               bigint      NOT NULL,
    number_in_job        integer     NOT NULL,
    run_name             text        NOT NULL,
    trigger              text        NOT NULL,
    run_type             text        NOT NULL DEFAULT 'JOB_RUN',
    -- The job settings the run uses (a snapshot: editing the job later does not change the run).
    settings             jsonb       NOT NULL,
    job_parameters       jsonb       NOT NULL DEFAULT '{}',
    overriding_parameters jsonb,
    life_cycle_state     text        NOT NULL,
    result_state         text,
    state_message        text        NOT NULL DEFAULT '',
    termination_code     text,
    user_cancelled_or_timedout boolean NOT NULL DEFAULT false,
    cancel_requested     boolean     NOT NULL DEFAULT false,
    repair_history       jsonb       NOT NULL DEFAULT '[]',
    queued_time          bigint,
    start_time           bigint      NOT NULL,
    end_time             bigint      NOT NULL DEFAULT 0,
    creator_user_name    text        NOT NULL,
    -- run-now's idempotency_token: a retried request returns the run it already started.
    idempotency_token    text        UNIQUE
);
CREATE INDEX job_run_job_idx ON job_run (job_id, run_id DESC);
CREATE INDEX job_run_active_idx ON job_run (life_cycle_state) WHERE end_time = 0;

-- One row per task attempt; the latest attempt of a task is the one runs/get shows.
CREATE TABLE task_run (
    run_id             bigint      PRIMARY KEY DEFAULT nextval('run_id_seq'),
    job_run_id         bigint      NOT NULL REFERENCES job_run (run_id) ON DELETE CASCADE,
    task_key           text        NOT NULL,
    attempt_number     integer     NOT NULL DEFAULT 0,
    repair_id          bigint,
    task               jsonb       NOT NULL,
    life_cycle_state   text        NOT NULL,
    result_state       text,
    state_message      text        NOT NULL DEFAULT '',
    termination_code   text,
    start_time         bigint      NOT NULL DEFAULT 0,
    end_time           bigint      NOT NULL DEFAULT 0,
    output             text
);
CREATE INDEX task_run_job_run_idx ON task_run (job_run_id, task_key, attempt_number);

CREATE TABLE pipeline (
    pipeline_id        text        PRIMARY KEY,
    name               text        NOT NULL,
    spec               jsonb       NOT NULL,
    state              text        NOT NULL DEFAULT 'IDLE',
    creator_user_name  text        NOT NULL,
    created_time       bigint      NOT NULL,
    last_modified      bigint      NOT NULL
);
CREATE INDEX pipeline_name_idx ON pipeline (lower(name));

CREATE TABLE pipeline_update (
    update_id          text        PRIMARY KEY,
    pipeline_id        text        NOT NULL REFERENCES pipeline (pipeline_id) ON DELETE CASCADE,
    state              text        NOT NULL,
    cause              text        NOT NULL,
    full_refresh       boolean     NOT NULL DEFAULT false,
    config             jsonb       NOT NULL,
    parameters         jsonb,
    creation_time      bigint      NOT NULL,
    end_time           bigint,
    error              text
);
CREATE INDEX pipeline_update_pipeline_idx ON pipeline_update (pipeline_id, creation_time DESC);

CREATE SEQUENCE object_id_seq START WITH 3000000000001;

CREATE TABLE workspace_object (
    path               text        PRIMARY KEY,
    object_id          bigint      NOT NULL DEFAULT nextval('object_id_seq'),
    object_type        text        NOT NULL
                       CONSTRAINT workspace_object_type_check CHECK (object_type IN ('DIRECTORY', 'NOTEBOOK', 'FILE')),
    language           text,
    content            bytea,
    created_at         bigint      NOT NULL,
    modified_at        bigint      NOT NULL
);
INSERT INTO workspace_object (path, object_type, created_at, modified_at)
VALUES ('/', 'DIRECTORY', (extract(epoch FROM now()) * 1000)::bigint, (extract(epoch FROM now()) * 1000)::bigint);
