-- The successful refresh (`POST /auth/token/refresh`, apps/auth-service/src/services/refresh.ts) in one round trip:
-- the reads, locks and writes of the former interactive transaction, in the same order, as one statement, hence in
-- one implicit transaction (all of it or nothing).
--
--   1. The token with its session, user and application, unlocked (as the former `findUnique`): unknown, inactive
--      (session revoked or expired, user or application disabled, token revoked or expired) and spent tokens stop
--      here, having written nothing; the caller handles a spent one (grace period, or reuse detection).
--   2. The session row is locked first, as logout (`revokeSessions`) does, so the two never deadlock, and only while
--      it is still open: a logout that won the race keeps it revoked ('inactive').
--   3. With rotation, the token is spent by a conditional update: of concurrent refreshes with one token exactly one
--      succeeds, the others get 'concurrent_reuse' with nothing written. Then its successor is stored.
--   4. The session's activity: last seen, idle expiry extended (never past the absolute one), one more refresh. It
--      does not set `revoked_at`, so the session-change trigger stays silent.
--   5. The `auth_logs` entry 'refresh'.
--
-- Ids, the successor's hash and the log's time come from the caller, as Prisma's own defaults would.
CREATE FUNCTION "auth"."refresh_session"(
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
    UPDATE "auth"."refresh_tokens" r SET rotated_at = p_now
     WHERE r.id = found_token.id AND r.rotated_at IS NULL AND r.revoked_at IS NULL;
    IF NOT FOUND THEN
      outcome := 'concurrent_reuse';
      RETURN;
    END IF;
    INSERT INTO "auth"."refresh_tokens" (id, session_id, family_id, token_hash, parent_id, created_at, expires_at)
    VALUES (p_successor_id, found_token.session_id, found_token.family_id, p_successor_hash, found_token.id, p_now,
            found_token.absolute_expires_at);
  END IF;

  UPDATE "auth"."sessions" s
     SET last_seen_at = p_now,
         idle_expires_at = LEAST(p_now + make_interval(secs => found_token.idle_timeout_seconds),
                                 found_token.absolute_expires_at),
         refresh_count = s.refresh_count + 1
   WHERE s.id = found_token.session_id;

  INSERT INTO "auth"."auth_logs" (id, user_id, session_id, application_id, action, success, ip, user_agent, created_at)
  VALUES (p_log_id, found_token.user_id, found_token.session_id, found_token.application_id, 'refresh', TRUE, p_ip,
          p_user_agent, p_logged_at);

  outcome := 'refreshed';
END
$$;
