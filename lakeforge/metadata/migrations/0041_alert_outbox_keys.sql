-- Each alert message of a batch has a key ("parent", "zone:raw", "final"...), so an event seen
-- twice (NOTIFY and a catch-up scan) never posts twice. Updates of the parent carry no key.
SET search_path TO lakeforge, public;

ALTER TABLE alert_outbox ADD COLUMN key text;
CREATE UNIQUE INDEX alert_outbox_key_idx ON alert_outbox (batch_id, channel_id, key) WHERE key IS NOT NULL;
