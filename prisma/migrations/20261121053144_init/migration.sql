-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "auth";

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "otherclient";

-- CreateEnum
CREATE TYPE "otherclient"."ClientStatus" AS ENUM ('active', 'disabled');

-- CreateEnum
CREATE TYPE "otherclient"."TokenAuditResult" AS ENUM ('issued', 'failed');

-- CreateEnum
CREATE TYPE "auth"."UserStatus" AS ENUM ('active', 'disabled');

-- CreateEnum
CREATE TYPE "auth"."ApplicationStatus" AS ENUM ('active', 'disabled');

-- CreateEnum
CREATE TYPE "auth"."AttemptMethod" AS ENUM ('credentials', 'token');

-- CreateEnum
CREATE TYPE "auth"."AttemptSource" AS ENUM ('observed', 'reported');

-- CreateTable
CREATE TABLE "otherclient"."api_clients" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "previous_secret_hash" TEXT,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "status" "otherclient"."ClientStatus" NOT NULL DEFAULT 'active',
    "allowed_scopes" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "audience" TEXT,
    "token_ttl_seconds" INTEGER NOT NULL DEFAULT 3600,
    "last_used_at" TIMESTAMPTZ(3),
    "secret_rotated_at" TIMESTAMPTZ(3),
    "disabled_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "api_clients_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "otherclient"."token_audit" (
    "id" TEXT NOT NULL,
    "client_id" TEXT,
    "ip" TEXT,
    "result" "otherclient"."TokenAuditResult" NOT NULL,
    "reason" TEXT,
    "token_id" TEXT,
    "grant_type" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "token_audit_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth"."users" (
    "id" TEXT NOT NULL,
    "username" TEXT NOT NULL,
    "email" TEXT,
    "password_hash" TEXT NOT NULL,
    "status" "auth"."UserStatus" NOT NULL DEFAULT 'active',
    "password_changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth"."applications" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "status" "auth"."ApplicationStatus" NOT NULL DEFAULT 'active',
    "access_token_ttl_seconds" INTEGER NOT NULL DEFAULT 900,
    "idle_timeout_seconds" INTEGER NOT NULL DEFAULT 1800,
    "absolute_timeout_seconds" INTEGER NOT NULL DEFAULT 43200,
    "rotate_refresh_tokens" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "applications_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth"."sessions" (
    "id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "application_id" TEXT NOT NULL,
    "device_info" JSONB,
    "ip" TEXT,
    "user_agent" TEXT,
    "refresh_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "idle_expires_at" TIMESTAMPTZ(3) NOT NULL,
    "absolute_expires_at" TIMESTAMPTZ(3) NOT NULL,
    "revoked_at" TIMESTAMPTZ(3),
    "revoked_reason" TEXT,

    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth"."refresh_tokens" (
    "id" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "family_id" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "parent_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "rotated_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth"."auth_attempts" (
    "id" TEXT NOT NULL,
    "user_id" TEXT,
    "identifier" TEXT,
    "application_id" TEXT,
    "method" "auth"."AttemptMethod" NOT NULL,
    "source" "auth"."AttemptSource" NOT NULL,
    "success" BOOLEAN NOT NULL,
    "reason" TEXT,
    "ip" TEXT,
    "user_agent" TEXT,
    "device_info" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "auth_attempts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "auth"."auth_logs" (
    "id" TEXT NOT NULL,
    "user_id" TEXT NOT NULL,
    "session_id" TEXT,
    "application_id" TEXT,
    "action" TEXT NOT NULL,
    "success" BOOLEAN NOT NULL,
    "ip" TEXT,
    "user_agent" TEXT,
    "device_info" JSONB,
    "details" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "auth_logs_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "token_audit_client_id_created_at_idx" ON "otherclient"."token_audit"("client_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "token_audit_created_at_idx" ON "otherclient"."token_audit"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "users_username_key" ON "auth"."users"("username");

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "auth"."users"("email");

-- CreateIndex
CREATE INDEX "sessions_user_active_idx" ON "auth"."sessions"("user_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "sessions_application_id_idx" ON "auth"."sessions"("application_id");

-- CreateIndex
CREATE INDEX "sessions_revoked_at_absolute_expires_at_idx" ON "auth"."sessions"("revoked_at", "absolute_expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "refresh_tokens_token_hash_key" ON "auth"."refresh_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "refresh_tokens_session_id_idx" ON "auth"."refresh_tokens"("session_id");

-- CreateIndex
CREATE INDEX "refresh_tokens_family_id_idx" ON "auth"."refresh_tokens"("family_id");

-- CreateIndex
CREATE INDEX "auth_attempts_user_id_created_at_idx" ON "auth"."auth_attempts"("user_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "auth_attempts_identifier_created_at_idx" ON "auth"."auth_attempts"("identifier", "created_at" DESC);

-- CreateIndex
CREATE INDEX "auth_attempts_created_at_idx" ON "auth"."auth_attempts"("created_at");

-- CreateIndex
CREATE INDEX "auth_logs_user_id_created_at_id_idx" ON "auth"."auth_logs"("user_id", "created_at" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "auth_logs_created_at_idx" ON "auth"."auth_logs"("created_at");

-- AddForeignKey
ALTER TABLE "auth"."sessions" ADD CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "auth"."sessions" ADD CONSTRAINT "sessions_application_id_fkey" FOREIGN KEY ("application_id") REFERENCES "auth"."applications"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "auth"."refresh_tokens" ADD CONSTRAINT "refresh_tokens_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "auth"."sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "auth"."auth_attempts" ADD CONSTRAINT "auth_attempts_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "auth"."auth_logs" ADD CONSTRAINT "auth_logs_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "auth"."users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
