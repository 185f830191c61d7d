import { type Static, Type } from 'typebox';

/** One public signing key as published; the schema has no private members, so none can be serialized. */
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
  { $id: 'PublicJwk', additionalProperties: false },
);
export type PublicJwk = Static<typeof PublicJwk>;

/** `GET /.well-known/jwks.json`: the keys that verify the service's tokens (RFC 7517). */
export const JwksResponse = Type.Object(
  { keys: Type.Array(PublicJwk) },
  { $id: 'JwksResponse', additionalProperties: false },
);
export type JwksResponse = Static<typeof JwksResponse>;
