-- Each replica caches sessions (auth) and API clients (otherclient) and drops an entry when PostgreSQL notifies a
-- change to it (see packages/db/src/change-feed.ts). NOTIFY is transactional: listeners hear of a change only once it
-- is committed, and never of one rolled back. Payload: the changed row's id (or backoff key).

CREATE FUNCTION "auth"."notify_session_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mxp_auth_sessions', COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END $$;

-- Revocation and deletion end a session; refreshes only move its idle expiry later, which a cache that rechecks
-- expiry against a stale (earlier) value can only make stricter, so they do not notify.
CREATE TRIGGER "sessions_notify_revoke" AFTER UPDATE OF "revoked_at" ON "auth"."sessions"
  FOR EACH ROW WHEN (NEW."revoked_at" IS DISTINCT FROM OLD."revoked_at")
  EXECUTE FUNCTION "auth"."notify_session_change"();
CREATE TRIGGER "sessions_notify_delete" AFTER DELETE ON "auth"."sessions"
  FOR EACH ROW EXECUTE FUNCTION "auth"."notify_session_change"();

CREATE FUNCTION "auth"."notify_user_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mxp_auth_users', COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END $$;

-- A password change always moves password_changed_at; a hash upgraded at login (same password, new parameters) does
-- not, and must not make every replica walk its whole cache for each user signing in after a parameter change.
CREATE TRIGGER "users_notify_change" AFTER UPDATE OF "status", "password_hash", "password_changed_at" ON "auth"."users"
  FOR EACH ROW WHEN (NEW."status" IS DISTINCT FROM OLD."status"
    OR NEW."password_changed_at" IS DISTINCT FROM OLD."password_changed_at")
  EXECUTE FUNCTION "auth"."notify_user_change"();
CREATE TRIGGER "users_notify_delete" AFTER DELETE ON "auth"."users"
  FOR EACH ROW EXECUTE FUNCTION "auth"."notify_user_change"();

CREATE FUNCTION "auth"."notify_application_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mxp_auth_applications', COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END $$;

CREATE TRIGGER "applications_notify_change" AFTER UPDATE OR DELETE ON "auth"."applications"
  FOR EACH ROW EXECUTE FUNCTION "auth"."notify_application_change"();

CREATE FUNCTION "otherclient"."notify_client_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mxp_otherclient_clients', COALESCE(NEW.id, OLD.id));
  RETURN NULL;
END $$;

-- "Last used" is written at most once a minute per client and changes nothing a cache holds: it does not notify.
CREATE TRIGGER "api_clients_notify_change" AFTER UPDATE OF
    "name", "status", "secret_hash", "previous_secret_hash", "previous_secret_expires_at", "allowed_scopes",
    "audience", "token_ttl_seconds", "disabled_at"
  ON "otherclient"."api_clients"
  FOR EACH ROW EXECUTE FUNCTION "otherclient"."notify_client_change"();
CREATE TRIGGER "api_clients_notify_delete" AFTER DELETE ON "otherclient"."api_clients"
  FOR EACH ROW EXECUTE FUNCTION "otherclient"."notify_client_change"();

CREATE FUNCTION "otherclient"."notify_client_backoff_change"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mxp_otherclient_backoff', COALESCE(NEW.key, OLD.key));
  RETURN NULL;
END $$;

CREATE TRIGGER "client_backoff_notify_change" AFTER INSERT OR UPDATE OR DELETE ON "otherclient"."client_backoff"
  FOR EACH ROW EXECUTE FUNCTION "otherclient"."notify_client_backoff_change"();
