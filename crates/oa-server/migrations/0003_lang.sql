-- The language of each message as a BCP-47 tag, guessed from its text when it is stored
-- (`oa_types::detect_lang`, as the desktop does); NULL when it cannot be told reliably.
ALTER TABLE messages ADD COLUMN lang TEXT;
