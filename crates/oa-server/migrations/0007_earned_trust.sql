-- Trust is earned: a newcomer starts low (the server sets it when it creates the account, so the
-- value is spelled once, in `trust.rs`), and existing accounts are re-measured from their history
-- with the smoothing of that file at the time (5 judgements of 0.1, at least 0.01).
ALTER TABLE accounts ALTER COLUMN trust DROP DEFAULT;
UPDATE accounts
    SET trust = GREATEST(0.01, LEAST(1.0, (agreement_sum + 5 * 0.1) / (agreement_count + 5)));

-- Reviews are weighed by their reviewers' trust against the crowd's trust, taken when a message
-- gets its first review and kept, so that what a message still needs does not drift under it.
ALTER TABLE messages ADD COLUMN review_weight real NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN crowd_trust real;

-- Only rankings a task asked for count toward a parent's K and its consensus, each with its
-- ranker's trust when it arrived; the crowd's trust is taken when the tree starts being ranked.
ALTER TABLE rankings ADD COLUMN leased boolean NOT NULL DEFAULT false;
ALTER TABLE rankings ADD COLUMN weight real NOT NULL DEFAULT 0;
UPDATE rankings r SET leased = e.task_id IS NOT NULL, weight = a.trust
    FROM contribution_events e, accounts a
    WHERE e.id = r.event_id AND a.id = r.account_id;
ALTER TABLE rankings ALTER COLUMN weight DROP DEFAULT;
ALTER TABLE message_trees ADD COLUMN crowd_trust real;
