-- The kinds of personal data the desktop's detector (oa-privacy) finds in a message's text at
-- ingest: a second line behind the person's own review. It flags, it never rejects; moderators see
-- it in the tree view.
ALTER TABLE messages ADD COLUMN pii_kinds text[] NOT NULL DEFAULT '{}';
