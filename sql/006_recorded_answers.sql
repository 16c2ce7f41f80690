-- The user's own voice for each answer, kept only with their consent (audio_config.record_audio),
-- never in counseling; deleted with its session (and so by the retention setting).
CREATE TABLE turn_audio (
    session_id   text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    codec        text NOT NULL,          -- 'opus' (Ogg Opus)
    sample_rate  integer NOT NULL,
    start_ms     integer NOT NULL,       -- stream position of the clip's first sample
    duration_ms  integer NOT NULL,
    audio        bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, seq)
);
