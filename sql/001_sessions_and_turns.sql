-- Sessions and their turns: the conversation record every later feature reads.
CREATE TABLE sessions (
    id          text PRIMARY KEY,
    owner       text NOT NULL,
    scenario    text NOT NULL DEFAULT 'counseling',
    language    text NOT NULL DEFAULT 'ko',
    emotion     text NOT NULL DEFAULT 'neutral',
    turn_count  integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz
);

CREATE TABLE turns (
    id                bigserial PRIMARY KEY,
    session_id        text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq               integer NOT NULL,
    user_message      text NOT NULL,
    ai_reply          text NOT NULL DEFAULT '',
    emotion           text NOT NULL,
    source            text NOT NULL CHECK (source IN ('text', 'voice')),
    status            text NOT NULL DEFAULT 'pending'
                      CHECK (status IN ('pending', 'complete', 'cut_short')),
    end_reason        text,
    client_timestamp  timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    completed_at      timestamptz,
    timings           jsonb NOT NULL DEFAULT '{}'::jsonb,
    UNIQUE (session_id, seq)
);
-- The UNIQUE index on (session_id, seq) serves the "N most recent turns" query.
