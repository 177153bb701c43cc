-- Open-Assistant's pipeline on top of the raw events: sign-in, message trees with review states,
-- labels, rankings, reactions, retractions, leased tasks, agreement with consensus, trust and the
-- points behind the leaderboard. Every derived row names the event it came from, so a retraction
-- can find and remove it.

-- Sign-in. Login is by display name, so names are unique regardless of case. NULL password hash:
-- the account cannot sign in (created by an operator or before this migration).
ALTER TABLE accounts
    ADD COLUMN password_hash text,
    ADD COLUMN role text NOT NULL DEFAULT 'contributor'
        CHECK (role IN ('contributor', 'moderator', 'admin')),
    -- How much the account's votes weigh (0..1), learned from agreement with consensus.
    ADD COLUMN trust real NOT NULL DEFAULT 0.5 CHECK (trust >= 0 AND trust <= 1),
    -- Sum and count of Kendall tau of scored rankings: the running agreement.
    ADD COLUMN agreement_sum double precision NOT NULL DEFAULT 0,
    ADD COLUMN agreement_count integer NOT NULL DEFAULT 0,
    -- Grows with red flags on the account's messages and rankings opposite to consensus.
    ADD COLUMN troll_score real NOT NULL DEFAULT 0;

CREATE UNIQUE INDEX accounts_display_name_key ON accounts (lower(display_name));

ALTER TABLE devices
    ADD COLUMN name text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '365 days';

-- What the raw event was about, and the task it completes. `retracted_at` is set when a later
-- retraction withdrew it; its payload is then emptied, so the content is gone from the server.
ALTER TABLE contribution_events
    ADD COLUMN subject_id uuid,
    ADD COLUMN conversation_id uuid,
    ADD COLUMN created_at timestamptz,
    ADD COLUMN task_id uuid,
    ADD COLUMN retracted_at timestamptz;

-- One conversation tree; its id is the root prompt's id, as in Open-Assistant's exports.
CREATE TABLE message_trees (
    id          uuid        PRIMARY KEY,
    state       text        NOT NULL CHECK (state IN (
                    'initial_prompt_review', 'growing', 'ranking', 'ready_for_scoring',
                    'ready_for_export', 'aborted_low_grade', 'halted_by_moderator')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX message_trees_state_idx ON message_trees (state, id);

CREATE TABLE messages (
    id             uuid        PRIMARY KEY,
    tree_id        uuid        NOT NULL REFERENCES message_trees (id),
    parent_id      uuid        REFERENCES messages (id),
    event_id       uuid        NOT NULL REFERENCES contribution_events (id),
    -- Who sent it: the writer of a human message, the person who ran the model for a synthetic one.
    account_id     uuid        NOT NULL REFERENCES accounts (id),
    role           text        NOT NULL CHECK (role IN ('prompter', 'assistant')),
    text           text        NOT NULL,
    depth          integer     NOT NULL CHECK (depth >= 0),
    synthetic      boolean     NOT NULL,
    model_name     text,
    provenance     jsonb,
    -- SHA-256 of the normalised text of human-written messages: flood / duplicate detection.
    text_sha256    bytea,
    created_at     timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    review_state   text        NOT NULL DEFAULT 'pending'
                       CHECK (review_state IN ('pending', 'accepted', 'rejected')),
    review_count   integer     NOT NULL DEFAULT 0,
    -- Place among ranked siblings, 0 for the best, once the consensus is in.
    rank           integer,
    red_flags      integer     NOT NULL DEFAULT 0,
    skips          integer     NOT NULL DEFAULT 0,
    -- Retracted by its author or removed by moderation: never exported, text emptied.
    deleted        boolean     NOT NULL DEFAULT false
);

CREATE INDEX messages_tree_idx ON messages (tree_id, created_at, id);
CREATE INDEX messages_parent_idx ON messages (parent_id);
CREATE INDEX messages_account_text_idx ON messages (account_id, text_sha256)
    WHERE text_sha256 IS NOT NULL;
CREATE INDEX messages_pending_idx ON messages (tree_id) WHERE review_state = 'pending';

-- One label set from one account on one message.
CREATE TABLE labels (
    event_id    uuid        PRIMARY KEY REFERENCES contribution_events (id),
    message_id  uuid        NOT NULL REFERENCES messages (id),
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    labels      jsonb       NOT NULL CHECK (jsonb_typeof(labels) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retracted   boolean     NOT NULL DEFAULT false
);

CREATE INDEX labels_message_idx ON labels (message_id) WHERE NOT retracted;

-- One ranking of a message's replies, best first (empty when the ranker found them not rankable).
CREATE TABLE rankings (
    event_id     uuid        PRIMARY KEY REFERENCES contribution_events (id),
    parent_id    uuid        NOT NULL REFERENCES messages (id),
    account_id   uuid        NOT NULL REFERENCES accounts (id),
    ranking      uuid[]      NOT NULL,
    not_rankable boolean     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    retracted    boolean     NOT NULL DEFAULT false,
    -- Kendall tau against the consensus, once the parent's replies were scored.
    tau          double precision
);

CREATE INDEX rankings_parent_idx ON rankings (parent_id) WHERE NOT retracted;

-- Emoji reactions (thumbs votes are the `+1` / `-1` reactions, as in Open-Assistant).
CREATE TABLE reactions (
    message_id  uuid        NOT NULL REFERENCES messages (id),
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    emoji       text        NOT NULL,
    event_id    uuid        NOT NULL REFERENCES contribution_events (id),
    PRIMARY KEY (message_id, account_id, emoji)
);

-- A retraction may arrive before what it retracts (events travel out of order); the target is
-- then refused when it comes.
CREATE TABLE retractions (
    retracted_event_id uuid        PRIMARY KEY,
    event_id           uuid        NOT NULL REFERENCES contribution_events (id),
    account_id         uuid        NOT NULL REFERENCES accounts (id),
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- Work leased to a contributor, for days: offline work is the normal case.
CREATE TABLE tasks (
    id              uuid        PRIMARY KEY,
    account_id      uuid        NOT NULL REFERENCES accounts (id),
    kind            text        NOT NULL CHECK (kind IN (
                        'initial_prompt', 'prompter_reply', 'assistant_reply', 'rank_replies',
                        'label_message')),
    tree_id         uuid        REFERENCES message_trees (id),
    message_id      uuid        REFERENCES messages (id),
    -- For ranking: the replies shown, which the result must rank exactly.
    replies         uuid[]      NOT NULL DEFAULT '{}',
    review          boolean     NOT NULL DEFAULT false,
    leased_at       timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    result_event_id uuid,
    skipped_at      timestamptz
);

CREATE INDEX tasks_account_idx ON tasks (account_id, leased_at);
CREATE INDEX tasks_open_message_idx ON tasks (message_id)
    WHERE completed_at IS NULL AND skipped_at IS NULL;

-- Points behind the leaderboard: one row per scored action, removed with a retraction.
CREATE TABLE score_events (
    id          bigserial   PRIMARY KEY,
    account_id  uuid        NOT NULL REFERENCES accounts (id),
    -- The contribution scored; NULL for rank bonuses, which name the message instead.
    event_id    uuid        REFERENCES contribution_events (id),
    message_id  uuid,
    kind        text        NOT NULL,
    points      real        NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX score_events_at_idx ON score_events (at, account_id);
CREATE INDEX score_events_account_idx ON score_events (account_id, at);
CREATE INDEX score_events_event_idx ON score_events (event_id);
