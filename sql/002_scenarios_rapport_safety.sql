-- Per-session scenario state, safety flags, and the operators' scenario/persona edits.
ALTER TABLE sessions
    ADD COLUMN rapport            real NOT NULL DEFAULT 0.5,
    ADD COLUMN beat_index         integer NOT NULL DEFAULT 0,
    ADD COLUMN beat_followed_up   boolean NOT NULL DEFAULT false,
    ADD COLUMN status             text NOT NULL DEFAULT 'active'
                                  CHECK (status IN ('active', 'on_hold', 'ended')),
    ADD COLUMN flagged_for_human  boolean NOT NULL DEFAULT false,
    ADD COLUMN flag_reason        text,
    ADD COLUMN flagged_at         timestamptz;

CREATE INDEX sessions_flagged ON sessions (flagged_at) WHERE flagged_for_human;

CREATE TABLE custom_personas (
    id          text PRIMARY KEY,
    definition  jsonb NOT NULL,
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE custom_scenarios (
    id          text PRIMARY KEY,
    definition  jsonb NOT NULL,
    updated_by  text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
