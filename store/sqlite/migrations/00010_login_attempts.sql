-- +goose Up
-- A login is recorded as a failure before its password is checked, and
-- forgotten when it succeeds, so a burst of logins at once cannot all pass
-- the limit before any failure is stored. attempt names the login whose
-- rows these are.
ALTER TABLE login_failures ADD COLUMN attempt TEXT NOT NULL DEFAULT '';
CREATE INDEX login_failures_attempt ON login_failures (attempt);

-- +goose Down
DROP INDEX login_failures_attempt;
ALTER TABLE login_failures DROP COLUMN attempt;
