-- An account its owner deleted: the name is freed (replaced by `deleted-<id>`), the password and
-- every device token stop working, and the account leaves the leaderboard. Its contributions stay
-- under the pseudonymous id unless they were withdrawn first.
ALTER TABLE accounts ADD COLUMN deleted_at timestamptz;
