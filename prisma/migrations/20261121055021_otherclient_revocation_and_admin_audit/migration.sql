-- CreateTable
CREATE TABLE "otherclient"."revoked_tokens" (
    "jti" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "revoked_tokens_pkey" PRIMARY KEY ("jti")
);

-- CreateTable
CREATE TABLE "otherclient"."client_admin_audit" (
    "id" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "actor" TEXT,
    "details" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "client_admin_audit_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "revoked_tokens_expires_at_idx" ON "otherclient"."revoked_tokens"("expires_at");

-- CreateIndex
CREATE INDEX "client_admin_audit_client_id_created_at_idx" ON "otherclient"."client_admin_audit"("client_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "client_admin_audit_created_at_idx" ON "otherclient"."client_admin_audit"("created_at");
