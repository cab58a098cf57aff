-- A Slack plan waiting for its Confirm click keeps the plan's command id, not its confirm token:
-- on Confirm the bot has the executor issue the plan a fresh token and applies with it at once,
-- so no usable token rests in plain text. Plans pending during the upgrade keep working: their
-- command is found by the token's hash, the one form the executor stores.
SET search_path TO lakeforge, public;

ALTER TABLE slack_pending_command ADD COLUMN command_id uuid;

UPDATE slack_pending_command p
   SET command_id = c.command_id
  FROM command_confirmation c
 WHERE p.confirm_token IS NOT NULL
   AND c.token_hash = encode(sha256(convert_to(p.confirm_token, 'UTF8')), 'hex');

ALTER TABLE slack_pending_command DROP COLUMN confirm_token;

-- Tokens are found by their plan's command when a plan is repeated or confirmed from Slack.
CREATE INDEX command_confirmation_command_idx ON command_confirmation (command_id);
