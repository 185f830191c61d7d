// Hand-made JWTs for the attack tests (not a test file). Signing goes through WebCrypto directly rather than a JWT
// library, so that headers a library would refuse to produce (`crit`, empty `kid`, `alg: none`) can be made.
import { createHmac, createPublicKey, type JsonWebKey, type webcrypto } from 'node:crypto';

/** base64url of the JSON of a value. */
export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The header and claims of a compact JWS, unverified. */
export function decodeParts(token: string): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const [header = '', claims = ''] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as Record<string, unknown>,
  };
}

/** A compact JWS of `header` and `claims` signed with an asymmetric WebCrypto private key (ES256, EdDSA, RS256). */
export async function signWith(
  key: webcrypto.CryptoKey,
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
): Promise<string> {
  const input = `${b64json(header)}.${b64json(claims)}`;
  const algorithm = key.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : key.algorithm;
  const signature = await crypto.subtle.sign(algorithm, key, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

/** A compact JWS with an HMAC-SHA256 signature under `secret` (whatever `alg` the header claims). */
export function signHs256(header: Record<string, unknown>, claims: Record<string, unknown>, secret: Buffer): string {
  const input = `${b64json(header)}.${b64json(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/**
 * The byte strings a verifier confused about key types might use as an HMAC secret for a published public key:
 * the PEM (with and without its final newline), the DER, the JWK JSON as served and in RFC 7638 member order, and
 * the raw EC point.
 */
export function keyConfusionSecrets(publicJwk: Record<string, unknown>): Array<[string, Buffer]> {
  const key = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' });
  const pem = key.export({ type: 'spki', format: 'pem' }).toString();
  const secrets: Array<[string, Buffer]> = [
    ['SPKI PEM', Buffer.from(pem)],
    ['SPKI PEM without its final newline', Buffer.from(pem.trimEnd())],
    ['SPKI DER', key.export({ type: 'spki', format: 'der' })],
    ['JWK JSON as served', Buffer.from(JSON.stringify(publicJwk))],
  ];
  if (publicJwk.kty === 'EC') {
    const { crv, kty, x, y } = publicJwk as Record<string, string>;
    secrets.push(['JWK JSON in RFC 7638 order', Buffer.from(JSON.stringify({ crv, kty, x, y }))]);
    secrets.push([
      'raw EC point',
      Buffer.concat([Buffer.from([4]), Buffer.from(x ?? '', 'base64url'), Buffer.from(y ?? '', 'base64url')]),
    ]);
  }
  return secrets;
}

// Order of the P-256 group.
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

function toBigInt(bytes: Buffer): bigint {
  return BigInt(`0x${bytes.toString('hex') || '0'}`);
}

function toBytes(value: bigint, length: number): Buffer {
  return Buffer.from(value.toString(16).padStart(length * 2, '0'), 'hex');
}

function derInteger(bytes: Buffer): Buffer {
  let trimmed = bytes;
  while (trimmed.length > 1 && trimmed[0] === 0 && (trimmed[1] ?? 0) < 0x80) trimmed = trimmed.subarray(1);
  if ((trimmed[0] ?? 0) >= 0x80) trimmed = Buffer.concat([Buffer.from([0]), trimmed]);
  return Buffer.concat([Buffer.from([0x02, trimmed.length]), trimmed]);
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * The same token with its signature written differently: the same bytes in another encoding (padding, the standard
 * alphabet, a non-canonical last character whose unused bits are set), the DER form of an ECDSA signature, and the
 * other valid ECDSA signature of the same message, (r, n − s). Variants identical to the token are left out.
 */
export function reencodedSignatures(token: string): Array<[string, string]> {
  const [header = '', claims = '', signature = ''] = token.split('.');
  const head = `${header}.${claims}`;
  const bytes = Buffer.from(signature, 'base64url');
  const variants: Array<[string, string]> = [
    ['base64 padding', `${head}.${bytes.toString('base64')}`.replace(/[+/]/g, (c) => (c === '+' ? '-' : '_'))],
    ['standard base64 alphabet with padding', `${head}.${bytes.toString('base64')}`],
    ['standard base64 alphabet', `${head}.${bytes.toString('base64').replace(/=+$/, '')}`],
  ];
  const unusedBits = (signature.length * 6) % 8;
  const last = BASE64URL.indexOf(signature.at(-1) ?? 'A');
  if (unusedBits > 0 && last >= 0) {
    const other = BASE64URL[last ^ 1] ?? 'A';
    variants.push(['non-canonical last character (unused bits set)', `${head}.${signature.slice(0, -1)}${other}`]);
  }
  if (bytes.length === 64) {
    const r = bytes.subarray(0, 32);
    const s = toBigInt(bytes.subarray(32));
    const twin = Buffer.concat([r, toBytes(P256_N - s, 32)]);
    variants.push(['ECDSA high-S twin (r, n − s)', `${head}.${twin.toString('base64url')}`]);
    const der = Buffer.concat([derInteger(r), derInteger(bytes.subarray(32))]);
    variants.push([
      'DER-encoded signature',
      `${head}.${Buffer.concat([Buffer.from([0x30, der.length]), der]).toString('base64url')}`,
    ]);
  }
  return variants.filter(([, variant]) => variant !== token);
}

/** Whether two signatures are the same bytes (a re-encoding) rather than a different signature. */
export function sameSignatureBytes(a: string, b: string): boolean {
  const bytes = (token: string) => Buffer.from((token.split('.')[2] ?? '').replace(/=+$/, ''), 'base64url');
  return bytes(a).equals(bytes(b));
}
