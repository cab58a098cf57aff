-- Confirm tokens for destructive and dry-run commands: stored hashed, single use, short-lived.
SET search_path TO lakeforge, public;

CREATE TABLE command_confirmation (
    token_hash      text        PRIMARY KEY,
    actor           text        NOT NULL,
    kind            text        NOT NULL,
    -- SHA-256 of the canonical intent JSON and of the plan shown: the token applies only that.
    intent_hash     text        NOT NULL,
    plan_hash       text        NOT NULL,
    command_id      uuid        REFERENCES command_audit (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX command_confirmation_expires_idx ON command_confirmation (expires_at);
