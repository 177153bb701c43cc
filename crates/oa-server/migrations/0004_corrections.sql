-- The assistant reply a correction stands beside (a reply a person wrote in the model's place on
-- the desktop). A ranking sent from the desktop orders the model's answers to a prompt; the
-- corrections beside them are not part of it, so they are left out when such a ranking is
-- checked. NULL for every other message.
ALTER TABLE messages ADD COLUMN corrects uuid;
