-- One owner per session: a lease that one gateway process holds while it serves the session.
-- `lease_holder` names the process, `lease_token` the owner object inside it; every write the
-- owner makes is fenced by its token, so an owner that lost its lease writes nothing more.
ALTER TABLE sessions
    ADD COLUMN lease_holder  text,
    ADD COLUMN lease_token   text,
    ADD COLUMN lease_until   timestamptz;

CREATE INDEX sessions_lease_holder ON sessions (lease_holder) WHERE lease_holder IS NOT NULL;
