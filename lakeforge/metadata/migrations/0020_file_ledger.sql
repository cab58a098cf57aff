-- Which source files each batch ingested, so file sources load only new files.
-- A row is written when the batch's Raw zone succeeds; a file is "new" when no row has its
-- path, size and modification time.
CREATE TABLE lakeforge_log.file_ledger (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id       bigint      REFERENCES lakeforge.source (id) ON DELETE CASCADE,
    source_name     text        NOT NULL,
    batch_id        bigint      NOT NULL REFERENCES lakeforge_log.batch_run (batch_id) ON DELETE CASCADE,
    path            text        NOT NULL,
    size_bytes      bigint      NOT NULL,
    mtime           double precision NOT NULL,
    sha256          text,
    raw_path        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT file_ledger_key UNIQUE (source_name, path, size_bytes, mtime)
);
CREATE INDEX file_ledger_batch_idx ON lakeforge_log.file_ledger (source_name, batch_id);
