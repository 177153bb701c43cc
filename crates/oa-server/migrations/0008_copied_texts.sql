-- A long human-written text another account already sent is refused as a copy: texts are
-- looked up by their normalised hash alone, whoever sent them (the sender's own repeats are
-- found in the same read, so the index by account and hash goes).
CREATE INDEX messages_text_idx ON messages (text_sha256) WHERE text_sha256 IS NOT NULL;
DROP INDEX messages_account_text_idx;
