-- The successful login (`POST /auth/login`, apps/auth-service/src/services/sessions.ts `openSession`) in one round
-- trip: the reads, lock and writes of the former interactive transaction, in the same order, plus the clearing of the
-- account's brute-force backoff that used to be a statement of its own, as one statement, hence in one implicit
-- transaction (all of it or nothing).
--
--   1. The user row is locked FOR SHARE, as before: a concurrent disable or password change (which revoke the user's
--      sessions) waits until this session is committed, so it revokes it too. A user no longer active, or whose
--      password changed since it was checked (`p_password_checked_against`, when given), is 'refused' with nothing
--      written, not even the backoff clearing: the attempt counted before the password check then stays counted,
--      like that of any other refused sign-in.
--   2. The session, its first refresh token (its own family), the observed attempt (when `p_attempt_id` is given)
--      and the 'login' entry of the user's log.
--   3. The account's backoff row (when `p_backoff_key` is given) is deleted last: the success forgets its failures.
--
-- Ids, hashes, expiries and times come from the caller, as Prisma's own defaults would.
CREATE FUNCTION "auth"."open_session"(
  p_user_id TEXT,
  p_password_checked_against TIMESTAMPTZ,
  p_application_id TEXT,
  p_session_id TEXT,
  p_device_info JSONB,
  p_ip TEXT,
  p_user_agent TEXT,
  p_now TIMESTAMPTZ,
  p_idle_expires_at TIMESTAMPTZ,
  p_absolute_expires_at TIMESTAMPTZ,
  p_token_id TEXT,
  p_token_hash TEXT,
  p_attempt_id TEXT,
  p_attempt_user_id TEXT,
  p_attempt_identifier TEXT,
  p_attempt_application_id TEXT,
  p_attempt_method "auth"."AttemptMethod",
  p_attempt_source "auth"."AttemptSource",
  p_attempt_success BOOLEAN,
  p_attempt_reason TEXT,
  p_attempt_device_info JSONB,
  p_attempt_at TIMESTAMPTZ,
  p_log_id TEXT,
  p_logged_at TIMESTAMPTZ,
  p_backoff_key TEXT,
  -- 'opened' or 'refused'.
  OUT outcome TEXT
) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  found_user RECORD;
BEGIN
  SELECT u.status, u.password_changed_at INTO found_user
    FROM "auth"."users" u
   WHERE u.id = p_user_id
     FOR SHARE;
  IF NOT FOUND
     OR found_user.status <> 'active'
     OR (p_password_checked_against IS NOT NULL AND found_user.password_changed_at <> p_password_checked_against) THEN
    outcome := 'refused';
    RETURN;
  END IF;

  INSERT INTO "auth"."sessions" (id, user_id, application_id, device_info, ip, user_agent, created_at, last_seen_at,
                                 idle_expires_at, absolute_expires_at)
  VALUES (p_session_id, p_user_id, p_application_id, p_device_info, p_ip, p_user_agent, p_now, p_now,
          p_idle_expires_at, p_absolute_expires_at);

  INSERT INTO "auth"."refresh_tokens" (id, session_id, family_id, token_hash, created_at, expires_at)
  VALUES (p_token_id, p_session_id, p_session_id, p_token_hash, p_now, p_absolute_expires_at);

  IF p_attempt_id IS NOT NULL THEN
    INSERT INTO "auth"."auth_attempts" (id, user_id, identifier, application_id, method, source, success, reason, ip,
                                        user_agent, device_info, created_at)
    VALUES (p_attempt_id, p_attempt_user_id, p_attempt_identifier, p_attempt_application_id, p_attempt_method,
            p_attempt_source, p_attempt_success, p_attempt_reason, p_ip, p_user_agent, p_attempt_device_info,
            p_attempt_at);
  END IF;

  INSERT INTO "auth"."auth_logs" (id, user_id, session_id, application_id, action, success, ip, user_agent,
                                  device_info, created_at)
  VALUES (p_log_id, p_user_id, p_session_id, p_application_id, 'login', TRUE, p_ip, p_user_agent, p_device_info,
          p_logged_at);

  IF p_backoff_key IS NOT NULL THEN
    DELETE FROM "auth"."credential_backoff" b WHERE b.key = p_backoff_key;
  END IF;

  outcome := 'opened';
END
$$;
