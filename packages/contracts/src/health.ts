import { type Static, Type } from 'typebox';

/** `GET /auth/health` and `GET /api/auth/health` when the service and its database answer. */
export const HealthResponse = Type.Object(
  { status: Type.Literal('ok') },
  {
    $id: 'HealthResponse',
    additionalProperties: false,
    examples: [{ status: 'ok' }],
  },
);
export type HealthResponse = Static<typeof HealthResponse>;
