-- +goose Up
-- The zone a user chose for times in the UI (local, utc or pipeline; ''
-- for none yet), so the choice follows the user to every browser.
ALTER TABLE users ADD COLUMN zone_pref TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE users DROP COLUMN zone_pref;
