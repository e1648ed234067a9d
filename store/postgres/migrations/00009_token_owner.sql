-- +goose Up
-- A token acts for the user it belongs to: a disabled or deleted user's
-- tokens are refused, and a token never does more than its user's role
-- allows. system marks the tokens of the installation itself (the local
-- CLI's, made by 'sluice server', and those made with it), which belong to
-- no user. Safe to run again (a lost commit of goose's version row).
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS user_id BIGINT REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE tokens ADD COLUMN IF NOT EXISTS system BOOLEAN NOT NULL DEFAULT FALSE;

-- Tokens made before this version name their maker in created_by: a user,
-- 'sluice server', or the name of the token the maker used (a token's
-- principal was the token). Follow those names to a user or to the server;
-- a user counts only if they existed when the token was made. What
-- resolves to neither (its user was deleted) stays without an owner and is
-- refused.
WITH RECURSIVE owner (id, name, user_id, sys) AS (
    SELECT t.id, t.name,
           (SELECT u.id FROM users u WHERE u.name = t.created_by AND u.created_at <= t.created_at),
           t.created_by = 'sluice server'
    FROM tokens t
    WHERE t.created_by = 'sluice server'
       OR EXISTS (SELECT 1 FROM users u WHERE u.name = t.created_by AND u.created_at <= t.created_at)
    UNION
    SELECT t.id, t.name, o.user_id, o.sys
    FROM tokens t JOIN owner o ON t.created_by = o.name AND t.id <> o.id
), resolved AS (
    SELECT id, MIN(user_id) AS user_id, COALESCE(bool_or(sys) FILTER (WHERE user_id IS NULL), FALSE) AS sys
    FROM owner GROUP BY id
)
UPDATE tokens SET user_id = r.user_id, system = r.sys AND r.user_id IS NULL
FROM resolved r WHERE r.id = tokens.id AND tokens.user_id IS NULL AND NOT tokens.system;

CREATE INDEX IF NOT EXISTS tokens_user ON tokens (user_id);

-- +goose Down
DROP INDEX tokens_user;
ALTER TABLE tokens DROP COLUMN system;
ALTER TABLE tokens DROP COLUMN user_id;
