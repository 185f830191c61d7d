-- POST /auth/token/refresh writes one index entry less per call (apps/auth-service/src/services/refresh.ts).
--
-- Nothing reads refresh tokens by family: a spent token presented after the grace period revokes its whole session
-- (by session id), and logout revokes tokens by session id. Yet every rotation inserted its successor's family id
-- into this index, at a page as random as the session's creation, which after each checkpoint also costs a full-page
-- image. Measured with pgbench on two copies of the benchmark's data (4 clients, 10,000 calls of
-- auth.refresh_session per round, three rounds each): 2,645-2,906 bytes of WAL per refresh with the index,
-- 2,470-2,728 without (-6%). The column stays: it records each token's lineage for investigations.
DROP INDEX "auth"."refresh_tokens_family_id_idx";
