import { type Static, Type } from 'typebox';

/** One public signing key as published; the schema has no private members, so none can be serialized. */
const publicJwkExample = {
  kty: 'EC',
  kid: 'k-2025-07',
  alg: 'ES256',
  use: 'sig',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
};

export const PublicJwk = Type.Object(
  {
    kty: Type.Union([Type.Literal('EC'), Type.Literal('OKP'), Type.Literal('RSA')]),
    kid: Type.String(),
    alg: Type.String({ examples: ['ES256'] }),
    use: Type.Literal('sig'),
    crv: Type.Optional(Type.String()),
    x: Type.Optional(Type.String()),
    y: Type.Optional(Type.String()),
    n: Type.Optional(Type.String()),
    e: Type.Optional(Type.String()),
  },
  {
    $id: 'PublicJwk',
    additionalProperties: false,
    examples: [publicJwkExample],
  },
);
export type PublicJwk = Static<typeof PublicJwk>;

/** `GET /.well-known/jwks.json`: the keys that verify the service's tokens (RFC 7517). */
export const JwksResponse = Type.Object(
  { keys: Type.Array(PublicJwk) },
  { $id: 'JwksResponse', additionalProperties: false, examples: [{ keys: [publicJwkExample] }] },
);
export type JwksResponse = Static<typeof JwksResponse>;
