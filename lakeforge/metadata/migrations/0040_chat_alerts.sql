-- Chat and alert state: the alert outbox (no alert is lost while Slack is down), the parent
-- message of each batch per channel, mutes, Slack retry de-duplication and pending confirmations.
-- None of this is metadata: it is operational state of the bot and the notifier.
SET search_path TO lakeforge, public;

-- Messages waiting to be delivered, in order per (batch, channel). A row is retried until delivered.
CREATE TABLE alert_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id      bigint      NOT NULL REFERENCES notification_channel (id) ON DELETE CASCADE,
    batch_id        bigint      NOT NULL,
    group_name      text        NOT NULL,
    -- parent: first message of the batch; update: chat.update of the parent; reply: thread message;
    -- webhook: one POST to a generic webhook.
    op              text        NOT NULL CONSTRAINT alert_outbox_op_check CHECK (op IN ('parent', 'update', 'reply', 'webhook')),
    payload         jsonb       NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_outbox_pending_idx ON alert_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX alert_outbox_batch_idx ON alert_outbox (batch_id, channel_id, id);

-- The parent message of a batch in a Slack channel (its ts anchors updates and the thread).
CREATE TABLE alert_thread (
    batch_id        bigint      NOT NULL,
    channel_id      bigint      NOT NULL REFERENCES notification_channel (id) ON DELETE CASCADE,
    slack_channel   text        NOT NULL,
    ts              text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, channel_id)
);

-- "Mute 24 h" from an alert: no alerts for the group in that channel until the time passes.
CREATE TABLE alert_mute (
    group_name      text        NOT NULL,
    channel_id      bigint      NOT NULL REFERENCES notification_channel (id) ON DELETE CASCADE,
    muted_until     timestamptz NOT NULL,
    muted_by        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_name, channel_id)
);

-- Slack retries a request it thinks timed out (X-Slack-Retry-Num): each key is handled once.
CREATE TABLE slack_request_seen (
    key             text        PRIMARY KEY,
    seen_at         timestamptz NOT NULL DEFAULT now()
);

-- A planned change waiting for its Confirm / Cancel click (button values stay short).
CREATE TABLE slack_pending_command (
    id              uuid        PRIMARY KEY,
    slack_user_id   text        NOT NULL,
    channel         text,
    intent          jsonb       NOT NULL,
    raw_text        text,
    confirm_token   text,
    state           text        NOT NULL DEFAULT 'pending'
                    CONSTRAINT slack_pending_command_state_check CHECK (state IN ('pending', 'confirmed', 'cancelled')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz
);
