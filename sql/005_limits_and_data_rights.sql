-- Rate limits that hold across every gateway process: one row per accepted event, counted
-- over a sliding window under a per-key advisory lock (a refused request adds no row).
CREATE TABLE rate_events (
    key  text NOT NULL,
    at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX rate_events_key_at ON rate_events (key, at);

-- Take one event for every key at once, or none: `wait_s` > 0 says how long until the
-- first refusing key (`refused`, 1-based) frees a slot.
CREATE FUNCTION parley_take(keys text[], limits int[], windows_s float8[],
                            OUT refused int, OUT wait_s float8) AS $$
DECLARE
    i int;
    n int;
    oldest timestamptz;
    w float8;
BEGIN
    refused := 0;
    wait_s := 0;
    FOR i IN 1 .. array_length(keys, 1) LOOP
        PERFORM pg_advisory_xact_lock(hashtext(keys[i]));
    END LOOP;
    FOR i IN 1 .. array_length(keys, 1) LOOP
        DELETE FROM rate_events WHERE key = keys[i]
            AND at < clock_timestamp() - make_interval(secs => windows_s[i]);
        SELECT count(*), min(at) INTO n, oldest FROM rate_events WHERE key = keys[i];
        IF n >= limits[i] THEN
            w := extract(epoch FROM oldest + make_interval(secs => windows_s[i]) - clock_timestamp());
            IF refused = 0 OR w > wait_s THEN
                refused := i;
                wait_s := greatest(w, 0.001);
            END IF;
        END IF;
    END LOOP;
    IF refused = 0 THEN
        FOR i IN 1 .. array_length(keys, 1) LOOP
            INSERT INTO rate_events (key) VALUES (keys[i]);
        END LOOP;
    END IF;
END
$$ LANGUAGE plpgsql;

-- A user's sessions, for export and deletion; old sessions, for retention.
CREATE INDEX sessions_owner ON sessions (owner);
CREATE INDEX sessions_created_at ON sessions (created_at);
