-- Each otherclient replica caches whether the tokens it introspects were revoked (apps/otherclient/src/services/
-- revocation-cache.ts) and drops a token's entry when PostgreSQL notifies its revocation. A revocation is only ever
-- inserted (RFC 7009 has no un-revoke); the rows pruned after their token's expiry change nothing a replica answers,
-- since an expired token is refused before its revocation is looked up. Payload: the revoked token's jti.
CREATE FUNCTION "otherclient"."notify_token_revocation"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('mxp_otherclient_revocations', NEW.jti);
  RETURN NULL;
END $$;

CREATE TRIGGER "revoked_tokens_notify_insert" AFTER INSERT ON "otherclient"."revoked_tokens"
  FOR EACH ROW EXECUTE FUNCTION "otherclient"."notify_token_revocation"();
