-- CreateTable
CREATE TABLE "otherclient"."client_backoff" (
    "key" TEXT NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "lock_count" INTEGER NOT NULL DEFAULT 0,
    "last_failure_at" TIMESTAMPTZ(3) NOT NULL,
    "locked_until" TIMESTAMPTZ(3),
    "refused" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "client_backoff_pkey" PRIMARY KEY ("key")
);

-- CreateTable
CREATE TABLE "auth"."credential_backoff" (
    "key" TEXT NOT NULL,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "lock_count" INTEGER NOT NULL DEFAULT 0,
    "last_failure_at" TIMESTAMPTZ(3) NOT NULL,
    "locked_until" TIMESTAMPTZ(3),
    "refused" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "credential_backoff_pkey" PRIMARY KEY ("key")
);
