/** Usernames and emails are matched case-insensitively: they are stored and looked up lower-cased and trimmed. */
export function normalizeIdentifier(identifier: string): string {
  return identifier.trim().toLowerCase();
}
