-- POST /auth/token/refresh writes less per call (apps/auth-service/src/services/refresh.ts).
--
-- 1. Room for HOT updates. Each refresh updates its session (last seen, idle expiry, count) and spends its token
--    (rotated_at); none of those columns is indexed, so PostgreSQL can keep the new row version on the same page
--    without touching any index (a heap-only tuple), but only if the page has room for it. At the default fillfactor
--    (100) inserts pack the pages full, and such an update moves the row to another page and adds an entry to every
--    index of the table (four each). Inserts now leave room on every page; the space of old versions is reclaimed by
--    page pruning as pages are read (no autovacuum needed). At 70% about nine updates in ten were HOT on a copy of
--    the benchmark's data (at 100%, about two in three). Applies to pages written from now on (VACUUM FULL or
--    pg_repack would repack the existing ones). Prisma's schema cannot express storage parameters and its diff does
--    not compare them, so prisma/schema.prisma does not change.
-- 2. `auth.refresh_session` (its steps: migration refresh_fast_path) makes the same reads, locks and writes, in the
--    same order and with the same outcomes, in four statements instead of six: each statement a PL/pgSQL function
--    runs costs an executor start-up and shutdown of its own, a large share of the database's CPU per refresh. The
--    spend and the successor's insertion are one statement, and so are the session's update and the log entry.
ALTER TABLE "auth"."sessions" SET (fillfactor = 70);
ALTER TABLE "auth"."refresh_tokens" SET (fillfactor = 70);

CREATE OR REPLACE FUNCTION "auth"."refresh_session"(
  p_token_hash TEXT,
  p_now TIMESTAMPTZ,
  p_successor_id TEXT,
  p_successor_hash TEXT,
  p_log_id TEXT,
  p_logged_at TIMESTAMPTZ,
  p_ip TEXT,
  p_user_agent TEXT,
  -- 'refreshed', 'unknown', 'inactive', 'spent' or 'concurrent_reuse'.
  OUT outcome TEXT,
  OUT token_id TEXT,
  OUT token_rotated_at TIMESTAMPTZ,
  OUT session_id TEXT,
  OUT user_id TEXT,
  OUT application_id TEXT,
  OUT absolute_expires_at TIMESTAMPTZ,
  OUT access_token_ttl_seconds INTEGER,
  OUT rotated BOOLEAN
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  found_token RECORD;
BEGIN
  SELECT r.id, r.family_id, r.expires_at, r.rotated_at, r.revoked_at AS token_revoked_at,
         s.id AS session_id, s.user_id, s.application_id, s.revoked_at AS session_revoked_at,
         s.idle_expires_at, s.absolute_expires_at,
         u.status AS user_status,
         a.status AS application_status, a.rotate_refresh_tokens, a.idle_timeout_seconds, a.access_token_ttl_seconds
    INTO found_token
    FROM "auth"."refresh_tokens" r
    JOIN "auth"."sessions" s ON s.id = r.session_id
    JOIN "auth"."users" u ON u.id = s.user_id
    JOIN "auth"."applications" a ON a.id = s.application_id
   WHERE r.token_hash = p_token_hash;
  IF NOT FOUND THEN
    outcome := 'unknown';
    RETURN;
  END IF;
  token_id := found_token.id;
  token_rotated_at := found_token.rotated_at;
  session_id := found_token.session_id;
  user_id := found_token.user_id;
  application_id := found_token.application_id;
  absolute_expires_at := found_token.absolute_expires_at;
  access_token_ttl_seconds := found_token.access_token_ttl_seconds;
  rotated := found_token.rotate_refresh_tokens;

  IF found_token.session_revoked_at IS NOT NULL
     OR found_token.idle_expires_at <= p_now
     OR found_token.absolute_expires_at <= p_now
     OR found_token.user_status <> 'active'
     OR found_token.application_status <> 'active'
     OR found_token.token_revoked_at IS NOT NULL
     OR found_token.expires_at <= p_now THEN
    outcome := 'inactive';
    RETURN;
  END IF;
  IF found_token.rotate_refresh_tokens AND found_token.rotated_at IS NOT NULL THEN
    outcome := 'spent';
    RETURN;
  END IF;

  PERFORM 1 FROM "auth"."sessions" s
   WHERE s.id = found_token.session_id AND s.revoked_at IS NULL
     FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    outcome := 'inactive';
    RETURN;
  END IF;

  IF found_token.rotate_refresh_tokens THEN
    -- The successor is inserted only for the row the conditional update spent: none inserted (NOT FOUND) means a
    -- concurrent refresh spent it first, and nothing was written.
    WITH spent AS (
      UPDATE "auth"."refresh_tokens" r SET rotated_at = p_now
       WHERE r.id = found_token.id AND r.rotated_at IS NULL AND r.revoked_at IS NULL
      RETURNING r.id
    )
    INSERT INTO "auth"."refresh_tokens" (id, session_id, family_id, token_hash, parent_id, created_at, expires_at)
    SELECT p_successor_id, found_token.session_id, found_token.family_id, p_successor_hash, spent.id, p_now,
           found_token.absolute_expires_at
      FROM spent;
    IF NOT FOUND THEN
      outcome := 'concurrent_reuse';
      RETURN;
    END IF;
  END IF;

  -- A data-modifying WITH runs to completion whether or not the main statement reads it: the session's update and
  -- the log entry, unconditionally, as two statements would.
  WITH activity AS (
    UPDATE "auth"."sessions" s
       SET last_seen_at = p_now,
           idle_expires_at = LEAST(p_now + make_interval(secs => found_token.idle_timeout_seconds),
                                   found_token.absolute_expires_at),
           refresh_count = s.refresh_count + 1
     WHERE s.id = found_token.session_id
  )
  INSERT INTO "auth"."auth_logs" (id, user_id, session_id, application_id, action, success, ip, user_agent, created_at)
  VALUES (p_log_id, found_token.user_id, found_token.session_id, found_token.application_id, 'refresh', TRUE, p_ip,
          p_user_agent, p_logged_at);

  outcome := 'refreshed';
END
$$;
