import type { SigningAlgorithm } from './algorithms.js';
import type { KeySet } from './types.js';

/** The algorithms of a key set's keys: the explicit allow-list for verifying the tokens it signed. */
export function keySetAlgorithms(keySet: KeySet): SigningAlgorithm[] {
  return [...new Set([...keySet.verificationKeys.values()].map((key) => key.alg))];
}
