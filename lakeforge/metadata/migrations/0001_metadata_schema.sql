-- LakeForge metadata: what to ingest (config), who may change it (control),
-- and what happened (the run log lives in 0002).
CREATE SCHEMA IF NOT EXISTS lakeforge;
CREATE SCHEMA IF NOT EXISTS lakeforge_log;
SET search_path TO lakeforge, public;

-- Names users type in chat and YAML: lower-case slugs that are also valid Delta/UC identifiers.
CREATE DOMAIN lakeforge.slug AS text
    CONSTRAINT slug_format CHECK (VALUE ~ '^[a-z][a-z0-9_]{0,62}$');
-- A secret reference, never a value: {{secrets/<scope>/<key>}}.
CREATE DOMAIN lakeforge.secret_ref AS text
    CONSTRAINT secret_ref_format CHECK (VALUE ~ '^\{\{secrets/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\}\}$');

CREATE TABLE compute_profile (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            slug        NOT NULL CONSTRAINT compute_profile_name_key UNIQUE,
    kind            text        NOT NULL DEFAULT 'single_node'
                    CONSTRAINT compute_profile_kind_check CHECK (kind IN ('single_node', 'job_cluster', 'serverless')),
    spark_version   text,
    node_type_id    text,
    num_workers     integer     NOT NULL DEFAULT 0 CONSTRAINT compute_profile_num_workers_check CHECK (num_workers >= 0),
    autoscale_min_workers integer CONSTRAINT compute_profile_autoscale_min_check CHECK (autoscale_min_workers >= 0),
    autoscale_max_workers integer,
    policy_id       text,
    runtime_engine  text        CONSTRAINT compute_profile_runtime_engine_check CHECK (runtime_engine IN ('STANDARD', 'PHOTON')),
    data_security_mode text,
    spark_conf      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    custom_tags     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    description     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT compute_profile_single_node_workers_check CHECK (kind <> 'single_node' OR num_workers = 0),
    CONSTRAINT compute_profile_autoscale_range_check
        CHECK (autoscale_max_workers IS NULL OR autoscale_max_workers >= coalesce(autoscale_min_workers, 0))
);
INSERT INTO compute_profile (name, kind, spark_version, description)
VALUES ('single_node', 'single_node', '16.4.x-scala2.12', 'Default: one driver, no workers.');

CREATE TABLE notification_channel (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            slug        NOT NULL CONSTRAINT notification_channel_name_key UNIQUE,
    kind            text        NOT NULL CONSTRAINT notification_channel_kind_check CHECK (kind IN ('slack', 'webhook')),
    slack_channel_id text,
    webhook_url     secret_ref,
    muted_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT notification_channel_target_check CHECK (
        (kind = 'slack' AND slack_channel_id IS NOT NULL) OR (kind = 'webhook' AND webhook_url IS NOT NULL)
    )
);

CREATE TABLE source_system (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            slug        NOT NULL CONSTRAINT source_system_name_key UNIQUE,
    kind            text        NOT NULL DEFAULT 'files'
                    CONSTRAINT source_system_kind_check CHECK (kind IN ('files', 'database', 'api', 'lakehouse')),
    description     text,
    owner           text,
    -- Connection options (host, port, user, ...); credentials only as secret references.
    connection      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE source_group (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            slug        NOT NULL CONSTRAINT source_group_name_key UNIQUE,
    description     text,
    owner           text,
    compute_profile_id bigint   NOT NULL REFERENCES compute_profile (id) ON DELETE RESTRICT,
    notification_channel_id bigint REFERENCES notification_channel (id) ON DELETE SET NULL,
    catalog         text        NOT NULL DEFAULT 'main',
    engine          text        NOT NULL DEFAULT 'auto'
                    CONSTRAINT source_group_engine_check CHECK (engine IN ('auto', 'embedded', 'spark')),
    max_concurrent_runs integer NOT NULL DEFAULT 1 CONSTRAINT source_group_max_concurrent_runs_check CHECK (max_concurrent_runs BETWEEN 1 AND 1000),
    timeout_seconds integer     NOT NULL DEFAULT 0 CONSTRAINT source_group_timeout_check CHECK (timeout_seconds >= 0),
    max_retries     integer     NOT NULL DEFAULT 1 CONSTRAINT source_group_max_retries_check CHECK (max_retries BETWEEN 0 AND 10),
    revision        integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE schedule (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_group_id bigint      NOT NULL CONSTRAINT schedule_source_group_id_key UNIQUE
                    REFERENCES source_group (id) ON DELETE CASCADE,
    quartz_cron     text        NOT NULL,
    timezone        text        NOT NULL DEFAULT 'UTC',
    paused          boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE source (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Source names are unique across LakeForge so chat can say "rerun orders".
    name            slug        NOT NULL CONSTRAINT source_name_key UNIQUE,
    source_group_id bigint      NOT NULL REFERENCES source_group (id) ON DELETE RESTRICT,
    source_system_id bigint     REFERENCES source_system (id) ON DELETE RESTRICT,
    description     text,
    format          text        NOT NULL
                    CONSTRAINT source_format_check CHECK (format IN ('csv', 'json', 'parquet', 'delta', 'jdbc', 'rest')),
    location        text        NOT NULL CONSTRAINT source_location_check CHECK (length(location) > 0),
    -- Reader options (delimiter, header, page size, ...), open-ended by format.
    format_options  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    load_mode       text        NOT NULL DEFAULT 'full'
                    CONSTRAINT source_load_mode_check CHECK (load_mode IN ('full', 'incremental')),
    watermark_column text,
    schema_ddl      text,
    extractor       text,
    enabled         boolean     NOT NULL DEFAULT true,
    revision        integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT source_watermark_check CHECK (
        load_mode = 'full' OR format IN ('csv', 'json', 'parquet') OR watermark_column IS NOT NULL
    )
);
CREATE INDEX source_group_idx ON source (source_group_id);

CREATE TABLE raw_config (
    source_id       bigint      PRIMARY KEY REFERENCES source (id) ON DELETE CASCADE,
    -- Volume or folder where raw files land, partitioned by batch; derived when null.
    landing_path    text,
    retention_days  integer     CONSTRAINT raw_config_retention_check CHECK (retention_days > 0),
    options         jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE bronze_config (
    source_id       bigint      PRIMARY KEY REFERENCES source (id) ON DELETE CASCADE,
    target_table    text        NOT NULL,
    schema_evolution text       NOT NULL DEFAULT 'evolve'
                    CONSTRAINT bronze_config_schema_evolution_check CHECK (schema_evolution IN ('evolve', 'freeze', 'rescue')),
    options         jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE silver_config (
    source_id       bigint      PRIMARY KEY REFERENCES source (id) ON DELETE CASCADE,
    target_table    text        NOT NULL,
    primary_keys    text[]      NOT NULL DEFAULT '{}',
    scd_type        smallint    NOT NULL DEFAULT 1 CONSTRAINT silver_config_scd_type_check CHECK (scd_type IN (1, 2)),
    sequence_by     text,
    dedupe          boolean     NOT NULL DEFAULT true,
    -- Spark SQL select expressions ("cast(amount as decimal(12,2)) as amount") and a filter.
    select_expressions text[]   NOT NULL DEFAULT '{}',
    where_clause    text,
    options         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT silver_config_scd2_needs_keys_check CHECK (scd_type = 1 OR cardinality(primary_keys) > 0)
);

CREATE TABLE gold_config (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_group_id bigint      NOT NULL REFERENCES source_group (id) ON DELETE CASCADE,
    name            slug        NOT NULL,
    target_table    text        NOT NULL,
    sql             text        NOT NULL,
    description     text,
    revision        integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT gold_config_name_key UNIQUE (source_group_id, name)
);

CREATE TABLE dq_rule (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id       bigint      NOT NULL REFERENCES source (id) ON DELETE CASCADE,
    name            slug        NOT NULL,
    expression      text        NOT NULL,
    action          text        NOT NULL DEFAULT 'warn'
                    CONSTRAINT dq_rule_action_check CHECK (action IN ('warn', 'drop', 'fail', 'quarantine')),
    description     text,
    enabled         boolean     NOT NULL DEFAULT true,
    revision        integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dq_rule_name_key UNIQUE (source_id, name)
);

CREATE TABLE watermark_state (
    source_id       bigint      PRIMARY KEY REFERENCES source (id) ON DELETE CASCADE,
    watermark_column text,
    -- Highest value loaded, as text plus its type, or an opaque cursor for REST sources.
    high_value      text,
    value_type      text,
    cursor          jsonb,
    batch_id        bigint,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Control ------------------------------------------------------------------------------

CREATE TABLE managed_resource (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_type   text        NOT NULL CONSTRAINT managed_resource_type_check CHECK (resource_type IN ('job', 'pipeline')),
    lakeforge_key   text        NOT NULL,
    databricks_id   text,
    spec_hash       text,
    spec            jsonb,
    state           text        NOT NULL DEFAULT 'active'
                    CONSTRAINT managed_resource_state_check CHECK (state IN ('active', 'paused', 'pending_delete', 'deleted')),
    paused_at       timestamptz,
    delete_after    timestamptz,
    last_synced_at  timestamptz,
    last_error      text,
    CONSTRAINT managed_resource_key UNIQUE (resource_type, lakeforge_key)
);

CREATE TABLE app_user (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            slug        NOT NULL CONSTRAINT app_user_name_key UNIQUE,
    display_name    text,
    email           text,
    slack_user_id   text        CONSTRAINT app_user_slack_user_id_key UNIQUE,
    disabled        boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE role_binding (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint      NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    role            text        NOT NULL
                    CONSTRAINT role_binding_role_check CHECK (role IN ('viewer', 'operator', 'editor', 'admin')),
    -- NULL: the role holds for every group.
    source_group_id bigint      REFERENCES source_group (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT role_binding_key UNIQUE NULLS NOT DISTINCT (user_id, role, source_group_id)
);

CREATE TABLE api_token (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint      NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    -- SHA-256 of the token; the token itself is shown once and never stored.
    token_hash      text        NOT NULL CONSTRAINT api_token_hash_key UNIQUE,
    token_prefix    text        NOT NULL,
    name            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    last_used_at    timestamptz
);

CREATE TABLE command_audit (
    id              uuid        PRIMARY KEY,
    idempotency_key text,
    actor           text        NOT NULL,
    surface         text        NOT NULL
                    CONSTRAINT command_audit_surface_check CHECK (surface IN ('slack', 'web', 'cli', 'api', 'yaml', 'system')),
    channel         text,
    raw_text        text,
    kind            text        NOT NULL,
    intent          jsonb       NOT NULL,
    plan            jsonb,
    outcome         text        NOT NULL
                    CONSTRAINT command_audit_outcome_check CHECK (outcome IN ('applied', 'planned', 'needs_confirmation', 'rejected', 'failed')),
    message         text,
    response        jsonb,
    duration_ms     double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT command_audit_idempotency_key UNIQUE (actor, idempotency_key)
);
CREATE INDEX command_audit_created_idx ON command_audit (created_at DESC);

CREATE TABLE metadata_revision (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type     text        NOT NULL,
    entity_key      text        NOT NULL,
    revision        integer     NOT NULL,
    -- Whole-entity snapshots, so any revision can be restored.
    before          jsonb,
    after           jsonb,
    command_id      uuid        REFERENCES command_audit (id) ON DELETE SET NULL,
    actor           text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT metadata_revision_key UNIQUE (entity_type, entity_key, revision)
);
CREATE INDEX metadata_revision_entity_idx ON metadata_revision (entity_type, entity_key, id DESC);
