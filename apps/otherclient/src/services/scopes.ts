/**
 * The scopes to grant for an OAuth `scope` parameter (RFC 6749 §3.3): every allowed scope when none is asked for,
 * else exactly the ones asked for, or undefined when one of them is not allowed (→ `invalid_scope`).
 */
export function grantedScopes(allowed: readonly string[], requested: string | undefined): string[] | undefined {
  if (requested === undefined || requested.trim() === '') return [...allowed];
  const asked = [...new Set(requested.split(' ').filter(Boolean))];
  return asked.every((scope) => allowed.includes(scope)) ? asked : undefined;
}
