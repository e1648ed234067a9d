-- +goose Up
-- An asset event sent from outside may carry a key (the API's
-- Idempotency-Key, sluice assets emit --key): a client that sends the
-- same event again, because the answer to the first was lost, gets the
-- first event back instead of recording a second one. Events made by
-- tasks have no key (NULL), and the unique index leaves them alone.
ALTER TABLE asset_events ADD COLUMN dedup_key TEXT;
CREATE UNIQUE INDEX asset_events_dedup ON asset_events (asset, dedup_key) WHERE dedup_key IS NOT NULL;

-- +goose Down
DROP INDEX asset_events_dedup;
ALTER TABLE asset_events DROP COLUMN dedup_key;
