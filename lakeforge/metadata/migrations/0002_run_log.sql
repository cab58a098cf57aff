-- The run log: batch -> zone -> table -> step, plus one dq_run per rule and table.
-- Rows outlive the config they ran (names are copied), so deleting a source keeps its history.
SET search_path TO lakeforge_log, lakeforge, public;

CREATE TABLE batch_run (
    batch_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_group_id bigint      REFERENCES lakeforge.source_group (id) ON DELETE SET NULL,
    group_name      text        NOT NULL,
    -- Set when the batch runs one source only; NULL for a whole group.
    source_name     text,
    trigger         text        NOT NULL DEFAULT 'manual'
                    CONSTRAINT batch_run_trigger_check CHECK (trigger IN ('schedule', 'manual', 'rerun', 'api')),
    rerun_of        bigint      REFERENCES batch_run (batch_id) ON DELETE SET NULL,
    engine          text        CONSTRAINT batch_run_engine_check CHECK (engine IN ('embedded', 'spark')),
    status          text        NOT NULL DEFAULT 'queued'
                    CONSTRAINT batch_run_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
    requested_by    text,
    databricks_run_id text,
    rows_in         bigint,
    rows_out        bigint,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    ended_at        timestamptz
);
CREATE INDEX batch_run_group_recent_idx ON batch_run (group_name, batch_id DESC);
CREATE INDEX batch_run_status_recent_idx ON batch_run (status, batch_id DESC);
CREATE INDEX batch_run_source_recent_idx ON batch_run (source_name, batch_id DESC) WHERE source_name IS NOT NULL;
CREATE INDEX batch_run_created_idx ON batch_run (created_at DESC);

CREATE TABLE zone_run (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id        bigint      NOT NULL REFERENCES batch_run (batch_id) ON DELETE CASCADE,
    zone            text        NOT NULL CONSTRAINT zone_run_zone_check CHECK (zone IN ('raw', 'bronze', 'silver', 'gold')),
    status          text        NOT NULL DEFAULT 'running'
                    CONSTRAINT zone_run_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
    rows_in         bigint,
    rows_out        bigint,
    bytes           bigint,
    error           text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz,
    CONSTRAINT zone_run_key UNIQUE (batch_id, zone)
);

CREATE TABLE table_run (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id        bigint      NOT NULL REFERENCES batch_run (batch_id) ON DELETE CASCADE,
    zone_run_id     bigint      NOT NULL REFERENCES zone_run (id) ON DELETE CASCADE,
    source_name     text,
    table_name      text        NOT NULL,
    status          text        NOT NULL DEFAULT 'running'
                    CONSTRAINT table_run_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
    rows_in         bigint,
    rows_out        bigint,
    rows_rejected   bigint,
    bytes           bigint,
    delta_version   bigint,
    error           text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz
);
CREATE INDEX table_run_batch_idx ON table_run (batch_id);
CREATE INDEX table_run_zone_idx ON table_run (zone_run_id);

CREATE TABLE step_run (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id        bigint      NOT NULL REFERENCES batch_run (batch_id) ON DELETE CASCADE,
    table_run_id    bigint      REFERENCES table_run (id) ON DELETE CASCADE,
    step            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'running'
                    CONSTRAINT step_run_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped')),
    rows_in         bigint,
    rows_out        bigint,
    -- Step-specific facts (file name, size, checksum, merge counts ...).
    details         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    error           text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    ended_at        timestamptz
);
CREATE INDEX step_run_batch_idx ON step_run (batch_id, id);

CREATE TABLE dq_run (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id        bigint      NOT NULL REFERENCES batch_run (batch_id) ON DELETE CASCADE,
    table_run_id    bigint      REFERENCES table_run (id) ON DELETE CASCADE,
    rule_id         bigint      REFERENCES lakeforge.dq_rule (id) ON DELETE SET NULL,
    rule_name       text        NOT NULL,
    table_name      text        NOT NULL,
    expression      text        NOT NULL,
    action          text        NOT NULL CONSTRAINT dq_run_action_check CHECK (action IN ('warn', 'drop', 'fail', 'quarantine')),
    rows_checked    bigint      NOT NULL CONSTRAINT dq_run_rows_checked_check CHECK (rows_checked >= 0),
    rows_passed     bigint      NOT NULL,
    rows_failed     bigint      NOT NULL,
    status          text        NOT NULL CONSTRAINT dq_run_status_check CHECK (status IN ('passed', 'failed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dq_run_counts_check CHECK (rows_passed + rows_failed = rows_checked)
);
CREATE INDEX dq_run_batch_idx ON dq_run (batch_id);
CREATE INDEX dq_run_rule_idx ON dq_run (rule_name, table_name, batch_id DESC);
