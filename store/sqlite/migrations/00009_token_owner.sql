-- +goose Up
-- A token acts for the user it belongs to: a disabled or deleted user's
-- tokens are refused, and a token never does more than its user's role
-- allows. system marks the tokens of the installation itself (the local
-- CLI's, made by 'sluice server', and those made with it), which belong to
-- no user.
ALTER TABLE tokens ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE tokens ADD COLUMN system INTEGER NOT NULL DEFAULT 0;

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
)
UPDATE tokens SET
    user_id = (SELECT MIN(o.user_id) FROM owner o WHERE o.id = tokens.id),
    system = COALESCE((SELECT MAX(o.sys) FROM owner o WHERE o.id = tokens.id AND o.user_id IS NULL), 0)
WHERE user_id IS NULL AND NOT system;

CREATE INDEX tokens_user ON tokens (user_id);

-- +goose Down
DROP INDEX tokens_user;
ALTER TABLE tokens DROP COLUMN system;
ALTER TABLE tokens DROP COLUMN user_id;
