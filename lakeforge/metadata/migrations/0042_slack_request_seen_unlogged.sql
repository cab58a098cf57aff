-- Slack retry keys are only useful for minutes: no WAL for them, so recording one does not wait
-- for a disk flush inside the 3-second window Slack gives an ack. A crash forgets them, which
-- at worst lets one retry through (the executor's idempotency keys still apply once).
SET search_path TO lakeforge, public;

ALTER TABLE slack_request_seen SET UNLOGGED;
