-- Per-turn feedback with the inputs it was computed from, and the stored session reports.
ALTER TABLE turns
    ADD COLUMN speech    jsonb,   -- words with times and VAD voiced stretches (voice turns)
    ADD COLUMN feedback  jsonb;

CREATE TABLE session_reports (
    session_id  text PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    report      jsonb NOT NULL,
    html        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
