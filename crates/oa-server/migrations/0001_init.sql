-- The first schema of the dataset server: who contributes, from which devices, and the raw
-- contribution events they upload. Later migrations derive message trees, tasks, consensus and
-- trust from these events; the events themselves are kept as received.

-- A contributor. Display names are public (leaderboard), so nothing else about a person is stored.
CREATE TABLE accounts (
    id           uuid        PRIMARY KEY,
    display_name text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A desktop installation that syncs for an account. Each device has its own bearer token so that
-- one lost laptop can be revoked without touching the others.
CREATE TABLE devices (
    id           uuid        PRIMARY KEY,
    -- A device means nothing without its account: deleting the account removes its devices.
    account_id   uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Only the SHA-256 of the token is kept, so a leaked table does not leak usable tokens.
    token_sha256 bytea       NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- NULL while the device may sync; set once, when its token is revoked.
    revoked_at   timestamptz CHECK (revoked_at IS NULL OR revoked_at >= created_at),
    -- Lets contribution_events require that its device belongs to its account.
    UNIQUE (id, account_id)
);

CREATE INDEX devices_account_id_idx ON devices (account_id);

-- One immutable contribution (a vote, a label, a ranking, a written reply) as the client sent it.
CREATE TABLE contribution_events (
    -- The client's UUIDv7: an event that is uploaded twice (a retried sync) is stored once.
    id          uuid        PRIMARY KEY,
    account_id  uuid        NOT NULL,
    device_id   uuid        NOT NULL,
    kind        text        NOT NULL CHECK (kind <> ''),
    payload     jsonb       NOT NULL CHECK (jsonb_typeof(payload) = 'object'),
    received_at timestamptz NOT NULL DEFAULT now(),
    -- The device must be one of the account's own. Events are the dataset: an account that still
    -- has events cannot be deleted by accident (no cascade); removing them is a deliberate step.
    FOREIGN KEY (device_id, account_id) REFERENCES devices (id, account_id) ON DELETE RESTRICT,
    FOREIGN KEY (account_id) REFERENCES accounts (id) ON DELETE RESTRICT
);

CREATE INDEX contribution_events_account_idx ON contribution_events (account_id, received_at);
CREATE INDEX contribution_events_device_idx ON contribution_events (device_id);
