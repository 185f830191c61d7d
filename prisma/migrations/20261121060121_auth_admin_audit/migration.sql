-- CreateTable
CREATE TABLE "auth"."admin_audit" (
    "id" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "target_type" TEXT NOT NULL,
    "target_id" TEXT NOT NULL,
    "actor" TEXT,
    "details" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "admin_audit_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "admin_audit_target_type_target_id_created_at_idx" ON "auth"."admin_audit"("target_type", "target_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "admin_audit_created_at_idx" ON "auth"."admin_audit"("created_at");
